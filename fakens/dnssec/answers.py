"""Answers as a signing authoritative server gives them to a DO=1 query (RFC 4035 3.1).

The engine answers as it always does, noting what a signed answer must prove
(:class:`~fakens.answer.Proof`); :func:`add_dnssec` then puts, for every zone with a
:class:`~fakens.dnssec.signer.ZoneSigner`:

- an RRSIG RRset after every authoritative RRset of ANSWER, AUTHORITY and ADDITIONAL (never
  after a delegation's NS or glue; a name synthesized from a wildcard gets the wildcard's
  signature, whose label count tells the validator; a CNAME synthesized from a DNAME none);
- the NSEC or NSEC3 records, signed, of each proof: NXDOMAIN, NODATA, wildcard answers and
  wildcard NODATA, and a referral without DS (the delegation's NSEC without the DS bit),
  in AUTHORITY after the SOA or the NS.

Engine.answer calls it only for DO=1, so a DO=0 answer has no DNSSEC records (the DS of a
referral aside, which the engine adds for DO=1 only too)::

    answer = engine.answer(qname, dns.rdatatype.A, dnssec_ok=True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Protocol

import dns.rdatatype
import dns.rrset

from fakens.answer import Answer, Kind, Proof
from fakens.dnssec.denial import occluded
from fakens.zones import Name, Zone, ZoneVersion

if TYPE_CHECKING:
    from fakens.dnssec.denial import Chain
    from fakens.dnssec.signer import ZoneSigner

_RRSIG = dns.rdatatype.RRSIG
_NO_SIGNATURE = (Kind.REFUSED, Kind.ERROR, Kind.XFR)


def add_dnssec(result: Answer, zones: Mapping[Name, Zone],
               find_zone: Callable[[Name, dns.rdatatype.RdataType], Zone | None]) -> None:
    """Add RRSIGs and denial proofs of the signed zones among *zones* to *result* (in place)."""
    if result.kind in _NO_SIGNATURE:
        return
    wildcards = {p.name: p for p in result.proofs if p.wildcard is not None}
    denial = proof_rrsets(result.proofs, zones)

    def signed(section: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
        out: list[dns.rrset.RRset] = []
        for rrset in section:
            out.append(rrset)
            rrsig = rrsig_of(rrset, result.version_of, find_zone, wildcards)
            if rrsig is not None:
                out.append(rrsig)
        return out

    result.answer = signed(result.answer)
    result.authority = signed(result.authority) + denial
    result.additional = signed(result.additional)


def proof_rrsets(proofs: Iterable[Proof], zones: Mapping[Name, ZoneLike],
                 chain_of: Callable[[ZoneSigner, ZoneVersion], Chain] | None = None) -> list[dns.rrset.RRset]:
    """The NSEC or NSEC3 records of *proofs*, each followed by its RRSIG RRset, from the
    chains of the signed zones among *zones* (or those *chain_of* gives: a fault's other chain)."""
    denial: list[dns.rrset.RRset] = []
    seen: set[tuple[Name, int]] = set()
    for proof in proofs:
        zone = zones.get(proof.version.origin)
        signer = zone.signer if zone is not None else None
        if signer is None:
            continue
        if proof.kind is Kind.DELEGATION and proof.version.get(proof.name, dns.rdatatype.DS) is not None:
            continue
        chain = chain_of(signer, proof.version) if chain_of is not None else signer.chain(proof.version)
        for rrset in chain.proof(proof):
            if (rrset.name, rrset.rdtype) not in seen:
                seen.add((rrset.name, rrset.rdtype))
                denial += [rrset, signer.rrsig_rrset(rrset.name, rrset)]
    return denial


class ZoneLike(Protocol):
    """A zone as :func:`proof_rrsets` reads it: its signer, if signed."""

    @property
    def signer(self) -> ZoneSigner | None: ...


def rrsig_of(rrset: dns.rrset.RRset, version_of: Callable[[Zone], ZoneVersion],
             find_zone: Callable[[Name, dns.rdatatype.RdataType], Zone | None],
             wildcards: Mapping[Name, Proof]) -> dns.rrset.RRset | None:
    """The RRSIG RRset that goes with *rrset* of an answer made from the versions *version_of*
    gives (``Answer.version_of``) whose wildcard proofs by name are *wildcards*, or None
    (unsigned zone, not authoritative data, not data of the zone: a synthesized CNAME)."""
    if rrset.rdtype == _RRSIG:
        return None
    zone = find_zone(rrset.name, rrset.rdtype)
    if zone is None or zone.signer is None:
        return None
    version = version_of(zone)
    if occluded(version, rrset.name, rrset.rdtype):
        return None
    owner = rrset.name
    stored = version.get(owner, rrset.rdtype, rrset.covers)
    if stored is None:
        proof = wildcards.get(owner)
        if proof is None or proof.wildcard is None or proof.version.origin != version.origin:
            return None
        owner = proof.wildcard
        stored = version.get(owner, rrset.rdtype, rrset.covers)
        if stored is None:
            return None
    return zone.signer.rrsig_rrset(owner, stored, served_as=rrset.name, ttl=rrset.ttl)
