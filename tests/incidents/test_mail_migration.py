"""Incident 1: mail still lands on the old server weeks after a migration.

example.test. moved from a hosting provider to its own servers ns. and ns2.example.test.
(glue for both at the TLD), but the new zone had no address record for ns2, and the old
provider's copy of the zone was left answering the old MX/A with a one-day TTL.
What a resolver sees: over fresh resolutions the MX answer flips between the new and the
old mail server (whichever server was picked), ns2's own address does not resolve (NXDOMAIN
from the new zone), and a resolver that once got the old MX keeps it for a day.
Fix: ns2 gets its address and the old provider serves the new data -> every resolution agrees.

Lab: ns2.example.test.'s glue leads to a server still holding the old provider's data
(``stale-data mode=records``); the new zone on ns.example.test. lacks ns2's address
(``ns-no-address``; build_hierarchy gives every in-zone NS host an address, so the zone text
cannot leave it out).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fakens.lab import Hierarchy
from fakens.testing import Unbound

from ._common import answer_ttl, clear_logs, direct, fresh, rcode, records, recursive

pytestmark = pytest.mark.port53

ZONE = """
$ORIGIN example.test.
$TTL 300
@     SOA ns hostmaster 2 3600 600 86400 300
@     NS  ns
@     NS  ns2
@     MX  10 mail
ns    A   127.0.0.1
ns2   A   127.0.0.1
mail  A   192.0.2.25
"""
DOMAIN = "example.test."
NEW_MX = ["10 mail.example.test."]
OLD_MX = ["10 mx.old-provider.test."]
OLD_TTL = 86400
OLD_RECORDS = f"@ {OLD_TTL} MX 10 mx.old-provider.test.; mail {OLD_TTL} A 198.51.100.25"
NEW_SERVER, OLD_SERVER = "ns.example.test.", "ns2.example.test."
TRIALS = 30


@pytest.fixture
def hierarchy(fakens_hierarchy: Callable[..., Hierarchy]) -> Hierarchy:
    hierarchy = fakens_hierarchy([ZONE])
    # The new zone (on ns) lists ns2 but has no address for it.
    hierarchy.server(NEW_SERVER).faults.add("ns-no-address hosts=ns2.example.test.", name="no-ns2-address")
    # The server ns2's glue leads to still answers with the old provider's data.
    hierarchy.server(OLD_SERVER).faults.add(f'stale-data mode=records records="{OLD_RECORDS}"', name="old-provider")
    return hierarchy


def mx_over_fresh_resolutions(unbound: Unbound, n: int) -> list[str]:
    out = []
    for _ in range(n):
        fresh(unbound)
        reply = recursive(unbound, DOMAIN, "MX")
        assert rcode(reply) == "NOERROR", reply
        mx = records(reply, "MX")
        out.append("new" if mx == NEW_MX else "old" if mx == OLD_MX else repr(mx))
    return out


def test_mail_migration(hierarchy: Hierarchy, fakens_unbound: Callable[..., Unbound]) -> None:
    new, old = hierarchy.server(NEW_SERVER), hierarchy.server(OLD_SERVER)

    # -- the symptom ---------------------------------------------------------------------
    # The TLD has glue for both names (the registrar side is right) ...
    referral = direct(hierarchy.servers_for("test.")[0], DOMAIN, "MX")
    glue = sorted(str(r.name) for r in referral.additional)
    assert glue == [NEW_SERVER, OLD_SERVER], referral
    # ... but ns2's address lookup fails: the new zone says ns2 does not exist.
    trace = hierarchy.tracer().resolve(OLD_SERVER, "A")
    assert trace.status == "nxdomain" and trace.path[-1].server_name is not None, str(trace)
    assert str(trace.path[-1].server_name) == NEW_SERVER, str(trace)
    # Asking every server: the two servers of example.test. disagree on the MX.
    trace = hierarchy.tracer(ask_all=True).resolve(DOMAIN, "MX")
    zone_disagreements = [d for d in trace.disagreements if str(d.zone) == DOMAIN]
    assert len(zone_disagreements) == 1, str(trace)
    said = {k.split()[0]: v for k, v in zone_disagreements[0].answers.items()}
    assert "mail.example.test." in said[NEW_SERVER] and "mx.old-provider.test." in said[OLD_SERVER], said

    # unbound: fresh resolutions get the new or the old MX, whichever server it picked.
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    clear_logs(hierarchy)
    results = mx_over_fresh_resolutions(unbound, TRIALS)
    print(f"\nmail migration: {results.count('old')}/{TRIALS} fresh MX resolutions got the OLD mail server")
    assert set(results) == {"new", "old"}, results
    assert results.count("old") >= 3 and results.count("new") >= 3, results
    assert old.log.count(qname=DOMAIN, qtype="MX", fault="old-provider") == results.count("old")
    # And unbound itself cannot find ns2's address when the new server answers.
    lookups: set[str] = set()
    for _ in range(TRIALS):
        fresh(unbound)
        lookups.add(rcode(recursive(unbound, OLD_SERVER, "A")))
        if "NXDOMAIN" in lookups:
            break
    assert "NXDOMAIN" in lookups, lookups
    new.log.assert_received(qname=OLD_SERVER, qtype="A", fault="no-ns2-address")

    # The long TTL: a resolver that got the old MX keeps it, even once the zone is fixed.
    for _ in range(TRIALS):
        fresh(unbound)
        reply = recursive(unbound, DOMAIN, "MX")
        if records(reply, "MX") == OLD_MX:
            break
    else:
        raise AssertionError("no old MX in 30 more fresh resolutions")

    # -- the fix: ns2 gets its address, the old provider serves the new data ---------------
    new.faults.remove("no-ns2-address")
    old.faults.remove("old-provider")
    cached = recursive(unbound, DOMAIN, "MX")  # no flush: what a resolver that cached it still says
    assert records(cached, "MX") == OLD_MX and answer_ttl(cached, "MX") > OLD_TTL - 60, cached

    trace = hierarchy.tracer(ask_all=True).resolve(DOMAIN, "MX")
    assert not trace.disagreements, str(trace)
    assert hierarchy.tracer().resolve(OLD_SERVER, "A").addresses == [old.addresses[0][0]]
    clear_logs(hierarchy)
    results = mx_over_fresh_resolutions(unbound, TRIALS)
    assert results == ["new"] * TRIALS, results
    assert new.log.count(qname=DOMAIN, qtype="MX") and old.log.count(qname=DOMAIN, qtype="MX")  # both asked
    for _ in range(10):
        fresh(unbound)
        assert records(recursive(unbound, OLD_SERVER, "A"), "A") == [old.addresses[0][0]]
