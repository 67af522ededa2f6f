"""The UDP transport over a real loopback socket: datagrams queued before the server reads
them are answered in one wake-up, the replies held and sent in runs (``HOLD`` at a time),
none lost, in order, each to its sender."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from fakens.outcome import Outcome, Reply
from fakens.transport.udp import BATCH, HOLD, UdpEndpoint


@pytest.fixture
def endpoint_and_calls() -> Iterator[tuple[UdpEndpoint, list[bytes]]]:
    """An endpoint on 127.0.0.1 (not on a running loop: the test calls its reader) whose
    handler answers b"q..." with b"r..." and nothing to b"drop..."."""
    loop = asyncio.new_event_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    calls: list[bytes] = []

    def handler(data: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        assert transport == "udp" and local == sock.getsockname()
        calls.append(data)
        return Reply([]) if data.startswith(b"drop") else Reply([b"r" + data[1:]])

    endpoint = UdpEndpoint(sock, handler, loop)
    yield endpoint, calls
    sock.close()
    loop.close()


def _client() -> socket.socket:
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.bind(("127.0.0.1", 0))
    client.settimeout(2.0)
    return client


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
    with _client() as client:
        for i in range(count):
            client.sendto(b"q%d" % i, endpoint.local)
        endpoint._readable()  # one wake-up reads them all (count <= BATCH)
        assert len(calls) == count
        assert _drain(client) == [b"r%d" % i for i in range(count)]


def test_two_clients_interleaved_and_unanswered_queries_get_exactly_their_replies(
        endpoint_and_calls: tuple[UdpEndpoint, list[bytes]]) -> None:
    endpoint, calls = endpoint_and_calls
    with _client() as one, _client() as two:
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
    with _client() as client:
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
    with _client() as client:
        for i in range(8):
            client.sendto(b"q%d" % i, endpoint.local)
        with pytest.raises(RuntimeError):
            endpoint._readable()
        assert _drain(client) == [b"r%d" % i for i in range(5)]  # those answered before it
        endpoint._readable()  # the rest on the next wake-up
        assert _drain(client) == [b"r6", b"r7"]
