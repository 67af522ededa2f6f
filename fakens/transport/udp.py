"""UDP transport: datagrams in, the outcome's messages out.

The socket is read directly from the event loop's reader callback, draining up
to ``BATCH`` datagrams per wake-up, and replies are sent with ``sendto``: no
per-datagram transport machinery. While more datagrams are waiting, replies are
held and sent ``HOLD`` at a time, in order, and whatever is held goes as soon as
the socket has nothing more to read: a lone query's reply is never held, and under
load the client, woken by the first of a run of replies, is awake for the others
(waking a sleeping client on each reply cost about a third of the server's time
with distinct questions: 25k -> 34k qps on the 100k zone, pinned). A reply the kernel cannot take
(send buffer full) is dropped, as UDP may drop it anyway; ``dropped`` counts
them, and a reply that is not bytes-like (a bug) too: the others still go, once, and its
TypeError is raised from the reader for the event loop to report. A delayed reply waits on the server's clock (``clock.call_later_peer``: a LabClock
lets it elapse in real time while paused) and holds up no other reply.

Where the optional C accelerator ``fakens._udpbatch`` is built (Linux, a C compiler at
install time), the same loop takes the waiting datagrams with one ``recvmmsg`` and sends
each run of held replies with one ``sendmmsg``: the per-datagram system calls were about a
third of the server's time with repeated questions (0.70-1.02x -> 0.96-1.18x NSD's rate, stop 27, small and 100k
zone, pinned). ``ACCELERATED`` says whether it is in use; setting
``UdpEndpoint.accelerated = False`` before ``start`` keeps an endpoint on the pure-Python
path, which behaves the same.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Callable

from fakens.clock import Clock, SystemClock, call_later_peer
from fakens.outcome import Outcome, Reply

try:
    import fakens._udpbatch as _udpbatch
except ImportError:  # not built (no C compiler at install time, not Linux): the pure-Python path
    _udpbatch = None  # type: ignore[assignment]
ACCELERATED = _udpbatch is not None

Address = tuple[str, int] | tuple[str, int, int, int]  # as socket.recvfrom gives it: IPv4, IPv6
Handler = Callable[[bytes, tuple[str, int], tuple[str, int], str], Outcome]
BATCH = 64
HOLD = 16
MAX_DATAGRAM = 65535
# datagrams per recvmmsg and per sendmmsg: the accelerator takes at most MAX_BATCH a call
RUN = min(BATCH, _udpbatch.MAX_BATCH) if _udpbatch is not None else BATCH


class UdpEndpoint:
    """A bound UDP socket that hands datagrams to the server's handler."""

    accelerated: bool = ACCELERATED  # recvmmsg/sendmmsg through fakens._udpbatch

    def __init__(self, sock: socket.socket, handler: Handler, loop: asyncio.AbstractEventLoop,
                 clock: Clock | None = None) -> None:
        self.sock = sock
        self.handler = handler
        self.loop = loop
        self.clock: Clock = clock or SystemClock()
        self.local: tuple[str, int] = sock.getsockname()[:2]
        self.dropped = 0
        self.closed = False

    @classmethod
    async def start(cls, sock: socket.socket, handler: Handler, clock: Clock | None = None) -> UdpEndpoint:
        """Serve on an already bound, non-blocking socket; delays wait on *clock* (default: real time)."""
        endpoint = cls(sock, handler, asyncio.get_running_loop(), clock)
        readable = endpoint._readable_batched if endpoint.accelerated and _udpbatch is not None else endpoint._readable
        endpoint.loop.add_reader(sock.fileno(), readable)
        return endpoint

    def _readable_batched(self) -> None:
        """``_readable`` with one recvmmsg per run of waiting datagrams and one sendmmsg per run of replies."""
        held: list[tuple[bytes, Address]] = []
        receive, handler, local, fd = _udpbatch.recv_batch, self.handler, self.local, self.sock.fileno()
        received = 0
        failure: Exception | None = None
        try:
            while received < BATCH and not self.closed:
                wanted = min(BATCH - received, RUN)
                try:
                    datagrams = receive(fd, wanted)
                except OSError:
                    received += 1
                    continue  # an ICMP error for an earlier reply: nothing to do
                for data, addr in datagrams:
                    try:
                        outcome = handler(data, addr[:2], local, "udp")
                    except Exception as error:  # the others read with it are still answered
                        failure = failure or error
                        continue
                    if isinstance(outcome, Reply) and outcome.messages:
                        if outcome.delay > 0:
                            call_later_peer(self.clock, outcome.delay, functools.partial(self._send, outcome.messages, addr), self.loop)
                        else:
                            for message in outcome.messages:
                                held.append((message, addr))
                            if len(held) >= HOLD:
                                unsendable = self._send_batch(held)
                                failure = failure or unsendable
                if len(datagrams) < wanted:
                    break  # the socket is drained
                received += len(datagrams)
        finally:
            unsendable = self._send_batch(held)
        failure = failure or unsendable
        if failure is not None:
            raise failure

    def _send_batch(self, held: list[tuple[bytes, Address]]) -> Exception | None:
        """Send *held* and empty it. A reply that cannot be sent at all (not bytes-like: a bug) is
        counted in ``dropped``, the others still go, and its error is returned for the caller to raise."""
        failure: Exception | None = None
        try:
            if not self.closed:
                fd, send, start = self.sock.fileno(), _udpbatch.send_batch, 0
                while start < len(held):
                    run = held[start:start + RUN]
                    try:
                        sent = send(fd, run)
                    except (TypeError, ValueError):  # (nothing of the run sent) one at a time, to find it
                        try:
                            self._send_held([([message], addr) for message, addr in run])
                        except (TypeError, ValueError) as error:
                            failure = failure or error
                        start += len(run)
                        continue
                    start += sent
                    if sent < len(run):
                        self.dropped += 1  # the kernel refused this one (send buffer full or another failure)
                        start += 1
        finally:  # never sent twice
            held.clear()
        return failure

    def _readable(self) -> None:
        held: list[tuple[list[bytes], Address]] = []
        receive, handler, local = self.sock.recvfrom, self.handler, self.local
        try:
            for _ in range(BATCH):
                try:
                    data, addr = receive(MAX_DATAGRAM)
                except (BlockingIOError, InterruptedError):
                    return
                except OSError:
                    continue  # an ICMP error for an earlier reply: nothing to do
                outcome = handler(data, addr[:2], local, "udp")
                if isinstance(outcome, Reply) and outcome.messages:
                    if outcome.delay > 0:
                        call_later_peer(self.clock, outcome.delay, functools.partial(self._send, outcome.messages, addr), self.loop)
                    else:
                        held.append((outcome.messages, addr))
                        if len(held) == HOLD:
                            self._send_held(held)
        finally:
            self._send_held(held)

    def _send_held(self, held: list[tuple[list[bytes], Address]]) -> None:
        """Send *held* and empty it (what _send does for each, without a call each). A reply that
        cannot be sent at all (not bytes-like: a bug) is counted in ``dropped``, the others still go,
        then its error is raised."""
        failure: Exception | None = None
        try:
            if not self.closed:
                sendto = self.sock.sendto
                for messages, addr in held:
                    for message in messages:
                        try:
                            sendto(message, addr)
                        except OSError:  # the send buffer full (BlockingIOError) or another failure
                            self.dropped += 1
                        except (TypeError, ValueError) as error:
                            self.dropped += 1
                            failure = failure or error
        finally:  # never sent twice
            held.clear()
        if failure is not None:
            raise failure

    def _send(self, messages: list[bytes], addr: Address) -> None:
        if self.closed:
            return
        for message in messages:
            try:
                self.sock.sendto(message, addr)
            except (BlockingIOError, InterruptedError):
                self.dropped += 1
            except OSError:
                self.dropped += 1

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        """Send a datagram from this endpoint's address (NOTIFY uses it)."""
        self._send([data], addr)

    async def close(self) -> None:
        """Stop reading and release the socket at once."""
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
