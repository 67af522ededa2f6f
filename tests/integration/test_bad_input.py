"""Malformed and unusual messages on the wire: what gets an error, what gets nothing."""

from __future__ import annotations

import struct
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.update
import pytest

import fakens

from .conftest import (
    ask_wire,
    check_wire,
    frame,
    nothing_pending,
    raw_exchange,
    read_frame,
    recv_reply,
    udp_socket,
)

HEADER = struct.Struct("!HHHHHH")


def _query_wire(msg_id: int, qname: str = "www.example.test.", rdtype: str = "A", **kwargs: Any) -> bytes:
    query = dns.message.make_query(qname, rdtype, **kwargs)
    query.id = msg_id
    return query.to_wire()


def _assert_silent_then_barrier(server: fakens.Server, bad: bytes) -> None:
    """Send *bad*, then a good query: the first datagram back must be the good
    one's reply (UDP from one socket is handled in order), and nothing else waits."""
    host, port = server.addresses[0]
    with udp_socket(host) as sock:
        sock.sendto(bad, (host, port))
        sock.sendto(_query_wire(0xBEEF), (host, port))
        sock.settimeout(5)
        first, _peer = sock.recvfrom(65535)
        assert struct.unpack_from("!H", first)[0] == 0xBEEF, f"unexpected reply to the bad message: {first.hex()}"
        check_wire(first)
        assert nothing_pending(sock) == []


def _assert_server_alive(server: fakens.Server) -> None:
    for transport in ("udp", "tcp"):
        reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport)
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer


def test_response_gets_no_reply(server: fakens.Server) -> None:
    response = dns.message.make_response(dns.message.make_query("www.example.test.", "A"))
    response.id = 0x1111
    _assert_silent_then_barrier(server, response.to_wire())
    _assert_server_alive(server)


@pytest.mark.parametrize("size", [0, 1, 2, 11])
def test_fewer_than_12_bytes_gets_no_reply(server: fakens.Server, size: int) -> None:
    _assert_silent_then_barrier(server, _query_wire(0x2222)[:size])
    _assert_server_alive(server)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_qdcount_0_is_formerr(server: fakens.Server, transport: str) -> None:
    wire = HEADER.pack(0x3333, 0x0100, 0, 0, 0, 0)
    reply = check_wire(raw_exchange(server, wire, transport))
    assert reply.id == 0x3333
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.flags & dns.flags.QR
    assert reply.opcode() == dns.opcode.QUERY


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_qdcount_2_is_formerr(server: fakens.Server, transport: str) -> None:
    one = _query_wire(0x4444)
    question = one[12:]
    wire = HEADER.pack(0x4444, 0x0100, 2, 0, 0, 0) + question + question.replace(b"\x03www", b"\x03ftp")
    reply = check_wire(raw_exchange(server, wire, transport))
    assert reply.id == 0x4444
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.flags & dns.flags.QR


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_two_opt_records_is_formerr(server: fakens.Server, transport: str) -> None:
    wire = bytearray(_query_wire(0x5555, use_edns=0))
    assert HEADER.unpack_from(wire)[5] == 1
    wire += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)  # a second OPT
    struct.pack_into("!H", wire, 10, 2)
    reply = check_wire(raw_exchange(server, bytes(wire), transport))
    assert reply.id == 0x5555
    assert reply.rcode() == dns.rcode.FORMERR


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff\xff\xff\xff\xff", b"\x03www\xc0\xff\x00\x01", b"\x01", b"\x00\x00\x01",
                                     b"\x07example\x04test\x00\x00\x01\x00\x01\xde\xad"],
                         ids=["ff", "bad-pointer", "short-label", "short-question", "trailing"])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_garbage_after_a_valid_header_is_formerr_with_the_same_id(server: fakens.Server, garbage: bytes, transport: str) -> None:
    wire = HEADER.pack(0x6666, 0x0100, 1, 0, 0, 0) + garbage
    reply = check_wire(raw_exchange(server, wire, transport))
    assert reply.id == 0x6666
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.flags & dns.flags.QR
    assert server.errors == []


@pytest.mark.parametrize("opcode", [3, 5, 6, 15])
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_unknown_opcode_is_notimp(server: fakens.Server, opcode: int, transport: str) -> None:
    wire = bytearray(_query_wire(0x7777))
    struct.pack_into("!H", wire, 2, (opcode << 11) | 0x0100)
    reply = check_wire(raw_exchange(server, bytes(wire), transport))
    assert reply.id == 0x7777
    assert reply.rcode() == dns.rcode.NOTIMP
    assert reply.opcode() == opcode
    assert reply.flags & dns.flags.QR


def test_dnspython_update_is_notimp(server: fakens.Server) -> None:
    update = dns.update.UpdateMessage("example.test.")
    update.add("new", 300, "A", "192.0.2.1")
    reply = check_wire(raw_exchange(server, update.to_wire()))
    assert reply.rcode() == dns.rcode.NOTIMP
    assert reply.opcode() == dns.opcode.UPDATE
    assert reply.id == update.id
    # and the zone did not change
    r, _ = ask_wire(server, "new.example.test.", "A")
    assert r.rcode() == dns.rcode.NXDOMAIN


def test_tcp_short_message_and_response_get_no_reply(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    import socket

    with socket.create_connection((host, port), timeout=5) as sock:
        response = dns.message.make_response(dns.message.make_query("www.example.test.", "A"))
        response.id = 0x1212
        sock.sendall(frame(b"\x00\x01\x02") + frame(response.to_wire()) + frame(_query_wire(0xBEEF)))
        reply = read_frame(sock)
        assert struct.unpack_from("!H", reply)[0] == 0xBEEF
        check_wire(reply)


def test_server_still_answers_after_all_of_that(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    bad = [
        b"", b"\x00", _query_wire(1)[:11],
        dns.message.make_response(dns.message.make_query("x.example.test.", "A")).to_wire(),
        HEADER.pack(2, 0x0100, 0, 0, 0, 0),
        HEADER.pack(3, 0x0100, 1, 0, 0, 0) + b"\xff" * 40,
        HEADER.pack(4, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # pointer loop to itself
        HEADER.pack(5, 0xFFFF, 1, 0, 0, 0) + _query_wire(5)[12:],
        HEADER.pack(6, 0x7800, 1, 0, 0, 0) + _query_wire(6)[12:],
        HEADER.pack(7, 0x0100, 1, 0xFFFF, 0xFFFF, 0xFFFF) + _query_wire(7)[12:],
        bytes(range(256)) * 4,
    ]
    with udp_socket(host) as sock:
        for wire in bad:
            sock.sendto(wire, (host, port))
        sock.sendto(_query_wire(0xCAFE), (host, port))
        reply = recv_reply(sock, 0xCAFE)
        assert check_wire(reply).answer
    _assert_server_alive(server)
    assert server.errors == [], f"internal errors: {server.errors!r}"
