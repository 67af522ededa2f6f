"""Time on the wire: the default clock's timers in real time, a ManualClock in a test's own
loop, and the TSIG time a peer checks against its own clock (real time + tsig_time_offset).

Most timer tests move a ManualClock (tests/faults, test_tcp.py, test_edits_notify.py); the
real-time tests here keep the default path covered, one per timer (the TCP idle timeout's is
test_tcp.py::test_idle_connection_closed_by_server). Short real delays; waits are socket
timeouts, never sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
import time
from collections.abc import Callable, Iterator

import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.tsig
import dns.tsigkeyring
import pytest

import fakens

from .conftest import EXAMPLE_ZONE, TIMEOUT, check_wire, frame, read_frame, tcp_stream, udp_socket

ORIGIN = "example.test."
REAL = 0.3  # seconds of real time each real-time test waits
KEY_NAME = "clock-key."
SECRET = base64.b64encode(b"fakens clock test tsig secret!!!").decode()
KEYRING: dict[dns.name.Name, dns.tsig.Key] = dns.tsigkeyring.from_text({KEY_NAME: SECRET})


@pytest.fixture
def secondary() -> Iterator[socket.socket]:
    sock = udp_socket()
    try:
        yield sock
    finally:
        sock.close()


def _notify(sock: socket.socket, timeout: float = TIMEOUT) -> tuple[dns.message.Message, bytes]:
    sock.settimeout(timeout)
    wire = sock.recv(65535)
    message = check_wire(wire, keyring=False)
    assert message.opcode() == dns.opcode.NOTIFY
    return message, wire


# -- the default clock: real time --------------------------------------------------------------


def test_delay_in_real_time_udp_and_tcp(make_server: Callable[..., fakens.Server]) -> None:
    """SystemClock (the default): a delayed reply comes no sooner than the delay, over UDP and
    TCP alike (both sent at once, so the test waits the delay once)."""
    server = make_server()
    server.faults.add(f"delay ms={REAL * 1000:.0f} qname=www.example.test.")
    udp_query = dns.message.make_query("www.example.test.", "A")
    tcp_query = dns.message.make_query("www.example.test.", "A")
    with udp_socket() as udp, socket.create_connection(server.addresses[0], timeout=TIMEOUT) as tcp:
        started = time.monotonic()
        udp.sendto(udp_query.to_wire(), server.addresses[0])
        tcp.sendall(frame(tcp_query.to_wire()))
        udp.settimeout(REAL + TIMEOUT)
        udp_reply = check_wire(udp.recv(65535))
        udp_at = time.monotonic() - started
        tcp.settimeout(REAL + TIMEOUT)
        tcp_reply = check_wire(read_frame(tcp))
        tcp_at = time.monotonic() - started
    assert udp_reply.id == udp_query.id and udp_reply.answer
    assert tcp_reply.id == tcp_query.id and tcp_reply.answer
    assert udp_at >= REAL and tcp_at >= REAL, (udp_at, tcp_at)


def test_notify_retry_in_real_time(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    server = make_server(notify=[f"127.0.0.1:{secondary.getsockname()[1]}"], notify_retry=REAL, notify_attempts=2)
    started = time.monotonic()  # before the first send: the retry counts from it
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    first, _ = _notify(secondary)
    second, _ = _notify(secondary, REAL + TIMEOUT)
    assert second.id == first.id
    assert time.monotonic() - started >= REAL


def test_late_notify_in_real_time(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    server = make_server(notify=[f"127.0.0.1:{secondary.getsockname()[1]}"], notify_attempts=1)
    server.faults.add(f"no-notify mode=late delay={REAL}")
    started = time.monotonic()
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    _notify(secondary, REAL + TIMEOUT)
    assert time.monotonic() - started >= REAL


# -- a ManualClock in the test's own loop --------------------------------------------------------


async def test_manual_clock_moved_inside_the_servers_loop() -> None:
    """An async server in the test's loop: advance runs the delayed send at once (the loop
    cannot run it while the test holds it), so the reply is on the socket when it returns."""
    clock = fakens.ManualClock(1000)
    server = fakens.Server([fakens.Zone.from_file(EXAMPLE_ZONE)], listen=["127.0.0.1:0"], clock=clock)
    await server.astart()
    try:
        server.faults.add("delay ms=500")
        with udp_socket() as sock:
            query = dns.message.make_query("www.example.test.", "A")
            sock.sendto(query.to_wire(), server.addresses[0])
            sock.setblocking(False)
            deadline = time.monotonic() + TIMEOUT
            while not clock.pending():  # let the loop read the query
                assert time.monotonic() < deadline, "the delayed query was not read"
                await asyncio.sleep(0.001)  # polling interval: the loop reads the socket meanwhile
            clock.advance(0.499)
            with pytest.raises(BlockingIOError):
                sock.recv(65535)
            clock.advance(0.001)
            reply = check_wire(sock.recv(65535))
        assert reply.id == query.id and reply.answer
    finally:
        await server.astop()


# -- TSIG time: real time + tsig_time_offset -----------------------------------------------------


def _tsig_server(make_server: Callable[..., fakens.Server], offset: float, **options: object) -> fakens.Server:
    return make_server(tsig_keys={KEY_NAME: SECRET}, tsig_time_offset=offset, **options)


def _signed(qname: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype)
    query.use_tsig(KEYRING, keyname=KEY_NAME)
    return query


def _exchange(server: fakens.Server, query: dns.message.Message, transport: str) -> bytes:
    if transport == "udp":
        with udp_socket() as sock:
            sock.sendto(query.to_wire(), server.addresses[0])
            return sock.recv(65535)
    with socket.create_connection(server.addresses[0], timeout=TIMEOUT) as sock:
        sock.sendall(frame(query.to_wire()))
        return read_frame(sock)


def _time_signed(wire: bytes) -> int:
    tsig = dns.message.from_wire(wire, keyring=False).tsig
    assert tsig is not None, "no TSIG record"
    return int(tsig[0].time_signed)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_tsig_time_signed_follows_the_offset(make_server: Callable[..., fakens.Server], transport: str) -> None:
    """Within the fudge (300 s) a client verifies the reply; the time signed is shifted."""
    server = _tsig_server(make_server, 100)
    query = _signed("www.example.test.", "A")
    before = int(time.time())
    wire = _exchange(server, query, transport)
    after = time.time()
    reply = check_wire(wire, query)  # verified by dnspython against the client's own (real) clock
    assert reply.had_tsig and reply.answer
    assert before + 100 <= _time_signed(wire) <= after + 100


def test_tsig_offset_beyond_the_fudge_is_badtime_at_the_client(make_server: Callable[..., fakens.Server]) -> None:
    server = _tsig_server(make_server, -3600)
    query = _signed("www.example.test.", "A")
    before = int(time.time())
    wire = _exchange(server, query, "udp")
    assert before - 3600 <= _time_signed(wire) <= time.time() - 3600
    with pytest.raises(dns.tsig.BadTime):
        dns.message.from_wire(wire, keyring=KEYRING, request_mac=query.mac)


def test_tsig_default_offset_is_real_time(make_server: Callable[..., fakens.Server]) -> None:
    server = _tsig_server(make_server, 0, clock=fakens.ManualClock(0))  # the injected clock plays no part
    query = _signed("www.example.test.", "A")
    before = int(time.time())
    wire = _exchange(server, query, "udp")
    check_wire(wire, query)
    assert before <= _time_signed(wire) <= time.time()


def test_tsig_signed_axfr_stream_follows_the_offset(make_server: Callable[..., fakens.Server]) -> None:
    server = _tsig_server(make_server, 200)
    before = int(time.time())
    stream = tcp_stream(server, _signed(ORIGIN, "AXFR"))  # every message verified through the stream
    after = time.time()
    assert stream and all(before + 200 <= _time_signed(wire) <= after + 200 for _, wire in stream)


def test_tsig_error_reply_time_follows_the_offset(make_server: Callable[..., fakens.Server]) -> None:
    """BADSIG (RFC 8945 5.2): the unsigned error TSIG carries the server's time."""
    server = _tsig_server(make_server, 5000)
    query = dns.message.make_query("www.example.test.", "A")
    query.use_tsig(dns.tsigkeyring.from_text({KEY_NAME: base64.b64encode(b"another secret, not the server's").decode()}),
                   keyname=KEY_NAME)
    before = int(time.time())
    wire = _exchange(server, query, "udp")
    reply = dns.message.from_wire(wire, keyring=False)
    assert reply.rcode() == dns.rcode.NOTAUTH and reply.tsig_error == dns.rcode.BADSIG
    assert before + 5000 <= _time_signed(wire) <= time.time() + 5000


def test_signed_notify_follows_the_offset(make_server: Callable[..., fakens.Server], secondary: socket.socket) -> None:
    server = _tsig_server(make_server, 100, notify=[f"127.0.0.1:{secondary.getsockname()[1]}"], notify_key=KEY_NAME)
    before = int(time.time())
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    _, wire = _notify(secondary)
    after = time.time()
    message = dns.message.from_wire(wire, keyring=KEYRING)  # verified: signed with the notify key
    assert message.had_tsig and message.keyname == dns.name.from_text(KEY_NAME)
    assert before + 100 <= _time_signed(wire) <= after + 100
    assert struct.unpack_from("!H", wire)[0] == server.notifies[-1].id
