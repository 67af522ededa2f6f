"""The verbatim answer: a reply made of given records, rcode and flags, from nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.exception
import dns.flags
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.ttl

from fakens.answer import Answer, Kind
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register
from fakens.faults.view import Replaced

if TYPE_CHECKING:
    from fakens.faults.view import Encoding, View

SECTIONS = ("answer", "authority", "additional")
_FLAGS = {"AA": dns.flags.AA, "TC": dns.flags.TC, "RA": dns.flags.RA, "AD": dns.flags.AD, "CD": dns.flags.CD}
_CHECK_ORIGIN = dns.name.from_text("query-name.invalid.")


def _record_class(line: str) -> dns.rdataclass.RdataClass | None:
    """The class written in a record line (after the owner, before or after the TTL), or None."""
    return _fields(line)[2]


def _fields(line: str) -> tuple[str, int | None, dns.rdataclass.RdataClass | None, str, str]:
    """(owner, TTL, class, type, data) of ``OWNER [TTL] [CLASS] TYPE DATA`` (TTL and class in
    either order, each optional)."""
    owner, _, rest = line.strip().partition(" ")
    ttl: int | None = None
    rdclass: dns.rdataclass.RdataClass | None = None
    while True:
        word, _, after = rest.strip().partition(" ")
        if not word:
            raise dns.exception.SyntaxError(f"{line!r} is not a record (OWNER [TTL] [CLASS] TYPE DATA)")
        if ttl is None and word[0].isdigit():
            ttl = dns.ttl.from_text(word)
        elif rdclass is None and _is_class(word):
            rdclass = dns.rdataclass.from_text(word)
        else:
            return owner, ttl, rdclass, word, after.strip()
        rest = after


def _is_class(word: str) -> bool:
    try:
        dns.rdataclass.from_text(word)
    except dns.exception.DNSException:
        return False
    return True


def read_section(lines: tuple[str, ...], origin: dns.name.Name, rdclass: dns.rdataclass.RdataClass,
                 ttl: int) -> list[dns.rrset.RRset]:
    """RRsets from record lines (each of any class: *rdclass* where none is written; *ttl*
    where none is; relative names below *origin*); lines of one owner, class and type make
    one RRset (the first TTL), in the order first seen."""
    rrsets: dict[tuple[dns.name.Name, int, int, int], dns.rrset.RRset] = {}
    for line in lines:
        owner_text, written_ttl, written_class, type_text, data = _fields(line)
        owner = origin if owner_text == "@" else dns.name.from_text(owner_text, origin=origin)
        rdtype = dns.rdatatype.from_text(type_text)
        rdata = dns.rdata.from_text(written_class or rdclass, rdtype, data, origin=origin, relativize=False)
        key = (owner, rdata.rdclass, rdtype, rdata.covers())
        existing = rrsets.get(key)
        if existing is None:
            existing = rrsets[key] = dns.rrset.RRset(owner, rdata.rdclass, rdtype, rdata.covers())
            existing.update_ttl(written_ttl if written_ttl is not None else ttl)
        existing.add(rdata)
    return list(rrsets.values())


@register
class Verbatim(Fault):
    """Name: verbatim

    Imitates: a broken server that sends what no zone could produce: an NS answer owned by a
    name other than the query's, an IN TXT in reply to a CHAOS query, an AUTHORITY section
    from another zone, NXDOMAIN with answer records, an answer without AA.

    Parameters: ``answer``, ``authority``, ``additional``: the records of each section, as
    zone-file lines (owner, optional TTL and class, type, data) separated by ``;`` outside
    quotes, or a list of lines in Python and TOML; any owner (``@`` is the query name,
    relative names are below it), any class (the query's unless written), any TTL (``ttl``,
    default 300, unless written). ``rcode`` (default NOERROR, 0..15: an extended RCODE needs
    the ``rcode`` fault); ``flags``: the header flags among AA, TC, RA, AD, CD, exactly
    (default AA; ``flags=none`` for none; RD is copied from the query, QR set).
    The question is echoed. Queries only (not transfers, not NOTIFY): it replaces the
    engine's answer, so every query the engine answers, served names or not, any class.

    Client sees: exactly those records, that rcode and those flags.

    Example: ``verbatim qname=www.example.test. answer="other.test. 300 IN NS ns.other.test." flags=none``
    """

    type_name = "verbatim"
    summary = "reply with given records in any section, rcode and flags, computed from nothing"
    params = {
        "answer": Param("records", (), "ANSWER records: zone-file lines separated by ';'"),
        "authority": Param("records", (), "AUTHORITY records"),
        "additional": Param("records", (), "ADDITIONAL records"),
        "rcode": Param("rcode", dns.rcode.NOERROR, "the RCODE (0..15)"),
        "flags": Param("list", ("AA",), "header flags among AA, TC, RA, AD, CD (none: no flag)"),
        "ttl": Param("int", 300, "TTL of records written without one"),
    }

    def validate(self) -> None:
        if self.rcode > 15:
            raise ConfigError(f"fault verbatim: rcode={dns.rcode.to_text(self.rcode)} is an extended RCODE; "
                              f"use the rcode fault for it (rcode rcode={dns.rcode.to_text(self.rcode)})")
        words = [f.upper() for f in self.flags if f.lower() != "none"]
        bad = [f for f in words if f not in _FLAGS]
        if bad:
            raise ConfigError(f"fault verbatim: flags={','.join(self.flags)!r}: unknown flag {bad[0]!r}; "
                              f"valid: {', '.join(_FLAGS)} (or none)")
        self._flags = sum(_FLAGS[f] for f in set(words))
        if self.ttl < 0 or self.ttl > 0x7FFFFFFF:
            raise ConfigError(f"fault verbatim: ttl={self.ttl} must be 0..2147483647")
        self._fixed: dict[str, list[dns.rrset.RRset]] | None = {}
        for section in SECTIONS:
            try:  # the syntax now; made again per query when a name is relative to the query name
                rrsets = read_section(self.values[section], _CHECK_ORIGIN, dns.rdataclass.IN, self.ttl)
            except dns.exception.DNSException as e:
                raise ConfigError(f"fault verbatim: {section}={'; '.join(self.values[section])!r}: {e}; write "
                                  f"records as zone-file lines, e.g. {section}=\"other.test. 300 IN NS "
                                  f"ns.other.test.\"") from None
            relative = any(r.name.is_subdomain(_CHECK_ORIGIN) for r in rrsets)
            classless = any(_record_class(line) is None for line in self.values[section])
            if self._fixed is not None and not relative and not classless:
                self._fixed[section] = rrsets
            else:
                self._fixed = None  # depends on the query's name or class

    def _sections(self, view: View) -> dict[str, list[dns.rrset.RRset]]:
        if self._fixed is not None:
            return {k: [_copy(r) for r in v] for k, v in self._fixed.items()}
        return {k: read_section(self.values[k], view.qname, view.qclass, self.ttl) for k in SECTIONS}

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return hook == "after" and isinstance(arg, Answer) and view.question is not None

    def after(self, view: View, answer: Answer) -> Replaced:
        sections = self._sections(view)
        rcode = dns.rcode.Rcode.make(self.rcode)
        if rcode == dns.rcode.NXDOMAIN:
            kind = Kind.NXDOMAIN
        elif rcode != dns.rcode.NOERROR:
            kind = Kind.ERROR
        else:
            kind = Kind.ANSWER if sections["answer"] else Kind.NODATA
        made = Answer(kind, rcode, aa=bool(self._flags & dns.flags.AA), answer=sections["answer"],
                      authority=sections["authority"], additional=sections["additional"])
        counts = "/".join(str(sum(len(r) for r in sections[k])) for k in SECTIONS)
        return Replaced(f"verbatim {dns.rcode.to_text(rcode)} flags {_flag_text(self._flags)} records {counts}", made)

    def encoding(self, view: View, enc: Encoding) -> str | None:
        if enc.answer is None:
            return None
        mask = sum(_FLAGS.values())
        enc.set_flags |= self._flags
        enc.clear_flags |= mask & ~self._flags
        return None


def _flag_text(flags: int) -> str:
    return ",".join(name for name, bit in _FLAGS.items() if flags & bit) or "none"


def _copy(rrset: dns.rrset.RRset) -> dns.rrset.RRset:
    copy = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype, rrset.covers)
    copy.update(rrset)
    return copy
