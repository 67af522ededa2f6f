"""Zones: versions, history and live edits, and loading zones from files.

A :class:`Zone` holds immutable :class:`~fakens.zoneversion.ZoneVersion`
snapshots. Queries read ``zone.current`` once and use that snapshot to the end,
so an edit made while a query is in flight is seen whole or not at all. Every
edit makes a new version with a ``number`` of its own, whether or not the SOA
serial changes (a stale-serial fault serves new data under an old serial, so a
version's identity cannot be its serial)::

    zone = Zone.from_text('''
    $ORIGIN example.test.
    $TTL 300
    @    SOA ns1 hostmaster 1 3600 600 86400 300
    @    NS  ns1
    ns1  A   192.0.2.1
    ''')
    zone.edit(add=["www 300 A 192.0.2.80"])       # serial 1 -> 2
    zone.edit(remove=["www A"], bump_serial=False) # serial stays 2

Loading is :meth:`Zone.from_file`, :meth:`Zone.from_text` and
:func:`load_zones`: the reader (:mod:`fakens.zonefile`) reads the data, the
checks (:mod:`fakens.zonecheck`) add their warnings, and directories are
searched by one naming rule (:mod:`fakens.zonenames`).

The names that used to live here stay importable from this module: ``Name``,
``ZoneVersion``, ``to_rrset``, ``Where`` (:mod:`fakens.zoneversion`),
``ZoneWarning`` (:mod:`fakens.zonecheck`), ``serial_gt``, ``serial_add``
(:mod:`fakens.serial`), ``zone_files``, ``ZONE_FILE_SUFFIXES``
(:mod:`fakens.zonenames`).
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, KeysView, Mapping
from typing import TYPE_CHECKING, cast

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.zonefile

from fakens.errors import ZoneError
from fakens.names import as_fast
from fakens.serial import serial_add, serial_gt
from fakens.zonecheck import ZoneWarning, check_version
from fakens.zonefile import ZoneLimits, data_error, read_file, read_text
from fakens.zonenames import ZONE_FILE_SUFFIXES, no_zone_files, zone_files
from fakens.zoneversion import Name, Node, RdataType, TypeKey, Where, ZoneVersion, compact, to_rrset

if TYPE_CHECKING:
    from fakens.dnssec.signer import ZoneSigner

__all__ = [
    "HISTORY_LIMIT",
    "ZONE_FILE_SUFFIXES",
    "ChangeListener",
    "Name",
    "Node",
    "RdataType",
    "TypeKey",
    "Where",
    "Zone",
    "ZoneLimits",
    "ZoneVersion",
    "ZoneWarning",
    "load_zones",
    "serial_add",
    "serial_gt",
    "to_rrset",
    "zone_files",
]

HISTORY_LIMIT = 100
"""How many versions a zone keeps for IXFR and stale-serial faults."""

_NONE = dns.rdatatype.NONE


ChangeListener = Callable[["Zone", ZoneVersion, ZoneVersion], None]


def _held(listener: ChangeListener) -> Callable[[], ChangeListener | None]:
    """How a zone holds a listener: a bound method weakly (a server that is gone stops
    listening by itself), anything else as it is."""
    if inspect.ismethod(listener):
        return weakref.WeakMethod(listener)
    return lambda: listener


def _live(held: list[Callable[[], ChangeListener | None]]) -> list[ChangeListener]:
    """The listeners of *held* still alive; the dead ones are dropped from it (under the zone's lock)."""
    live = [(ref, ref()) for ref in held]
    held[:] = [ref for ref, listener in live if listener is not None]
    return [listener for _, listener in live if listener is not None]


REMEMBERED_TEXTS = 64
MAX_REMEMBERED_TEXT = 64 * 1024
_READ_TEXTS: OrderedDict[tuple[str, str, tuple[bytes, ...] | None, ZoneLimits | None],
                         tuple[ZoneVersion, list[ZoneWarning]]] = OrderedDict()
_READ_TEXTS_LOCK = threading.Lock()
"""The versions read from the last texts given to :meth:`Zone.from_text` (up to 64 KB, no
``$INCLUDE``): a test suite builds its zones from the same few texts again and again, and a
version is immutable, so each new Zone of the same text starts from the same first version."""


class Zone:
    """A zone served by fakens: its current version, its history, its edits.

    Build one with :meth:`from_file`, :meth:`from_text` or :func:`load_zones`.
    """

    def __init__(self, first: ZoneVersion, source: str = "<memory>", warnings: Iterable[ZoneWarning] = ()) -> None:
        self.origin: Name = first.origin
        self.rdclass: dns.rdataclass.RdataClass = first.rdclass
        """IN, or CH for a zone of CHAOS data (served to CH queries only)."""
        self.source = source
        self.warnings: list[ZoneWarning] = list(warnings)
        self._current = first
        self._history: list[ZoneVersion] = [first]
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], ChangeListener | None]] = []  # weak for bound methods
        self._reset_listeners: list[Callable[[], ChangeListener | None]] = []  # (the same, for reset)
        self.signer: ZoneSigner | None = None
        """The zone's DNSSEC keys and signatures when it is served signed (fakens.dnssec.sign_zone)."""

    @classmethod
    def from_text(cls, text: str, origin: str | Name | None = None, filename: str = "<text>", *,
                  limits: ZoneLimits | None = None) -> Zone:
        """Load a zone from master-file text.

        *origin* is needed when the text has relative names before any
        ``$ORIGIN``; the zone's apex is the owner of its SOA. *limits* bounds
        what the text may make (records, ``$GENERATE``, ``$INCLUDE`` depth;
        docs/zones.md).
        """
        given = _as_name(origin)
        key = None
        if len(text) <= MAX_REMEMBERED_TEXT and "$INCLUDE" not in text.upper():
            key = (text, filename, given.labels if given is not None else None, limits)
            with _READ_TEXTS_LOCK:
                read = _READ_TEXTS.get(key)
                if read is not None:
                    _READ_TEXTS.move_to_end(key)
            if read is not None:
                return cls(read[0], filename, read[1])
        with collector_paused():
            zone = cls._checked(*read_text(text, filename, given, limits), filename)
        if key is not None:
            with _READ_TEXTS_LOCK:
                _READ_TEXTS[key] = (zone.current, list(zone.warnings))
                while len(_READ_TEXTS) > REMEMBERED_TEXTS:
                    _READ_TEXTS.popitem(last=False)
        return zone

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], origin: str | Name | None = None, *,
                  limits: ZoneLimits | None = None) -> Zone:
        """Load a zone file. Without *origin*, the file name gives the origin for
        relative names before any ``$ORIGIN`` (``example.test.zone``,
        ``db.example.test``, ``root.zone`` for the root). *limits*: as for
        :meth:`from_text`."""
        path = os.fspath(path)
        with collector_paused():
            return cls._checked(*read_file(path, _as_name(origin), limits), path)

    @classmethod
    def _checked(cls, version: ZoneVersion, warnings: list[ZoneWarning], source: str) -> Zone:
        """The loaded zone, with the reader's warnings and then the zone checks'."""
        return cls(version, source, [*warnings, *check_version(version)])

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
        (a session-scoped server between tests). The :meth:`on_change` listeners are not
        called (no NOTIFY goes); those of :meth:`on_reset` are, when another version was served."""
        with self._lock:
            first, old = self._history[0], self._current
            self._history = [first]
            self._current = first
            live = _live(self._reset_listeners)
        if old is not first:
            for listener in live:
                listener(self, old, first)
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
        self._listeners.append(_held(listener))

    def on_reset(self, listener: ChangeListener) -> None:
        """Call ``listener(zone, old, loaded)`` after :meth:`reset` puts the version the zone
        was loaded with back in place of another (a server forgets the replies it kept); held
        as :meth:`on_change` holds it."""
        self._reset_listeners.append(_held(listener))

    def remove_listener(self, listener: ChangeListener) -> None:
        """Stop calling a listener added with :meth:`on_change` or :meth:`on_reset`."""
        self._listeners = [ref for ref in self._listeners if ref() not in (None, listener)]
        self._reset_listeners = [ref for ref in self._reset_listeners if ref() not in (None, listener)]

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
            draft = _Draft(old)
            for text in remove:
                self._apply_remove(draft, text)
            replacing: dict[tuple[Name, TypeKey], dns.rdataset.Rdataset] = {}  # (owner, (type, covers))
            for name, rdataset in self._parse_records(replace):  # items of one RRset replace it together
                slot = (name, (rdataset.rdtype, rdataset.covers))
                if slot in replacing:
                    merged = replacing[slot].copy()
                    merged.update(rdataset)
                    rdataset = merged
                replacing[slot] = rdataset
            for (name, type_key), rdataset in replacing.items():
                draft.writable(name)[type_key] = rdataset
            for name, rdataset in self._parse_records(add):
                node = draft.writable(name)
                key = (rdataset.rdtype, rdataset.covers)
                existing = node.get(key)
                if existing is None:
                    node[key] = rdataset
                else:
                    merged = existing.copy()
                    merged.update(rdataset)
                    node[key] = merged
            apex = draft.get(self.origin) or {}
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
                draft.writable(self.origin)[(dns.rdatatype.SOA, _NONE)] = new_soa
            new = ZoneVersion(self.origin, draft.finished(), old.rdclass, old.where, old.record_where, copy=False)
            self._history.append(new)
            del self._history[:-HISTORY_LIMIT]
            self._current = new
            live = _live(self._listeners)
        for listener in live:
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
                    raise ZoneError(f"zone {self.origin}: cannot parse record {item!r}: "
                                    f"{record_error(item, e, self.origin)}") from None
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

    def _apply_remove(self, draft: _Draft, text: str) -> None:
        parts = text.split(None, 2)
        if not parts:
            raise ZoneError(f"zone {self.origin}: empty removal; write 'NAME', 'NAME TYPE' or 'NAME TYPE RDATA'")
        try:
            name = dns.name.from_text(parts[0], self.origin)
        except dns.exception.DNSException as e:
            raise ZoneError(f"zone {self.origin}: bad name in removal {text!r}: {e}") from None
        if draft.get(name) is None:
            return
        if len(parts) == 1:
            node = draft.writable(name)
            for key in [k for k in node if name != self.origin or k[0] != dns.rdatatype.SOA]:
                del node[key]
            return
        try:
            rdtype = dns.rdatatype.from_text(parts[1])
        except dns.exception.DNSException:
            raise ZoneError(f"zone {self.origin}: unknown type {parts[1]!r} in removal {text!r}") from None
        node = draft.writable(name)
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


class _Draft:
    """The next version's nodes while an edit makes them: the old version's nodes, shared (a
    version is immutable), except the ones the edit changes, copied when first changed. A
    kept version then costs its dict of names, not a copy of every node (184 -> 61 bytes a
    record of a 100k-record zone; an edit 420 -> 62 ms).

        draft = _Draft(old)
        draft.writable(name)[(rdtype, covers)] = rdataset
        ZoneVersion(origin, draft.finished(), copy=False)
    """

    def __init__(self, old: ZoneVersion) -> None:
        self.nodes: dict[Name, Node] = dict(old.nodes)
        self.changed: dict[Name, dict[TypeKey, dns.rdataset.Rdataset]] = {}
        # a version's names are its nodes' keys unless it has empty nodes or empty non-terminals
        self.old_may_have_empty = not isinstance(old.names, KeysView)

    def get(self, name: Name) -> Mapping[TypeKey, dns.rdataset.Rdataset] | None:
        """The node at *name* as the edit has it so far (read-only), None when there is none."""
        node = self.changed.get(name)
        return node if node is not None else self.nodes.get(name)

    def writable(self, name: Name) -> dict[TypeKey, dns.rdataset.Rdataset]:
        """The node at *name*, this edit's own copy (made empty when there was none)."""
        node = self.changed.get(name)
        if node is None:
            stored = self.nodes.get(name)
            if stored:  # an edit writing the name in another case: the zone's spelling stays
                name = cast(dns.rrset.RRset, next(iter(stored.values()))).name  # (stored RRsets are owned)
            node = self.changed[name] = dict(stored or {})
        return node

    def finished(self) -> dict[Name, Node]:
        """The new version's nodes: each changed one's RRsets owned by its name, empty ones gone
        (the old version's too, when it may have some)."""
        nodes = self.nodes
        for name, node in self.changed.items():
            if node:
                nodes[name] = compact({key: to_rrset(name, rdataset) for key, rdataset in node.items()})
            else:
                nodes.pop(name, None)
        if self.old_may_have_empty:
            for name in [owner for owner, node in nodes.items() if not node]:
                del nodes[name]
        return nodes


def record_error(text: str, e: BaseException, origin: Name) -> str:
    """What is wrong with one record line an edit gives, as the zone reader says it
    (``the A record's data does not parse: ... A data is an IPv4 address, e.g. 192.0.2.1``)."""
    for word in text.split()[1:4]:
        try:
            rdtype = dns.rdatatype.from_text(word)
        except dns.rdatatype.UnknownRdatatype:
            continue
        if word.upper() not in ("IN", "CH", "HS", "CS") and not word.isdigit():
            return data_error(rdtype, e, origin)
    return str(e)


_FREEZE_ABOVE = 500_000
"""Objects a load makes (the collector's count) above which they are frozen (``gc.freeze``):
moved where the collector does not look, as its first full pass over a big zone would take
seconds and find nothing to free."""


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a zone is loaded: a load makes millions of
    objects that all live on, and the collector's passes over them cost a third of a 1M-record
    load (zone data holds no cycles to collect). Turned back on after, if it was on; the objects of a
    big zone are frozen first (see _FREEZE_ABOVE).

        with collector_paused():
            zone = Zone.from_file("big.zone")
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] > _FREEZE_ABOVE:  # a big zone: never walked by the collector at all
            gc.freeze()
            _release_free_memory()
        if was:
            gc.enable()


def _release_free_memory() -> None:
    """Give the memory the C library holds free back to the system (glibc's ``malloc_trim``;
    nothing where there is none). A big zone's load frees its transient columns and sets in
    the middle of the heap, which glibc keeps mapped otherwise: 8 MiB of a 100k-record zone."""
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def _as_name(origin: str | Name | None) -> Name | None:
    return as_fast(dns.name.from_text(origin)) if isinstance(origin, str) else origin


def load_zones(sources: Iterable[str | os.PathLike[str] | Zone], *, limits: ZoneLimits | None = None) -> list[Zone]:
    """Zones from files, directories of zone files, zone text or Zone objects.

    A string with a line break in it is zone text (it must set ``$ORIGIN`` or
    use absolute names), any other string a path. *limits* applies to each
    zone read (not to Zone objects, already loaded).

    >>> [z.origin.to_text() for z in load_zones(["zones/example.test.zone"])]
    ['example.test.']
    """
    zones: list[Zone] = []
    for source in sources:
        if isinstance(source, Zone):
            zones.append(source)
        elif isinstance(source, str) and "\n" in source:
            zones.append(Zone.from_text(source, limits=limits))
        elif os.path.isdir(source):
            found = zone_files(source)
            if not found:
                raise ZoneError(no_zone_files(source))
            zones.extend(Zone.from_file(p, limits=limits) for p in found)
        else:
            zones.append(Zone.from_file(source, limits=limits))
    seen: dict[tuple[Name, int], Zone] = {}  # a CH zone may share its origin with an IN zone
    for zone in zones:
        key = (zone.origin, zone.rdclass)
        if key in seen:
            raise ZoneError(f"zone {zone.origin} is loaded twice: from {seen[key].source} and {zone.source}")
        seen[key] = zone
    return zones
