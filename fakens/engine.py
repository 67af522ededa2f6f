"""The answer engine: RFC 1034 4.3.2 over a server's zones, with no sockets.

Deterministic: the same zones and the same question give the same Answer.
Testable in memory::

    engine = Engine([Zone.from_file("zones/example.test.zone")])
    answer = engine.answer(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert answer.aa and answer.kind is Kind.ANSWER

Choices (the same as BIND and NSD unless noted; see docs/answers.md):
- the closest enclosing zone answers; DS at a cut is answered from the parent;
- a name with a CNAME and other data answers the asked type when it exists,
  else the CNAME (BIND refuses such zones; fakens serves them on purpose);
- CNAME and DNAME chains are followed through every zone the server holds,
  16 steps at most, stopping at a loop (NOERROR with the CNAMEs found);
- positive answers carry the zone's NS in AUTHORITY and the addresses of NS,
  MX and SRV targets in ADDITIONAL, unless ``minimal_responses``; a DS answer
  and the DNAME + CNAME answering a CNAME question carry neither (as NSD and
  Knot); the addresses come from the zone that holds the record naming the
  host (``additional_from="server"``: from any zone the server holds);
- a referral carries the cut's DS only with DO=1 and from a signed zone (a
  DNSKEY at its apex), as BIND, NSD and Knot;
- ANY gets every RRset at the name, or with ``any_mode="rfc8482"`` one
  synthesized HINFO "RFC8482" record;
- a CH query is answered from the zones of class CH (``engine.chaos``, the same
  algorithm), else from the built-ins (``id.server.``, ``version.bind.``,
  ``authors.bind.`` ...: EngineOptions).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.DNAME
import dns.rdtypes.ANY.HINFO
import dns.rdtypes.ANY.TXT
import dns.rrset

from fakens.answer import Answer, Kind, Proof
from fakens.dnssec.answers import add_dnssec
from fakens.zones import Name, Zone, ZoneVersion, to_rrset

MAX_CHAIN = 16
ADDRESS_MEMO_SIZE = 4096  # hosts whose additional addresses a zone version remembers
_A, _AAAA, _NS, _SOA, _CNAME, _DNAME, _DS = (
    dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.SOA,
    dns.rdatatype.CNAME, dns.rdatatype.DNAME, dns.rdatatype.DS,
)
_ANY = dns.rdatatype.ANY
_DNSKEY = dns.rdatatype.DNSKEY
_ADDRESS_TYPES = (_A, _AAAA)
_TARGET_FIELDS = {dns.rdatatype.MX: "exchange", dns.rdatatype.NS: "target", dns.rdatatype.SRV: "target"}
_WILD = b"*"
_CHAOS_BUILTINS = {dns.name.from_text(text): option for text, option in (
    ("id.server.", "identity"), ("hostname.bind.", "identity"), ("version.bind.", "version"),
    ("version.server.", "version"), ("authors.bind.", "authors"))}
ChaosText = str | Sequence[str] | None


@dataclass(frozen=True)
class EngineOptions:
    """How the engine shapes answers.

    - ``minimal_responses``: no NS in AUTHORITY of positive answers and no
      optional ADDITIONAL records (referral glue is still sent).
    - ``additional_from``: where the addresses in ADDITIONAL of a positive
      answer come from: ``"zone"`` (the zone that holds the NS, MX or SRV
      record naming the host, as BIND, NSD and Knot) or ``"server"`` (any zone
      the server holds: the closest enclosing zone of the host).
    - ``any_mode``: ``"all"`` (every RRset at the name) or ``"rfc8482"``.
    - ``identity``: the TXT of CHAOS ``id.server.`` / ``hostname.bind.``; ``version``:
      of ``version.bind.`` / ``version.server.``; ``authors``: of ``authors.bind.``.
      Each a string, a list of strings (one TXT record each) or None (switched off:
      the name is not served). A zone of class CH holding the name answers instead.
    - ``sibling_glue``: referrals carry the addresses of NS hosts elsewhere in the
      parent zone (not under the child) as optional ADDITIONAL data (True, as BIND);
      False leaves them out (as NSD and Knot do for hosts in a sibling's data).
    - ``negative_soa``: the SOA RRset every NXDOMAIN and NODATA carries instead of
      the zone's (None: the zone's, TTL min(SOA TTL, minimum)).
    """

    minimal_responses: bool = False
    additional_from: str = "zone"
    any_mode: str = "all"
    identity: ChaosText = "fakens"
    version: ChaosText = "fakens"
    authors: ChaosText = "fakens"
    sibling_glue: bool = True
    negative_soa: dns.rrset.RRset | None = None

    def __post_init__(self) -> None:
        if self.any_mode not in ("all", "rfc8482"):
            from fakens.errors import ConfigError

            raise ConfigError(f"any_mode must be 'all' or 'rfc8482', not {self.any_mode!r}")
        if self.additional_from not in ("zone", "server"):
            from fakens.errors import ConfigError

            raise ConfigError(f"additional_from must be 'zone' or 'server', not {self.additional_from!r}")


class Engine:
    """Answers questions from a set of zones (a server's)."""

    def __init__(self, zones: Iterable[Zone] = (), options: EngineOptions | None = None) -> None:
        self.zones: dict[Name, Zone] = {}
        self.options = options or EngineOptions()
        self.chaos: Engine | None = None
        """The zones of class CH, answering CH queries with the same algorithm (kept apart:
        a CH zone and an IN zone may have the same origin)."""
        for zone in zones:
            self.add_zone(zone)

    @property
    def chaos_zones(self) -> dict[Name, Zone]:
        """The zones of class CH served, by origin."""
        return dict(self.chaos.zones) if self.chaos is not None else {}

    def add_zone(self, zone: Zone) -> None:
        """Serve one more zone (replacing one with the same origin and class)."""
        if zone.rdclass == dns.rdataclass.CH:
            if self.chaos is None:
                self.chaos = Engine(options=self.options)
            self.chaos.zones = {**self.chaos.zones, zone.origin: zone}
            return
        zones = dict(self.zones)
        zones[zone.origin] = zone
        self.zones = zones

    def remove_zone(self, origin: Name, rdclass: dns.rdataclass.RdataClass = dns.rdataclass.IN) -> None:
        """Stop serving a zone (of class *rdclass*)."""
        if rdclass == dns.rdataclass.CH:
            if self.chaos is not None:
                self.chaos.remove_zone(origin)
            return
        zones = dict(self.zones)
        zones.pop(origin, None)
        self.zones = zones

    def find_zone(self, qname: Name, rdtype: dns.rdatatype.RdataType = _A) -> Zone | None:
        """The closest enclosing zone for *qname*; for DS at a zone apex, its parent zone if served
        (else the zone itself, which answers NODATA: RFC 4035 3.1.4.1, as NSD does)."""
        zones = self.zones
        name = qname
        if rdtype == _DS and name in zones and len(name) > 1:
            return self.find_zone(name.parent()) or zones[name]
        while True:
            zone = zones.get(name)
            if zone is not None:
                return zone
            if len(name) <= 1:
                return None
            name = name.parent()

    # -- the algorithm -------------------------------------------------------

    def answer(self, qname: Name, rdtype: dns.rdatatype.RdataType,
               rdclass: dns.rdataclass.RdataClass = dns.rdataclass.IN,
               versions: Mapping[Name, ZoneVersion] | None = None, dnssec_ok: bool = False) -> Answer:
        """The answer to one question, as the server's zones say it.

        *versions* replaces the current version of some zones (by origin):
        stale-data and stale-serial faults answer from an older version.
        *dnssec_ok* is the query's DO bit: without it a referral carries no DS
        (RFC 3225 3; a DS query gets its DS either way).
        """
        if rdclass == dns.rdataclass.CH:
            chaos = self.chaos
            if chaos is not None and chaos.find_zone(qname, rdtype) is not None:
                return chaos.answer(qname, rdtype, versions=versions, dnssec_ok=dnssec_ok)  # its zones' class
            return self._chaos(qname, rdtype)
        if rdclass != dns.rdataclass.IN:
            return Answer(Kind.REFUSED, dns.rcode.REFUSED)
        zone = self.find_zone(qname, rdtype)
        if zone is None:
            return Answer(Kind.REFUSED, dns.rcode.REFUSED)
        result = Answer(Kind.ANSWER, aa=True, zone=zone.origin, versions=versions, dnssec_ok=dnssec_ok)
        result.version = result.version_of(zone)
        self._resolve(result, result.version, qname, rdtype, seen=[], first=True)
        if result.kind is Kind.ANSWER or result.kind is Kind.CNAME:
            self._add_additional(result)
        if dnssec_ok:
            add_dnssec(result, self.zones, self.find_zone)  # RRSIGs and proofs of signed zones
        return result

    def chain_after(self, version: ZoneVersion, target: Name, rdtype: dns.rdatatype.RdataType,
                    dnssec_ok: bool = False) -> tuple[Answer, int]:
        """What :meth:`answer` gives a question of *version*'s zone after its first CNAME, whose
        target is *target*: the rest of the chain (its ANSWER RRsets after that CNAME), the
        AUTHORITY and ADDITIONAL, the rcode; and how many times the rest went on to a target
        (each CNAME or DNAME followed, a stop at a loop or at :data:`MAX_CHAIN` included: the
        length of the engine's ``seen``). The express path keeps it for every question whose
        CNAME names *target*, unless the rest comes back to the question or the question's own
        CNAME would make the engine stop it sooner::

            rest, followed = engine.chain_after(version, target, dns.rdatatype.A)
        """
        result = Answer(Kind.ANSWER, aa=True, zone=version.origin, dnssec_ok=dnssec_ok)
        result.version = version
        seen: list[Name] = []
        zone = self.find_zone(target, rdtype)
        if zone is None:
            result.kind = Kind.CNAME  # out of the server's data (as _follow finds it)
        else:
            self._resolve(result, result.version_of(zone), target, rdtype, seen, first=False)
        if result.kind is Kind.ANSWER or result.kind is Kind.CNAME:
            self._add_additional(result)
        if dnssec_ok:
            add_dnssec(result, self.zones, self.find_zone)
        return result, len(seen)

    def _resolve(self, result: Answer, version: ZoneVersion, qname: Name,
                 rdtype: dns.rdatatype.RdataType, seen: list[Name], first: bool) -> None:
        origin = version.origin
        # 1. Walk down from the apex: a cut gives a referral, a DNAME a rewrite (a zone with
        # neither, most zones, has no walk to do).
        cuts, dnames = version.cuts, version.dnames
        if cuts or dnames:
            for labels in range(len(origin), len(qname) + 1):  # the apex may own a DNAME (RFC 6672 2.3)
                name = qname.split(labels)[1] if labels < len(qname) else qname
                if name in cuts and not (name == qname and rdtype == _DS):
                    self._referral(result, version, name, first)
                    return
                if name in dnames and name != qname:
                    dname = version.get(name, _DNAME)
                    assert dname is not None
                    self._dname(result, version, qname, rdtype, name, dname, seen)
                    return
        node = version.nodes.get(qname)
        if node:
            self._at_node(result, version, qname, qname, rdtype, node, seen)
            return
        if qname in version.names:  # an empty non-terminal
            self._negative(result, version, Kind.NODATA, qname)
            return
        # 2. Wildcard (RFC 4592): the source of synthesis is *.<closest encloser>.
        encloser = qname.parent()
        while encloser not in version.names:
            encloser = encloser.parent()
        source = dns.name.Name((_WILD,) + encloser.labels)
        wild = version.nodes.get(source)
        if wild:
            self._at_node(result, version, qname, source, rdtype, wild, seen)
            return
        self._negative(result, version, Kind.NXDOMAIN, qname)

    def _at_node(self, result: Answer, version: ZoneVersion, owner: Name, source: Name,
                 rdtype: dns.rdatatype.RdataType, node: dict[tuple[dns.rdatatype.RdataType, dns.rdatatype.RdataType], dns.rdataset.Rdataset] | object,
                 seen: list[Name]) -> None:
        rdatasets = cast(dict[tuple[dns.rdatatype.RdataType, dns.rdatatype.RdataType], dns.rdataset.Rdataset], node)
        wildcard = source if source != owner else None
        if wildcard is not None:  # a signed answer proves the name itself does not exist
            result.proofs.append(Proof(version, owner, Kind.ANSWER, wildcard))
        if rdtype == _ANY:
            if self.options.any_mode == "rfc8482":
                ttl = min(version.soa.ttl, 3600)
                hinfo = dns.rdtypes.ANY.HINFO.HINFO(version.rdclass, dns.rdatatype.HINFO, "RFC8482", "")
                result.answer.append(_rrset(owner, ttl, [hinfo]))
            else:
                for key in sorted(rdatasets):
                    result.answer.append(to_rrset(owner, rdatasets[key]))
            self._finish_positive(result, version)
            return
        wanted = rdatasets.get((rdtype, dns.rdatatype.NONE))
        if wanted is not None and len(wanted):
            result.answer.append(to_rrset(owner, wanted))
            # a DS answer is sent alone (BIND, NSD and Knot): it is the parent's data about a
            # child, and a validator asks for it with nothing else to learn
            self._finish_positive(result, version, with_ns=rdtype != _DS)
            return
        cname = rdatasets.get((_CNAME, dns.rdatatype.NONE))
        if cname is not None and len(cname):
            result.answer.append(to_rrset(owner, cname))
            target = cast(dns.rdtypes.ANY.CNAME.CNAME, cname[0]).target
            self._follow(result, owner, target, rdtype, seen)
            return
        if wildcard is not None:
            result.proofs.pop()  # not a wildcard answer: a wildcard NODATA
        self._negative(result, version, Kind.NODATA, owner, wildcard)

    def _follow(self, result: Answer, owner: Name, target: Name,
                rdtype: dns.rdatatype.RdataType, seen: list[Name]) -> None:
        """Go on with a CNAME target, in whichever of the server's zones holds it."""
        seen.append(owner)
        if target in seen or len(seen) >= MAX_CHAIN:
            result.kind = Kind.CNAME  # a loop: answer what we have (BIND 9.18 answers SERVFAIL)
            return
        zone = self.find_zone(target, rdtype)
        if zone is None:
            result.kind = Kind.CNAME  # out of the server's data: the resolver goes on
            return
        self._resolve(result, result.version_of(zone), target, rdtype, seen, first=False)

    def _dname(self, result: Answer, version: ZoneVersion, qname: Name, rdtype: dns.rdatatype.RdataType,
               owner: Name, dname: dns.rdataset.Rdataset, seen: list[Name]) -> None:
        result.answer.append(to_rrset(owner, dname))
        target = cast(dns.rdtypes.ANY.DNAME.DNAME, dname[0]).target
        try:
            new_name = qname.relativize(owner).derelativize(target)
        except dns.name.NameTooLong:
            result.kind, result.rcode = Kind.ERROR, dns.rcode.YXDOMAIN
            return
        synthesized = dns.rdtypes.ANY.CNAME.CNAME(dname.rdclass, _CNAME, new_name)
        result.answer.append(_rrset(qname, dname.ttl, [synthesized]))
        if rdtype in (_CNAME, _ANY):  # the synthesized CNAME answers the question (RFC 1034 4.3.2 3a)
            # for CNAME, the DNAME and the CNAME alone, as NSD and Knot send them
            self._finish_positive(result, version, with_ns=rdtype != _CNAME)
            return
        self._follow(result, qname, new_name, rdtype, seen)

    def _referral(self, result: Answer, version: ZoneVersion, cut: Name, first: bool) -> None:
        ns = version.get(cut, _NS)
        assert ns is not None
        result.kind = Kind.DELEGATION
        if first:
            result.aa = False
        result.authority.append(to_rrset(cut, ns))
        ds = version.get(cut, _DS)
        if ds is not None and result.dnssec_ok and is_signed(version):
            result.authority.append(to_rrset(cut, ds))
        elif ds is None:
            result.proofs.append(Proof(version, cut, Kind.DELEGATION))  # signed: the proof of no DS
        glue: list[dns.rrset.RRset] = []
        sibling: list[dns.rrset.RRset] = []
        for rdata in ns:
            host = cast(dns.name.Name, rdata.target)
            if host.is_subdomain(cut):
                glue.extend(_addresses(version, host))
            elif self.options.sibling_glue and host.is_subdomain(version.origin):  # sibling glue (even below another cut), as BIND sends it
                sibling.extend(_addresses(version, host))
        result.glue.extend(_by_type(glue))  # every A, then every AAAA, as BIND and NSD send glue
        result.additional.extend(_by_type(sibling))

    def _negative(self, result: Answer, version: ZoneVersion, kind: Kind, qname: Name,
                  wildcard: Name | None = None) -> None:
        result.kind = kind
        result.proofs.append(Proof(version, qname, kind, wildcard))
        if kind is Kind.NXDOMAIN:
            result.rcode = dns.rcode.NXDOMAIN
        result.authority.append(self.negative_soa(version))

    def negative_soa(self, version: ZoneVersion) -> dns.rrset.RRset:
        """The SOA RRset of a negative answer from *version*: the ``negative_soa`` option when
        given, else the zone's (:func:`negative_soa`). Shared: treat it as read-only."""
        given = self.options.negative_soa
        return given if given is not None else negative_soa(version)

    def _finish_positive(self, result: Answer, version: ZoneVersion, with_ns: bool = True) -> None:
        result.kind = Kind.ANSWER
        if self.options.minimal_responses or not with_ns:
            return
        ns = version.get(version.origin, _NS)
        if ns is None:
            return
        for rrset in result.answer:
            if rrset.rdtype == _NS and rrset.name == version.origin:
                return
        result.authority.append(to_rrset(version.origin, ns))

    def _add_additional(self, result: Answer) -> None:
        """The A and AAAA of the NS, MX and SRV targets named in ANSWER and AUTHORITY, every A
        first, then every AAAA (as BIND and NSD order them: when space runs out, more hosts keep
        an address). By default each host's addresses come from the zone holding the record that
        names it, and only from there (BIND, NSD and Knot): a served child's NS host is not
        looked up in its parent, nor a zone's MX target in another zone of the server."""
        if self.options.minimal_responses:
            return
        naming = tuple(r for r in result.answer + result.authority if r.rdtype in _TARGET_FIELDS)
        if not naming:
            return
        version = result.version
        # remembered per version when every host comes from the answer's own version (the
        # RRsets are then that version's, and so are the addresses): most answers name only
        # the apex NS hosts
        # (the memo holds what additional_from="zone" finds: it may be shared by servers that share the zone)
        own_zone = self.options.additional_from != "server"
        memo = version.additional_memo if own_zone and version is not None and result.versions is None else None
        key = tuple(map(id, naming))
        hit = memo.get(key) if memo is not None else None
        if hit is not None and all(a is b for a, b in zip(hit[0], naming, strict=True)):
            ordered = hit[1]
        else:
            ordered, own = self._additional_hosts(result, naming)
            if memo is not None and own and len(memo) < ADDRESS_MEMO_SIZE:
                memo[key] = (naming, ordered)
        present = {(r.name, r.rdtype) for r in result.answer}
        for rrset in ordered:
            if (rrset.name, rrset.rdtype) not in present:
                present.add((rrset.name, rrset.rdtype))
                result.additional.append(rrset)

    def _additional_hosts(self, result: Answer, naming: tuple[dns.rrset.RRset, ...]) -> tuple[list[dns.rrset.RRset], bool]:
        """The addresses of the hosts *naming* names, in wire order, and whether all of
        them were looked up in the answer's own version."""
        any_zone = self.options.additional_from == "server"
        # (host, the version naming it or None for any zone) -> is an NS target (whose glue may be sent)
        hosts: dict[tuple[Name, ZoneVersion | None], bool] = {}
        own = not any_zone
        for rrset in naming:
            source = None if any_zone else self._source(result, rrset)
            if source is not result.version:
                own = False
            if source is None and not any_zone:
                continue
            field = _TARGET_FIELDS[rrset.rdtype]
            for rdata in rrset:
                key = (cast(dns.name.Name, getattr(rdata, field)), source)
                hosts[key] = hosts.get(key, False) or rrset.rdtype == _NS
        found: list[dns.rrset.RRset] = []
        for (host, source), is_ns in hosts.items():
            if source is None:
                found.extend(self._authoritative_addresses(host, result, glue_ok=is_ns))
            elif host.is_subdomain(source.origin):
                found.extend(_zone_addresses(source, host, glue_ok=is_ns))
        return _by_type(found), own

    def _source(self, result: Answer, rrset: dns.rrset.RRset) -> ZoneVersion | None:
        """The version of the zone an RRset of the answer came from: the closest enclosing zone
        of its owner (the parent for DS), as the engine answers from it."""
        zone = self.find_zone(rrset.name, rrset.rdtype)
        return None if zone is None else result.version_of(zone)

    def addresses_of(self, host: Name, versions: Mapping[Name, ZoneVersion] | None = None) -> list[dns.rrset.RRset]:
        """A and AAAA of *host* from the served zones (from *versions* where given), glue included."""
        return self._authoritative_addresses(host, Answer(Kind.ANSWER, versions=versions), glue_ok=True)

    def _authoritative_addresses(self, host: Name, result: Answer, glue_ok: bool = False) -> list[dns.rrset.RRset]:
        """A and AAAA of *host* when a served zone holds them as authoritative data,
        or as glue below a cut when *glue_ok* (addresses of NS targets, as BIND
        sends them: a root server's priming answer carries a.root-servers.test.'s
        address although test. is delegated)."""
        zone = self.find_zone(host)
        if zone is None:
            return []
        return _zone_addresses(result.version_of(zone), host, glue_ok)

    def _chaos(self, qname: Name, rdtype: dns.rdatatype.RdataType) -> Answer:
        """The built-in CHAOS names (no CH zone holds the name): TXT from the options."""
        option = _CHAOS_BUILTINS.get(qname)
        value: ChaosText = getattr(self.options, option) if option is not None else None
        if value is None:
            return Answer(Kind.REFUSED, dns.rcode.REFUSED)
        if rdtype not in (dns.rdatatype.TXT, _ANY):
            return Answer(Kind.NODATA, aa=True)
        rrset = dns.rrset.RRset(qname, dns.rdataclass.CH, dns.rdatatype.TXT)
        for text in [value] if isinstance(value, str) else value:
            rrset.add(dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.CH, dns.rdatatype.TXT, [text.encode()]), 0)
        return Answer(Kind.ANSWER, aa=True, answer=[rrset])

def _below_cut(version: ZoneVersion, name: Name) -> bool:
    """Is *name* at or below a delegation of *version*? (One lookup per label, not per cut.)"""
    if not version.cuts:
        return False
    depth = len(version.origin)
    while len(name) > depth:
        if name in version.cuts:
            return True
        name = name.parent()
    return False


def is_signed(version: ZoneVersion) -> bool:
    """Is the zone signed? A zone counts as signed when its apex holds a DNSKEY RRset (a zone
    fakens signs, :mod:`fakens.dnssec`, or a signed zone loaded from a file)."""
    dnskey = version.get(version.origin, _DNSKEY)
    return dnskey is not None and len(dnskey) > 0


def _zone_addresses(version: ZoneVersion, host: Name, glue_ok: bool) -> list[dns.rrset.RRset]:
    """A and AAAA of *host* in *version*: authoritative data, or glue below a cut when *glue_ok*
    (looked up once per version and host: the list is shared, read-only)."""
    key = (host, glue_ok)
    found = version.address_memo.get(key)
    if found is None:
        found = [] if not glue_ok and _below_cut(version, host) else _addresses(version, host)
        if len(version.address_memo) < ADDRESS_MEMO_SIZE:
            version.address_memo[key] = found
    return found


def _by_type(rrsets: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    """Address RRsets in the order they go on the wire: every A, then every AAAA (hosts in the
    order given), so that when a reply runs out of room more hosts keep an address."""
    return sorted(rrsets, key=lambda rrset: _ADDRESS_TYPES.index(rrset.rdtype))


def _addresses(version: ZoneVersion, host: Name) -> list[dns.rrset.RRset]:
    out = []
    for rdtype in _ADDRESS_TYPES:
        rdataset = version.get(host, rdtype)
        if rdataset is not None and len(rdataset):
            out.append(to_rrset(host, rdataset))
    return out


def negative_soa(version: ZoneVersion) -> dns.rrset.RRset:
    """The SOA RRset of a negative answer from *version*: TTL min(SOA TTL, minimum) (RFC 2308 5).
    Made once per version and shared by its answers: treat it as read-only."""
    made = version.negative_soa
    if made is None:
        made = version.negative_soa = _rrset(version.origin, version.negative_ttl(), list(version.soa))
    return made


def _rrset(owner: Name, ttl: int, rdatas: list[dns.rdata.Rdata]) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(owner, rdatas[0].rdclass, rdatas[0].rdtype)
    for rdata in rdatas:
        rrset.add(rdata, ttl)
    return rrset
