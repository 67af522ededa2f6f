"""Zone transfers (AXFR, IXFR): who may transfer, and the RRset sequences; NOTIFY messages.

The sequences here are DNS meaning; :func:`fakens.wire.encode_stream` cuts
them into messages::

    transfer_refusal(zone, question, "tcp", "127.0.0.2", signed=False, ixfr_serial=None, options=options)
    axfr_rrsets(zone.current)               # SOA, ..., SOA
    ixfr_rrsets(zone, client_serial=3)      # SOA(new), SOA(3), -old, SOA(new), +new, SOA(new)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from fakens.options import ServerOptions
from fakens.wire import Question
from fakens.zones import Name, Zone, ZoneVersion, serial_gt, to_rrset

if TYPE_CHECKING:
    from fakens.faults.view import ZoneHistory


def transfer_refusal(zone: Zone | None, question: Question, transport: str, client: str, signed: bool,
                     ixfr_serial: int | None, options: ServerOptions) -> tuple[int, str] | None:
    """(rcode, why) when this transfer request is refused, None when it may go ahead."""
    if question.rdtype == dns.rdatatype.AXFR and transport == "udp":
        return dns.rcode.FORMERR, "AXFR over UDP"
    if zone is None or question.rdclass != dns.rdataclass.IN:
        return dns.rcode.NOTAUTH, "transfer of a name that is not a served zone's apex"
    if not options.allows_transfer(client):
        return dns.rcode.REFUSED, "transfer refused by allow_transfer"
    if options.transfer_requires_tsig and not signed:
        return dns.rcode.REFUSED, "transfer refused: not TSIG-signed"
    if question.rdtype == dns.rdatatype.IXFR and ixfr_serial is None:
        return dns.rcode.FORMERR, "IXFR without the client's SOA in AUTHORITY"
    return None


def transfer_rrsets(zone: Zone, version: ZoneVersion, rdtype: int, ixfr_serial: int | None,
                    ixfr_as_axfr: bool = False) -> list[dns.rrset.RRset]:
    """The RRsets of an AXFR, or of an IXFR from *ixfr_serial* (the whole zone when
    *ixfr_as_axfr* and the client is behind: legal, RFC 1995)."""
    if rdtype == dns.rdatatype.AXFR or ixfr_serial is None:
        return axfr_rrsets(version)
    if ixfr_as_axfr and serial_gt(version.serial, ixfr_serial):
        return axfr_rrsets(version)
    return ixfr_rrsets(zone, ixfr_serial, version)


def axfr_rrsets(version: ZoneVersion) -> list[dns.rrset.RRset]:
    """The whole zone: its SOA, every other RRset, its SOA again (RFC 5936)."""
    rrsets = version.rrsets()
    return rrsets + [rrsets[0]]


def ixfr_rrsets(zone: ZoneHistory, client_serial: int, version: ZoneVersion | None = None) -> list[dns.rrset.RRset]:
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
