"""The shipped DNSSEC labs (one per classic outage) against a validating unbound: each lab
started with ``fakens_lab``, unbound with the lab's trust anchor and ``ede: yes``, asked as a
validating stub asks (DO, AD, EDNS). The broken lab's name is bogus (SERVFAIL, with the
extended error unbound 1.17 gives) or, for the bitmap lab, a SECURE lie; the fixed lab
answers SECURE (AD). Also `fakens lab check NAME` and the [expect] checks of ad/ede."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from helpers.procs import describe_unbound

from fakens.scenario import load_scenario
from fakens.testing import LabRun, Unbound
from fakens.verify import expect_problems

ROOT = Path(__file__).resolve().parents[2]
DNSSEC_LABS = ["tld-expired-signatures", "stale-ds-rollover", "nsec-bitmap"]
# lab, the name that breaks, its EDE info-code (unbound 1.17, ede: yes), the answer when fixed
BOGUS = [("tld-expired-signatures", "www.example.se.", 7, "192.0.2.10"),
         ("stale-ds-rollover", "www.example.test.", 9, "192.0.2.10")]


def lab_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", "lab", "check", *args], capture_output=True, text=True,
                          timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd="/")


def ask(unbound: Unbound, qname: str, qtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(qname, qtype, want_dnssec=True, use_edns=0, payload=1232)
    query.flags |= dns.flags.AD
    return dns.query.udp(query, unbound.address[0], port=unbound.address[1], timeout=10)


def ede_codes(reply: dns.message.Message) -> list[int]:
    return [int(o.code) for o in reply.options if isinstance(o, dns.edns.EDEOption)]


def addresses(reply: dns.message.Message) -> list[str]:
    return sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset)


@pytest.mark.parametrize("name", DNSSEC_LABS)
def test_lab_check_by_name(name: str) -> None:
    for extra in ([], ["--fix"]):
        done = lab_check(name, *extra)
        assert done.returncode == 0, done.stderr + done.stdout
        assert done.stdout.rstrip().splitlines()[-1].startswith("ok"), done.stdout
    scenario = load_scenario(ROOT / "fakens" / "labs" / f"{name}.toml")
    assert scenario.dnssec is not None and scenario.fix is not None and scenario.fix.events
    assert "resolver" in scenario.expect and expect_problems(scenario) == []


def test_ad_and_ede_are_checked_with_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "tld-expired-signatures.toml").read_text()
    text = text.replace("ede = 7\n", 'ede = "expired"\n', 1).replace("ad = true\n", 'ad = "yes"\n', 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    lines = text.splitlines()
    done = lab_check(str(bad))
    assert done.returncode == 2, done.stdout
    ede, ad = lines.index('ede = "expired"') + 1, lines.index('ad = "yes"') + 1
    assert f"{bad}:{ede}: expect.resolver.outcomes[0].ede: expected an integer of at least 0" in done.stderr
    assert f"{bad}:{ad}: expect.resolver.outcomes[1].ad: expected true (validated: SECURE) or false" in done.stderr
    unsigned = tmp_path / "unsigned.toml"
    unsigned.write_text((ROOT / "fakens" / "labs" / "tld-expired-signatures.toml").read_text()
                        .replace("dnssec = true ", "# unsigned "))
    done = lab_check(str(unsigned))
    assert done.returncode == 2 and "ad and ede are for a signed lab ([lab] dnssec = true)" in done.stderr, done.stderr


@pytest.mark.port53
@pytest.mark.parametrize(("name", "qname", "ede", "address"), BOGUS, ids=[b[0] for b in BOGUS])
def test_unbound_bogus_then_secure_with_the_fix(fakens_lab: Callable[..., LabRun],
                                                fakens_unbound: Callable[..., Unbound],
                                                require_tool: Callable[[str], str],
                                                name: str, qname: str, ede: int, address: str) -> None:
    require_tool("unbound")
    broken = fakens_lab(name)
    assert broken.hierarchy.signed
    unbound = fakens_unbound(broken.hierarchy, ede=True)
    reply = ask(unbound, qname)
    assert reply.rcode() == dns.rcode.SERVFAIL, f"{reply}\n{describe_unbound(unbound)}"
    assert ede in ede_codes(reply), f"{reply}\n{describe_unbound(unbound)}"
    control = "www.example.org." if name == "tld-expired-signatures" else "www.other.test."
    assert ask(unbound, control).flags & dns.flags.AD, describe_unbound(unbound)
    unbound.stop()
    broken.stop()

    fixed = fakens_lab(name, fix=True)
    unbound = fakens_unbound(fixed.hierarchy, ede=True)
    reply = ask(unbound, qname)
    assert reply.rcode() == dns.rcode.NOERROR and addresses(reply) == [address], f"{reply}\n{describe_unbound(unbound)}"
    assert reply.flags & dns.flags.AD and not ede_codes(reply), f"{reply}\n{describe_unbound(unbound)}"


@pytest.mark.port53
def test_unbound_nsec_bitmap_secure_nodata_then_fixed(fakens_lab: Callable[..., LabRun],
                                                      fakens_unbound: Callable[..., Unbound],
                                                      require_tool: Callable[[str], str]) -> None:
    """The bitmap lab: no SERVFAIL -- after an AAAA query, A is a SECURE NODATA from the
    cached NSEC (aggressive NSEC); on a fresh cache and with the fix, the address, SECURE."""
    require_tool("unbound")
    require_tool("unbound-control")
    broken = fakens_lab("nsec-bitmap")
    unbound = fakens_unbound(broken.hierarchy, ede=True)
    first = ask(unbound, "www.example.com.")
    assert addresses(first) == ["192.0.2.30"] and first.flags & dns.flags.AD, describe_unbound(unbound)
    for qname in ("www.example.com.", "a.edge.example.com."):
        unbound.flush()
        nodata = ask(unbound, qname, "AAAA")
        assert nodata.rcode() == dns.rcode.NOERROR and nodata.flags & dns.flags.AD, f"{nodata}"
        lie = ask(unbound, qname)
        assert lie.rcode() == dns.rcode.NOERROR and addresses(lie) == [], f"{lie}\n{describe_unbound(unbound)}"
        assert lie.flags & dns.flags.AD, f"a SECURE lie, not bogus: {lie}\n{describe_unbound(unbound)}"
    unbound.stop()
    broken.stop()

    fixed = fakens_lab("nsec-bitmap", fix=True)
    unbound = fakens_unbound(fixed.hierarchy, ede=True)
    for qname, address in (("www.example.com.", "192.0.2.30"), ("a.edge.example.com.", "192.0.2.31")):
        ask(unbound, qname, "AAAA")
        reply = ask(unbound, qname)
        assert addresses(reply) == [address] and reply.flags & dns.flags.AD, f"{reply}\n{describe_unbound(unbound)}"
