"""The express answer: the commonest query answered straight from a zone's records, without
the engine's :class:`~fakens.answer.Answer` or dnspython's renderer, byte for byte as the
engine and :func:`fakens.wire.encode` would answer it.

A plain query (read by :meth:`fakens.exchange.Exchange.read_plain`: QUERY, one question, at
most an OPT record without options, EDNS version 0) of class IN, asked of a zone the server
holds: answered here when the walk from the apex meets no DNAME and the name owns the type
(or a wildcard does), is absent (NXDOMAIN) or owns no record of the type and no CNAME (NODATA);
when the walk meets a cut, at or above the name, the referral (the sections the engine
gives a question at the highest cut: its NS, the glue, for DO=1 the DS or the proof of none;
found once per cut); and when the name owns a CNAME and not the type, the CNAME followed by
what the engine gives after it (the rest of the chain through any of the server's zones, its
sections and rcode: :meth:`~fakens.engine.Engine.chain_after`, asked once per target, type
and DO bit; the engine's when the rest comes back to the name, when it is as long as the
engine follows, and a signed wildcard's CNAME). Not for DNAME, DS, ANY, RRSIG and the meta types, nor the NS a
wildcard owns (a cut at the wildcard: the engine adds the zone's NS); MX and SRV answers only
with ``additional_from="zone"`` (their hosts' addresses are looked up in the zone, as the
engine does). Anything else, and a reply that would not fit, goes the engine's way.

A DO=1 query of a zone fakens signs takes it too, as :func:`fakens.dnssec.answers.add_dnssec`
signs the engine's answer: the ANSWER records followed by their RRSIGs (a wildcard's for a
name synthesized from it), the sections found once per version asked with DO=1 (so the NS,
the SOA and the addresses come with theirs), and for NXDOMAIN, NODATA, an empty non-terminal,
a wildcard answer or a wildcard NODATA the NSEC or NSEC3 records of the engine's proof
(:class:`~fakens.answer.Proof`, given to the signer's chain) and their RRSIGs at the end of
AUTHORITY; the sections with a proof are kept by the proving records, so that the names of one
span share them; an MX or SRV answer's hosts' addresses come with their RRSIGs.

The reply is the query's header and question as written, the ANSWER records with their
owner a pointer to the question and the names in their data compressed (as dnspython
compresses them), and the AUTHORITY and ADDITIONAL sections the engine gives every positive
answer of the zone (its NS and their addresses, found once per zone version by asking the
engine for the apex SOA; an apex NS answer has only the addresses; an MX or SRV answer adds
its hosts' addresses, every A before every AAAA), the negative answer's SOA, or a referral's
AUTHORITY and ADDITIONAL (no ANSWER, AA clear), written by :mod:`fakens.fastwire` with the
same compression.
The pipeline takes it only when no fault could act on the query: with no fault set it reads
the query's bytes alone (:meth:`Express.reply_to`: no Exchange is made, as nothing else would
read it; that was a fifth of the time of a question not asked before), else the Exchange's
question once no fault could match it (:meth:`Express.reply`); both read what
:meth:`~fakens.exchange.Exchange.read_plain` reads and answer the same queries with the same
bytes. ``tests/unit/test_express.py`` holds every reply to the engine's and the reference
encoder's::

    express = Express(engine, udp_size=1232)
    wire = express.reply_to(query_bytes, "udp")   # None: not such a query, the engine answers
    wire = express.reply(x)                       # the same, from an Exchange
    express.clear()                               # a zone changed
"""

from __future__ import annotations

import socket
import struct
import threading
from typing import TYPE_CHECKING, cast

import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from fakens.answer import Answer, Kind, Proof
from fakens.dnssec.answers import proof_rrsets, rrsig_of
from fakens.engine import MAX_CHAIN, Engine, _zone_addresses
from fakens.exchange import _SUFFIXES_KEPT, MAX_PLAIN_QUESTION_END, Exchange, _plain_name, _Suffix, opt_head
from fakens.fastpath import question_end
from fakens.fastwire import (
    _NOT_MIRRORED,
    TailTemplate,
    _pieces,
    _signature_pieces,
    write_data,
    write_sections,
)
from fakens.names import hashed_name
from fakens.wire import MAX_TCP, MIN_UDP
from fakens.zones import Zone
from fakens.zoneversion import Name, ZoneVersion

if TYPE_CHECKING:
    from fakens.dnssec.signer import ZoneSigner

_HEADER_TAIL = struct.Struct("!HHHHH")  # flags and the four counts
_RDLENGTH = struct.Struct("!H")
_ANSWER_FIXED = struct.Struct("!HHHI")  # an ANSWER record's owner (a pointer), type, class and TTL
_OPT = struct.Struct("!BHHIH")
_NONE = dns.rdatatype.NONE
_CNAME = dns.rdatatype.CNAME
_NS = dns.rdatatype.NS
_A, _AAAA = dns.rdatatype.A, dns.rdatatype.AAAA
_RRSIG = dns.rdatatype.RRSIG
_IN = dns.rdataclass.IN
_inet_pton = socket.inet_pton
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
_NOERROR, _NXDOMAIN = 0, 3
# asked types the engine treats otherwise (chains, parent-side data, ANY, signatures, the meta
# types, data whose names dnspython compresses in ways not mirrored)
_ENGINE_TYPES = frozenset({
    dns.rdatatype.DNAME, dns.rdatatype.DS, dns.rdatatype.ANY, dns.rdatatype.OPT,
    dns.rdatatype.TSIG, dns.rdatatype.TKEY, dns.rdatatype.AXFR, dns.rdatatype.IXFR, dns.rdatatype.RRSIG,
}) | _NOT_MIRRORED
# the types whose answers name hosts whose addresses go in ADDITIONAL (NS aside: its hosts are
# the zone's own), and the field naming them
_HOST_FIELDS = {dns.rdatatype.MX: "exchange", dns.rdatatype.SRV: "target"}
_TAILS_KEPT = 1024
_CHAINS_KEPT = 1024  # the rests of CNAME chains, by target, type asked and DO (each with its template's placements)
_PROOFS_KEPT = 1024  # a version's signed sections with their proofs, by the proving records
_HOSTS_KEPT = 1024  # a version's MX and SRV answers' sections with their hosts' addresses
_UNKNOWN: object = object()
_QUESTION_TAIL = struct.Struct("!HH")
_ChainKey = tuple[tuple[bytes, ...], dns.rdatatype.RdataType, bool]
"""What the rest of a CNAME chain is kept by: the target's labels as spelled, the type asked, DO."""
_Asked = tuple[bytes, str, int, int, bytes, _Suffix, int, bool]
"""A plain query as the writer reads it: its bytes, transport, flags, where its name's root
label is, the name in lower case, what follows its first label, its EDNS payload (-1: no
EDNS) and DO bit."""


def _express_type(rdtype: dns.rdatatype.RdataType) -> bool:
    """Is *rdtype* a type whose answers the express path can make?"""
    return rdtype not in _ENGINE_TYPES and not dns.rdatatype.is_metatype(rdtype)


def _lower_wire(name: Name) -> bytes:
    """*name*'s uncompressed wire form in lower case (ASCII, as DNS compares names)."""
    return (name.to_wire() or b"").lower()


class _Sections:
    """The AUTHORITY and ADDITIONAL RRsets of an answer ((section, RRset) in order; a CNAME
    chain's rest has ANSWER RRsets too, as section 0), and their own template once written
    (:class:`fakens.fastwire.TailTemplate`, made by :func:`fakens.fastwire.write_sections`)."""

    __slots__ = ("rrsets", "template")

    def __init__(self, rrsets: list[tuple[int, dns.rrset.RRset]]) -> None:
        self.rrsets = rrsets
        self.template: TailTemplate | None = None


class _Tail:
    """What follows the ANSWER records of one zone version's answers (to DO=0 or to DO=1
    queries, as the engine gives them at the time it is made: for DO=1 the signing round's
    RRSIGs, :meth:`Express.clear` forgets it): the positive answers' AUTHORITY and ADDITIONAL
    RRsets, the apex NS answer's ADDITIONAL, the negative answers' SOA, and what was found
    per suffix, cut, proof and MX or SRV RRset."""

    __slots__ = ("apex_ns", "cuts", "dnames", "dnssec", "hosts", "negative", "ns_hosts", "positive", "present",
                 "proven", "referrals", "stops", "version")

    def __init__(self, version: ZoneVersion, positive: list[tuple[int, dns.rrset.RRset]],
                 negative: list[tuple[int, dns.rrset.RRset]], dnssec: bool) -> None:
        self.version = version  # kept alive, so that its id is not reused while remembered
        self.dnssec = dnssec  # the answers' of DO=1 queries (their RRsets signed when the zone is)
        self.positive = _Sections(positive)
        self.apex_ns = _Sections([(section, r) for section, r in positive if section == 2])
        self.negative = _Sections(negative)
        # an answer holding one of the additional RRsets does not repeat it: the engine's way
        self.present = frozenset((r.name, r.rdtype) for section, r in positive if section == 2)
        # the hosts of the AUTHORITY NS records, in order (the engine adds their addresses after
        # those of an MX or SRV answer's hosts)
        self.ns_hosts: list[Name] = [cast(Name, rdata.target) for section, r in positive
                                     if section == 1 and r.rdtype == _NS for rdata in r]
        # the names the engine's walk from the apex stops at (a question's suffixes are looked
        # up in them), as lower-case wire forms: the cuts (to their names) and the DNAME owners
        self.cuts = {_lower_wire(name): name for name in version.cuts}
        self.dnames = frozenset(_lower_wire(name) for name in version.dnames)
        self.stops: dict[_Suffix, bytes | None] = {}  # what stop_above found, kept
        # a referral's sections by its cut (lower-case wire form), as the engine gives them
        self.referrals: dict[bytes, _Sections | None] = {}
        # a signed zone's sections with the NSEC or NSEC3 records of a proof and their RRSIGs,
        # by the sections and those records (:meth:`Express._proven`)
        self.proven: dict[tuple[int, ...], _Sections] = {}
        # an MX or SRV answer's sections with its hosts' addresses, by its RRset (kept with them)
        self.hosts: dict[int, tuple[dns.rdataset.Rdataset, _Sections]] = {}

    def version_of(self, zone: Zone) -> ZoneVersion:
        """The version of *zone* the answers are made from (``Answer.version_of``): this one for its zone."""
        return self.version if zone.origin == self.version.origin else zone.current

    def stop_above(self, after: _Suffix) -> bytes | None:
        """Where the engine's walk from the apex stops among the names *after* makes (what
        follows a question's first label), above the question: at the highest cut (its
        lower-case wire form: a referral), at a DNAME owner (``b""``: a rewrite), or nowhere
        (None: it goes down to the question). At each name a cut comes before a DNAME. Kept."""
        lower, cuts, dnames = after.lower, self.cuts, self.dnames
        stop = None
        for at in reversed(after.starts):  # from the top down
            suffix = lower[at:]
            if suffix in cuts:
                stop = suffix
                break
            if suffix in dnames:
                stop = b""
                break
        if len(self.stops) >= _SUFFIXES_KEPT:
            self.stops.clear()
        self.stops[after] = stop
        return stop


class _Chain:
    """What follows a question's first CNAME record (:meth:`Express._chained`): the rest of the
    ANSWER section and the AUTHORITY and ADDITIONAL RRsets (in one :class:`_Sections`, the
    ANSWER RRsets as section 0), how many records each section holds, the rcode, and the owners
    of the ANSWER RRsets (lower-case wire forms: a question among them is the engine's)."""

    __slots__ = ("counts", "owners", "rcode", "sections")

    def __init__(self, rest: Answer) -> None:
        self.sections = _Sections([(0, r) for r in rest.answer] + [(1, r) for r in rest.authority]
                                  + [(2, r) for r in rest.glue + rest.additional])
        # the records of each section (a template counts those of AUTHORITY and ADDITIONAL alone)
        self.counts = (sum(len(r) for r in rest.answer), sum(len(r) for r in rest.authority),
                       sum(len(r) for r in rest.glue + rest.additional))
        self.rcode = int(rest.rcode)
        self.owners = frozenset(_lower_wire(r.name) for r in rest.answer)


def _find_zone(after: _Suffix, origins: dict[bytes, Zone], found: dict[_Suffix, Zone | None]) -> Zone | None:
    """The zone of the names *after* ends (the longest of *origins* among its suffixes), kept in *found*."""
    lower = after.lower
    zone = None
    for at in after.starts:
        zone = origins.get(lower[at:])
        if zone is not None:
            break
    else:
        zone = origins.get(b"\x00")
    if len(found) >= _SUFFIXES_KEPT:
        found.clear()
    found[after] = zone
    return zone


def _with_question(suffixes: dict[bytes, int], lower: bytes) -> dict[bytes, int]:
    """A reply's compression table after its question: the suffixes' entries and the question's
    whole name (*lower*) at offset 12."""
    table = suffixes.copy()
    table[lower] = 12
    return table


class Express:
    """Express answers for one server's engine; see the module docstring."""

    def __init__(self, engine: Engine, udp_size: int) -> None:
        self.engine = engine
        self.udp_size = udp_size
        # the reply's OPT record, without and with DO (the server's payload size, no options)
        self._opts = (_OPT.pack(0, dns.rdatatype.OPT, udp_size, 0, 0), _OPT.pack(0, dns.rdatatype.OPT, udp_size, 0x8000, 0))
        self._types: dict[int, dns.rdatatype.RdataType | None] = {}
        self._tails: dict[tuple[int, bool], _Tail] = {}
        self._chains: dict[_ChainKey, _Chain | None] = {}
        # the engine's zones, they by their origin's lower-case wire form, and the zone of the names
        # each _Suffix (what follows a question's first label) ends, found once: one tuple, so that
        # a thread never reads one part made for other zones than the rest
        self._lookup: tuple[dict[Name, Zone] | None, dict[bytes, Zone], dict[_Suffix, Zone | None]] = (None, {}, {})
        self.answered = 0
        self._epoch = 0  # counts clear(): a tail made across one is not kept
        self._lock = threading.Lock()  # (clear, and a tail's keeping)

    def clear(self) -> None:
        """A zone was edited, added or removed, or a signer made its signatures anew: forget
        every tail (a DO=1 tail holds the signing round's RRSIGs, and with
        ``additional_from="server"`` or a given negative SOA a tail holds another zone's data)
        and every rest of a CNAME chain (from any of the zones). One being made meanwhile is not kept."""
        with self._lock:
            self._epoch += 1
            self._tails.clear()
            self._chains.clear()

    def reply(self, x: Exchange) -> bytes | None:
        """The reply to *x*, or None when the engine must answer it (see the module docstring)."""
        if not x.read_plain() or "answer" in self.engine.__dict__:
            return None  # (an engine whose answer is wrapped, as tests break it, answers everything)
        edns = x.edns
        payload = -1
        do = False
        if edns is not None:
            if edns.version or edns.options:
                return None
            payload = edns.payload
            do = bool(edns.flags & 0x8000)
        question = x.question
        assert question is not None
        if question.rdclass != _IN or x.label_starts is None or x.suffix is None:
            return None  # (a name read by dnspython, or the root: dnspython writes it whole, not as a pointer)
        return self._answer(x.wire, x.transport, x.flags, x.qend - 5, question.name, question.rdtype, x.suffix,
                            payload, do)

    def reply_to(self, wire: bytes, transport: str) -> bytes | None:
        """:meth:`reply` read from the query's bytes alone (no Exchange): a plain query
        without EDNS options, as :meth:`~fakens.exchange.Exchange.read_plain` reads it."""
        if (len(wire) < 17 or wire[2] & 0xF8 or wire[4:10] != b"\x00\x01\x00\x00\x00\x00" or wire[10]
                or "answer" in self.engine.__dict__):
            return None  # a response, not QUERY, not one question alone; or an engine tests break
        end = question_end(wire)
        if end is None or end > MAX_PLAIN_QUESTION_END or wire[12] == 0:  # compressed, too long, or the root
            return None
        payload = -1
        do = False
        arcount = wire[11]
        if arcount == 0:
            if len(wire) != end:
                return None
        elif arcount == 1:
            head = opt_head(wire, end)
            if head is None or head[2] or head[1] & 0xFF0000:  # not OPT alone, an option, a version but 0
                return None
            payload, ttl, _ = head
            do = bool(ttl & 0x8000)
        else:
            return None
        rdtype, rdclass = _QUESTION_TAIL.unpack_from(wire, end - 4)
        if rdclass != _IN:
            return None
        qname, _, after = _plain_name(wire, end - 4)
        assert after is not None  # (not the root)
        return self._answer(wire, transport, (wire[2] << 8) | wire[3], end - 5, qname, rdtype, after, payload, do)

    def _answer(self, wire: bytes, transport: str, flags: int, end: int, qname: Name, rdtype: int,
                after: _Suffix, payload: int, do: bool) -> bytes | None:
        """The reply to a plain query of class IN for *qname* (written to *end*, its root label;
        *after*: what follows its first label) and *rdtype*; *payload* -1 without EDNS."""
        qtype = self._types.get(rdtype, _UNKNOWN)  # the type, or None when not the express path's
        if qtype is _UNKNOWN:
            made = dns.rdatatype.RdataType.make(rdtype)
            qtype = self._types[rdtype] = made if _express_type(made) else None
        if qtype is None:
            return None
        rdtype = cast(dns.rdatatype.RdataType, qtype)
        # the question's name in lower case, and what follows its first label (a _Suffix: the
        # zone it falls in and whether the engine's walk stops above it are found once for it)
        lower = wire[12:end + 1].lower()
        lookup = self._lookup
        if lookup[0] is not self.engine.zones:
            lookup = self._origins()
        _, origins, zone_of = lookup
        zone = origins.get(lower)  # (asked at an apex)
        if zone is None:
            found = zone_of.get(after, _UNKNOWN)
            zone = _find_zone(after, origins, zone_of) if found is _UNKNOWN else cast("Zone | None", found)
            if zone is None:
                return None
        signer = zone.signer if do else None  # a DO=1 answer of a signed zone: with RRSIGs and proofs
        version = zone.current
        tail = self._tails.get((id(version), do))
        if tail is None or tail.version is not version:
            tail = self._tail(version, do)
        asked = (wire, transport, flags, end, lower, after, payload, do)
        if tail.cuts or tail.dnames:  # the engine's walk from the apex: a delegation, or a DNAME above the name
            stop = tail.stops.get(after, _UNKNOWN)
            if stop is _UNKNOWN:
                stop = tail.stop_above(after)
            if stop is None and lower in tail.cuts:
                stop = lower  # (the cut itself: a referral too, but for DS, the engine's)
            if stop is not None:
                return self._referral(asked, tail, cast(bytes, stop)) if stop else None  # (b"": a DNAME)
        node = version.nodes.get(qname)
        source: Name | None = None  # the wildcard the answer is synthesized from
        if not node:
            if qname in version.names:  # an empty non-terminal
                if signer is not None:
                    return self._denied(asked, _NOERROR, tail, signer, Proof(version, qname, Kind.NODATA))
                return self._write(asked, _NOERROR, None, tail.negative)
            encloser = after.name  # (the question's parent and the wildcard below it, made once)
            while encloser not in version.names:
                encloser = encloser.parent()
            source = after.wildcard if encloser is after.name else hashed_name((b"*",) + encloser.labels)
            node = version.nodes.get(source)
            if not node:
                if signer is not None:
                    return self._denied(asked, _NXDOMAIN, tail, signer, Proof(version, qname, Kind.NXDOMAIN))
                return self._write(asked, _NXDOMAIN, None, tail.negative)
        records = node.get((rdtype, _NONE))
        if not records:
            cname = node.get((_CNAME, _NONE))
            if cname:  # a CNAME to follow: the rest of the chain, kept by its target
                if signer is None:
                    return self._chained(asked, rdtype, cname, version, None)
                if source is not None:
                    return None  # a wildcard's, signed: the proof that the name does not exist first, the engine's
                return self._chained(asked, rdtype, cname, version, signer.shared_rrsig_rrset(qname, cname))
            if signer is not None:  # (a wildcard NODATA proves the name absent too)
                return self._denied(asked, _NOERROR, tail, signer, Proof(version, qname, Kind.NODATA, source))
            return self._write(asked, _NOERROR, None, tail.negative)
        if (qname, rdtype) in tail.present:
            return None
        sections = tail.positive
        if rdtype in _HOST_FIELDS:
            if self.engine.options.additional_from != "zone":
                return None  # the hosts' addresses from any zone: the engine's
            if tail.positive.rrsets:  # (not minimal responses)
                sections = self._with_hosts(tail, records, _HOST_FIELDS[rdtype])
        elif rdtype == _NS:  # at the apex (elsewhere a cut): no AUTHORITY, the hosts' addresses
            if source is not None:
                return None  # a wildcard's NS (a cut at the wildcard): the engine's, with the zone's NS
            sections = tail.apex_ns
        if signer is None:
            return self._write(asked, _NOERROR, records, sections)
        # the records' signatures (a wildcard's, whose label count tells the validator), and the
        # proof that the name itself does not exist for a wildcard answer (RFC 4035 3.1.3.3)
        signatures = signer.shared_rrsig_rrset(qname if source is None else source, records)
        if source is not None:
            sections = self._proven(tail, sections, signer, Proof(version, qname, Kind.ANSWER, source))
        return self._write(asked, _NOERROR, records, sections, signatures)

    def _chained(self, asked: _Asked, rdtype: dns.rdatatype.RdataType, cname: dns.rdataset.Rdataset,
                 version: ZoneVersion, signatures: dns.rrset.RRset | None) -> bytes | None:
        """The answer of a name owning the CNAME RRset *cname* (and not the type asked): the
        CNAME (and its *signatures* for a DO=1 query of a signed zone), then what the engine
        gives after it (:meth:`~fakens.engine.Engine.chain_after`: the rest of the chain, its
        sections and rcode, for DO=1 signed where the zones are, as
        :func:`~fakens.dnssec.answers.add_dnssec` signs them), kept by the target as spelled, the
        type asked and the DO bit (the names of a wildcard CNAME, or many CNAMEs naming one host,
        share it). The engine's when the rest comes back to the question's name, is too long
        to follow from here, or is an error (YXDOMAIN)."""
        target = cast(Name, cname[0].target)
        # (by the target as spelled: what the rest writes of it, a DNAME's rewrite of it, keeps its case)
        key = (target.labels, rdtype, asked[7])
        rest = self._chains.get(key, _UNKNOWN)
        if rest is _UNKNOWN:
            rest = self._rest_of_chain(key, target, version)
        if rest is None:
            return None
        chain = cast(_Chain, rest)
        if asked[4] in chain.owners:
            return None  # the chain comes back to the question: the engine stops it one step before
        return self._write(asked, chain.rcode, cname, chain.sections, signatures, chained=chain.counts)

    def _rest_of_chain(self, key: _ChainKey, target: Name, version: ZoneVersion) -> _Chain | None:
        """:meth:`_chained`'s rest of a chain to *target*, made and kept (None: the engine's);
        *version*: the question's zone's (it only decides which version's address memo the
        engine uses)."""
        _, rdtype, do = key
        engine = self.engine
        epoch = self._epoch
        chain: _Chain | None = None
        rest, followed = engine.chain_after(version, target, rdtype, dnssec_ok=do)
        # not when the question's own CNAME would make the engine stop sooner, nor an error
        # (a DNAME's rewrite too long: YXDOMAIN, whose answer the engine does not sign)
        if followed < MAX_CHAIN - 1 and rest.kind is not Kind.ERROR:
            chain = _Chain(rest)
        with self._lock:
            if self._epoch == epoch:  # (cleared meanwhile, in another thread: not kept)
                if len(self._chains) >= _CHAINS_KEPT:
                    self._chains.clear()
                self._chains[key] = chain
        return chain

    def _referral(self, asked: _Asked, tail: _Tail, cut: bytes) -> bytes | None:
        """The referral to the cut *cut* (its lower-case wire form) of *tail*'s version: no
        ANSWER, AA clear, the sections the engine gives a question at the cut (its NS, for DO=1
        its DS signed or the proof of none, the glue), found once per cut."""
        sections = tail.referrals.get(cut, _UNKNOWN)
        if sections is _UNKNOWN:
            version = tail.version
            answer = self.engine.answer(tail.cuts[cut], _A, dnssec_ok=tail.dnssec, versions={version.origin: version})
            sections = None  # (not a referral after all: the engine's, each time)
            if answer.kind is Kind.DELEGATION and not answer.answer and answer.rcode == _NOERROR and not answer.aa:
                sections = _Sections([(1, r) for r in answer.authority]
                                     + [(2, r) for r in answer.glue + answer.additional])
            if len(tail.referrals) >= _SUFFIXES_KEPT:
                tail.referrals.clear()
            tail.referrals[cut] = sections
        if sections is None:
            return None
        return self._write(asked, _NOERROR, None, cast(_Sections, sections), authoritative=False)

    def _denied(self, asked: _Asked, rcode: int, tail: _Tail, signer: ZoneSigner, proof: Proof) -> bytes | None:
        """A negative answer of a signed zone to a DO=1 query: the SOA and its RRSIG, then the
        records proving *proof*, signed."""
        return self._write(asked, rcode, None, self._proven(tail, tail.negative, signer, proof))

    def _proven(self, tail: _Tail, sections: _Sections, signer: ZoneSigner, proof: Proof) -> _Sections:
        """*sections* (of *tail*'s signed zone, their RRSIGs in them) with the NSEC or NSEC3
        records proving *proof* and their RRSIGs at the end of AUTHORITY, as
        :func:`~fakens.dnssec.answers.add_dnssec` puts them. Kept by the records of the proof:
        the names of one span (distinct names below a wildcard, or absent) share them."""
        records = signer.chain(proof.version).proof(proof)
        key = (id(sections), *[id(r) for r in records])
        found = tail.proven.get(key)
        if found is None:
            denial = [(1, r) for r in proof_rrsets([proof], self.engine.zones)]  # (the same records, signed)
            rrsets = sections.rrsets
            found = _Sections([item for item in rrsets if item[0] == 1] + denial + [item for item in rrsets if item[0] != 1])
            if len(tail.proven) >= _PROOFS_KEPT:
                tail.proven.clear()
            tail.proven[key] = found  # (it holds the records, so their ids are not reused while kept)
        return found

    def _with_hosts(self, tail: _Tail, records: dns.rdataset.Rdataset, field: str) -> _Sections:
        """The positive answer's sections with the addresses of the hosts *records* name (the
        engine's :meth:`~fakens.engine.Engine._add_additional` with ``additional_from="zone"``):
        every host in the order named, the MX or SRV hosts first, then the NS hosts; those in the
        zone give their addresses (NS hosts their glue too), every A before every AAAA; for a
        DO=1 answer each followed by its RRSIG when signed. Found once per version and RRset."""
        found = tail.hosts.get(id(records))
        if found is not None and found[0] is records:
            return found[1]
        sections = self._hosts_sections(tail, records, field)
        if len(tail.hosts) >= _HOSTS_KEPT:
            tail.hosts.clear()
        tail.hosts[id(records)] = (records, sections)  # (the records kept, so that their id is not reused)
        return sections

    def _hosts_sections(self, tail: _Tail, records: dns.rdataset.Rdataset, field: str) -> _Sections:
        """:meth:`_with_hosts`, made."""
        version = tail.version
        nodes = version.nodes
        hosts: dict[Name, bool] = {}  # host -> is an NS host (whose glue may be sent)
        for rdata in records:
            host = cast(Name, getattr(rdata, field))
            if nodes.get(host):  # (a name of the zone)
                hosts[host] = False
        if not hosts:
            return tail.positive  # no host in the zone with records: the NS hosts' addresses alone
        for host in tail.ns_hosts:
            hosts[host] = True
        found: list[dns.rrset.RRset] = []
        origin = version.origin
        for host, is_ns in hosts.items():
            if is_ns is False or host.is_subdomain(origin):
                found.extend(_zone_addresses(version, host, is_ns))
        additional: list[tuple[int, dns.rrset.RRset]] = []
        for rrset in [r for r in found if r.rdtype == _A] + [r for r in found if r.rdtype == _AAAA]:
            additional.append((2, rrset))
            if tail.dnssec:  # its signature, as add_dnssec gives it (None: not signed, or glue)
                rrsig = rrsig_of(rrset, tail.version_of, self.engine.find_zone, {})
                if rrsig is not None:
                    additional.append((2, rrsig))
        positive = tail.positive.rrsets
        authority = [(section, r) for section, r in positive if section == 1]
        if len(authority) + len(additional) == len(positive) and all(
                a is b for (_, a), (_, b) in zip(additional, positive[len(authority):], strict=True)):
            return tail.positive  # the hosts named are NS hosts too, in the same order
        return _Sections(authority + additional)

    def _origins(self) -> tuple[dict[Name, Zone] | None, dict[bytes, Zone], dict[_Suffix, Zone | None]]:
        """The engine's zones, the served zones of class IN by their origin's wire form in lower
        case, and the zones found for suffixes (:func:`_find_zone`) since they were served
        (made again when the engine's zones changed)."""
        zones = self.engine.zones
        lookup = self._lookup
        if lookup[0] is not zones:
            lookup = self._lookup = (zones, {_lower_wire(origin): zone for origin, zone in zones.items()}, {})
        return lookup

    def _tail(self, version: ZoneVersion, do: bool) -> _Tail:
        """What follows the ANSWER records of *version*'s answers (made once per version and DO bit)."""
        key = (id(version), do)
        engine = self.engine
        epoch = self._epoch
        apex = engine.answer(version.origin, dns.rdatatype.SOA, dnssec_ok=do, versions={version.origin: version})
        positive = [(1, r) for r in apex.authority] + [(2, r) for r in apex.glue + apex.additional]
        negative = [(1, engine.negative_soa(version))]
        tail = _Tail(version, positive, negative, do)
        if do:  # the SOA's RRSIG (the zone's, whatever SOA the negative answers carry) when signed
            rrsig = rrsig_of(negative[0][1], tail.version_of, engine.find_zone, {})
            if rrsig is not None:
                tail.negative = _Sections([*negative, (1, rrsig)])
        with self._lock:
            if self._epoch != epoch:
                return tail  # (cleared meanwhile, in another thread: made from what may be stale, not kept)
            if len(self._tails) >= _TAILS_KEPT:
                self._tails.clear()
            self._tails[key] = tail
        return tail

    def _write(self, asked: _Asked, rcode: int, records: dns.rdataset.Rdataset | None,
               tail: _Sections, signatures: dns.rrset.RRset | None = None, authoritative: bool = True,
               chained: tuple[int, int, int] | None = None) -> bytes | None:
        """The reply: header and question as *asked*, *records* in ANSWER (and their
        *signatures*, the RRSIG records alone read), then *tail* (with *chained*, the records
        of each of its sections: the rest of a CNAME chain, its section 0 RRsets in ANSWER too),
        AA set when *authoritative*; None when it does not fit."""
        wire, transport, flags, end, lower, after, payload, do = asked
        out = bytearray(wire[:end + 5])  # the root label, type and class
        # the names the question puts in dnspython's compression table: its suffixes' entries
        # (shared by the questions of that suffix and first-label length) and its own name's;
        # copied only when a name is to be added (the data's names, a tail written anew)
        suffixes = after.compression(wire[12])
        compress: dict[bytes, int] | None = None
        answers = 0
        if records is not None:  # each owned by a pointer to the question
            rdtype = records.rdtype
            fixed = _ANSWER_FIXED.pack(0xC00C, rdtype, records.rdclass, records.ttl)
            if rdtype in (_A, _AAAA):  # (the commonest: their data as _pieces has it, written at once)
                family, fixed = (_AF_INET, fixed + b"\x00\x04") if rdtype == _A else (_AF_INET6, fixed + b"\x00\x10")
                for rdata in records:
                    out += fixed
                    out += _inet_pton(family, rdata.address)
            else:
                for rdata in records:
                    pieces = _pieces(rdata)
                    if pieces is None:
                        return None
                    out += fixed
                    if len(pieces) == 1 and type(pieces[0]) is bytes:  # data without a name to compress (TXT)
                        out += _RDLENGTH.pack(len(pieces[0]))
                        out += pieces[0]
                        continue
                    if compress is None:
                        compress = _with_question(suffixes, lower)
                    write_data(out, compress, pieces)
            answers = len(records)
            if signatures is not None:  # owned by the question too; no name compressed in an RRSIG
                fixed = _ANSWER_FIXED.pack(0xC00C, _RRSIG, records.rdclass, records.ttl)
                for rdata in signatures:
                    pieces = _signature_pieces(rdata)
                    if pieces is None or len(pieces) != 1 or type(pieces[0]) is not bytes:
                        return None
                    out += fixed
                    out += _RDLENGTH.pack(len(pieces[0]))
                    out += pieces[0]
                answers += len(signatures)
        template = tail.template
        written = False
        if template is not None:
            if compress is None and lower not in template.keys:
                written = template.write(out, suffixes)  # (it looks up no entry but the suffixes')
            else:
                compress = compress if compress is not None else _with_question(suffixes, lower)
                written = template.write(out, compress)
        if written:
            assert template is not None
            authority, additional = template.authority, template.additional
        else:
            if compress is None:
                compress = _with_question(suffixes, lower)
            sections = write_sections(out, compress, tail.rrsets, None, template is None)
            if sections is None:
                return None
            authority, additional, made = sections
            if made is not None:  # (the sections' own: it goes with them, as they are forgotten)
                tail.template = made
        if chained is not None:
            answers += chained[0]
            authority, additional = chained[1], chained[2]
        if payload < 0:
            limit = MIN_UDP if transport == "udp" else MAX_TCP
        else:
            limit = MAX_TCP if transport != "udp" else max(MIN_UDP, min(payload, self.udp_size))
            out += self._opts[do]
            additional += 1
        if len(out) > limit:
            return None  # the reference encoder decides what goes
        flags = (0x8400 if authoritative else 0x8000) | (flags & 0x0110) | rcode  # QR, AA, the query's RD and CD
        _HEADER_TAIL.pack_into(out, 2, flags, 1, answers, authority, additional)
        self.answered += 1
        return bytes(out)
