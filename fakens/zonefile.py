"""Reading RFC 1035 master files, leniently, through dnspython's reader.

    version, warnings = read_file("zones/example.test.zone")

dnspython's tokenizer, directive handling (``$ORIGIN``, ``$TTL``, ``$INCLUDE``,
``$GENERATE``) and rdata parsers read the text; fakens collects the records
itself, because dnspython's ``Zone`` refuses deliberately broken data (CNAME
beside other data, no NS at the apex) and drops names outside the zone, and
fakens exists to serve such data: it loads with warnings, each with its file:line.
Errors are :class:`~fakens.errors.ZoneError` with file:line; nothing of a
zone with an error is loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.tokenizer
import dns.zonefile

from fakens.errors import ZoneError
from fakens.zonecheck import ZoneWarning
from fakens.zonenames import origin_from_filename
from fakens.zoneversion import Name, RdataType, TypeKey, Where, ZoneVersion

# How fakens uses dnspython's reader, checked against dnspython 2.9.2 (and 2.6.1, the
# oldest version pyproject.toml allows: the same records, places and errors).
#
# dnspython has a public API to read a whole zone (dns.zone.from_text) and to read
# records without directives (dns.zonefile.read_rrsets), but none that keeps each
# record's place, accepts broken zones and resolves $INCLUDE against the including
# file. So fakens drives dns.zonefile.Reader (unprefixed but undocumented) and
# relies on four things it does, each used in one place below:
#
# - it reads tokens only through Tokenizer.get and places its syntax errors with
#   Tokenizer.where (both public): _Tokenizer overrides those two, reading the
#   attributes Tokenizer documents (line_number, ungotten_char, ungotten_token);
# - it opens each $INCLUDE file as ``self.tok = dns.tokenizer.Tokenizer(file, name)``:
#   _Reader.tok swaps in a _Tokenizer;
# - it writes records into a transaction through add / check_put_rdataset /
#   _set_origin / add_unicode and txn.manager.origin_information: _Collector;
# - its current_origin and last_name attributes hold the origin for relative
#   names: set in _read, so the zone origin can stay the root and dnspython keeps
#   names outside the zone (it drops them silently) for fakens to warn about.


class _Tokenizer(dns.tokenizer.Tokenizer):
    """dnspython's tokenizer with two changes.

    - ``$INCLUDE`` paths are relative to the including file (dnspython opens
      them relative to the working directory).
    - :meth:`where` is the line where the current record or directive starts.
      dnspython's reader places its syntax errors with it and the collector
      places records with it, so a multi-line record, or an error found after
      the record's end of line was read, is placed at the record's first line.
    """

    def __init__(self, f: Any, filename: str | None = None) -> None:
        super().__init__(f, filename)
        self._after_include = False
        self._last: dns.tokenizer.Token | None = None
        self._at_new_line = True
        self._line_start: int | None = None
        """The line of the current record's first token; None while that token is read."""

    def get(self, want_leading: bool = False, want_comment: bool = False) -> dns.tokenizer.Token:
        if self._at_new_line and self.ungotten_token is None:
            self._line_start = None
        token = super().get(want_leading, want_comment)
        if token is self._last:  # given back after an unget: already seen
            return token
        if self._line_start is None:
            self._line_start = self._current_line(token)
        self._at_new_line = token.is_eol()
        if self._after_include and token.is_identifier():
            path = token.value
            base = os.path.dirname(self.filename) if self.filename and not self.filename.startswith("<") else ""
            if not os.path.isabs(path):
                path = os.path.join(base, path)
            if not os.path.exists(path):
                raise dns.exception.SyntaxError(f"$INCLUDE file {token.value!r} not found (looked for {path})")
            token = dns.tokenizer.Token(token.ttype, path, token.has_escape)
        self._after_include = token.is_identifier() and token.value.upper() == "$INCLUDE"
        self._last = token
        return token

    def _current_line(self, last: dns.tokenizer.Token | None) -> int:
        """The line of the last token read. dnspython counts a newline as soon as it
        reads it: the newline that ends a token (kept back for the next one) or an
        end-of-line token would place it one line too far."""
        if self.ungotten_char == "\n" or (last is not None and last.is_eol() and last.value == "\n"):
            return self.line_number - 1
        return self.line_number

    def where(self) -> tuple[str, int]:
        """The place where the current record or directive starts (see the class)."""
        line = self._line_start if self._line_start is not None else self._current_line(self._last)
        return str(self.filename), line


class _Reader(dns.zonefile.Reader):
    """dnspython's reader, reading each ``$INCLUDE`` file with a :class:`_Tokenizer` too."""

    _tok: dns.tokenizer.Tokenizer

    @property
    def tok(self) -> dns.tokenizer.Tokenizer:
        return self._tok

    @tok.setter
    def tok(self, value: dns.tokenizer.Tokenizer) -> None:
        if type(value) is dns.tokenizer.Tokenizer:  # opened by $INCLUDE
            value = _Tokenizer(value.file, value.filename)
        self._tok = value


@dataclass
class _Loaded:
    """What the reader collected: records with their places, and warnings."""

    records: list[tuple[Name, int, dns.rdata.Rdata, Where]] = field(default_factory=list)
    warnings: list[ZoneWarning] = field(default_factory=list)


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
        self.loaded.records.append((name, ttl, rdata, Where(*self.reader.tok.where())))


def read_text(text: str, filename: str = "<text>", origin: Name | None = None) -> tuple[ZoneVersion, list[ZoneWarning]]:
    """The zone in master-file *text* and the warnings about how it was read.

    *origin* is needed when the text has relative names before any
    ``$ORIGIN``; the zone's apex is the owner of its SOA (which must be
    *origin* when that is given).
    """
    return _build(_read(text, filename, origin), origin, filename)


def read_file(path: str | os.PathLike[str], origin: Name | None = None) -> tuple[ZoneVersion, list[ZoneWarning]]:
    """The zone in a master file and the warnings about how it was read. Without
    *origin*, the file name gives the origin for relative names before any
    ``$ORIGIN`` (``example.test.zone``, ``db.example.test``, ``root.zone``)."""
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
    return _build(_read(text, path, origin or origin_from_filename(path)), origin, path)


def _read(text: str, filename: str, origin: Name | None) -> _Loaded:
    collector = _Collector(dns.name.root, dns.rdataclass.IN)
    reader = _Reader(_Tokenizer(text, filename), dns.rdataclass.IN, cast(Any, collector), allow_include=True)
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
    except dns.exception.SyntaxError as e:
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


def _build(loaded: _Loaded, origin: Name | None, source: str) -> tuple[ZoneVersion, list[ZoneWarning]]:
    """The version the records make, leniently: records outside the zone, TTLs that
    differ within an RRset and a second SOA are warnings, not errors."""
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
    return ZoneVersion(apex, nodes, where=where, record_where=record_where), warnings
