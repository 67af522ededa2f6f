"""Encoding an Answer into DNS messages: the server's OPT, truncation, TSIG.

Truncation follows RFC 2181 section 9 and RFC 9471: optional ADDITIONAL
records that do not fit are dropped without TC, and so is the zone's NS RRset
in the AUTHORITY of a positive answer (as NSD and Knot; BIND sets TC); required
glue of a referral that does not fit sets TC (what fits is kept); when ANSWER
or a required AUTHORITY (a referral's NS, a negative answer's SOA) does not
fit, TC=1 and the reply holds only the question (and OPT).
Records are written in a stable order (no shuffling), so the same answer is
the same bytes every time::

    wire = encode(Reply(id=q.id, question=q.question[0], flags=..., answer=answer), max_size=512)
"""

from __future__ import annotations

import collections
import struct
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TSIG
import dns.renderer
import dns.rrset
import dns.tsig

from fakens.answer import Answer
from fakens.fastwire import encode_fast

MIN_UDP = 512
MAX_TCP = 65535


class Question(NamedTuple):
    """The question of a query, with the name as the client wrote it (case kept); a named
    tuple, made with every query (a frozen dataclass takes twice as long)."""

    name: dns.name.Name
    rdtype: dns.rdatatype.RdataType
    rdclass: dns.rdataclass.RdataClass


@dataclass
class Opt:
    """The server's OPT record for one reply."""

    payload: int
    do: bool = False
    options: list[dns.edns.Option] = field(default_factory=list)
    extended_rcode: int = 0

    def copy(self) -> Opt:
        """A copy with its own options list (what encoding faults may change), without
        ``dataclasses.replace``'s cost on every reply."""
        return Opt(self.payload, self.do, list(self.options), self.extended_rcode)


@dataclass
class TsigSigner:
    """What is needed to sign replies to a TSIG-signed query (or a NOTIFY)."""

    key: dns.tsig.Key
    request_mac: bytes
    original_id: int
    error: int = 0
    time_offset: float = 0.0  # the server's tsig_time_offset

    def time_signed(self) -> int:
        """The time to sign: real time (the peer checks it against its own clock) plus the offset."""
        return tsig_time(self.time_offset)


def tsig_time(offset: float = 0.0) -> int:
    """The TSIG time fakens signs: real time, which a peer checks against its own clock, plus *offset*."""
    return int(time.time() + offset)


def sign(wire: bytes, signer: TsigSigner, request_mac: bytes, ctx: Any = None, multi: bool = False) -> tuple[bytes, Any]:
    """*wire* (a whole message, unsigned) with its TSIG record added, signed at
    ``signer.time_signed()``; and the context that signs the next message of a stream."""
    rdata = dns.rdtypes.ANY.TSIG.TSIG(dns.rdataclass.ANY, dns.rdatatype.TSIG, signer.key.algorithm, 0, 300, b"",
                                      signer.original_id, signer.error, b"")
    tsig, ctx = dns.tsig.sign(wire, signer.key, rdata, signer.time_signed(), request_mac, ctx, multi)
    rr = tsig.to_wire()
    record = (signer.key.name.to_wire() or b"") + struct.pack("!HHIH", dns.rdatatype.TSIG, dns.rdataclass.ANY, 0, len(rr)) + rr
    (arcount,) = struct.unpack_from("!H", wire, 10)
    return wire[:10] + struct.pack("!H", arcount + 1) + wire[12:] + record, ctx


def _add_opt(renderer: dns.renderer.Renderer, opt: Opt) -> None:
    """The server's OPT record (EDNS version 0), the extended rcode in its high flag bits."""
    ednsflags = (opt.extended_rcode << 24) | (dns.flags.DO if opt.do else 0)
    renderer.add_edns(0, ednsflags, opt.payload, opt.options)


def _opt_size(opt: Opt) -> int:
    return 11 + sum(4 + len(o.to_wire() or b"") for o in opt.options)


def _tsig_reserve(signer: TsigSigner | None) -> int:
    if signer is None:
        return 0
    # owner + fixed fields + algorithm name + MAC (a generous bound)
    return len(signer.key.name.to_wire() or b"") + len(signer.key.algorithm.to_wire() or b"") + 10 + 16 + 64 + 6


def header_flags(query_flags: int, opcode: int, aa: bool, tc: bool = False) -> int:
    """Reply flags: QR, the query's opcode and RD (and CD), AA as given; never RA or AD."""
    # plain ints: dnspython's flag enums cost a tenth of a cold answer's time here
    flags = 0x8000 | ((int(opcode) << 11) & 0x7800) | (query_flags & 0x0110)  # QR, opcode, RD and CD
    if aa:
        flags |= 0x0400
    if tc:
        flags |= 0x0200
    return flags


def encode(
    msg_id: int,
    flags: int,
    rcode: int,
    question: Question | None,
    answer: Answer | None,
    max_size: int,
    opt: Opt | None = None,
    signer: TsigSigner | None = None,
) -> bytes:
    """One reply message, truncated to *max_size* as RFC 2181/9471 say (by the fast
    encoder of :mod:`fakens.fastwire` when it can, else by dnspython's renderer)."""
    rcode_value = int(rcode)
    if opt is not None:
        opt.extended_rcode = (rcode_value >> 4) & 0xFF
    if signer is None:
        fast = encode_fast(msg_id, flags, rcode_value, question, answer, max_size, opt)
        if fast is not None:
            return fast
    return encode_reference(msg_id, flags, rcode_value, question, answer, max_size, opt, signer)


def encode_reference(
    msg_id: int,
    flags: int,
    rcode: int,
    question: Question | None,
    answer: Answer | None,
    max_size: int,
    opt: Opt | None = None,
    signer: TsigSigner | None = None,
) -> bytes:
    """:func:`encode` by dnspython's renderer alone (the reference the fast encoder is held to)."""
    rcode_value = int(rcode)
    if opt is not None:
        opt.extended_rcode = (rcode_value >> 4) & 0xFF
    flags = (flags & ~0x000F) | (rcode_value & 0x000F)
    renderer = dns.renderer.Renderer(msg_id, flags, max_size)
    reserve = (_opt_size(opt) if opt else 0) + _tsig_reserve(signer)
    try:
        renderer.reserve(min(reserve, max(0, max_size - 12)))
        if question is not None:
            renderer.add_question(question.name, question.rdtype, question.rdclass)
    except dns.exception.TooBig:
        renderer = dns.renderer.Renderer(msg_id, flags | dns.flags.TC, max_size)
        return _finish(renderer, opt, signer)
    if answer is not None:
        answer_rrsets, authority, additional = answer.answer, answer.authority, answer.additional
        optional = answer.authority_optional
        try:
            for rrset in answer_rrsets:
                renderer.add_rrset(dns.renderer.ANSWER, rrset, want_shuffle=False)
            for rrset in authority:
                try:
                    renderer.add_rrset(dns.renderer.AUTHORITY, rrset, want_shuffle=False)
                except dns.exception.TooBig:
                    if not optional:
                        raise
                    # the zone's NS of a positive answer: dropped without TC (RFC 2181 9)
        except dns.exception.TooBig:
            renderer = dns.renderer.Renderer(msg_id, flags | dns.flags.TC, max_size)
            renderer.reserve(min(reserve, max(0, max_size - 12)))
            if question is not None:
                renderer.add_question(question.name, question.rdtype, question.rdclass)
            return _finish(renderer, opt, signer)
        for rrset in answer.glue:
            try:
                renderer.add_rrset(dns.renderer.ADDITIONAL, rrset, want_shuffle=False)
            except dns.exception.TooBig:
                renderer.flags |= dns.flags.TC  # required glue lost (RFC 9471)
        for rrset in additional:
            try:
                renderer.add_rrset(dns.renderer.ADDITIONAL, rrset, want_shuffle=False)
            except dns.exception.TooBig:
                pass  # optional data: dropped without TC (RFC 2181 9)
    return _finish(renderer, opt, signer)


def _finish(renderer: dns.renderer.Renderer, opt: Opt | None, signer: TsigSigner | None) -> bytes:
    renderer.release_reserved()
    if opt is not None:
        _add_opt(renderer, opt)
    renderer.write_header()
    wire: bytes = renderer.get_wire()
    if signer is not None:
        wire, _ = sign(wire, signer, signer.request_mac)
    return wire


class StreamMessage(NamedTuple):
    """One message of a transfer: its bytes and the positions, in the RRset
    sequence given to :func:`encode_stream`, of the RRsets that start in it (an
    RRset split over several messages counts in the first)."""

    wire: bytes
    rrsets: range


CHECKPOINT_EVERY = 64
"""RRsets rendered between two checkpoints (a ``None`` yielded by :func:`encode_stream`)."""


def encode_stream(
    msg_id: int,
    flags: int,
    question: Question | None,
    rrsets: Iterable[dns.rrset.RRset | None],
    max_size: int = 16384,
    signer: TsigSigner | None = None,
    opt: Opt | None = None,
) -> Iterator[StreamMessage | None]:
    """A transfer as several messages, made one at a time: RRsets packed in
    order, each message at most *max_size* bytes, the question (and OPT) in
    the first message only, each message TSIG-signed in turn (RFC 8945 5.3.1).
    An RRset too big for one message is split into its records.

    A generator: it yields each message as a :class:`StreamMessage` when it is
    complete, and ``None`` at checkpoints (every ``CHECKPOINT_EVERY`` RRsets, and
    wherever *rrsets* itself yields ``None``) where the consumer may stop to let
    other work run. Nothing is rendered before it is asked for."""
    source = iter(rrsets)
    carry: collections.deque[tuple[int, dns.rrset.RRset, bool]] = collections.deque()  # taken, not sent; starts?
    taken = 0
    exhausted = False
    ctx = None
    first = True
    size = max_size
    while True:
        renderer = dns.renderer.Renderer(msg_id, flags, size)
        size = max_size
        again = False
        reserve = _tsig_reserve(signer) + (_opt_size(opt) if opt and first else 0)
        renderer.reserve(reserve)
        if first and question is not None:
            renderer.add_question(question.name, question.rdtype, question.rdclass)
        low = high = -1
        added = 0
        while True:
            if not carry:
                if exhausted:
                    break
                item = next(source, _END)
                if item is _END:
                    exhausted = True
                    break
                if item is None:
                    yield None  # the source's own checkpoint
                    continue
                carry.append((taken, cast(dns.rrset.RRset, item), True))
                taken += 1
            index, rrset, starts = carry[0]
            try:
                renderer.add_rrset(dns.renderer.ANSWER, rrset, want_shuffle=False)
            except dns.exception.TooBig:
                if added == 0 and len(rrset) > 1:
                    carry.popleft()
                    parts = _split(rrset)
                    carry.extendleft((index, part, starts and i == 0) for i, part in reversed(list(enumerate(parts))))
                    continue
                if added == 0:
                    if renderer.max_size < MAX_TCP:
                        size, again = MAX_TCP, True  # one record bigger than max_size: a message of its own
                        break
                    raise
                break
            carry.popleft()
            if starts:
                if low < 0:
                    low = index
                high = index
            added += 1
            if added % CHECKPOINT_EVERY == 0:
                yield None
        if again:
            continue  # render this message again, up to 65535 bytes
        renderer.release_reserved()
        if opt is not None and first:
            _add_opt(renderer, opt)
        renderer.write_header()
        wire: bytes = renderer.get_wire()
        if signer is not None:
            wire, ctx = sign(wire, signer, signer.request_mac if first else b"", ctx, multi=True)
        yield StreamMessage(wire, range(low, high + 1) if low >= 0 else range(0))
        first = False
        if exhausted and not carry:
            return


_END = object()


def _split(rrset: dns.rrset.RRset) -> list[dns.rrset.RRset]:
    parts = []
    for rdata in rrset:
        part = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype, rrset.covers)
        part.add(rdata, rrset.ttl)
        parts.append(part)
    return parts
