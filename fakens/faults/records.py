"""Answers that lie: nxdomain, nodata, rcode, stale-data, ttl, flags."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import dns.exception
import dns.flags
import dns.name
import dns.rcode
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.zonefile

from fakens.answer import Answer, Kind
from fakens.dnssec.forge import SignedLies, true_signatures
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register
from fakens.faults.view import Act, ErrorReply, Replaced, Unchanged
from fakens.zones import ZoneVersion

if TYPE_CHECKING:
    from fakens.faults.view import Encoding, View, ZoneHistory


def can_make_negative(answer: Answer, kind: Kind, zone_name: dns.name.Name | None) -> bool:
    """Would :func:`make_negative` change *answer*?"""
    return (zone_name or answer.zone) is not None and not (answer.kind is kind and zone_name is None)


def make_negative(view: View, answer: Answer, kind: Kind, zone_name: dns.name.Name | None) -> str | None:
    """Turn *answer* into an authoritative NXDOMAIN or NODATA with a zone's SOA."""
    origin = zone_name or answer.zone
    if origin is None or not can_make_negative(answer, kind, zone_name):
        return None  # already so: nothing changed (the log lists the fault in matched)
    zone = view.zones.get(origin)
    if zone is None:
        return Unchanged(f"zone {origin} not served")
    version = answer.version_of(zone)
    answer.kind = kind
    answer.rcode = dns.rcode.NXDOMAIN if kind is Kind.NXDOMAIN else dns.rcode.NOERROR
    answer.aa = True
    answer.answer = []
    answer.authority = [view.zones.negative(version)]
    answer.glue = []
    answer.additional = []
    return f"{kind.value} with the SOA of {origin}"


_RESIGN = Param("bool", False, "on a signed zone: sign the lie (default: it carries no valid signature)")


def signed_negative(view: View, answer: Answer, kind: Kind, lies: SignedLies) -> Replaced | None:
    """On a signed zone: *answer* made NXDOMAIN or NODATA from the zone's data without the
    name (or the query type), signed with a valid proof; None when it cannot be (unsigned
    zone, the apex for NXDOMAIN, already so)."""
    zone = view.zones.get(answer.zone) if answer.zone is not None else None
    if zone is None or zone.signer is None or view.question is None or answer.kind is kind:
        return None
    if kind is Kind.NXDOMAIN and view.qname == zone.origin:
        return None
    types = () if kind is Kind.NXDOMAIN else (int(view.qtype),)
    lie = lies.answer(view, answer, zone, view.qname, types)
    if lie.kind is not kind:
        return None
    what = "name" if kind is Kind.NXDOMAIN else "type"
    return Replaced(f"{kind.value} signed from the zone without the {what}", lie)


class _Negative(Fault):
    """nxdomain and nodata: a negative answer for data that exists."""

    kind: Kind = Kind.NXDOMAIN
    params = {
        "soa_zone": Param("name", None, "zone whose SOA goes in AUTHORITY (default: the answer's zone)"),
        "resign": _RESIGN,
    }

    def validate(self) -> None:
        if self.resign and self.soa_zone is not None:
            raise ConfigError(f"fault {self.type_name}: resign=true signs the answer's own zone; remove soa_zone")
        self._lies = SignedLies()

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return isinstance(arg, Answer) and can_make_negative(arg, self.kind, self.soa_zone)

    def after(self, view: View, answer: Answer) -> str | Replaced | None:
        if self.resign:
            signed = signed_negative(view, answer, self.kind, self._lies)
            if signed is not None:
                return signed
        return make_negative(view, answer, self.kind, self.soa_zone)


@register
class NxDomain(_Negative):
    """Name: nxdomain

    Imitates: a server that says names do not exist when they do (the .io outage
    of 2017: 2 of 7 TLD servers answered NXDOMAIN for existing delegations).

    Parameters: ``soa_zone`` (default: the zone of the answer): whose SOA goes in
    AUTHORITY, e.g. the TLD's on a TLD server.

    Client sees: NXDOMAIN, AA=1, empty ANSWER, the SOA in AUTHORITY with TTL
    min(SOA TTL, SOA minimum), so resolvers cache the failure.

    Signed zones: by default the lie carries no signature and no NSEC/NSEC3 proof (a
    validator: bogus, SERVFAIL); ``resign``=true serves it as a zone signed without the
    name would: the SOA signed and a valid NSEC/NSEC3 proof (a validator: a SECURE
    NXDOMAIN, the same as ``bad-denial mode=deny-name``).

    Example: ``nxdomain qname=**.io. probability=0.3 seed=7``
    """

    type_name = "nxdomain"
    summary = "NXDOMAIN with the zone's (or a named zone's) SOA for names that exist"
    kind = Kind.NXDOMAIN


@register
class NoData(_Negative):
    """Name: nodata

    Imitates: a server that hides data that exists (broken AAAA or CAA handling).

    Parameters: ``soa_zone`` as for nxdomain.

    Client sees: NOERROR, AA=1, empty ANSWER, the SOA in AUTHORITY.

    Signed zones: by default no signature and no proof (bogus); ``resign``=true: the SOA
    signed and the NSEC/NSEC3 of the name without the query type in its bitmap (SECURE
    NODATA, as ``bad-denial mode=deny-type``).

    Example: ``nodata qtype=AAAA``
    """

    type_name = "nodata"
    summary = "NOERROR with no data and the SOA, for data that exists"
    kind = Kind.NODATA


@register
class Rcode(Fault):
    """Name: rcode

    Imitates: a server that fails with an error code (SERVFAIL for one type only,
    REFUSED, NOTIMP, FORMERR, NOTAUTH ...).

    Parameters: ``rcode`` (default SERVFAIL); ``question`` (default true): echo
    the question or send an empty question section. An extended RCODE (BADVERS,
    BADCOOKIE ...) is carried in an OPT record, added when the query had none.

    Client sees: the rcode, no records, AA=0.

    Example: ``rcode rcode=SERVFAIL qtype=AAAA``
    """

    type_name = "rcode"
    summary = "reply with any RCODE, with or without the question"
    params = {
        "rcode": Param("rcode", dns.rcode.SERVFAIL, "the RCODE to send"),
        "question": Param("bool", True, "echo the question"),
    }

    def before(self, view: View) -> Act | None:
        return Act(f"rcode {dns.rcode.to_text(self.rcode)}", ErrorReply(self.rcode, question=self.question))


def _read_records(text: str, origin: dns.name.Name, default_ttl: int) -> list[dns.rrset.RRset]:
    """Records separated by ';' (or line breaks); lines for one name and type make one RRset."""
    lines = "\n".join(line.strip() for line in text.replace(";", "\n").splitlines() if line.strip())
    rrsets: list[dns.rrset.RRset] = dns.zonefile.read_rrsets(lines, origin=origin, default_ttl=default_ttl,
                                                             rdclass=None)
    return rrsets


@register
class StaleData(Fault):
    """Name: stale-data

    Imitates: a server answering with old data (an old provider's server, a
    secondary that missed updates): mail still goes to the old server.

    Modes: ``version`` (default): answer from an older version of the zone kept in
    its history (``back`` versions back, default 1, or the version with ``serial``);
    ``records``: answer with given replacement records, e.g.
    ``records="www 300 A 192.0.2.1; mail 300 A 192.0.2.2"`` (names relative to the zone;
    records of one name and type together replace that RRset, e.g. two old MX; a record
    without TTL gets the SOA minimum).

    Parameters: ``back``, ``serial``, ``records``, ``zone`` (default: the answer's zone).

    Client sees: an ordinary authoritative answer with the old data.

    Signed zones: by default each RRset carries the signatures the zone's current data
    has at its name and type, so old data does not verify (bogus, SERVFAIL), records the
    zone no longer has come without RRSIG, and unchanged RRsets still validate: a server
    whose data went wrong after signing. ``resign``=true: the old data validly signed
    (SECURE: a zone signed with the wrong data, or a secondary serving an old signed copy).

    Transfers: AXFR and IXFR send the current version, in both modes: a fault edits one
    answer at a time, and a transfer sends the zone's current version whole, so a secondary
    would need every answer's edit applied to the zone at once; to give a secondary the same
    broken zone, break the zone itself (``server.zone(...).edit(...)``, ``fakens ctl zone
    edit`` or a zone file), which AXFR and IXFR carry.

    Example: ``stale-data mode=records records="@ 3600 MX 10 oldmail.example.test."``
    """

    type_name = "stale-data"
    summary = "answers from an older zone version or with given old records"
    modes = ("version", "records")
    params = {
        "back": Param("int", 1, "how many versions back (mode version)"),
        "serial": Param("int", None, "the serial of the version to serve (mode version)"),
        "records": Param("str", None, "replacement records, ';'-separated (mode records)"),
        "zone": Param("name", None, "the zone (default: the answer's zone)"),
        "resign": _RESIGN,
    }

    def validate(self) -> None:
        if self.mode == "records":
            if not self.records:
                raise ConfigError("fault stale-data mode=records needs records=\"NAME TTL TYPE DATA; ...\"")
            try:  # check the syntax now (names are made absolute with the real zone when used)
                _read_records(str(self.records), dns.name.from_text("syntax-check.invalid."), 300)
            except dns.exception.DNSException as e:
                raise ConfigError(f"fault stale-data: records={self.records!r}: {e}") from None
        self._patched: dict[int, ZoneVersion] = {}

    def _old_version(self, zone: ZoneHistory | None, origin: dns.name.Name) -> ZoneVersion | None:
        if zone is None:
            return None
        if self.mode == "version":
            if self.serial is not None:
                return zone.version_with_serial(self.serial)
            history = zone.history
            return history[-1 - self.back] if len(history) > self.back else history[0]
        current = zone.current
        patched = self._patched.get(current.number)
        if patched is None:
            nodes = {name: dict(node) for name, node in current.nodes.items()}
            for rrset in _read_records(str(self.records), origin, current.soa_rdata.minimum):
                rdataset = dns.rdataset.Rdataset(rrset.rdclass, rrset.rdtype, rrset.covers, rrset.ttl)
                rdataset.update(rrset)
                nodes.setdefault(rrset.name, {})[(rrset.rdtype, rrset.covers)] = rdataset
            patched = ZoneVersion(origin, nodes, current.rdclass, current.where)
            self._patched = {current.number: patched}
        return patched

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return isinstance(arg, Answer) and (self.zone or arg.zone) is not None

    def after(self, view: View, answer: Answer) -> str | Replaced | None:
        origin = self.zone or answer.zone
        if origin is None or view.question is None:
            return None
        zone = view.zones.get(origin)
        old = self._old_version(zone, origin)
        if zone is None or old is None:
            return Unchanged(f"no such version of {origin}")
        if self.mode == "version" and old.number == answer.version_of(zone).number:
            return Unchanged(f"no older version of {origin} kept")
        versions = dict(answer.versions or {})
        versions[origin] = old
        fresh = view.zones.answer(view.question, versions=versions, dnssec_ok=answer.dnssec_ok)
        if fresh.dnssec_ok and not self.resign:
            true_signatures(fresh, view.zones)
        return Replaced(f"answered from {origin} serial {old.serial} (version #{old.number})", fresh)


@register
class Ttl(Fault):
    """Name: ttl

    Imitates: TTLs that govern a migration: long TTLs that keep old data cached,
    or a negative-caching time set too long or too short.

    Parameters: ``ttl``: the TTL of every ANSWER record (AUTHORITY and ADDITIONAL
    keep theirs); ``negative``: the SOA minimum and TTL of the SOA in negative
    answers (so the negative TTL). Applied to the final answer, after other faults.

    Client sees: the same records with the given TTLs.

    Signed zones: signatures stay valid: the TTL is not what is signed (validators
    cap a TTL above the RRSIG's original TTL, RFC 4035 5.3.3).

    Example: ``ttl ttl=86400 qname=www.example.test.``
    """

    type_name = "ttl"
    summary = "override TTLs of answers and/or the negative-caching TTL"
    params = {
        "ttl": Param("int", None, "TTL for ANSWER records"),
        "negative": Param("int", None, "SOA minimum and TTL in negative answers"),
    }

    def validate(self) -> None:
        if self.ttl is None and self.negative is None:
            raise ConfigError("fault ttl needs ttl=SECONDS and/or negative=SECONDS")

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        answer = getattr(arg, "answer", None)
        if not isinstance(answer, Answer):
            return False
        return bool((self.ttl is not None and answer.answer)
                    or (self.negative is not None and answer.kind in (Kind.NXDOMAIN, Kind.NODATA)))

    def encoding(self, view: View, enc: Encoding) -> str | None:
        # at encoding time, so that it also sees answers other faults made (nxdomain ...)
        answer = enc.answer
        if answer is None:
            return None
        actions = []
        if self.ttl is not None and answer.answer:
            answer.answer = [_with_ttl(r, self.ttl) for r in answer.answer]
            actions.append(f"answer TTL {self.ttl}")
        if self.negative is not None and answer.kind in (Kind.NXDOMAIN, Kind.NODATA):
            new = []
            for rrset in answer.authority:
                if rrset.rdtype == dns.rdatatype.SOA:
                    soa = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0])
                    replaced = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype)
                    replaced.add(soa.replace(minimum=self.negative), self.negative)
                    rrset = replaced
                new.append(rrset)
            answer.authority = new
            actions.append(f"negative TTL {self.negative}")
        return ", ".join(actions) or None


def _with_ttl(rrset: dns.rrset.RRset, ttl: int) -> dns.rrset.RRset:
    copy = dns.rrset.RRset(rrset.name, rrset.rdclass, rrset.rdtype, rrset.covers)
    copy.update(rrset)
    copy.ttl = ttl
    return copy


_FLAG_BITS = {"AA": dns.flags.AA, "TC": dns.flags.TC, "RA": dns.flags.RA, "AD": dns.flags.AD,
              "CD": dns.flags.CD, "RD": dns.flags.RD}


@register
class Flags(Fault):
    """Name: flags

    Imitates: header flags a correct authoritative server would not send, such as
    RA (recursion offered by an authoritative server) or a missing AA.

    Parameters: ``set`` and ``clear``: flags among AA, TC, RA, AD, CD, RD,
    separated by commas. Set before the reply is signed, so TSIG stays valid.

    Client sees: the reply with those header bits set or cleared.

    Example: ``flags set=RA,AD clear=AA``
    """

    type_name = "flags"
    summary = "set or clear AA, TC, RA, AD, CD in the reply"
    params = {
        "set": Param("list", (), "flags to set"),
        "clear": Param("list", (), "flags to clear"),
    }

    def validate(self) -> None:
        for flag in (*self.set, *self.clear):
            if flag.upper() not in _FLAG_BITS:
                raise ConfigError(f"fault flags: unknown flag {flag!r}; valid: {', '.join(_FLAG_BITS)}")
        if not self.set and not self.clear:
            raise ConfigError("fault flags needs set=FLAGS and/or clear=FLAGS (e.g. set=RA clear=AA)")
        self._set = sum(_FLAG_BITS[f.upper()] for f in self.set)
        self._clear = sum(_FLAG_BITS[f.upper()] for f in self.clear)

    def encoding(self, view: View, enc: Encoding) -> str | None:
        # in the header before it is written (and TSIG-signed), on every reply, faults' too
        enc.set_flags |= self._set
        enc.clear_flags |= self._clear
        return f"flags set {','.join(self.set) or '-'} cleared {','.join(self.clear) or '-'}"
