"""TCP transport per RFC 7766: 2-byte framing, pipelining, idle timeout, connection limit.

Several queries on one connection are answered as each completes (a delayed
reply does not hold up later ones). A connection idle for ``idle_timeout``
seconds with no reply pending is closed; a connection beyond
``max_connections`` is closed at once. A client that sends half a frame
holds only its own connection. Delays and the idle timeout wait on the
server's clock (``Clock.call_later``: a ManualClock moves them).

A :class:`~fakens.outcome.Stream` (a zone transfer) is written with
backpressure: its messages are pulled one at a time while the connection takes
data, for at most ``STREAM_SLICE`` seconds per turn of the event loop (other
connections and servers run in between); while the write buffer is above its
high-water mark (``pause_writing``) nothing is pulled, and pulling resumes when
it drains. A stream on a connection that is lost or closed is closed (its
producer stops where it was). A stream paused for ``idle_timeout`` (a client
that stopped reading) is aborted. Replies to other queries on the connection
are written between stream messages (RFC 5936 section 4.2); a second stream
waits for the first.

A listener can be paused (its socket closed, so connections are refused, and
its connections aborted) and resumed on the same address::

    listener.pause()
    listener.resume()      # ServerError when the address cannot be bound again
"""

from __future__ import annotations

import asyncio
import collections
import functools
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from fakens.clock import Clock, SystemClock, Timer
from fakens.errors import ServerError
from fakens.outcome import Close, Outcome, Reply, Reset, Stall, Stream
from fakens.transport.bind import bind_tcp
from fakens.transport.udp import Handler

DEFAULT_IDLE_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
BACKLOG = 256
STREAM_SLICE = 0.005
"""Seconds a stream's producer may run per turn of the event loop."""


@dataclass(frozen=True)
class TcpLimits:
    """TCP limits of a server (defaults: 10 s idle, 100 connections)."""

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS


class TcpListener:
    """A bound TCP socket accepting DNS connections; :meth:`pause` and :meth:`resume` it."""

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
        self.paused = False
        self._opening: asyncio.Future[None] | None = None  # a resumed socket being set up

    @classmethod
    async def start(cls, sock: socket.socket, handler: Handler, limits: TcpLimits,
                    on_connect: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None,
                    clock: Clock | None = None) -> TcpListener:
        """Listen on an already bound socket. *on_connect(peer, local)* may answer
        "reset" or "close" to refuse a connection before any query is read.
        Idle timeouts and delays wait on *clock* (default: real time)."""
        sock.listen(BACKLOG)
        listener = cls(handler, limits, sock.getsockname()[:2], on_connect, clock)
        listener.server = await listener._serve(sock)
        return listener

    async def _serve(self, sock: socket.socket) -> asyncio.AbstractServer:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: _Connection(self), sock=sock, backlog=BACKLOG)

    def pause(self) -> None:
        """Stop accepting: close the listening socket (connections are refused)
        and abort every open connection. Call it in the listener's loop."""
        if self.paused or self.closing:
            return
        self.paused = True
        if self.server is not None:
            self.server.close()
            self.server = None
        # (a resume still being set up closes what it opened when it sees ``paused``)
        for connection in list(self.connections):
            connection.abort()

    def resume(self) -> None:
        """Listen again on the same address and port. The socket is bound and
        listening when this returns (connections queue until the loop serves
        them); a bind error raises ServerError naming the address and the
        system's reason, and the listener stays paused. Call it in the listener's loop."""
        if not self.paused or self.closing:
            return
        if self._opening is None:  # else the one being set up serves, seeing ``paused`` unset
            host, port = self.local
            sock = bind_tcp(host, port)
            try:
                sock.listen(BACKLOG)
            except OSError as e:
                sock.close()
                raise ServerError(f"cannot listen on {host}#{port} again: {e.strerror}") from None
            self._opening = asyncio.ensure_future(self._open(sock))
        self.paused = False

    async def _open(self, sock: socket.socket) -> None:
        try:
            server = await self._serve(sock)
        except BaseException:
            sock.close()
            raise
        finally:
            self._opening = None
        if self.paused or self.closing:  # paused again (or closed) while it was set up
            server.close()
            return
        self.server = server

    async def close(self) -> None:
        """Stop listening and close every connection at once (also one accepted
        but not yet set up: it aborts itself when it sees ``closing``)."""
        self.closing = True
        # Let connections already accepted by the loop but not yet set up reach
        # connection_made (which aborts them, seeing ``closing``) before the
        # listener goes: after it, asyncio could no longer attach them.
        for _ in range(3):
            await asyncio.sleep(0)
        if self._opening is not None:
            await asyncio.gather(self._opening, return_exceptions=True)  # it closes the server it opened
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
        self.streams: collections.deque[Stream] = collections.deque()  # the first one is being written
        self.paused = False  # the write buffer is above its high-water mark
        self.pump_handle: asyncio.Handle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")[:2]
        if self.listener.closing or self.listener.paused:
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
        self._end_streams()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.streams:
            self._arm_idle()  # the client reads: the stream is making progress
            self._schedule_pump()

    def _arm_idle(self) -> None:
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        self.idle_handle = self.listener.clock.call_later(self.listener.limits.idle_timeout, self._idle,
                                                          asyncio.get_running_loop())

    def _idle(self) -> None:
        if self.pending or self.stalled or (self.streams and not self.paused):
            self._arm_idle()
            return
        if self.transport is not None:
            if self.streams:  # paused all along: the client stopped reading; a close would wait for it forever
                self.abort()
            else:
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
            if isinstance(outcome, Stream):
                _close(outcome)
            return
        if isinstance(outcome, Reply):
            transport.write(b"".join(struct.pack("!H", len(m)) + m for m in outcome.messages))
        elif isinstance(outcome, Stream):
            self.streams.append(outcome)
            if len(self.streams) == 1:
                self._pump()
        elif isinstance(outcome, Close):
            transport.close()
        elif isinstance(outcome, Reset):
            self.abort()

    def _schedule_pump(self) -> None:
        if self.pump_handle is None:
            self.pump_handle = asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        """Write the first stream's messages while the connection takes them, for one slice."""
        self.pump_handle = None
        deadline = time.perf_counter() + STREAM_SLICE
        while self.streams and not self.paused:
            transport = self.transport
            if transport is None or transport.is_closing():
                self._end_streams()
                return
            stream = self.streams[0]
            try:
                message = next(stream.messages)
            except StopIteration:
                self.streams.popleft()
                if stream.close_after:
                    transport.close()
                    self._end_streams()
                    return
                continue
            except Exception as e:  # a broken producer: end the connection, report it, keep serving
                self.streams.popleft()
                self.abort()
                asyncio.get_running_loop().call_exception_handler(
                    {"message": "fakens: a TCP stream's producer failed", "exception": e, "protocol": self})
                return
            if message is not None:
                transport.write(struct.pack("!H", len(message)) + message)
            if time.perf_counter() >= deadline:
                self._schedule_pump()  # let the loop run other work, then go on
                return

    def _end_streams(self) -> None:
        """The connection is gone or going: stop every producer where it is."""
        if self.pump_handle is not None:
            self.pump_handle.cancel()
            self.pump_handle = None
        while self.streams:
            _close(self.streams.popleft())

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


def _close(stream: Stream) -> None:
    """Stop a stream's producer (a generator gets GeneratorExit where it stopped)."""
    close = getattr(stream.messages, "close", None)
    if close is not None:
        close()
