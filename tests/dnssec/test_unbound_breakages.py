"""unbound (validating, the lab's trust anchor only) facing each DNSSEC breakage: the outcome
the RFCs give it -- bogus (SERVFAIL), insecure (an answer without AD: no usable DS, NSEC3
iterations above the resolver's limit, an algorithm it does not know) or secure (AD: a lie
that is validly signed). The outcomes are those of unbound 1.17 (Debian 12); each case runs
on the same lab, faults removed and unbound's caches flushed between cases. delv (BIND 9.18)
asked through the same unbound, with the same trust anchor, agrees on each case: "fully
validated", "unsigned answer", or a failure (delv validates itself, asking with CD=1)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import pytest
from helpers.procs import delv_outcome, describe_unbound, optional_delv

from fakens.dnssec import DnssecPolicy, Nsec3Params, add_ds_records, sign_zone
from fakens.lab import Hierarchy
from fakens.testing import Unbound

pytestmark = pytest.mark.port53

EXAMPLE_ZONE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"

# (zone whose servers get the fault, fault spec, qname, qtype, expected outcome)
NSEC_CASES = [
    ("example.test.", "rrsig-expired", "www.example.test.", "A", "bogus"),
    ("example.test.", "rrsig-expired mode=not-yet-valid", "www.example.test.", "A", "bogus"),
    ("example.test.", "rrsig-expired by=3600", "www.example.test.", "A", "secure"),  # within the clock skew allowed
    ("example.test.", "rrsig-bad types=A", "www.example.test.", "A", "bogus"),
    ("example.test.", "rrsig-bad mode=flipped types=A", "www.example.test.", "A", "bogus"),
    ("example.test.", "rrsig-unknown-key types=A", "www.example.test.", "A", "bogus"),
    ("example.test.", "rrsig-unknown-key mode=wrong-tag types=A", "www.example.test.", "A", "bogus"),
    ("example.test.", "rrsig-missing types=A", "www.example.test.", "A", "bogus"),
    ("example.test.", "stale-ds", "www.example.test.", "A", "bogus"),
    ("example.test.", "stale-ds mode=removed", "www.example.test.", "A", "bogus"),
    ("test.", "bad-ds", "www.example.test.", "A", "bogus"),
    ("test.", "bad-ds add=true", "www.example.test.", "A", "secure"),
    ("test.", "bad-ds mode=digest-type", "www.example.test.", "A", "insecure"),
    ("test.", "bad-ds mode=algorithm", "www.example.test.", "A", "bogus"),
    ("test.", "bad-ds mode=algorithm algorithm=100", "www.example.test.", "A", "insecure"),
    ("test.", "bad-ds mode=retired", "www.example.test.", "A", "bogus"),
    ("example.test.", "bad-denial mode=uncovered", "nope.example.test.", "A", "bogus"),
    ("example.test.", "bad-denial mode=missing", "nope.example.test.", "A", "bogus"),
    ("example.test.", "bad-denial mode=deny-name qname=www.example.test.", "www.example.test.", "A", "secure"),
    ("example.test.", "bad-denial mode=deny-type types=A qname=www.example.test.", "www.example.test.", "A",
     "secure"),
    ("example.test.", "nxdomain qname=www.example.test.", "www.example.test.", "A", "bogus"),
    ("example.test.", "nxdomain qname=www.example.test. resign=true", "www.example.test.", "A", "secure"),
    ("example.test.", "ns-no-address hosts=mail.example.test.", "mail.example.test.", "A", "bogus"),
    ("example.test.", "dnskey-oversize", "www.example.test.", "A", "bogus"),  # TC=1 over UDP, TCP reset
    ("example.test.", "dnskey-oversize mode=close", "www.example.test.", "A", "bogus"),
    ("example.test.", "dnskey-oversize mode=ok", "www.example.test.", "A", "secure"),  # the TCP retry gets the keys
]
NSEC3_CASES = [
    ("example.test.", "nsec3-iterations", "nope.example.test.", "A", "insecure"),
    ("example.test.", "nsec3-iterations iterations=100", "nope.example.test.", "A", "secure"),
    ("example.test.", "bad-denial mode=nsec3-params", "nope.example.test.", "A", "secure"),
    ("example.test.", "bad-denial mode=uncovered", "nope.example.test.", "A", "bogus"),
]

# Where delv (BIND 9.18's validator) parts from unbound 1.17: spec -> delv's outcome.
DELV_DIFFERS = {
    "rrsig-expired by=3600": "bogus",  # BIND allows no clock skew past the expiry (unbound: a grace period)
}


def _ask(address: tuple[str, int], qname: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype, want_dnssec=True, use_edns=0, payload=1232)
    query.flags |= dns.flags.AD
    return dns.query.udp(query, address[0], port=address[1], timeout=10)


def outcome(reply: dns.message.Message) -> str:
    if reply.rcode() == dns.rcode.SERVFAIL:
        return "bogus"
    return "secure" if reply.flags & dns.flags.AD else "insecure"


def _run(lab: Hierarchy, unbound: Unbound, cases: list[tuple[str, str, str, str, str]],
         delv: tuple[str, str] | None = None) -> None:
    """Each case on *lab* through *unbound*; *delv*: (delv, anchor file) asked the same, agreeing."""
    wrong = []
    for zone, spec, qname, qtype, expected in cases:
        for server in lab.servers.values():
            server.faults.reset()
        unbound.flush()
        assert outcome(_ask(unbound.address, "mail.example.test.", "A")) == "secure", describe_unbound(unbound)
        unbound.flush()
        for server in lab.servers_for(zone):
            server.faults.add(spec)
        reply = _ask(unbound.address, qname, qtype)
        if outcome(reply) != expected:
            wrong.append(f"{spec} on {zone}: {qname} {qtype} is {outcome(reply)} "
                         f"({dns.rcode.to_text(reply.rcode())}), expected {expected}")
        if delv is not None:
            said = delv_outcome(*delv, unbound.address, qname, qtype)
            if said != DELV_DIFFERS.get(spec, expected):
                wrong.append(f"{spec} on {zone}: delv says {qname} {qtype} is {said}, expected "
                             f"{DELV_DIFFERS.get(spec, expected)}")
    for server in lab.servers.values():
        server.faults.reset()
    assert not wrong, "\n".join(wrong) + "\n" + describe_unbound(unbound)


def test_unbound_outcomes_nsec(fakens_hierarchy: Callable[..., Hierarchy], fakens_unbound: Callable[..., Unbound],
                               require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    lab = fakens_hierarchy([EXAMPLE_ZONE], dnssec=True)
    unbound = fakens_unbound(lab)
    _run(lab, unbound, NSEC_CASES, optional_delv(unbound))


def test_unbound_outcomes_nsec3(fakens_hierarchy: Callable[..., Hierarchy], fakens_unbound: Callable[..., Unbound],
                                require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    lab = fakens_hierarchy([EXAMPLE_ZONE], dnssec=DnssecPolicy(nsec3=Nsec3Params()))
    unbound = fakens_unbound(lab)
    _run(lab, unbound, NSEC3_CASES, optional_delv(unbound))


@pytest.mark.parametrize(("policy", "expected"), [
    ({"published_algorithm": 253}, "insecure"),   # an algorithm unbound does not know: no usable DS
    ({"nsec3": {"iterations": 200}}, "secure"),   # positive answers need no NSEC3
], ids=["unknown-algorithm", "nsec3-200-positive"])
def test_unbound_outcome_of_a_policy(fakens_hierarchy: Callable[..., Hierarchy],
                                     fakens_unbound: Callable[..., Unbound], require_tool: Callable[[str], str],
                                     policy: dict[str, object], expected: str) -> None:
    """example.test. signed with *policy* below a signed root and test."""
    require_tool("unbound")
    lab = fakens_hierarchy([EXAMPLE_ZONE])
    for origin in (".", "test."):
        sign_zone(lab.zones[dns.name.from_text(origin)])
    sign_zone(lab.zones[dns.name.from_text("example.test.")], DnssecPolicy.from_value(policy))
    add_ds_records(lab.zones.values())
    unbound = fakens_unbound(lab)
    reply = _ask(unbound.address, "www.example.test.", "A")
    assert reply.answer and outcome(reply) == expected, f"{reply}\n{describe_unbound(unbound)}"
    if "nsec3" in policy:
        assert outcome(_ask(unbound.address, "nope.example.test.", "A")) == "insecure", describe_unbound(unbound)
    delv = optional_delv(unbound)
    if delv is not None:
        assert delv_outcome(*delv, unbound.address, "www.example.test.", "A") == expected
        if "nsec3" in policy:
            assert delv_outcome(*delv, unbound.address, "nope.example.test.", "A") == "insecure"
