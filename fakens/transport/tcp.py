"""TCP transport per RFC 7766: 2-byte framing, pipelining, idle timeout, connection limit.

Several queries on one connection are answered as each completes (a delayed
reply does not hold up later ones). A connection idle for ``idle_timeout``
seconds with no reply pending is closed; a connection beyond
``max_connections`` is closed at once. A client that sends half a frame
holds only its own connection. Delays and the idle timeout wait on the
server's clock (``Clock.call_later``: a ManualClock moves them).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from fakens.clock import Clock, SystemClock, Timer
from fakens.outcome import Close, Outcome, Reply, Reset, Stall
from fakens.transport.udp import Handler

DEFAULT_IDLE_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100


@dataclass(frozen=True)
class TcpLimits:
    """TCP limits of a server (defaults: 10 s idle, 100 connections)."""

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class TcpListener:
    """A bound TCP socket accepting DNS connections."""

    def __init__(self, handler: Handler, limits: TcpLimits, local: tuple[str, int],
                 on_connect: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None,
                 clock: Clock | None = None) -> None:
        self.handler = handler
        self.clock: Clock = clock or SystemClock()  # idle timeouts and delays wait on it
        self.on_connect = on_connect
        self.limits = limits
        self.local = local
        self.connections: set[_Connection] = set()
        self.server: asyncio.AbstractServer | None = None
        self.closing = False

    @classmethod
    async def start(cls, sock: socket.socket, handler: Handler, limits: TcpLimits,
                    on_connect: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None,
                    clock: Clock | None = None) -> TcpListener:
        """Listen on an already bound socket. *on_connect(peer, local)* may answer
        "reset" or "close" to refuse a connection before any query is read.
        Idle timeouts and delays wait on *clock* (default: real time)."""
        sock.listen(256)
        listener = cls(handler, limits, sock.getsockname()[:2], on_connect, clock)
        loop = asyncio.get_running_loop()
        listener.server = await loop.create_server(lambda: _Connection(listener), sock=sock, backlog=256)
        return listener

    async def close(self) -> None:
        """Stop listening and close every connection at once (also one accepted
        but not yet set up: it aborts itself when it sees ``closing``)."""
        self.closing = True
        # Let connections already accepted by the loop but not yet set up reach
        # connection_made (which aborts them, seeing ``closing``) before the
        # listener goes: after it, asyncio could no longer attach them.
        for _ in range(3):
            await asyncio.sleep(0)
        if self.server is not None:
            self.server.close()
        for connection in list(self.connections):
            connection.abort()
        if self.server is not None:
            await self.server.wait_closed()


class _Connection(asyncio.Protocol):
    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending = 0
        self.stalled = False
        self.idle_handle: Timer | None = None
        self.peer: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")[:2]
        if self.listener.closing:
            self.abort()
            return
        if len(self.listener.connections) >= self.listener.limits.max_connections:
            self.transport.abort()  # type: ignore[union-attr]
            return
        if self.listener.on_connect is not None:
            action = self.listener.on_connect(self.peer, self.listener.local)
            if action == "reset":
                self.abort()
                return
            if action == "close":
                self.transport.close()  # type: ignore[union-attr]
                return
        self.listener.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.connections.discard(self)
        if self.idle_handle is not None:
            self.idle_handle.cancel()

    def _arm_idle(self) -> None:
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        self.idle_handle = self.listener.clock.call_later(self.listener.limits.idle_timeout, self._idle,
                                                          asyncio.get_running_loop())

    def _idle(self) -> None:
        if self.pending or self.stalled:
            self._arm_idle()
            return
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.stalled:
            return
        self.buffer += data
        self._arm_idle()
        while len(self.buffer) >= 2:
            (length,) = struct.unpack_from("!H", self.buffer)
            if len(self.buffer) < 2 + length:
                break
            wire = bytes(self.buffer[2 : 2 + length])
            del self.buffer[: 2 + length]
            self._act(self.listener.handler(wire, self.peer, self.listener.local, "tcp"))
            if self.transport is None or self.transport.is_closing() or self.stalled:
                break

    def _act(self, outcome: Outcome) -> None:
        if isinstance(outcome, Stall):
            self.stalled = True
            return
        if outcome.delay > 0:
            self.pending += 1
            self.listener.clock.call_later(outcome.delay, functools.partial(self._delayed, outcome),
                                           asyncio.get_running_loop())
        else:
            self._do(outcome)

    def _delayed(self, outcome: Outcome) -> None:
        self.pending -= 1
        self._do(outcome)
        self._arm_idle()

    def _do(self, outcome: Outcome) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if isinstance(outcome, Reply):
            transport.write(b"".join(struct.pack("!H", len(m)) + m for m in outcome.messages))
            if outcome.close_after:
                transport.close()
        elif isinstance(outcome, Close):
            transport.close()
        elif isinstance(outcome, Reset):
            self.abort()

    def abort(self) -> None:
        """Close with a TCP reset."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()
