"""Key rollovers state by state (RFC 7583): the DNSKEY set, who signs it and the parent's DS
on the wire (dnspython, each signature validated against the served keys), and what a
validating unbound makes of each state when the DS follows the rollover or never does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import pytest
from helpers.procs import describe_unbound

import fakens
from fakens.dnssec import DnssecPolicy, add_ds_records, sign_zone
from fakens.dnssec.rollover import STATES, Rollover, tags
from fakens.lab import Hierarchy, parent_zones
from fakens.testing import Unbound

from .test_fault_cases import TEST_ZONE
from .test_unbound_breakages import _ask, outcome

EXAMPLE_ZONE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
EXAMPLE = dns.name.from_text("example.test.")


def _served(server: fakens.Server, qname: str | dns.name.Name, qtype: str) -> dns.message.Message:
    host, port = server.addresses[0]
    query = dns.message.make_query(qname, qtype, want_dnssec=True, use_edns=0, payload=1232)
    return dns.query.tcp(query, host, port=port, timeout=3)


def _signers(reply: dns.message.Message, covers: int) -> set[tuple[int, int]]:
    """(algorithm, key tag) of the RRSIGs covering *covers* in ANSWER."""
    return {(int(r.algorithm), r.key_tag) for s in reply.answer if s.rdtype == dns.rdatatype.RRSIG and s.covers == covers
            for r in s}


@pytest.fixture
def served(make_server: Callable[..., fakens.Server]) -> tuple[fakens.Server, fakens.Zone, fakens.Zone]:
    parent, child = fakens.Zone.from_text(TEST_ZONE), fakens.Zone.from_file(str(EXAMPLE_ZONE))
    sign_zone(parent)
    sign_zone(child, DnssecPolicy(rsa_bits=1024))
    add_ds_records([parent, child])
    return make_server([parent, child]), parent, child


@pytest.mark.parametrize("kind", ["ksk", "zsk", "algorithm"])
def test_each_state_on_the_wire(served: tuple[fakens.Server, fakens.Zone, fakens.Zone], kind: str) -> None:
    server, parent, child = served
    roll = Rollover(child, [parent], kind, algorithm=8 if kind == "algorithm" else None)
    for state in STATES:
        roll.move(state)
        keys, ksks, zsks, ds = roll.plan(state)
        reply = _served(server, EXAMPLE, "DNSKEY")
        dnskey = reply.find_rrset(reply.answer, EXAMPLE, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
        assert sorted(dns.dnssec.key_id(k) for k in dnskey) == sorted(tags(keys)), state
        assert _signers(reply, dns.rdatatype.DNSKEY) == {(k.algorithm, k.key_tag) for k in ksks}, state
        rrsig = reply.find_rrset(reply.answer, EXAMPLE, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
        dns.dnssec.validate(dnskey, rrsig, {EXAMPLE: dnskey})
        www = _served(server, "www.example.test.", "A")
        assert _signers(www, dns.rdatatype.A) == {(k.algorithm, k.key_tag) for k in zsks}, state
        a = www.find_rrset(www.answer, dns.name.from_text("www.example.test."), dns.rdataclass.IN, dns.rdatatype.A)
        dns.dnssec.validate(a, www.find_rrset(www.answer, a.name, dns.rdataclass.IN, dns.rdatatype.RRSIG,
                                              dns.rdatatype.A), {EXAMPLE: dnskey})
        at_parent = _served(server, EXAMPLE, "DS")
        parent_ds = at_parent.find_rrset(at_parent.answer, EXAMPLE, dns.rdataclass.IN, dns.rdatatype.DS)
        assert sorted(d.key_tag for d in parent_ds) == sorted(tags(ds)), state
    if kind == "zsk":
        assert tags(roll.plan("removed")[3]) == tags(roll.old_ksks)  # a ZSK rollover leaves the DS alone
    else:
        assert tags(roll.plan("active")[3]) == tags(roll.new_ksks)


def test_bad_kind_and_state_are_named(served: tuple[fakens.Server, fakens.Zone, fakens.Zone]) -> None:
    _, parent, child = served
    with pytest.raises(fakens.ConfigError, match="rollover kind 'kks'"):
        Rollover(child, [parent], "kks")
    with pytest.raises(fakens.ConfigError, match="needs algorithm"):
        Rollover(child, [parent], "algorithm")
    with pytest.raises(fakens.ConfigError, match="rollover state 'done'.*RFC 7583"):
        Rollover(child, [parent], "ksk").move("done")


# (kind, the DS follows, the outcome per state from start to removed)
UNBOUND_CASES = [
    ("ksk", True, ["secure"] * 6),
    # the DS never updated: bogus once the old KSK stops signing the key set (retired), and removed (stale DS)
    ("ksk", False, ["secure"] * 4 + ["bogus", "bogus"]),
    ("zsk", True, ["secure"] * 6),
    ("algorithm", True, ["secure"] * 6),
    ("algorithm", False, ["secure"] * 4 + ["bogus", "bogus"]),  # the DS's algorithm no longer signs the key set
]


@pytest.mark.parametrize(("kind", "follows", "expected"), UNBOUND_CASES,
                         ids=[f"{k}-{'ds-follows' if f else 'ds-stuck'}" for k, f, _ in UNBOUND_CASES])
def test_unbound_through_the_states(fakens_hierarchy: Callable[..., Hierarchy], fakens_unbound: Callable[..., Unbound],
                                    require_tool: Callable[[str], str], kind: str, follows: bool,
                                    expected: list[str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    lab = fakens_hierarchy([EXAMPLE_ZONE], dnssec=True)
    unbound = fakens_unbound(lab)
    child = lab.zones[EXAMPLE]
    roll = Rollover(child, parent_zones(lab, EXAMPLE), kind, algorithm=8 if kind == "algorithm" else None,
                    ds_follows=follows)
    seen = []
    for state in STATES:
        roll.move(state)
        unbound.flush()
        seen.append(outcome(_ask(unbound.address, "www.example.test.", "A")))
    assert seen == expected, f"{list(zip(STATES, seen))}\n{describe_unbound(unbound)}"


SCENARIO = """
[lab]
dnssec = true
port = 0

[[zones]]
origin = "example.test."
file = "{zone}"

[[timeline]]
at = "1m"
action = "rollover"
zone = "example.test."
kind = "ksk"
state = "published"
ds_follows = false

[[timeline]]
at = "2m"
action = "rollover"
zone = "example.test."
kind = "ksk"
state = "removed"
ds_follows = false
"""


def test_a_timeline_moves_a_rollover_and_gets_it_stuck(tmp_path: Path) -> None:
    from fakens.scenario import build_lab, load_scenario

    path = tmp_path / "lab.toml"
    path.write_text(SCENARIO.format(zone=EXAMPLE_ZONE))
    lab = build_lab(load_scenario(path))
    zone = lab.zones[EXAMPLE]
    assert zone.signer is not None
    old = tags(zone.signer.ksks)
    parent_ds = lambda: sorted(d.key_tag for d in lab.zones[dns.name.from_text("test.")].current.get(  # noqa: E731
        EXAMPLE, dns.rdatatype.DS))
    assert parent_ds() == old
    published, removed = lab.timeline.events
    assert "ksk rollover of example.test.: published (the DS never updated)" in published.describe
    published.apply()
    assert len(zone.signer.ksks) == 2 and parent_ds() == old
    removed.apply()
    assert len(zone.signer.ksks) == 1 and tags(zone.signer.ksks) != old and parent_ds() == old  # the stale DS


def test_a_wrong_state_is_named_with_its_place(tmp_path: Path) -> None:
    from fakens.scenario import load_scenario

    path = tmp_path / "lab.toml"
    path.write_text(SCENARIO.format(zone=EXAMPLE_ZONE).replace('state = "removed"', 'state = "gone"'))
    with pytest.raises(fakens.ConfigError, match=r"timeline\[1\]\.state.*'gone'.*published"):
        load_scenario(path)
