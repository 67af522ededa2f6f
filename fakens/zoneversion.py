"""One immutable snapshot of a zone's data, and the types zone data is made of.

A :class:`ZoneVersion` is what a query reads: ``zone.current`` once, then that
snapshot to the end (see :mod:`fakens.zones` for the Zone that makes them).
"""

from __future__ import annotations

import array
import copy
import itertools
import types
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import cast

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.set

from fakens.errors import ZoneError
from fakens.names import as_fast

Name = dns.name.Name
RdataType = dns.rdatatype.RdataType
TypeKey = tuple[RdataType, RdataType]
"""The key of an RRset inside a node: (type, covered type)."""
Node = Mapping[TypeKey, dns.rdataset.Rdataset]

_NONE = dns.rdatatype.NONE


class OneRRset(Mapping[TypeKey, dns.rdataset.Rdataset]):
    """A node holding one RRset, as most names of a big zone do: a read-only mapping of 48
    bytes where a dict of one item takes 224::

        node = OneRRset((dns.rdatatype.A, dns.rdatatype.NONE), rrset)
        node.get((dns.rdatatype.A, dns.rdatatype.NONE)) is rrset      # True
        dict(node)                                                      # a dict to edit
    """

    __slots__ = ("key", "rrset")

    def __init__(self, key: TypeKey, rrset: dns.rdataset.Rdataset) -> None:
        self.key = key
        self.rrset = rrset

    def __getitem__(self, key: TypeKey) -> dns.rdataset.Rdataset:
        if key == self.key:
            return self.rrset
        raise KeyError(key)

    def get(self, key: TypeKey, default: object = None) -> dns.rdataset.Rdataset | None:  # type: ignore[override]
        return self.rrset if key == self.key else default  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        return key == self.key

    def __iter__(self) -> Iterator[TypeKey]:
        return iter((self.key,))

    def __len__(self) -> int:
        return 1

    def __bool__(self) -> bool:
        return True

    # (a tuple, not a view: a zone's nodes are walked in full often, and a view's iterator
    # would look each RRset up again)
    def items(self) -> tuple[tuple[TypeKey, dns.rdataset.Rdataset]]:  # type: ignore[override]
        return ((self.key, self.rrset),)

    def values(self) -> tuple[dns.rdataset.Rdataset]:  # type: ignore[override]
        return (self.rrset,)

    def __repr__(self) -> str:
        return f"OneRRset({{{self.key!r}: {self.rrset!r}}})"


_READ_ONLY = "an RRset stored in a zone version is read-only: copy it (copy.copy) to change it"


class OneRdata:
    """The records of a :class:`SoleRRset` as dnspython's ``Set.items`` (a dict of the
    records, to None) but read-only: what ``rrset.items`` gives, made when asked for::

        rrset.items == {rdata: None}; list(rrset.items) == [rdata]; rdata in rrset.items
        rrset.items[other] = None        # TypeError: a stored RRset is read-only

    It holds what dnspython's Set asks of its items: iteration, ``len``, ``in``, ``keys``
    and lookup (``dict.update`` copies it), and equality with a dict of the same record.
    """

    __slots__ = ("rdata",)

    def __init__(self, rdata: dns.rdata.Rdata) -> None:
        self.rdata = rdata

    def __iter__(self) -> Iterator[dns.rdata.Rdata]:
        return iter((self.rdata,))

    def __len__(self) -> int:
        return 1

    def __contains__(self, item: object) -> bool:
        return bool(item == self.rdata)

    def keys(self) -> tuple[dns.rdata.Rdata]:
        return (self.rdata,)

    def __getitem__(self, item: dns.rdata.Rdata) -> None:
        if item == self.rdata:
            return None
        raise KeyError(item)

    def get(self, item: dns.rdata.Rdata, default: object = None) -> object:
        return None if item == self.rdata else default

    def copy(self) -> dict[dns.rdata.Rdata, None]:
        return {self.rdata: None}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, OneRdata):
            return bool(self.rdata == other.rdata)
        if isinstance(other, Mapping):  # (a dict, or a dns.versioned zone's records: dns.immutable.Dict)
            return len(other) == 1 and self.rdata in other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # (as a dict's: not hashable)

    def _read_only(self, *args: object) -> None:
        raise TypeError(_READ_ONLY)

    __setitem__ = __delitem__ = pop = popitem = clear = update = setdefault = _read_only

    def __repr__(self) -> str:
        return f"OneRdata({self.rdata!r})"


_RECORDS_SLOT = cast(types.MemberDescriptorType, vars(dns.set.Set)["items"])
"""The slot where dnspython's Set keeps its dict of records: a SoleRRset keeps its one record there."""


class SoleRRset(dns.rrset.RRset):
    """An RRset of one record as a zone version keeps it: the record in the slot where
    dnspython keeps the dict of an RRset's records, so it takes no more than the RRset's
    88 bytes (a dict of one takes 224, a :class:`OneRdata` 48). The zone file reader makes
    one of each RRset it leaves with one record (most RRsets of a big zone)::

        rrset = sole_rrset(name, dns.rdataclass.IN, dns.rdatatype.A, dns.rdatatype.NONE, 300, rdata)
        list(rrset) == [rdata]; rrset[0] is rdata; rdata in rrset; len(rrset) == 1   # as an RRset
        rrset.items == {rdata: None}     # a read-only OneRdata, made when asked for
        copy.copy(rrset).add(other)      # a copy (a deep one too) is a plain RRset, its items a dict
        rrset.add(other)                 # TypeError: a stored RRset is read-only

    It is an ``isinstance`` of dnspython's RRset and reads, compares, copies, pickles and
    writes as one; only ``type(rrset)`` differs.
    """

    __slots__ = ()
    _clone_class = dns.rrset.RRset  # (dnspython's Set makes copies of this class: editable)

    @property  # type: ignore[override]
    def items(self) -> OneRdata:
        """The record as dnspython's ``Set.items`` (read-only)."""
        return OneRdata(_RECORDS_SLOT.__get__(self))

    @items.setter
    def items(self, records: object) -> None:  # (unpickled, or made by SoleRRset(...))
        if type(records) is OneRdata:
            _RECORDS_SLOT.__set__(self, records.rdata)
            return
        try:
            _RECORDS_SLOT.__get__(self)
        except AttributeError:  # being made (dnspython's Set.__init__ sets a dict): a plain RRset
            self.__class__ = dns.rrset.RRset  # type: ignore[assignment]
            _RECORDS_SLOT.__set__(self, records)
            return
        raise TypeError(_READ_ONLY)

    def update_ttl(self, ttl: int) -> None:
        """dnspython's: a lower TTL is taken (``add`` and ``update`` ask first); refused here,
        before anything is changed."""
        if ttl < self.ttl:
            raise TypeError(_READ_ONLY)

    def __deepcopy__(self, memo: dict[int, object]) -> dns.rrset.RRset:
        """A deep copy is made to be changed: a plain RRset, as ``copy.copy`` gives."""
        copied = dns.rrset.RRset(copy.deepcopy(self.name, memo), self.rdclass, self.rdtype, self.covers,
                                 copy.deepcopy(self.deleting, memo))
        copied.update_ttl(self.ttl)
        copied.add(copy.deepcopy(_RECORDS_SLOT.__get__(self), memo))
        return copied

    def __iter__(self) -> Iterator[dns.rdata.Rdata]:
        return iter((_RECORDS_SLOT.__get__(self),))

    def __len__(self) -> int:
        return 1

    def __contains__(self, item: object) -> bool:
        return bool(item == _RECORDS_SLOT.__get__(self))

    def __getitem__(self, i: int | slice) -> dns.rdata.Rdata | list[dns.rdata.Rdata]:
        if isinstance(i, slice):
            return [_RECORDS_SLOT.__get__(self)][i]
        if i in (0, -1):
            return cast(dns.rdata.Rdata, _RECORDS_SLOT.__get__(self))
        raise IndexError


def sole_rrset(name: Name, rdclass: dns.rdataclass.RdataClass, rdtype: RdataType, covers: RdataType,
               ttl: int, rdata: dns.rdata.Rdata) -> SoleRRset:
    """``RRset(name, rdclass, rdtype, covers)`` with TTL *ttl* and its one record *rdata*, made
    without dnspython's conversions of values already of their types (tests/zones/test_fast_lines.py
    compares the two) and without hashing the record."""
    rrset: SoleRRset = object.__new__(SoleRRset)
    _RECORDS_SLOT.__set__(rrset, rdata)
    rrset.rdclass = rdclass
    rrset.rdtype = rdtype
    rrset.covers = covers
    rrset.ttl = ttl
    rrset.name = name
    rrset.deleting = None
    return rrset


def one_rdata_items(rrset: dns.rdataset.Rdataset) -> None:
    """Make *rrset* a :class:`SoleRRset` when it is a plain RRset of one record."""
    if type(rrset) is dns.rrset.RRset:
        items = _RECORDS_SLOT.__get__(rrset)
        if type(items) is dict and len(items) == 1:
            for rdata in items:
                rrset.__class__ = SoleRRset
                _RECORDS_SLOT.__set__(rrset, rdata)


def editable_items(rrset: dns.rdataset.Rdataset) -> None:
    """Make a :class:`SoleRRset` a plain RRset again, its records a dict (undoes
    :func:`one_rdata_items`), so it can take more."""
    if type(rrset) is SoleRRset:
        rdata = _RECORDS_SLOT.__get__(rrset)
        rrset.__class__ = dns.rrset.RRset  # type: ignore[assignment]
        rrset.items = {rdata: None}


def compact(node: Mapping[TypeKey, dns.rdataset.Rdataset]) -> Node:
    """*node* as it is kept: a :class:`OneRRset` when it holds one RRset, else as given."""
    if len(node) == 1 and not isinstance(node, OneRRset):
        for key, rrset in node.items():
            return OneRRset(key, rrset)
    return node


@dataclass(frozen=True, slots=True)
class Where:
    """A place in a zone file: file name and 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


Place = Where | int
"""Where a record is written: a Where, or a line of the zone's own file (see RecordPlaces)."""


def place_number(place: Place, wheres: list[Where]) -> int:
    """*place* as one number, the way place columns keep them: a line of the zone's own file
    as it is, a Where as ``-1 - j`` for ``wheres[j]`` (appended to *wheres* here)."""
    if isinstance(place, int):
        return place
    wheres.append(place)
    return -len(wheres)


class RecordPlaces(Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where]):
    """The place of each record in the zone file, by (owner, type, rdata).

        places = RecordPlaces("zones/x.zone")
        i = places.new_rrset(name, rdtype, rdata, 12)   # a line of zones/x.zone, or a Where
        places.add_to(i, other_rdata, Where("zones/hosts.inc", 3))
        places[(name, rdtype, other_rdata)]             # Where("zones/hosts.inc", 3)

    Kept per RRset, in file order, as the RRset's first record and the places of the
    others, so loading a zone hashes neither records nor names: the index by
    (owner, type) is made at the first lookup. ``first`` is the place of each RRset's
    first record, by (owner, type).
    """

    __slots__ = ("_index", "_lines", "_more", "_names", "_rdatas", "_scans", "_source", "_types", "_wheres", "first")

    def __init__(self, source: str = "<zone>") -> None:
        self._source = source
        # each RRset's first record as four columns (20 bytes a record, not a tuple and an int)
        self._names: list[Name] = []
        self._types = array.array("H")
        """The types as numbers (RdataType when read)."""
        self._rdatas: list[dns.rdata.Rdata] = []
        self._lines = array.array("i")
        """The line in *source*, or -1 - i for ``_wheres[i]`` (a record of an included file); 8 bytes
        an item past 2**31 lines."""
        self._wheres: list[Where] = []
        self._more: dict[int, list[tuple[dns.rdata.Rdata, Place]]] = {}
        self._index: dict[tuple[tuple[bytes, ...], int], list[int]] | None = None
        """RRset numbers by (owner's labels in lower case, type number): a tuple of bytes hashes fast, a Name does
        not. Made once lookups are many: the first ones scan (a zone of 100,000 names that warns about its
        apex is not indexed for it)."""
        self._scans = 0
        self.first: Mapping[tuple[Name, RdataType], Where] = _FirstPlaces(self)

    def new_rrset(self, name: Name, rdtype: RdataType, rdata: dns.rdata.Rdata, where: Place) -> int:
        """Record where the first record of a new RRset is written; the RRset's number for :meth:`add_to`."""
        self._names.append(name)
        self._types.append(rdtype)
        self._rdatas.append(rdata)
        line = place_number(where, self._wheres)
        try:
            self._lines.append(line)
        except OverflowError:
            self._lines = array.array("q", self._lines)
            self._lines.append(line)
        self._index = None
        return len(self._names) - 1

    def set_firsts(self, names: list[Name], types: array.array[int], rdatas: list[dns.rdata.Rdata],
                   lines: array.array[int], wheres: list[Where]) -> None:
        """Take the first records of RRsets as columns (what :meth:`new_rrset` would have made
        of them, in order: RRset *i* is index *i*; ``types`` an array of "H"; ``lines[i]`` is a
        line of the source, or ``-1 - j`` for ``wheres[j]``), in place of any recorded so far (a
        zone's loader). *lines* is kept as 4-byte items when they fit (a copy: the caller's is freed)."""
        if lines.typecode != "i":
            try:
                lines = array.array("i", lines)
            except OverflowError:  # (past 2**31 lines: kept as given)
                pass
        self._names, self._types, self._rdatas, self._lines, self._wheres = names, types, rdatas, lines, wheres
        self._index = None

    def add_to(self, rrset: int, rdata: dns.rdata.Rdata, where: Place) -> None:
        """Record where one more record of RRset number *rrset* is written."""
        found = self._more.get(rrset)
        if found is None:
            self._more[rrset] = [(rdata, where)]
        else:
            found.append((rdata, where))

    def firsts(self) -> Iterator[tuple[Name, RdataType, dns.rdata.Rdata]]:
        """Each RRset's first record, by RRset number."""
        return zip(self._names, map(_RDATA_TYPE, self._types), self._rdatas, strict=True)

    def add(self, name: Name, rdtype: RdataType, rdata: dns.rdata.Rdata, where: Where) -> None:
        """Record where one record (not yet added) is written."""
        found = self._numbers((name, rdtype))
        if not found:
            self.new_rrset(name, rdtype, rdata, where)
        else:
            self.add_to(found[0], rdata, where)

    def _lookup(self) -> dict[tuple[tuple[bytes, ...], int], list[int]]:
        if self._index is None:
            index: dict[tuple[tuple[bytes, ...], int], list[int]] = {}
            for i, (name, rdtype) in enumerate(zip(self._names, self._types, strict=True)):
                index.setdefault((_lowered(name), rdtype), []).append(i)
            self._index = index
        return self._index

    def _line(self, i: int) -> Place:
        line = self._lines[i]
        return line if line >= 0 else self._wheres[-1 - line]

    def _where(self, place: Place) -> Where:
        return Where(self._source, place) if isinstance(place, int) else place

    def _numbers(self, key: tuple[Name, RdataType]) -> list[int]:
        """The numbers of the RRsets of (owner, type), in file order."""
        if self._index is None and self._scans < _SCANS:
            self._scans += 1
            name, rdtype = key
            names = self._names
            return [i for i, held in enumerate(self._types) if held == rdtype and names[i] == name]
        return self._lookup().get((_lowered(key[0]), key[1]), [])

    def _held(self, key: tuple[Name, RdataType]) -> Iterator[tuple[dns.rdata.Rdata, Place]]:
        """The records of (owner, type) with their places, in file order."""
        for i in self._numbers(key):
            yield self._rdatas[i], self._line(i)
            yield from self._more.get(i, ())

    def first_place(self, key: tuple[Name, RdataType]) -> Where:
        found = self._numbers(key)
        if not found:
            raise KeyError(key)
        return self._where(self._line(found[0]))

    def __getitem__(self, key: tuple[Name, RdataType, dns.rdata.Rdata]) -> Where:
        name, rdtype, rdata = key
        for held, where in self._held((name, rdtype)):
            if held == rdata:
                return self._where(where)
        raise KeyError(key)

    def keys_first(self) -> Iterator[tuple[Name, RdataType]]:
        """Each (owner, type) once, as first written."""
        for found in self._lookup().values():
            yield self._names[found[0]], _RDATA_TYPE(self._types[found[0]])

    def __iter__(self) -> Iterator[tuple[Name, RdataType, dns.rdata.Rdata]]:
        for name, rdtype in self.keys_first():
            for rdata, _ in self._held((name, rdtype)):
                yield name, rdtype, rdata

    def __len__(self) -> int:
        return len(self._names) + sum(len(held) for held in self._more.values())


_SCANS = 16
"""Lookups a RecordPlaces answers by scanning before it makes its index."""
_RDATA_TYPE = dns.rdatatype.RdataType


def _lowered(name: Name) -> tuple[bytes, ...]:
    return tuple([label.lower() for label in name.labels])


class _FirstPlaces(Mapping[tuple[Name, RdataType], Where]):
    def __init__(self, places: RecordPlaces) -> None:
        self._places = places

    def __getitem__(self, key: tuple[Name, RdataType]) -> Where:
        return self._places.first_place(key)

    def __iter__(self) -> Iterator[tuple[Name, RdataType]]:
        return self._places.keys_first()

    def __len__(self) -> int:
        return len(self._places._lookup())

    def __bool__(self) -> bool:
        return bool(self._places)


_version_numbers = itertools.count(1)


class ZoneVersion:
    """One immutable snapshot of a zone's data.

    ``nodes`` maps each owner name to its RRsets; names are compared without
    regard to case (dnspython's ``Name`` does that). ``names`` holds every
    name that exists, empty non-terminals included; ``cuts`` the delegation
    points (names below the apex that own NS).
    """

    __slots__ = ("additional_memo", "address_memo", "cuts", "dnames", "names", "negative_soa", "nodes", "number", "origin", "rdclass",
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
        self.origin: Name = as_fast(origin)  # looked up with every answer: its hash kept
        self.rdclass = rdclass
        # Each RRset is stored owned by its name, so answers share it without a copy.
        if copy:
            nodes = {owner: compact({key: to_rrset(owner, rdataset) for key, rdataset in node.items()})
                     for owner, node in nodes.items()}
        else:  # (a dict of the caller's making: its one-RRset nodes made compact in place)
            held = cast(dict[Name, Node], nodes)
            for owner, node in held.items():
                if len(node) == 1 and type(node) is dict:
                    for key, rrset in node.items():
                        held[owner] = OneRRset(key, rrset)
        self.nodes: Mapping[Name, Node] = nodes
        self.number = next(_version_numbers)
        self.where: Mapping[tuple[Name, RdataType], Where] = where or {}
        """The place of each RRset's first record in the zone file."""
        self.record_where: Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where] = record_where or {}
        """The place of each record in the zone file."""
        names: set[Name] = set(self.nodes)  # a set made of a dict's keys takes their hashes: no name is hashed again
        names.difference_update([owner for owner, node in nodes.items() if not node])
        names.add(origin)
        cuts: set[Name] = set()
        dnames: set[Name] = set()
        top = len(origin.labels)
        below = top + 1
        ns, dname = (dns.rdatatype.NS, _NONE), (dns.rdatatype.DNAME, _NONE)
        for owner, node in nodes.items():
            if not node:
                continue
            if dname in node:
                dnames.add(owner)
            depth = len(owner.labels)
            if depth == below:  # the parent is the origin (most names): no walk up
                if ns in node:
                    cuts.add(owner)
                continue
            if ns in node and (depth != below - 1 or owner != origin):
                cuts.add(owner)
            if depth <= top or owner == origin:
                continue
            name = owner.parent()  # each owner is in names: its ancestors up to the origin join it
            while name not in names:
                names.add(name)
                if name == origin or len(name) <= len(origin):
                    break
                name = name.parent()
        # every name that exists: the nodes' names when they are all (no empty node, no empty
        # non-terminal: most big zones), kept as a view of the dict's keys rather than a table
        # of their own
        self.names: AbstractSet[Name] = (
            self.nodes.keys() if len(names) == len(self.nodes) and all(self.nodes.values()) else frozenset(names))
        self.cuts = frozenset(cuts)
        self.dnames = frozenset(dnames)
        """The owners of DNAME records (the answer's walk down from the apex looks only for them and cuts)."""
        self.address_memo: dict[tuple[Name, bool], list[dns.rrset.RRset]] = {}
        self.additional_memo: dict[tuple[int, ...], tuple[tuple[dns.rrset.RRset, ...], list[dns.rrset.RRset]]] = {}
        """The additional addresses for RRsets of this version naming hosts (by their ids; the
        RRsets kept with them, so that no id is reused while remembered)."""
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

    def records(self, owners: Iterable[Name] | None = None) -> set[tuple[Name, int, dns.rdata.Rdata]]:
        """Every record as (owner, ttl, rdata), for comparing versions; only those at *owners* when given."""
        nodes = self.nodes
        if owners is None:
            return {(owner, rdataset.ttl, rdata) for owner, node in nodes.items()
                    for rdataset in node.values() for rdata in rdataset}
        return {(owner, rdataset.ttl, rdata) for owner in owners
                for rdataset in nodes.get(owner, {}).values() for rdata in rdataset}

    def owners_changed_since(self, old: ZoneVersion) -> set[Name]:
        """The owners whose records may differ between *old* and this version (every one with
        records that differ, and maybe more). An edit shares the nodes it leaves alone, in the
        same order, so one walk over both finds the others by identity without hashing a name
        (a 100k-record zone: about 15 ms, where comparing every record takes 700)::

            owners = new.owners_changed_since(old)
            deleted = old.records(owners) - new.records(owners)
        """
        new_nodes, old_keys, old_nodes = self.nodes, list(old.nodes), list(old.nodes.values())
        changed: list[Name] = []
        i, count = 0, len(old_keys)
        for owner, node in new_nodes.items():
            while i < count and old_keys[i] is not owner and old_keys[i] not in new_nodes:
                changed.append(old_keys[i])  # removed
                i += 1
            if i < count and old_keys[i] is owner:
                if old_nodes[i] is not node:
                    changed.append(owner)
                i += 1
            else:
                changed.append(owner)  # added, or out of the old order: compared
        changed.extend(old_keys[i:])
        return set(changed)

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
