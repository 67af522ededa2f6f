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
the two over every zone file of the repository).
"""

from __future__ import annotations

import re
import socket

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.PTR
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.rdtypes.nsbase

from fakens.names import fast_name
from fakens.zoneversion import Name

__all__ = ["owner_name", "plain_record"]

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
_NAMED: dict[dns.rdatatype.RdataType, type[dns.rdtypes.nsbase.NSBase]] = {
    _NS: dns.rdtypes.ANY.NS.NS, _CNAME: dns.rdtypes.ANY.CNAME.CNAME, _PTR: dns.rdtypes.ANY.PTR.PTR}
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
"""An IPv4 address as dnspython reads it (four decimal numbers up to 255, no leading zero): its canonical text."""
_A_LINE = re.compile(rf"([A-Za-z0-9_*-][A-Za-z0-9_*.-]*)[ \t]+(?:([0-9]+)[ \t]+)?(?:[Ii][Nn][ \t]+)?[Aa][ \t]+"
                     rf"({_OCTET}(?:\.{_OCTET}){{3}})[ \t]*(?:;[\t !-'*-\[\]-~]*)?\n?")
"""The commonest plain line: an owner written out, an optional TTL, an optional IN, an A record and
an optional comment, all printable ASCII without a backslash or parenthesis (the owner, the TTL
and the address are its groups)."""
_new = object.__new__
_aton = socket.inet_aton
_set = object.__setattr__


class FastA(dns.rdtypes.IN.A.A):
    """dnspython's A record with its hash made in C: the hash of its four octets, the value
    ``Rdata.__hash__`` gives through the record's wire form (an RRset hashes each record
    it holds: a big zone's load did that 100,000 times, in Python)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(_aton(self.address))


_A_CLASS = FastA
_NAMES: dict[tuple[str, Name], Name] = {}
"""Names in record data, made once per (text, origin): a big zone's MX and NS targets repeat."""


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
            owner, ttl, address = simple.groups()
            if ttl is not None and int(ttl) > _MAX_TTL:
                return None
            return owner_name(owner, origin), None if ttl is None else int(ttl), _valid_address(address)
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
        owner = owner_name(words[0], origin)
        words = words[1:]
    ttl: int | None = None
    classed = False
    i = 0
    while i < 2 and i < len(words):
        word = words[i]
        if ttl is None and word[:1].isdigit():
            if not word.isdigit() or int(word) > _MAX_TTL:
                return None
            ttl = int(word)
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
    parts = text.split(".")
    if parts[-1] == "":
        parts.pop()
        tail: tuple[bytes, ...] = (b"",)
    else:
        tail = origin.labels
    labels = tuple([part.encode() for part in parts]) + tail
    if labels[-1] != b"":
        return dns.name.from_text(text, origin)
    total = 1
    for label in labels[:-1]:
        size = len(label)
        if size == 0 or size > 63:
            return dns.name.from_text(text, origin)
        total += size + 1
    if total > 255:
        return dns.name.from_text(text, origin)
    name: Name = fast_name(labels)
    return name


def _name(text: str, origin: Name) -> Name:
    key = (text, origin)
    name = _NAMES.get(key)
    if name is None:
        name = owner_name(text, origin)
        if len(_NAMES) > 100_000:
            _NAMES.clear()
        _NAMES[key] = name
    return name


def _address(text: str) -> dns.rdata.Rdata:
    """The A record of *text*, made as dnspython's own parser makes it (its address the
    canonical text) without its checks run again: *text* is one."""
    if _IPV4.fullmatch(text) is None:
        return dns.rdtypes.IN.A.A(_IN, _A, text)  # dnspython's error
    return _valid_address(text)


def _valid_address(text: str) -> dns.rdata.Rdata:
    """The A record of *text*, which matches _IPV4."""
    rdata: dns.rdata.Rdata = _new(_A_CLASS)
    _set(rdata, "rdclass", _IN)
    _set(rdata, "rdtype", _A)
    _set(rdata, "rdcomment", None)
    _set(rdata, "address", text)
    return rdata


def _uint16(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise NotPlain
    return int(text)


def _rdata(rdtype: dns.rdatatype.RdataType, data: list[str], origin: Name) -> dns.rdata.Rdata:
    if rdtype == _A and len(data) == 1:
        return _address(data[0])
    if rdtype == _AAAA and len(data) == 1:
        return dns.rdtypes.IN.AAAA.AAAA(_IN, rdtype, data[0])
    if rdtype in _NAMED and len(data) == 1:
        return _NAMED[rdtype](_IN, rdtype, _name(data[0], origin))
    if rdtype == _MX and len(data) == 2:
        return dns.rdtypes.ANY.MX.MX(_IN, rdtype, _uint16(data[0]), _name(data[1], origin))
    if rdtype == _SRV and len(data) == 4:
        return dns.rdtypes.IN.SRV.SRV(_IN, rdtype, _uint16(data[0]), _uint16(data[1]), _uint16(data[2]),
                                      _name(data[3], origin))
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
    return dns.rdtypes.ANY.TXT.TXT(_IN, _TXT, strings)
