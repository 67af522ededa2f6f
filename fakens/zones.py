"""Zones: loading RFC 1035 master files, versions, live edits, serial arithmetic.

A :class:`Zone` holds immutable :class:`ZoneVersion` snapshots. Queries read
``zone.current`` once and use that snapshot to the end, so an edit made while
a query is in flight is seen whole or not at all. Every edit makes a new
version with a ``number`` of its own, whether or not the SOA serial changes
(a stale-serial fault serves new data under an old serial, so a version's
identity cannot be its serial)::

    zone = Zone.from_text('''
    $ORIGIN example.test.
    $TTL 300
    @    SOA ns1 hostmaster 1 3600 600 86400 300
    @    NS  ns1
    ns1  A   192.0.2.1
    ''')
    zone.edit(add=["www 300 A 192.0.2.80"])       # serial 1 -> 2
    zone.edit(remove=["www A"], bump_serial=False) # serial stays 2

Zone data is read by dnspython's tokenizer, directive handling and rdata
parsers, but kept in fakens' own node store, because dnspython's ``Zone``
refuses deliberately broken data (CNAME beside other data, no NS at the apex)
that fakens exists to serve. Such data loads with warnings (see
:mod:`fakens.zonecheck`).
"""

from __future__ import annotations

import inspect
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.tokenizer
import dns.ttl
import dns.zonefile

from fakens.errors import ZoneError

Name = dns.name.Name
RdataType = dns.rdatatype.RdataType
TypeKey = tuple[RdataType, RdataType]
"""The key of an RRset inside a node: (type, covered type)."""
Node = Mapping[TypeKey, dns.rdataset.Rdataset]

ZONE_FILE_SUFFIXES = (".zone", ".db", ".txt")
HISTORY_LIMIT = 100
"""How many versions a zone keeps for IXFR and stale-serial faults."""

_NONE = dns.rdatatype.NONE


def serial_gt(a: int, b: int) -> bool:
    """Is serial *a* newer than serial *b* under RFC 1982 arithmetic (SERIAL_BITS 32)?

    >>> serial_gt(1, 4294967295)
    True
    >>> serial_gt(5, 5)
    False
    """
    return a != b and ((a < b and b - a > 2**31) or (a > b and a - b < 2**31))


def serial_add(serial: int, n: int = 1) -> int:
    """The serial *n* steps after *serial*, wrapping at 2**32 (RFC 1982 addition)."""
    if not 0 <= n <= 2**31 - 1:
        raise ValueError(f"RFC 1982 allows adding 0 .. 2**31-1 to a serial, not {n}")
    return (serial + n) % 2**32


@dataclass(frozen=True)
class Where:
    """A place in a zone file: file name and 1-based line number."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ZoneWarning:
    """Something wrong with zone data that fakens serves anyway."""

    where: Where | None
    code: str
    message: str

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        return f"{place}warning: {self.message} [{self.code}]"


_version_numbers = itertools.count(1)


class ZoneVersion:
    """One immutable snapshot of a zone's data.

    ``nodes`` maps each owner name to its RRsets; names are compared without
    regard to case (dnspython's ``Name`` does that). ``names`` holds every
    name that exists, empty non-terminals included; ``cuts`` the delegation
    points (names below the apex that own NS).
    """

    __slots__ = ("cuts", "names", "nodes", "number", "origin", "rdclass", "record_where", "soa", "where")

    def __init__(
        self,
        origin: Name,
        nodes: Mapping[Name, Node],
        rdclass: dns.rdataclass.RdataClass = dns.rdataclass.IN,
        where: Mapping[tuple[Name, RdataType], Where] | None = None,
        record_where: Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where] | None = None,
    ) -> None:
        self.origin = origin
        self.rdclass = rdclass
        # Each RRset is stored owned by its name, so answers share it without a copy.
        self.nodes: Mapping[Name, Node] = {
            owner: {key: to_rrset(owner, rdataset) for key, rdataset in node.items()} for owner, node in nodes.items()
        }
        self.number = next(_version_numbers)
        self.where: Mapping[tuple[Name, RdataType], Where] = where or {}
        """The place of each RRset's first record in the zone file."""
        self.record_where: Mapping[tuple[Name, RdataType, dns.rdata.Rdata], Where] = record_where or {}
        """The place of each record in the zone file."""
        names: set[Name] = set()
        cuts: set[Name] = set()
        for owner, node in nodes.items():
            if not node:
                continue
            if owner != origin and (dns.rdatatype.NS, _NONE) in node:
                cuts.add(owner)
            name = owner
            while name not in names:
                names.add(name)
                if name == origin or len(name) <= len(origin):
                    break
                name = name.parent()
        self.names = frozenset(names)
        self.cuts = frozenset(cuts)
        apex = self.nodes.get(origin, {})
        soa = apex.get((dns.rdatatype.SOA, _NONE))
        if soa is None or len(soa) == 0:
            raise ZoneError(f"zone {origin}: no SOA record at the apex; add one, e.g. "
                            f"'@ 3600 SOA ns1 hostmaster 1 3600 600 86400 300'")
        self.soa = soa

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


@dataclass
class _Loaded:
    """What the zone-file reader collected: records, first places, warnings."""

    records: list[tuple[Name, int, dns.rdata.Rdata, Where]] = field(default_factory=list)
    warnings: list[ZoneWarning] = field(default_factory=list)


class _IncludeTokenizer(dns.tokenizer.Tokenizer):
    """A tokenizer that makes ``$INCLUDE`` paths relative to the including file."""

    def __init__(self, f: Any, filename: str | None = None) -> None:
        super().__init__(f, filename)
        self._after_include = False

    _newline_read = False

    def get(self, want_leading: bool = False, want_comment: bool = False) -> dns.tokenizer.Token:
        token = super().get(want_leading, want_comment)
        self._newline_read = token.is_eol() and token.value == "\n"
        if self._after_include and token.is_identifier():
            self._after_include = False
            path = token.value
            base = os.path.dirname(self.filename) if self.filename and not self.filename.startswith("<") else ""
            if not os.path.isabs(path):
                path = os.path.join(base, path)
            if not os.path.exists(path):
                raise dns.exception.SyntaxError(f"$INCLUDE file {token.value!r} not found (looked for {path})")
            return dns.tokenizer.Token(token.ttype, path, token.has_escape)
        self._after_include = token.is_identifier() and token.value.upper() == "$INCLUDE"
        return token

    def where(self) -> tuple[str, int]:
        """The place of the last token read. dnspython counts a newline as soon as it
        reads it: the newline that ends a token (kept back for the next one) or an
        end-of-line token would place an error one line too far."""
        filename, line = super().where()
        if self.ungotten_char == "\n" or self._newline_read:
            line -= 1
        return filename, line


class _Collector:
    """The transaction the dnspython reader writes into: it only collects records."""

    def __init__(self, origin: Name | None, rdclass: dns.rdataclass.RdataClass) -> None:
        self.manager = self
        self.origin = origin
        self.rdclass = rdclass
        self.loaded = _Loaded()
        self.reader: _Reader | None = None

    def origin_information(self) -> tuple[Name | None, bool, Name | None]:
        return (self.origin, False, self.origin)

    def check_put_rdataset(self, check: Callable[..., None]) -> None:
        """Ignore dnspython's CNAME-and-other-data check: fakens warns instead."""

    def _set_origin(self, origin: Name) -> None:
        pass

    def add_unicode(self, value: str) -> None:
        pass

    def add(self, name: Name, ttl: int, rdata: dns.rdata.Rdata) -> None:
        assert self.reader is not None
        self.loaded.records.append((name, ttl, rdata, self.reader.record_start()))


class _RecordSyntaxError(Exception):
    """A syntax error in one record, placed at the line where the record starts.

    Not a ``dns.exception.SyntaxError``, so dnspython's reader does not re-place
    it at the tokenizer's position, which is already past the record's end of
    line when the rdata is checked (off by one).
    """

    def __init__(self, where: Where, detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where


class _Reader(dns.zonefile.Reader):
    """dnspython's zone-file reader with ``$INCLUDE`` relative to the including file."""

    _tok: dns.tokenizer.Tokenizer

    @property
    def tok(self) -> dns.tokenizer.Tokenizer:
        return self._tok

    @tok.setter
    def tok(self, value: dns.tokenizer.Tokenizer) -> None:
        if type(value) is dns.tokenizer.Tokenizer:  # opened by $INCLUDE
            value = _IncludeTokenizer(value.file, value.filename)
        self._tok = value

    _start: Where | None = None

    def record_start(self) -> Where:
        """Where the record being read starts (the tokenizer is past it when it is added)."""
        if self._start is None:
            filename, line = self.tok.where()
            return Where(str(filename), line)
        return self._start

    def _rr_line(self) -> None:
        self._start = Where(str(self.tok.where()[0]), self.tok.where()[1])
        try:
            super()._rr_line()
        except dns.exception.SyntaxError as e:
            raise _RecordSyntaxError(self._start, str(e)) from None
        finally:
            self._start = None

    def _generate_line(self) -> None:
        self._start = Where(str(self.tok.where()[0]), self.tok.where()[1])
        try:
            super()._generate_line()  # type: ignore[no-untyped-call]
        except dns.exception.SyntaxError as e:
            raise _RecordSyntaxError(self._start, str(e)) from None
        finally:
            self._start = None


def _origin_from_filename(path: str) -> Name | None:
    """``zones/example.test.zone`` and ``db.example.test`` -> ``example.test.``."""
    base = os.path.basename(path)
    for suffix in ZONE_FILE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    else:
        if base.startswith("db."):
            base = base[3:]
    if base in ("root", "", "."):
        return dns.name.root
    try:
        return dns.name.from_text(base)
    except dns.exception.DNSException:
        return None


def _read(text: str, filename: str, origin: Name | None) -> _Loaded:
    collector = _Collector(dns.name.root, dns.rdataclass.IN)
    tok = _IncludeTokenizer(text, filename)
    reader = _Reader(
        tok,
        dns.rdataclass.IN,
        cast(Any, collector),
        allow_include=True,
    )
    collector.reader = reader
    reader.current_origin = origin
    reader.last_name = origin
    try:
        reader.read()
    except dns.zonefile.UnknownOrigin:
        place = ":".join(str(p) for p in reader.tok.where())
        raise ZoneError(
            f"{place}: relative name but no origin is known; start the file with "
            f"'$ORIGIN example.test.' or give the zone's origin"
        ) from None
    except (dns.exception.SyntaxError, _RecordSyntaxError) as e:
        message = str(e).rstrip(".")
        for known, hint in _SYNTAX_HINTS.items():
            if known in message:
                message += f" ({hint})"
                break
        raise ZoneError(f"{message}; nothing from this zone was loaded") from None
    except OSError as e:
        place = ":".join(str(p) for p in reader.tok.where())
        raise ZoneError(f"{place}: {e}") from None
    return collector.loaded


_SYNTAX_HINTS = {
    "Missing default TTL value": "give the record a TTL, or put '$TTL 3600' before it",
    "Text input is malformed": "the record's data does not fit its type, e.g. an IPv4 address for A, IPv6 for AAAA",
    "expecting an identifier": "the record ends too early: is its data missing?",
    "unknown rdatatype": "not a record type dnspython knows; is the TTL or class misspelled?",
}


def _build(
    loaded: _Loaded, origin: Name | None, source: str
) -> tuple[Name, dict[Name, dict[TypeKey, dns.rdataset.Rdataset]], dict[tuple[Name, RdataType], Where],
           dict[tuple[Name, RdataType, dns.rdata.Rdata], Where], list[ZoneWarning]]:
    warnings = list(loaded.warnings)
    soas = [r for r in loaded.records if r[2].rdtype == dns.rdatatype.SOA]
    if not soas:
        raise ZoneError(f"{source}: no SOA record; a zone needs one at its apex, e.g. "
                        f"'@ 3600 SOA ns1 hostmaster 1 3600 600 86400 300'; nothing was loaded")
    apex = soas[0][0]
    if origin is not None and apex != origin:
        raise ZoneError(f"{soas[0][3]}: the SOA is owned by {apex} but the zone's origin is {origin}; "
                        f"fix the owner name or the origin (a missing trailing dot?)")
    if len({r[0] for r in soas}) > 1:
        second = next(r for r in soas if r[0] != apex)
        raise ZoneError(f"{second[3]}: a second SOA at {second[0]}: a zone file holds one zone "
                        f"(the first SOA, at {soas[0][3]}, makes it {apex})")
    nodes: dict[Name, dict[TypeKey, dns.rdataset.Rdataset]] = {}
    where: dict[tuple[Name, RdataType], Where] = {}
    record_where: dict[tuple[Name, RdataType, dns.rdata.Rdata], Where] = {}
    for name, ttl, rdata, place in loaded.records:
        if not name.is_subdomain(apex):
            warnings.append(ZoneWarning(place, "out-of-zone", f"{name} is outside the zone {apex}; ignored"))
            continue
        node = nodes.setdefault(name, {})
        key = (rdata.rdtype, rdata.covers())
        rdataset = node.get(key)
        if rdataset is None:
            rdataset = node[key] = dns.rdataset.Rdataset(rdata.rdclass, rdata.rdtype, rdata.covers(), ttl)
            where[(name, rdata.rdtype)] = place
        elif rdataset.ttl != ttl:
            warnings.append(ZoneWarning(
                place, "ttl-mismatch",
                f"{name} {dns.rdatatype.to_text(rdata.rdtype)}: TTL {ttl} differs from {rdataset.ttl} "
                f"earlier in the RRset (RFC 2181 5.2); the RRset is served with TTL {min(ttl, rdataset.ttl)}"))
            rdataset.update_ttl(ttl)
        if rdata.rdtype == dns.rdatatype.SOA and len(rdataset) and name == apex:
            warnings.append(ZoneWarning(place, "second-soa", "a second SOA record at the apex; the first is served"))
            continue
        rdataset.add(rdata, ttl)
        record_where.setdefault((name, rdata.rdtype, rdata), place)
    return apex, nodes, where, record_where, warnings


ChangeListener = Callable[["Zone", ZoneVersion, ZoneVersion], None]


class Zone:
    """A zone served by fakens: its current version, its history, its edits.

    Build one with :meth:`from_file`, :meth:`from_text` or :func:`load_zones`.
    """

    def __init__(self, first: ZoneVersion, source: str = "<memory>", warnings: Iterable[ZoneWarning] = ()) -> None:
        self.origin: Name = first.origin
        self.source = source
        self.warnings: list[ZoneWarning] = list(warnings)
        self._current = first
        self._history: list[ZoneVersion] = [first]
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], ChangeListener | None]] = []  # weak for bound methods
        from fakens.zonecheck import check_version

        self.warnings.extend(check_version(first))

    @classmethod
    def from_text(cls, text: str, origin: str | Name | None = None, filename: str = "<text>") -> Zone:
        """Load a zone from master-file text.

        *origin* is needed when the text has relative names before any
        ``$ORIGIN``; the zone's apex is the owner of its SOA.
        """
        origin_name = dns.name.from_text(origin) if isinstance(origin, str) else origin
        loaded = _read(text, filename, origin_name)
        apex, nodes, where, record_where, warnings = _build(loaded, origin_name, filename)
        return cls(ZoneVersion(apex, nodes, where=where, record_where=record_where), filename, warnings)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], origin: str | Name | None = None) -> Zone:
        """Load a zone file. Without *origin*, the file name gives the origin for
        relative names before any ``$ORIGIN`` (``example.test.zone``,
        ``db.example.test``, ``root.zone`` for the root)."""
        path = os.fspath(path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise ZoneError(f"{path}: cannot read the zone file: {e.strerror}") from None
        except UnicodeDecodeError as e:
            with open(path, "rb") as f:
                line = f.read()[: e.start].count(b"\n") + 1
            raise ZoneError(f"{path}:{line}: not UTF-8 text (byte 0x{e.object[e.start]:02x}); "
                            f"save the file as UTF-8 (is it a zone file?)") from None
        origin_name = dns.name.from_text(origin) if isinstance(origin, str) else origin
        guess = origin_name or _origin_from_filename(path)
        loaded = _read(text, path, guess)
        apex, nodes, where, record_where, warnings = _build(loaded, origin_name, path)
        return cls(ZoneVersion(apex, nodes, where=where, record_where=record_where), path, warnings)

    @property
    def current(self) -> ZoneVersion:
        """The version served now."""
        return self._current

    @property
    def serial(self) -> int:
        """The current SOA serial."""
        return self._current.serial

    @property
    def history(self) -> list[ZoneVersion]:
        """The versions kept, oldest first (the last is the current one)."""
        return list(self._history)

    def version_with_serial(self, serial: int) -> ZoneVersion | None:
        """The newest kept version whose SOA serial is *serial*, or None."""
        for version in reversed(self._history):
            if version.serial == serial:
                return version
        return None

    def reset(self) -> ZoneVersion:
        """Serve the version the zone was loaded with again, forgetting every edit
        (a session-scoped server between tests). Listeners are not called."""
        with self._lock:
            first = self._history[0]
            self._history = [first]
            self._current = first
        return first

    def set_baseline(self) -> ZoneVersion:
        """Make the current version the one :meth:`reset` returns to, forgetting the
        history before it (a lab adapts zones, then makes that its starting point)."""
        with self._lock:
            self._history = [self._current]
            return self._current

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener(zone, old, new)`` after every edit (from the editing thread).

        A bound method is held weakly: a server that is gone stops listening by
        itself, so a Zone shared by many short-lived servers does not keep them."""
        if inspect.ismethod(listener):
            self._listeners.append(weakref.WeakMethod(listener))
        else:
            self._listeners.append(lambda: listener)

    def remove_listener(self, listener: ChangeListener) -> None:
        """Stop calling a listener added with :meth:`on_change`."""
        self._listeners = [ref for ref in self._listeners if ref() not in (None, listener)]

    def edit(
        self,
        add: Iterable[str | dns.rrset.RRset] = (),
        remove: Iterable[str] = (),
        replace: Iterable[str | dns.rrset.RRset] = (),
        bump_serial: bool = True,
        serial: int | None = None,
    ) -> ZoneVersion:
        """Change the zone while it is served and return the new version.

        - *add*: records in master-file form relative to the origin
          (``"www 300 A 192.0.2.1"``) or RRsets; added to existing RRsets.
        - *remove*: ``"www"`` (every RRset at the name), ``"www A"`` (one
          RRset) or ``"www A 192.0.2.1"`` (one record).
        - *replace*: records whose (name, type) RRsets replace the existing ones.
        - The serial goes up by one unless *bump_serial* is False, or becomes
          *serial* when given (which may be lower: a deliberate mistake).

        Queries see the old version or the new one, never a mix. Listeners
        (a server's NOTIFY sender) are called after the switch.
        """
        with self._lock:
            old = self._current
            nodes: dict[Name, dict[TypeKey, dns.rdataset.Rdataset]] = {n: dict(node) for n, node in old.nodes.items()}
            for text in remove:
                self._apply_remove(nodes, text)
            replacing: dict[tuple[Name, TypeKey], dns.rdataset.Rdataset] = {}  # (owner, (type, covers))
            for name, rdataset in self._parse_records(replace):  # items of one RRset replace it together
                slot = (name, (rdataset.rdtype, rdataset.covers))
                if slot in replacing:
                    merged = replacing[slot].copy()
                    merged.update(rdataset)
                    rdataset = merged
                replacing[slot] = rdataset
            for (name, type_key), rdataset in replacing.items():
                nodes.setdefault(name, {})[type_key] = rdataset
            for name, rdataset in self._parse_records(add):
                node = nodes.setdefault(name, {})
                key = (rdataset.rdtype, rdataset.covers)
                existing = node.get(key)
                if existing is None:
                    node[key] = rdataset
                else:
                    merged = existing.copy()
                    merged.update(rdataset)
                    node[key] = merged
            apex = nodes.get(self.origin, {})
            soa_set = apex.get((dns.rdatatype.SOA, _NONE))
            if soa_set is None or len(soa_set) == 0:
                raise ZoneError(f"zone {self.origin}: the edit removes the SOA; a zone must keep one")
            soa = cast(dns.rdtypes.ANY.SOA.SOA, soa_set[0])
            new_serial = soa.serial
            if serial is not None:
                new_serial = serial % 2**32
            elif bump_serial and soa.serial == old.serial:
                new_serial = serial_add(old.serial)
            if new_serial != soa.serial:
                new_soa = dns.rdataset.Rdataset(soa_set.rdclass, dns.rdatatype.SOA, ttl=soa_set.ttl)
                new_soa.add(soa.replace(serial=new_serial))
                apex[(dns.rdatatype.SOA, _NONE)] = new_soa
                nodes[self.origin] = apex
            for name in [n for n, node in nodes.items() if not node]:
                del nodes[name]
            new = ZoneVersion(self.origin, nodes, old.rdclass, old.where, old.record_where)
            self._history.append(new)
            del self._history[:-HISTORY_LIMIT]
            self._current = new
            live = [(ref, ref()) for ref in self._listeners]
            self._listeners = [ref for ref, listener in live if listener is not None]
        for _, listener in live:
            if listener is not None:
                listener(self, old, new)
        return new

    def _parse_records(self, items: Iterable[str | dns.rrset.RRset]) -> Iterator[tuple[Name, dns.rdataset.Rdataset]]:
        default_ttl = self._current.soa_rdata.minimum
        for item in items:
            if isinstance(item, dns.rrset.RRset):
                rrsets = [item]
            else:
                try:
                    rrsets = dns.zonefile.read_rrsets(
                        item, origin=self.origin, default_ttl=default_ttl, rdclass=None
                    )
                except dns.exception.DNSException as e:
                    raise ZoneError(f"zone {self.origin}: cannot parse record {item!r}: {e}") from None
                self._check_owners(item)
            for rrset in rrsets:
                if not rrset.name.is_subdomain(self.origin):
                    raise ZoneError(f"zone {self.origin}: {rrset.name} is outside the zone")
                rdataset = dns.rdataset.Rdataset(rrset.rdclass, rrset.rdtype, rrset.covers, rrset.ttl)
                rdataset.update(rrset)
                yield rrset.name, rdataset

    def _check_owners(self, text: str) -> None:
        """Refuse records outside the zone: dnspython's reader drops them silently."""
        for line in text.splitlines():
            if not line[:1].strip() or line.startswith((";", "(", ")", '"')):
                continue  # indented (the previous owner), a comment or a continuation
            try:
                owner = dns.name.from_text(line.split()[0], self.origin)
            except dns.exception.DNSException:
                continue
            if not owner.is_subdomain(self.origin):
                raise ZoneError(f"zone {self.origin}: {owner} is outside the zone")

    def _apply_remove(self, nodes: dict[Name, dict[TypeKey, dns.rdataset.Rdataset]], text: str) -> None:
        parts = text.split(None, 2)
        if not parts:
            raise ZoneError(f"zone {self.origin}: empty removal; write 'NAME', 'NAME TYPE' or 'NAME TYPE RDATA'")
        try:
            name = dns.name.from_text(parts[0], self.origin)
        except dns.exception.DNSException as e:
            raise ZoneError(f"zone {self.origin}: bad name in removal {text!r}: {e}") from None
        node = nodes.get(name)
        if node is None:
            return
        if len(parts) == 1:
            nodes[name] = {k: v for k, v in node.items() if name == self.origin and k[0] == dns.rdatatype.SOA}
            return
        try:
            rdtype = dns.rdatatype.from_text(parts[1])
        except dns.exception.DNSException:
            raise ZoneError(f"zone {self.origin}: unknown type {parts[1]!r} in removal {text!r}") from None
        node = dict(node)
        nodes[name] = node
        if len(parts) == 2:
            node.pop((rdtype, _NONE), None)
            return
        existing = node.get((rdtype, _NONE))
        if existing is None:
            return
        try:
            rdata = dns.rdata.from_text(existing.rdclass, rdtype, parts[2], self.origin, False)
        except dns.exception.DNSException as e:
            raise ZoneError(f"zone {self.origin}: bad record data in removal {text!r}: {e}") from None
        smaller = existing.copy()
        smaller.discard(rdata)
        if len(smaller):
            node[(rdtype, _NONE)] = smaller
        else:
            del node[(rdtype, _NONE)]

    def __repr__(self) -> str:
        return f"<Zone {self.origin} serial {self.serial} from {self.source}>"


def zone_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The zone files in a directory (``*.zone``, ``*.db``, ``db.*``), sorted."""
    paths = []
    for path in sorted(Path(directory).iterdir()):
        if path.is_file() and (path.suffix in (".zone", ".db") or path.name.startswith("db.")):
            paths.append(path)
    return paths


def load_zones(sources: Iterable[str | os.PathLike[str] | Zone]) -> list[Zone]:
    """Zones from files, directories of zone files, zone text or Zone objects.

    A string with a line break in it is zone text (it must set ``$ORIGIN`` or
    use absolute names), any other string a path.

    >>> [z.origin.to_text() for z in load_zones(["zones/example.test.zone"])]
    ['example.test.']
    """
    zones: list[Zone] = []
    for source in sources:
        if isinstance(source, Zone):
            zones.append(source)
        elif isinstance(source, str) and "\n" in source:
            zones.append(Zone.from_text(source))
        elif os.path.isdir(source):
            found = zone_files(source)
            if not found:
                raise ZoneError(f"{os.fspath(source)}: no zone files (*.zone, *.db, db.*) in this directory")
            zones.extend(Zone.from_file(p) for p in found)
        else:
            zones.append(Zone.from_file(source))
    seen: dict[Name, Zone] = {}
    for zone in zones:
        if zone.origin in seen:
            raise ZoneError(f"zone {zone.origin} is loaded twice: from {seen[zone.origin].source} and {zone.source}")
        seen[zone.origin] = zone
    return zones
