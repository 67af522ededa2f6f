"""One received message on its way through a server: read once, then read from.

The transport hands the pipeline bytes; :meth:`Exchange.receive` reads the
header, :meth:`Exchange.read_question` the question (cheaply, for the fast
path and fault selection) and :meth:`Exchange.parse` the rest: a plain query
(one question, at most an OPT record whose options cannot fail to parse) by
fakens' own reader, anything else through dnspython (TSIG, an IXFR client's SOA,
malformed messages), with the same facts either way. Every later stage reads its facts
from the exchange, never from the bytes, and at the end the exchange becomes
the query log entry::

    x = Exchange.receive(wire, ("127.0.0.1", 40000), ("127.0.0.1", 53), "udp", "ns1", now=0.0)
    x.read_question(); x.parse(keyring=None)
    x.facts()            # what selectors read
    x.entry()            # the LogEntry
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any, cast

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.tsig

from fakens.fastpath import question_end
from fakens.faults.view import EdnsFacts
from fakens.log import EntryTemplate, LogEntry
from fakens.names import hashed_name, joined_name, suffix_hash
from fakens.options import Keyring
from fakens.outcome import Outcome, Reply
from fakens.selectors import Facts
from fakens.wire import Question, TsigSigner

HEADER = struct.Struct("!HHHHHH")
_QUESTION_TAIL = struct.Struct("!HH")
_OPT_FIXED = struct.Struct("!HHIH")
_OPTION_HEAD = struct.Struct("!HH")


_DO = int(dns.flags.DO)
_RDTYPES: dict[int, dns.rdatatype.RdataType] = {}
_RDCLASSES: dict[int, dns.rdataclass.RdataClass] = {}


def _rdtype(value: int) -> dns.rdatatype.RdataType:
    """``RdataType.make(value)``, each value made once (the enum's call is a microsecond)."""
    made = _RDTYPES.get(value)
    if made is None:
        made = _RDTYPES[value] = dns.rdatatype.RdataType.make(value)
    return made


def _rdclass(value: int) -> dns.rdataclass.RdataClass:
    """``RdataClass.make(value)``, each value made once."""
    made = _RDCLASSES.get(value)
    if made is None:
        made = _RDCLASSES[value] = dns.rdataclass.RdataClass.make(value)
    return made


def _opaque_option(code: int, data: bytes) -> bool:
    """Whether dnspython reads this EDNS option back to exactly *data* and cannot refuse it."""
    if code == dns.edns.OptionType.COOKIE:
        return len(data) == 8 or 16 <= len(data) <= 40
    return dns.edns.get_option_class(dns.edns.OptionType.make(code)) is dns.edns.GenericOption


class TsigError(Exception):
    """The query's TSIG did not verify (the pipeline answers NOTAUTH with the TSIG error)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


MAX_PLAIN_QUESTION_END = 12 + 255 + 4
"""Where a question read without dnspython ends at most: a name of at most 255 octets after
the header, then its type and class."""


def opt_head(wire: bytes, end: int) -> tuple[int, int, int] | None:
    """The OPT record a plain query ends with after its question (which ends at *end*): its
    payload size, its TTL field (extended rcode, version, flags) and its RDLENGTH; None when
    what follows is not one OPT record owned by the root that ends the message."""
    if len(wire) < end + 11 or wire[end] != 0:
        return None
    rdtype, payload, ttl, rdlen = _OPT_FIXED.unpack_from(wire, end + 1)
    if rdtype != dns.rdatatype.OPT or end + 11 + rdlen != len(wire):
        return None
    return payload, ttl, rdlen


def _plain_name(wire: bytes, end: int) -> tuple[dns.name.Name, tuple[int, ...], _Suffix | None]:
    """The question's name, written without compression from offset 12 to *end* (its root
    label's end), as ``dns.name.from_wire`` would read it, without its per-label checks
    (:func:`fakens.fastpath.question_end` found the labels; the caller bounded the length),
    and where each of its labels but the root starts, counted from offset 12. What follows
    the first label (the zone's origin, mostly) is read once (:class:`_Suffix`): its labels,
    its part of the hash and the label starts are kept by its bytes as written (and returned:
    None for the root)."""
    length = wire[12]
    if length == 0:
        return hashed_name((b"",)), (), None
    after = 13 + length
    suffix = wire[after:end]
    known = _SUFFIXES.get(suffix)
    if known is None:
        known = _Suffix(suffix)
        if len(_SUFFIXES) >= _SUFFIXES_KEPT:
            _SUFFIXES.clear()
        _SUFFIXES[suffix] = known
    starts = known.starts_after.get(length)
    if starts is None:
        starts = known.starts_after[length] = (0, *(1 + length + at for at in known.starts))
    return joined_name(wire[13:after], known.labels, known.hash, known.power), starts, known


class _Suffix:
    """The labels after a question name's first, read from their bytes as written: the labels
    (the root's included), where each but the root starts in them, their part of the name's
    hash (:func:`fakens.names.suffix_hash`), and the label starts of the names they end, by the
    length of the first label; ``name`` is they as a name (the question's parent), ``wildcard``
    the wildcard below it (``*.`` + ``name``), both hashed: an answer that looks for the
    closest encloser or a wildcard asks for them. :meth:`compression` gives the suffixes'
    entries of a reply's compression table."""

    __slots__ = ("compress_after", "hash", "labels", "lower", "name", "power", "starts", "starts_after", "wildcard")

    def __init__(self, suffix: bytes) -> None:
        labels = []
        starts = []
        i = 0
        while suffix[i]:
            length = suffix[i]
            starts.append(i)
            labels.append(suffix[i + 1:i + 1 + length])
            i += length + 1
        labels.append(b"")
        self.labels = tuple(labels)
        self.starts = tuple(starts)
        self.hash, self.power = suffix_hash(self.labels)
        self.starts_after: dict[int, tuple[int, ...]] = {}
        self.name = hashed_name(self.labels)
        self.wildcard = hashed_name((b"*", *self.labels))
        self.lower = suffix.lower()  # (ASCII, as DNS compares names)
        self.compress_after: dict[int, dict[bytes, int]] = {}

    def compression(self, length: int) -> dict[bytes, int]:
        """The compression table of a reply to a question whose first label of *length* octets
        these labels follow (the name at offset 12), but for the whole name: each suffix in lower
        case, to its offset. Shared: the caller copies it before adding to it::

            table = suffix.compression(len(first)).copy(); table[whole_name_lower] = 12
        """
        table = self.compress_after.get(length)
        if table is None:
            lower, at = self.lower, 13 + length
            table = self.compress_after[length] = {lower[start:]: at + start for start in self.starts}
        return table


_SUFFIXES: dict[bytes, _Suffix] = {}
_SUFFIXES_KEPT = 10_000


@dataclass(slots=True)
class Exchange:
    """One query (or other message) and everything decided about it."""

    wire: bytes
    client: tuple[str, int]
    local: tuple[str, int]
    transport: str
    server: str
    time: float
    msg_id: int
    flags: int
    qdcount: int
    started: float = 0.0
    question: Question | None = None
    message: dns.message.Message | None = None
    edns: EdnsFacts | None = None
    signer: TsigSigner | None = None
    ixfr_serial: int | None = None
    note: str = ""
    rcode: int | None = None  # an extended rcode chosen for the reply (else read from the reply's header)
    faults: list[dict[str, Any]] | None = None  # the faults that changed something (None: none, no list made)
    matched: list[dict[str, Any]] | None = None  # those that fired and changed nothing
    qend: int = -1  # where the first question ends (0: written with compression; -1: not looked yet)
    label_starts: tuple[int, ...] | None = None  # where the question's labels start, from 12 (a name read without dnspython)
    suffix: _Suffix | None = None  # what follows its first label (a name read without dnspython, not the root)

    @classmethod
    def receive(cls, wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str,
                server: str, now: float) -> Exchange | None:
        """The exchange of a received message, its header read; None when it has no header."""
        if len(wire) < 12:
            return None
        msg_id, flags, qdcount, _, _, _ = HEADER.unpack_from(wire)
        return cls(wire, client, local, transport, server, now, msg_id, flags, qdcount, time.perf_counter())

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)  # QR (an int test: the enum's is slower)

    def question_end(self) -> int | None:
        """:func:`fakens.fastpath.question_end` of the message (found once)."""
        end = self.qend
        if end < 0:
            end = self.qend = question_end(self.wire) or 0
        return end or None

    def read_question(self) -> bool:
        """Read the first question from the bytes (no dnspython message); False when it cannot be read."""
        if self.question is not None:
            return True
        if self.qdcount < 1:
            return False
        wire = self.wire
        end = self.question_end()
        try:
            if end is not None and end <= MAX_PLAIN_QUESTION_END:  # uncompressed, not too long: its labels as they are
                name, self.label_starts, self.suffix = _plain_name(wire, end - 4)
                used = end - 16
            else:
                name, used = dns.name.from_wire(wire, 12)
            rdtype, rdclass = _QUESTION_TAIL.unpack_from(wire, 12 + used)
        except (dns.exception.DNSException, struct.error):
            return False
        self.question = Question(name, _rdtype(rdtype), _rdclass(rdclass))
        return True

    def parse(self, keyring: Keyring | None, tsig_time_offset: float = 0.0) -> dns.message.Message | None:
        """Parse the whole message: a plain query by :meth:`read_plain` (None returned: no
        dnspython message made), else through dnspython (TSIG verified with *keyring*).

        The replies' signer signs at real time plus *tsig_time_offset*. Raises :class:`TsigError` for a TSIG that does not verify and
        ``dns.exception.DNSException`` for a message that does not parse.
        """
        if self.read_plain():
            return None
        try:
            message = dns.message.from_wire(self.wire, keyring=keyring, one_rr_per_rrset=False)
        except (dns.message.UnknownTSIGKey, dns.tsig.BadSignature, dns.tsig.BadTime, dns.tsig.PeerError) as e:
            raise TsigError(e) from None
        self.message = message
        if message.question:
            q = message.question[0]
            if self.question is None:  # else read already, from the same bytes
                self.question = Question(q.name, q.rdtype, q.rdclass)
        if message.edns >= 0:
            self.edns = EdnsFacts(message.edns, message.payload, message.ednsflags & 0xFFFF,
                                  tuple((int(o.otype), o.to_wire() or b"") for o in message.options))
        if message.had_tsig and keyring is not None:
            key = keyring.get(cast(dns.name.Name, message.keyname))
            if key is not None:
                self.signer = TsigSigner(key, message.mac or b"", message.id, time_offset=tsig_time_offset)
        for rrset in message.authority:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                self.ixfr_serial = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0]).serial
                break
        return message

    def read_plain(self) -> bool:
        """Read a plain query without dnspython: QUERY, one question written without
        compression, no answer or authority records, and either nothing more or one OPT
        record (root owner) whose options dnspython reads as opaque bytes or are a
        well-formed COOKIE; the message ending exactly there. False (nothing read
        beyond the question) for anything else, which dnspython then parses, so every
        message dnspython refuses is still refused the same way."""
        wire = self.wire
        if (self.flags & 0xF800) or self.qdcount != 1 or wire[6:10] != b"\x00\x00\x00\x00":
            return False
        arcount = wire[10] << 8 | wire[11]
        end = self.question_end()
        if end is None or arcount > 1 or not self.read_question():
            return False
        size = len(wire)
        if arcount == 0:
            return size == end
        head = opt_head(wire, end)
        if head is None:
            return False
        payload, ttl, _ = head
        at = end + 11
        options: list[tuple[int, bytes]] = []
        while at < size:
            if at + 4 > size:
                return False
            code, length = _OPTION_HEAD.unpack_from(wire, at)
            data = wire[at + 4:at + 4 + length]
            at += 4 + length
            if at > size or not _opaque_option(code, data):
                return False
            options.append((code, data))
        self.edns = EdnsFacts((ttl >> 16) & 0xFF, payload, ttl & 0xFFFF, tuple(options))
        return True

    @property
    def dnssec_ok(self) -> bool:
        return self.edns is not None and bool(self.edns.flags & _DO)  # an int test: the enum's is slower

    def facts(self, known_edns: bool = True) -> Facts:
        """What selectors read. *known_edns* False: before :meth:`parse`, EDNS is not known
        (criteria on it count as met, as the fast path's could-match needs)."""
        q = self.question
        edns: bool | None = self.edns is not None if known_edns else None
        do: bool | None = self.dnssec_ok if known_edns else None
        options: tuple[int, ...] | None = None
        if known_edns:
            options = tuple(code for code, _ in self.edns.options) if self.edns is not None else ()
        if q is None:
            return Facts(None, None, None, self.opcode, self.transport, self.client[0], edns, do, self.server, options)
        return Facts(q.name, q.rdtype, q.rdclass, self.opcode, self.transport, self.client[0], edns, do, self.server,
                     options)

    def entry(self, outcome: Outcome | None) -> LogEntry:
        """The query log entry: the query's facts and what became of it (the query's bytes and a
        Reply's messages kept as they are, not copied; a Stream's are added as they are sent)."""
        q = self.question
        qname, qtype, qclass = (q.name, int(q.rdtype), int(q.rdclass)) if q is not None else (None, None, None)
        flags = self.flags
        edns = _edns_record(self.edns) if self.edns is not None else None
        delay = outcome.delay if outcome is not None else 0.0
        faults = self.faults if self.faults is not None else []
        matched = self.matched if self.matched is not None else []
        if isinstance(outcome, Reply) and outcome.messages:
            messages = outcome.messages
            _, rflags, qd, an, ns, ar = HEADER.unpack_from(messages[0])
            rcode = self.rcode if self.rcode is not None else rflags & 0xF
            size = len(messages[0]) if len(messages) == 1 else sum(len(m) for m in messages)
            return LogEntry(self.time, self.server, self.client, self.local, self.transport, self.msg_id,
                            qname, qtype, qclass, (flags >> 11) & 0xF, flags & 0x87F0, edns, rcode, rflags & 0x87F0,
                            (qd, an, ns, ar), size, len(messages), time.perf_counter() - self.started, faults,
                            self.note, matched, delay, self.wire, messages)
        entry = LogEntry(self.time, self.server, self.client, self.local, self.transport, self.msg_id,
                         qname, qtype, qclass, opcode=(flags >> 11) & 0xF, query_flags=flags & 0x87F0, edns=edns,
                         faults=faults, note=self.note, matched=matched, delay=delay,
                         query_bytes=self.wire)
        if isinstance(outcome, Reply):
            entry.reply_bytes = outcome.messages
        entry.duration = time.perf_counter() - self.started
        return entry


class BytesTemplate(EntryTemplate):
    """The log template of replies whose entry the query's and the reply's bytes hold whole
    (the express path's: a plain query, no fault, no note): the entry is read from them when
    the log is read, exactly as :meth:`Exchange.entry` made it as the query was answered::

        template = BytesTemplate("ns1", "udp")
        log.append_hit(template, x.time, x.client, x.local, x.msg_id, x.wire, reply, duration)
    """

    __slots__ = ("server", "transport")

    def __init__(self, server: str, transport: str) -> None:
        self.server = server
        self.transport = transport

    def entry(self, now: float, client: tuple[str, int], local: tuple[str, int], msg_id: int, query: bytes,
              reply: bytes, duration: float) -> LogEntry:
        x = Exchange.receive(query, client, local, self.transport, self.server, now)
        if x is None or not x.read_plain():
            raise ValueError(f"not a plain query: {query!r}")  # (only plain queries' replies are kept so)
        entry = x.entry(Reply([reply]))
        entry.duration = duration
        return entry


_EDNS_RECORDS: dict[EdnsFacts, dict[str, Any]] = {}


def _edns_record(edns: EdnsFacts) -> dict[str, Any]:
    """The log entry's record of the query's EDNS: one dict for equal facts (shared by the
    entries, as a fast-path entry shares its template's: read-only)."""
    record = _EDNS_RECORDS.get(edns)
    if record is None:
        record = {
            "version": edns.version,
            "size": edns.payload,
            "do": bool(edns.flags & _DO),
            "flags": edns.flags,
            "options": [_option_name(code) for code, _ in edns.options],
        }
        if len(_EDNS_RECORDS) >= 1024:
            _EDNS_RECORDS.clear()
        _EDNS_RECORDS[edns] = record
    return record


def _option_name(code: int) -> str | int:
    try:
        return dns.edns.OptionType.to_text(dns.edns.OptionType.make(code))
    except ValueError:
        return code
