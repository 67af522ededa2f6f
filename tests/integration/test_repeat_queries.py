"""Repeated questions (the server may serve them from its reply cache): a repeated
query must get exactly the reply a fresh server would give, with its own ID and case."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import pytest

import fakens

from .conftest import check_wire, raw_exchange

CASES = [
    ("www.example.test.", "A", {}),
    ("big.example.test.", "TXT", {}),  # TC over UDP without EDNS
    ("big.example.test.", "TXT", {"use_edns": 0, "payload": 4096}),
    ("nope.example.test.", "A", {}),
    ("www.example.test.", "MX", {}),
    ("ftp.example.test.", "A", {}),
    ("x.wild.example.test.", "TXT", {}),
    ("www.legacy.example.test.", "A", {}),
    ("host.sub.example.test.", "A", {}),
    ("example.test.", "MX", {"want_dnssec": True}),
    ("www.example.org.", "A", {}),
    ("id.server.", "TXT", {"rdclass": "CH"}),
    ("www.example.test.", "A", {"use_edns": 0, "options": [dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")]}),
]


def _query(qname: str, rdtype: str, kwargs: dict[str, Any], msg_id: int) -> dns.message.Message:
    kwargs = dict(kwargs)
    rdclass = kwargs.pop("rdclass", "IN")
    query = dns.message.make_query(qname, rdtype, rdclass, **kwargs)
    query.id = msg_id
    return query


def _mixed(name: str) -> str:
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("qname,rdtype,kwargs", CASES, ids=[f"{c[0]}{c[1]}{i}" for i, c in enumerate(CASES)])
def test_repeated_query_same_reply_as_a_fresh_server(make_server: Callable[..., fakens.Server], transport: str, qname: str, rdtype: str, kwargs: dict[str, Any]) -> None:
    warm = make_server(name="ns", nsid="nsid-x")
    for i in range(3):  # warm up with the name in lower case
        check_wire(raw_exchange(warm, _query(qname, rdtype, kwargs, 100 + i).to_wire(), transport))
    mixed = _mixed(qname)
    query = _query(mixed, rdtype, kwargs, 4242)
    repeated = raw_exchange(warm, query.to_wire(), transport)
    fresh_server = make_server(name="ns", nsid="nsid-x")
    fresh = raw_exchange(fresh_server, query.to_wire(), transport)
    reply, expected = check_wire(repeated), check_wire(fresh)
    assert reply.id == 4242
    assert reply.question[0].name.to_text() == mixed
    assert repeated[:12] == fresh[:12]  # ID, flags, counts
    assert len(repeated) == len(fresh)
    for section in ("question", "answer", "authority", "additional"):
        got, want = getattr(reply, section), getattr(expected, section)
        # RRsets compare as sets of records (order inside an RRset carries no meaning)
        assert sorted(got, key=_key) == sorted(want, key=_key), f"{section} differs"
        for a, b in zip(sorted(got, key=_key), sorted(want, key=_key)):
            assert a.ttl == b.ttl
    assert (reply.edns, reply.ednsflags, reply.payload, reply.options) == (
        expected.edns, expected.ednsflags, expected.payload, expected.options)


def _key(rrset: dns.rrset.RRset) -> tuple[str, int, int]:
    return (rrset.name.to_text().lower(), rrset.rdclass, rrset.rdtype)


def test_repeated_query_log_entries_are_complete(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    for i, name in enumerate(["www.example.test.", "WWW.example.test.", "wWw.ExAmPlE.tEsT."]):
        query = _query(name, "A", {}, 300 + i)
        wire = raw_exchange(server, query.to_wire(), "udp")
        check_wire(wire)
    entries = list(server.log)
    assert [e.id for e in entries] == [300, 301, 302]
    assert [str(e.qname) for e in entries] == ["www.example.test.", "WWW.example.test.", "wWw.ExAmPlE.tEsT."]
    assert len({e.client for e in entries}) == 3  # each from its own socket
    for entry in entries:
        assert entry.transport == "udp" and entry.local == (host, port)
        assert entry.rcode == dns.rcode.NOERROR and entry.flags & dns.flags.AA
        assert entry.size == len(wire) and entry.counts == entries[0].counts
    assert entries[1].time >= entries[0].time and entries[2].time >= entries[1].time


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_replies_served_again_are_logged_each_with_its_own_query(server: fakens.Server, transport: str) -> None:
    """The same bytes asked again (the reply cache answers them, the log entry made from its
    template only when the log is read): every entry holds its own ID, client, time, query and
    reply bytes, is the same object at every read, and a watcher added later is told of each."""
    sent, got = [], []
    for i in range(4):
        query = _query("www.example.test.", "A", {}, 500 + i).to_wire()
        sent.append(query)
        got.append(raw_exchange(server, query, transport))
        check_wire(got[-1])
    told: list[fakens.LogEntry] = []
    unwatch = server.log.watch(told.append)
    query = _query("www.example.test.", "A", {}, 599).to_wire()
    sent.append(query)
    got.append(raw_exchange(server, query, transport))
    unwatch()
    entries = server.log.entries(qname="www.example.test.", qtype="A")
    assert [e.id for e in entries] == [500, 501, 502, 503, 599]
    assert [e.query_bytes for e in entries] == sent and [e.reply_bytes for e in entries] == [[w] for w in got]
    assert [t.id for t in told] == [599] and told[0] is entries[-1] and told[0].reply_bytes == [got[-1]]
    assert all(e.transport == transport and e.rcode == dns.rcode.NOERROR and e.size == len(got[0]) for e in entries)
    if transport == "udp":
        assert len({e.client for e in entries}) == 5  # each from its own socket
    assert [e.time for e in entries] == sorted(e.time for e in entries) and entries[-1].time > entries[0].time
    again = list(server.log)
    assert all(a is b for a, b in zip(again[-5:], entries, strict=True))
    assert server.log.total == len(again) == 5


def test_repeated_refused_then_zone_added(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server()
    query = _query("www.other.test.", "A", {}, 1)
    for _ in range(2):
        assert check_wire(raw_exchange(server, query.to_wire())).rcode() == dns.rcode.REFUSED
    server.add_zone(fakens.Zone.from_text("""$ORIGIN other.test.
@ 300 SOA ns1 hostmaster 1 7200 900 1209600 300
@ 300 NS ns1
ns1 300 A 127.0.0.1
www 300 A 192.0.2.200
"""))
    reply = check_wire(raw_exchange(server, query.to_wire()))
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer[0][0].address == "192.0.2.200"


@pytest.mark.parametrize("bump", [True, False])
def test_repeated_query_after_an_edit_sees_the_edit(server: fakens.Server, bump: bool) -> None:
    query = _query("www.example.test.", "A", {}, 7)
    for _ in range(3):
        assert check_wire(raw_exchange(server, query.to_wire())).answer[0][0].address == "192.0.2.10"
    server.zone("example.test.").edit(replace=["www 300 A 192.0.2.111"], bump_serial=bump)
    assert check_wire(raw_exchange(server, query.to_wire())).answer[0][0].address == "192.0.2.111"
    soa = check_wire(raw_exchange(server, _query("example.test.", "SOA", {}, 8).to_wire())).answer[0][0]
    assert soa.serial == (2024010102 if bump else 2024010101)


def test_edit_of_another_zone_seen_through_a_cname(make_server: Callable[..., fakens.Server]) -> None:
    """An answer built from two zones (CNAME into another zone) changes when the second zone does."""
    first = fakens.Zone.from_text("""$ORIGIN one.test.
@ 300 SOA ns1 hostmaster 1 7200 900 1209600 300
@ 300 NS ns1
ns1 300 A 127.0.0.1
alias 300 CNAME www.two.test.
""")
    second = fakens.Zone.from_text("""$ORIGIN two.test.
@ 300 SOA ns1 hostmaster 1 7200 900 1209600 300
@ 300 NS ns1
ns1 300 A 127.0.0.1
www 300 A 192.0.2.1
""")
    server = make_server(zones=[first, second])
    query = _query("alias.one.test.", "A", {}, 9)
    for _ in range(2):
        reply = check_wire(raw_exchange(server, query.to_wire()))
        assert [r[0].to_text() for r in reply.answer] == ["www.two.test.", "192.0.2.1"]
    second.edit(replace=["www 300 A 192.0.2.2"])
    reply = check_wire(raw_exchange(server, query.to_wire()))
    assert [r[0].to_text() for r in reply.answer] == ["www.two.test.", "192.0.2.2"]


def test_repeated_dname_query_synthesized_names_follow_this_clients_case(make_server: Callable[..., fakens.Server]) -> None:
    """The CNAME synthesized from a DNAME carries the query name's first label: a repeated
    query must not get the earlier client's case in it (a fresh server uses this client's)."""
    warm = make_server()
    check_wire(raw_exchange(warm, _query("www.legacy.example.test.", "A", {}, 1).to_wire()))
    query = _query("wWw.LeGaCy.ExAmPlE.TeSt.", "A", {}, 2)
    repeated = check_wire(raw_exchange(warm, query.to_wire()))
    fresh = check_wire(raw_exchange(make_server(), query.to_wire()))
    def names(m: dns.message.Message) -> list[tuple[str, str, str]]:
        return [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype), r[0].to_text()) for r in m.answer]
    assert names(repeated) == names(fresh)
