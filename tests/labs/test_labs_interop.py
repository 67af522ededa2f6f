"""The shipped labs against real tools, through fakens.verify (what `fakens lab verify` runs):
each lab's [expect] symptoms hold with the broken lab, and its fixed symptoms with the fix.

unbound for every lab (mail sinks for the migration lab), zonemaster-cli for the delegation
labs (1, 4 and the checker labs), BIND named as the secondary of lab 4, broken-transfer and no-notify. Each lab binds port 53 on 127.x.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import unavailable

from fakens.scenario import load_scenario
from fakens.verify import Report, verify

pytestmark = pytest.mark.port53

LABS = Path(__file__).resolve().parents[2] / "fakens" / "labs"


def run(name: str, tool: str, fix: bool, tmp_path: Path) -> Report:
    report = verify(load_scenario(LABS / f"{name}.toml"), [tool], fix=fix, directory=str(tmp_path))
    print(f"\n{report.text()}")
    return report


def failed(report: Report) -> str:
    return "\n".join(str(r) for r in report.results if not r.ok) + "\n" + report.text()


@pytest.mark.parametrize("name", ["io-outage", "mail-migration", "lame-delegation", "rfc1912", "switch-over",
                                  "tld-expired-signatures", "stale-ds-rollover", "nsec-bitmap",
                                  "glue-and-ns-hosts", "server-compliance", "lame-modes", "thin-delegation",
                                  "bad-answers", "dnssec-breakages", "slow-servers"])
def test_unbound_symptom_and_fix(name: str, tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    if name == "mail-migration":
        try:
            import aiosmtpd  # noqa: F401
        except ImportError:
            unavailable("needs aiosmtpd (pip install aiosmtpd; the [test] extra)")
    broken = run(name, "unbound", False, tmp_path / "broken")
    assert broken.ok and broken.results, failed(broken)
    fixed = run(name, "unbound", True, tmp_path / "fixed")
    assert fixed.ok and fixed.results, failed(fixed)
    if name == "mail-migration":
        assert any(r.tool == "mail" for r in broken.results), broken.text()
        assert any(n.startswith("mail: ") for n in fixed.notes), fixed.text()


@pytest.mark.parametrize("name", ["mail-migration", "lame-delegation", "glue-and-ns-hosts", "server-compliance",
                                  "lame-modes", "thin-delegation"])
def test_zonemaster_findings_and_fix(name: str, tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    require_tool("zonemaster-cli")
    broken = run(name, "zonemaster", False, tmp_path / "broken")
    assert broken.ok and any(r.what.startswith("reports ") for r in broken.results), failed(broken)
    fixed = run(name, "zonemaster", True, tmp_path / "fixed")
    assert fixed.ok and any(r.what.startswith("does not report ") for r in fixed.results), failed(fixed)


def test_zonemaster_waits_for_a_server_answering_after_3_s(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    """slow-servers: Zonemaster's 5 s timeout outlasts ns1's 3 s delay: no "no response" tag."""
    require_tool("zonemaster-cli")
    broken = run("slow-servers", "zonemaster", False, tmp_path / "broken")
    assert broken.ok and len(broken.results) == 5, failed(broken)
    assert all(r.what.startswith("does not report ") for r in broken.results), failed(broken)


def test_named_secondary_stale_refused_expired(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    require_tool("named")
    broken = run("lame-delegation", "named-secondary", False, tmp_path / "broken")
    assert broken.ok and len(broken.results) == 4, failed(broken)
    fixed = run("lame-delegation", "named-secondary", True, tmp_path / "fixed")
    assert fixed.ok and len(fixed.results) == 4, failed(fixed)


def test_named_secondary_keeps_the_old_serial_when_the_transfer_is_cut(
        tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    require_tool("named")
    broken = run("broken-transfer", "named-secondary", False, tmp_path / "broken")
    assert broken.ok and len(broken.results) == 3, failed(broken)
    fixed = run("broken-transfer", "named-secondary", True, tmp_path / "fixed")
    assert fixed.ok and len(fixed.results) == 2, failed(fixed)


def test_named_secondary_waits_for_its_refresh_without_notify(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    """no-notify: after the edit the secondary keeps the old serial (3 s and more) until its refresh;
    with the fix the primary's NOTIFY (to the named verify started) brings the new serial at once."""
    require_tool("named")
    broken = run("no-notify", "named-secondary", False, tmp_path / "broken")
    assert broken.ok and len(broken.results) == 3, failed(broken)
    fixed = run("no-notify", "named-secondary", True, tmp_path / "fixed")
    assert fixed.ok and len(fixed.results) == 2, failed(fixed)
    after_edit = [r.observed for r in (broken.results[1], fixed.results[1])]
    assert after_edit[0].startswith("serial 2024070101,") and "held 3 s" in after_edit[0], after_edit
    assert after_edit[1].startswith("serial 2024070102,"), after_edit


def test_zonecheck_rfc1912(tmp_path: Path) -> None:
    broken = run("rfc1912", "zonecheck", False, tmp_path)
    assert broken.ok and len(broken.results) >= 12, failed(broken)
    assert run("rfc1912", "zonecheck", True, tmp_path).ok
