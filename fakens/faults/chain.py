"""The fault chain: the faults of one server, changed at run time, and the one
selection that says which of them fire at a hook point.

    server.faults.add("nxdomain qname=*.io. probability=0.3 seed=7")
    server.faults.add("delay", ms=200, qtype="AAAA", name="slow-aaaa")
    server.faults.update("slow-aaaa", ms=500)
    with server.faults.scoped("drop transport=udp"):
        ...                              # the fault exists only inside the block
    server.faults.remove("slow-aaaa"); server.faults.reset()

Every control method is thread-safe and a change takes effect on the very
next query. Faults compose in the order added.

Selection (:meth:`FaultChain.firing`) is the same for queries, connections
and outgoing NOTIFYs: a fault is considered at a hook point only when it
implements that hook, its selector matches the exchange's :class:`Facts` and
its :meth:`~Fault.can_act` says the hook could change something; only then
does its schedule count (and draw). The decision holds for the rest of the
exchange (a fault with several hooks is counted once). A fault that fired
but changed nothing is counted back at :meth:`Passage.finish` and logged in
the entry's ``matched``, not in its ``faults``. :meth:`could_match` asks the
same question without counting (the fast path's test).
"""

from __future__ import annotations

import builtins
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fakens.errors import ConfigError
from fakens.faults.base import Count, Fault
from fakens.faults.spec import build
from fakens.faults.view import ErrorReply, Replaced, Unchanged, View
from fakens.outcome import Outcome
from fakens.selectors import Facts

if TYPE_CHECKING:
    from fakens.answer import Answer

QUERY_HOOKS = ("before", "after", "transfer", "encoding", "wire")

Records = tuple[list[dict[str, Any]], list[dict[str, Any]]]
"""The query log's (``faults``, ``matched``): the faults that changed something and what each
did (``name``, ``type``, ``mode``, ``actions``); those that fired and changed nothing
(``name``, ``type``, ``mode``, ``reason``: why, or None)."""


@dataclass
class Passage:
    """One exchange's way through the chain: the faults it met, which fired, what each did."""

    facts: Facts
    faults: tuple[Fault, ...]
    now: float
    counts: dict[int, tuple[Fault, Count]] = field(default_factory=dict)
    fired: list[Fault] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, fault: Fault, text: str) -> None:
        """Record what *fault* did (shown in the query log)."""
        self.notes.setdefault(fault.name, []).append(text)

    def records(self) -> Records:
        """The query log's ``faults`` and ``matched`` so far (a stream's passage is finished
        when it ends: until then a fault that has changed nothing yet is in ``matched``)."""
        changed: list[dict[str, Any]] = []
        matched: list[dict[str, Any]] = []
        for fault in self.fired:
            notes = self.notes.get(fault.name, [])
            record: dict[str, Any] = {"name": fault.name, "type": fault.type_name, "mode": fault.mode or None}
            if _changed_nothing(notes):
                record["reason"] = "; ".join(notes) or None
                matched.append(record)
            else:
                record["actions"] = notes
                changed.append(record)
        return changed, matched

    def finish(self) -> Records:
        """Count back the faults that fired without changing anything, and return the query
        log's ``faults`` (every fault that changed something, and what it did) and ``matched``
        (the faults that fired and changed nothing, and why)."""
        for fault in self.fired:
            if _changed_nothing(self.notes.get(fault.name, [])):
                _, counted = self.counts[id(fault)]
                with fault.lock:
                    fault.schedule.uncount(counted)
        return self.records()


def _changed_nothing(notes: list[str]) -> bool:
    """No note, or only :class:`Unchanged` ones: the fault fired and changed nothing."""
    return all(isinstance(note, Unchanged) for note in notes)


class FaultChain:
    """An ordered, thread-safe list of faults; empty, it passes every query through."""

    def __init__(self, server_name: str = "") -> None:
        self.active: tuple[Fault, ...] = ()
        """The faults, in order: a tuple replaced at every change, never changed in place (a
        reader that takes it once sees one state; ``if not chain.active`` is the cheapest test)."""
        self._lock = threading.RLock()
        self.server_name = server_name
        self.on_change: list[Callable[[], None]] = []

    def __bool__(self) -> bool:
        return bool(self.active)

    def __len__(self) -> int:
        return len(self.active)

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.active)

    # -- control -------------------------------------------------------------------

    def add(self, spec: str | Mapping[str, Any] | Fault | None = None, **kwargs: Any) -> Fault:
        """Add a fault (text spec, table, keyword arguments or a built Fault) at the end."""
        fault = spec if isinstance(spec, Fault) else build(spec, **kwargs)
        with self._lock:
            if any(f.name == fault.name for f in self.active):
                raise ConfigError(f"a fault named {fault.name!r} exists already; remove it or choose another name=")
            self.active = self.active + (fault,)
        self._changed()
        return fault

    def get(self, name: str) -> Fault | None:
        """The fault with this name, or None."""
        return next((f for f in self.active if f.name == name), None)

    def find(self, name: str) -> Fault:
        """The fault with this name; raises ConfigError listing the names there are."""
        fault = self.get(name)
        if fault is None:
            names = ", ".join(f.name for f in self.active) or "none"
            raise ConfigError(f"no fault named {name!r} (faults: {names})")
        return fault

    def list(self) -> builtins.list[Fault]:
        """The faults, in the order they act."""
        return list(self.active)

    def update(self, name: str, **changes: Any) -> Fault:
        """Change a fault's parameters, selector or schedule in place in the chain.

        The fault is rebuilt from its spec with *changes* applied (its schedule
        counters start again); it keeps its name and its place, so ``remove(name)``
        and a ``scoped`` block still find it.
        """
        with self._lock:
            old = self.find(name)
            table = old.spec()
            table.update({k.replace("-", "_"): v for k, v in changes.items()})
            new = build(table)
            new.uid = old.uid  # the same fault for scoped() and for callers holding the old object
            self.active = tuple(new if f is old else f for f in self.active)
        self._changed()
        return new

    def remove(self, name: str) -> Fault:
        """Remove a fault by name; raises ConfigError when there is none."""
        with self._lock:
            fault = self.find(name)
            self.active = tuple(f for f in self.active if f is not fault)
        self._changed()
        return fault

    def reset(self) -> None:
        """Remove every fault."""
        with self._lock:
            self.active = ()
        self._changed()

    @contextlib.contextmanager
    def scoped(self, spec: str | Mapping[str, Any] | None = None, **kwargs: Any) -> Iterator[Fault]:
        """Add a fault for the duration of a ``with`` block (removed at the end, also
        when :meth:`update` rebuilt it inside the block)."""
        fault = self.add(spec, **kwargs)
        try:
            yield fault
        finally:
            with self._lock:
                self.active = tuple(f for f in self.active if f.uid != fault.uid)
            self._changed()

    def _changed(self) -> None:
        for callback in self.on_change:
            callback()

    @property
    def listener_closed(self) -> bool:
        """Does an installed fault keep this server's TCP listener closed?"""
        facts = Facts(transport="tcp", server=self.server_name)
        return any(f.closes_listener() and f.selector.matches(facts) for f in self.active)

    # -- selection -------------------------------------------------------------------

    def begin(self, facts: Facts, now: float) -> Passage:
        """Start one exchange's passage (the faults installed now act on all of it)."""
        return Passage(facts, self.active, now)

    def fires(self, hook: str, passage: Passage, view: View, arg: Any, fault: Fault) -> bool:
        """Does *fault* fire at *hook* for this exchange? (The one selection: counts the
        exchange for the fault the first time its hook could act, then remembers.)"""
        if not fault.uses(hook) or not fault.selector.matches(passage.facts):
            return False
        decided = passage.counts.get(id(fault))
        if decided is not None:
            return decided[1].fires
        if not fault.can_act(hook, view, arg):
            return False
        with fault.lock:
            counted = fault.schedule.count(passage.now, passage.facts.client)
        passage.counts[id(fault)] = (fault, counted)
        if counted.fires:
            passage.fired.append(fault)
        return counted.fires

    def could_match(self, facts: Facts) -> bool:
        """Could any fault act on a query with these facts? The selection's own test,
        without counting (facts not known yet, such as EDNS, count as matching)."""
        return any(fault.selector.matches(facts) for fault in self.active
                   if any(fault.uses(hook) for hook in QUERY_HOOKS))

    def before(self, passage: Passage, view: View) -> tuple[Outcome | ErrorReply | None, float]:
        """Run the ``before`` hooks: (the outcome that ends the query or None, the delay).
        The first outcome ends the query; later faults still act (a delay still delays
        it), but an outcome of theirs is not used and the log says so."""
        decided: Outcome | ErrorReply | None = None
        decided_by = ""
        delay = 0.0
        for fault in passage.faults:
            if not self.fires("before", passage, view, None, fault):
                continue
            act = fault.before(view)
            if act is None:
                continue
            delay += act.delay  # a later fault still acts: a delay still delays the reply
            if act.outcome is not None and decided is not None:
                if act.delay:
                    passage.note(fault, act.note)
                passage.note(fault, Unchanged(f"not applied: {decided_by} already ended the query"))
                continue
            passage.note(fault, act.note)
            if act.outcome is not None:
                decided, decided_by = act.outcome, fault.name
        return decided, delay

    def after(self, passage: Passage, view: View, answer: Answer) -> Answer:
        """Run the ``after`` hooks, each on the Answer as the faults before it left it."""
        for fault in passage.faults:
            if not self.fires("after", passage, view, answer, fault):
                continue
            result = fault.after(view, answer)
            if isinstance(result, Replaced):
                answer = result.answer
                result = result.note
            if result:
                passage.note(fault, result)
        return answer

    def run(self, hook: str, passage: Passage, view: View, arg: Any, once: bool = False) -> None:
        """Run an editing hook (``transfer``/``encoding``/``wire``/``notify``) of the faults that fire.
        *once*: note each distinct change once (a hook run for every message of a stream)."""
        for fault in passage.faults:
            if self.fires(hook, passage, view, arg, fault):
                note = getattr(fault, hook)(view, arg)
                if note and not (once and note in passage.notes.get(fault.name, ())):
                    passage.note(fault, note)

    def may_fire(self, hook: str, passage: Passage) -> bool:
        """Could a fault of this passage fire at *hook* (it implements it and its selector matches)?"""
        return any(f.uses(hook) and f.selector.matches(passage.facts) for f in passage.faults)

    def connection(self, passage: Passage, view: View) -> Outcome | None:
        """For a new TCP connection: the outcome that refuses it (Reset/Close) or None."""
        for fault in passage.faults:
            if not self.fires("connection", passage, view, None, fault):
                continue
            act = fault.connection(view)
            if act is not None:
                passage.note(fault, act.note)
                if act.outcome is not None and not isinstance(act.outcome, ErrorReply):
                    return act.outcome
        return None
