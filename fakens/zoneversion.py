"""One immutable snapshot of a zone's data, and the types zone data is made of.

A :class:`ZoneVersion` is what a query reads: ``zone.current`` once, then that
snapshot to the end (see :mod:`fakens.zones` for the Zone that makes them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import cast

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset

from fakens.errors import ZoneError

Name = dns.name.Name
RdataType = dns.rdatatype.RdataType
TypeKey = tuple[RdataType, RdataType]
"""The key of an RRset inside a node: (type, covered type)."""
Node = Mapping[TypeKey, dns.rdataset.Rdataset]

_NONE = dns.rdatatype.NONE


@dataclass(frozen=True)
class Where:
    """A place in a zone file: file name and 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class RecordPlaces(Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where]):
    """The place of each record in the zone file, by (owner, type, rdata).

    Kept per RRset, in file order, so loading a zone does not hash every
    record's data; a lookup compares the records of one RRset. ``first`` is
    the place of each RRset's first record, by (owner, type).
    """

    def __init__(self) -> None:
        self._by_rrset: dict[tuple[Name, RdataType], list[tuple[dns.rdata.Rdata, Where]]] = {}
        self.first: Mapping[tuple[Name, RdataType], Where] = _FirstPlaces(self._by_rrset)

    def add(self, name: Name, rdtype: RdataType, rdata: dns.rdata.Rdata, where: Where) -> None:
        """Record where one record (not yet added) is written."""
        key = (name, rdtype)
        found = self._by_rrset.get(key)
        if found is None:
            self._by_rrset[key] = [(rdata, where)]
        else:
            found.append((rdata, where))

    def __getitem__(self, key: tuple[Name, RdataType, dns.rdata.Rdata]) -> Where:
        name, rdtype, rdata = key
        for held, where in self._by_rrset.get((name, rdtype), ()):
            if held == rdata:
                return where
        raise KeyError(key)

    def __iter__(self) -> Iterator[tuple[Name, RdataType, dns.rdata.Rdata]]:
        for (name, rdtype), held in self._by_rrset.items():
            for rdata, _ in held:
                yield name, rdtype, rdata

    def __len__(self) -> int:
        return sum(len(held) for held in self._by_rrset.values())


class _FirstPlaces(Mapping[tuple[Name, RdataType], Where]):
    def __init__(self, by_rrset: dict[tuple[Name, RdataType], list[tuple[dns.rdata.Rdata, Where]]]) -> None:
        self._by_rrset = by_rrset

    def __getitem__(self, key: tuple[Name, RdataType]) -> Where:
        return self._by_rrset[key][0][1]

    def __iter__(self) -> Iterator[tuple[Name, RdataType]]:
        return iter(self._by_rrset)

    def __len__(self) -> int:
        return len(self._by_rrset)


_version_numbers = itertools.count(1)


class ZoneVersion:
    """One immutable snapshot of a zone's data.

    ``nodes`` maps each owner name to its RRsets; names are compared without
    regard to case (dnspython's ``Name`` does that). ``names`` holds every
    name that exists, empty non-terminals included; ``cuts`` the delegation
    points (names below the apex that own NS).
    """

    __slots__ = ("address_memo", "cuts", "dnames", "names", "negative_soa", "nodes", "number", "origin", "rdclass",
                 "record_where", "soa", "where")

    def __init__(
        self,
        origin: Name,
        nodes: Mapping[Name, Node],
        rdclass: dns.rdataclass.RdataClass = dns.rdataclass.IN,
        where: Mapping[tuple[Name, RdataType], Where] | None = None,
        record_where: Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where] | None = None,
        *,
        copy: bool = True,
    ) -> None:
        """*copy* False: *nodes* is a new dict of RRsets each owned by its name (as the
        zone file reader makes them), kept as it is: loading a big zone hashes every
        name once less."""
        self.origin = origin
        self.rdclass = rdclass
        # Each RRset is stored owned by its name, so answers share it without a copy.
        self.nodes: Mapping[Name, Node] = nodes if not copy else {
            owner: {key: to_rrset(owner, rdataset) for key, rdataset in node.items()} for owner, node in nodes.items()
        }
        self.number = next(_version_numbers)
        self.where: Mapping[tuple[Name, RdataType], Where] = where or {}
        """The place of each RRset's first record in the zone file."""
        self.record_where: Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where] = record_where or {}
        """The place of each record in the zone file."""
        names: set[Name] = {origin}
        cuts: set[Name] = set()
        dnames: set[Name] = set()
        below = len(origin.labels) + 1
        ns, dname = (dns.rdatatype.NS, _NONE), (dns.rdatatype.DNAME, _NONE)
        for owner, node in nodes.items():
            if not node:
                continue
            if dname in node:
                dnames.add(owner)
            depth = len(owner.labels)
            if depth == below:  # the parent is the origin (most names): no walk up
                names.add(owner)
                if ns in node:
                    cuts.add(owner)
                continue
            if ns in node and (depth != below - 1 or owner != origin):
                cuts.add(owner)
            name = owner
            while name not in names:
                names.add(name)
                if name == origin or len(name) <= len(origin):
                    break
                name = name.parent()
        self.names = frozenset(names)
        self.cuts = frozenset(cuts)
        self.dnames = frozenset(dnames)
        """The owners of DNAME records (the answer's walk down from the apex looks only for them and cuts)."""
        self.address_memo: dict[tuple[Name, bool], list[dns.rrset.RRset]] = {}
        """Additional-section addresses already looked up in this version (``fakens.engine``): read-only."""
        apex = self.nodes.get(origin, {})
        soa = apex.get((dns.rdatatype.SOA, _NONE))
        if soa is None or len(soa) == 0:
            raise ZoneError(f"zone {origin}: no SOA record at the apex; add one, e.g. "
                            f"'@ 3600 SOA ns1 hostmaster 1 3600 600 86400 300'")
        self.soa = soa
        self.negative_soa: dns.rrset.RRset | None = None
        """The SOA RRset of negative answers, made once (``fakens.engine.negative_soa``): read-only."""

    @property
    def serial(self) -> int:
        """The SOA serial of this version."""
        return cast(dns.rdtypes.ANY.SOA.SOA, self.soa[0]).serial

    @property
    def soa_rdata(self) -> dns.rdtypes.ANY.SOA.SOA:
        """The SOA record's data."""
        return cast(dns.rdtypes.ANY.SOA.SOA, self.soa[0])

    def negative_ttl(self) -> int:
        """The RFC 2308 negative TTL: min(SOA TTL, SOA minimum)."""
        return min(self.soa.ttl, self.soa_rdata.minimum)

    def get(self, name: Name, rdtype: RdataType, covers: RdataType = _NONE) -> dns.rdataset.Rdataset | None:
        """The RRset of *rdtype* at *name*, or None."""
        node = self.nodes.get(name)
        if node is None:
            return None
        return node.get((rdtype, covers))

    def rrset(self, name: Name, rdtype: RdataType) -> dns.rrset.RRset | None:
        """The RRset of *rdtype* at *name* as an owner-named RRset, or None."""
        rdataset = self.get(name, rdtype)
        if rdataset is None:
            return None
        return to_rrset(name, rdataset)

    def rrsets(self) -> list[dns.rrset.RRset]:
        """Every RRset of the version, the SOA first, in a stable order."""
        out = [to_rrset(self.origin, self.soa)]
        for owner in sorted(self.nodes):
            for key, rdataset in sorted(self.nodes[owner].items()):
                if owner == self.origin and key == (dns.rdatatype.SOA, _NONE):
                    continue
                out.append(to_rrset(owner, rdataset))
        return out

    def records(self) -> set[tuple[Name, int, dns.rdata.Rdata]]:
        """Every record as (owner, ttl, rdata), for comparing versions."""
        return {
            (owner, rdataset.ttl, rdata)
            for owner, node in self.nodes.items()
            for rdataset in node.values()
            for rdata in rdataset
        }

    def __repr__(self) -> str:
        return f"<ZoneVersion {self.origin} #{self.number} serial {self.serial}>"


def to_rrset(name: Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    """An RRset owned by *name* holding *rdataset*'s records and TTL (the
    stored RRset itself when it already has that owner: treat it as read-only)."""
    if isinstance(rdataset, dns.rrset.RRset) and rdataset.name.labels == name.labels:  # same case too
        return rdataset
    rrset = dns.rrset.RRset(name, rdataset.rdclass, rdataset.rdtype, rdataset.covers)
    rrset.update(rdataset)
    return rrset
