"""UDP transport: one datagram in, the outcome's messages out."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from fakens.outcome import Outcome, Reply

Handler = Callable[[bytes, tuple[str, int], tuple[str, int], str], Outcome]


class UdpEndpoint(asyncio.DatagramProtocol):
    """A bound UDP socket that hands datagrams to the server's handler."""

    def __init__(self, handler: Handler, local: tuple[str, int]) -> None:
        self.handler = handler
        self.local = local
        self.transport: asyncio.DatagramTransport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closed: asyncio.Future[None] | None = None

    @classmethod
    async def start(cls, sock: socket.socket, handler: Handler) -> UdpEndpoint:
        """Serve on an already bound socket."""
        loop = asyncio.get_running_loop()
        local = sock.getsockname()[:2]
        _, protocol = await loop.create_datagram_endpoint(lambda: cls(handler, local), sock=sock)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.loop = asyncio.get_running_loop()
        self.closed = self.loop.create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        outcome = self.handler(data, addr[:2], self.local, "udp")
        if isinstance(outcome, Reply) and outcome.messages:
            if outcome.delay > 0 and self.loop is not None:
                self.loop.call_later(outcome.delay, self._send, outcome.messages, addr)
            else:
                self._send(outcome.messages, addr)

    def _send(self, messages: list[bytes], addr: tuple[str, int]) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        for message in messages:
            self.transport.sendto(message, addr)

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send a datagram from this endpoint's address (NOTIFY uses it)."""
        self._send([data], addr)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP errors for earlier replies: nothing to do

    async def close(self) -> None:
        """Close the socket and wait until it is released."""
        if self.transport is not None:
            self.transport.close()
        if self.closed is not None:
            await self.closed
