"""UDP sizes and truncation (RFC 1035, RFC 6891, RFC 2181 section 9, RFC 9471) on the wire."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import dns.flags
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

import fakens

from .conftest import ask_wire, dnslib_parse, example_zone

BIG = "big.example.test."


def _counts(wire: bytes) -> tuple[int, int, int, int]:
    return struct.unpack_from("!HHHH", wire, 4)


def referral_zone() -> fakens.Zone:
    """ref.test.: deleg.ref.test. has 13 NS (in-domain names) each with A and AAAA glue,
    and the apex has 13 MX whose 12 targets have A and AAAA."""
    lines = ["$ORIGIN ref.test.", "$TTL 3600", "@ SOA ns1 hostmaster 1 7200 900 1209600 300",
             "@ NS ns1", "ns1 A 127.0.0.1"]
    lines += [f"deleg NS nameserver-{i:04d}.deleg" for i in range(13)]
    for i in range(13):
        lines.append(f"nameserver-{i:04d}.deleg A 192.0.2.{i + 1}")
        lines.append(f"nameserver-{i:04d}.deleg AAAA 2001:db8::{i + 1}")
    lines.append("@ MX 10 mx")
    for i in range(12):
        lines.append(f"@ MX {i} mail-exchanger-{i:02d}")
        lines.append(f"mail-exchanger-{i:02d} A 192.0.2.{100 + i}")
        lines.append(f"mail-exchanger-{i:02d} AAAA 2001:db8::1:{i}")
    return fakens.Zone.from_text("\n".join(lines) + "\n")


def huge_txt_zone() -> fakens.Zone:
    """huge.test.: a TXT RRset of about 2 KB at txt.huge.test."""
    lines = ["$ORIGIN huge.test.", "$TTL 60", "@ SOA ns1 hostmaster 1 7200 900 1209600 300", "@ NS ns1",
             "ns1 A 127.0.0.1"]
    lines += [f'txt TXT "{i:02d} {"x" * 90}"' for i in range(20)]
    return fakens.Zone.from_text("\n".join(lines) + "\n")


def many_zone() -> fakens.Zone:
    """s.test.: m.s.test. has 30 A records (the reply is 505 bytes without AUTHORITY); the zone's
    4 NS do not fit beside them in 512 bytes."""
    lines = ["$ORIGIN s.test.", "$TTL 300", "@ SOA ns1 hostmaster 1 7200 900 1209600 300"]
    lines += [f"@ NS ns{i}\nns{i} A 127.0.0.{i}" for i in range(1, 5)]
    lines += [f"m A 192.0.2.{100 + i}" for i in range(30)]
    return fakens.Zone.from_text("\n".join(lines) + "\n")


def test_answer_that_fits_without_its_authority_ns_is_not_truncated(make_server: Callable[..., fakens.Server]) -> None:
    """RFC 2181 9: TC is not set merely because the optional AUTHORITY NS RRset does not fit (as
    NSD and Knot; BIND 9.18 sets TC). The client gets the whole answer over UDP."""
    server = make_server(zones=[many_zone()])
    reply, wire = ask_wire(server, "m.s.test.", "A")
    assert len(wire) <= 512
    assert not reply.flags & dns.flags.TC and reply.flags & dns.flags.AA
    assert _counts(wire) == (1, 30, 0, 0)
    (a,) = reply.answer
    assert len(a) == 30
    assert dnslib_parse(wire).header.tc == 0
    full, _ = ask_wire(server, "m.s.test.", "A", transport="tcp")
    assert [len(r) for r in full.authority] == [4] and len(full.additional) == 4
    # an answer that does not fit is still truncated to the question
    reply, wire = ask_wire(server, "m.s.test.", "A", use_edns=0, payload=512)
    assert reply.flags & dns.flags.TC and _counts(wire)[:3] == (1, 0, 0)


def test_big_answer_without_edns_is_truncated_to_the_question(server: fakens.Server) -> None:
    reply, wire = ask_wire(server, BIG, "TXT")
    assert len(wire) <= 512
    assert reply.flags & dns.flags.TC
    assert reply.flags & dns.flags.AA
    assert reply.rcode() == dns.rcode.NOERROR
    assert _counts(wire) == (1, 0, 0, 0)
    assert reply.question[0].name == dns.name.from_text(BIG) and reply.question[0].rdtype == dns.rdatatype.TXT
    assert reply.edns == -1


def test_big_answer_over_tcp_is_complete(server: fakens.Server) -> None:
    reply, wire = ask_wire(server, BIG, "TXT", transport="tcp")
    assert not reply.flags & dns.flags.TC
    assert len(wire) > 512
    assert len(reply.answer[0]) == 8


def test_edns_4096_gets_the_full_answer_over_udp(server: fakens.Server) -> None:
    reply, wire = ask_wire(server, BIG, "TXT", use_edns=0, payload=4096)
    assert not reply.flags & dns.flags.TC
    assert 512 < len(wire) <= 1232
    assert len(reply.answer[0]) == 8
    assert reply.edns == 0 and reply.payload == 1232


def test_edns_size_below_512_counts_as_512(server: fakens.Server) -> None:
    # www A with its NS and their addresses is about 200 bytes: more than 100, less than 512
    reply, wire = ask_wire(server, "www.example.test.", "A", use_edns=0, payload=100)
    assert 100 < len(wire) <= 512
    assert not reply.flags & dns.flags.TC
    assert reply.answer and reply.authority and reply.additional
    # and what does not fit in 512 is truncated
    reply, wire = ask_wire(server, BIG, "TXT", use_edns=0, payload=100)
    assert reply.flags & dns.flags.TC
    assert len(wire) <= 512
    assert _counts(wire)[:3] == (1, 0, 0)
    assert reply.edns == 0  # the OPT stays in a truncated EDNS reply


def test_client_size_above_the_servers_is_capped_at_1232(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[huge_txt_zone()])
    reply, wire = ask_wire(server, "txt.huge.test.", "TXT", use_edns=0, payload=4096)
    assert len(wire) <= 1232
    assert reply.flags & dns.flags.TC
    assert _counts(wire)[:3] == (1, 0, 0)
    full, full_wire = ask_wire(server, "txt.huge.test.", "TXT", transport="tcp", use_edns=0, payload=4096)
    assert len(full_wire) > 1232 and len(full.answer[0]) == 20
    assert not full.flags & dns.flags.TC


def test_server_udp_size_option_sets_the_cap(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[huge_txt_zone()], udp_size=4096)
    reply, wire = ask_wire(server, "txt.huge.test.", "TXT", use_edns=0, payload=4096)
    assert not reply.flags & dns.flags.TC
    assert len(wire) > 1232 and len(reply.answer[0]) == 20
    assert reply.payload == 4096


def test_referral_with_glue_that_does_not_fit_sets_tc_and_keeps_ns(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[referral_zone()])
    reply, wire = ask_wire(server, "www.deleg.ref.test.", "A")
    assert len(wire) <= 512
    assert reply.flags & dns.flags.TC
    assert not reply.flags & dns.flags.AA
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.answer
    (ns,) = [r for r in reply.authority if r.rdtype == dns.rdatatype.NS]
    assert ns.name == dns.name.from_text("deleg.ref.test.") and len(ns) == 13
    glue = sum(len(r) for r in reply.additional if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))
    assert glue < 26
    record = dnslib_parse(wire)
    assert record.header.tc == 1 and len(record.auth) == 13


def test_referral_over_tcp_has_all_glue(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[referral_zone()])
    reply, _ = ask_wire(server, "www.deleg.ref.test.", "A", transport="tcp")
    assert not reply.flags & dns.flags.TC
    glue = sum(len(r) for r in reply.additional if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))
    assert glue == 26
    reply, _wire = ask_wire(server, "www.deleg.ref.test.", "A", use_edns=0, payload=1232)
    assert not reply.flags & dns.flags.TC
    assert sum(len(r) for r in reply.additional if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)) == 26


def test_optional_additional_dropped_without_tc(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[referral_zone()])
    reply, wire = ask_wire(server, "ref.test.", "MX")
    assert len(wire) <= 512
    assert not reply.flags & dns.flags.TC
    assert reply.flags & dns.flags.AA
    (mx,) = reply.answer
    assert len(mx) == 13
    addresses = sum(len(r) for r in reply.additional)
    full, _ = ask_wire(server, "ref.test.", "MX", transport="tcp")
    assert not full.flags & dns.flags.TC
    assert sum(len(r) for r in full.additional) == 25
    assert addresses < 25
    assert dnslib_parse(wire).header.tc == 0


@pytest.mark.parametrize("payload", [None, 512, 1232])
def test_truncated_udp_reply_never_exceeds_the_limit(make_server: Callable[..., fakens.Server], payload: int | None) -> None:
    server = make_server(zones=[huge_txt_zone(), example_zone()])
    kwargs: dict[str, Any] = {} if payload is None else {"use_edns": 0, "payload": payload}
    for qname in ["txt.huge.test.", BIG]:
        _reply, wire = ask_wire(server, qname, "TXT", **kwargs)
        assert len(wire) <= (payload or 512)


def test_truncated_reply_keeps_the_question_case(server: fakens.Server) -> None:
    reply, _wire = ask_wire(server, "BiG.eXaMpLe.TeSt.", "TXT")
    assert reply.flags & dns.flags.TC
    assert reply.question[0].name.to_text() == "BiG.eXaMpLe.TeSt."
