"""The UDP transport over a real loopback socket: datagrams queued before the server reads
them are answered in one wake-up, the replies held and sent in runs (``HOLD`` at a time),
none lost, in order, each to its sender. Every test runs on both reading paths: the
pure-Python one (recvfrom/sendto) and the C accelerator's (recvmmsg/sendmmsg), which must
be built under CI=true."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fakens.outcome import Outcome, Reply
from fakens.transport.udp import ACCELERATED, BATCH, HOLD, UdpEndpoint


def test_the_accelerator_is_built_under_ci() -> None:
    """CI installs a C compiler (scripts/debian-packages.txt): there the accelerator must be in use."""
    if os.environ.get("CI") != "true" and not ACCELERATED:
        pytest.skip("fakens._udpbatch is not built here (no C compiler at install time?): the pure-Python path serves")
    assert ACCELERATED and UdpEndpoint.accelerated


@pytest.fixture(params=["python", "batched"])
def reading_path(request: pytest.FixtureRequest) -> str:
    if request.param == "batched" and not ACCELERATED:
        if os.environ.get("CI") == "true":
            pytest.fail("fakens._udpbatch is not built: pip install -e . needs a C compiler (gcc)")
        pytest.skip("fakens._udpbatch is not built here")
    return str(request.param)


@pytest.fixture(params=["127.0.0.1", "::1"])
def endpoint_and_calls(reading_path: str, request: pytest.FixtureRequest) -> Iterator[tuple[UdpEndpoint, list[bytes]]]:
    """An endpoint on 127.0.0.1 or ::1 (not on a running loop: the test calls its reader,
    on the path the test runs on) whose handler answers b"q..." with b"r..." and nothing
    to b"drop..."."""
    loop = asyncio.new_event_loop()
    family = socket.AF_INET6 if ":" in request.param else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((request.param, 0))
    sock.setblocking(False)
    calls: list[bytes] = []

    def handler(data: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        assert transport == "udp" and local == sock.getsockname()[:2] and len(client) == 2
        calls.append(data)
        return Reply([]) if data.startswith(b"drop") else Reply([b"r" + data[1:]])

    endpoint = UdpEndpoint(sock, handler, loop)
    if reading_path == "batched":
        endpoint._readable = endpoint._readable_batched  # type: ignore[method-assign]
    yield endpoint, calls
    sock.close()
    loop.close()


def _client(endpoint: UdpEndpoint) -> socket.socket:
    family = socket.AF_INET6 if ":" in endpoint.local[0] else socket.AF_INET
    client = socket.socket(family, socket.SOCK_DGRAM)
    client.bind((endpoint.local[0], 0))
    client.settimeout(2.0)
    return client


def _drained(sock: socket.socket) -> bool:
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    return False


def _drain(client: socket.socket) -> list[bytes]:
    """What the client has been sent so far (the replies are sent before the reader returns)."""
    got: list[bytes] = []
    client.setblocking(False)
    try:
        while True:
            got.append(client.recv(100))
    except BlockingIOError:
        return got


@pytest.mark.parametrize("count", [1, HOLD - 1, HOLD, HOLD + 1, 3 * HOLD + 5])
def test_queued_datagrams_are_all_answered_in_order_when_the_reader_returns(
        endpoint_and_calls: tuple[UdpEndpoint, list[bytes]], count: int) -> None:
    endpoint, calls = endpoint_and_calls
    with _client(endpoint) as client:
        for i in range(count):
            client.sendto(b"q%d" % i, endpoint.local)
        endpoint._readable()  # one wake-up reads them all (count <= BATCH)
        assert len(calls) == count
        assert _drain(client) == [b"r%d" % i for i in range(count)]


def test_two_clients_interleaved_and_unanswered_queries_get_exactly_their_replies(
        endpoint_and_calls: tuple[UdpEndpoint, list[bytes]]) -> None:
    endpoint, calls = endpoint_and_calls
    with _client(endpoint) as one, _client(endpoint) as two:
        for i in range(HOLD + 3):
            one.sendto(b"q1-%d" % i, endpoint.local)
            two.sendto(b"drop%d" % i if i % 3 == 0 else b"q2-%d" % i, endpoint.local)
        endpoint._readable()
        assert len(calls) == 2 * (HOLD + 3)
        assert _drain(one) == [b"r1-%d" % i for i in range(HOLD + 3)]
        assert _drain(two) == [b"r2-%d" % i for i in range(HOLD + 3) if i % 3]


def test_more_than_a_batch_is_read_over_two_wake_ups_and_nothing_is_lost(
        endpoint_and_calls: tuple[UdpEndpoint, list[bytes]]) -> None:
    endpoint, calls = endpoint_and_calls
    with _client(endpoint) as client:
        for i in range(BATCH + 7):
            client.sendto(b"q%d" % i, endpoint.local)
        endpoint._readable()
        assert len(calls) == BATCH
        first = _drain(client)
        assert first == [b"r%d" % i for i in range(BATCH)]  # a full batch's replies are not kept for the next
        endpoint._readable()
        assert _drain(client) == [b"r%d" % i for i in range(BATCH, BATCH + 7)]


def test_held_replies_still_go_out_when_the_handler_fails_midway(
        endpoint_and_calls: tuple[UdpEndpoint, list[bytes]]) -> None:
    endpoint, _ = endpoint_and_calls
    answer = endpoint.handler

    def failing(data: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        if data == b"q5":
            raise RuntimeError("handler broke")
        return answer(data, client, local, transport)

    endpoint.handler = failing
    with _client(endpoint) as client:
        for i in range(8):
            client.sendto(b"q%d" % i, endpoint.local)
        with pytest.raises(RuntimeError):
            endpoint._readable()
        if endpoint._readable == endpoint._readable_batched:  # read in one call: the others answered at once
            assert _drain(client) == [b"r%d" % i for i in range(8) if i != 5]
        else:
            assert _drain(client) == [b"r%d" % i for i in range(5)]  # those answered before it
            endpoint._readable()  # the rest on the next wake-up
            assert _drain(client) == [b"r6", b"r7"]


def test_a_reply_the_kernel_refuses_is_counted_and_the_others_still_go(reading_path: str) -> None:
    """Port 0 cannot be sent to (EINVAL): that reply is dropped and counted, the ones after it sent."""
    loop = asyncio.new_event_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        endpoint = UdpEndpoint(sock, lambda *args: Reply([]), loop)
        with _client(endpoint) as client:
            replies = [b"r%d" % i for i in range(5)]
            to = client.getsockname()
            if reading_path == "batched":
                endpoint._send_batch([(replies[0], to), (replies[1], ("127.0.0.1", 0)), *[(r, to) for r in replies[2:]]])
            else:
                endpoint._send_held([([replies[0]], to), ([replies[1]], ("127.0.0.1", 0)), *[([r], to) for r in replies[2:]]])
            assert endpoint.dropped == 1
            assert _drain(client) == [b"r0", b"r2", b"r3", b"r4"]
    loop.close()


@pytest.fixture
def batched_endpoint() -> Iterator[UdpEndpoint]:
    """An endpoint on 127.0.0.1 for the accelerator's own tests (its handler answers nothing)."""
    if not ACCELERATED:
        if os.environ.get("CI") == "true":
            pytest.fail("fakens._udpbatch is not built: pip install -e . needs a C compiler (gcc)")
        pytest.skip("fakens._udpbatch is not built here")
    loop = asyncio.new_event_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        yield UdpEndpoint(sock, lambda *args: Reply([]), loop)
    loop.close()


def test_the_accelerator_sends_any_bytes_like_reply(batched_endpoint: UdpEndpoint) -> None:
    with _client(batched_endpoint) as client:
        to = client.getsockname()
        batched_endpoint._send_batch([(b"r0", to), (bytearray(b"r1"), to), (memoryview(b"xr2")[1:], to)])  # type: ignore[list-item]
        assert _drain(client) == [b"r0", b"r1", b"r2"] and batched_endpoint.dropped == 0


def test_a_reply_that_is_not_bytes_is_dropped_the_others_go_once_and_the_error_surfaces(
        endpoint_and_calls: tuple[UdpEndpoint, list[bytes]]) -> None:
    """A handler bug (a str for a reply): counted as dropped, every other reply sent once, then TypeError."""
    endpoint, _ = endpoint_and_calls
    answer = endpoint.handler
    bad = HOLD + 1  # in the second run of replies held

    def handler(data: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        return Reply(["not bytes"]) if data == b"q%d" % bad else answer(data, client, local, transport)  # type: ignore[list-item]

    endpoint.handler = handler
    with _client(endpoint) as client:
        for i in range(HOLD + 4):
            client.sendto(b"q%d" % i, endpoint.local)
        with pytest.raises(TypeError):
            endpoint._readable()
        assert _drain(client) == [b"r%d" % i for i in range(HOLD + 4) if i != bad]
        assert endpoint.dropped == 1
        client.sendto(b"q-after", endpoint.local)
        endpoint._readable()
        assert _drain(client) == [b"r-after"]


def test_a_reply_that_is_not_bytes_in_a_long_run_of_the_accelerator(batched_endpoint: UdpEndpoint) -> None:
    """More than one sendmmsg's worth held: the runs before and after it all go, once."""
    with _client(batched_endpoint) as client:
        to = client.getsockname()
        held = [(b"s%d" % i, to) for i in range(BATCH + 6)]
        held[BATCH + 2] = ("not bytes", to)  # type: ignore[assignment]
        failure = batched_endpoint._send_batch(held)
        assert isinstance(failure, TypeError) and held == [] and batched_endpoint.dropped == 1
        assert _drain(client) == [b"s%d" % i for i in range(BATCH + 6) if i != BATCH + 2]


def test_the_accelerator_refuses_a_bad_address_with_a_clear_error(batched_endpoint: UdpEndpoint) -> None:
    from fakens import _udpbatch
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        for address, error in [(("::1", 53, 1 << 20, 0), OverflowError), (("::1", 70000), ValueError),
                               (("localhost", 53), ValueError), (["::1", 53], TypeError)]:
            with pytest.raises(error):
                _udpbatch.send_batch(sock.fileno(), [(b"x", address)])  # type: ignore[list-item]
        with pytest.raises(ValueError, match=r"1\.\.64"):
            _udpbatch.recv_batch(sock.fileno(), 65)
        sock.bind(("::1", 0))
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as client:
            client.bind(("::1", 0))
            client.settimeout(2.0)
            assert _udpbatch.send_batch(sock.fileno(), [(b"two", client.getsockname()[:2])]) == 1  # as sendto takes it
            assert client.recv(10) == b"two"


GC_REENTRY = r"""
import gc, select, socket, sys, time
from fakens import _udpbatch

def drained(sock):
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    return False

def queued(sock):  # the kernel's rx_queue for the socket (the same for each datagram of one size)
    port = f":{sock.getsockname()[1]:04X}"
    for line in open("/proc/net/udp").read().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(port):
            return int(fields[4].split(":")[1], 16)
    raise AssertionError("socket not in /proc/net/udp")

def wait_queued(sock, count, one):
    deadline = time.monotonic() + 10
    while queued(sock) < count * one:
        assert time.monotonic() < deadline, f"{count} datagrams not queued within 10 s"
        select.select([], [], [], 0.01)

mine, other, client, scratch = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4))
for sock in (mine, other, client, scratch):
    sock.bind(("127.0.0.1", 0))
mine.setblocking(False)
scratch.sendto(b"xx", scratch.getsockname())
select.select([scratch], [], [], 10)
one = queued(scratch)  # what one datagram of two octets holds
for i in range(10):
    client.sendto(b"a%d" % i, mine.getsockname())
    client.sendto(b"b%d" % i, other.getsockname())
wait_queued(mine, 10, one)
wait_queued(other, 10, one)
nested, outer = [], []

def receive_inside(phase, info):
    if phase == "start" and not nested and not outer and drained(mine):
        nested.append(_udpbatch.recv_batch(other.fileno(), 64))  # the outer call has read, not returned

pairs_kept = [(i, -i) for i in range(5000)]  # empties the free list of pairs: the result's are new
gc.callbacks.append(receive_inside)
gc.set_threshold(1)
outer.append(_udpbatch.recv_batch(mine.fileno(), 64))
gc.set_threshold(700)
gc.callbacks.remove(receive_inside)
assert nested, "no collection ran while the result was built"
sender = client.getsockname()
assert outer[0] == [(b"a%d" % i, sender) for i in range(10)], outer
assert nested[0] == [(b"b%d" % i, sender) for i in range(10)], nested
print("both intact")
"""


def test_a_receive_started_by_a_garbage_collection_inside_another_leaves_both_intact(
        batched_endpoint: UdpEndpoint) -> None:
    """Building recv_batch's result can start a collection, hence Python code (here a gc callback;
    on Python 3.11 also another thread) and another recv_batch: each gets its own datagrams.
    Run in an interpreter of its own: in the test process another thread (a server left by an
    earlier test) may be collecting, released from the GIL in a callback, and then no collection
    starts inside this one's read (the collector runs one collection at a time)."""
    if sys.version_info >= (3, 12):
        pytest.skip("Python 3.12 and later only schedule a collection: none starts inside recv_batch")
    done = subprocess.run([sys.executable, "-c", GC_REENTRY], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stdout == "both intact\n", done.stdout + done.stderr
