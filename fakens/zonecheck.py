"""Checks of zone data that fakens serves anyway: each finding is a warning.

Zones that are wrong on purpose are the product (FAULTS.md, last section), so
nothing here refuses data; ``fakens zone check`` prints these with file:line::

    for warning in check_version(zone.current):
        print(warning)   # zones/x.zone:12: warning: ... [cname-and-other-data]

The loader (:meth:`fakens.zones.Zone.from_file` and friends) runs these on the
version it loads; this module knows versions, not how they are loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.SOA

from fakens.zoneversion import Name, Where, ZoneVersion

_CNAME = dns.rdatatype.CNAME
_NONE = dns.rdatatype.NONE
_DNSSEC_TYPES = {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3}
_TARGET_FIELDS = {
    dns.rdatatype.MX: "exchange",
    dns.rdatatype.NS: "target",
    dns.rdatatype.PTR: "target",
    dns.rdatatype.SRV: "target",
}


@dataclass(frozen=True)
class ZoneWarning:
    """Something wrong with zone data that fakens serves anyway."""

    where: Where | None
    code: str
    message: str

    def __str__(self) -> str:
        place = f"{self.where}: " if self.where else ""
        return f"{place}warning: {self.message} [{self.code}]"


def check_version(version: ZoneVersion) -> list[ZoneWarning]:
    """Warnings for one version of a zone, in file order where known."""
    warnings: list[ZoneWarning] = []

    def warn(name: Name, rdtype: dns.rdatatype.RdataType, code: str, message: str,
             rdata: dns.rdata.Rdata | None = None) -> None:
        where = version.record_where.get((name, rdtype, rdata)) if rdata is not None else None
        warnings.append(ZoneWarning(where or version.where.get((name, rdtype)), code, message))

    origin = version.origin
    depth = len(origin.labels)
    origin_labels = origin.labels
    cname_key = (_CNAME, _NONE)
    # the owners of CNAMEs: a zone without any (most big zones) looks up no record's target
    cnames = {name for name, node in version.nodes.items() if cname_key in node}
    for name, node in version.nodes.items():
        has_cname = cname_key in node
        if has_cname:
            types = {key[0] for key in node}
            others = types - {_CNAME} - _DNSSEC_TYPES
            if name == origin:
                warn(name, _CNAME, "cname-at-apex",
                     f"{name} CNAME at the zone apex, beside SOA and NS (RFC 1912 2.4); "
                     f"queries for the apex's own types get them, others get the CNAME")
            elif others:
                listed = " ".join(sorted(dns.rdatatype.to_text(t) for t in others))
                warn(name, _CNAME, "cname-and-other-data",
                     f"{name} has a CNAME and other data ({listed}) (RFC 1034 3.6.2); "
                     f"a query for a type present gets it, other types get the CNAME")
        for key, rdataset in node.items():
            rdtype = key[0]
            if rdataset.ttl == 0:
                warn(name, rdtype, "ttl-zero", f"{name} {dns.rdatatype.to_text(rdtype)} has TTL 0: it is never cached")
            if not cnames:
                continue
            field = _TARGET_FIELDS.get(rdtype)
            if field is None:
                continue
            for rdata in rdataset:
                target = cast(dns.name.Name, getattr(rdata, field))
                if target in cnames:
                    warn(name, rdtype, "target-is-cname",
                         f"{name} {dns.rdatatype.to_text(rdtype)} points at {target}, which is a CNAME "
                         f"(RFC 2181 10.3)", rdata)
        below = len(name.labels) - depth  # the labels below the origin: the name relativized
        own = (name.labels[:below] if below >= 0 and name.labels[below:] == origin_labels
               else name.relativize(origin).labels)
        for label in own:
            if label.isascii() and b"_" not in label and not label.isdigit():
                continue  # the common label: nothing to say
            types = {key[0] for key in node}
            if not label.isascii():
                shown = dns.name.Name([label]).to_text()
                warn(name, next(iter(types)), "bad-hostname",
                     f"{name}: label {shown!r} has bytes outside ASCII, served as they are (as BIND and NSD do; "
                     f"BIND warns too); an internationalized name is written as IDNA, xn--...")
                continue
            text = label.decode("ascii", "replace")
            if label == b"*" or text.startswith("_"):
                continue
            if "_" in text:
                warn(name, next(iter(types)), "bad-hostname", f"{name}: label {text!r} has an underscore (RFC 952 hostname rules)")
            elif text.isdigit() and types & {dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.MX}:
                warn(name, next(iter(types)), "bad-hostname", f"{name}: label {text!r} is all digits (RFC 1912 2.1)")
        if has_cname:
            _check_cname_chain(version, name, warn)

    chaos = version.rdclass == dns.rdataclass.CH  # CHAOS data has no addresses to want
    apex_ns = version.get(origin, dns.rdatatype.NS)
    if apex_ns is None:
        warn(origin, dns.rdatatype.SOA, "no-ns", f"{origin} has no NS records at the apex; served as it is")
    else:
        count = len(apex_ns)
        if count < 2:
            warn(origin, dns.rdatatype.NS, "too-few-ns", f"{origin} has {count} NS record; RFC 1912 2.8 asks for at least 2")
        elif count > 7:
            warn(origin, dns.rdatatype.NS, "too-many-ns",
                 f"{origin} has {count} NS records; more than 7 may not fit a 512-byte referral (RFC 1912 2.8)")
        for rdata in apex_ns:
            host = cast(dns.name.Name, rdata.target)
            if host.is_subdomain(origin) and not _has_address(version, host) and not chaos:
                warn(origin, dns.rdatatype.NS, "ns-no-address",
                     f"NS host {host} is in the zone but has no A or AAAA record "
                     f"(BIND refuses such a zone: 'NS has no address records')", rdata)
    for cut in version.cuts:
        ns_set = version.get(cut, dns.rdatatype.NS)
        assert ns_set is not None
        for rdata in ns_set:
            host = cast(dns.name.Name, rdata.target)
            if host.is_subdomain(cut) and not _has_address(version, host) and not chaos:
                warn(cut, dns.rdatatype.NS, "missing-glue",
                     f"delegation {cut}: NS host {host} is inside the delegated zone but has no glue address", rdata)

    soa = version.soa_rdata
    if (soa.rname.labels and len(soa.rname.labels) < 3) or b"@" in soa.rname.to_text().encode():
        warn(origin, dns.rdatatype.SOA, "soa-rname", f"SOA RNAME {soa.rname} is not a usable mailbox (user.domain.)")
    if soa.retry >= soa.refresh:
        warn(origin, dns.rdatatype.SOA, "soa-timers", f"SOA retry {soa.retry} is not below refresh {soa.refresh}")
    if soa.expire <= soa.refresh:
        warn(origin, dns.rdatatype.SOA, "soa-timers", f"SOA expire {soa.expire} is not above refresh {soa.refresh}")
    if soa.minimum > 86400:
        warn(origin, dns.rdatatype.SOA, "soa-timers", f"SOA minimum {soa.minimum} exceeds one day (RFC 2308 advises 1-3 hours)")
    warnings.sort(key=lambda w: (w.where.file, w.where.line) if w.where else ("", 0))
    return warnings


def _has_address(version: ZoneVersion, host: Name) -> bool:
    return version.get(host, dns.rdatatype.A) is not None or version.get(host, dns.rdatatype.AAAA) is not None


def _check_cname_chain(version: ZoneVersion, name: Name, warn: object) -> None:
    cname = version.get(name, _CNAME)
    if cname is None:
        return
    seen = [name]
    current = name
    while True:
        rdataset = version.get(current, _CNAME)
        if rdataset is None:
            break
        current = cast(dns.rdtypes.ANY.CNAME.CNAME, rdataset[0]).target
        if current in seen:
            path = " -> ".join(str(n) for n in seen + [current])
            warn(name, _CNAME, "cname-loop", f"CNAME loop: {path}")  # type: ignore[operator]
            return
        seen.append(current)
    if len(seen) > 2:
        path = " -> ".join(str(n) for n in seen)
        warn(name, _CNAME, "cname-chain", f"CNAME chain of {len(seen) - 1}: {path} (RFC 1912 2.4)")  # type: ignore[operator]
