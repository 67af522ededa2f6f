"""What every fault is made of: parameters, a selector, a schedule, hooks.

A fault type is a class registered under the name users type
(``missing-glue``). It declares its modes and parameters; the one spec parser
(:mod:`fakens.faults.spec`) turns text, TOML tables and keyword arguments into
instances. A fault acts through hooks that the pipeline calls at fixed points
of a query's way (docs/architecture.md). Each hook gets a read-only
:class:`~fakens.faults.view.View` and answers with values:

- ``connection(view)``: a TCP connection arrives; an Act with Reset/Close refuses it;
- ``before(view)``: before the engine; an Act may end the query or delay it;
- ``after(view, answer)``: edits the engine's structured Answer (or returns a Replaced one);
- ``transfer(view, plan)``: edits an AXFR/IXFR RRset sequence (a TransferPlan);
- ``encoding(view, enc)``: changes how the reply is encoded (size limit, OPT, flags);
- ``wire(view, messages)``: edits the reply bytes (broken-bytes faults); for a
  TCP transfer, once per message as the stream makes it (``messages`` holds that
  one, ``view.part`` says which; otherwise ``view.part`` is None);
- ``notify(view, plan)``: changes an outgoing NOTIFY (no-notify).

A hook returns what it changed (a short text, shown in the query log) or None
for nothing. A fault is counted by its schedule only at the hook points it
implements, only when :meth:`Fault.can_act` says its hook can act there, and a
fault that fired but changed nothing is not counted (the log lists it in ``matched``).
"""

from __future__ import annotations

import itertools
import random
import shlex
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import dns.name
import dns.rcode
import dns.rrset

from fakens.errors import ConfigError
from fakens.selectors import SELECTOR_KEYS, Selector, parse_bool

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.faults.view import Act, Encoding, NotifyPlan, Replaced, TransferPlan, View

class FaultTypes(Mapping[str, "type[Fault]"]):
    """The fault types by name (``REGISTRY``). The modules of the families of fault types are
    imported at the first look, not before: a server given no fault never imports them
    (a tenth of ``fakens serve``'s start). The package :mod:`fakens.faults` names the loader::

        REGISTRY["nxdomain"]      # the class; the families are imported now if not yet
    """

    def __init__(self) -> None:
        self._types: dict[str, type[Fault]] = {}
        self._loader: Callable[[], None] | None = None
        self._lock = threading.RLock()

    def set_loader(self, loader: Callable[[], None]) -> None:
        """*loader* imports the families (each registers its types) at the first look."""
        self._loader = loader

    def add(self, cls: type[Fault]) -> None:
        if cls.type_name in self._types:
            raise RuntimeError(f"fault type {cls.type_name!r} registered twice")
        self._types[cls.type_name] = cls

    def _loaded(self) -> dict[str, type[Fault]]:
        if self._loader is not None:  # cleared only once loaded: another thread waits on the lock
            with self._lock:
                loader = self._loader
                if loader is not None:
                    loader()
                    self._loader = None
        return self._types

    def __getitem__(self, name: str) -> type[Fault]:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()


REGISTRY = FaultTypes()
_uids = itertools.count(1)


def register(cls: type[Fault]) -> type[Fault]:
    """Class decorator: make a fault type known under ``cls.type_name``."""
    REGISTRY.add(cls)
    return cls


# -- parameters -------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a fault type: how to read it from text, its default, its meaning."""

    kind: str  # "int" | "float" | "str" | "bool" | "name" | "names" | "list" | "rcode" | "records"
    default: Any = None
    help: str = ""
    required: bool = False

    def convert(self, fault: str, key: str, value: Any) -> Any:
        where = f"fault {fault}: {key}={value!r}"
        try:
            if self.kind == "int":
                return _integer(value)
            if self.kind == "float":
                return float(value)
            if self.kind == "bool":
                return parse_bool(where, value)
            if self.kind == "name":
                return dns.name.from_text(str(value))
            if self.kind == "names":
                items = value if isinstance(value, (list, tuple)) else str(value).split(",")
                return tuple(dns.name.from_text(str(v).strip()) for v in items if str(v).strip())
            if self.kind == "list":
                items = value if isinstance(value, (list, tuple)) else str(value).split(",")
                return tuple(str(v).strip() for v in items if str(v).strip())
            if self.kind == "rcode":
                return dns.rcode.from_text(str(value).upper())
            if self.kind == "records":
                return record_lines(value)
            return str(value)
        except Exception:
            expected = {"int": "an integer", "float": "a number", "bool": "true or false", "name": "a domain name",
                        "names": "domain names separated by commas", "rcode": "an RCODE such as SERVFAIL",
                        "records": "records as zone-file lines, separated by ';' (or a list of them)"}.get(self.kind, "text")
            raise ConfigError(f"{where}: expected {expected}") from None


def record_lines(value: Any) -> tuple[str, ...]:
    """Zone-file record lines from text (separated by ``;`` outside quotes, or line breaks), a
    list of such texts, or dnspython RRsets: ``"a. 60 A 192.0.2.1; b. 60 TXT \"x;y\""``."""
    items = value if isinstance(value, (list, tuple)) else [value]
    lines: list[str] = []
    for item in items:
        if isinstance(item, dns.rrset.RRset):
            lines.extend(item.to_text().splitlines())
            continue
        if not isinstance(item, str):
            raise ValueError(item)
        current, quoted, escaped = [], False, False
        for ch in item + "\n":
            if escaped:
                current.append(ch)
                escaped = False
            elif ch == "\\":
                current.append(ch)
                escaped = True
            elif ch == '"':
                current.append(ch)
                quoted = not quoted
            elif (ch == ";" and not quoted) or ch == "\n":
                line = "".join(current).strip()
                if line:
                    lines.append(line)
                current = []
            else:
                current.append(ch)
    return tuple(lines)


def _integer(value: Any) -> int:
    """An int from an int, an integral float or decimal text; ValueError otherwise (no silent truncation)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(value)


# -- schedules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Count:
    """One query counted by a schedule: whether the fault fires, and how to take it back."""

    fires: bool
    rng_state: Any
    draws: int
    client_added: str | None

SCHEDULE_KEYS = ("probability", "seed", "first", "every", "after", "times", "from", "until", "per_client")


@dataclass
class Schedule:
    """When a fault fires among the queries its selector matches.

    Every condition given must hold. Counting is per fault: the k-th matching
    query is number k whether or not an earlier fault in the chain already
    ended it, and with a probability the k-th matching query gets the k-th
    draw of the fault's own seeded generator, so a sequence is the same in
    every run whatever other faults or retries happen.

    - ``probability`` (0..1) with ``seed``;
    - ``first=N``: matching queries 1..N; ``after=N``: N+1 onwards;
      ``every=N``: N, 2N, 3N ...; ``times=N``: fires at most N times;
    - ``from``/``until``: a window on the server's clock, from <= now < until;
    - ``per_client=true``: only the first matching query from each client address.
    """

    probability: float | None = None
    seed: int | None = None
    first: int | None = None
    every: int | None = None
    after: int | None = None
    times: int | None = None
    start: float | None = None
    until: float | None = None
    per_client: bool = False
    seen: int = 0
    fired: int = 0
    clients: set[str] = field(default_factory=set)
    rng: random.Random = field(default_factory=random.Random)
    draws: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def parse(cls, values: Mapping[str, Any], context: str) -> Schedule:
        def number(key: str, kind: type) -> Any:
            if key not in values:
                return None
            try:
                value = _integer(values[key]) if kind is int else float(values[key])
            except (TypeError, ValueError):
                raise ConfigError(f"{context}: {key}={values[key]!r}: expected {'an integer' if kind is int else 'a number'}") from None
            return value

        schedule = cls(
            probability=number("probability", float), seed=number("seed", int), first=number("first", int),
            every=number("every", int), after=number("after", int), times=number("times", int),
            start=number("from", float), until=number("until", float),
            per_client=parse_bool(f"{context}: per_client", values.get("per_client", False)),
        )
        if schedule.probability is not None and not 0 <= schedule.probability <= 1:
            raise ConfigError(f"{context}: probability={schedule.probability} must be between 0 and 1")
        for key in ("first", "every", "times"):
            value = getattr(schedule, key)
            if value is not None and value < 1:
                raise ConfigError(f"{context}: {key}={value} must be at least 1")
        if schedule.after is not None and schedule.after < 0:
            raise ConfigError(f"{context}: after={schedule.after} must be 0 or more")
        return schedule

    def fires(self, now: float, client: str | None) -> bool:
        """Count one matching query and say whether the fault fires for it."""
        return self.count(now, client).fires

    def count(self, now: float, client: str | None) -> Count:
        """Count one matching query; the Count says whether it fires and can be taken
        back with :meth:`uncount` (a fault that fired but changed nothing uses up nothing)."""
        rng_state = self.rng.getstate() if self.probability is not None else None
        self.seen += 1
        k = self.seen
        draw = 0.0
        if self.probability is not None:
            draw = self.rng.random()
            self.draws += 1
        counted = Count(False, rng_state, self.draws, None)
        if self.first is not None and k > self.first:
            return counted
        if self.after is not None and k <= self.after:
            return counted
        if self.every is not None and k % self.every:
            return counted
        if self.start is not None and now < self.start:
            return counted
        if self.until is not None and now >= self.until:
            return counted
        if self.per_client:
            if client is None or client in self.clients:
                return counted
            self.clients.add(client)
            counted = Count(False, rng_state, self.draws, client)
        if self.probability is not None and draw >= self.probability:
            return counted
        if self.times is not None and self.fired >= self.times:
            return counted
        self.fired += 1
        return Count(True, rng_state, self.draws, counted.client_added)

    def uncount(self, counted: Count) -> None:
        """Take back one :meth:`count` (the latest one, or one with no draw since)."""
        self.seen -= 1
        if counted.fires:
            self.fired -= 1
        if counted.client_added is not None:
            self.clients.discard(counted.client_added)
        if counted.rng_state is not None and self.draws == counted.draws:
            self.rng.setstate(counted.rng_state)
            self.draws -= 1

    def to_spec(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, attr in (("probability", "probability"), ("seed", "seed"), ("first", "first"), ("every", "every"),
                          ("after", "after"), ("times", "times"), ("from", "start"), ("until", "until")):
            value = getattr(self, attr)
            if value is not None:
                out[key] = value
        if self.per_client:
            out["per_client"] = True
        return out


# -- the fault base class -----------------------------------------------------------------


class Fault:
    """A named, removable misbehaviour of a server.

    Subclasses set ``type_name``, ``modes`` (the first is the default),
    ``params`` and, where they act on fewer queries than every one,
    ``default_selector`` (e.g. transfers only) or ``selector_keys``.
    """

    type_name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    modes: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[dict[str, Param]] = {}
    selector_keys: ClassVar[tuple[str, ...]] = SELECTOR_KEYS
    default_selector: ClassVar[dict[str, str]] = {}
    signed_only: ClassVar[bool] = False
    """Does it act on signed zones only (DNSSEC records of DO=1 answers)? Elsewhere it never fires."""

    def __init__(self, name: str, mode: str, values: dict[str, Any], selector: Selector, schedule: Schedule) -> None:
        self.name = name
        self.mode = mode
        self.values = values
        self.selector = selector
        self.schedule = schedule
        self.lock = threading.Lock()
        self.uid = next(_uids)  # kept by FaultChain.update, so a rebuilt fault is the same fault
        self.validate()

    def validate(self) -> None:
        """Check parameters together; raise ConfigError naming the problem."""

    def __getattr__(self, key: str) -> Any:
        values = self.__dict__.get("values")
        if values is not None and key in values:
            return values[key]
        raise AttributeError(key)

    def spec(self) -> dict[str, Any]:
        """The fault as a spec table (round-trips through the parser)."""
        out: dict[str, Any] = {"type": self.type_name, "name": self.name}
        if self.modes:
            out["mode"] = self.mode
        for key, value in self.values.items():
            param = self.params[key]
            if value == param.default:
                continue
            if param.kind == "rcode":
                value = dns.rcode.to_text(value)
            elif param.kind == "records":
                value = "; ".join(value)
            elif isinstance(value, tuple):
                value = ",".join(v.to_text() if isinstance(v, dns.name.Name) else str(v) for v in value)
            elif isinstance(value, dns.name.Name):
                value = value.to_text()
            out[key] = value
        out.update(self.selector.to_spec())
        out.update(self.schedule.to_spec())
        return out

    def __str__(self) -> str:
        return format_spec(self.spec())

    def __repr__(self) -> str:
        return f"<Fault {self}>"

    # hooks: the default does nothing (returns None)
    def connection(self, view: View) -> Act | None:
        return None

    def before(self, view: View) -> Act | None:
        return None

    def after(self, view: View, answer: Answer) -> str | Replaced | None:
        return None

    def transfer(self, view: View, plan: TransferPlan) -> str | None:
        return None

    def encoding(self, view: View, enc: Encoding) -> str | None:
        return None

    def wire(self, view: View, messages: list[bytes]) -> str | None:
        return None

    def notify(self, view: View, plan: NotifyPlan) -> str | None:
        return None

    def can_act(self, hook: str, view: View, arg: Any) -> bool:
        """Could *hook* change this exchange (*arg* is what the hook would get:
        the Answer, the TransferPlan ...)? When False the fault is not counted there."""
        return True

    def closes_listener(self) -> bool:
        """Does this fault close the server's TCP listener while installed (tcp-refused mode=closed)?"""
        return False

    def uses(self, hook: str) -> bool:
        """Does this fault type act in *hook*?"""
        return getattr(type(self), hook) is not getattr(Fault, hook)


def format_spec(table: Mapping[str, Any]) -> str:
    """A spec table as one line of text (the inverse of :func:`parse_text`)."""
    words = [str(table["type"])]
    for key, value in table.items():
        if key == "type":
            continue
        if isinstance(value, bool):
            value = str(value).lower()
        words.append(f"{key}={shlex.quote(str(value))}")
    return " ".join(words)
