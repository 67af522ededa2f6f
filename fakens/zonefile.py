"""Reading RFC 1035 master files as the servers people run read them.

    version, warnings = read_file("zones/example.test.zone")
    version, warnings = read_text(text, origin=name, limits=ZoneLimits(max_records=1000))

fakens reads the directives (``$ORIGIN``, ``$TTL``, ``$INCLUDE``, ``$GENERATE``)
and the record lines itself, and lets dnspython do the rest: its tokenizer
splits the text into tokens, its parsers read each record's data. Owning the
loop lets fakens follow BIND where dnspython does otherwise (how a TTL is
inherited, ``$TTL`` carried past ``$INCLUDE``, ``$GENERATE`` forms), bound what
a file can make it do (``$INCLUDE`` depth and loops, record caps), place every
record and every error at its file:line, and keep the data real servers serve
although it is wrong: records outside the zone, CNAME beside other data, no NS
at the apex, and records dnspython's parsers refuse but a widely used server
accepts (:data:`LENIENT_FORMS`), each loaded with a warning.

Every error is a :class:`~fakens.errors.ZoneError` with file:line and a hint
(no dnspython exception escapes), and a zone with an error loads nothing.
docs/zones.md describes the rules; this module is their implementation.
"""

from __future__ import annotations

import array
import io
import os
import re
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, cast

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.HINFO
import dns.rdtypes.txtbase
import dns.renderer
import dns.rrset
import dns.tokenizer
import dns.ttl

from fakens.errors import ConfigError, ZoneError
from fakens.names import FastName, as_fast, forget_hash
from fakens.zonecheck import ZoneWarning
from fakens.zonelines import forget, plain_record
from fakens.zonenames import origin_from_filename
from fakens.zoneversion import (
    Name,
    OneRRset,
    RdataType,
    RecordPlaces,
    TypeKey,
    Where,
    ZoneVersion,
    editable_items,
    one_rdata_items,
    place_number,
    sole_rrset,
)

__all__ = [
    "DEFAULT_MAX_GENERATE",
    "DEFAULT_MAX_INCLUDE_DEPTH",
    "DEFAULT_MAX_RECORDS",
    "LENIENT_FORMS",
    "LENIENT_TABLE",
    "MAX_MESSAGE",
    "MAX_TTL",
    "LenientCase",
    "LenientForm",
    "ZoneLimits",
    "read_file",
    "read_text",
]

DEFAULT_MAX_RECORDS = 10_000_000
"""Records one zone may hold (every record read counts, duplicates too)."""
DEFAULT_MAX_GENERATE = 10_000_000
"""Records one ``$GENERATE`` may make."""
DEFAULT_MAX_INCLUDE_DEPTH = 20
"""How deep ``$INCLUDE`` files may nest (NSD stops at 10, CoreDNS at 7, BIND has no limit)."""
MAX_TTL = 2**31 - 1
"""The largest TTL (RFC 2181 8); BIND serves a larger one as 0, and so does fakens."""
MAX_MESSAGE = 65535
"""The largest DNS message (a TCP message's length is 16 bits, RFC 1035 4.2.2)."""
_MAX_GENERATE_VALUE = 2**31 - 1  # BIND refuses larger $GENERATE bounds and steps
_MAX_GENERATE_WIDTH = 127  # BIND formats a substitution into 128 bytes


@dataclass(frozen=True)
class ZoneLimits:
    """What one zone file may make fakens do; the defaults keep benchmark-sized zones in.

    ``Zone.from_file(path, limits=ZoneLimits(max_records=50_000_000))``,
    ``fakens serve --max-records N --max-generate N``.
    """

    max_records: int = DEFAULT_MAX_RECORDS
    """Records one zone may hold."""
    max_generate: int = DEFAULT_MAX_GENERATE
    """Records one ``$GENERATE`` may make."""
    max_include_depth: int = DEFAULT_MAX_INCLUDE_DEPTH
    """``$INCLUDE`` files nested in one another (the zone file itself is depth 0)."""

    def __post_init__(self) -> None:
        for name in ("max_records", "max_generate", "max_include_depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (0 if name == "max_include_depth" else 1):
                raise ConfigError(f"ZoneLimits {name}={value!r}: must be a whole number, at least "
                                  f"{0 if name == 'max_include_depth' else 1}")


def read_text(text: str, filename: str = "<text>", origin: Name | None = None,
              limits: ZoneLimits | None = None) -> tuple[ZoneVersion, list[ZoneWarning]]:
    """The zone in master-file *text* and the warnings about how it was read.

    *origin* is needed when the text has relative names before any
    ``$ORIGIN``; the zone's apex is the owner of its SOA (a warning when that
    is not *origin*). ``$INCLUDE`` paths are relative to the working directory.
    """
    reader = _Reader(limits or ZoneLimits())
    lines = io.StringIO(text, newline=None)  # \r\n and \r read as \n, as for files
    reader.read(_Source(_Tokenizer(lines, filename, reader), filename, None, origin, None, lines=lines))
    return _built(reader.loaded, origin, filename)


def read_file(path: str | os.PathLike[str], origin: Name | None = None,
              limits: ZoneLimits | None = None) -> tuple[ZoneVersion, list[ZoneWarning]]:
    """The zone in a master file and the warnings about how it was read. Without
    *origin*, the file name gives the origin for relative names before any
    ``$ORIGIN`` (``example.test.zone``, ``db.example.test``, ``root.zone``);
    the zone's apex is the owner of its SOA either way."""
    path = os.fspath(path)
    reader = _Reader(limits or ZoneLimits())
    try:
        f, ident = _open_regular(path)
    except _OpenError as e:
        raise ZoneError(f"{path}: cannot read the zone file: {e}") from None
    with f:
        first = f.read(1)
        if first == "\ufeff":
            raise ZoneError(f"{path}:1: the file starts with a byte-order mark (U+FEFF); save it without one "
                            f"(BIND and NSD refuse such a file too); nothing from this zone was loaded")
        f.seek(0)
        lines = io.StringIO(f.read())  # the line ends already read as \n
        tok = _Tokenizer(lines, path, reader)
        reader.read(_Source(tok, path, ident, origin or origin_from_filename(path), None, lines=lines))
    return _built(reader.loaded, origin, path)


# -- opening files ---------------------------------------------------------------------------

class _OpenError(Exception):
    """Why a file cannot be read (the message, without the file's name)."""


_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")]


def _open_regular(path: str) -> tuple[IO[str], tuple[int, int]]:
    """*path* opened as text, if it is a regular file (never blocking on a FIFO), and its (device, inode).

    The text is UTF-8 where it can be; any other byte is kept as the byte it is
    (as BIND and NSD read files: bytes) through ``surrogateescape``. Line ends
    are ``\\n``, ``\\r\\n`` or ``\\r``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _OpenError(e.strerror or str(e)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((k for test, k in _KINDS if test(info.st_mode)), "not a regular file")
            raise _OpenError(f"it is {kind}; only regular files are read")
        os.set_blocking(fd, True)
        f = os.fdopen(fd, encoding="utf-8", errors="surrogateescape")
    except BaseException:
        os.close(fd)
        raise
    return f, (info.st_dev, info.st_ino)


# -- tokens ------------------------------------------------------------------------------------

_SURROGATE = re.compile("[\udc80-\udcff]")
_NON_ASCII = re.compile("[^\x00-\x7f]")


class _Tokenizer(dns.tokenizer.Tokenizer):
    """dnspython's tokenizer with what fakens needs on top.

    - :meth:`where` is the line where the current record or directive starts,
      so a multi-line record, or an error found after the record's end of line
      was read, is placed at the record's first line.
    - Every character outside ASCII becomes the ``\\DDD`` escapes of its bytes,
      so names and strings hold the file's bytes as BIND and NSD serve them
      (dnspython would IDNA-encode a name); a byte that is not UTF-8 is kept
      as it is, with a warning.
    - ``recording`` collects the tokens read, so a record the strict parser
      refuses can be read again leniently; ``lexical`` says the last error
      came from the tokenizer itself (a quote or parenthesis left open).
    """

    def __init__(self, f: str | IO[str], filename: str, reader: _Reader) -> None:
        super().__init__(f, filename)
        self._reader = reader
        self._last: dns.tokenizer.Token | None = None
        self._at_new_line = True
        self._line_start: int | None = None
        """The line of the current record's first token; None while that token is read."""
        self.recording: list[dns.tokenizer.Token] | None = None
        self.lexical = False

    def get(self, want_leading: bool = False, want_comment: bool = False) -> dns.tokenizer.Token:
        if self._at_new_line and self.ungotten_token is None:
            self._line_start = None
        try:
            token = super().get(want_leading, want_comment)
        except dns.exception.DNSException:
            self.lexical = True
            raise
        if token is self._last:  # given back after an unget: already seen
            return token
        if self._line_start is None:
            self._line_start = self._current_line(token)
        self._at_new_line = token.is_eol()
        if (token.ttype in (dns.tokenizer.IDENTIFIER, dns.tokenizer.QUOTED_STRING)
                and not token.value.isascii()):
            token = self._as_bytes(token)
        if self.recording is not None:
            self.recording.append(token)
        self._last = token
        return token

    def _as_bytes(self, token: dns.tokenizer.Token) -> dns.tokenizer.Token:
        raw = _SURROGATE.findall(token.value)
        if raw:
            shown = " ".join(f"0x{ord(c) - 0xDC00:02x}" for c in raw[:3]) + (" ..." if len(raw) > 3 else "")
            self._reader.warn(Where(*self.where()), "not-utf8",
                              f"byte{'s' if len(raw) > 1 else ''} {shown} in {token.value.encode('utf-8', 'surrogateescape')!r} "
                              f"{'are' if len(raw) > 1 else 'is'} not UTF-8 (a Latin-1 file?); kept as {'they are' if len(raw) > 1 else 'it is'}, "
                              f"as BIND and NSD do")

        def escape(match: re.Match[str]) -> str:
            return "".join(f"\\{b:03d}" for b in match.group().encode("utf-8", "surrogateescape"))

        return dns.tokenizer.Token(token.ttype, _NON_ASCII.sub(escape, token.value), True, token.comment)

    def _current_line(self, last: dns.tokenizer.Token | None) -> int:
        """The line of the last token read. dnspython counts a newline as soon as it
        reads it: the newline that ends a token (kept back for the next one) or an
        end-of-line token would place it one line too far."""
        if self.ungotten_char == "\n" or (last is not None and last.is_eol() and last.value == "\n"):
            return self.line_number - 1
        return self.line_number

    @property
    def at_new_line(self) -> bool:
        """The last token read ended a line (or none was read): a record starts here."""
        return self._at_new_line

    def where(self) -> tuple[str, int]:
        """The place where the current record or directive starts (see the class)."""
        line = self._line_start if self._line_start is not None else self._current_line(self._last)
        return str(self.filename), line


_CLASSES = frozenset({"IN", "CH", "CHAOS", "HS", "HESIOD", "CS", "NONE", "ANY"})


class _Fail(Exception):
    """An error in the file: the message and hint; the reader adds the place."""

    def __init__(self, message: str, where: Where | None = None) -> None:
        super().__init__(message)
        self.where = where


# -- the reader --------------------------------------------------------------------------------

@dataclass
class _Source:
    """One file being read: the including file's state stays in its own _Source."""

    tok: _Tokenizer
    path: str
    ident: tuple[int, int] | None
    origin: Name | None
    included_at: Where | None
    last_name: Name | None = None
    file: IO[str] | None = None
    lines: io.StringIO | None = None
    """The text *tok* reads, when plain lines may be read from it without the tokenizer."""


@dataclass
class _Loaded:
    """What the reader collected: records with their places, and warnings.

    The records are four columns (owner, TTL, data, place), record *i* at index *i* of each:
    no tuple a record, which the build would drop, leaving a big zone's memory full of holes."""

    names: list[Name] = field(default_factory=list)
    ttls: list[int] = field(default_factory=list)
    rdatas: list[dns.rdata.Rdata] = field(default_factory=list)
    lines: array.array[int] = field(default_factory=lambda: array.array("q"))
    """Each record's place: a line of the zone file itself, or ``-1 - j`` for ``wheres[j]`` (a
    place in an included file); numbers, not an int object a line (as RecordPlaces keeps them)."""
    wheres: list[Where] = field(default_factory=list)
    warnings: list[ZoneWarning] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    def append(self, name: Name, ttl: int, rdata: dns.rdata.Rdata, place: Where | int) -> None:
        self.names.append(name)
        self.ttls.append(ttl)
        self.rdatas.append(rdata)
        self.lines.append(place_number(place, self.wheres))

    def place(self, i: int) -> Where | int:
        """Record *i*'s place: a line of the zone file itself, or a Where."""
        line = self.lines[i]
        return line if line >= 0 else self.wheres[-1 - line]

    def clear(self) -> None:
        for column in (self.names, self.ttls, self.rdatas, self.wheres):
            column.clear()
        self.lines = array.array("q")


class _Reader:
    """Reads a zone file and the files it includes into a :class:`_Loaded`.

    TTLs follow BIND (lib/dns/master.c): an explicit TTL is used and
    remembered; a record without one takes the ``$TTL`` default if there is
    one, else the last TTL written (RFC 1035 5.1); an SOA without either takes
    its own minimum, which then becomes the default; any other record without
    either is an error. ``$TTL`` and the last TTL carry on after an
    ``$INCLUDE`` ends (RFC 2308 4: to all records after the directive, as BIND
    and NSD do); the origin and the last owner name are the including file's
    again (RFC 1035 5.1).
    """

    def __init__(self, limits: ZoneLimits) -> None:
        self.limits = limits
        self.loaded = _Loaded()
        self.default_ttl: int | None = None
        self.last_ttl: int | None = None
        self.rdclass: dns.rdataclass.RdataClass | None = None  # the zone's: its first record's
        self.stack: list[_Source] = []

    def warn(self, where: Where, code: str, message: str) -> None:
        self.loaded.warnings.append(ZoneWarning(where, code, message))

    def read(self, top: _Source) -> None:
        self.stack = [top]
        try:
            self._loop()
        except _Fail as e:
            where = e.where or self._where()
            raise ZoneError(f"{where}: {e}; nothing from this zone was loaded") from None
        except MemoryError:
            count = len(self.loaded)
            self.loaded = _Loaded()
            raise ZoneError(f"{self._where()}: {_out_of_memory(count)}") from None
        except Exception as e:  # a bug of fakens or dnspython: still placed, never a traceback
            raise ZoneError(f"{self._where()}: fakens could not read this ({type(e).__name__}: {e}; please "
                            f"report it); nothing from this zone was loaded") from e
        finally:
            forget()
            for source in self.stack[1:]:
                if source.file is not None:
                    source.file.close()

    def _where(self) -> Where:
        return Where(*self.stack[-1].tok.where()) if self.stack else Where("<zone>", 0)

    def _loop(self) -> None:
        while self.stack:
            src = self.stack[-1]
            tok = src.tok
            tok.lexical = False
            if (src.lines is not None and tok.ungotten_char is None and tok.ungotten_token is None
                    and tok.multiline == 0 and tok.at_new_line):
                self._plain_lines(src, src.lines)
            try:
                token = tok.get(want_leading=True, want_comment=True)
                if token.is_eof():
                    self._pop()
                elif token.is_eol():
                    continue
                elif token.is_comment():
                    tok.get_eol()
                elif token.is_identifier() and token.value.startswith("$"):
                    self._directive(src, token.value.upper())
                else:
                    tok.unget(token)
                    self._record(src)
            except _Fail:
                raise
            except dns.exception.DNSException as e:
                raise _Fail(_describe(e)) from None

    def _plain_lines(self, src: _Source, lines: io.StringIO) -> None:
        """Read plain lines (fakens.zonelines) from where the tokenizer is, up to the first line
        that is not plain (or the end), which is left for the tokenizer: the records are the
        ones the tokenizer path would make, placed at their lines."""
        if self.rdclass not in (None, dns.rdataclass.IN):
            return
        tok = src.tok
        # a record of the zone file itself is placed by its line alone (the build makes the Where)
        path = str(tok.filename)
        top = src is self.stack[0]
        default_ttl = self.default_ttl
        loaded = self.loaded
        names, ttls, rdatas, lines_of = (loaded.names.append, loaded.ttls.append, loaded.rdatas.append,
                                         loaded.lines.append)
        max_records = self.limits.max_records
        origin = src.origin
        readline = lines.readline
        # the reader's state in locals while the lines are read (each line sets them), put back at the end
        last_name, last_ttl, line_number = src.last_name, self.last_ttl, tok.line_number
        count = len(loaded.names)
        first = count
        try:
            while True:
                line = readline()
                found = plain_record(line, origin, last_name) if line else None
                if found is None:
                    break
                name, ttl, rdata = found
                if ttl is None:
                    ttl = default_ttl if default_ttl is not None else last_ttl
                    if ttl is None:
                        break
                last_name = name
                last_ttl = ttl
                if count >= max_records:
                    raise _Fail(_too_many(max_records), Where(path, line_number))
                count += 1
                names(name)
                ttls(ttl)
                rdatas(rdata)
                if top:
                    lines_of(line_number)
                else:
                    lines_of(-1 - len(loaded.wheres))
                    loaded.wheres.append(Where(path, line_number))
                if line[-1] == "\n":
                    line_number += 1
            lines.seek(lines.tell() - len(line))  # the line not read is the tokenizer's
        finally:
            if count > first:
                self.rdclass = dns.rdataclass.IN
            src.last_name, self.last_ttl, tok.line_number = last_name, last_ttl, line_number

    def _pop(self) -> None:
        done = self.stack.pop()
        if done.file is not None:
            done.file.close()

    # -- directives ----------------------------------------------------------------------

    def _directive(self, src: _Source, directive: str) -> None:
        tok = src.tok
        if directive == "$TTL":
            token = tok.get()
            if not token.is_identifier():
                raise _Fail("$TTL needs a value; write e.g. '$TTL 3600' or '$TTL 1h'")
            self.default_ttl = self._ttl(token.value, "$TTL", Where(*tok.where()))
            self._end_of_directive(tok, "$TTL")
        elif directive == "$ORIGIN":
            token = tok.get()
            if not token.is_identifier():
                raise _Fail("$ORIGIN needs a domain name; write e.g. '$ORIGIN example.test.'")
            src.origin = self._name(token.value, src.origin, "the $ORIGIN")
            self._end_of_directive(tok, "$ORIGIN")
        elif directive == "$INCLUDE":
            self._include(src)
        elif directive == "$GENERATE":
            self._generate(src)
        else:
            raise _Fail(f"unknown directive {directive!r}; the directives are $ORIGIN, $TTL, $INCLUDE and $GENERATE")

    def _end_of_directive(self, tok: _Tokenizer, directive: str) -> None:
        token = tok.get()
        if not token.is_eol_or_eof():
            raise _Fail(f"{directive} takes one value; {token.value!r} after it is extra")

    def _include(self, src: _Source) -> None:
        tok = src.tok
        place = Where(*tok.where())
        token = tok.get()
        if not (token.is_identifier() or token.is_quoted_string()):
            raise _Fail("$INCLUDE needs a file name; write e.g. '$INCLUDE hosts.inc' (relative to this file)")
        name = token.unescape().value
        token = tok.get()
        origin = src.origin
        if token.is_identifier():
            origin = self._name(token.value, src.origin, "the $INCLUDE origin")
            self._end_of_directive(tok, "$INCLUDE FILE ORIGIN")
        elif not token.is_eol_or_eof():
            raise _Fail("$INCLUDE takes a file name and an optional origin; "
                        f"{token.value!r} is neither")
        if os.path.isabs(name):
            path = name
        else:
            base = os.path.dirname(src.path) if src.ident is not None else ""
            path = os.path.join(base, name)
        shown = name if path == name else f"{name} ({path})"
        if len(self.stack) > self.limits.max_include_depth:
            raise _Fail(f"$INCLUDE {shown}: files nested deeper than {self.limits.max_include_depth} "
                        f"(max_include_depth): {self._chain(place)} -> {path}; is there a loop through "
                        f"differently named copies?")
        try:
            f, ident = _open_regular(path)
        except _OpenError as e:
            raise _Fail(f"$INCLUDE {shown}: cannot read it: {e}") from None
        loop = next((s for s in self.stack if s.ident == ident), None)
        if loop is not None:
            f.close()
            raise _Fail(f"$INCLUDE {shown}: an include loop, {path} is already being read: "
                        f"{self._chain(place)} -> {path}; remove one of these $INCLUDE lines")
        # the included file starts with the current owner (as BIND and NSD read it); when it ends,
        # the including file's own owner and origin hold again
        lines = io.StringIO(f.read())
        new = _Source(_Tokenizer(lines, path, self), path, ident, origin, place, src.last_name, file=f, lines=lines)
        self.stack.append(new)

    def _chain(self, place: Where) -> str:
        """The files being read, each with the line of its $INCLUDE: a.zone:6 -> b.inc:2."""
        lines = [cast(Where, s.included_at).line for s in self.stack[1:]] + [place.line]
        return " -> ".join(f"{s.path}:{line}" for s, line in zip(self.stack, lines, strict=True))

    # -- records -------------------------------------------------------------------------

    def _record(self, src: _Source) -> None:
        tok = src.tok
        token = tok.get(want_leading=True)
        if not token.is_whitespace():
            place = Where(*tok.where())
            src.last_name = self._name(token.value, src.origin, "the owner name", token)
        else:
            token = tok.get()
            if token.is_eol_or_eof():
                return  # blank space and then the end of the line
            tok.unget(token)
            place = Where(*tok.where())
        name = src.last_name
        if name is None:
            raise _Fail("the line starts with a blank, so the record takes the previous record's owner, "
                        "but there is none; write the owner name first")
        ttl, rdclass, rdtype = self._ttl_class_type(tok, place)
        rdata = self._rdata(rdclass, rdtype, tok, src.origin, place)
        if ttl is None:
            ttl = self._implicit_ttl(rdata)
        self._add(name, ttl, rdata, place)

    def _ttl_class_type(self, tok: _Tokenizer, place: Where
                        ) -> tuple[int | None, dns.rdataclass.RdataClass, dns.rdatatype.RdataType]:
        """[TTL] [class] type, or [class] [TTL] type (RFC 1035 5.1)."""
        ttl: int | None = None
        rdclass: dns.rdataclass.RdataClass | None = None
        for _ in range(2):
            token = self._identifier(tok)
            if ttl is None and token.value[:1].isdigit():
                ttl = self._ttl(token.value, "TTL", place)
                continue
            if rdclass is None and (token.value.upper() in _CLASSES or token.value[:5].upper() == "CLASS"):
                try:
                    rdclass = dns.rdataclass.from_text(token.value)
                    continue
                except (dns.exception.DNSException, ValueError):
                    pass
            tok.unget(token)
            break
        rdclass = self._zone_class(rdclass)
        token = self._identifier(tok)
        try:
            rdtype = dns.rdatatype.from_text(token.value)
        except (dns.exception.DNSException, ValueError):
            hint = ("a TTL is at most 4294967295 seconds (and served as 0 above 2147483647)"
                    if token.value.isdigit() else
                    "not a record type; is the TTL, the class or the type misspelled? "
                    "(an unknown type is written TYPE65280 \\# 2 abcd, RFC 3597)")
            raise _Fail(f"unknown record type {token.value!r}: {hint}") from None
        if dns.rdatatype.is_metatype(rdtype) or rdtype in (dns.rdatatype.OPT, dns.rdatatype.TSIG):
            raise _Fail(f"{dns.rdatatype.to_text(rdtype)} is not a type a zone can hold")
        return ttl, rdclass, rdtype

    def _zone_class(self, written: dns.rdataclass.RdataClass | None) -> dns.rdataclass.RdataClass:
        """A record's class: as written (IN or CH), else the zone's; a zone has one class, its first
        record's (IN when none is written), as BIND keeps it."""
        if written is not None and written not in (dns.rdataclass.IN, dns.rdataclass.CH):
            raise _Fail(f"class {dns.rdataclass.to_text(written)}: fakens serves zones of class IN and CH; "
                        f"remove the class or write IN")
        if self.rdclass is None:
            self.rdclass = written if written is not None else dns.rdataclass.IN
        elif written is not None and written != self.rdclass:
            zone = dns.rdataclass.to_text(self.rdclass)
            raise _Fail(f"class {dns.rdataclass.to_text(written)} in a zone of class {zone} (its first record's): "
                        f"a zone holds one class; write {zone} or put the {dns.rdataclass.to_text(written)} "
                        f"records in a zone file of their own")
        return self.rdclass

    def _identifier(self, tok: _Tokenizer) -> dns.tokenizer.Token:
        token = tok.get()
        if token.is_eol_or_eof():
            raise _Fail("the record ends after its owner (and TTL or class): its type and data are missing")
        if not token.is_identifier():
            raise _Fail(f"expected a TTL, class or type, found the quoted string \"{token.value}\"")
        return token

    def _ttl(self, text: str, what: str, place: Where) -> int:
        try:
            ttl = dns.ttl.from_text(text)
        except dns.ttl.BadTTL:
            raise _Fail(f"{what} {text!r} is not a TTL: write seconds (3600) or units (1h, 30m, 1d, 1w, 1h30m), "
                        f"at most 4294967295 seconds") from None
        if ttl > MAX_TTL:
            self.warn(place, "ttl-over-max",
                      f"{what} {ttl} is above 2147483647 (RFC 2181 8); served as 0, as BIND does")
            ttl = 0
        return ttl

    def _implicit_ttl(self, rdata: dns.rdata.Rdata) -> int:
        if self.default_ttl is not None:
            return self.default_ttl
        if self.last_ttl is not None:
            return self.last_ttl
        if rdata.rdtype == dns.rdatatype.SOA:
            minimum = cast(int, getattr(rdata, "minimum"))  # noqa: B009
            self.default_ttl = minimum if minimum <= MAX_TTL else 0
            return self.default_ttl
        raise _Fail("the record has no TTL and none came before it; give it one ('www 3600 A 192.0.2.1') "
                    "or put '$TTL 3600' at the top of the file")

    def _add(self, name: Name, ttl: int, rdata: dns.rdata.Rdata, place: Where) -> None:
        self.last_ttl = ttl  # BIND's "last TTL" is every record's, written or taken
        if len(self.loaded) >= self.limits.max_records:
            raise _Fail(_too_many(self.limits.max_records), place)
        self.loaded.append(name, ttl, rdata, place)

    def _name(self, text: str, origin: Name | None, what: str, token: dns.tokenizer.Token | None = None) -> Name:
        if token is not None and not token.is_identifier():
            raise _Fail(f"{what} is a quoted string \"{text}\"; a name is written without quotes")
        try:
            name = dns.name.from_text(text, origin)
        except dns.exception.DNSException as e:
            raise _Fail(f"{what} {_shorten(text)!r}: {_describe(e, origin)}") from None
        if not name.is_absolute():
            raise _Fail(f"relative name but no origin is known ({what} {text!r}); start the file with "
                        f"'$ORIGIN example.test.' or give the zone's origin, or end the name with a dot")
        return as_fast(name)  # owners and origins are looked up with every answer: their hash kept

    def _rdata(self, rdclass: dns.rdataclass.RdataClass, rdtype: dns.rdatatype.RdataType, tok: _Tokenizer,
               origin: Name | None, place: Where) -> dns.rdata.Rdata:
        """The record's data from *tok*: dnspython's strict parser first; when it refuses,
        the lenient form of :data:`LENIENT_FORMS` for the type, if any, with a warning."""
        tok.recording = []
        try:
            rdata = dns.rdata.from_text(rdclass, rdtype, tok, origin, False)
        except dns.exception.DNSException as e:
            recorded = tok.recording
            tok.recording = None
            if tok.lexical:
                raise
            tokens = _rest_of_record(tok, recorded)
            lenient = LENIENT_FORMS.get(rdtype)
            found = lenient.read(rdclass, rdtype, tokens) if lenient is not None else None
            if lenient is None or found is None:
                raise _Fail(data_error(rdtype, e, origin)) from None
            rdata, note = found
            self.warn(place, lenient.code, note)
        except (ValueError, TypeError, UnicodeError, OverflowError) as e:  # pragma: no cover - dnspython wraps these
            raise _Fail(data_error(rdtype, e, origin)) from None
        finally:
            tok.recording = None
        if origin is None:
            _check_absolute(rdata)
        return rdata

    # -- $GENERATE -----------------------------------------------------------------------

    def _generate(self, src: _Source) -> None:
        """``$GENERATE range owner [ttl] [class] type rdata`` as BIND reads it: the
        rdata is one token (quoted when it has blanks, ``"10 mail$"``)."""
        tok = src.tok
        place = Where(*tok.where())
        if src.origin is None:
            raise _Fail("$GENERATE needs an origin for its names; put '$ORIGIN example.test.' before it")
        token = tok.get()
        if not token.is_identifier():
            raise _Fail(f"$GENERATE needs a range; {_GENERATE_FORM}")
        start, stop, step = _generate_range(token.value)
        count = (stop - start) // step + 1
        if count > self.limits.max_generate:
            raise _Fail(f"$GENERATE {token.value} makes {count:,} records, more than {self.limits.max_generate:,} "
                        f"(max_generate); make the range smaller, or raise the limit "
                        f"(ZoneLimits(max_generate=...), --max-generate)")
        if len(self.loaded) + count > self.limits.max_records:
            raise _Fail(f"$GENERATE {token.value} makes {count:,} records: "
                        + _too_many(self.limits.max_records, len(self.loaded)))
        lhs = tok.get()
        if not lhs.is_identifier():
            raise _Fail(f"$GENERATE needs an owner name after the range; {_GENERATE_FORM}")
        ttl, rdclass, rdtype = self._ttl_class_type(tok, place)
        rhs = tok.get()
        if not (rhs.is_identifier() or rhs.is_quoted_string()):
            raise _Fail(f"$GENERATE needs the record's data after the type; {_GENERATE_FORM}")
        extra = tok.get()
        if not extra.is_eol_or_eof():
            raise _Fail(f"$GENERATE takes the record's data as one token and {extra.value!r} is extra; "
                        f"quote data that has blanks, e.g. $GENERATE 1-9 host$ MX \"10 mail$\"")
        lhs_parts = _generate_template(lhs.value)
        rhs_parts = _generate_template(rhs.value)
        origin = src.origin
        if ttl is None and self.default_ttl is None and self.last_ttl is None:
            raise _Fail("the $GENERATE has no TTL and none came before it; give it one "
                        "($GENERATE 1-9 host$ 3600 A 192.0.2.$) or put '$TTL 3600' before it")
        if ttl is None:
            ttl = cast(int, self.default_ttl if self.default_ttl is not None else self.last_ttl)
        constant: dns.rdata.Rdata | None = None  # the data when it has no $: parsed once
        type_text = dns.rdatatype.to_text(rdtype)
        for i in range(start, stop + 1, step):
            owner_text = _substitute(lhs_parts, i)
            data_text = _substitute(rhs_parts, i)

            def what() -> str:
                return f"$GENERATE at {i} ({_shorten(owner_text)} {type_text} {_shorten(data_text)})"  # noqa: B023

            try:
                name = as_fast(dns.name.from_text(owner_text, origin))
            except dns.exception.DNSException as e:
                raise _Fail(f"{what()}: the owner name: {_describe(e, origin)}") from None
            if constant is not None:
                rdata = constant
            else:
                try:
                    rdata = self._rdata(rdclass, rdtype, _Tokenizer(data_text, src.path, self), origin, place)
                except _Fail as e:
                    raise _Fail(f"{what()}: {e}") from None
                except dns.exception.DNSException as e:
                    raise _Fail(f"{what()}: {_describe(e)}") from None
                if all(isinstance(part, str) for part in rhs_parts):
                    constant = rdata
            self._add(name, ttl, rdata, place)


def _rest_of_record(tok: _Tokenizer, recorded: list[dns.tokenizer.Token] | None) -> list[dns.tokenizer.Token]:
    """The data tokens of the record the parser gave up on, reading on to its end of line."""
    tokens = list(recorded or ())
    if tok.ungotten_token is not None:
        tok.get()  # already recorded
    for i, token in enumerate(tokens):
        if token.is_eol_or_eof():
            return tokens[:i]
    while True:
        token = tok.get()
        if token.is_eol_or_eof():
            return tokens
        tokens.append(token)


def _check_absolute(rdata: dns.rdata.Rdata) -> None:
    try:
        rdata.to_digestable()
    except dns.name.NeedAbsoluteNameOrOrigin:
        raise _Fail("relative name in the record's data but no origin is known; start the file with "
                    "'$ORIGIN example.test.' or give the zone's origin, or end the name with a dot") from None


def _out_of_memory(count: int) -> str:
    return (f"out of memory after {count:,} records; the zone is larger than this machine can hold "
            f"(about 1.5 KB a record): lower max_records (--max-records) to refuse such zones early; "
            f"nothing from this zone was loaded")


def _too_many(limit: int, already: int | None = None) -> str:
    held = f" ({already:,} read so far)" if already is not None else ""
    return (f"more than {limit:,} records in the zone{held} (max_records); raise the limit "
            f"(ZoneLimits(max_records=...), --max-records) if the zone is meant to be this big")


# -- $GENERATE forms ------------------------------------------------------------------------

_GENERATE_FORM = "write $GENERATE START-STOP[/STEP] OWNER [TTL] [CLASS] TYPE DATA, e.g. $GENERATE 1-254 host$ A 192.0.2.$"
_RANGE = re.compile(r"(\d+)-(\d+)(?:/(\d+))?")
_MODIFIER = re.compile(r"\{([+-]?\d+)(?:,(\d+)(?:,([doxXnN]))?)?\}")


def _generate_range(text: str) -> tuple[int, int, int]:
    """START-STOP[/STEP] as BIND reads it, with what is wrong when it is not."""
    match = _RANGE.fullmatch(text)
    if match is None:
        if text.startswith("-") or "--" in text or "/-" in text:
            why = "the numbers cannot be negative"
        elif "-" not in text:
            why = "a range is two numbers joined by '-'"
        else:
            why = "a range is START-STOP or START-STOP/STEP, whole numbers"
        raise _Fail(f"$GENERATE range {text!r}: {why}; {_GENERATE_FORM}")
    start, stop = int(match.group(1)), int(match.group(2))
    step = int(match.group(3)) if match.group(3) is not None else 1
    for value, what in ((start, "start"), (stop, "stop"), (step, "step")):
        if value > _MAX_GENERATE_VALUE:
            raise _Fail(f"$GENERATE range {text!r}: the {what} {value} is above {_MAX_GENERATE_VALUE} (BIND's limit)")
    if step == 0:
        raise _Fail(f"$GENERATE range {text!r}: a step of 0 never moves on; the step is 1 or more "
                    f"(leave out /0 for every value)")
    if stop < start:
        raise _Fail(f"$GENERATE range {text!r} runs backwards: the start {start} is above the stop {stop}; "
                    f"write it lowest first ({stop}-{start}{'/' + str(step) if match.group(3) else ''})")
    return start, stop, step


_Template = list[str | tuple[int, int, str]]


def _generate_template(text: str) -> _Template:
    """A $GENERATE owner or data split into literal text and substitutions
    (offset, width, base), as BIND reads them: ``$``, ``${offset[,width[,base]]}``,
    ``$$`` for a dollar sign, and a backslash escape kept as it is."""
    parts: _Template = []
    literal = ""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            literal += text[i:i + 2]
            i += 2
        elif c != "$":
            literal += c
            i += 1
        elif text.startswith("$", i + 1):
            literal += "$"
            i += 2
        else:
            i += 1
            offset, width, base = 0, 0, "d"
            if text.startswith("{", i):
                match = _MODIFIER.match(text, i)
                if match is None:
                    end = text.find("}", i)
                    shown = text[i - 1:end + 1] if end >= 0 else text[i - 1:]
                    raise _Fail(f"$GENERATE modifier {shown!r}: write ${{offset}}, ${{offset,width}} or "
                                f"${{offset,width,base}} with base d, o, x, X, n or N, e.g. ${{0,3,d}}")
                offset = int(match.group(1))
                if match.group(2) is not None:
                    width = int(match.group(2))
                    if width > _MAX_GENERATE_WIDTH:
                        raise _Fail(f"$GENERATE modifier {match.group()!r}: a width above {_MAX_GENERATE_WIDTH}")
                base = match.group(3) or "d"
                i = match.end()
            if literal:
                parts.append(literal)
                literal = ""
            parts.append((offset, width, base))
    if literal:
        parts.append(literal)
    return parts


def _substitute(parts: _Template, counter: int) -> str:
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
            continue
        offset, width, base = part
        value = counter + offset
        if value < 0 and base in "nN":
            raise _Fail(f"$GENERATE at {counter}: the value {value} is negative, which nibble mode ({base}) cannot write")
        if base in "nN":
            out.append(_nibbles(value, width, base == "N"))
        else:
            text = format(abs(value), base).zfill(width - (1 if value < 0 else 0))
            out.append("-" + text if value < 0 else text)
    return "".join(out)


def _nibbles(value: int, width: int, upper: bool) -> str:
    """*value* as dot-separated hex nibbles, least significant first, padded with
    zero nibbles to at least *width* characters (BIND's n and N bases)."""
    digits = "0123456789ABCDEF" if upper else "0123456789abcdef"
    text = ""
    while True:
        text += digits[value & 0xF]
        value >>= 4
        if width > 0:
            width -= 1
        if width > 0 or value != 0:
            text += "."
            if width > 0:
                width -= 1
        if value == 0 and width == 0:
            return text


# -- lenient forms ----------------------------------------------------------------------------

_LenientReader = Callable[[dns.rdataclass.RdataClass, dns.rdatatype.RdataType, list[dns.tokenizer.Token]],
                          "tuple[dns.rdata.Rdata, str] | None"]


@dataclass(frozen=True)
class LenientForm:
    """How fakens reads data of some types that dnspython's strict parser refuses,
    after a widely used server that accepts it. ``read(rdclass, rdtype, tokens)``
    returns the record and the warning's text, or None when the data is not
    that form either (the record is then an error)."""

    code: str
    """The warning's code."""
    read: _LenientReader


@dataclass(frozen=True)
class LenientCase:
    """One row of the table in docs/zones.md."""

    rdtypes: str
    written: str
    served: str
    after: str
    refused_by: str


def _strings(tokens: list[dns.tokenizer.Token]) -> list[bytes] | None:
    if not tokens or not all(t.is_identifier() or t.is_quoted_string() for t in tokens):
        return None
    try:
        return [t.unescape_to_bytes().value for t in tokens]
    except dns.exception.DNSException:
        return None


def _chunks(value: bytes, size: int = 255) -> list[bytes]:
    return [value[i:i + size] for i in range(0, len(value), size)] or [b""]


def _quoted(value: bytes) -> str:
    """*value* as a master-file string, for messages."""
    out = []
    for b in value:
        c = chr(b)
        out.append("\\" + c if c in '"\\' else c if 0x20 <= b < 0x7F else f"\\{b:03d}")
    return '"' + "".join(out) + '"'


def _lenient_hinfo(rdclass: dns.rdataclass.RdataClass, rdtype: dns.rdatatype.RdataType,
                   tokens: list[dns.tokenizer.Token]) -> tuple[dns.rdata.Rdata, str] | None:
    """miekg/dns (scan_rr.go, HINFO.parse): the strings, each split at 255 octets; one
    string is split at blanks (strings.Fields), or gets an empty OS; the strings
    after the first are joined with a blank to make the OS."""
    values = _strings(tokens)
    if values is None:
        return None
    chunks = [c for v in values for c in _chunks(v)]
    if len(chunks) == 1:
        fields = chunks[0].split()
        chunks = fields if len(fields) > 1 else [chunks[0], b""]
    cpu, os_ = chunks[0], b" ".join(chunks[1:])
    try:
        rdata = dns.rdtypes.ANY.HINFO.HINFO(rdclass, rdtype, cpu, os_)
    except (ValueError, dns.exception.DNSException):
        return None
    written = " ".join(_quoted(v) for v in values)
    if len(values) == 1:
        how = "split at its blanks" if b" " in values[0].strip() or b"\t" in values[0] else "with an empty OS"
        return rdata, (f"HINFO {written} is one string where HINFO has two (CPU and OS); served as "
                       f"{_quoted(cpu)} {_quoted(os_)}, {how}, as CoreDNS does (BIND, NSD and Knot refuse it)")
    return rdata, (f"HINFO {written} has {len(values)} strings where HINFO has two (CPU and OS); served as "
                   f"{_quoted(cpu)} {_quoted(os_)}, the strings after the first joined with a blank, "
                   f"as CoreDNS does (BIND and NSD refuse it)")


def _lenient_long_strings(rdclass: dns.rdataclass.RdataClass, rdtype: dns.rdatatype.RdataType,
                          tokens: list[dns.tokenizer.Token]) -> tuple[dns.rdata.Rdata, str] | None:
    """miekg/dns (scan_rr.go, endingToTxtSlice): a string longer than 255 octets is
    split into strings of 255 octets."""
    values = _strings(tokens)
    if values is None or all(len(v) <= 255 for v in values):
        return None
    cls = dns.rdata.get_rdata_class(rdclass, rdtype)
    try:
        rdata = cls(rdclass, rdtype, [c for v in values for c in _chunks(v)])
    except (ValueError, TypeError, dns.exception.DNSException):
        return None
    long = [len(v) for v in values if len(v) > 255]
    sizes = ", ".join(str(n) for n in long[:3]) + (", ..." if len(long) > 3 else "")
    return rdata, (f"{dns.rdatatype.to_text(rdtype)} string{'s' if len(long) > 1 else ''} of {sizes} octets, "
                   f"longer than the 255 a string holds (RFC 1035 3.3); served split into strings of 255 octets, "
                   f"as CoreDNS does (BIND and NSD refuse it: write it as several quoted strings)")


def _lenient_caa(rdclass: dns.rdataclass.RdataClass, rdtype: dns.rdatatype.RdataType,
                 tokens: list[dns.tokenizer.Token]) -> tuple[dns.rdata.Rdata, str] | None:
    """miekg/dns (scan_rr.go, CAA.parse): any tag; the value one string of at most 255 octets."""
    if len(tokens) != 3 or not tokens[0].is_identifier() or not tokens[1].is_identifier():
        return None
    try:
        flags = int(tokens[0].value)
        tag = tokens[1].unescape_to_bytes().value
        value = tokens[2].unescape_to_bytes().value
    except (ValueError, dns.exception.DNSException):
        return None
    if not 0 <= flags <= 255 or not 0 < len(tag) <= 255 or tag.isalnum() or len(value) > 255:
        return None
    rdata = dns.rdata.GenericRdata(rdclass, rdtype, bytes([flags, len(tag)]) + tag + value)
    return rdata, (f"CAA tag {_quoted(tag)} is not letters and digits (RFC 8659 4.1.1); served as written, "
                   f"as CoreDNS does (BIND and NSD refuse it; dnspython cannot read such a record, so it is "
                   f"held as its bytes)")


_HINFO = LenientForm("lenient-hinfo", _lenient_hinfo)
_LONG = LenientForm("lenient-long-string", _lenient_long_strings)
_CAA = LenientForm("lenient-caa-tag", _lenient_caa)

LENIENT_FORMS: dict[RdataType, LenientForm] = {
    dns.rdatatype.HINFO: _HINFO,
    dns.rdatatype.TXT: _LONG,
    dns.rdatatype.SPF: _LONG,
    dns.rdatatype.AVC: _LONG,
    dns.rdatatype.CAA: _CAA,
}
"""What fakens reads when dnspython's strict parser refuses a record, by type: each
form follows one widely used server; anything else the strict parser refuses is an
error with file:line. :data:`LENIENT_TABLE` describes them (docs/zones.md shows it)."""

LENIENT_TABLE = (
    LenientCase("HINFO", '`HINFO "VPS OS"` (one string)', '`"VPS" "OS"`: split at blanks; one word `"Linux"` gets `""`',
                "CoreDNS (miekg/dns)", "BIND, NSD, Knot"),
    LenientCase("HINFO", '`HINFO "PC" "Debian" "12"` (three or more strings)',
                '`"PC" "Debian 12"`: the strings after the first joined with a blank', "CoreDNS (miekg/dns)", "BIND, NSD"),
    LenientCase("TXT, SPF, AVC", "a string over 255 octets (a DKIM key written as one string)",
                "split into strings of 255 octets", "CoreDNS (miekg/dns)", "BIND, NSD"),
    LenientCase("CAA", '`CAA 0 issue_wild "ca.test"` (a tag not letters and digits)',
                "the tag as written (held as the record's bytes: dnspython cannot hold such a CAA)",
                "CoreDNS (miekg/dns)", "BIND, NSD"),
)
"""The lenient forms, as the table in docs/zones.md (a test keeps the two in step)."""


# -- messages -----------------------------------------------------------------------------------

_EXAMPLES = {
    "A": "an IPv4 address, e.g. 192.0.2.1",
    "AAAA": "an IPv6 address, e.g. 2001:db8::1",
    "NS": "a host name, e.g. ns1.example.test.",
    "CNAME": "one name, e.g. target.example.test.",
    "DNAME": "one name, e.g. target.example.test.",
    "PTR": "one name, e.g. host.example.test.",
    "MX": "a preference and a host, e.g. 10 mail.example.test.",
    "SRV": "priority, weight, port and host, e.g. 0 5 5060 sip.example.test.",
    "SOA": "primary, mailbox, serial, refresh, retry, expire, minimum, e.g. ns1 hostmaster 1 7200 900 1209600 300",
    "TXT": 'one or more strings of up to 255 octets, e.g. "v=spf1 -all"',
    "HINFO": 'two strings, CPU and OS, e.g. "PC" "Linux"',
    "CAA": 'flags, tag and value, e.g. 0 issue "ca.example"',
    "NAPTR": 'order, preference, flags, service, regexp, replacement, e.g. 100 10 "u" "E2U+sip" "!^.*$!sip:x@example.test!" .',
    "DS": "key tag, algorithm, digest type and hex digest, e.g. 12345 13 2 49FD46E6C4B45C55D4AC...",
    "DNSKEY": "flags, protocol 3, algorithm and base64 key, e.g. 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0d...",
    "TLSA": "usage, selector, matching type and hex data, e.g. 3 1 1 0123abcd...",
    "SSHFP": "algorithm, fingerprint type and hex fingerprint, e.g. 4 2 0123abcd...",
    "LOC": "latitude, longitude and altitude, e.g. 52 22 23.000 N 4 53 32.000 E -2.00m",
    "SVCB": "priority, target and parameters, e.g. 1 svc.example.test. alpn=h2 port=443",
    "HTTPS": "priority, target and parameters, e.g. 1 . alpn=h2,h3",
    "URI": 'priority, weight and a quoted URI, e.g. 10 1 "https://example.test/"',
}


def data_error(rdtype: dns.rdatatype.RdataType, e: BaseException, origin: Name | None) -> str:
    """What is wrong with a record's data, with what the type's data looks like."""
    cause = e.__cause__ if isinstance(e.__cause__, dns.exception.DNSException) else e
    detail = _describe(cause, origin)
    text = dns.rdatatype.to_text(rdtype)
    example = _EXAMPLES.get(text)
    shape = f"; {text} data is {example}" if example else f"; see RFC 3597 for the generic form ({text} \\# LENGTH HEX)"
    return f"the {text} record's data does not parse: {detail}{shape}"


def _describe(e: BaseException, origin: Name | None = None) -> str:
    """A dnspython exception in words, with a hint where one helps."""
    if isinstance(e, dns.name.NameTooLong):
        hint = (f" (relative names get the origin {_shorten(origin.to_text())} appended: a missing trailing dot?)"
                if origin is not None and len(origin.to_wire() or b"") > 64 else "")
        return f"a name longer than 255 octets (RFC 1035 2.3.4){hint}"
    if isinstance(e, dns.name.LabelTooLong):
        return "a label longer than 63 octets (RFC 1035 2.3.4); split it with dots or shorten it"
    if isinstance(e, dns.name.EmptyLabel):
        return "a name with an empty label (two dots in a row, or a dot at the start)"
    if isinstance(e, dns.name.BadEscape):
        return "a bad escape in a name (\\DDD is three digits up to 255, \\X any other character)"
    if isinstance(e, dns.exception.UnexpectedEnd):
        return "the record ends too early: is part of its data missing?"
    message = str(e).rstrip(".")
    for known, words in _MESSAGES.items():
        if known in message:
            return words
    return message or type(e).__name__


_MESSAGES = {
    "unbalanced parentheses": "a parenthesis is left open or closed twice (a multi-line record needs '(' and ')')",
    "newline in quoted string": "a quoted string runs past the end of the line (a missing closing quote?)",
    "Text input is malformed": "a value is not of the form the type takes",
    "string too long": "a string longer than 255 octets (split it into several quoted strings)",
    "expected EOL or EOF": "there is more data than the type takes",
    "expecting an identifier": "a value is missing",
}


def _shorten(text: str, size: int = 60) -> str:
    return text if len(text) <= size else text[: size - 20] + "..." + text[-17:]


# -- building the version ---------------------------------------------------------------------

def _built(loaded: _Loaded, origin: Name | None, source: str) -> tuple[ZoneVersion, list[ZoneWarning]]:
    count = len(loaded)
    try:
        return _build(loaded, origin, source)
    except MemoryError:
        loaded.clear()
        raise ZoneError(f"{source}: {_out_of_memory(count)}") from None


def _build(loaded: _Loaded, origin: Name | None, source: str) -> tuple[ZoneVersion, list[ZoneWarning]]:
    """The version the records make, leniently: records outside the zone, TTLs that
    differ within an RRset, a second SOA record and an SOA owner that is not the
    configured origin are warnings, not errors. RRsets too big for any message are
    errors."""
    warnings = list(loaded.warnings)
    soa_type = dns.rdatatype.SOA
    soas = [(loaded.names[i], loaded.ttls[i], rdata, _place(loaded.place(i), source))
            for i, rdata in enumerate(loaded.rdatas) if rdata.rdtype == soa_type]
    if not soas:
        if loaded:
            name, rdata, first = loaded.names[0], loaded.rdatas[0], loaded.place(0)
            where = (f"{_place(first, source)}: the zone has no SOA record "
                     f"(its first record is {name} {dns.rdatatype.to_text(rdata.rdtype)})")
        else:
            where = f"{source}:1: the zone has no records, so no SOA record"
        raise ZoneError(f"{where}; a zone needs one at its apex, e.g. "
                        f"'@ 3600 SOA ns1 hostmaster 1 3600 600 86400 300'; nothing from this zone was loaded")
    apex = soas[0][0]
    if len({r[0] for r in soas}) > 1:
        second = next(r for r in soas if r[0] != apex)
        raise ZoneError(f"{second[3]}: a second SOA at {second[0]}: a zone file holds one zone "
                        f"(the first SOA, at {soas[0][3]}, makes it {apex}); nothing from this zone was loaded")
    if origin is not None and apex != origin:
        warnings.append(ZoneWarning(
            soas[0][3], "origin-mismatch",
            f"the SOA is owned by {apex} but the zone was given as {origin}: served as {apex}, the records at "
            f"their written names, as CoreDNS loads such a file (BIND, NSD and Knot refuse it); "
            f"fix the owner or the origin (a missing trailing dot?)"))
    nodes: dict[Name, Mapping[TypeKey, dns.rdataset.Rdataset]] = {}
    places = RecordPlaces(source)
    # each RRset's first record in columns, as RecordPlaces keeps them (its number is its index)
    first_names: list[Name] = []
    first_types = array.array("H")
    first_rdatas: list[dns.rdata.Rdata] = []
    first_lines = array.array("q")  # as loaded.lines: -1 - j for loaded.wheres[j] (kept as 4-byte items)
    wheres = loaded.wheres
    add_name, add_type, add_rdata, add_line = (first_names.append, first_types.append, first_rdatas.append,
                                               first_lines.append)
    # the number of each RRset of the node being read; a record of an RRset of a node left
    # before waits in *late* (a name is hashed to find its RRset's number only in such a zone)
    here_node: dict[TypeKey, dns.rrset.RRset] | None = None
    here: dict[TypeKey, int] = {}
    late: list[tuple[Name, TypeKey, dns.rdata.Rdata, Where | int]] = []
    outside: dict[Where, list[Name]] = {}
    apex_raw = apex.labels
    apex_labels = tuple(label.lower() for label in apex.labels)
    depth = len(apex_labels)
    last_name: Name | None = None
    node: dict[TypeKey, dns.rrset.RRset] = {}
    none = dns.rdatatype.NONE
    keys = _KEYS
    covering = _COVERING
    new_rrset = sole_rrset
    for name, ttl, rdata, line in zip(loaded.names, loaded.ttls, loaded.rdatas, loaded.lines, strict=True):
        if name is not last_name:
            labels = name.labels
            if len(labels) < depth or (labels[len(labels) - depth:] != apex_raw and tuple(
                    label.lower() for label in labels[len(labels) - depth:]) != apex_labels):
                outside.setdefault(_place(line if line >= 0 else wheres[-1 - line], source), []).append(name)
                continue
            if last_name is not None:  # the node left: kept compact (most hold one RRset of one record)
                _leave(nodes, last_name, node)
            stored = nodes.setdefault(name, {})
            if type(stored) is dict and not stored:
                node = stored
            else:  # a name met again after others: its node and RRsets made editable again to take more
                node = cast(dict[TypeKey, dns.rrset.RRset], dict(stored))
                for again in node.values():
                    editable_items(again)
                nodes[name] = node
            last_name = name
        rdtype = rdata.rdtype
        if rdtype in covering:
            covers = rdata.covers()
            key: TypeKey = (rdtype, covers)
        else:
            covers = none
            shared = keys.get(rdtype)
            if shared is None:
                shared = keys[rdtype] = (rdtype, none)
            key = shared
        rrset = node.get(key)
        if rrset is None:  # a new RRset: its first record goes in as Rdataset.add would put it
            rrset = node[key] = new_rrset(name, rdata.rdclass, rdtype, covers, ttl, rdata)
            if node is not here_node:
                here_node = node
                if here:
                    here.clear()
            here[key] = len(first_names)
            add_name(name)
            add_type(rdtype)
            add_rdata(rdata)
            add_line(line)
            continue
        place = line if line >= 0 else wheres[-1 - line]
        if rrset.ttl != ttl:
            warnings.append(ZoneWarning(
                _place(place, source), "ttl-mismatch",
                f"{name} {dns.rdatatype.to_text(rdata.rdtype)}: TTL {ttl} differs from {rrset.ttl} "
                f"earlier in the RRset (RFC 2181 5.2); the RRset is served with TTL {rrset.ttl}, the first, "
                f"as BIND does"))
        if rdtype == soa_type:
            warnings.append(ZoneWarning(_place(place, source), "second-soa",
                                        "a second SOA record at the apex; the first is served"))
            continue
        size = len(rrset)
        editable_items(rrset)  # (its first record alone: a SoleRRset)
        rrset.add(rdata)
        if len(rrset) != size:
            number = here.get(key) if node is here_node else None
            if number is not None:
                places.add_to(number, rdata, place)
            else:  # (an RRset begun before the name was left: its number is found later)
                late.append((name, key, rdata, place))
    if last_name is not None:
        _leave(nodes, last_name, node)
    places.set_firsts(first_names, first_types, first_rdatas, first_lines, wheres)
    if late:
        _place_late(late, nodes, places)
    for place, names in outside.items():
        more = f" (and {len(names) - 1:,} more from this line)" if len(names) > 1 else ""
        warnings.append(ZoneWarning(place, "out-of-zone", f"{names[0]} is outside the zone {apex}; ignored{more}"))
    bounds, room = _RDATA_BOUND, MAX_MESSAGE - (12 + 255 + 4)
    for name, held in nodes.items():
        for stored_set in held.values():
            bound = bounds.get(stored_set.rdtype)
            if bound is None or len(stored_set) * (12 + bound) > room:  # else fits: _check_size's first test
                _check_size(name, cast(dns.rrset.RRset, stored_set), places)
    version = ZoneVersion(apex, nodes, soas[0][2].rdclass, where=places.first, record_where=places, copy=False)
    return version, warnings


def _leave(nodes: dict[Name, Mapping[TypeKey, dns.rdataset.Rdataset]], name: Name,
           node: dict[TypeKey, dns.rrset.RRset]) -> None:
    """Keep the node of *name*, which the reader has left, compact: a OneRRset when it holds
    one RRset, and each RRset of one record a SoleRRset. The name forgets its hash, an int of
    36 bytes: the zone's dict keeps it, and a lookup hashes the name asked for, not the owner
    (one hashed again caches it again)."""
    if len(node) == 1:
        for only_key, only in node.items():
            nodes[name] = OneRRset(only_key, only)
            one_rdata_items(only)
    else:
        for rrset in node.values():
            one_rdata_items(rrset)
    if type(name) is FastName:
        forget_hash(name)


def _place_late(late: list[tuple[Name, TypeKey, dns.rdata.Rdata, Where | int]],
                nodes: Mapping[Name, Mapping[TypeKey, dns.rdataset.Rdataset]], places: RecordPlaces) -> None:
    """Record the places of records read after their RRset's node was left (after the
    RRset's other records: each RRset's places stay in file order)."""
    numbers = {id(nodes[name][(rdtype, rdata.covers())]): i for i, (name, rdtype, rdata) in enumerate(places.firsts())}
    for name, key, rdata, place in late:
        places.add_to(numbers[id(nodes[name][key])], rdata, place)


def _place(place: Where | int, source: str) -> Where:
    """A record's place as the reader keeps it (a line of *source*, or a Where) as a Where."""
    return Where(source, place) if isinstance(place, int) else place


_KEYS: dict[RdataType, TypeKey] = {}
"""The node key of each type (covering no type), made once and shared by every node."""
_COVERING = frozenset({dns.rdatatype.RRSIG, dns.rdatatype.SIG})
"""The types whose records cover another type (``Rdata.covers()``); every other type's cover NONE."""


_RDATA_BOUND = {
    # the largest data a record of the type can have, in octets: RRsets of these
    # types are measured record by record only when they might not fit
    dns.rdatatype.A: 4, dns.rdatatype.AAAA: 16, dns.rdatatype.NS: 255, dns.rdatatype.CNAME: 255,
    dns.rdatatype.PTR: 255, dns.rdatatype.DNAME: 255, dns.rdatatype.MX: 257, dns.rdatatype.SRV: 261,
    dns.rdatatype.SOA: 530, dns.rdatatype.DS: 4 + 64, dns.rdatatype.SSHFP: 2 + 64,
}


_TXT_TYPES = frozenset({dns.rdatatype.TXT, dns.rdatatype.SPF})
"""Types whose data is TXTBase's: strings, each one octet of length and its octets."""


def _txt_size(rrset: dns.rrset.RRset, per_record: int) -> int:
    """The size of a TXT RRset's records in a message (owners compressed), without their to_wire."""
    size = 0
    for rdata in rrset:
        if not isinstance(rdata, dns.rdtypes.txtbase.TXTBase):
            return MAX_MESSAGE + 1  # measured by to_wire
        strings = rdata.strings
        size += per_record + len(strings) + sum(map(len, strings))
    return size


def _check_size(name: Name, rrset: dns.rrset.RRset, places: RecordPlaces) -> None:
    """Refuse an RRset that no DNS message can carry: its records with the question
    for them are over 65,535 octets (fakens would SERVFAIL every query for it and
    every AXFR of the zone)."""
    per_record = 2 + 10  # a compressed owner, type, class, TTL and data length
    bound = _RDATA_BOUND.get(rrset.rdtype)
    if bound is not None and 12 + 255 + 4 + len(rrset) * (per_record + bound) <= MAX_MESSAGE:
        return
    if rrset.rdtype in _TXT_TYPES and 12 + 255 + 4 + _txt_size(rrset, per_record) <= MAX_MESSAGE:
        return
    fixed = 12 + len(name.to_wire() or b"") + 4  # header and question
    sizes = [len(rdata.to_wire() or b"") for rdata in rrset]
    text = dns.rdatatype.to_text(rrset.rdtype)
    biggest = max(sizes)
    if biggest > MAX_MESSAGE:
        rdata = list(rrset)[sizes.index(biggest)]
        where = places.get((name, rrset.rdtype, rdata)) or places.first.get((name, rrset.rdtype))
        raise ZoneError(
            f"{where or name}: {name} {text}: the record's data is {biggest:,} octets, more than a record holds "
            f"({MAX_MESSAGE:,}: its length is 16 bits, RFC 1035 3.2.1) and more than any DNS message holds; "
            f"split it over several records or names; nothing from this zone was loaded")
    size = fixed + sum(per_record + s for s in sizes)
    if size <= MAX_MESSAGE:
        return
    renderer = dns.renderer.Renderer(0, 0, MAX_MESSAGE)
    try:
        renderer.add_question(name, rrset.rdtype, rrset.rdclass)
        renderer.add_rrset(dns.renderer.ANSWER, rrset)
        return  # fits once names in the data are compressed
    except (dns.exception.TooBig, dns.exception.FormError):
        pass
    where = places.first.get((name, rrset.rdtype))
    count = len(rrset)
    raise ZoneError(
        f"{where or name}: {name} {text}: the RRset is {size:,} octets ({count:,} record{'s' if count != 1 else ''}), "
        f"more than any DNS message holds ({MAX_MESSAGE:,} octets over TCP); no query for it could be answered "
        f"and no AXFR of the zone could be sent: make it smaller (fewer or shorter records, or split it "
        f"over several names); nothing from this zone was loaded")
