"""The query log: every query a server received and what became of it.

An entry is recorded before the reply is sent, so a test that got a reply
can already read the entry. The log keeps the newest ``limit`` entries in
memory; a log file (JSON lines) gets every entry::

    server.log.entries(qname="www.example.test.", qtype="A", transport="udp")
    server.log.count(rcode="NXDOMAIN")
    server.log.to_jsonl("queries.jsonl")
    server.log.to_pcap("queries.pcap")     # the bytes, for tshark or Wireshark (fakens.pcap)

Each entry keeps the query's bytes as received and the reply's as sent
(``query_bytes``, ``reply_bytes``: references to the bytes the server read
and wrote, nothing copied), a broken-bytes fault's bytes too; a transfer
keeps its first :attr:`QueryLog.stream_messages_kept` messages (64; 0 keeps
none of a transfer's). They are not in the JSON lines. What they cost is the
memory of the bytes the log keeps alive: ``limit`` entries' queries and
replies, a transfer's at most 64 messages of up to 16 KiB.

The per-query cost is creating one entry and appending it; turning entries
into JSON happens when they are exported, or in the log file's writer process
(:mod:`fakens.logwriter`: batched, size-capped with ``max_bytes``). A reply from the
reply cache or the express path is kept as a list (its template, who asked, when, the
bytes) and made a LogEntry when the log is first read (:meth:`QueryLog.append_hit`):
about 0.5 KiB an entry until then, 1.3 KiB once made; an entry the engine made, about
1.3 KiB with its bytes. The default ``limit`` takes 50-130 MB when full.
"""

from __future__ import annotations

import collections
import functools
import json
import marshal
import operator
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import IO, Any

import dns.flags
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from fakens import pcap
from fakens.ednsoptions import option_code
from fakens.errors import ConfigError
from fakens.logwriter import LogWriter, frame
from fakens.selectors import Facts, Selector

DEFAULT_LIMIT = 100_000
STREAM_MESSAGES_KEPT = 64


@dataclass(slots=True)
class LogEntry:
    """One query and its outcome.

    ``qname`` keeps the case the client used; ``rcode`` is None when the
    query was dropped (no reply). ``faults`` lists the faults that changed
    something and what each did; ``matched`` the faults that fired and found
    nothing to change (``name``, ``type``, ``mode``, ``reason``: why, or None),
    neither counted by their schedules nor matched by ``fault=``.

    ``query_bytes`` is the message as received (empty for a connection a fault
    refused before any query); ``reply_bytes`` the messages as sent, after any
    broken-bytes fault (empty when nothing was sent: dropped, closed, reset,
    stalled). A transfer keeps its first messages only (the log's
    ``stream_messages_kept``); ``messages`` counts all that were sent and
    ``reply_bytes_omitted`` those not kept. ``delay`` is how long the reply
    waited on the server's clock before it went (a ``delay`` fault).
    """

    time: float
    server: str
    client: tuple[str, int]
    local: tuple[str, int]
    transport: str
    id: int
    qname: dns.name.Name | None
    qtype: int | None
    qclass: int | None
    opcode: int = 0
    query_flags: int = 0
    edns: dict[str, Any] | None = None
    rcode: int | None = None
    flags: int = 0
    counts: tuple[int, int, int, int] = (0, 0, 0, 0)
    size: int = 0
    messages: int = 0
    duration: float = 0.0
    faults: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    matched: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0
    query_bytes: bytes = b""
    reply_bytes: list[bytes] = field(default_factory=list)

    def copy(self) -> LogEntry:
        """A shallow copy (the fast path's: a cached reply's entry from its template,
        five times quicker than :func:`copy.copy` on a slotted dataclass)."""
        return LogEntry(*_ENTRY_FIELDS(self))

    def snapshot(self) -> bytes:
        """The entry as it is now, as one frame for the log file's writer process
        (:mod:`fakens.logwriter`; :func:`line_of_snapshot` makes it a line there)."""
        values = list(_ENTRY_FIELDS(self))
        qname = values[6]
        if qname is not None:
            values[6] = qname.labels
        for i in _INT_FIELDS:
            if values[i] is not None:
                values[i] = int(values[i])
        try:
            return frame(_MARSHAL, marshal.dumps(values))
        except ValueError:  # a fault's record holding an object marshal does not know: the line itself
            return frame(_LINE, self.json_line().encode())

    def json_line(self) -> str:
        """The entry's line in a log file (values JSON does not know written as their text)."""
        return json.dumps(self.to_dict(), default=str) + "\n"

    def facts(self) -> Facts:
        """What a selector reads of this entry (log filters and faults use one matcher)."""
        edns = self.edns
        options = tuple(_option_codes(edns.get("options", ()))) if edns else ()
        return Facts(self.qname, self.qtype, self.qclass, self.opcode, self.transport, self.client[0],
                     edns is not None, bool(edns and edns.get("do")), self.server, options)

    @property
    def reply_bytes_omitted(self) -> int:
        """How many messages were sent but not kept in ``reply_bytes`` (a long transfer's)."""
        return self.messages - len(self.reply_bytes)

    @property
    def reply_time(self) -> float:
        """When the reply went out, on the server's clock: ``time + delay + duration``."""
        return self.time + self.delay + self.duration

    @property
    def qtype_text(self) -> str | None:
        """The query type as text (``"A"``), or None."""
        return None if self.qtype is None else _type_text(self.qtype)

    @property
    def rcode_text(self) -> str | None:
        """The reply's rcode as text (``"NXDOMAIN"``), or None when no reply was sent."""
        return None if self.rcode is None else _rcode_text(self.rcode)

    def to_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data."""
        return {
            "time": self.time,
            "server": self.server,
            "client": f"{self.client[0]}#{self.client[1]}",
            "local": f"{self.local[0]}#{self.local[1]}",
            "transport": self.transport,
            "id": self.id,
            "qname": None if self.qname is None else self.qname.to_text(),
            "qtype": self.qtype_text,
            "qclass": None if self.qclass is None else _class_text(self.qclass),
            "opcode": _opcode_text(self.opcode),
            "query_flags": _flags_text(self.query_flags),
            "edns": self.edns,
            "rcode": self.rcode_text,
            "flags": _flags_text(self.flags),
            "counts": {"qd": self.counts[0], "an": self.counts[1], "ns": self.counts[2], "ar": self.counts[3]},
            "size": self.size,
            "messages": self.messages,
            "duration_ms": round(self.duration * 1000, 3),
            "delay_ms": round(self.delay * 1000, 3),
            "faults": self.faults,
            "matched": self.matched,
            "note": self.note,
        }

    def matches(self, selector: Selector | None = None, rcode: str | int | None = None,
                fault: str | None = None, **criteria: Any) -> bool:
        """Does this entry match? Criteria are the selector keys faults use
        (``qname``, ``qtype``, ``transport``, ``client`` ...), plus ``rcode``
        (None: no reply was sent) and ``fault`` (the name or type of a fault that changed
        something; one that matched and changed nothing is in ``matched``, not matched here)."""
        return _LogFilter(selector, rcode, fault, criteria)(self)

    def __str__(self) -> str:
        question = f"{self.qname} {self.qtype_text}" if self.qname is not None else "(no question)"
        rcode = self.rcode_text or "no reply"
        faults = f" [faults: {', '.join(f['name'] for f in self.faults)}]" if self.faults else ""
        return f"{self.server} {self.transport} {self.client[0]}#{self.client[1]} {question} -> {rcode}{faults}"


# The texts of numbers, cached: dnspython's enum conversions were most of a log line's cost.
@functools.lru_cache(maxsize=4096)
def _type_text(qtype: int) -> str:
    return dns.rdatatype.to_text(dns.rdatatype.RdataType.make(qtype))


@functools.lru_cache(maxsize=4096)
def _rcode_text(rcode: int) -> str:
    return dns.rcode.to_text(dns.rcode.Rcode.make(rcode))


@functools.lru_cache(maxsize=1024)
def _class_text(qclass: int) -> str:
    return dns.rdataclass.to_text(dns.rdataclass.RdataClass.make(qclass))


@functools.lru_cache(maxsize=16)
def _opcode_text(opcode: int) -> str:
    return dns.opcode.to_text(dns.opcode.Opcode.make(opcode))


@functools.lru_cache(maxsize=4096)
def _flags_text(flags: int) -> str:
    return dns.flags.to_text(flags)


_ENTRY_FIELDS = operator.attrgetter(*(f.name for f in fields(LogEntry)))
_INT_FIELDS = (7, 8, 9, 10, 12, 13)  # qtype, qclass, opcode, query_flags, rcode, flags: enums to plain ints
_MARSHAL, _LINE = b"M", b"L"  # the frames of LogEntry.snapshot


def line_of_snapshot(kind: bytes, payload: bytes) -> str:
    """The log file's line for a :meth:`LogEntry.snapshot` frame (in the writer process)."""
    if kind == _LINE:
        return payload.decode()
    values: list[Any] = marshal.loads(payload)  # marshal keeps tuples tuples
    if values[6] is not None:
        values[6] = dns.name.Name(values[6])
    return LogEntry(*values).json_line()


def _option_codes(names: Any) -> Iterator[int]:
    """The codes of a log record's EDNS options (names as dnspython writes them, or numbers)."""
    for name in names:
        try:
            yield option_code(name)
        except ValueError:
            continue


_UNSET: Any = object()


class _LogFilter:
    """A compiled set of log criteria (the selector is parsed once, not per entry)."""

    def __init__(self, selector: Selector | None, rcode: Any, fault: str | None, criteria: Mapping[str, Any]) -> None:
        if selector is not None and criteria:
            raise ConfigError("give either a Selector or selector keys, not both")
        self.selector = selector if selector is not None else Selector.parse(criteria, context="log filter")
        self.rcode: int | Any | None = _UNSET
        if rcode is not None:
            self.rcode = dns.rcode.from_text(rcode.upper()) if isinstance(rcode, str) else int(rcode)
        self.fault = fault

    def __call__(self, entry: LogEntry) -> bool:
        if self.rcode is not _UNSET and entry.rcode != self.rcode:
            return False
        if self.fault is not None and not any(self.fault in (f["name"], f["type"]) for f in entry.faults):
            return False
        return self.selector.matches(entry.facts())


class QueryLog:
    """A bounded in-memory log of one server's queries, optionally mirrored to a file."""

    def __init__(self, limit: int = DEFAULT_LIMIT, path: str | None = None, max_bytes: int = 0) -> None:
        if limit < 0:
            raise ConfigError(f"log limit {limit}: give the number of entries to keep in memory (0: none)")
        # a LogEntry, or a fast-path reply's entry still to be made from its template (see append_hit)
        self._entries: collections.deque[LogEntry | list[Any]] = collections.deque(maxlen=limit)
        self.path = path
        self._writer = LogWriter(path, max_bytes) if path is not None else None
        self.total = 0
        self.name_for_messages = "the server"
        self.stream_messages_kept = STREAM_MESSAGES_KEPT  # a transfer's reply_bytes: its first messages

    @property
    def limit(self) -> int:
        """How many entries are kept in memory (the newest)."""
        return self._entries.maxlen or 0

    @property
    def writer(self) -> LogWriter | None:
        """The log file's writer (:mod:`fakens.logwriter`), None without a file or once closed."""
        return self._writer

    def append(self, entry: LogEntry, to_file: bool = True) -> None:
        """Record one entry (the only per-query work the log does). *to_file* False: the
        entry is still being filled in (a transfer being sent); :meth:`to_file` queues it later."""
        self._entries.append(entry)
        self.total += 1
        if to_file:
            if self._writer is not None:
                self._writer.put(entry)
            if self._watchers:
                self._tell(entry)

    def append_hit(self, template: LogEntry | EntryTemplate, now: float, client: tuple[str, int],
                   local: tuple[str, int], msg_id: int, query: bytes, reply: bytes, duration: float) -> list[bytes]:
        """Record a cached reply: its *template*'s entry with who, when and the ID of this query
        (or an :class:`EntryTemplate`'s, which reads the entry from the bytes: an express reply's).
        The LogEntry is made when the log is read (or at once for a log file or a watcher): a
        repeated question's reply costs a list here, not a copy of 24 fields. The reply's
        messages, as the entry holds them."""
        self.total += 1
        if self._writer is None and not self._watchers:
            self._entries.append([template, now, client, local, msg_id, query, reply, duration])
            return [reply]
        entry = _from_template(template, now, client, local, msg_id, query, reply, duration)
        self.append(entry)
        self.total -= 1
        return entry.reply_bytes

    def _kept(self) -> list[LogEntry]:
        """The entries in memory, oldest first, each a LogEntry (one made from its template
        is made once: the same object at every read)."""
        kept = list(self._entries)
        with _made_lock:
            return [e if type(e) is not list else _made(e) for e in kept]  # type: ignore[misc]

    def to_file(self, entry: LogEntry) -> None:
        """Queue an entry appended with ``to_file=False`` for the log file (and tell the
        watchers of it), now it is complete."""
        if self._writer is not None:
            self._writer.put(entry)
        if self._watchers:
            self._tell(entry)

    def flush(self) -> None:
        """Write entries not yet in the log file (a child process writes them as they come, within 0.05 s)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the log file; the in-memory entries stay."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def clear(self) -> None:
        """Forget the in-memory entries (the file keeps its lines)."""
        self.flush()
        self._entries.clear()

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._kept())

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, selector: Selector | None = None, *, rcode: str | int | None = None,
                fault: str | None = None, **criteria: Any) -> list[LogEntry]:
        """Entries matching every criterion (see :meth:`LogEntry.matches`), oldest first.

        >>> server.log.entries(qname="**.example.test.", qtype="A,AAAA", transport="udp", rcode="NXDOMAIN")
        """
        match = _LogFilter(selector, rcode, fault, criteria)
        return [e for e in self._kept() if match(e)]

    def count(self, selector: Selector | None = None, **criteria: Any) -> int:
        """How many entries match."""
        return len(self.entries(selector, **criteria))

    def assert_received(self, selector: Selector | None = None, *, times: int | None = None,
                        at_least: int = 1, **criteria: Any) -> list[LogEntry]:
        """Assert that matching queries arrived (exactly *times*, or at least
        *at_least*); the error lists the similar queries the server did see."""
        __tracebackhide__ = True
        found = self.entries(selector, **criteria)
        if (times is not None and len(found) != times) or (times is None and len(found) < at_least):
            wanted = f"exactly {times}" if times is not None else f"at least {at_least}"
            raise AssertionError(f"expected {wanted} {_describe(selector, criteria)}, got {len(found)}"
                                 + self._similar(criteria))
        return found

    def assert_not_received(self, selector: Selector | None = None, **criteria: Any) -> None:
        """Assert that no matching query arrived."""
        __tracebackhide__ = True
        found = self.entries(selector, **criteria)
        if found:
            listed = "\n".join(f"  {e}" for e in found[:20])
            raise AssertionError(f"expected no {_describe(selector, criteria)}, got {len(found)}:\n{listed}")

    def _similar(self, criteria: Mapping[str, Any]) -> str:
        entries = self._kept()
        if not entries:
            return f"; {self.name_for_messages} received no queries at all"
        similar: list[LogEntry] = []
        qname = criteria.get("qname")
        if isinstance(qname, str):
            # the closest suffix of the wanted name that some received query shares
            labels = qname.lower().lstrip("*.").rstrip(".").split(".")
            for i in range(len(labels) - 1):
                suffix = "." + ".".join(labels[i:]) + "."
                similar = [e for e in entries if e.qname is not None
                           and ("." + e.qname.to_text().lower()).endswith(suffix)]
                if similar:
                    break
        shown = (similar or entries)[-20:]
        label = "similar queries" if similar else "the last queries"
        return f"; {label} it received:\n" + "\n".join(f"  {e}" for e in shown)

    def to_jsonl(self, path_or_file: str | IO[str], entries: Iterable[LogEntry] | None = None) -> None:
        """Write entries (all by default) as JSON lines."""
        chosen = self._kept() if entries is None else list(entries)
        if isinstance(path_or_file, str):
            with open(path_or_file, "w", encoding="utf-8") as f:
                self.to_jsonl(f, chosen)
            return
        for entry in chosen:
            path_or_file.write(json.dumps(entry.to_dict()) + "\n")

    def to_pcap(self, path_or_file: str | IO[bytes], entries: Iterable[LogEntry] | None = None) -> int:
        """Write entries (all kept ones by default) as a libpcap file: each query and each
        reply message a UDP datagram or TCP segments between the client's and the server's
        addresses (see :mod:`fakens.pcap`). Returns the number of packets written.

        >>> server.log.to_pcap("queries.pcap", server.log.entries(qname="**.example.test."))
        """
        return pcap.write(path_or_file, self._kept() if entries is None else entries)

    # -- watchers: told of every entry once it is complete (fakens serve -v, the control endpoint's follow)

    _watchers: tuple[Callable[[LogEntry], object], ...] = ()

    def watch(self, callback: Callable[[LogEntry], object]) -> Callable[[], None]:
        """Call ``callback(entry)`` for every entry from now on, once it is complete (a
        transfer's when it ends), in the thread that serves the query: it must be quick and
        must not block (put it on a queue). One that raises is unwatched. Returns the function
        that stops it (idempotent). Thread-safe; a log nobody watches pays one test per query."""
        with _watch_lock:
            self._watchers = (*self._watchers, callback)

        def unwatch() -> None:
            with _watch_lock:
                self._watchers = tuple(w for w in self._watchers if w is not callback)

        return unwatch

    def _tell(self, entry: LogEntry) -> None:
        for callback in self._watchers:
            try:
                callback(entry)
            except Exception:  # a broken watcher must not break the query
                with _watch_lock:
                    self._watchers = tuple(w for w in self._watchers if w is not callback)


_watch_lock = threading.Lock()
_made_lock = threading.Lock()  # readers making entries of templates (each made once)


class EntryTemplate:
    """What a kept reply's log entry is made from when it is not a LogEntry to copy: the
    entry is made from the bytes when the log is read (:meth:`QueryLog.append_hit`), so the
    query costs a list, not a LogEntry and the objects it holds (an express reply's:
    :class:`fakens.exchange.BytesTemplate`)."""

    __slots__ = ()

    def entry(self, now: float, client: tuple[str, int], local: tuple[str, int], msg_id: int, query: bytes,
              reply: bytes, duration: float) -> LogEntry:
        """The entry of *query*, answered with *reply* at *now*, in *duration* seconds."""
        raise NotImplementedError


def _from_template(template: LogEntry | EntryTemplate, now: float, client: tuple[str, int],
                   local: tuple[str, int], msg_id: int, query: bytes, reply: bytes, duration: float) -> LogEntry:
    if isinstance(template, EntryTemplate):
        return template.entry(now, client, local, msg_id, query, reply, duration)
    entry = template.copy()  # same question, byte for byte: only who, when and the ID differ
    entry.time, entry.client, entry.local, entry.id = now, client, local, msg_id
    entry.query_bytes, entry.reply_bytes, entry.duration = query, [reply], duration
    return entry


def _made(hit: list[Any]) -> LogEntry:
    """The LogEntry of a hit kept by :meth:`QueryLog.append_hit`, made at its first read
    and kept in its place (the list then holds the entry alone)."""
    if len(hit) != 1:
        hit[:] = [_from_template(*hit)]
    made: LogEntry = hit[0]
    return made


def _describe(selector: Selector | None, criteria: Mapping[str, Any]) -> str:
    keys = selector.to_spec() if selector is not None else {k: v for k, v in criteria.items()}
    return "queries matching " + (" ".join(f"{k}={v}" for k, v in keys.items()) or "anything")
