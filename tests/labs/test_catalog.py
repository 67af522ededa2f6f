"""The shipped labs as a catalog: `fakens lab list`, labs addressed by name, installed
with the package (package data), and the `fakens_lab` fixture in a user's pytest run."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from fakens.catalog import LABS_DIR, lab_path, shipped_labs
from fakens.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def fakens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", *args], capture_output=True, text=True,
                          timeout=60, check=False, cwd="/")


def test_lab_list_shows_every_shipped_lab_with_its_description() -> None:
    result = fakens("lab", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    labs = shipped_labs()
    assert {"io-outage", "mail-migration", "rfc1912", "lame-delegation", "switch-over"} <= set(labs)
    for name, path in labs.items():
        description = tomllib.loads(path.read_text())["lab"]["description"]
        if name.endswith("-fixed") and name[:-6] in labs:
            assert any(line.startswith(name[:-6] + " ") and f"fixed: {name}" in line for line in lines), name
        else:
            assert any(line.startswith(name + " ") and " ".join(description.split()) in line for line in lines), name
    assert len(lines) == len([n for n in labs if not (n.endswith("-fixed") and n[:-6] in labs)])


def test_a_shipped_lab_is_addressed_by_name_from_any_directory() -> None:
    result = fakens("lab", "check", "io-outage")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{LABS_DIR / 'io-outage.toml'}: lab 'io-outage'")
    assert lab_path("io-outage") == LABS_DIR / "io-outage.toml"
    assert lab_path("own.toml") == Path("own.toml")  # a file of one's own stays a path (its error says so)


def test_an_unknown_lab_name_says_which_ones_exist_and_suggests_the_nearest() -> None:
    result = fakens("lab", "check", "io-outag")
    assert result.returncode == 2
    assert "io-outag: no such file and no shipped lab of that name; did you mean io-outage?" in result.stderr
    assert "mail-migration" in result.stderr and "fakens lab list" in result.stderr
    with pytest.raises(ConfigError, match="no shipped lab"):
        lab_path("nothing-like-it")


def test_the_wheel_carries_the_shipped_labs(tmp_path: Path) -> None:
    """pip does not install zones/: the labs are package data."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("fakens-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for lab in shipped_labs():
        assert f"fakens/labs/{lab}.toml" in names, names


# Fault types no shipped lab uses, and why (docs/scenarios.md, "Shipped labs"): none now
# (delay: slow-servers; no-notify: no-notify). A new fault type without a lab goes here, with its reason.
NOT_IN_A_LAB: dict[str, str] = {}


def test_every_fault_type_has_a_shipped_lab() -> None:
    from fakens.faults import REGISTRY
    from fakens.scenario import load_scenario

    used: dict[str, set[str]] = {}
    for name, path in shipped_labs().items():
        for server in load_scenario(path).servers:
            for fault in server.faults:
                used.setdefault(fault.type_name, set()).add(name)
    missing = set(REGISTRY) - set(used) - set(NOT_IN_A_LAB)
    assert not missing, f"fault types without a shipped lab: {sorted(missing)}"
    assert not set(NOT_IN_A_LAB) & set(used), "a listed exception is used by a lab now: drop it from NOT_IN_A_LAB"


def test_every_shipped_lab_has_a_fix_and_expected_symptoms() -> None:
    from fakens.scenario import load_scenario

    for name, path in shipped_labs().items():
        if name.endswith("-fixed") and name[:-6] in shipped_labs():
            continue
        scenario = load_scenario(path)
        assert scenario.fix is not None and (scenario.fix.file or scenario.fix.events), name
        assert scenario.expect, name
