"""`fakens lab verify` over several labs at once, with reports for CI systems (JSON, JUnit XML).

The zonecheck tool runs in-process (no resolver, no port 53), so these run anywhere."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from fakens.catalog import lab_path


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", "lab", "verify", *args], capture_output=True, text=True,
                          timeout=300)


def broken_copy(tmp_path: Path) -> Path:
    """rfc1912 with one expectation that cannot hold (a finding the lab does not have)."""
    text = lab_path("rfc1912").read_text(encoding="utf-8")
    text = text.replace('name = "rfc1912"', 'name = "rfc1912-wrong"').replace(
        'must = ["soa-rname",', 'must = ["ns-no-address", "soa-rname",')
    path = tmp_path / "rfc1912-wrong.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_several_labs_one_run_json_and_junit(tmp_path: Path) -> None:
    wrong = broken_copy(tmp_path)
    out_json, out_xml = tmp_path / "v.json", tmp_path / "v.xml"
    done = verify("rfc1912", str(wrong), "--tool", "zonecheck", "--json", str(out_json), "--junit", str(out_xml))
    assert done.returncode == 1, done.stdout + done.stderr  # one lab failed: the run fails
    assert "1/2 labs hold; failed: rfc1912-wrong" in done.stdout
    reports = json.loads(out_json.read_text())
    assert [(r["lab"], r["fixed"], r["ok"]) for r in reports] == [("rfc1912", False, True), ("rfc1912-wrong", False, False)]
    failed = [x for x in reports[1]["results"] if not x["ok"]]
    assert [(x["tool"], x["what"], x["observed"], x["expected"]) for x in failed] == [
        ("zonecheck", "reports ns-no-address", "not reported", "reported")]
    assert len(reports[0]["results"]) == 12 and all(x["ok"] for x in reports[0]["results"])
    root = ElementTree.parse(out_xml).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "25" and root.get("failures") == "1"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["rfc1912", "rfc1912-wrong"]
    failures = suites[1].findall("testcase/failure")
    assert len(failures) == 1 and "observed not reported, expected reported" in (failures[0].get("message") or "")


def test_every_lab_is_checked_before_any_runs(tmp_path: Path) -> None:
    out_json = tmp_path / "v.json"
    done = verify("rfc1912", "rfc1912-fixed", "--tool", "zonecheck", "--json", str(out_json))
    assert done.returncode == 2
    assert "rfc1912-fixed.toml: [expect] has nothing for zonecheck" in done.stderr
    assert "pick a --tool it has" in done.stderr
    assert "expectations hold" not in done.stdout and not out_json.exists()  # nothing ran


def test_an_unwritable_report_path_is_a_clear_error(tmp_path: Path) -> None:
    done = verify("rfc1912", "--tool", "zonecheck", "--fix", "--junit", str(tmp_path / "no" / "such" / "dir.xml"))
    assert done.returncode == 2 and "dir.xml: cannot write it" in done.stderr
