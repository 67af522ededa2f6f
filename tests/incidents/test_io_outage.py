"""Incident 2: the .io TLD outage (2017).

2 of the 7 authoritative servers of io. answered NXDOMAIN, with the io. SOA (negative TTL 900 s),
for delegations that existed; resolvers that hit a bad server cached "does not exist" for 15 min,
so behind a pool of resolvers the failure looked random.
What a resolver sees: a fraction (about 2/7) of fresh resolutions of www.example.io. end in
NXDOMAIN with the io. SOA; a failed name stays failed from the cache without asking io. again.
Fix: the two servers answer the referral again -> every fresh resolution succeeds.
"""

from __future__ import annotations

from collections.abc import Callable

import dns.name
import dns.rdatatype
import pytest

from fakens.lab import Hierarchy
from fakens.testing import Unbound

from ._common import clear_logs, direct, fresh, rcode, records, recursive

pytestmark = pytest.mark.port53

ZONE = """
$ORIGIN example.io.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
@    NS  ns2
ns1  A   127.0.0.1
ns2  A   127.0.0.1
www  A   192.0.2.10
"""
TLD = "io."
NEGATIVE_TTL = 900  # the io. SOA minimum of the incident
TLD_SOA = f"@ 86400 SOA ns1.nic.io. hostmaster.nic.io. 2017070601 7200 900 1209600 {NEGATIVE_TTL}"
BAD = ("ns2.nic.io.", "ns5.nic.io.")
QNAME = "www.example.io."
TRIALS = 60


@pytest.fixture
def hierarchy(fakens_hierarchy: Callable[..., Hierarchy]) -> Hierarchy:
    hierarchy = fakens_hierarchy([ZONE], tld_servers=7)
    tld = hierarchy.zones[dns.name.from_text(TLD)]
    tld.edit(replace=[TLD_SOA], bump_serial=False)
    return hierarchy


def run(unbound: Unbound, n: int) -> list[str]:
    """n fresh resolutions: 'ok', 'NXDOMAIN' or an unexpected reply as text."""
    out = []
    for _ in range(n):
        fresh(unbound)
        reply = recursive(unbound, QNAME)
        if rcode(reply) == "NOERROR" and records(reply, "A") == ["192.0.2.10"]:
            out.append("ok")
        elif rcode(reply) == "NXDOMAIN" and not reply.answer:
            out.append("NXDOMAIN")
        else:
            out.append(reply.to_text())
    return out


def test_two_of_seven_tld_servers_say_nxdomain(hierarchy: Hierarchy,
                                               fakens_unbound: Callable[..., Unbound]) -> None:
    tld_servers = hierarchy.servers_for(TLD)
    assert len(tld_servers) == 7
    bad = [hierarchy.server(h) for h in BAD]
    for server in bad:
        server.faults.add("nxdomain qname=**.example.io.", name="io-outage")
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)

    # -- the symptom ---------------------------------------------------------------------
    # A bad server: NXDOMAIN, AA, with the io. SOA whose TTL is the negative TTL (900 s).
    reply = direct(bad[0], QNAME)
    assert rcode(reply) == "NXDOMAIN" and not reply.answer
    soa = [r for r in reply.authority if r.rdtype == dns.rdatatype.SOA]
    assert [(str(r.name), r.ttl) for r in soa] == [(TLD, NEGATIVE_TTL)], reply

    # fakens' own resolver asking every io. server names the two that disagree.
    trace = hierarchy.tracer(ask_all=True).resolve(QNAME, "A")
    tld_disagreements = [d for d in trace.disagreements if str(d.zone) == TLD]
    assert len(tld_disagreements) == 1, str(trace)
    said = tld_disagreements[0].answers
    nxdomain_servers = sorted(server.split()[0] for server, summary in said.items() if "NXDOMAIN" in summary)
    assert nxdomain_servers == sorted(BAD), str(trace)
    assert len(said) == 7

    # unbound, 60 fresh resolutions: a fraction fails, as behind a resolver pool.
    clear_logs(hierarchy)
    results = run(unbound, TRIALS)
    odd = [r for r in results if r not in ("ok", "NXDOMAIN")]
    assert not odd, odd[0]
    failures = results.count("NXDOMAIN")
    print(f"\n.io outage: {failures}/{TRIALS} fresh resolutions NXDOMAIN (2/7 = 29%)")
    assert 0.10 * TRIALS <= failures <= 0.50 * TRIALS, results
    lies = sum(s.log.count(qname=QNAME, fault="io-outage") for s in bad)
    assert lies == failures  # every failure is one lie of a bad server, no other cause

    # Negative caching: once failed, the name stays failed from the cache (no new TLD query),
    # with the io. SOA counting down from the negative TTL.
    for _ in range(40):
        fresh(unbound)
        if rcode(recursive(unbound, QNAME)) == "NXDOMAIN":
            break
    else:
        raise AssertionError("no NXDOMAIN in 40 more fresh resolutions")
    before = sum(len(s.log) for s in tld_servers)
    again = recursive(unbound, QNAME)  # no flush
    assert rcode(again) == "NXDOMAIN", again
    soa = [r for r in again.authority if r.rdtype == dns.rdatatype.SOA]
    assert [str(r.name) for r in soa] == [TLD] and NEGATIVE_TTL - 10 <= soa[0].ttl <= NEGATIVE_TTL, again
    assert sum(len(s.log) for s in tld_servers) == before, "the cached NXDOMAIN asked io. again"

    # -- the fix: the two servers serve the delegation again ------------------------------
    for server in bad:
        server.faults.remove("io-outage")
    trace = hierarchy.tracer(ask_all=True).resolve(QNAME, "A")
    assert trace.addresses == ["192.0.2.10"] and not trace.disagreements, str(trace)
    clear_logs(hierarchy)
    results = run(unbound, TRIALS)
    assert results == ["ok"] * TRIALS, [r for r in results if r != "ok"][:1]
    assert sum(s.log.count(qname=QNAME, rcode="NXDOMAIN") for s in tld_servers) == 0
