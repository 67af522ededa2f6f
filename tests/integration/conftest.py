"""Real-socket helpers for the integration tests.

Every reply a test reads goes through :func:`check_wire`: it is decoded by
dnspython (the message the test looks at) and by dnslib (an independent
codec: ``dnslib.DNSRecord.parse`` must not raise), so an encoding mistake one
library would forgive is still caught.

Fixtures::

    ask_wire(server, "www.example.test.", "A", transport="tcp", use_edns=0)  -> (message, wire)
    exchange(addr, message_or_wire, transport="udp")                          -> (message, wire)
    aask_wire(...)   the same as ask_wire, awaitable (runs in a worker thread, so a
                     server served by the test's own loop keeps running)
    make_server(zones=..., **options)   a started sync Server, stopped at teardown
    server      example.test. on 127.0.0.1:0

The tests of :data:`BOTH_LOOPS` run twice, their servers on plain asyncio and on uvloop
(``FAKENS_LOOP``, read by the background runner): uvloop is in the test extra, so it is
skipped locally without it and fails under CI=true.

No sleeping: waits are socket timeouts or polls with a deadline (helpers.poll). Tests that
need no bytes use helpers.ask.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dnslib
import helpers
import pytest
from helpers import TIMEOUT, Target, address, frame, poll, read_frame, recv_exact

import fakens
from fakens.loops import LOOP_ENV

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZONES = os.path.join(REPO, "zones")
EXAMPLE_ZONE = os.path.join(ZONES, "example.test.zone")
TEST_ZONE = os.path.join(ZONES, "test.zone")
Addr = tuple[str, int]
__all__ = ["TIMEOUT", "frame", "poll", "read_frame", "recv_exact"]  # re-exported for the tests here


BOTH_LOOPS = frozenset({"test_tcp", "test_truncation", "test_answers"})
"""Test modules run on both event loops: UDP answers and truncation, TCP framing and pipelining."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_LOOPS:
        metafunc.parametrize("event_loop_kind", ["asyncio", "uvloop"], indirect=True)


@pytest.fixture(autouse=True)
def event_loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The loop the test's background servers run on (``asyncio`` unless its module is in BOTH_LOOPS)."""
    kind: str = getattr(request, "param", "asyncio")
    if kind == "uvloop":
        try:
            import uvloop  # noqa: F401
        except ImportError:
            helpers.unavailable("uvloop is not installed (pip install -e '.[test]' installs it)")
    monkeypatch.setenv(LOOP_ENV, kind)
    return kind


def dnslib_parse(wire: bytes) -> dnslib.DNSRecord:
    """Decode with dnslib; a failure is a test failure naming the bytes."""
    try:
        return dnslib.DNSRecord.parse(wire)
    except Exception as e:  # noqa: BLE001 - any dnslib error means the wire is suspect
        pytest.fail(f"dnslib cannot decode the reply ({type(e).__name__}: {e}): {wire.hex()}")


def check_wire(wire: bytes, request: dns.message.Message | None = None, **from_wire: Any) -> dns.message.Message:
    """Decode *wire* with dnspython and with dnslib (both must succeed)."""
    dnslib_parse(wire)
    if request is not None and request.had_tsig:
        from_wire.setdefault("keyring", request.keyring)
        from_wire.setdefault("request_mac", request.mac)
    return dns.message.from_wire(wire, **from_wire)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def udp_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(TIMEOUT)
    return sock


def recv_reply(sock: socket.socket, msg_id: int, source: Addr | None = None, timeout: float = TIMEOUT) -> bytes:
    """The next datagram with this ID (from *source*), within *timeout*."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no reply with id {msg_id} within {timeout}s")
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(65535)
        except TimeoutError:
            raise TimeoutError(f"no reply with id {msg_id} within {timeout}s") from None
        if source is not None and tuple(peer[:2]) != tuple(source):
            continue
        if len(data) >= 2 and struct.unpack_from("!H", data)[0] == msg_id:
            return data


def nothing_pending(sock: socket.socket) -> list[bytes]:
    """Datagrams already waiting on *sock* (non-blocking read until empty)."""
    sock.setblocking(False)
    out = []
    try:
        while True:
            try:
                out.append(sock.recv(65535))
            except BlockingIOError:
                return out
    finally:
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)


def raw_exchange(target: Target, wire: bytes, transport: str = "udp", timeout: float = TIMEOUT) -> bytes:
    """Send *wire*; return the raw reply with the same ID (UDP or one TCP frame)."""
    host, port = address(target)
    msg_id = struct.unpack_from("!H", wire)[0] if len(wire) >= 2 else 0
    if transport == "udp":
        with udp_socket(host) as sock:
            sock.sendto(wire, (host, port))
            return recv_reply(sock, msg_id, (host, port), timeout)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame(wire))
        return read_frame(sock)


def exchange(target: Target, query: dns.message.Message | bytes, transport: str = "udp",
             timeout: float = TIMEOUT, **from_wire: Any) -> tuple[dns.message.Message, bytes]:
    """Send a query (a dnspython message or raw bytes); (dnspython reply, reply wire)."""
    request = query if isinstance(query, dns.message.Message) else None
    wire = query.to_wire() if isinstance(query, dns.message.Message) else query
    reply_wire = raw_exchange(target, wire, transport, timeout)
    return check_wire(reply_wire, request, **from_wire), reply_wire


def make_query(qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType = "A",
               rdclass: str | dns.rdataclass.RdataClass = "IN",
               **kwargs: Any) -> dns.message.Message:
    return dns.message.make_query(qname, rdtype, rdclass, **kwargs)


def ask_wire(target: Target, qname: str | dns.name.Name, rdtype: str | dns.rdatatype.RdataType = "A",
             rdclass: str | dns.rdataclass.RdataClass = "IN", *,
             transport: str = "udp", timeout: float = TIMEOUT, **make_kwargs: Any) -> tuple[dns.message.Message, bytes]:
    """helpers.ask at the wire level: build the query with dnspython's make_query, send it,
    and return the reply decoded both ways (dnspython and dnslib) with its bytes."""
    query = make_query(qname, rdtype, rdclass, **make_kwargs)
    reply, wire = exchange(target, query, transport, timeout)
    assert reply.id == query.id
    return reply, wire


def tcp_stream(target: Target, query: dns.message.Message, timeout: float = TIMEOUT, **from_wire: Any
               ) -> list[tuple[dns.message.Message, bytes]]:
    """A zone transfer over one TCP connection, read frame by frame until it
    ends: an error rcode; a first message holding a lone SOA; in AXFR form the
    second SOA with the first serial; in IXFR form (the second record is an
    SOA with another serial) the third SOA with the first serial. Every
    message is decoded by dnspython (TSIG verified through the stream when
    the query was signed) and by dnslib."""
    host, port = address(target)
    out: list[tuple[dns.message.Message, bytes]] = []
    records: list[tuple[int, int | None]] = []  # (rdtype, serial of an SOA)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame(query.to_wire()))
        ctx = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wire = read_frame(sock)
            dnslib_parse(wire)
            kwargs = dict(from_wire)
            if query.had_tsig:
                kwargs.update(keyring=query.keyring, request_mac=query.mac, tsig_ctx=ctx, multi=True)
            message = dns.message.from_wire(wire, xfr=True, one_rr_per_rrset=True, **kwargs)
            ctx = message.tsig_ctx
            out.append((message, wire))
            if message.rcode() != 0:
                return out
            for rrset in message.answer:
                records.append((rrset.rdtype, rrset[0].serial if rrset.rdtype == dns.rdatatype.SOA else None))
            if len(out) == 1 and len(records) == 1:
                return out
            if len(records) < 2:
                continue
            first = records[0][1]
            ixfr_form = records[1][0] == dns.rdatatype.SOA and records[1][1] != first
            closing = sum(1 for t, s in records if t == dns.rdatatype.SOA and s == first)
            if records[-1][0] == dns.rdatatype.SOA and records[-1][1] == first and closing >= (3 if ixfr_form else 2):
                return out
        raise TimeoutError("transfer did not end within the deadline")


def example_zone() -> fakens.Zone:
    return fakens.Zone.from_file(EXAMPLE_ZONE)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(name="exchange")
def exchange_fixture() -> Callable[..., tuple[dns.message.Message, bytes]]:
    return exchange


@pytest.fixture(name="aask_wire")
def aask_wire_fixture() -> Callable[..., Any]:
    async def aask_wire(*args: Any, **kwargs: Any) -> tuple[dns.message.Message, bytes]:
        return await asyncio.to_thread(ask_wire, *args, **kwargs)

    return aask_wire



def still_open(sock: socket.socket, server: fakens.Server) -> bool:
    """No EOF nor reset on *sock*, after a UDP query to *server* has been answered (a barrier:
    a close the server's loop had begun before it has reached the socket by then). The socket
    is left blocking with the suite's TIMEOUT."""
    assert ask_wire(server, "mail.example.test.", "A")[0].answer
    sock.setblocking(False)
    try:
        return bool(sock.recv(1, socket.MSG_PEEK))
    except BlockingIOError:
        return True
    except (ConnectionResetError, ConnectionAbortedError):
        return False
    finally:
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)
