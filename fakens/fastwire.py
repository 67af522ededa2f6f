"""The fast encoder: a reply's bytes without dnspython's renderer, byte for byte the same.

:func:`fakens.wire.encode` tries :func:`encode_fast` first and renders with dnspython
when it returns None: a reply that does not fit (truncation is decided by the
reference encoder alone), a TSIG-signed reply, an empty RRset, or record types whose
names dnspython compresses in ways not mirrored here. Everything else comes out as
dnspython's renderer would write it, name compression included (same table, same
offsets), so the rest of fakens cannot tell which encoder ran; the test
``tests/unit/test_fastwire.py`` checks that over every record type fakens loads::

    wire = encode_fast(msg_id, flags, rcode, question, answer, 1232, opt)
    if wire is None:
        ...  # dnspython's renderer

What makes it fast: each RRset's records are turned once into byte pieces and names
(kept by the RRset's identity: the zones' stored RRsets are read-only and shared by
every answer; the RRSIG RRsets of a DO=1 answer, copies made for it, are not kept, but
each signature record's bytes are, by the record's identity), and compression keys are
lower-cased wire suffixes rather than ``dns.name.Name`` objects, whose hashing is most of
dnspython's rendering cost.
"""

from __future__ import annotations

import operator
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import dns.name
import dns.rdata
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.mxbase
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase
import dns.rrset

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.wire import Opt, Question

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHI")
_POINTER = struct.Struct("!H")
_SHORT = struct.Struct("!H")
_SOA_TAIL = struct.Struct("!IIIII")
_QUESTION_TAIL = struct.Struct("!HH")
_DO = 0x8000
_RRSIG = dns.rdatatype.RRSIG


class NameParts:
    """A name as the encoder writes it: its wire form as given and lower-cased, and
    where each label starts (the root aside)."""

    __slots__ = ("labels", "lower", "starts", "wire")

    def __init__(self, name: dns.name.Name) -> None:
        labels = self.labels = name.labels
        wire = bytearray()
        starts: list[int] = []
        for label in labels:
            if label:
                starts.append(len(wire))
            wire.append(len(label))
            wire += label
        self.wire = bytes(wire)
        self.lower = self.wire.lower()  # bytes.lower: ASCII only, as dnspython compares names
        self.starts = tuple(starts)


Piece = bytes | NameParts
"""Part of a record's data: bytes as they are, or a name that may be compressed."""


class RecordsParts:
    """One RRset ready to write: per record the fixed fields and data pieces, and its owner
    (made when first written with an owner other than the question's)."""

    __slots__ = ("_owner", "records", "rrset")

    def __init__(self, rrset: dns.rrset.RRset, records: list[tuple[bytes, tuple[Piece, ...]]]) -> None:
        self.rrset = rrset  # kept alive, so that its id is not reused while cached
        self._owner: NameParts | None = None
        self.records = records

    def owner(self, question: NameParts | None) -> NameParts:
        """The owner's parts: the question's when the owner is written as the question is."""
        owner = self._owner
        if owner is None:
            labels = self.rrset.name.labels
            if question is not None and question.labels == labels:
                return question
            owner = self._owner = owner_parts(self.rrset.name)
        return owner


def owner_parts(name: dns.name.Name) -> NameParts:
    """*name*'s parts, kept by its labels (:data:`MAX_CACHED_OWNERS` of them): the RRsets a
    DO=1 answer gets are made for it (its RRSIGs are copies), and their owners are the
    zone's few names of the answer, its NS hosts and the apex."""
    found = _owners.get(name.labels)
    if found is None:
        if len(_owners) >= MAX_CACHED_OWNERS:
            _owners.clear()
        found = _owners[name.labels] = NameParts(name)
    return found


_NS_TO_WIRE = dns.rdtypes.nsbase.NSBase._to_wire
_MX_TO_WIRE = dns.rdtypes.mxbase.MXBase._to_wire
_SOA_TO_WIRE = dns.rdtypes.ANY.SOA.SOA._to_wire
_A_TO_WIRE = dns.rdtypes.IN.A.A._to_wire
_AAAA_TO_WIRE = dns.rdtypes.IN.AAAA.AAAA._to_wire
_TXT_TO_WIRE = dns.rdtypes.txtbase.TXTBase._to_wire
_STRING_LENGTHS = [bytes((n,)) for n in range(256)]
_inet_pton = socket.inet_pton
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
# types whose data dnspython writes with names compressed otherwise than NS, MX and SOA do
_NOT_MIRRORED = frozenset({dns.rdatatype.AMTRELAY, dns.rdatatype.IPSECKEY})

MAX_CACHED_RRSETS = 4096
_parts: dict[int, RecordsParts] = {}  # RRsets written more than once
_new_parts: dict[int, RecordsParts] = {}  # RRsets written once so far
MAX_CACHED_OWNERS = 4096
_owners: dict[tuple[bytes, ...], NameParts] = {}
MAX_CACHED_SIGNATURES = 8192
_signatures: dict[int, tuple[dns.rdata.Rdata, tuple[Piece, ...] | None]] = {}
"""An RRSIG record's pieces by the record's identity (a record is immutable): each DO=1
answer's RRSIG RRsets are new copies (``ZoneSigner.rrsig_rrset``) of the same records, and
dnspython writes an RRSIG in some 25 µs."""


def _pieces(rdata: dns.rdata.Rdata) -> tuple[Piece, ...] | None:
    """The data of one record as pieces, or None when it is not mirrored here."""
    to_wire = type(rdata)._to_wire
    if to_wire is _NS_TO_WIRE:
        return (NameParts(rdata.target),)  # type: ignore[attr-defined]
    if to_wire is _MX_TO_WIRE:
        return (_SHORT.pack(rdata.preference), NameParts(rdata.exchange))  # type: ignore[attr-defined]
    if to_wire is _SOA_TO_WIRE:
        soa: dns.rdtypes.ANY.SOA.SOA = rdata  # type: ignore[assignment]
        return (NameParts(soa.mname), NameParts(soa.rname),
                _SOA_TAIL.pack(soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum))
    if to_wire is _A_TO_WIRE:
        return (_inet_pton(_AF_INET, rdata.address),)  # type: ignore[attr-defined]
    if to_wire is _AAAA_TO_WIRE:
        return (_inet_pton(_AF_INET6, rdata.address),)  # type: ignore[attr-defined]
    if to_wire is _TXT_TO_WIRE:  # TXT, SPF and the like: each string after its length (each under 256)
        lengths = _STRING_LENGTHS
        return (b"".join([lengths[len(s)] + s for s in rdata.strings]),)  # type: ignore[attr-defined]
    if rdata.rdtype in _NOT_MIRRORED:
        return None
    try:
        return (rdata.to_wire() or b"",)  # written with no compression table: the same bytes either way
    except dns.name.NeedAbsoluteNameOrOrigin:
        return None


def _signature_pieces(rdata: dns.rdata.Rdata) -> tuple[Piece, ...] | None:
    """:func:`_pieces` of an RRSIG record, kept (:data:`_signatures`)."""
    found = _signatures.get(id(rdata))
    if found is not None and found[0] is rdata:
        return found[1]
    pieces = _pieces(rdata)
    if len(_signatures) >= MAX_CACHED_SIGNATURES:
        _signatures.clear()
    _signatures[id(rdata)] = (rdata, pieces)
    return pieces


def rrset_parts(rrset: dns.rrset.RRset) -> RecordsParts | None:
    """*rrset* ready to write, or None when it is not mirrored. Kept by the RRset's identity
    (a zone's RRsets are read-only and shared by every answer), first among the new ones, then,
    once asked again, among those kept: an RRset made for one answer (a wildcard's expansion, an
    RRset a fault made) is never asked again, and a stream of them empties only the new ones.
    RRSIG RRsets are copies made for each answer: not kept, their records' bytes are."""
    key = id(rrset)
    found = _parts.get(key)
    if found is not None and found.rrset is rrset:
        return found
    found = _new_parts.get(key)
    if found is not None and found.rrset is rrset:
        if len(_parts) >= MAX_CACHED_RRSETS:
            _parts.clear()
        _parts[key] = found
        return found
    if len(rrset) == 0 or not rrset.name.is_absolute():
        return None
    fixed = _RR_FIXED.pack(rrset.rdtype, rrset.rdclass, rrset.ttl)
    records: list[tuple[bytes, tuple[Piece, ...]]] = []
    signatures = rrset.rdtype == _RRSIG
    for rdata in rrset:
        pieces = _signature_pieces(rdata) if signatures else _pieces(rdata)
        if pieces is None:
            return None
        records.append((fixed, pieces))
    made = RecordsParts(rrset, records)
    if signatures:
        return made  # (a copy made for one answer: its records' pieces are kept instead)
    if len(_new_parts) >= MAX_CACHED_RRSETS:
        _new_parts.clear()
    _new_parts[key] = made
    return made


def _write_name(out: bytearray, compress: dict[bytes, int], name: NameParts, start: int = 0,
                log: list[tuple[bytes, int, int | None]] | None = None) -> None:
    """Write *name* at the end of *out*, compressed as dnspython compresses it. With *log* (a tail
    template in the making), each lookup is logged: (suffix, where the pointer went from *start*
    or -1 for a miss, the pointer's target from *start* when it is there too)."""
    lower = name.lower
    wire = name.wire
    starts = name.starts
    for i, begin in enumerate(starts):
        key = lower[begin:]
        pos = compress.get(key)
        if pos is not None:
            if log is not None:
                log.append((key, len(out) - start, pos - start if pos >= start else None))
            out += _POINTER.pack(0xC000 + pos)
            return
        if log is not None:
            log.append((key, -1, None))
        here = len(out)
        if here <= 0x3FFF:
            compress[key] = here
        end = starts[i + 1] if i + 1 < len(starts) else len(wire) - 1
        out += wire[begin:end]
    out.append(0)


def _write_rrset(out: bytearray, compress: dict[bytes, int], parts: RecordsParts, question: NameParts | None,
                 start: int = 0, log: list[tuple[bytes, int, int | None]] | None = None) -> int:
    """Write the RRset's records (names logged as :func:`_write_name` says); how many."""
    owner = parts.owner(question)
    for fixed, pieces in parts.records:
        _write_name(out, compress, owner, start, log)
        out += fixed
        write_data(out, compress, pieces, start, log)
    return len(parts.records)


def write_data(out: bytearray, compress: dict[bytes, int], pieces: tuple[Piece, ...], start: int = 0,
               log: list[tuple[bytes, int, int | None]] | None = None) -> None:
    """Write a record's RDLENGTH and data, its names compressed (logged as :func:`_write_name` says)."""
    length_at = len(out)
    out += b"\x00\x00"
    for piece in pieces:
        if isinstance(piece, bytes):
            out += piece
        else:
            _write_name(out, compress, piece, start, log)
    _SHORT.pack_into(out, length_at, len(out) - length_at - 2)


class TailTemplate:
    """The AUTHORITY and ADDITIONAL sections of an answer as written once, to be written again
    after another question and ANSWER section: most answers of a zone end with the same NS RRset
    and the same addresses, and only the compression pointers into what comes before change.
    Valid where the names before hold the same suffixes the first write found (and none of those
    it did not find): then dnspython's compression makes these very bytes with the pointers moved.
    The bytes with their pointers set are kept by where they start and where the suffixes are
    (``MOVED_KEPT`` of them): answers of one shape (distinct names of one length) differ in nothing
    the tail points to."""

    __slots__ = ("_positions", "absent", "additional", "authority", "data", "inner", "keys", "moved", "outer_at",
                 "outer_keys", "rrsets")

    def __init__(self, rrsets: tuple[dns.rrset.RRset, ...], data: bytes, log: list[tuple[bytes, int, int | None]],
                 authority: int, additional: int) -> None:
        self.rrsets = rrsets  # kept alive, so that their ids are not reused while cached
        self.data = data
        self.absent = tuple(key for key, at, _ in log if at < 0)
        outer = [(at, key) for key, at, target in log if at >= 0 and target is None]
        self.outer_at = tuple(at for at, _ in outer)  # pointers to names before the tail: where, to which suffix
        self.outer_keys = tuple(key for _, key in outer)
        self.keys = frozenset(self.absent) | frozenset(self.outer_keys)  # every name the write looks up
        self._positions = _positions_of(self.outer_keys)
        self.inner = tuple((at, target) for _, at, target in log if at >= 0 and target is not None)
        self.authority = authority
        self.additional = additional
        self.moved: dict[tuple[int, tuple[int, ...]], bytes] = {}

    def write(self, out: bytearray, compress: dict[bytes, int]) -> bool:
        """Append the sections to *out* if the names before allow it (else False, nothing written)."""
        start = len(out)
        if start + len(self.data) > 0x3FFF:
            return False
        for key in self.absent:
            if key in compress:
                return False
        try:
            positions = self._positions(compress)
        except KeyError:
            return False
        moved = self.moved.get((start, positions))
        if moved is None:
            written = bytearray(self.data)
            for at, pos in zip(self.outer_at, positions, strict=True):
                _POINTER.pack_into(written, at, 0xC000 + pos)
            for at, target in self.inner:
                _POINTER.pack_into(written, at, 0xC000 + start + target)
            moved = bytes(written)
            if len(self.moved) >= MOVED_KEPT:
                self.moved.clear()
            self.moved[(start, positions)] = moved
        out += moved
        return True


def _positions_of(keys: tuple[bytes, ...]) -> Callable[[dict[bytes, int]], tuple[int, ...]]:
    """A function giving *keys*' positions in a compression table as a tuple (KeyError when
    one is not there): ``operator.itemgetter``, which gives a single key's bare."""
    if len(keys) > 1:
        return cast("Callable[[dict[bytes, int]], tuple[int, ...]]", operator.itemgetter(*keys))
    if keys:
        key = keys[0]
        return lambda table: (table[key],)
    return lambda table: ()


MOVED_KEPT = 64
"""How many placements of its bytes a TailTemplate keeps."""


MAX_CACHED_TAILS = 4096
_tails: dict[tuple[int, ...], TailTemplate] = {}


def _tail_key(tail: list[tuple[int, dns.rrset.RRset]]) -> tuple[int, ...]:
    """The key of *tail*'s template: each RRset's identity and section (the same RRsets in other
    sections, an apex NS answer's NS in ANSWER or AUTHORITY, write the same bytes but not the
    same counts)."""
    return tuple([id(rrset) << 2 | section for section, rrset in tail])


def _write_tail(out: bytearray, compress: dict[bytes, int], tail: list[tuple[int, dns.rrset.RRset]],
                question: NameParts | None) -> tuple[int, int] | None:
    """Write the AUTHORITY and ADDITIONAL RRsets *tail* ((section, RRset) in order): from its
    template when one fits, else written and made a template, kept here (unless it holds RRSIG
    RRsets, copies made for one answer: the next tail is made of other objects and would not
    find it). The records of each section, or None when an RRset is not mirrored here."""
    key = _tail_key(tail)
    template = _tails.get(key)
    if (template is not None and all(a is b for a, (_, b) in zip(template.rrsets, tail, strict=True))
            and template.write(out, compress)):
        return template.authority, template.additional
    written = write_sections(out, compress, tail, question, not any(rrset.rdtype == _RRSIG for _, rrset in tail))
    if written is None:
        return None
    authority, additional, made = written
    if made is not None:
        if len(_tails) >= MAX_CACHED_TAILS:
            _tails.clear()
        _tails[key] = made
    return authority, additional


def write_sections(out: bytearray, compress: dict[bytes, int], tail: list[tuple[int, dns.rrset.RRset]],
                   question: NameParts | None = None, template: bool = True) -> tuple[int, int, TailTemplate | None] | None:
    """Write the RRsets *tail* ((section, RRset) in order; section 0 is ANSWER), and with
    *template* make their template, for the caller to keep (the express path keeps its sections'
    own, so that they go with them). The records of AUTHORITY and of ADDITIONAL and the template
    (None when not asked for, or when it would not hold), or None when an RRset is not mirrored
    here::

        authority, additional, made = write_sections(out, compress, [(1, ns), (2, glue)])
    """
    start = len(out)
    log: list[tuple[bytes, int, int | None]] | None = [] if template else None
    counts = [0, 0, 0]
    for section, rrset in tail:
        parts = rrset_parts(rrset)
        if parts is None:
            return None
        counts[section] += _write_rrset(out, compress, parts, question, start, log)
    made = None
    if log is not None and len(out) <= 0x3FFF:  # every name missed was added to the table: the template holds
        made = TailTemplate(tuple(rrset for _, rrset in tail), bytes(out[start:]), log, counts[1], counts[2])
    return counts[1], counts[2], made


def _opt_wire(opt: Opt, rcode: int) -> bytes:
    """The OPT record as :func:`fakens.wire._add_opt` has dnspython write it."""
    ednsflags = (((rcode >> 4) & 0xFF) << 24) | (_DO if opt.do else 0)
    data = b"".join(_SHORT.pack(o.otype) + _SHORT.pack(len(w)) + w
                    for o in opt.options for w in (o.to_wire() or b"",))
    return b"\x00" + _RR_FIXED.pack(dns.rdatatype.OPT, opt.payload, ednsflags) + _SHORT.pack(len(data)) + data


def encode_fast(msg_id: int, flags: int, rcode: int, question: Question | None, answer: Answer | None,
                max_size: int, opt: Opt | None = None) -> bytes | None:
    """The bytes :func:`fakens.wire.encode` makes (unsigned), or None when the reference
    encoder must make them (the reply does not fit, or has records not mirrored here)."""
    rcode_value = int(rcode)
    flags = (flags & ~0x000F) | (rcode_value & 0x000F)
    opt_wire = _opt_wire(opt, rcode_value) if opt is not None else b""
    limit = max_size - min(len(opt_wire), max(0, max_size - 12))
    out = bytearray(12)
    compress: dict[bytes, int] = {}
    qdcount = 0
    asked: NameParts | None = None
    if question is not None:
        asked = NameParts(question.name)
        _write_name(out, compress, asked)
        out += _QUESTION_TAIL.pack(question.rdtype, question.rdclass)
        qdcount = 1
    counts = [0, 0, 0]
    if answer is not None:
        for rrset in answer.answer:
            parts = rrset_parts(rrset)
            if parts is None:
                return None
            counts[0] += _write_rrset(out, compress, parts, asked)
        tail = [(1, r) for r in answer.authority] + [(2, r) for r in answer.glue] + [(2, r) for r in answer.additional]
        if tail:
            written = _write_tail(out, compress, tail, asked)
            if written is None:
                return None
            counts[1], counts[2] = written
    if len(out) > limit or len(out) + len(opt_wire) > max_size:
        return None  # something does not fit: the reference encoder decides what goes
    if opt is not None:
        out += opt_wire
        counts[2] += 1
    _HEADER.pack_into(out, 0, msg_id, flags, qdcount, counts[0], counts[1], counts[2])
    return bytes(out)
