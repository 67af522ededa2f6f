"""Signed lies: the tools of the DNSSEC faults and of answer-editing faults on signed zones.

A fault sees an answer whose RRsets are each followed by their RRSIG RRset
(:mod:`fakens.dnssec.answers`). These helpers find the zone that signed an RRSIG, sign
again on purpose (another time window, another key, other data), give a lie the
signatures of the zone's true data (so it does not verify, as on a server whose data
changed after signing), and make the versions a "zone signed with wrong data" is made of::

    signer = signer_of(view.zones, rrsig_rrset)          # the zone that signed it
    edit_rrsigs(answer, lambda data, rrsig: None)        # every RRSIG dropped
    true_signatures(answer, view.zones)                  # a stale answer: lies do not verify
    without(version, name)                               # the version a signed NXDOMAIN lie is made from
    SignedLies().answer(view, answer, zone, qname)       # that NXDOMAIN, answered and signed
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.RRSIG
import dns.rrset

from fakens.zones import Name, ZoneVersion

if TYPE_CHECKING:
    from fakens.answer import Answer
    from fakens.dnssec.signer import ZoneSigner
    from fakens.faults.view import View, ZoneData, ZoneHistory

RRSIG = dns.rdatatype.RRSIG
DENIAL_TYPES = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)
SECTIONS = ("answer", "authority", "additional")
Edit = Callable[[dns.rrset.RRset, dns.rrset.RRset], "dns.rrset.RRset | None"]
"""``edit(data, rrsig)``: the RRSIG RRset to serve instead of *rrsig* (the signatures of the
RRset *data*), *rrsig* itself for no change, or None to serve none."""


def signer_of(zones: ZoneData, rrsig: dns.rrset.RRset) -> ZoneSigner | None:
    """The signer of the served zone named in *rrsig*'s signer field, or None."""
    if not len(rrsig):
        return None
    first = rrsig[0]
    assert isinstance(first, dns.rdtypes.ANY.RRSIG.RRSIG)
    zone = zones.get(first.signer)
    return zone.signer if zone is not None else None


def signed_owner(served: Name, rrsig: dns.rrset.RRset) -> Name:
    """The owner the signatures were made for: *served*, or the wildcard it was synthesized
    from (the RRSIG's label count is lower than the served name's, RFC 4035 5.3.2)."""
    first = rrsig[0]
    assert isinstance(first, dns.rdtypes.ANY.RRSIG.RRSIG)
    labels = len(served) - 1
    if first.labels >= labels:
        return served
    return dns.name.Name((b"*",) + served.labels[labels - first.labels:])


def signed_rdataset(data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rdataset.Rdataset:
    """*data* as it was signed: with the RRSIG's original TTL."""
    first = rrsig[0]
    assert isinstance(first, dns.rdtypes.ANY.RRSIG.RRSIG)
    rdataset = dns.rdataset.Rdataset(data.rdclass, data.rdtype, data.covers, first.original_ttl)
    rdataset.update(data)
    rdataset.ttl = first.original_ttl
    return rdataset


def rrsig_set(owner: Name, rdtype: int, ttl: int, rrsigs: Iterable[dns.rdata.Rdata]) -> dns.rrset.RRset:
    """An RRSIG RRset owned by *owner* covering *rdtype*."""
    rrset = dns.rrset.RRset(owner, dns.rdataclass.IN, RRSIG, dns.rdatatype.RdataType.make(rdtype))
    for rdata in rrsigs:
        rrset.add(rdata)
    rrset.ttl = ttl
    return rrset


def edit_section(rrsets: list[dns.rrset.RRset], edit: Edit) -> tuple[list[dns.rrset.RRset], int]:
    """*rrsets* with each RRSIG RRset that follows the RRset it covers passed through *edit*;
    how many changed."""
    data = {(r.name, r.rdtype): r for r in rrsets if r.rdtype != RRSIG}
    out: list[dns.rrset.RRset] = []
    changed = 0
    for rrset in rrsets:
        covered = data.get((rrset.name, rrset.covers)) if rrset.rdtype == RRSIG else None
        if covered is None:
            out.append(rrset)
            continue
        new = edit(covered, rrset)
        if new is not rrset:
            changed += 1
        if new is not None:
            out.append(new)
    return out, changed


def edit_rrsigs(answer: Answer, edit: Edit) -> int:
    """Pass every RRSIG RRset of *answer* through *edit* (:func:`edit_section`); how many changed."""
    total = 0
    for section in SECTIONS:
        rrsets, changed = edit_section(getattr(answer, section), edit)
        setattr(answer, section, rrsets)
        total += changed
    return total


def replace_rrset(rrsets: list[dns.rrset.RRset], old: dns.rrset.RRset, new: list[dns.rrset.RRset]) -> list[dns.rrset.RRset]:
    """*rrsets* with *old* and the RRSIG RRset covering it replaced by *new* (at *old*'s place)."""
    out: list[dns.rrset.RRset] = []
    for rrset in rrsets:
        if rrset is old:
            out += new
        elif not (rrset.rdtype == RRSIG and rrset.name == old.name and rrset.covers == old.rdtype):
            out.append(rrset)
    return out


def rrsig_of(rrsets: list[dns.rrset.RRset], data: dns.rrset.RRset) -> dns.rrset.RRset | None:
    """The RRSIG RRset covering *data* among *rrsets*, or None."""
    return next((r for r in rrsets if r.rdtype == RRSIG and r.name == data.name and r.covers == data.rdtype), None)


def true_signatures(answer: Answer, zones: ZoneData) -> int:
    """Give each signed RRset of *answer* the signatures the zone's current data has at its
    owner and type: an RRset that is the truth keeps signatures that verify, a lie (older or
    edited data) gets the true data's signatures, which do not verify it, or none when the
    zone has no such RRset now: what a server whose data changed after signing serves. How
    many RRSIG RRsets changed."""

    def edit(data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        signer = signer_of(zones, rrsig)
        zone = zones.get(signer.origin) if signer is not None else None
        if signer is None or zone is None:
            return rrsig
        owner = signed_owner(data.name, rrsig)
        current = zone.current
        if data.rdtype in DENIAL_TYPES:
            true: dns.rdataset.Rdataset | None = signer.chain(current).at(owner)
        else:
            true = current.get(owner, data.rdtype, data.covers)
        if true is None:
            return None
        if set(true) == set(data):
            return rrsig
        return signer.rrsig_rrset(owner, true, served_as=data.name, ttl=rrsig.ttl)

    return edit_rrsigs(answer, edit)


def without(version: ZoneVersion, name: Name, types: Iterable[int] = ()) -> ZoneVersion:
    """A copy of *version* without the RRsets of *types* at *name*, or (no *types*) without
    *name* and every name below it: the data a zone signed with wrong data was signed from."""
    types = set(types)
    nodes = {}
    for owner, node in version.nodes.items():
        if types:
            nodes[owner] = {k: r for k, r in node.items() if owner != name or (k[0] not in types and k[1] not in types)}
        elif not owner.is_subdomain(name):
            nodes[owner] = dict(node)
    return ZoneVersion(version.origin, nodes, version.rdclass, version.where, version.record_where, copy=False)


class SignedLies:
    """Answers from versions of a zone without a name or some types, signed as if that were
    the zone's data (NXDOMAIN or NODATA with a valid proof): a fault's cache of them."""

    def __init__(self, kept: int = 16) -> None:
        self.kept = kept
        self._versions: OrderedDict[tuple[int, Name, frozenset[int]], ZoneVersion] = OrderedDict()
        self._lock = threading.Lock()

    def answer(self, view: View, answer: Answer, zone: ZoneHistory, name: Name, types: Iterable[int] = ()) -> Answer:
        """The answer to *view*'s question from *zone*'s version in *answer* without *name*
        (or without its *types*), the other zones' versions as in *answer*."""
        assert view.question is not None
        version = answer.version_of(zone)
        key = (version.number, name, frozenset(types))
        with self._lock:
            patched = self._versions.get(key)
        if patched is None:
            patched = without(version, name, key[2])
            with self._lock:
                self._versions[key] = patched
                while len(self._versions) > self.kept:
                    self._versions.popitem(last=False)
        versions = dict(answer.versions or {})
        versions[zone.origin] = patched
        return view.zones.answer(view.question, versions=versions, dnssec_ok=answer.dnssec_ok)


def resign_all(answer: Answer, zones: ZoneData) -> int:
    """Sign every signed RRset of *answer* again as it is served (a lie then carries valid
    signatures: a zone signed with wrong data); how many RRSIG RRsets changed."""

    def edit(data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        signer = signer_of(zones, rrsig)
        if signer is None:
            return rrsig
        owner = signed_owner(data.name, rrsig)
        new = signer.rrsig_rrset(owner, signed_rdataset(data, rrsig), served_as=data.name, ttl=rrsig.ttl)
        return rrsig if set(new) == set(rrsig) else new

    return edit_rrsigs(answer, edit)
