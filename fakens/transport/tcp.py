"""TCP transport per RFC 7766: 2-byte framing, pipelining, timeouts, connection limits, flow control.

Several queries on one connection are answered as each completes (a delayed
reply does not hold up later ones); the replies to queries read together and answered at
once go out in one write (per ``WRITE_BATCH`` bytes), in order. Every timer waits on the server's clock
(``Clock.call_later``: a ManualClock moves them; a delayed reply with
``clock.call_later_peer``, which a paused LabClock lets elapse in real time too). The limits (:class:`TcpLimits`):

- ``idle_timeout`` (10 s): a connection with nothing read, pending or being
  written for this long is closed.
- ``query_timeout`` (2 s): one whole query must arrive within this time of
  its first byte (a slowloris client, one byte a second, is closed; the idle
  timer does not restart on every byte).
- ``max_connections`` (100) per listener and ``max_per_client`` (20) per
  client address: a connection beyond a client's own limit is refused (reset)
  at once; at the global limit the connection idle longest is closed to admit
  the new one (RFC 7766 section 6.2.3), and only when none is idle is the new
  one refused. So idle hogs, and a hog that reopens every closed connection,
  cannot lock other clients out.
- ``max_pipelined`` (100): at most this many unanswered queries (delayed
  replies, transfers being sent or waiting) per connection; beyond it the
  connection is not read until some are answered.
- Flow control: while the transport's write buffer is above its high-water
  mark (``pause_writing``, a client that does not read), nothing more is read
  from the connection and no stream message is made. A connection whose
  output does not drain for ``write_timeout`` (5 s), or that buffers more than
  ``max_buffered`` bytes (1 MiB), is aborted (TCP reset, its buffer dropped),
  never closed gracefully (a graceful close would wait for the client). A
  connection being closed or aborted no longer counts against the limits; a
  graceful close that has not drained within ``write_timeout`` is aborted.
- ``max_transfers`` (10) per server (a :class:`TransferSlots` shared by its
  listeners): streams (zone transfers) sent at once; others wait for a slot.

A :class:`~fakens.outcome.Stream` (a zone transfer) is written with
backpressure: its messages are pulled one at a time while the connection takes
data, for at most ``STREAM_SLICE`` seconds per turn of the event loop (other
connections and servers run in between); while the write buffer is above its
high-water mark nothing is pulled, and pulling resumes when it drains. A
stream on a connection that is lost or closed is closed (its producer stops
where it was). A stream paused for ``idle_timeout`` (a client that stopped
reading) is aborted. Replies to other queries on the connection are written
between stream messages (RFC 5936 section 4.2); a second stream waits for
the first.

A listener can be paused (its socket closed, so connections are refused, and
its connections aborted) and resumed on the same address::

    listener.pause()
    listener.resume()      # ServerError when the address cannot be bound again
"""

from __future__ import annotations

import asyncio
import collections
import functools
import itertools
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from fakens.clock import Clock, SystemClock, Timer, call_later_peer
from fakens.errors import ServerError
from fakens.outcome import Close, Outcome, Reply, Reset, Stall, Stream
from fakens.transport.bind import bind_tcp
from fakens.transport.udp import Handler

WRITE_BATCH = 16384
"""Bytes of replies a connection gathers before it writes them (flow control acts between writes)."""

DEFAULT_IDLE_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_MAX_PER_CLIENT = 20
DEFAULT_QUERY_TIMEOUT = 2.0
DEFAULT_WRITE_TIMEOUT = 5.0
DEFAULT_MAX_PIPELINED = 100
DEFAULT_MAX_BUFFERED = 1024 * 1024
DEFAULT_MAX_TRANSFERS = 10
BACKLOG = 256
STREAM_SLICE = 0.005
"""Seconds a stream's producer may run per turn of the event loop."""


@dataclass(frozen=True)
class TcpLimits:
    """TCP limits of a server (see the module docstring for what each does)::

        TcpLimits(idle_timeout=10.0, max_connections=100, max_per_client=20, query_timeout=2.0,
                  write_timeout=5.0, max_pipelined=100, max_buffered=1 << 20, max_transfers=10)
    """

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_per_client: int = DEFAULT_MAX_PER_CLIENT
    query_timeout: float = DEFAULT_QUERY_TIMEOUT
    write_timeout: float = DEFAULT_WRITE_TIMEOUT
    max_pipelined: int = DEFAULT_MAX_PIPELINED
    max_buffered: int = DEFAULT_MAX_BUFFERED
    max_transfers: int = DEFAULT_MAX_TRANSFERS

    def problems(self) -> list[str]:
        """What is wrong with these values, as ``name: must be ...`` texts (empty: nothing)."""
        out = []
        for name in ("idle_timeout", "query_timeout", "write_timeout"):
            if not getattr(self, name) > 0:
                out.append(f"{name} {getattr(self, name)}: must be above 0 seconds")
        for name in ("max_connections", "max_per_client", "max_pipelined", "max_transfers"):
            if getattr(self, name) < 1:
                out.append(f"{name} {getattr(self, name)}: must be at least 1")
        if self.max_buffered < 65536:
            out.append(f"max_buffered {self.max_buffered}: must be at least 65536 bytes (one DNS message)")
        return out


class TransferSlots:
    """How many streams a server sends at once (its listeners share one); the others wait, in order::

        slots = TransferSlots(10)
        slots.active      # streams being sent now
        slots.waiting     # connections waiting for a slot
    """

    def __init__(self, limit: int = DEFAULT_MAX_TRANSFERS) -> None:
        self.limit = limit
        self.active = 0
        self._waiting: collections.deque[_Connection] = collections.deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def acquire(self, connection: _Connection) -> bool:
        """A slot for *connection* (True), or False: it is queued and pumped when one frees."""
        if self.active < self.limit:
            self.active += 1
            return True
        if connection not in self._waiting:
            self._waiting.append(connection)
        return False

    def release(self) -> None:
        """A stream ended: its slot goes to the first connection waiting, if any."""
        while self._waiting:
            connection = self._waiting.popleft()
            if connection.streams and not connection.gone:
                connection.has_slot = True  # handed over: ``active`` stays
                connection.schedule_pump()
                return
        self.active -= 1

    def forget(self, connection: _Connection) -> None:
        try:
            self._waiting.remove(connection)
        except ValueError:
            pass


class TcpListener:
    """A bound TCP socket accepting DNS connections; :meth:`pause` and :meth:`resume` it."""

    def __init__(self, handler: Handler, limits: TcpLimits, local: tuple[str, int],
                 on_connect: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None,
                 clock: Clock | None = None, transfers: TransferSlots | None = None) -> None:
        self.handler = handler
        self.clock: Clock = clock or SystemClock()  # timeouts and delays wait on it
        self.on_connect = on_connect
        self.limits = limits
        self.local = local
        self.transfers = transfers or TransferSlots(limits.max_transfers)
        self.connections: set[_Connection] = set()  # those counting against the limits
        self.ending: set[_Connection] = set()  # closed or aborted, not yet gone
        self.server: asyncio.AbstractServer | None = None
        self.closing = False
        self.paused = False
        self.refused = 0  # connections refused by the limits
        self.evicted = 0  # idle connections closed to admit a new one
        self.aborted = 0  # connections aborted by a deadline or the buffer cap
        self._ticks = itertools.count()  # orders connections by their last activity
        self._opening: asyncio.Future[None] | None = None  # a resumed socket being set up

    @classmethod
    async def start(cls, sock: socket.socket, handler: Handler, limits: TcpLimits,
                    on_connect: Callable[[tuple[str, int], tuple[str, int]], str | None] | None = None,
                    clock: Clock | None = None, transfers: TransferSlots | None = None) -> TcpListener:
        """Listen on an already bound socket. *on_connect(peer, local)* may answer
        "reset" or "close" to refuse a connection before any query is read.
        Timeouts and delays wait on *clock* (default: real time); *transfers*: the
        server's transfer slots (default: this listener's own)."""
        sock.listen(BACKLOG)
        listener = cls(handler, limits, sock.getsockname()[:2], on_connect, clock, transfers)
        listener.server = await listener._serve(sock)
        return listener

    def tick(self) -> int:
        return next(self._ticks)

    def admit(self, connection: _Connection) -> bool:
        """May *connection* count against the limits (closing the connection idle longest
        when the listener is full)?"""
        peer = connection.peer[0]
        if sum(1 for c in self.connections if c.peer[0] == peer) >= self.limits.max_per_client:
            return False
        if len(self.connections) >= self.limits.max_connections:
            idle = [c for c in self.connections if c.idle()]
            if not idle:
                return False
            oldest = min(idle, key=lambda c: c.active_at)
            self.evicted += 1
            oldest.close()
        return True

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
        for connection in list(self.connections | self.ending):
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
        for connection in list(self.connections | self.ending):
            connection.abort()
        if self.server is not None:
            await self.server.wait_closed()


class _Connection(asyncio.Protocol):
    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.limits = listener.limits
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.pending = 0  # delayed outcomes not carried out yet
        self.stalled = False
        self.gone = False  # closed or aborted by this side, or lost
        self.has_slot = False  # the first stream holds one of the server's transfer slots
        self.idle_handle: Timer | None = None
        self.query_handle: Timer | None = None  # the deadline of the query being read
        self.write_handle: Timer | None = None  # the deadline for the output to drain
        self.peer: tuple[str, int] = ("", 0)
        self.streams: collections.deque[Stream] = collections.deque()  # the first one is being written
        self.paused = False  # the write buffer is above its high-water mark
        self.reading = True
        self.pump_handle: asyncio.Handle | None = None
        self.process_handle: asyncio.Handle | None = None
        self.active_at = 0

    # -- the connection's life ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername")[:2]
        listener = self.listener
        if listener.closing or listener.paused:
            self.abort()
            return
        if not listener.admit(self):
            listener.refused += 1
            self.abort()
            return
        if listener.on_connect is not None:
            action = listener.on_connect(self.peer, listener.local)
            if action == "reset":
                self.abort()
                return
            if action == "close":
                self.close()
                return
        listener.connections.add(self)
        self.active_at = listener.tick()
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        self.listener.connections.discard(self)
        self.listener.ending.discard(self)
        for handle in (self.idle_handle, self.query_handle, self.write_handle):
            if handle is not None:
                handle.cancel()
        if self.process_handle is not None:
            self.process_handle.cancel()
        self._end_streams()

    def idle(self) -> bool:
        """Nothing read, pending or being written: a connection that may be closed to admit another."""
        return (not self.pending and not self.streams and not self.stalled and not self.buffer
                and self.transport is not None and self.transport.get_write_buffer_size() == 0)

    def _ending(self) -> None:
        """Closed or aborted by this side: no longer counted against the limits."""
        self.gone = True
        self.listener.connections.discard(self)
        self.listener.ending.add(self)
        self._end_streams()

    def close(self) -> None:
        """Close gracefully; aborted when the output has not drained within ``write_timeout``."""
        if self.transport is None or self.transport.is_closing():
            return
        self._ending()
        self.transport.close()
        if self.transport.get_write_buffer_size():
            self._arm_write()

    def abort(self) -> None:
        """Close with a TCP reset, dropping what is buffered."""
        if self.transport is None:
            return
        self._ending()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()

    def _overdue(self) -> None:
        """A deadline passed with the output not drained (or the buffer cap reached)."""
        if (self.transport is not None and not self.transport.is_closing()) or self.write_handle is not None:
            self.listener.aborted += 1
        self.write_handle = None
        self.abort()

    # -- timers --------------------------------------------------------------------------------

    def _later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        return self.listener.clock.call_later(seconds, callback, asyncio.get_running_loop())

    def _arm_idle(self) -> None:
        if self.idle_handle is not None:
            self.idle_handle.cancel()
        self.idle_handle = self._later(self.limits.idle_timeout, self._idle)

    def _idle(self) -> None:
        if self.gone:
            return
        if self.pending or self.stalled or (self.streams and not self.paused) or self.buffer:
            self._arm_idle()
            return
        if self.streams:  # paused all along: the client stopped reading; a close would wait for it forever
            self._overdue()
        else:
            self.close()

    def _arm_write(self) -> None:
        if self.write_handle is None:
            self.write_handle = self._later(self.limits.write_timeout, self._overdue)

    def _disarm_write(self) -> None:
        if self.write_handle is not None:
            self.write_handle.cancel()
            self.write_handle = None

    def _query_overdue(self) -> None:
        self.query_handle = None
        if not self.gone:
            self.close()  # a query not whole within query_timeout of its first byte

    # -- flow control --------------------------------------------------------------------------

    def pause_writing(self) -> None:
        self.paused = True
        self._arm_write()
        self._update_reading()

    def resume_writing(self) -> None:
        self.paused = False
        self._disarm_write()
        if self.gone:
            return
        if self.streams:
            self._arm_idle()  # the client reads: the stream is making progress
            self.schedule_pump()
        self._update_reading()

    def _unanswered(self) -> int:
        return self.pending + len(self.streams)

    def _held(self) -> bool:
        """Should nothing more be read now (the client does not read, or too much is unanswered)?"""
        return self.paused or self._unanswered() >= self.limits.max_pipelined

    def _update_reading(self) -> None:
        transport = self.transport
        if transport is None or self.gone or transport.is_closing():
            return
        if self._held():
            if self.reading:
                self.reading = False
                transport.pause_reading()
                if self.query_handle is not None:  # the client is not to blame for what waits unread
                    self.query_handle.cancel()
                    self.query_handle = None
        elif not self.reading:
            self.reading = True
            transport.resume_reading()
            if self.buffer and self.process_handle is None:
                self.process_handle = asyncio.get_running_loop().call_soon(self._process)

    def _wrote(self) -> None:
        """After a write: abort a connection that buffers more than ``max_buffered``."""
        if self.transport is not None and self.transport.get_write_buffer_size() > self.limits.max_buffered:
            self._overdue()

    # -- reading -------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.stalled or self.gone:
            return
        self.buffer += data
        self.active_at = self.listener.tick()
        self._arm_idle()
        self._process()

    def _process(self) -> None:
        """Answer the whole frames in the buffer while the connection may be read. The replies
        answered at once go out together, in order (one write per ``WRITE_BATCH`` bytes, not
        one per reply), before any other outcome is carried out."""
        self.process_handle = None
        completed = False
        buffer = self.buffer
        at = 0  # the frames before it are read (the buffer is cut once, at the end)
        batch: list[bytes] = []
        batched = 0
        handler, peer, local = self.listener.handler, self.peer, self.listener.local
        while len(buffer) - at >= 2 and not self._held():
            length = (buffer[at] << 8) | buffer[at + 1]
            if len(buffer) - at < 2 + length:
                break
            wire = bytes(buffer[at + 2 : at + 2 + length])
            at += 2 + length
            completed = True
            outcome = handler(wire, peer, local, "tcp")
            if type(outcome) is Reply and outcome.delay <= 0:
                for message in outcome.messages:
                    batch.append(len(message).to_bytes(2, "big"))
                    batch.append(message)
                    batched += 2 + len(message)
                if batched < WRITE_BATCH:
                    continue
                self._write_batch(batch)
                batch, batched = [], 0
            else:
                if batch:
                    self._write_batch(batch)
                    batch, batched = [], 0
                self._act(outcome)
            if self.transport is None or self.transport.is_closing() or self.stalled or self.gone:
                del buffer[:at]
                return
        del buffer[:at]
        if batch:
            self._write_batch(batch)
            if self.transport is None or self.transport.is_closing() or self.gone:
                return
        self._update_reading()
        if not self.buffer or not self.reading:
            if self.query_handle is not None:
                self.query_handle.cancel()
                self.query_handle = None
        elif completed or self.query_handle is None:  # a new query has begun
            if self.query_handle is not None:
                self.query_handle.cancel()
            self.query_handle = self._later(self.limits.query_timeout, self._query_overdue)

    def _write_batch(self, frames: list[bytes]) -> None:
        """Write framed replies (length, message, length, message ...) at once."""
        transport = self.transport
        if transport is None or transport.is_closing() or self.gone:
            return
        transport.write(b"".join(frames))
        self._wrote()

    # -- carrying out outcomes -----------------------------------------------------------------

    def _act(self, outcome: Outcome) -> None:
        if isinstance(outcome, Stall):
            self.stalled = True
            return
        if outcome.delay > 0:
            self.pending += 1
            call_later_peer(self.listener.clock, outcome.delay, functools.partial(self._delayed, outcome),
                            asyncio.get_running_loop())
        else:
            self._do(outcome)

    def _delayed(self, outcome: Outcome) -> None:
        self.pending -= 1
        self._do(outcome)
        if not self.gone:
            self._arm_idle()
            self._update_reading()

    def _do(self, outcome: Outcome) -> None:
        transport = self.transport
        if transport is None or transport.is_closing() or self.gone:
            if isinstance(outcome, Stream):
                _close(outcome)
            return
        if isinstance(outcome, Reply):
            transport.write(b"".join(struct.pack("!H", len(m)) + m for m in outcome.messages))
            self._wrote()
        elif isinstance(outcome, Stream):
            self.streams.append(outcome)
            if len(self.streams) == 1:
                self._pump()
        elif isinstance(outcome, Close):
            self.close()
        elif isinstance(outcome, Reset):
            self.abort()

    def schedule_pump(self) -> None:
        if self.pump_handle is None and not self.gone:
            self.pump_handle = asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        """Write the first stream's messages while the connection takes them, for one slice."""
        self.pump_handle = None
        deadline = time.perf_counter() + STREAM_SLICE
        while self.streams and not self.paused:
            transport = self.transport
            if transport is None or transport.is_closing() or self.gone:
                self._end_streams()
                return
            if not self.has_slot:
                if not self.listener.transfers.acquire(self):
                    return  # pumped again when a slot is handed over
                self.has_slot = True
            stream = self.streams[0]
            try:
                message = next(stream.messages)
            except StopIteration:
                self.streams.popleft()
                self._release_slot()
                if stream.close_after:
                    self.close()
                    return
                self._update_reading()
                continue
            except Exception as e:  # a broken producer: end the connection, report it, keep serving
                self.streams.popleft()
                self._release_slot()
                self.abort()
                asyncio.get_running_loop().call_exception_handler(
                    {"message": "fakens: a TCP stream's producer failed", "exception": e, "protocol": self})
                return
            if message is not None:
                transport.write(struct.pack("!H", len(message)) + message)
                self._wrote()
            if time.perf_counter() >= deadline:
                self.schedule_pump()  # let the loop run other work, then go on
                return

    def _release_slot(self) -> None:
        if self.has_slot:
            self.has_slot = False
            self.listener.transfers.release()

    def _end_streams(self) -> None:
        """The connection is gone or going: stop every producer where it is."""
        if self.pump_handle is not None:
            self.pump_handle.cancel()
            self.pump_handle = None
        self.listener.transfers.forget(self)
        self._release_slot()
        while self.streams:
            _close(self.streams.popleft())


def _close(stream: Stream) -> None:
    """Stop a stream's producer (a generator gets GeneratorExit where it stopped)."""
    close = getattr(stream.messages, "close", None)
    if close is not None:
        close()
