"""What a fault hook sees: the query, the server, and what faults have decided so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dns.message
import dns.name

from fakens.wire import Opt, Question

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.faults.base import Fault
    from fakens.log import LogEntry
    from fakens.query import Query
    from fakens.server import Server


@dataclass
class Encoding:
    """How the reply will be encoded; ``encoding`` hooks may change it."""

    limit: int
    opt: Opt | None
    tc: bool = False
    pad_to: int = 0
    answer: Answer | None = None  # the Answer to encode (None for errors and transfers): faults may replace records
    set_flags: int = 0
    clear_flags: int = 0


@dataclass
class NotifyPlan:
    """An outgoing NOTIFY: where to, after how long, or not at all."""

    target: tuple[str, int]
    delay: float = 0.0
    skip: bool = False


@dataclass(frozen=True)
class StreamPart:
    """Which message of a streamed transfer a ``wire`` hook is given: the hook
    runs once per message as it is made, with ``messages`` holding that message only."""

    index: int  # the message's number in the stream, from 0
    rrsets: range  # positions of the RRsets it holds in the transfer's sequence
    total: int | None  # RRsets in the sequence (None: not known)


@dataclass
class FaultContext:
    """One query's (or connection's, or NOTIFY's) passage through the fault chain."""

    server: Server
    query: Query | None = None
    client: str | None = None
    transport: str = "udp"
    firing: list[Fault] = field(default_factory=list)
    actions: dict[str, list[str]] = field(default_factory=dict)
    delay: float = 0.0
    close_after: bool = False
    entry: LogEntry | None = None
    exchange: Any = None  # the server's reply builder for this query (Server.reply_with_rcode uses it)
    part: StreamPart | None = None  # in a ``wire`` hook: the message of a stream (None: the whole reply)

    @property
    def message(self) -> dns.message.Message:
        assert self.query is not None
        return self.query.message

    @property
    def question(self) -> Question:
        assert self.query is not None
        return self.query.question

    @property
    def qname(self) -> dns.name.Name:
        return self.question.name

    def record(self, fault: Fault, action: str) -> None:
        """Note what *fault* did (shown in the query log)."""
        self.actions.setdefault(fault.name, []).append(action)

    def log_records(self) -> list[dict[str, Any]]:
        """The query log's ``faults`` field: every fault that fired and what it did."""
        return [
            {"name": f.name, "type": f.type_name, "mode": f.mode or None,
             "actions": self.actions.get(f.name, []) or ["fired, nothing to change"]}
            for f in self.firing
        ]
