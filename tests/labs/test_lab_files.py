"""Every shipped lab (fakens/labs/) passes `fakens lab check`, with and without its fix, and a
bad [expect] key is reported with file:line. Binds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakens.scenario import load_scenario
from fakens.verify import expect_problems

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted((ROOT / "fakens" / "labs").glob("*.toml"))
INCIDENT_LABS = ["mail-migration", "io-outage", "rfc1912", "lame-delegation", "switch-over"]


def lab_check(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fakens", "lab", "check", *args], capture_output=True,
                          text=True, timeout=60, check=False, env=env, cwd=ROOT)


def test_one_lab_per_incident() -> None:
    names = {p.stem for p in LABS}
    assert set(INCIDENT_LABS) <= names, names
    for name in INCIDENT_LABS:
        scenario = load_scenario(ROOT / "fakens" / "labs" / f"{name}.toml")
        assert scenario.fix is not None and (scenario.fix.file or scenario.fix.events), name
        assert scenario.expect, name
        assert (ROOT / "fakens" / "labs" / f"{name}.toml").read_text().startswith("# Incident"), name


@pytest.mark.parametrize("path", LABS, ids=[p.stem for p in LABS])
def test_lab_check_passes(path: Path) -> None:
    for extra in ([], ["--fix"]):
        done = lab_check(str(path), *extra)
        assert done.returncode == 0, done.stderr + done.stdout
        assert done.stdout.rstrip().splitlines()[-1].startswith("ok"), done.stdout
    assert expect_problems(load_scenario(path)) == []


@pytest.mark.parametrize("path", [p for p in LABS if not (p.stem.endswith("-fixed") and p.with_name(
    p.stem[:-6] + ".toml").exists())], ids=lambda p: p.stem)
def test_every_shipped_lab_has_a_measured_dnsviz_table(path: Path) -> None:
    """Issue 13: each lab carries DNSViz's findings, measured (the version), broken and fixed (a lab's
    -fixed.toml variant is its fix: the table's ``fixed`` sub-table covers it). The broken table
    gives DNSViz's errors exactly, or says in its description why it cannot (they vary)."""
    table = load_scenario(path).expect.get("dnsviz")
    assert isinstance(table, dict), f"{path.name}: no [expect.dnsviz] table (docs/scenarios.md)"
    assert isinstance(table.get("version"), str) and table["version"], f"{path.name}: no version measured with"
    assert "errors" in table or table.get("description"), \
        f"{path.name}: [expect.dnsviz] says DNSViz's errors exactly (errors = [...]), or why not (description)"
    assert isinstance(table.get("fixed"), dict) and "errors" in table["fixed"], \
        f"{path.name}: [expect.dnsviz.fixed] says DNSViz's errors with the fix exactly (errors = [])"


def test_bad_expect_keys_have_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "io-outage.toml").read_text()
    text = text.replace('rcode = "NXDOMAIN"\nmin = 0.1\nmax = 0.5', 'rcod = "NXDOMAIN"\nmin = 1.5\nmax = 0.5', 1)
    text = text.replace("\ntrials = 60", "\ntrails = 60")
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    lines = text.splitlines()
    done = lab_check(str(bad))
    assert done.returncode == 2, done.stdout
    err = done.stderr
    trails = lines.index("trails = 60") + 1
    rcod = lines.index('rcod = "NXDOMAIN"') + 1
    assert f"{bad}:{trails}: expect.resolver.trails: unknown key" in err and "did you mean 'trials'" in err, err
    assert f"{bad}:{rcod}: expect.resolver.outcomes[0].rcod: unknown key" in err, err
    assert f"{bad}:{rcod + 1}: expect.resolver.outcomes[0].min: expected a fraction" in err, err


def test_bad_resolver_and_command_tables_have_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "io-outage.toml").read_text()
    text = text.replace('kresd = "5.6.0"', 'kresd = "5.6.0", knot = "5.6"')
    text += """
[expect.resolver.kresd]
version = 5.6
trails = 3
[[expect.resolver.kresd.outcomes]]
qname = "nowhere.example.io."
answer = ["192.0.2.10"]

[expect.tool.mycheck]
exit = "zero"
must = ["(unclosed"]
[expect.tool.mycheck.fixed]
command = "other"
"""
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    lines = text.splitlines()
    err = lab_check(str(bad)).stderr

    def line(start: str) -> int:
        return next(i for i, x in enumerate(lines, 1) if x.startswith(start))

    assert f"{bad}:{line('versions')}: expect.resolver.versions.knot: not a resolver" in err, err
    assert f"{bad}:{line('version = 5.6')}: expect.resolver.kresd.version: expected the version" in err, err
    assert f"{bad}:{line('trails')}: expect.resolver.kresd.trails: unknown key in kresd's own symptoms" in err, err
    assert "expect.resolver.kresd.outcomes[0].qname: nowhere.example.io. A is not one of the step's queries" in err
    assert f"{bad}:{line('exit =')}: expect.tool.mycheck.exit: expected an exit status" in err, err
    unclosed = line('must = ["(unclosed')
    assert f"{bad}:{unclosed}: expect.tool.mycheck.must[0]: not a regular expression" in err, err
    assert "expect.tool.mycheck.fixed.command: unknown key" in err, err


def test_bad_seconds_and_no_log_have_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "no-notify.toml").read_text().replace('no_log = "notify from"', 'no_log = "(notify"')
    text += """
[expect.resolver]
queries = [{ qname = "www.example.test." }]
[[expect.resolver.outcomes]]
qname = "www.example.test."
seconds = [2]
"""
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    lines = text.splitlines()
    err = lab_check(str(bad)).stderr
    no_log = lines.index('no_log = "(notify"') + 1
    seconds = lines.index("seconds = [2]") + 1
    assert f"{bad}:{no_log}: expect.secondary.steps[1].no_log: not a regular expression" in err, err
    assert f"{bad}:{seconds}: expect.resolver.outcomes[0].seconds: expected [shortest, longest] seconds" in err, err
