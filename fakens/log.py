"""The query log: every query a server received and what became of it.

An entry is recorded before the reply is sent, so a test that got a reply
can already read the entry. The log keeps the newest ``limit`` entries in
memory; a log file (JSON lines) gets every entry::

    server.log.entries(qname="www.example.test.", qtype="A", transport="udp")
    server.log.count(rcode="NXDOMAIN")
    server.log.to_jsonl("queries.jsonl")

The per-query cost is creating one entry and appending it; turning entries
into JSON happens when they are exported or flushed to the file.
"""

from __future__ import annotations

import collections
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import dns.flags
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

DEFAULT_LIMIT = 100_000


@dataclass(slots=True)
class LogEntry:
    """One query and its outcome.

    ``qname`` keeps the case the client used; ``rcode`` is None when the
    query was dropped (no reply). ``faults`` lists what each fault that
    fired did.
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
    cacheable: bool = field(default=False, repr=False, compare=False)

    @property
    def qtype_text(self) -> str | None:
        """The query type as text (``"A"``), or None."""
        return None if self.qtype is None else dns.rdatatype.to_text(dns.rdatatype.RdataType.make(self.qtype))

    @property
    def rcode_text(self) -> str | None:
        """The reply's rcode as text (``"NXDOMAIN"``), or None when no reply was sent."""
        return None if self.rcode is None else dns.rcode.to_text(dns.rcode.Rcode.make(self.rcode))

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
            "qclass": None if self.qclass is None else dns.rdataclass.to_text(dns.rdataclass.RdataClass.make(self.qclass)),
            "opcode": dns.opcode.to_text(dns.opcode.Opcode.make(self.opcode)),
            "query_flags": dns.flags.to_text(self.query_flags),
            "edns": self.edns,
            "rcode": self.rcode_text,
            "flags": dns.flags.to_text(self.flags),
            "counts": {"qd": self.counts[0], "an": self.counts[1], "ns": self.counts[2], "ar": self.counts[3]},
            "size": self.size,
            "messages": self.messages,
            "duration_ms": round(self.duration * 1000, 3),
            "faults": self.faults,
            "note": self.note,
        }

    def matches(self, qname: str | dns.name.Name | None = None, qtype: str | int | None = None,
                transport: str | None = None, client: str | None = None, rcode: str | int | None = None,
                opcode: str | int | None = None) -> bool:
        """Does this entry match every criterion given?"""
        if qname is not None:
            name = dns.name.from_text(qname) if isinstance(qname, str) else qname
            if self.qname != name:
                return False
        if qtype is not None:
            wanted = dns.rdatatype.from_text(qtype) if isinstance(qtype, str) else qtype
            if self.qtype != wanted:
                return False
        if transport is not None and self.transport != transport.lower():
            return False
        if client is not None and self.client[0] != client:
            return False
        if rcode is not None:
            wanted_rcode = dns.rcode.from_text(rcode) if isinstance(rcode, str) else rcode
            if self.rcode != wanted_rcode:
                return False
        if opcode is not None:
            wanted_op = dns.opcode.from_text(opcode) if isinstance(opcode, str) else opcode
            if self.opcode != wanted_op:
                return False
        return True

    def __str__(self) -> str:
        question = f"{self.qname} {self.qtype_text}" if self.qname is not None else "(no question)"
        rcode = self.rcode_text or "no reply"
        return f"{self.server} {self.transport} {self.client[0]}#{self.client[1]} {question} -> {rcode}"


class QueryLog:
    """A bounded in-memory log of one server's queries, optionally mirrored to a file."""

    def __init__(self, limit: int = DEFAULT_LIMIT, path: str | None = None) -> None:
        self._entries: collections.deque[LogEntry] = collections.deque(maxlen=limit)
        self._pending: collections.deque[LogEntry] = collections.deque()
        self.path = path
        self._file: IO[str] | None = None
        self._file_lock = threading.Lock()
        self.total = 0
        if path is not None:
            self._file = open(path, "a", encoding="utf-8")

    def append(self, entry: LogEntry) -> None:
        """Record one entry (the only per-query work the log does)."""
        self._entries.append(entry)
        self.total += 1
        if self._file is not None:
            self._pending.append(entry)

    def flush(self) -> None:
        """Write entries not yet in the log file."""
        if self._file is None:
            return
        with self._file_lock:
            while self._pending:
                self._file.write(json.dumps(self._pending.popleft().to_dict()) + "\n")
            self._file.flush()

    def close(self) -> None:
        """Flush and close the log file; the in-memory entries stay."""
        self.flush()
        if self._file is not None:
            self._file.close()
            self._file = None

    def clear(self) -> None:
        """Forget the in-memory entries (the file keeps its lines)."""
        self.flush()
        self._entries.clear()

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, **criteria: Any) -> list[LogEntry]:
        """Entries matching every criterion (see :meth:`LogEntry.matches`), oldest first."""
        return [e for e in list(self._entries) if e.matches(**criteria)]

    def count(self, **criteria: Any) -> int:
        """How many entries match."""
        return len(self.entries(**criteria))

    def to_jsonl(self, path_or_file: str | IO[str], entries: Iterable[LogEntry] | None = None) -> None:
        """Write entries (all by default) as JSON lines."""
        chosen = list(self._entries) if entries is None else list(entries)
        if isinstance(path_or_file, str):
            with open(path_or_file, "w", encoding="utf-8") as f:
                self.to_jsonl(f, chosen)
            return
        for entry in chosen:
            path_or_file.write(json.dumps(entry.to_dict()) + "\n")
