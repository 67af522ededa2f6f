"""Network faults (what a client sees of the path to the server): drop, delay,
truncate, tcp-refused, oversize, rate-limit."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from fakens.faults.base import Fault, Param, register
from fakens.faults.view import Act, ErrorReply
from fakens.outcome import Close, Drop, Reset, Stall
from fakens.wire import MAX_TCP, Opt

if TYPE_CHECKING:
    from fakens.faults.view import Encoding, View
    from fakens.outcome import Outcome


@register
class DropFault(Fault):
    """Name: drop

    Imitates: a server that is down or behind a firewall that eats packets.

    Parameters: ``tcp``: what a TCP query gets: ``stall`` (default: the connection
    stays open and is never answered), ``close`` or ``reset``.

    Client sees: no reply over UDP (a timeout); over TCP silence, EOF or a reset.

    Example: ``drop qtype=AAAA``
    """

    type_name = "drop"
    summary = "no reply over UDP; over TCP never answered, closed or reset"
    params = {"tcp": Param("str", "stall", "stall, close or reset")}

    def validate(self) -> None:
        if self.tcp not in ("stall", "close", "reset"):
            from fakens.errors import ConfigError

            raise ConfigError(f"fault drop: tcp={self.tcp!r}; valid: stall, close, reset")

    def before(self, view: View) -> Act | None:
        if view.transport == "udp":
            return Act("dropped", Drop())
        outcomes: dict[str, Outcome] = {"stall": Stall(), "close": Close(), "reset": Reset()}
        return Act(f"TCP {self.tcp}", outcomes[self.tcp])


@register
class Delay(Fault):
    """Name: delay

    Imitates: a slow or far-away server.

    Parameters: ``ms`` (default 1000): the delay; ``jitter`` (default 0): a
    uniformly drawn extra 0..jitter ms from the fault's own generator (``seed``).

    Client sees: the normal reply, late. A delayed reply never holds up another
    query's reply (also on the same TCP connection). Delays wait on the
    server's clock (real time by default; a ManualClock moves them); a lab's
    clock (LabClock) lets them elapse in real time even while it is paused
    (``fakens lab verify``), and moving it releases them too.

    Example: ``delay ms=300 jitter=100 seed=1``
    """

    type_name = "delay"
    summary = "reply after a fixed delay with optional jitter"
    params = {
        "ms": Param("float", 1000.0, "delay in milliseconds"),
        "jitter": Param("float", 0.0, "extra random delay, 0..jitter milliseconds"),
    }

    def validate(self) -> None:
        if self.ms < 0 or self.jitter < 0:
            from fakens.errors import ConfigError

            raise ConfigError("fault delay: ms and jitter must be 0 or more")
        self._rng = random.Random(self.schedule.seed)

    def before(self, view: View) -> Act | None:
        with self.lock:
            extra = self._rng.uniform(0, self.jitter) if self.jitter else 0.0
        seconds = (self.ms + extra) / 1000
        return Act(f"delayed {seconds * 1000:.0f} ms", delay=seconds)


@register
class Truncate(Fault):
    """Name: truncate

    Imitates: a server whose answers do not fit UDP, forcing the client to TCP.

    Selectors: UDP unless ``transport`` is given.

    Client sees: TC=1 with the question (and OPT) and empty sections (what fakens
    itself sends when an answer does not fit); the retry over TCP gets the full answer.

    Example: ``truncate qname=big.example.test.``
    """

    type_name = "truncate"
    summary = "UDP reply with TC=1, forcing a TCP retry"
    default_selector = {"transport": "udp"}

    def encoding(self, view: View, enc: Encoding) -> str | None:
        enc.tc = True
        return "TC=1, sections emptied"


@register
class Oversize(Fault):
    """Name: oversize

    Imitates: a server or middlebox that sends UDP replies larger than the client
    said it can take, without TC.

    Parameters: ``size`` (default 0): pad the reply (EDNS padding option) to at
    least this many bytes; 0 sends the full answer unpadded. To carry the padding,
    a reply to a query without EDNS gets an OPT record too.

    Client sees: a UDP reply bigger than its advertised size (512 without EDNS), TC=0.

    Example: ``oversize size=1400``
    """

    type_name = "oversize"
    summary = "UDP reply larger than the client's size, TC=0"
    params = {"size": Param("int", 0, "pad to at least this many bytes")}
    default_selector = {"transport": "udp"}

    def encoding(self, view: View, enc: Encoding) -> str | None:
        old = enc.limit
        enc.limit = MAX_TCP
        enc.pad_to = self.size
        if self.size and enc.opt is None:
            enc.opt = Opt(view.udp_size)
        return f"size limit {old} lifted" + (f", padded to {self.size}" if self.size else "")


@register
class RateLimit(Fault):
    """Name: rate-limit

    Imitates: response rate limiting (RRL).

    Modes: ``drop`` (default): queries beyond the limit get no reply; ``slip``:
    they get an empty TC=1 reply (the client should retry over TCP).

    Parameters: ``qps`` (default 5): replies per second per client address,
    counted per second of the server's clock.

    Client sees: the first ``qps`` UDP queries in each second answered, the rest dropped
    or slipped; TCP is never limited (as in BIND, NSD and Knot), so a slipped client's
    retry over TCP is answered.

    Example: ``rate-limit qps=10 mode=slip``
    """

    type_name = "rate-limit"
    summary = "beyond N queries/second per client: drop, or slip a TC=1 reply"
    modes = ("drop", "slip")
    params = {"qps": Param("int", 5, "replies per second per client")}

    def validate(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return view.transport == "udp"  # RRL (BIND, NSD, Knot) never limits TCP: that is where a slipped client goes

    def before(self, view: View) -> Act | None:
        second = int(view.now)
        client = view.client or ""
        with self.lock:
            start, count = self._counts.get(client, (second, 0))
            if start != second:
                start, count = second, 0
            count += 1
            self._counts[client] = (start, count)
        if count <= self.qps:
            return None
        if self.mode == "drop":
            return Act(f"rate limited ({count} > {self.qps}/s): dropped", Drop())
        return Act(f"rate limited ({count} > {self.qps}/s): slipped TC=1", ErrorReply(0, tc=True))


@register
class TcpRefused(Fault):
    """Name: tcp-refused

    Imitates: TCP/53 blocked by a firewall while UDP works.

    Modes: ``closed`` (default): the server's TCP listener is closed while the
    fault is installed, so every connection is refused; a closed listener cannot
    tell clients or moments apart, so this mode takes no ``client`` selector and
    no schedule (an error if given); ``reset``: connections are accepted and
    reset at once, selectable by ``client`` and by schedule.

    Selectors: ``client`` and ``server`` only: it acts before any query is read.

    Client sees: connection refused, or a reset; UDP answers as usual.

    Example: ``tcp-refused mode=reset client=127.0.0.1``
    """

    type_name = "tcp-refused"
    summary = "TCP connections refused or reset while UDP works"
    modes = ("closed", "reset")
    selector_keys = ("client", "server")

    def validate(self) -> None:
        if self.mode == "closed":
            from fakens.errors import ConfigError

            if self.selector.clients or self.schedule.to_spec():
                raise ConfigError("fault tcp-refused mode=closed closes the listener for everyone: it takes no "
                                  "client selector and no schedule; use mode=reset to refuse some connections")

    def connection(self, view: View) -> Act | None:
        return Act("reset", Reset()) if self.mode == "reset" else None

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return self.mode == "reset"

    def closes_listener(self) -> bool:
        return self.mode == "closed"

