"""The fast reader of plain zone-file lines: most lines of big zones, without dnspython's tokenizer.

    record = plain_record(line, origin, last_name)   # (owner, ttl or None, rdata) or None

A plain line is one record on one line: an owner (or a blank for the previous owner), an
optional TTL in seconds and an optional class IN (either order), then an A, AAAA, NS, CNAME,
PTR, MX, SRV or TXT record with simple data (TXT: quoted strings without backslashes, or
bare words), and an optional ``;`` comment. ASCII only, no backslash, no parenthesis, no
directive. :func:`plain_record` returns None for every other line, and for any line whose
reading would be an error or a warning: the reader (:mod:`fakens.zonefile`) then reads that
line with dnspython, so errors, warnings and lenient forms are the reference reader's own.
It makes the same records the reference reader does (tests/zones/test_fast_lines.py compares
the two over every zone file of the repository): instances of dnspython's own classes (FastA,
FastAAAA, FastMX ... subclasses that only hash faster, to the same value) made without their
constructors' checks, owned by :class:`FastName` (a Name that compares faster).
"""

from __future__ import annotations

import functools
import re
import socket
import struct

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.rdtypes.mxbase
import dns.rdtypes.nsbase
import dns.rdtypes.txtbase

from fakens.names import fast_name
from fakens.zoneversion import Name

__all__ = ["forget", "owner_name", "plain_record"]

_IN = dns.rdataclass.IN
_MAX_TTL = 2**31 - 1
_NOT_PLAIN = re.compile(r'[^\x20-\x7e\t\n]|[\\()]')
"""Anything outside printable ASCII, tab and newline; an escape; a parenthesis."""
_TXT_DATA = re.compile(r'[ \t]*(?:"([^"\n]*)"|([^ \t\n"();]+))')
_TXT_END = re.compile(r'[ \t]*(?:;[^\n]*)?\n?')

_A, _AAAA, _NS, _CNAME, _PTR, _MX, _SRV, _TXT = (
    dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.NS, dns.rdatatype.CNAME, dns.rdatatype.PTR,
    dns.rdatatype.MX, dns.rdatatype.SRV, dns.rdatatype.TXT)
_TYPES = {"A": _A, "AAAA": _AAAA, "NS": _NS, "CNAME": _CNAME, "PTR": _PTR, "MX": _MX, "SRV": _SRV, "TXT": _TXT}
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""An IPv4 address as dnspython reads it (four decimal numbers up to 255, no leading zero): its canonical text."""
_A_LINE = re.compile(rf"([A-Za-z0-9_*-][A-Za-z0-9_*.-]*)[ \t]+(?:([0-9]+)[ \t]+)?(?:[Ii][Nn][ \t]+)?[Aa][ \t]+"
                     rf"({_OCTET}(?:\.{_OCTET}){{3}})[ \t]*(?:;[\t !-'*-\[\]-~]*)?\n?")
"""The commonest plain line: an owner written out, an optional TTL, an optional IN, an A record and
an optional comment, all printable ASCII without a backslash or parenthesis (the owner, the TTL
and the address are its groups)."""
_OWNER = r"(@|[A-Za-z0-9_*-][A-Za-z0-9_*.-]*)[ \t]+(?:([0-9]+)[ \t]+)?(?:[Ii][Nn][ \t]+)?"
"""An owner written out (or @), an optional TTL and an optional IN (the owner and the TTL are groups)."""
_COMMENT = r"[ \t]*(?:;[\t !-'*-\[\]-~]*)?\n?"
"""The end of a line: an optional comment of printable ASCII without a backslash or parenthesis."""
_WORD = r"[!#-'*-:<-\[\]-~]+"
"""A word of record data: printable ASCII but a quote, a parenthesis, a semicolon or a backslash."""
_TYPED_LINE = re.compile(rf"{_OWNER}([A-Za-z]+)[ \t]+({_WORD}(?:[ \t]+{_WORD})*){_COMMENT}")
"""A line of words: owner, TTL, IN, the type and the data (groups: owner, TTL, type, data); the
type may be any, or the class a word (``h IN 300 A ...``): the fast reader reads the line only
when the type is one of its own."""
_TXT_LINE = re.compile(rf"{_OWNER}[Tt][Xx][Tt][ \t]+\"([\t !#-'*-\[\]-~]*)\"{_COMMENT}")
"""A TXT record of one quoted string without a backslash or parenthesis (groups: owner, TTL, the string)."""
_new = object.__new__
_aton = socket.inet_aton
_pton6 = functools.partial(socket.inet_pton, socket.AF_INET6)
_ntop6 = functools.partial(socket.inet_ntop, socket.AF_INET6)
_set = object.__setattr__
_LENGTH = tuple(bytes((n,)) for n in range(256))
_pack_h = struct.Struct("!H").pack
_pack_hhh = struct.Struct("!HHH").pack


def _digest(name: Name) -> bytes:
    """``name.to_digestable()`` of an absolute name: its wire form in lower case."""
    return b"".join([_LENGTH[len(label)] + label.lower() for label in name.labels])


# dnspython's record classes with the hash made of the record's canonical wire form (the value
# ``Rdata.__hash__`` gives, through dnspython's own to_wire) with C calls: an RRset hashes each
# record it holds, a big zone's load did that in Python for every record. Nothing else differs:
# instances are made by the fast reader without dnspython's checks (the data is already what those
# checks make of it) and compare, pickle, to_wire and to_text as dnspython's own
# (tests/zones/test_fast_lines.py). dnspython's MX, NS, CNAME, PTR and TXT classes add nothing to
# their bases but a class without __slots__, so each instance carries a dict (48 bytes and more):
# the fast classes derive from the bases (MXBase, NSBase, TXTBase), which hold all they do, so
# ``isinstance(rdata, dns.rdtypes.ANY.MX.MX)`` is False for them (``rdata.rdtype`` tells the type).

class FastA(dns.rdtypes.IN.A.A):
    """dnspython's A record, hashed in C (see above)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(_aton(self.address))


class FastAAAA(dns.rdtypes.IN.AAAA.AAAA):
    """dnspython's AAAA record, hashed in C (see above)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(_pton6(self.address))


class FastMX(dns.rdtypes.mxbase.MXBase):
    """dnspython's MX record, hashed without its to_wire (see above)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(_pack_h(self.preference) + _digest(self.exchange))


class FastSRV(dns.rdtypes.IN.SRV.SRV):
    """dnspython's SRV record, hashed without its to_wire (see above)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(_pack_hhh(self.priority, self.weight, self.port) + _digest(self.target))


class FastTXT(dns.rdtypes.txtbase.TXTBase):
    """dnspython's TXT record, hashed without its to_wire (see above)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(b"".join([_LENGTH[len(s)] + s for s in self.strings]))


def _target_hash(self: dns.rdtypes.nsbase.NSBase) -> int:
    return hash(_digest(self.target))


class FastNS(dns.rdtypes.nsbase.NSBase):
    """dnspython's NS record, hashed without its to_wire (see above)."""

    __slots__ = ()
    __hash__ = _target_hash


class FastCNAME(dns.rdtypes.nsbase.NSBase):
    """dnspython's CNAME record, hashed without its to_wire (see above)."""

    __slots__ = ()
    __hash__ = _target_hash


class FastPTR(dns.rdtypes.nsbase.NSBase):
    """dnspython's PTR record, hashed without its to_wire (see above)."""

    __slots__ = ()
    __hash__ = _target_hash


_NAMES: dict[tuple[bytes, ...], dict[str, Name]] = {}
"""Names in record data by origin (its labels) and text, made once while a zone is read (a big
zone's MX and NS targets repeat); an owner written after as the same text is the same Name
object (one Name less in memory). Emptied by :func:`forget` when the read ends."""
_TTLS: dict[str, int] = {}
"""TTLs written out, one int object per value while a zone is read (an int above 256 is
an object of its own: 32 bytes a record)."""


def forget() -> None:
    """Let go of the names and TTLs kept while a zone was read (the zone holds its own)."""
    _NAMES.clear()
    _TTLS.clear()


def _ttl(text: str) -> int | None:
    """The TTL written as *text* (digits), or None when it is too big to be plain."""
    ttl = _TTLS.get(text)
    if ttl is None:
        ttl = int(text)
        if ttl > _MAX_TTL:
            return None
        if len(_TTLS) < 10_000:
            _TTLS[text] = ttl
    return ttl


class NotPlain(Exception):
    """The line is read by the reference reader."""


def plain_record(line: str, origin: Name | None, last_name: Name | None
                 ) -> tuple[Name, int | None, dns.rdata.Rdata] | None:
    """The record of a plain *line* (owner, TTL or None when it takes the inherited one, data),
    or None when the line is not plain (see the module)."""
    if origin is None:
        return None
    simple = _A_LINE.fullmatch(line)
    try:
        if simple is not None:  # most lines of big zones: what _read would make of them, sooner
            owner, ttl_text, address = simple.groups()
            if ttl_text is None:
                return _owner(owner, origin), None, _valid_address(address)
            ttl = _ttl(ttl_text)
            if ttl is None:
                return None
            return _owner(owner, origin), ttl, _valid_address(address)
        typed = _TYPED_LINE.fullmatch(line)
        if typed is not None:  # the other common lines, but TXT: the same, without splitting the line
            owner, ttl_text, type_text, data = typed.groups()
            rdtype = _TYPES.get(type_text.upper())
            if rdtype is not None and rdtype != _TXT:
                ttl = None if ttl_text is None else _ttl(ttl_text)
                if ttl is None and ttl_text is not None:
                    return None
                return _owner(owner, origin), ttl, _rdata(rdtype, data.split(), origin)
        else:
            quoted = _TXT_LINE.fullmatch(line)
            if quoted is not None:  # a TXT record of one quoted string
                owner, ttl_text, text = quoted.groups()
                ttl = None if ttl_text is None else _ttl(ttl_text)
                if (ttl is None and ttl_text is not None) or len(text) > 255:
                    return None
                rdata = _made(FastTXT, _TXT)
                _set(rdata, "strings", (text.encode(),))
                return _owner(owner, origin), ttl, rdata
        if _NOT_PLAIN.search(line) is not None or line[:1] == "$":
            return None
        return _read(line, origin, last_name)
    except (NotPlain, dns.exception.DNSException, ValueError):
        return None


def _read(line: str, origin: Name, last_name: Name | None) -> tuple[Name, int | None, dns.rdata.Rdata] | None:
    quote = line.find('"')
    head = line if quote < 0 else line[:quote]
    if quote < 0:
        comment = head.find(";")
        if comment >= 0:
            head = head[:comment]
    elif ";" in head:
        return None
    words = head.split()
    if not words:
        return None
    if line[0] in " \t":
        if last_name is None:
            return None
        owner = last_name
    else:
        owner = _owner(words[0], origin)
        words = words[1:]
    ttl: int | None = None
    classed = False
    i = 0
    while i < 2 and i < len(words):
        word = words[i]
        if ttl is None and word[:1].isdigit():
            if not word.isdigit():
                return None
            ttl = _ttl(word)
            if ttl is None:
                return None
        elif not classed and word.upper() == "IN":
            classed = True
        else:
            break
        i += 1
    if i >= len(words):
        return None
    rdtype = _TYPES.get(words[i].upper())
    if rdtype is None:
        return None
    data = words[i + 1:]
    if rdtype == _TXT:
        return owner, ttl, _txt(data, line[quote:] if quote >= 0 else "")
    if quote >= 0:
        return None
    return owner, ttl, _rdata(rdtype, data, origin)


def owner_name(text: str, origin: Name) -> Name:
    """``dns.name.from_text(text, origin)`` for plain *text* (ASCII, no backslash), made
    without dnspython's character loop; the labels of *origin* are shared. Anything
    unusual (an empty label, a label or name too long) goes to dnspython, which raises
    its own error."""
    if text == "@":
        return origin
    if text[-1:] == ".":
        parts = text[:-1].split(".")
        tail: tuple[bytes, ...] = _ROOT_LABELS
        total = 1
    else:
        parts = text.split(".")
        tail = origin.labels
        total = _wire_length(tail)
    if total < 0 or not text.isascii():
        return dns.name.from_text(text, origin)
    for part in parts:
        size = len(part)
        if size == 0 or size > 63:
            return dns.name.from_text(text, origin)
        total += size + 1
    if total > 255:
        return dns.name.from_text(text, origin)
    name: Name = fast_name(tuple([part.encode() for part in parts]) + tail)
    return name


_ROOT_LABELS: tuple[bytes, ...] = (b"",)
_LENGTHS: dict[tuple[bytes, ...], int] = {}
"""The wire length of each origin's labels (-1: a relative origin)."""


def _wire_length(labels: tuple[bytes, ...]) -> int:
    total = _LENGTHS.get(labels)
    if total is None:
        total = sum(len(label) + 1 for label in labels) if labels and labels[-1] == b"" else -1
        if len(_LENGTHS) > 1000:
            _LENGTHS.clear()
        _LENGTHS[labels] = total
    return total


def _name(text: str, origin: Name) -> Name:
    """The Name of *text* in record data, made once per read (see _NAMES)."""
    names = _NAMES.get(origin.labels)
    if names is None:
        names = _NAMES[origin.labels] = {}
    name = names.get(text)
    if name is None:
        name = names[text] = owner_name(text, origin)
    return name


def _owner(text: str, origin: Name) -> Name:
    """The Name of an owner: the one of record data already written the same, if any (see _NAMES)."""
    names = _NAMES.get(origin.labels)
    name = names.get(text) if names is not None else None
    return name if name is not None else owner_name(text, origin)


def _address(text: str) -> dns.rdata.Rdata:
    """The A record of *text*, made as dnspython's own parser makes it (its address the
    canonical text) without its checks run again: *text* is one."""
    if _IPV4.fullmatch(text) is None:
        return dns.rdtypes.IN.A.A(_IN, _A, text)  # dnspython's error
    return _valid_address(text)


def _valid_address(text: str) -> dns.rdata.Rdata:
    """The A record of *text*, which matches _IPV4."""
    rdata: dns.rdata.Rdata = _new(FastA)
    _set(rdata, "rdclass", _IN)
    _set(rdata, "rdtype", _A)
    _set(rdata, "rdcomment", None)
    _set(rdata, "address", text)
    return rdata


def _uint16(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise NotPlain
    return int(text)


def _made(cls: type[dns.rdata.Rdata], rdtype: dns.rdatatype.RdataType) -> dns.rdata.Rdata:
    """A record of *cls* without its data yet: what ``Rdata.__init__`` sets (dnspython's
    __init__ of each type sets the rest through the same object.__setattr__)."""
    rdata: dns.rdata.Rdata = _new(cls)
    _set(rdata, "rdclass", _IN)
    _set(rdata, "rdtype", rdtype)
    _set(rdata, "rdcomment", None)
    return rdata


_HEX6 = re.compile(r"[0-9A-Fa-f:]{2,39}")
"""The IPv6 forms read by inet_pton here: hexadecimal groups and colons (a dotted IPv4 tail goes to dnspython)."""
_NTOP_AGREES = all(_ntop6(_pton6(text)) == canonical for text, canonical in (
    ("0:0:0:0:0:ffff:102:304", "::ffff:1.2.3.4"), ("::102:304", "::1.2.3.4"), ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
    ("1:0:0:0:1:0:0:0", "1::1:0:0:0"), ("1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1"), ("0:0:0:0:0:0:0:0", "::"),
    ("00AB::0", "ab::")))
"""The C library writes IPv6 addresses as dnspython does (glibc does: tests/zones/test_fast_lines.py
compares all the zero patterns); if not, AAAA records are made by dnspython."""
_NAMED_FAST: dict[dns.rdatatype.RdataType, type[dns.rdata.Rdata]] = {_NS: FastNS, _CNAME: FastCNAME, _PTR: FastPTR}


def _aaaa(text: str) -> dns.rdata.Rdata:
    """The AAAA record of *text* as dnspython makes it: the address in its canonical text."""
    if _HEX6.fullmatch(text) is None or not _NTOP_AGREES:
        return dns.rdtypes.IN.AAAA.AAAA(_IN, _AAAA, text)  # dnspython's reading, or its error
    try:
        wire = _pton6(text)
    except OSError:  # not an address to the C library: dnspython's error, or its reading
        return dns.rdtypes.IN.AAAA.AAAA(_IN, _AAAA, text)
    rdata = _made(FastAAAA, _AAAA)
    _set(rdata, "address", _ntop6(wire))
    return rdata


def _rdata(rdtype: dns.rdatatype.RdataType, data: list[str], origin: Name) -> dns.rdata.Rdata:
    if rdtype == _A and len(data) == 1:
        return _address(data[0])
    if rdtype == _AAAA and len(data) == 1:
        return _aaaa(data[0])
    if rdtype in _NAMED_FAST and len(data) == 1:
        rdata = _made(_NAMED_FAST[rdtype], rdtype)
        _set(rdata, "target", _name(data[0], origin))
        return rdata
    if rdtype == _MX and len(data) == 2:
        preference = _uint16(data[0])
        rdata = _made(FastMX, _MX)
        _set(rdata, "preference", preference)
        _set(rdata, "exchange", _name(data[1], origin))
        return rdata
    if rdtype == _SRV and len(data) == 4:
        priority, weight, port = _uint16(data[0]), _uint16(data[1]), _uint16(data[2])
        rdata = _made(FastSRV, _SRV)
        _set(rdata, "priority", priority)
        _set(rdata, "weight", weight)
        _set(rdata, "port", port)
        _set(rdata, "target", _name(data[3], origin))
        return rdata
    raise NotPlain


def _txt(words: list[str], quoted: str) -> dns.rdata.Rdata:
    """TXT data: the bare words before the first quote, then *quoted* (from the first quote on)."""
    strings = [w.encode() for w in words]
    pos = 0
    while pos < len(quoted):
        match = _TXT_DATA.match(quoted, pos)
        if match is None:
            break
        text = match.group(1) if match.group(1) is not None else match.group(2)
        strings.append(text.encode())
        pos = match.end()
    end = _TXT_END.fullmatch(quoted, pos)
    if end is None or not strings or any(len(s) > 255 for s in strings):
        raise NotPlain
    rdata = _made(FastTXT, _TXT)
    _set(rdata, "strings", tuple(strings))
    return rdata
