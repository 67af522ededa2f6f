"""Incident 4: lame delegation (JPRS guidance).

A server named in the parent's NS set does not serve the zone (not configured, crashed on a
zone-file error, expired after failed transfers) and answers REFUSED, SERVFAIL, without AA,
or with an upward referral. What a resolver sees: with one lame server of two, answers still
come, but every fresh resolution that picks the lame server costs a retry on the other; with
both lame, SERVFAIL, and since nothing negative is cached, every query goes out again
(to the zone's servers and up to the TLD).
Fix: the lame server serves the zone again -> no retry, answers from the first server asked.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fakens.lab import Hierarchy
from fakens.testing import Unbound

from ._common import clear_logs, fresh, rcode, records, recursive

pytestmark = pytest.mark.port53

ZONE = """
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
@    NS  ns2
ns1  A   127.0.0.1
ns2  A   127.0.0.1
www  A   192.0.2.10
"""
LAME, GOOD = "ns1.example.test.", "ns2.example.test."
QNAME = "www.example.test."
MODES = ["refused", "servfail", "upward"]  # noaa: its own test below


@pytest.fixture
def hierarchy(fakens_hierarchy: Callable[..., Hierarchy]) -> Hierarchy:
    return fakens_hierarchy([ZONE])


@pytest.mark.parametrize("mode", MODES)
def test_one_lame_server_costs_a_retry(hierarchy: Hierarchy, fakens_unbound: Callable[..., Unbound],
                                       mode: str) -> None:
    lame, good = hierarchy.server(LAME), hierarchy.server(GOOD)
    lame.faults.add(f"lame mode={mode}", name="lame")

    # fakens' resolver asking the lame server first (listed order): lame step, then the good one.
    trace = hierarchy.tracer().resolve(QNAME, "A")
    assert trace.addresses == ["192.0.2.10"], str(trace)
    zone_steps = [s for s in trace.path if str(s.zone) == "example.test."]
    assert [(str(s.server_name), s.outcome) for s in zone_steps] == [(LAME, "lame"), (GOOD, "answer")], str(trace)

    # unbound, fresh resolutions until one picked the lame server: it still answers,
    # and the good server was asked for the same name in that resolution (the retry).
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    retried = 0
    for _ in range(40):
        fresh(unbound)
        clear_logs(hierarchy)
        reply = recursive(unbound, QNAME)
        assert rcode(reply) == "NOERROR" and records(reply, "A") == ["192.0.2.10"], reply
        if lame.log.count(qname=QNAME, fault="lame"):
            good.log.assert_received(qname=QNAME)
            retried += 1
            if retried == 3:
                break
    assert retried == 3, f"unbound picked the lame server ({mode}) fewer than 3 times in 40 fresh resolutions"

    # The fix: the server serves the zone again; the tracer's first server answers.
    lame.faults.remove("lame")
    trace = hierarchy.tracer().resolve(QNAME, "A")
    zone_steps = [s for s in trace.path if str(s.zone) == "example.test."]
    assert [(str(s.server_name), s.outcome) for s in zone_steps] == [(LAME, "answer")], str(trace)
    for _ in range(6):
        fresh(unbound)
        clear_logs(hierarchy)
        reply = recursive(unbound, QNAME)
        assert records(reply, "A") == ["192.0.2.10"], reply
        asked = lame.log.count(qname=QNAME) + good.log.count(qname=QNAME)
        assert asked == 1, f"{asked} queries for one resolution after the fix"


def test_lame_without_aa_is_accepted(hierarchy: Hierarchy, fakens_unbound: Callable[..., Unbound]) -> None:
    """The noaa cause (a server answering for a zone it does not serve, without AA): resolvers
    take the data anyway (unbound does not retry), so only the missing AA shows it, as a checker sees."""
    lame, good = hierarchy.server(LAME), hierarchy.server(GOOD)
    lame.faults.add("lame mode=noaa", name="lame")
    trace = hierarchy.tracer().resolve(QNAME, "A")
    zone_steps = [s for s in trace.path if str(s.zone) == "example.test."]
    assert [(str(s.server_name), s.aa) for s in zone_steps] == [(LAME, False)], str(trace)
    assert trace.addresses == ["192.0.2.10"]
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    picked = 0
    for _ in range(40):
        fresh(unbound)
        clear_logs(hierarchy)
        reply = recursive(unbound, QNAME)
        assert records(reply, "A") == ["192.0.2.10"], reply
        if lame.log.count(qname=QNAME, fault="lame"):
            picked += 1
            assert good.log.count(qname=QNAME) == 0  # the non-AA answer was taken: no retry
    assert picked >= 1, "unbound never picked the lame server in 40 fresh resolutions"
    lame.faults.remove("lame")
    trace = hierarchy.tracer().resolve(QNAME, "A")
    assert [(str(s.server_name), s.aa) for s in trace.path if str(s.zone) == "example.test."] == [(LAME, True)]


def test_both_lame_servfail_and_no_negative_caching(hierarchy: Hierarchy,
                                                    fakens_unbound: Callable[..., Unbound]) -> None:
    zone_servers = hierarchy.servers_for("example.test.")
    tld = hierarchy.servers_for("test.")
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)

    def repeat(names: list[str]) -> tuple[list[str], int, int]:
        """Resolve each name once (no flush in between): rcodes, queries at the TLD, at the zone."""
        fresh(unbound)
        clear_logs(hierarchy)
        rcodes = [rcode(recursive(unbound, name)) for name in names]
        return rcodes, sum(len(s.log) for s in tld), sum(len(s.log) for s in zone_servers)

    names = [f"host{i}.example.test." for i in range(5)]  # names that do not exist
    # Healthy: NXDOMAIN from the zone; the delegation is asked for once at the TLD.
    ok_rcodes, ok_tld, ok_zone = repeat(names)
    assert ok_rcodes == ["NXDOMAIN"] * 5
    assert ok_tld == 1, ok_tld
    # ... and the same name again is answered from the negative cache.
    before = sum(len(s.log) for s in zone_servers)
    assert rcode(recursive(unbound, names[0])) == "NXDOMAIN"
    assert sum(len(s.log) for s in zone_servers) == before

    for server in zone_servers:
        server.faults.add("lame mode=refused", name="lame")
    lame_rcodes, lame_tld, lame_zone = repeat(names + names)  # each name twice
    print(f"\nboth lame: {lame_rcodes.count('SERVFAIL')}/10 SERVFAIL, {lame_tld} queries at the TLD "
          f"(healthy: {ok_tld}), {lame_zone} at the zone's servers (healthy: {ok_zone})")
    assert lame_rcodes == ["SERVFAIL"] * 10
    # Nothing negative is cached: the repeated names went out again, and the TLD is asked
    # for the delegation again and again.
    assert lame_zone > ok_zone
    assert lame_tld > ok_tld

    # The fix: both serve the zone again.
    for server in zone_servers:
        server.faults.remove("lame")
    fixed_rcodes, fixed_tld, fixed_zone = repeat(names)
    assert fixed_rcodes == ["NXDOMAIN"] * 5 and fixed_tld == ok_tld and fixed_zone == ok_zone
