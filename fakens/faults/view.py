"""What a fault hook sees, and the values it answers with.

A hook never holds the server. It gets a :class:`View`: the question, the
transport, the client, the clock's time, the server's identity and sizes, and
read-only access to the zones (their versions and the engine's answers from
any version). It answers with values the pipeline carries out::

    def before(self, view: View) -> Act | None:
        return Act("lame: REFUSED", ErrorReply(dns.rcode.REFUSED))

    def after(self, view: View, answer: Answer) -> str | Answer | None:
        answer.aa = False                  # edit the Answer in place ...
        return "AA cleared"                # ... and say what changed (None: nothing)

    def after(self, view: View, answer: Answer) -> str | Answer | None:
        return Replaced("answered from serial 3", view.zones.answer(q, versions={origin: old}))

``encoding``, ``transfer`` and ``wire`` hooks edit the working value they are
given (an :class:`Encoding`, the transfer's RRset list, the reply messages)
and return what they changed as text; ``notify`` edits a :class:`NotifyPlan`.
A hook that changed nothing returns None, or :class:`Unchanged` with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from fakens.outcome import Outcome
from fakens.wire import Opt, Question

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.dnssec.signer import ZoneSigner
    from fakens.zones import ZoneVersion


class ZoneHistory(Protocol):
    """A served zone as faults may read it (no edits)."""

    @property
    def origin(self) -> dns.name.Name: ...

    @property
    def current(self) -> ZoneVersion: ...

    @property
    def serial(self) -> int: ...

    @property
    def history(self) -> list[ZoneVersion]: ...

    def version_with_serial(self, serial: int) -> ZoneVersion | None: ...

    @property
    def signer(self) -> ZoneSigner | None:
        """The zone's DNSSEC signer when it is served signed, else None."""


class ZoneData(Protocol):
    """The server's zones and its engine, read-only (what :attr:`View.zones` offers)."""

    def get(self, origin: dns.name.Name) -> ZoneHistory | None:
        """The zone with this origin, or None."""

    def find(self, name: dns.name.Name) -> ZoneHistory | None:
        """The closest enclosing served zone of *name*, or None."""

    def answer(self, question: Question, versions: Mapping[dns.name.Name, ZoneVersion] | None = None,
               dnssec_ok: bool = False) -> Answer:
        """The engine's answer to *question*, from *versions* where given (else the current ones)."""

    def negative(self, version: ZoneVersion) -> dns.rrset.RRset:
        """The SOA of a negative answer from *version* (RFC 2308)."""

    def addresses(self, host: dns.name.Name, versions: Mapping[dns.name.Name, ZoneVersion] | None = None
                  ) -> list[dns.rrset.RRset]:
        """A and AAAA of *host* in the served zones (glue included), from *versions* where given."""


class EdnsFacts(NamedTuple):
    """The query's OPT record, as faults read it (a named tuple, made with every query that
    has one: a frozen dataclass takes twice as long)."""

    version: int
    payload: int
    flags: int  # the 16 EDNS flag bits (DO is 0x8000)
    options: tuple[tuple[int, bytes], ...]  # (code, data) in the order sent


@dataclass(frozen=True)
class StreamPart:
    """Which message of a streamed transfer a ``wire`` hook is given: the hook
    runs once per message as it is made, with ``messages`` holding that message only."""

    index: int  # the message's number in the stream, from 0
    rrsets: range  # positions of the RRsets it holds in the transfer's sequence
    total: int | None  # RRsets in the sequence (None: not known)


@dataclass(frozen=True)
class View:
    """A narrow, read-only view of one exchange (a query, a connection or an outgoing NOTIFY)."""

    server: str
    transport: str
    client: str | None
    now: float
    udp_size: int
    zones: ZoneData
    question: Question | None = None
    edns: EdnsFacts | None = None
    ixfr_serial: int | None = None  # the serial an IXFR client says it has (its SOA in AUTHORITY)
    part: StreamPart | None = None  # in a ``wire`` hook of a TCP transfer: which message (else None)

    @property
    def qname(self) -> dns.name.Name:
        assert self.question is not None, "a hook of a query always has a question"
        return self.question.name

    @property
    def qtype(self) -> dns.rdatatype.RdataType:
        assert self.question is not None, "a hook of a query always has a question"
        return self.question.rdtype

    @property
    def qclass(self) -> dns.rdataclass.RdataClass:
        assert self.question is not None, "a hook of a query always has a question"
        return self.question.rdclass


class Unchanged(str):
    """A hook's note that says why it changed nothing (``Unchanged("no older version kept")``):
    the fault is logged in the entry's ``matched`` with this reason (not in its ``faults``) and
    is not counted by its schedule."""


@dataclass(frozen=True)
class ErrorReply:
    """Reply with *rcode* and no records (the question unless told otherwise, TC when asked)."""

    rcode: int
    question: bool = True
    tc: bool = False
    with_opt: bool = True


@dataclass(frozen=True)
class Act:
    """What a ``before`` (or ``connection``) hook wants done: *note* says it for the log.

    *outcome* ends the query (an :class:`ErrorReply`, or Drop/Close/Reset/Stall);
    *delay* (seconds on the server's clock) holds the reply back.
    """

    note: str
    outcome: Outcome | ErrorReply | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Replaced:
    """From an ``after`` hook: send *answer* instead of the one given."""

    note: str
    answer: Answer


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


@dataclass
class TransferPlan:
    """A transfer's RRsets in the making; ``transfer`` hooks may edit them."""

    rrsets: list[dns.rrset.RRset]
    close_after: bool = False  # close the connection after the last message (a transfer cut short)
