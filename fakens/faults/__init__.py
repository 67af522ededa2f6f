"""The fault chain: faults between the engine and the wire, added and removed at run time.

    server.faults.add("nxdomain qname=*.io. probability=0.3 seed=7")
    server.faults.add("delay", ms=200, qtype="AAAA", name="slow-aaaa")
    server.faults.update("slow-aaaa", ms=500)
    with server.faults.scoped("drop transport=udp"):
        ...                              # the fault exists only inside the block
    server.faults.remove("slow-aaaa"); server.faults.reset()

Every method is thread-safe and a change takes effect on the very next
query. Faults compose in the order added. A fault whose selector does not
match a query (or whose schedule says no) leaves it exactly as the engine made
it. The fault types and their documentation are in docs/faults.md.
"""

from __future__ import annotations

import builtins
import contextlib
import struct
import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import dns.name

from fakens.clock import Clock, SystemClock
from fakens.errors import ConfigError
from fakens.faults import answers as _answers  # noqa: F401  (importing a family registers its types)
from fakens.faults import delegation as _delegation  # noqa: F401
from fakens.faults import edns as _edns  # noqa: F401
from fakens.faults import rawbytes as _rawbytes  # noqa: F401
from fakens.faults import transfer as _transfer  # noqa: F401
from fakens.faults import transport as _transport  # noqa: F401
from fakens.faults.base import REGISTRY, Fault, Param, Schedule, register
from fakens.faults.context import Encoding, FaultContext, NotifyPlan, StreamPart
from fakens.faults.spec import build, parse_text

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.outcome import Outcome

__all__ = [
    "REGISTRY", "Encoding", "Fault", "FaultChain", "FaultContext", "NotifyPlan", "Param", "Schedule",
    "StreamPart", "build", "parse_text", "register",
]


class FaultChain:
    """An ordered, thread-safe list of faults; empty, it passes every query through."""

    def __init__(self, clock: Clock | None = None, server_name: str = "") -> None:
        self._faults: tuple[Fault, ...] = ()
        self._lock = threading.Lock()
        self.clock: Clock = clock or SystemClock()
        self.server_name = server_name
        self.on_change: list[Any] = []

    def __bool__(self) -> bool:
        return bool(self._faults)

    def __len__(self) -> int:
        return len(self._faults)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self._faults)

    # -- control -------------------------------------------------------------------

    def add(self, spec: str | Mapping[str, Any] | Fault | None = None, **kwargs: Any) -> Fault:
        """Add a fault (text spec, table, keyword arguments or a built Fault) at the end."""
        fault = spec if isinstance(spec, Fault) else build(spec, **kwargs)
        with self._lock:
            if any(f.name == fault.name for f in self._faults):
                raise ConfigError(f"a fault named {fault.name!r} exists already; remove it or choose another name=")
            self._faults = self._faults + (fault,)
        self._changed()
        return fault

    def get(self, name: str) -> Fault | None:
        """The fault with this name, or None."""
        return next((f for f in self._faults if f.name == name), None)

    def find(self, name: str) -> Fault:
        """The fault with this name; raises ConfigError listing the names there are."""
        fault = self.get(name)
        if fault is None:
            names = ", ".join(f.name for f in self._faults) or "none"
            raise ConfigError(f"no fault named {name!r} (faults: {names})")
        return fault

    def list(self) -> list[Fault]:
        """The faults, in the order they act."""
        return list(self._faults)

    def update(self, name: str, **changes: Any) -> Fault:
        """Change a fault's parameters, selector or schedule in place in the chain.

        The fault is rebuilt from its spec with *changes* applied, so its
        schedule counters start again.
        """
        with self._lock:
            old = self.find(name)
            table = old.spec()
            table.update({k.replace("-", "_"): v for k, v in changes.items()})
            new = build(table)
            self._faults = tuple(new if f is old else f for f in self._faults)
        self._changed()
        return new

    def remove(self, name: str) -> Fault:
        """Remove a fault by name; raises ConfigError when there is none."""
        with self._lock:
            fault = self.find(name)
            self._faults = tuple(f for f in self._faults if f is not fault)
        self._changed()
        return fault

    def reset(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._faults = ()
        self._changed()

    @contextlib.contextmanager
    def scoped(self, spec: str | Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[Fault]:
        """Add a fault for the duration of a ``with`` block."""
        fault = self.add(spec, **kwargs)
        try:
            yield fault
        finally:
            with self._lock:
                self._faults = tuple(f for f in self._faults if f is not fault)
            self._changed()

    def _changed(self) -> None:
        for callback in self.on_change:
            callback()

    # -- the server's calls -------------------------------------------------------------

    def select(self, ctx: FaultContext) -> builtins.list[Fault]:
        """Count the query for each matching fault and return those that fire, in order."""
        firing = []
        query = ctx.query
        now = self.clock.now()
        for fault in self._faults:
            if query is not None and query.message.question:
                message = query.message
                q = message.question[0]
                matched = fault.selector.matches(
                    q.name, q.rdtype, q.rdclass, message.opcode(), ctx.transport, ctx.client,
                    message.edns >= 0, bool(message.ednsflags & 0x8000), self.server_name)
            else:
                matched = fault.selector.matches(
                    None, None, None, query.message.opcode() if query is not None else 0,
                    ctx.transport, ctx.client, False, False, self.server_name)
            if not matched:
                continue
            with fault.lock:
                fires = fault.schedule.fires(now, ctx.client)
            if fires:
                firing.append(fault)
        ctx.firing = firing
        return firing

    QUERY_HOOKS = ("before", "after", "transfer", "encoding", "wire")

    def could_match(self, wire: bytes, transport: str, client: str) -> bool:
        """Could any fault act on this query? Read from the header and question only;
        True when unsure. When False the reply is the engine's, so the server's reply
        cache may answer it (faults count only queries their selector matches)."""
        try:
            qname, used = dns.name.from_wire(wire, 12)
            qtype, qclass = struct.unpack_from("!HH", wire, 12 + used)
        except Exception:
            return True
        opcode = (wire[2] >> 3) & 0xF
        for fault in self._faults:
            if not any(fault.uses(hook) for hook in self.QUERY_HOOKS):
                continue  # connection and NOTIFY faults never act on a query
            if fault.selector.matches(qname, qtype, qclass, opcode, transport, client, None, None, self.server_name):
                return True
        return False

    def connection_faults(self, ctx: FaultContext) -> str | None:
        """For a new TCP connection: "reset", "close" or None."""
        for fault in self._faults:
            if not fault.uses("connection"):
                continue
            if not fault.selector.matches(None, None, None, 0, "tcp", ctx.client, server=self.server_name):
                continue
            with fault.lock:
                if not fault.schedule.fires(self.clock.now(), ctx.client):
                    continue
            ctx.firing.append(fault)
            action = fault.connection(ctx)
            if action:
                ctx.record(fault, action)
                return action
        return None

    def notify(self, ctx: FaultContext, zone: dns.name.Name, plan: NotifyPlan) -> None:
        """Let ``no-notify`` faults change an outgoing NOTIFY for *zone* to ``plan.target``."""
        for fault in self._faults:
            if not fault.uses("notify"):
                continue
            if not fault.selector.matches(zone, 6, 1, 4, "udp", plan.target[0], server=self.server_name):
                continue
            with fault.lock:
                if not fault.schedule.fires(self.clock.now(), plan.target[0]):
                    continue
            ctx.firing.append(fault)
            action = fault.notify(ctx, plan)
            if action:
                ctx.record(fault, action)

    def before(self, ctx: FaultContext) -> Outcome | None:
        """Run the ``before`` hooks of every firing fault. The first Outcome ends the
        query; later faults still act (a delay still delays it), but an Outcome of
        theirs is not used and the log says so."""
        decided: Outcome | None = None
        decided_by = ""
        for fault in ctx.firing:
            done = len(ctx.actions.get(fault.name, []))
            outcome = fault.before(ctx)
            if outcome is None:
                continue
            if decided is None:
                decided, decided_by = outcome, fault.name
            else:
                ctx.actions.setdefault(fault.name, [])[done:] = [f"not applied: {decided_by} already ended the query"]
        return decided

    def after(self, ctx: FaultContext, answer: Answer) -> Answer:
        """Run ``after`` hooks: each may edit the Answer."""
        for fault in ctx.firing:
            action = fault.after(ctx, answer)
            if action:
                ctx.record(fault, action)
        return answer

    def run(self, hook: str, ctx: FaultContext, arg: Any, once: bool = False) -> None:
        """Run one of the ``transfer``/``encoding``/``wire``/``notify`` hooks of the firing faults.
        *once*: record each distinct action once (a hook run for every message of a stream)."""
        for fault in ctx.firing:
            action = getattr(fault, hook)(ctx, arg)
            if action and not (once and action in ctx.actions.get(fault.name, ())):
                ctx.record(fault, action)
