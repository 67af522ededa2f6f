"""Plain answers over real UDP and TCP sockets: header flags, the echoed question, TTLs, CHAOS."""

from __future__ import annotations

from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import fakens

from .conftest import ask_wire, dnslib_parse

TRANSPORTS = ["udp", "tcp"]


def _rrset(section: list[dns.rrset.RRset], name: str, rdtype: str) -> dns.rrset.RRset:
    wanted = dns.name.from_text(name)
    for rrset in section:
        if rrset.name == wanted and rrset.rdtype == dns.rdatatype.from_text(rdtype):
            return rrset
    raise AssertionError(f"no {name} {rdtype} in {[str(r) for r in section]}")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_answer_flags_aa_no_ra_no_ad_rd_copied(server: fakens.Server, transport: str) -> None:
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport)  # make_query sets RD
    assert reply.flags & dns.flags.QR
    assert reply.flags & dns.flags.AA
    assert not reply.flags & dns.flags.RA
    assert not reply.flags & dns.flags.AD
    assert not reply.flags & dns.flags.TC
    assert reply.flags & dns.flags.RD
    assert reply.opcode() == dns.opcode.QUERY
    assert reply.rcode() == dns.rcode.NOERROR
    a = _rrset(reply.answer, "www.example.test.", "A")
    assert {r.address for r in a} == {"192.0.2.10"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_rd_clear_stays_clear_and_ad_in_query_not_copied(server: fakens.Server, transport: str) -> None:
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport, flags=dns.flags.AD)
    assert not reply.flags & dns.flags.RD
    assert not reply.flags & dns.flags.AD
    assert not reply.flags & dns.flags.RA
    assert reply.flags & dns.flags.AA


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_question_echoed_with_the_clients_case(server: fakens.Server, transport: str) -> None:
    qname = "wWw.ExAmPlE.tEsT."
    reply, wire = ask_wire(server, qname, "A", transport=transport)
    assert len(reply.question) == 1
    assert reply.question[0].name.to_text() == qname  # case-sensitive comparison
    assert reply.question[0].rdtype == dns.rdatatype.A
    assert reply.question[0].rdclass == dns.rdataclass.IN
    record = dnslib_parse(wire)
    assert [bytes(label) for label in record.q.qname.label] == [b"wWw", b"ExAmPlE", b"tEsT"]
    assert reply.answer and reply.answer[0].rdtype == dns.rdatatype.A


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ttls_as_in_the_zone(server: fakens.Server, transport: str) -> None:
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport)
    assert _rrset(reply.answer, "www.example.test.", "A").ttl == 300
    assert _rrset(reply.authority, "example.test.", "NS").ttl == 3600
    reply, wire = ask_wire(server, "example.test.", "MX", transport=transport)
    assert _rrset(reply.answer, "example.test.", "MX").ttl == 3600
    assert _rrset(reply.additional, "mail.example.test.", "A").ttl == 3600
    # dnslib sees the same TTLs
    record = dnslib_parse(wire)
    assert {rr.ttl for rr in record.rr} == {3600}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nxdomain_and_nodata(server: fakens.Server, transport: str) -> None:
    reply, _ = ask_wire(server, "nope.example.test.", "A", transport=transport)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.flags & dns.flags.AA
    soa = _rrset(reply.authority, "example.test.", "SOA")
    assert soa.ttl == 300  # RFC 2308: min(SOA TTL, MINIMUM)
    reply, _ = ask_wire(server, "www.example.test.", "MX", transport=transport)
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.answer
    _rrset(reply.authority, "example.test.", "SOA")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_not_served_zone_refused(server: fakens.Server, transport: str) -> None:
    reply, _ = ask_wire(server, "www.example.org.", "A", transport=transport)
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.AA
    assert reply.question[0].name == dns.name.from_text("www.example.org.")


@pytest.mark.parametrize("qname", ["id.server.", "hostname.bind.", "ID.Server."])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_chaos_identity_gives_the_server_name(make_server: Callable[..., fakens.Server], qname: str, transport: str) -> None:
    server = make_server(name="ns-identity-7")
    reply, _ = ask_wire(server, qname, "TXT", "CH", transport=transport)
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert reply.question[0].name.to_text() == qname
    (rrset,) = reply.answer
    assert rrset.rdclass == dns.rdataclass.CH and rrset.rdtype == dns.rdatatype.TXT
    assert [r.strings for r in rrset] == [(b"ns-identity-7",)]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_chaos_version_bind(make_server: Callable[..., fakens.Server], transport: str) -> None:
    server = make_server(version="fakens-test 9.9")
    reply, _ = ask_wire(server, "version.bind.", "TXT", "CH", transport=transport)
    assert reply.rcode() == dns.rcode.NOERROR
    (rrset,) = reply.answer
    assert rrset.rdclass == dns.rdataclass.CH
    assert [r.strings for r in rrset] == [(b"fakens-test 9.9",)]


def test_dnspython_query_functions_work(server: fakens.Server) -> None:
    """The ordinary dnspython client calls (which check ID and question) accept the replies."""
    host, port = server.addresses[0]
    query = dns.message.make_query("mail.example.test.", "AAAA")
    reply = dns.query.udp(query, host, port=port, timeout=5)
    assert [r.address for r in reply.answer[0]] == ["2001:db8::25"]
    reply = dns.query.tcp(query, host, port=port, timeout=5)
    assert [r.address for r in reply.answer[0]] == ["2001:db8::25"]


PARENT = """
$ORIGIN parent.test.
$TTL 300
@      SOA ns1 hostmaster 1 3600 600 86400 300
@      NS  ns1
ns1    A   192.0.2.1
child  NS  ns.child
ns.child A 192.0.2.53
"""
CHILD = """
$ORIGIN child.parent.test.
$TTL 300
@      SOA ns hostmaster 1 3600 600 86400 300
@      NS  ns
@      MX  10 ns1.parent.test.
ns     A   192.0.2.53
"""


@pytest.mark.parametrize(("additional_from", "expected"), [("zone", set()), ("server", {"192.0.2.1"})])
def test_additional_from_the_answering_zone_or_the_server(make_server: Callable[..., fakens.Server],
                                                          additional_from: str, expected: set[str]) -> None:
    """An MX target in another zone of the same server gets no address by default (as NSD,
    Knot and BIND); additional_from="server" adds it from that zone."""
    server = make_server([PARENT, CHILD], additional_from=additional_from)
    host, port = server.addresses[0]
    reply = dns.query.udp(dns.message.make_query("child.parent.test.", "MX"), host, port=port, timeout=2)
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer
    addresses = {rd.address for rrset in reply.additional if rrset.name == dns.name.from_text("ns1.parent.test.")
                 for rd in rrset}
    assert addresses == expected


def test_background_servers_run_on_the_loop_the_suite_asks_for(server: fakens.Server, event_loop_kind: str) -> None:
    from fakens.runner import background

    assert type(background().loop).__module__.split(".")[0] == event_loop_kind
    message, _ = ask_wire(server, "www.example.test.", "A")
    assert message.rcode() == dns.rcode.NOERROR
