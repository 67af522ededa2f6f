"""Live zone edits while serving, NOTIFY out (RFC 1996) to a test socket, NOTIFY in."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

import fakens

from .conftest import EXAMPLE_ZONE, ask_wire, check_wire, nothing_pending, poll, udp_socket

ORIGIN = "example.test."
OLD_SERIAL = 2024010101


def _soa_serial(server: fakens.Server, transport: str = "udp") -> int:
    reply, _ = ask_wire(server, ORIGIN, "SOA", transport=transport)
    return int(reply.answer[0][0].serial)


# -- live edits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_edit_while_serving_next_query_sees_new_data(server: fakens.Server, transport: str) -> None:
    reply, _ = ask_wire(server, "new.example.test.", "A", transport=transport)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    server.zone(ORIGIN).edit(add=["new 120 A 192.0.2.77"])
    reply, _ = ask_wire(server, "new.example.test.", "A", transport=transport)
    assert reply.rcode() == dns.rcode.NOERROR
    assert [(r.address, reply.answer[0].ttl) for r in reply.answer[0]] == [("192.0.2.77", 120)]
    assert _soa_serial(server, transport) == OLD_SERIAL + 1
    # the negative answer's SOA has the new serial too
    reply, _ = ask_wire(server, "gone.example.test.", "A", transport=transport)
    assert reply.authority[0][0].serial == OLD_SERIAL + 1


def test_edit_remove_and_replace_seen_at_once(server: fakens.Server) -> None:
    zone = server.zone(ORIGIN)
    zone.edit(remove=["www A"])
    reply, _ = ask_wire(server, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer
    reply, _ = ask_wire(server, "www.example.test.", "AAAA")
    assert reply.answer
    zone.edit(replace=["www 60 A 192.0.2.11"])
    reply, _ = ask_wire(server, "www.example.test.", "A")
    assert [r.address for r in reply.answer[0]] == ["192.0.2.11"] and reply.answer[0].ttl == 60
    assert _soa_serial(server) == OLD_SERIAL + 2


def test_edit_without_bumping_keeps_the_serial(server: fakens.Server) -> None:
    server.zone(ORIGIN).edit(add=["quiet 300 A 192.0.2.78"], bump_serial=False)
    reply, _ = ask_wire(server, "quiet.example.test.", "A")
    assert reply.answer[0][0].address == "192.0.2.78"
    assert _soa_serial(server) == OLD_SERIAL
    assert server.zone(ORIGIN).serial == OLD_SERIAL


def test_edits_during_a_stream_of_queries(server: fakens.Server) -> None:
    """Every reply is consistent with some version: the A record exists iff the serial says so."""
    zone = server.zone(ORIGIN)
    for i in range(20):
        zone.edit(add=[f"n{i} 300 A 192.0.2.{i + 1}"])
        reply, _ = ask_wire(server, f"n{i}.example.test.", "A", transport="tcp" if i % 2 else "udp")
        assert reply.answer[0][0].address == f"192.0.2.{i + 1}"
    assert _soa_serial(server) == OLD_SERIAL + 20


def test_a_zone_reset_is_served_at_once_by_every_server_holding_it(
        make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    """``zone.reset()`` called directly (not through ``Server.reset``) puts the loaded version
    back for every server holding the Zone: none answers from replies it kept of the edited
    version (its reply cache, its express path), over UDP and TCP. No NOTIFY goes: a reset
    is not an edit."""
    zone = fakens.Zone.from_file(EXAMPLE_ZONE)
    target = secondary.getsockname()
    servers = [make_server(zones=[zone], notify=[f"127.0.0.1:{target[1]}"]), make_server(zones=[zone])]

    def addresses(server: fakens.Server, transport: str) -> list[str]:
        reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport)
        return [r.address for r in reply.answer[0]]

    zone.edit(replace=["www 300 A 192.0.2.99"])
    _next_notify(secondary)  # (the edit's)
    for _ in range(2):  # the second time from what the servers kept
        assert [addresses(s, t) for s in servers for t in ("udp", "tcp")] == [["192.0.2.99"]] * 4
        assert [_soa_serial(s, t) for s in servers for t in ("udp", "tcp")] == [OLD_SERIAL + 1] * 4
    zone.reset()
    assert [addresses(s, t) for s in servers for t in ("udp", "tcp")] == [["192.0.2.10"]] * 4
    assert [_soa_serial(s, t) for s in servers for t in ("udp", "tcp")] == [OLD_SERIAL] * 4
    assert len(servers[0].notifies) == 1 and nothing_pending(secondary) == []


# -- NOTIFY out ------------------------------------------------------------------------------------


@pytest.fixture
def secondary() -> Iterator[socket.socket]:
    """A UDP socket standing in for a secondary server."""
    sock = udp_socket("127.0.0.1")
    try:
        yield sock
    finally:
        sock.close()


def _next_notify(sock: socket.socket, timeout: float = 5.0) -> tuple[dns.message.Message, bytes, tuple[str, int]]:
    sock.settimeout(timeout)
    wire, peer = sock.recvfrom(65535)
    return check_wire(wire), wire, peer[:2]


def test_notify_sent_after_an_edit(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    target = secondary.getsockname()
    server = make_server(notify=[f"127.0.0.1:{target[1]}"])
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    notify, _wire, peer = _next_notify(secondary)
    assert notify.opcode() == dns.opcode.NOTIFY
    assert notify.flags & dns.flags.AA
    assert not notify.flags & dns.flags.QR
    assert len(notify.question) == 1
    q = notify.question[0]
    assert (q.name, q.rdtype, q.rdclass) == (dns.name.from_text(ORIGIN), dns.rdatatype.SOA, dns.rdataclass.IN)
    if notify.answer:  # optional SOA hint: the new serial
        assert notify.answer[0][0].serial == OLD_SERIAL + 1
    assert peer == tuple(server.addresses[0]), "NOTIFY comes from the server's own address and port"
    record = server.notifies[-1]
    assert record.id == notify.id and record.serial == OLD_SERIAL + 1
    assert record.target == tuple(target)


def test_notify_retried_until_answered(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    """Retries wait on the server's clock: 1, 2, 3 ... times notify_retry after each send."""
    clock = fakens.ManualClock(1000)
    target = secondary.getsockname()
    server = make_server(notify=[f"127.0.0.1:{target[1]}"], notify_retry=30, notify_attempts=10, clock=clock)
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    first, _, peer = _next_notify(secondary)
    clock.advance(29.999)
    assert nothing_pending(secondary) == [], "retried before the 30 s interval"
    clock.advance(0.001)
    second, _, peer2 = _next_notify(secondary)
    assert second.id == first.id, "a retry keeps the ID"
    assert second.opcode() == dns.opcode.NOTIFY and second.question == first.question
    assert peer2 == peer
    clock.advance(59.999)
    assert nothing_pending(secondary) == [], "the second retry came before 2 x 30 s"
    clock.advance(0.001)
    third, _, _ = _next_notify(secondary)
    assert third.id == first.id
    record = server.notifies[-1]
    assert not record.answered and record.attempts == 3
    # answer it (QR=1, opcode NOTIFY, same ID and question)
    response = dns.message.make_response(third)
    assert response.opcode() == dns.opcode.NOTIFY and response.flags & dns.flags.QR
    secondary.sendto(response.to_wire(), peer2)
    poll(lambda: server.notifies[-1].answered, what="NOTIFY marked answered")
    assert server.notifies[-1].rcode == dns.rcode.NOERROR
    # no more retries: the clock moves past every remaining retry interval
    poll(lambda: not clock.pending(), what="the pending retry cancelled by the answer")
    clock.advance(30 * sum(range(1, 11)) + 1)
    assert nothing_pending(secondary) == [], "NOTIFY still sent after it was answered"
    assert server.notifies[-1].attempts == 3


def test_notify_retries_stop_after_the_attempts(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    """Never answered: notify_attempts sends in all, whatever time passes."""
    clock = fakens.ManualClock(1000)
    target = secondary.getsockname()
    server = make_server(notify=[f"127.0.0.1:{target[1]}"], notify_retry=30, notify_attempts=3, clock=clock)
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    _next_notify(secondary)
    clock.advance(30 + 60)  # both retries fall within this one move: each counts from its own send
    assert len(nothing_pending(secondary)) == 2
    clock.advance(3600)
    assert nothing_pending(secondary) == []
    assert server.notifies[-1].attempts == 3 and not server.notifies[-1].answered


def test_notify_default_retry_interval(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    """Without an answer the NOTIFY is sent again after the default interval, a second."""
    clock = fakens.ManualClock(1000)
    target = secondary.getsockname()
    server = make_server(notify=[f"127.0.0.1:{target[1]}"], clock=clock)
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    first, _, _ = _next_notify(secondary)
    clock.advance(0.999)
    assert nothing_pending(secondary) == [], "retried before the default 1 s interval"
    clock.advance(0.001)
    sent = nothing_pending(secondary)  # advance returns after the send: it is here already
    assert len(sent) == 1, "no retry once the default 1 s had passed"
    assert check_wire(sent[0]).id == first.id


def test_no_notify_without_targets_or_edit(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    target = secondary.getsockname()
    server = make_server(notify=[f"127.0.0.1:{target[1]}"])
    # a query is no reason to notify; use a later edit's NOTIFY as the barrier
    ask_wire(server, "www.example.test.", "A")
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    notify, _, _ = _next_notify(secondary)
    assert notify.answer == [] or notify.answer[0][0].serial == OLD_SERIAL + 1
    assert len(server.notifies) == 1


def test_send_notify_explicitly(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    target = secondary.getsockname()
    server = make_server()
    (record,) = server.send_notify(ORIGIN, [f"127.0.0.1:{target[1]}"])
    notify, _, peer = _next_notify(secondary)
    assert notify.id == record.id and notify.opcode() == dns.opcode.NOTIFY
    secondary.sendto(dns.message.make_response(notify).to_wire(), peer)
    poll(lambda: record.answered, what="explicit NOTIFY answered")


# -- NOTIFY in -------------------------------------------------------------------------------------


def _notify_query(origin: str) -> dns.message.Message:
    message = dns.message.make_query(origin, "SOA")
    message.flags = dns.flags.AA  # flags first: set_opcode keeps them
    message.set_opcode(dns.opcode.NOTIFY)
    return message


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_incoming_notify_acknowledged(server: fakens.Server, exchange: Callable[..., tuple[dns.message.Message, bytes]], transport: str) -> None:
    query = _notify_query(ORIGIN)
    reply, _ = exchange(server, query, transport)
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.opcode() == dns.opcode.NOTIFY
    assert reply.flags & dns.flags.QR and reply.flags & dns.flags.AA
    assert query.is_response(reply)
    assert reply.question[0].name == dns.name.from_text(ORIGIN)


def test_incoming_notify_with_soa_hint(server: fakens.Server, exchange: Callable[..., tuple[dns.message.Message, bytes]]) -> None:
    query = _notify_query(ORIGIN)
    query.answer.append(dns.rrset.from_text(ORIGIN, 3600, "IN", "SOA",
                                            f"ns1.example.test. hostmaster.example.test. {OLD_SERIAL + 5} 7200 900 1209600 300"))
    reply, _ = exchange(server, query)
    assert reply.rcode() == dns.rcode.NOERROR and reply.opcode() == dns.opcode.NOTIFY


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_incoming_notify_for_an_unserved_zone_is_notauth(server: fakens.Server, exchange: Callable[..., tuple[dns.message.Message, bytes]], transport: str) -> None:
    query = _notify_query("example.org.")
    reply, _ = exchange(server, query, transport)
    assert reply.rcode() == dns.rcode.NOTAUTH
    assert reply.opcode() == dns.opcode.NOTIFY
    assert reply.id == query.id


def test_incoming_notify_with_dnspython_udp(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    reply = dns.query.udp(_notify_query(ORIGIN), host, port=port, timeout=5)
    assert reply.rcode() == dns.rcode.NOERROR and reply.opcode() == dns.opcode.NOTIFY
