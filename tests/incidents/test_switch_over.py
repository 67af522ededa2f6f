"""Incident 5: nameserver switch-over, up to 48 h of mixed answers.

example.test. moves from an old hosting provider's name server to a new one's: the parent's
(TLD's) delegation is switched at a moment T, and both providers keep serving their copy of
the zone, the old one with the old www/MX and the default one-day TTL.
What a resolver sees: before T it is sent to the old server; after T a fresh resolver is sent
to the new one, but a resolver that cached the old answer keeps it for its TTL (a day), so old
and new answers coexist.
Fix: the TTLs lowered (here to 2 s) before the change -> the cached old answer dies within
seconds of T and the resolver asks the TLD again and is sent to the new server. Lowering only
the zone's own TTLs is not enough for unbound: it keeps the delegation it got from the TLD for
the TLD's NS TTL (86400 s here) and goes back to the old server.

Lab: the delegation switch is two ``ns-mismatch`` faults on the TLD server with ``until``/``from``
windows on the hierarchy's ManualClock; the old provider's server answers the old data
(``stale-data mode=records``) and lists only itself at the apex (``ns-mismatch``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import dns.name
import pytest
from helpers import poll

from fakens.clock import ManualClock
from fakens.lab import Hierarchy
from fakens.testing import Unbound

from ._common import answer_ttl, clear_logs, fresh, records, recursive

pytestmark = pytest.mark.port53

OLD, NEW = "ns.old-provider.test.", "ns.new-provider.test."
T = 1000.0  # the moment the registrar's change reaches the TLD, on the hierarchy's clock
QNAME = "www.example.test."
OLD_WWW, NEW_WWW = "198.51.100.20", "192.0.2.20"
LONG_TTL, SHORT_TTL = 86400, 2


def zones(ttl: int) -> list[str]:
    provider = """
$ORIGIN {p}.test.
$TTL 3600
@   SOA ns hostmaster 1 3600 600 86400 300
@   NS  ns
ns  A   127.0.0.1
"""
    example = f"""
$ORIGIN example.test.
$TTL {ttl}
@    SOA {NEW} hostmaster 2 3600 600 86400 300
@    NS  {NEW}
@    NS  {OLD}
@    MX  10 mail
www  A   {NEW_WWW}
mail A   192.0.2.25
"""
    return [provider.format(p="old-provider"), provider.format(p="new-provider"), example]


def build(make: Callable[..., Hierarchy], ttl: int, delegation_ttl: int = 86400) -> Hierarchy:
    """The scenario; *ttl*: the zone's TTLs (both providers), *delegation_ttl*: the TTL of the
    TLD's NS records for example.test. (build_hierarchy makes them 86400)."""
    hierarchy = make(zones(ttl))
    tld_zone = hierarchy.zones[dns.name.from_text("test.")]
    # One text for the whole RRset: two items in replace= would each replace it (the last wins).
    tld_zone.edit(replace=[f"example.test. {delegation_ttl} NS {OLD}\nexample.test. {delegation_ttl} NS {NEW}"],
                  bump_serial=False)
    tld = hierarchy.servers_for("test.")[0]
    tld.faults.add(f"ns-mismatch mode=remove hosts={NEW} qname=**.example.test. until={T}", name="before-T")
    tld.faults.add(f"ns-mismatch mode=remove hosts={OLD} qname=**.example.test. from={T}", name="from-T")
    old, new = hierarchy.server(OLD), hierarchy.server(NEW)
    old.faults.add(f'stale-data mode=records zone=example.test. qname=**.example.test. '
                   f'records="www {ttl} A {OLD_WWW}; @ {ttl} MX 10 mail.old-provider.test."', name="old-data")
    old.faults.add(f"ns-mismatch mode=remove hosts={NEW} qname=**.example.test.", name="old-apex")
    new.faults.add(f"ns-mismatch mode=remove hosts={OLD} qname=**.example.test.", name="new-apex")
    return hierarchy


def zone_steps(hierarchy: Hierarchy) -> list[tuple[str, list[str]]]:
    """(server asked for example.test., addresses it gave) by the tracer at the clock's now."""
    result = hierarchy.tracer().resolve(QNAME, "A")
    return [(str(s.server_name), result.addresses) for s in result.path if str(s.zone) == "example.test."]


def clock(hierarchy: Hierarchy) -> ManualClock:
    """The hierarchy's clock (a ManualClock; Hierarchy.clock is typed as the Clock protocol)."""
    assert isinstance(hierarchy.clock, ManualClock)
    return hierarchy.clock


def test_long_ttl_keeps_the_old_answer(fakens_hierarchy: Callable[..., Hierarchy],
                                       fakens_unbound: Callable[..., Unbound]) -> None:
    hierarchy = build(fakens_hierarchy, LONG_TTL)
    old, new = hierarchy.server(OLD), hierarchy.server(NEW)

    # Before T the TLD sends everyone to the old provider (fakens' resolver, fake clock) ...
    assert zone_steps(hierarchy) == [(OLD, [OLD_WWW])]
    # ... and a resolver in use before T caches the old answer with its one-day TTL.
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    reply = recursive(unbound, QNAME)
    assert records(reply, "A") == [OLD_WWW] and answer_ttl(reply, "A") > LONG_TTL - 60, reply
    old.log.assert_received(qname=QNAME)
    new.log.assert_not_received(qname=QNAME)

    clock(hierarchy).advance(T - 1)
    assert zone_steps(hierarchy) == [(OLD, [OLD_WWW])]
    clock(hierarchy).advance(1)  # T: the TLD now delegates to the new provider
    assert zone_steps(hierarchy) == [(NEW, [NEW_WWW])]

    # The resolver holding the old answer keeps giving it, asking nobody.
    clear_logs(hierarchy)
    cached = recursive(unbound, QNAME)
    assert records(cached, "A") == [OLD_WWW] and answer_ttl(cached, "A") > LONG_TTL - 60, cached
    assert sum(len(s.log) for s in hierarchy.servers.values()) == 0
    # A resolver that starts fresh (the same one, flushed) is sent to the new provider: mixed answers.
    fresh(unbound)
    reply = recursive(unbound, QNAME)
    assert records(reply, "A") == [NEW_WWW], reply
    new.log.assert_received(qname=QNAME)
    old.log.assert_not_received(qname=QNAME)


def test_zone_ttl_lowered_but_delegation_cached(fakens_hierarchy: Callable[..., Hierarchy],
                                                fakens_unbound: Callable[..., Unbound]) -> None:
    """Only the zone's TTLs lowered: when the old answer expires, unbound asks the old server
    again (the delegation from the TLD is cached for 86400 s), and gets the old answer again."""
    hierarchy = build(fakens_hierarchy, SHORT_TTL)
    old = hierarchy.server(OLD)
    tld = hierarchy.servers_for("test.")[0]
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    assert records(recursive(unbound, QNAME), "A") == [OLD_WWW]
    clock(hierarchy).set(T)
    clear_logs(hierarchy)
    started = time.monotonic()  # unbound's cache expires in real time: poll, with a deadline
    poll(lambda: bool(records(recursive(unbound, QNAME), "A")) and old.log.count(qname=QNAME) > 0,
         SHORT_TTL + 8, what="unbound to ask the old server again", interval=0.05)
    took = time.monotonic() - started
    print(f"\nzone TTL {SHORT_TTL}s, delegation TTL 86400s: asked the old server again after {took:.1f}s")
    reply = recursive(unbound, QNAME)
    assert records(reply, "A") == [OLD_WWW], reply
    tld.log.assert_not_received(qname="**.example.test.")


def test_lowered_ttls_end_the_mixed_window(fakens_hierarchy: Callable[..., Hierarchy],
                                           fakens_unbound: Callable[..., Unbound]) -> None:
    hierarchy = build(fakens_hierarchy, SHORT_TTL, delegation_ttl=SHORT_TTL)  # the fix
    new = hierarchy.server(NEW)
    tld = hierarchy.servers_for("test.")[0]
    unbound = fakens_unbound(hierarchy, qname_minimisation=False)
    reply = recursive(unbound, QNAME)
    assert records(reply, "A") == [OLD_WWW] and answer_ttl(reply, "A") <= SHORT_TTL, reply

    clock(hierarchy).set(T)
    clear_logs(hierarchy)
    started = time.monotonic()  # unbound's cache expires in real time: poll, with a deadline
    poll(lambda: records(recursive(unbound, QNAME), "A") == [NEW_WWW], SHORT_TTL + 8,
         what="unbound to give the new answer", interval=0.05)
    took = time.monotonic() - started
    print(f"\nswitch-over with TTLs of {SHORT_TTL}s: the new answer after {took:.1f}s")
    assert took <= SHORT_TTL + 2, took
    tld.log.assert_received(qname=QNAME, fault="from-T")
    new.log.assert_received(qname=QNAME)
