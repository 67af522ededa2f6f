"""`fakens lab verify --tool dnsviz`: dnsviz probe of a signed lab's own servers and dnsviz grok
with the lab's root key, checked against the lab's [expect.dnsviz] (the error codes DNSViz
0.9.4 reports, exactly), broken and fixed; and the table's mistakes named with file and line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fakens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", *args], capture_output=True, text=True, timeout=600,
                          check=False, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd="/")


@pytest.mark.port53
def test_dnsviz_errors_of_a_stale_ds_and_none_with_the_fix(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    require_tool("dnsviz")
    out = tmp_path / "v.json"
    done = fakens("lab", "verify", "stale-ds-rollover", "--tool", "dnsviz", "--and-fix", "--json", str(out),
                  "--dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stdout + done.stderr
    broken, fixed = json.loads(out.read_text())
    assert (broken["fixed"], fixed["fixed"]) == (False, True) and broken["ok"] and fixed["ok"]
    assert broken["versions"]["dnsviz"]
    exact = [r["observed"] for report in (broken, fixed) for r in report["results"]
             if r["what"] == "its errors, exactly"]
    assert exact == ["MISSING_SEP_FOR_ALG, NO_SEP", "none"]
    grok = json.loads((tmp_path / "d" / "stale-ds-rollover" / "dnsviz-dnsviz" / "grok.json").read_text())
    assert "example.test." in grok  # the probe went down the lab's own hierarchy


def test_a_wrong_dnsviz_table_is_named_with_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "nsec-bitmap.toml").read_text()
    text = text.replace('domain = "www.example.com."\nerrors = ["EXISTING_TYPE_NOT_IN_BITMAP"]',
                        'errors = "EXISTING_TYPE_NOT_IN_BITMAP"\nmust = "BOGUS"\nlevel = 2')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    lines = text.splitlines()
    done = fakens("lab", "check", str(bad))
    assert done.returncode == 2, done.stdout
    table = lines.index("[expect.dnsviz]") + 1
    assert f"{bad}:{table}: expect.dnsviz: DNSViz's findings need domain = " in done.stderr, done.stderr
    assert f"{bad}:{lines.index('level = 2') + 1}: expect.dnsviz.level: unknown key" in done.stderr
    must = lines.index('must = "BOGUS"') + 1
    assert f"{bad}:{must}: expect.dnsviz.must: expected an array of strings" in done.stderr
    assert "expect.dnsviz.errors: expected an array of strings" in done.stderr
