"""Holding up under abuse (issue 10): TCP that one client cannot monopolise, transfers that
cannot stall the server, and no open amplifier by accident.

Hogs connect from 127.0.0.2, the client that must still be served from 127.0.0.3 (a
limit is per client address). Deadlines run on a ManualClock where the test moves time;
what needs the kernel (a buffer that fills) is polled with a deadline.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Iterator

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest
from helpers import unavailable

import fakens
from fakens.errors import ServerError
from fakens.outcome import Drop, Reply
from fakens.transport import bind as bind_module
from fakens.transport.tcp import TcpListener

from .conftest import TIMEOUT, ask_wire, frame, poll, read_frame, still_open
from .test_xfr_streaming import WIDE, wide_zone

HOG = "127.0.0.2"
OTHER = "127.0.0.3"


@pytest.fixture(scope="module")
def wide() -> fakens.Zone:
    return wide_zone()


@pytest.fixture
def not_only_lo() -> Iterator[None]:
    """This namespace seen as having a real interface: only 127/8 and ::1 count as loopback."""
    saved = bind_module.interface_names
    bind_module.interface_names = lambda: ["lo", "eth0"]
    bind_module.only_loopback_here.cache_clear()
    try:
        yield
    finally:
        bind_module.interface_names = saved
        bind_module.only_loopback_here.cache_clear()


def connect(server: fakens.Server, source: str = OTHER, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(TIMEOUT)
    sock.bind((source, 0))
    sock.connect(server.addresses[0])
    return sock


def query(sock: socket.socket, qname: str = "www.example.test.", rdtype: str = "A") -> dns.message.Message:
    q = dns.message.make_query(qname, rdtype)
    sock.sendall(frame(q.to_wire()))
    reply = dns.message.from_wire(read_frame(sock))
    assert reply.id == q.id
    return reply


def answered(server: fakens.Server, source: str = OTHER) -> bool:
    """Does a new connection from *source* get an answer?"""
    try:
        with connect(server, source) as sock:
            return bool(query(sock).answer)
    except (EOFError, ConnectionError):
        return False


def closed_by_server(sock: socket.socket) -> bool:
    """EOF or a reset, reading what is left (within the socket's timeout)."""
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    return True


def refused(server: fakens.Server, source: str) -> bool:
    """Is a new connection from *source* reset or closed before any query (a reset may come
    before connect returns)?"""
    try:
        sock = connect(server, source)
    except ConnectionError:
        return True
    with sock:
        return closed_by_server(sock)




def listener(server: fakens.Server) -> TcpListener:
    return server._tcp[0]


# -- reading: slowloris, pipelining, flow control -----------------------------------------------


def test_slowloris_is_closed_by_the_query_deadline(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1_000_000)
    server = make_server(clock=clock, tcp_query_timeout=2.0, tcp_idle_timeout=10.0)
    wire = frame(dns.message.make_query("www.example.test.", "A").to_wire())
    with connect(server) as sock:
        for i in range(3):  # one byte a second: each byte would restart an idle timer
            sock.sendall(wire[i : i + 1])
            poll(lambda: any(len(c.buffer) == i + 1 for c in listener(server).connections),  # noqa: B023
                 what="the byte read by the server")
            assert still_open(sock, server)
            clock.advance(0.9)
        # 2.7 s since the first byte (the idle timer, 10 s, restarted 0.9 s ago): past the deadline
        poll(lambda: not still_open(sock, server), what="the slow query's connection closed")
    # a whole query in time on another connection is answered, and so is the next one after it
    with connect(server) as sock:
        assert query(sock).answer
        clock.advance(1.5)
        assert query(sock).answer


def test_a_query_sent_whole_in_time_is_answered_after_a_slow_start(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1_000_000)
    server = make_server(clock=clock, tcp_query_timeout=2.0)
    q = dns.message.make_query("www.example.test.", "A")
    wire = frame(q.to_wire())
    with connect(server) as sock:
        sock.sendall(wire[:5])
        poll(lambda: any(len(c.buffer) == 5 for c in listener(server).connections), what="5 bytes read")
        clock.advance(1.9)
        sock.sendall(wire[5:])
        assert dns.message.from_wire(read_frame(sock)).id == q.id
        clock.advance(1.9)  # no query begun: only the idle timeout counts now
        assert still_open(sock, server)


def test_unread_pipelining_is_paused_then_aborted_with_bounded_memory(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1_000_000)
    server = make_server(clock=clock, tcp_write_timeout=5.0)
    count = 20_000  # about 3.6 MB of replies: more than the kernel's buffers hold
    q = frame(dns.message.make_query("big.example.test.", "TXT").to_wire())
    with connect(server, rcvbuf=4096) as sock:
        sock.setblocking(False)
        sent = 0
        try:
            while sent < count * len(q):  # as much as the server takes: it stops reading
                sent += sock.send(q * 64)
        except BlockingIOError:
            pass
        sock.setblocking(True)
        conn = poll(lambda: next((c for c in listener(server).connections if c.paused), None),
                    what="the connection paused for a client that does not read")
        answered_so_far = len(server.log)
        assert answered_so_far < count, "the server read every query of a client that reads nothing"
        assert conn.transport is not None and conn.transport.get_write_buffer_size() <= conn.limits.max_buffered
        assert answered(server)  # others are served meanwhile
        clock.advance(5.0)
        poll(lambda: conn.gone and not listener(server).connections, what="the stuck connection aborted")
        assert listener(server).aborted == 1
        with pytest.raises((ConnectionResetError, ConnectionAbortedError)):
            while sock.recv(65536):
                pass
    assert answered(server)


def test_unanswered_queries_beyond_the_cap_are_not_read(make_server: Callable[..., fakens.Server]) -> None:
    clock = fakens.ManualClock(1_000_000)
    server = make_server(clock=clock, tcp_max_pipelined=100)
    server.faults.add("delay ms=10000 transport=tcp")
    queries = [dns.message.make_query(f"n{i}.example.test.", "A") for i in range(150)]
    with connect(server) as sock:
        sock.sendall(b"".join(frame(q.to_wire()) for q in queries))
        poll(lambda: len(server.log) >= 100, what="100 queries read")
        assert still_open(sock, server)
        assert len([e for e in server.log if e.transport == "tcp"]) == 100  # the rest wait unread
        clock.advance(10)  # the first 100 answered: the other 50 are read
        poll(lambda: len([e for e in server.log if e.transport == "tcp"]) == 150, what="the other 50 read")
        clock.advance(10)
        ids = {dns.message.from_wire(read_frame(sock)).id for _ in queries}
        assert ids == {q.id for q in queries}


# -- connection limits ----------------------------------------------------------------------------


def test_idle_hogs_from_one_client_do_not_lock_another_out(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server()  # defaults: 100 connections, 20 per client
    hogs = []
    try:
        for _ in range(100):
            try:
                hogs.append(connect(server, HOG))
            except ConnectionError:
                pass  # refused at connect time: fine
        assert answered(server)
        poll(lambda: listener(server).refused >= 80, what="the hog's connections beyond 20 refused")
        assert sum(1 for c in listener(server).connections if c.peer[0] == HOG) == 20
        assert answered(server, OTHER)
    finally:
        for sock in hogs:
            sock.close()


def test_a_reconnecting_hog_does_not_lock_another_client_out(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(tcp_max_connections=10, tcp_max_per_client=10)
    hogs: list[socket.socket] = []

    def refill() -> int:
        """Reopen every hog connection the server closed; how many were."""
        reopened = 0
        for sock in list(hogs):
            sock.setblocking(False)
            try:
                gone = sock.recv(1) == b""
            except BlockingIOError:
                gone = False
            except ConnectionError:
                gone = True
            sock.setblocking(True)
            if gone:
                hogs.remove(sock)
                sock.close()
                reopened += 1
        while len(hogs) < 10:
            hogs.append(connect(server, HOG))
        poll(lambda: len(listener(server).connections) >= 10, what="the hog holding every slot")
        return reopened

    try:
        refill()
        reopened = 0
        for _ in range(20):
            assert answered(server, OTHER), "the other client was locked out"
            reopened += poll(lambda: refill() or None, what="the hog reopening a closed connection")
        assert reopened >= 20
    finally:
        for sock in hogs:
            sock.close()


def test_a_client_beyond_its_own_limit_is_refused(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(tcp_max_per_client=3)
    socks = [connect(server, HOG) for _ in range(3)]
    try:
        for sock in socks:
            assert query(sock).answer
        assert refused(server, HOG)
        assert all(still_open(sock, server) for sock in socks)  # its own idle ones stay
        assert answered(server, OTHER)
    finally:
        for sock in socks:
            sock.close()


def test_at_the_global_limit_with_none_idle_a_new_connection_is_refused(
        make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(tcp_max_connections=2, tcp_query_timeout=60)
    busy = [connect(server, HOG), connect(server, OTHER)]
    try:
        for sock in busy:
            sock.sendall(b"\x00\x20\x00")  # a query begun: not idle
        poll(lambda: all(c.buffer for c in listener(server).connections) and len(listener(server).connections) == 2,
             what="two connections reading a query")
        assert refused(server, "127.0.0.4")
        assert all(still_open(sock, server) for sock in busy)
    finally:
        for sock in busy:
            sock.close()


# -- transfers ----------------------------------------------------------------------------------


def axfr_client(server: fakens.Server, origin: str, source: str = OTHER) -> socket.socket:
    sock = connect(server, source, rcvbuf=4096)
    sock.sendall(frame(dns.message.make_query(origin, "AXFR").to_wire()))
    return sock


def read_transfer(sock: socket.socket) -> int:
    """Read a whole AXFR (until the second SOA); the number of records."""
    records, soas = 0, 0
    while soas < 2:
        message = dns.message.from_wire(read_frame(sock), xfr=True, one_rr_per_rrset=True)
        assert message.rcode() == dns.rcode.NOERROR
        for rrset in message.answer:
            records += 1
            soas += rrset.rdtype == dns.rdatatype.SOA
    return records


def test_an_aborted_transfer_stops_its_producer(make_server: Callable[..., fakens.Server], wide: fakens.Zone) -> None:
    server = make_server([wide])
    sock = axfr_client(server, WIDE)
    read_frame(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset: the client went away
    entry = poll(lambda: next((e for e in server.log if "transfer stopped" in e.note), None),
                 what="the transfer noted as stopped")
    made = entry.messages
    # the connection is let go just after the stream's end is logged (in the loop's thread)
    poll(lambda: listener(server).transfers.active == 0 and not listener(server).connections,
         what="the transfer and its connection let go")
    reply, _ = ask_wire(server, "host-1.wide.test.", "TXT")
    assert reply.rcode() == dns.rcode.NOERROR
    assert entry.messages == made


def test_transfers_beyond_the_cap_wait_their_turn(make_server: Callable[..., fakens.Server], wide: fakens.Zone) -> None:
    server = make_server([wide, fakens.Zone.from_file("zones/example.test.zone")], max_transfers=1)
    stalled = axfr_client(server, WIDE, HOG)  # holds the only slot: it reads nothing
    try:
        poll(lambda: listener(server).transfers.active == 1, what="the first transfer running")
        waiting = axfr_client(server, "example.test.")
        poll(lambda: listener(server).transfers.waiting == 1, what="the second transfer waiting")
        entry = next(e for e in server.log if e.qtype_text == "AXFR" and e.qname == dns.name.from_text("example.test."))
        assert entry.messages == 0
        assert answered(server)  # other queries are answered meanwhile
        stalled.close()  # the slot is handed over
        assert read_transfer(waiting) > 10
        waiting.close()
    finally:
        stalled.close()


def test_allow_transfer_refuses_a_client_outside_it(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(allow_transfer=["127.0.0.3"])
    for source, rcode in ((HOG, dns.rcode.REFUSED), (OTHER, dns.rcode.NOERROR)):
        with connect(server, source) as sock:
            sock.sendall(frame(dns.message.make_query("example.test.", "AXFR").to_wire()))
            assert dns.message.from_wire(read_frame(sock), xfr=True).rcode() == rcode


def test_transfers_are_loopback_only_by_default(make_server: Callable[..., fakens.Server],
                                                not_only_lo: None) -> None:
    server = make_server()
    assert server.options.allows_transfer(HOG) and server.options.allows_transfer("::1")
    assert not server.options.allows_transfer("192.0.2.7")
    query = dns.message.make_query("example.test.", "AXFR").to_wire()
    outcome = server.handle(query, ("192.0.2.7", 4000), server.addresses[0], "tcp")
    assert isinstance(outcome, Reply)
    assert dns.message.from_wire(outcome.messages[0]).rcode() == dns.rcode.REFUSED


# -- public addresses ---------------------------------------------------------------------------


def test_binding_a_public_address_needs_allow_public(not_only_lo: None) -> None:
    server = fakens.Server(["zones/example.test.zone"], listen=["192.0.2.1:0"])
    with pytest.raises(ServerError, match=r"192\.0\.2\.1:0 is not a loopback address.*--allow-public"):
        server.start()
    assert not server.running


def test_a_public_server_warns_and_limits_non_loopback_clients(not_only_lo: None,
                                                              capfd: pytest.CaptureFixture[str]) -> None:
    if bind_module._interface_names() != ["lo"]:
        unavailable("binds 0.0.0.0: only inside a network namespace with only lo (scripts/test makes one)")
    clock = fakens.ManualClock(1_000_000)
    server = fakens.Server(["zones/example.test.zone"], listen=["0.0.0.0:0"], allow_public=True, clock=clock,
                           rate_limit=1, rate_limit_burst=2)
    with server:
        err = capfd.readouterr().err
        assert "warning: server fakens listens on 0.0.0.0:" in err and "reachable from other machines" in err
        assert "at most 1 UDP replies/s per /24 (burst 2)" in err
        port = server.addresses[0][1]
        local = ("0.0.0.0", port)
        outside, loopback = ("192.0.2.7", 4000), ("127.0.0.1", 4000)
        small = dns.message.make_query("www.example.test.", "A").to_wire()
        big = dns.message.make_query("big.example.test.", "TXT", use_edns=0, payload=4096).to_wire()
        # a reply far larger than the query is truncated for an outside client, whole for loopback
        reply = server.handle(big, outside, local, "udp")
        assert isinstance(reply, Reply)
        message = dns.message.from_wire(reply.messages[0])
        assert message.flags & dns.flags.TC and not message.answer and len(reply.messages[0]) < 100
        assert not isinstance(server.handle(small, outside, local, "udp"), Drop)
        assert isinstance(server.handle(small, ("192.0.2.99", 1), local, "udp"), Drop)  # same /24: spent
        assert not isinstance(server.handle(small, ("198.51.100.1", 1), local, "udp"), Drop)  # another /24
        for _ in range(5):
            whole = server.handle(big, loopback, local, "udp")
            assert isinstance(whole, Reply) and dns.message.from_wire(whole.messages[0]).answer
        clock.advance(1.0)
        assert not isinstance(server.handle(small, outside, local, "udp"), Drop)
        # and it answers over loopback on the wire
        assert ask_wire(("127.0.0.1", port), "www.example.test.", "A")[0].answer


def test_serve_names_the_flags(not_only_lo: None, capsys: pytest.CaptureFixture[str]) -> None:
    from fakens.cli import main

    assert main(["serve", "zones/example.test.zone", "--listen", "192.0.2.1:0"]) != 0
    assert "192.0.2.1:0 is not a loopback address" in capsys.readouterr().err
    assert main(["serve", "zones/example.test.zone", "--tcp-query-timeout", "0", "--max-transfers", "0"]) != 0
    err = capsys.readouterr().err
    assert "--tcp-query-timeout 0.0: must be above 0 seconds" in err and "--max-transfers 0: must be at least 1" in err
