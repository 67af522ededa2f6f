"""TCP per RFC 7766: pipelining, a slow client holds only itself, idle timeout, connection limit."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from helpers import require_ipv6_loopback

import fakens

from .conftest import TIMEOUT, ask_wire, check_wire, frame, poll, read_frame, still_open


def _connect(server: fakens.Server) -> socket.socket:
    sock = socket.create_connection(server.addresses[0], timeout=TIMEOUT)
    return sock


def _tcp_query(sock: socket.socket, qname: str, rdtype: str = "A") -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype)
    sock.sendall(frame(query.to_wire()))
    reply = check_wire(read_frame(sock))
    assert reply.id == query.id
    return reply


def _closed_by_peer(sock: socket.socket) -> bool:
    """True when a read shows EOF or a reset (within the socket's timeout)."""
    try:
        data = sock.recv(1)
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    return data == b""


def test_pipelined_queries_all_answered(server: fakens.Server) -> None:
    names = ["www.example.test.", "mail.example.test.", "ns1.example.test.", "nope.example.test.",
             "sip.example.test.", "ftp.example.test.", "big.example.test.", "example.test."]
    types = ["A", "AAAA", "A", "A", "A", "A", "TXT", "SOA"]
    queries = []
    for i, (name, rdtype) in enumerate(zip(names, types)):
        q = dns.message.make_query(name, rdtype)
        q.id = 1000 + i
        queries.append(q)
    with _connect(server) as sock:
        sock.sendall(b"".join(frame(q.to_wire()) for q in queries))  # all at once
        replies = {}
        for _ in queries:
            reply = check_wire(read_frame(sock))
            replies[reply.id] = reply
    assert set(replies) == {q.id for q in queries}
    for q in queries:
        reply = replies[q.id]
        assert q.is_response(reply)
        assert reply.question[0].name == q.question[0].name
    assert replies[1003].rcode() == dns.rcode.NXDOMAIN
    assert len(replies[1006].answer[0]) == 8  # no truncation over TCP
    assert replies[1000].answer[0][0].address == "192.0.2.10"


def test_many_pipelined_replies_come_in_order_and_a_close_after_them(server: fakens.Server) -> None:
    """Replies answered at once go out together, several writes' worth here, in the order
    asked; a query whose fault closes the connection is carried out after the replies before it."""
    server.faults.add("drop tcp=close qname=nope.example.test.")
    queries = []
    for i in range(400):  # well over one write's batch of replies
        q = dns.message.make_query("www.example.test." if i % 2 else "big.example.test.", "A" if i % 2 else "TXT")
        q.id = 3000 + i
        queries.append(q)
    closing = dns.message.make_query("nope.example.test.", "A")
    after = dns.message.make_query("www.example.test.", "A")
    with _connect(server) as sock:
        sock.sendall(b"".join(frame(q.to_wire()) for q in [*queries, closing, after]))
        ids = [check_wire(read_frame(sock)).id for _ in queries]
        assert _closed_by_peer(sock)
    assert ids == [q.id for q in queries]
    assert [e.qname.to_text() for e in server.log.entries()][-1] == "nope.example.test."  # the last one asked unread


def test_pipelined_frames_split_across_writes(server: fakens.Server) -> None:
    """Frames cut at arbitrary points (even inside the length prefix) are reassembled."""
    queries = [dns.message.make_query("www.example.test.", "A") for _ in range(3)]
    for i, q in enumerate(queries):
        q.id = 2000 + i
    data = b"".join(frame(q.to_wire()) for q in queries)
    with _connect(server) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for cut in range(0, len(data), 7):
            sock.sendall(data[cut:cut + 7])
        ids = {check_wire(read_frame(sock)).id for _ in queries}
    assert ids == {2000, 2001, 2002}


def test_half_a_frame_does_not_block_other_clients(server: fakens.Server) -> None:
    query = dns.message.make_query("www.example.test.", "A")
    wire = frame(query.to_wire())
    with _connect(server) as slow:
        slow.sendall(wire[: len(wire) // 2])  # half a frame, then nothing
        with _connect(server) as other:
            for _ in range(3):
                reply = _tcp_query(other, "www.example.test.")
                assert reply.answer
        reply, _ = ask_wire(server, "www.example.test.", "A")  # UDP too
        assert reply.answer
        # the slow client's own query is answered once it completes the frame
        slow.sendall(wire[len(wire) // 2:])
        reply = check_wire(read_frame(slow))
        assert reply.id == query.id and reply.answer


def test_half_a_length_prefix_does_not_block_other_clients(server: fakens.Server) -> None:
    with _connect(server) as slow:
        slow.sendall(b"\x00")
        with _connect(server) as other:
            assert _tcp_query(other, "mail.example.test.").answer


def test_idle_connection_closed_by_server(make_server: Callable[..., fakens.Server]) -> None:
    """The default clock (SystemClock): the idle timeout in real time (the other idle tests
    move a ManualClock)."""
    server = make_server(tcp_idle_timeout=0.5)
    sock = _connect(server)
    started = time.monotonic()
    with sock:
        sock.settimeout(10)
        assert _closed_by_peer(sock)
        elapsed = time.monotonic() - started
    assert elapsed >= 0.5
    assert elapsed < 4.0




def _idle_timer_set(clock: fakens.ManualClock) -> None:
    """The server has set up the new connection (its idle timer is on the server's own clock)."""
    poll(clock.pending, what="the connection's idle timer")


# The ManualClock tests use timeouts of tens of seconds: real time never reaches them.


def test_idle_timeout_on_the_servers_clock(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1000)
    server = make_server(tcp_idle_timeout=30, clock=clock)
    with _connect(server) as sock:
        _idle_timer_set(clock)
        clock.advance(29.999)
        assert still_open(sock, server), "closed before the 30 s idle timeout"
        clock.advance(0.001)
        assert _closed_by_peer(sock)


def test_idle_timeout_counts_from_the_last_query(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1000)
    server = make_server(tcp_idle_timeout=30, clock=clock)
    with _connect(server) as sock:
        _idle_timer_set(clock)
        clock.advance(20)
        assert still_open(sock, server)
        assert _tcp_query(sock, "www.example.test.").answer  # the timer restarts at 20 s
        clock.advance(29.999)  # 49.999 s after connecting: past the first timeout, not the restarted one
        assert still_open(sock, server), "the idle timeout did not restart with the query"
        clock.advance(0.001)
        assert _closed_by_peer(sock)


def test_active_connection_kept_past_the_idle_timeout(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1000)
    server = make_server(tcp_idle_timeout=30, clock=clock)
    with _connect(server) as sock:
        for _ in range(12):  # a query every 6 s for 72 s
            assert _tcp_query(sock, "www.example.test.").answer
            clock.advance(6)
            assert still_open(sock, server), "server closed a connection that was not idle"


def test_a_pending_delayed_reply_keeps_the_connection_open(make_server: Callable[..., fakens.Server]) -> None:
    """Idle means no reply pending: a 120 s delayed reply outlasts a 30 s idle timeout, then the
    timeout counts from the reply."""
    clock = fakens.ManualClock(1000)
    server = make_server(tcp_idle_timeout=30, clock=clock)
    server.faults.add("delay ms=120000 qname=www.example.test.")
    with _connect(server) as sock:
        query = dns.message.make_query("www.example.test.", "A")
        sock.sendall(frame(query.to_wire()))
        poll(lambda: len(server.log) == 1, what="the delayed query logged")
        assert still_open(sock, server)  # (the barrier: the delay's timer is set)
        clock.advance(60)
        assert still_open(sock, server), "closed while a reply was pending"
        clock.advance(60)
        reply = check_wire(read_frame(sock))
        assert reply.id == query.id and reply.answer
        clock.advance(29.999)
        assert still_open(sock, server), "closed before the idle timeout after the reply"
        clock.advance(0.001)
        assert _closed_by_peer(sock)


def test_connection_limit_closes_the_connection_idle_longest(make_server: Callable[..., fakens.Server]) -> None:
    # RFC 7766 section 6.2.3: at the limit, an idle connection makes room for a new one
    # (tests/integration/test_tcp_abuse.py: a new one refused when none is idle)
    server = make_server(tcp_max_connections=2)
    first, second = _connect(server), _connect(server)
    try:
        assert _tcp_query(first, "www.example.test.").answer
        assert _tcp_query(second, "www.example.test.").answer
        with _connect(server) as third:
            assert _tcp_query(third, "www.example.test.").answer  # admitted
            first.settimeout(TIMEOUT)
            assert _closed_by_peer(first)  # idle longest: closed for it
            assert _tcp_query(second, "mail.example.test.", "AAAA").answer
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("count", [1, 50])
def test_many_sequential_queries_on_one_connection(server: fakens.Server, count: int) -> None:
    with _connect(server) as sock:
        for i in range(count):
            reply = _tcp_query(sock, f"n{i}.example.test.")
            assert reply.rcode() == dns.rcode.NXDOMAIN


def test_zero_length_frame_does_not_kill_the_connection_handling(server: fakens.Server) -> None:
    with _connect(server) as sock:
        sock.sendall(struct.pack("!H", 0))
        # whether or not the server closes this connection, others are served
        with _connect(server) as other:
            assert _tcp_query(other, "www.example.test.").answer
    assert server.errors == []


def test_query_then_half_close_still_answered(server: fakens.Server) -> None:
    """A client that sends its query and shuts down its sending side still gets the reply."""
    query = dns.message.make_query("www.example.test.", "A")
    with _connect(server) as sock:
        sock.sendall(frame(query.to_wire()))
        sock.shutdown(socket.SHUT_WR)
        reply = check_wire(read_frame(sock))
        assert reply.id == query.id and reply.answer


def test_ipv6_loopback(make_server: Callable[..., fakens.Server]) -> None:
    require_ipv6_loopback()
    server = make_server(listen=["[::1]:0"])
    host, port = server.addresses[0]
    assert host == "::1" and port != 0
    for transport in ("udp", "tcp"):
        reply, _ = ask_wire(server, "www.example.test.", "AAAA", transport=transport)
        assert [r.address for r in reply.answer[0]] == ["2001:db8::10"]
    assert [e.client[0] for e in server.log] == ["::1", "::1"]
