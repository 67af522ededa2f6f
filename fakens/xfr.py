"""Zone transfers (AXFR, IXFR) as RRset sequences, and NOTIFY messages.

The sequences here are DNS meaning; :func:`fakens.wire.encode_stream` cuts
them into messages::

    axfr_rrsets(zone.current)               # SOA, ..., SOA
    ixfr_rrsets(zone, client_serial=3)      # SOA(new), SOA(3), -old, SOA(new), +new, SOA(new)
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from fakens.zones import Name, Zone, ZoneVersion, serial_gt, to_rrset


def axfr_rrsets(version: ZoneVersion) -> list[dns.rrset.RRset]:
    """The whole zone: its SOA, every other RRset, its SOA again (RFC 5936)."""
    rrsets = version.rrsets()
    return rrsets + [rrsets[0]]


def ixfr_rrsets(zone: Zone, client_serial: int, version: ZoneVersion | None = None) -> list[dns.rrset.RRset]:
    """The IXFR answer (RFC 1995) for a client at *client_serial*.

    - a single SOA when the client is not older than *version* (RFC 1982);
    - one condensed difference from the newest kept version with the
      client's serial, when the history reaches back that far;
    - the whole zone in AXFR form otherwise (allowed by RFC 1995 section 4).
    """
    current = version or zone.current
    soa = to_rrset(current.origin, current.soa)
    if not serial_gt(current.serial, client_serial):
        return [soa]
    old = zone.version_with_serial(client_serial)
    if old is None or old.number > current.number:
        return axfr_rrsets(current)
    old_records = old.records()
    new_records = current.records()
    deleted = [r for r in old_records - new_records if r[2].rdtype != dns.rdatatype.SOA]
    added = [r for r in new_records - old_records if r[2].rdtype != dns.rdatatype.SOA]
    out = [soa, to_rrset(old.origin, old.soa)]
    out.extend(_as_rrsets(deleted))
    out.append(soa)
    out.extend(_as_rrsets(added))
    out.append(soa)
    return out


def _as_rrsets(records: list[tuple[Name, int, dns.rdata.Rdata]]) -> list[dns.rrset.RRset]:
    grouped: dict[tuple[Name, int, int], dns.rrset.RRset] = {}
    for name, ttl, rdata in sorted(records, key=lambda r: (r[0], r[2].rdtype, r[2].to_text())):
        key = (name, rdata.rdtype, ttl)
        rrset = grouped.get(key)
        if rrset is None:
            rrset = grouped[key] = dns.rrset.RRset(name, rdata.rdclass, rdata.rdtype, rdata.covers())
        rrset.add(rdata, ttl)
    return list(grouped.values())


def make_notify(version: ZoneVersion) -> dns.message.Message:
    """A NOTIFY for *version* (RFC 1996): opcode NOTIFY, AA, the SOA in ANSWER."""
    message = dns.message.Message()
    # Flags before the opcode: setting flags after set_opcode would clear it.
    message.flags = dns.flags.AA
    message.set_opcode(dns.opcode.NOTIFY)
    message.question.append(dns.rrset.RRset(version.origin, dns.rdataclass.IN, dns.rdatatype.SOA))
    message.answer.append(to_rrset(version.origin, version.soa))
    return message
