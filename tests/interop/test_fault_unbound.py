"""The .io outage of 2017 through unbound: 2 of 7 TLD servers answer NXDOMAIN for a name
that exists; fresh resolutions fail about 2/7 of the time, and the failure is cached.

Hierarchy from the ``fakens_hierarchy`` fixture (fakens servers in this process, port 53, on
addresses of this pytest-xdist worker's own 127.(worker+1).x.y block): root
a.root-servers.test. -> test. on ns1..ns7.nic.test. -> example.test. on ns1/ns2.example.test.
(zones/example.test.zone). unbound from ``fakens_unbound``, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest
from helpers import ask
from helpers.procs import describe_unbound

from fakens import Server
from fakens.lab import Hierarchy
from fakens.testing import Unbound

pytestmark = pytest.mark.port53

EXAMPLE_ZONE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
TLD = "test."
TLD_SERVERS = 7
BAD_HOSTS = ("ns3.nic.test.", "ns6.nic.test.")  # the 2 of 7 TLD servers that answer NXDOMAIN
NEGATIVE_TTL = 1234  # the TLD's SOA minimum, below its TTL: the NXDOMAIN's negative TTL
TLD_SOA = f"@ 86400 SOA ns1.nic.test. hostmaster.nic.test. 2024010101 7200 900 1209600 {NEGATIVE_TTL}"
QNAME = "www.example.test."
# Where unbound's queries to the hierarchy come from: the kernel's source address for the
# loopback range (the preferred source of the local 127.0.0.0/8 route), whatever 127.x.y.z
# the server listens on.
UNBOUND_SOURCE = "127.0.0.1"

MakeHierarchy = Callable[..., Hierarchy]
MakeUnbound = Callable[..., Unbound]


@pytest.fixture
def hierarchy(fakens_hierarchy: MakeHierarchy) -> Hierarchy:
    hierarchy = fakens_hierarchy([EXAMPLE_ZONE], tld_servers=TLD_SERVERS)
    # The TLD fakens made has a negative TTL of 300 (SOA TTL 3600, minimum 300): give it
    # 1234 (TTL 86400). No resolver has asked anything yet.
    tld = hierarchy.zones[dns.name.from_text(TLD)]
    tld.edit(replace=[TLD_SOA], bump_serial=False)
    assert tld.current.negative_ttl() == NEGATIVE_TTL
    return hierarchy


def resolve(unbound: Unbound, qname: str = QNAME) -> dns.message.Message:
    host, port = unbound.address
    try:
        return ask((host, port), qname, "A", timeout=5)
    except dns.exception.Timeout:
        raise AssertionError(f"unbound did not answer {qname} A within 5 s\n"
                             f"{describe_unbound(unbound)}") from None


def outcome(r: dns.message.Message) -> str:
    """"ok" (the right address), "nxdomain", or the unexpected reply as text."""
    if r.rcode() == dns.rcode.NXDOMAIN and not r.answer:
        return "nxdomain"
    addresses = {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                 for rd in rrset}
    if r.rcode() == dns.rcode.NOERROR and addresses == {"192.0.2.10"}:
        return "ok"
    return r.to_text()


def flush(unbound: Unbound) -> None:
    """Make the next resolution fresh: no cached data, delegations or server RTTs."""
    unbound.control("flush_zone", ".")
    unbound.control("flush_infra", "all")
    unbound.control("flush_requestlist")


def tld_count(servers: list[Server]) -> int:
    return sum(len(s.log) for s in servers)


def test_two_of_seven_tld_servers_nxdomain(hierarchy: Hierarchy, fakens_unbound: MakeUnbound,
                                           require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    tld_servers = hierarchy.servers_for(TLD)
    assert [s.name for s in tld_servers] == [f"ns{i}.nic.test." for i in range(1, TLD_SERVERS + 1)]
    bad = [hierarchy.server(host) for host in BAD_HOSTS]
    good = [s for s in tld_servers if s not in bad]
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    for server in bad:
        server.faults.add("nxdomain")  # with the SOA of test.

    # The fault on the wire, straight from a bad server and a good one.
    direct = ask((bad[0].addresses[0][0], hierarchy.port), QNAME, "A", flags=0)
    assert direct.rcode() == dns.rcode.NXDOMAIN, direct
    soa = [rrset for rrset in direct.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert [(str(r.name), r.ttl) for r in soa] == [(TLD, NEGATIVE_TTL)], direct
    answer = ask((good[0].addresses[0][0], hierarchy.port), QNAME, "A", flags=0)
    assert answer.rcode() == dns.rcode.NOERROR and not answer.answer and answer.authority, answer
    for s in hierarchy.servers.values():
        s.log.clear()

    # 100 fresh resolutions with the faults.
    started = time.monotonic()
    results = []
    for _ in range(100):
        flush(unbound)
        results.append(outcome(resolve(unbound)))
    faulty_time = time.monotonic() - started
    odd = [r for r in results if r not in ("ok", "nxdomain")]
    assert not odd, f"unexpected replies from unbound:\n{odd[0]}\n{describe_unbound(unbound)}"
    failures = results.count("nxdomain")
    print(f"\n2 of 7 TLD servers NXDOMAIN: {failures}/100 fresh resolutions failed "
          f"({faulty_time:.1f} s)")
    assert 0.10 <= failures / 100 <= 0.50, f"{failures}/100 NXDOMAIN, expected about 2/7"

    # The TLD servers' logs tell which servers lied: faults only on the 2 bad ones.
    for server in tld_servers:
        where = f"{server.name} ({server.addresses[0][0]})"
        got = server.log.entries()
        for e in got:
            assert e.client[0] == UNBOUND_SOURCE, (where, e)
            if server in bad:
                assert e.rcode_text == "NXDOMAIN", (where, e)
                assert [f["type"] for f in e.faults] == ["nxdomain"], (where, e)
            else:
                assert e.rcode_text != "NXDOMAIN" and e.faults == [], (where, e, e.faults)
        if server in bad:
            assert got, f"bad TLD server {where} was never asked in 100 resolutions"
    lied = sum(s.log.count(qname=QNAME, rcode="NXDOMAIN") for s in bad)
    assert lied == failures, f"{lied} NXDOMAIN for {QNAME} sent, {failures} resolutions failed"

    # Negative caching: a failed resolution is answered from the cache, without asking
    # any TLD server again, with the SOA of test. at (at most) its negative TTL.
    for _ in range(50):
        flush(unbound)
        if outcome(resolve(unbound)) == "nxdomain":
            break
    else:
        raise AssertionError("no NXDOMAIN in 50 more fresh resolutions")
    before = tld_count(tld_servers)
    again = resolve(unbound)
    assert outcome(again) == "nxdomain", again
    soa = [rrset for rrset in again.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert [str(r.name) for r in soa] == [TLD], again
    assert NEGATIVE_TTL - 10 <= soa[0].ttl <= NEGATIVE_TTL, again
    assert tld_count(tld_servers) == before, "the cached NXDOMAIN went to a TLD server again"

    # The faults removed: no failure in 30 fresh resolutions.
    for server in bad:
        server.faults.reset()
    for s in hierarchy.servers.values():
        s.log.clear()
    results = []
    for _ in range(30):
        flush(unbound)
        results.append(outcome(resolve(unbound)))
    assert results == ["ok"] * 30, f"{results}\n{describe_unbound(unbound)}"
    for server in tld_servers:
        for e in server.log.entries():
            assert (e.rcode_text, e.faults) == ("NOERROR", []), (server.name, e, e.faults)
    asked = sum(1 for s in tld_servers if s.log.count(qname=QNAME))
    assert asked >= 3, f"only {asked} of 7 TLD servers asked in 30 fresh resolutions"
