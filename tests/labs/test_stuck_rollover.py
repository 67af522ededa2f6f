"""The shipped lab stuck-ksk-rollover: a KSK rollover moved through the RFC 7583 states by its
timeline with the parent's DS never updated, against a validating unbound
(`fakens lab verify --tool unbound --and-fix`): SECURE up to active, SERVFAIL with EDE 10
at retired and EDE 9 at removed; with the fix (the DS following) SECURE in every state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.port53


def test_stuck_ksk_rollover_bogus_from_retired_on_and_fixed(tmp_path: Path,
                                                            require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    out = tmp_path / "v.json"
    done = subprocess.run([sys.executable, "-m", "fakens", "lab", "verify", "stuck-ksk-rollover", "--tool", "unbound",
                           "--and-fix", "--json", str(out), "--dir", str(tmp_path / "d")], capture_output=True,
                          text=True, timeout=600, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd="/")
    assert done.returncode == 0, done.stdout + done.stderr
    broken, fixed = json.loads(out.read_text())
    assert broken["ok"] and fixed["ok"] and fixed["fixed"]
    held = [r["what"] for r in broken["results"] if r["what"].startswith(("step 3", "step 4")) and "SERVFAIL" in r["what"]]
    assert len(held) == 2 and "EDE 10" in held[0] and "EDE 9" in held[1], held
    assert len(fixed["results"]) == 4  # www.example.test. SECURE in each of the four states
