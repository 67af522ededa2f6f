"""Zone transfers (AXFR, IXFR): who may transfer, and the RRset sequences; NOTIFY messages.

The sequences here are DNS meaning; :func:`fakens.wire.encode_stream` cuts
them into messages::

    transfer_refusal(zone, question, "tcp", "127.0.0.2", signed=False, ixfr_serial=None, options=options)
    axfr_rrsets(zone.current)               # SOA, ..., SOA
    ixfr_rrsets(zone, client_serial=3)      # SOA(new), SOA(3), -old, SOA(new), +new, SOA(new)

:func:`axfr_stream` and :func:`ixfr_stream` give the same sequences made as
they are consumed, with ``None`` at checkpoints (a large zone's work is cut
into small steps so that a server can answer other queries between them)::

    for rrset in axfr_stream(zone.current): ...   # SOA, None, ..., None, ..., SOA
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
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


def transfer_stream(zone: Zone, version: ZoneVersion, rdtype: int, ixfr_serial: int | None,
                    ixfr_as_axfr: bool = False) -> Iterable[dns.rrset.RRset | None]:
    """The RRsets of an AXFR, or of an IXFR from *ixfr_serial* (the whole zone when
    *ixfr_as_axfr* and the client is behind: legal, RFC 1995), made as they are
    consumed, ``None`` at checkpoints (:func:`axfr_stream`)."""
    if rdtype == dns.rdatatype.AXFR or ixfr_serial is None:
        return axfr_stream(version)
    if ixfr_as_axfr and serial_gt(version.serial, ixfr_serial):
        return axfr_stream(version)
    return ixfr_stream(zone, ixfr_serial, version)


SORT_RUN = 2048
"""Owner names put in order per step of :func:`axfr_stream` (a checkpoint after each)."""

_SOA_KEY = (dns.rdatatype.SOA, dns.rdatatype.NONE)


def _canonical_key(name: Name) -> bytes:
    """Bytes that sort as *name* sorts in DNSSEC canonical order (RFC 4034 6.1),
    as dnspython's Name comparison does: labels from the root, lowercased, a
    name before the names below it (each label's 0x00 escaped as 0x00 0xFF,
    each label ended by 0x00 0x00, so no key is a prefix of another's next label)."""
    return b"".join([label.replace(b"\x00", b"\x00\xff") + b"\x00\x00" for label in reversed(name.labels)]).lower()


def axfr_stream(version: ZoneVersion) -> Iterator[dns.rrset.RRset | None]:
    """The AXFR sequence of :func:`axfr_rrsets`, made as it is consumed, with
    ``None`` at checkpoints. The names are put in canonical order in runs of
    ``SORT_RUN`` (a checkpoint after each) merged lazily, so no step takes
    long whatever the zone's size (and few objects are made at once)."""
    soa = to_rrset(version.origin, version.soa)
    yield soa
    owners = list(version.nodes)  # a version never changes: safe to read across checkpoints
    nodes = list(version.nodes.values())
    apex = -1
    apex_key = _canonical_key(version.origin)
    runs: list[list[bytes]] = []
    for start in range(0, len(owners), SORT_RUN):
        run = []
        for i in range(start, min(start + SORT_RUN, len(owners))):
            key = _canonical_key(owners[i])
            if key == apex_key:
                apex = i
            run.append(key + b"\x00\x00" + i.to_bytes(4, "big"))  # sorts after the name, before names below it
        run.sort()
        runs.append(run)
        yield None
    merged = heapq.merge(*[iter(run) for run in runs])  # each run freed as soon as it is used up
    del runs
    for entry in merged:
        i = int.from_bytes(entry[-4:], "big")
        owner, node = owners[i], nodes[i]
        for type_key, rdataset in (sorted(node.items()) if len(node) > 1 else node.items()):
            if i == apex and type_key == _SOA_KEY:
                continue
            yield to_rrset(owner, rdataset)
    yield soa


def axfr_rrsets(version: ZoneVersion) -> list[dns.rrset.RRset]:
    """The whole zone: its SOA, every other RRset (in canonical order), its SOA again (RFC 5936)."""
    return [rrset for rrset in axfr_stream(version) if rrset is not None]


def ixfr_rrsets(zone: ZoneHistory, client_serial: int, version: ZoneVersion | None = None) -> list[dns.rrset.RRset]:
    """The IXFR answer (RFC 1995) for a client at *client_serial*.

    - a single SOA when the client is not older than *version* (RFC 1982);
    - one condensed difference from the newest kept version with the
      client's serial, when the history reaches back that far;
    - the whole zone in AXFR form otherwise (allowed by RFC 1995 section 4).
    """
    return [rrset for rrset in ixfr_stream(zone, client_serial, version) if rrset is not None]


def ixfr_stream(zone: ZoneHistory, client_serial: int, version: ZoneVersion | None = None) -> Iterable[dns.rrset.RRset | None]:
    """The sequence of :func:`ixfr_rrsets`; in AXFR form made as it is consumed
    (:func:`axfr_stream`), a difference computed at once."""
    current = version or zone.current
    soa = to_rrset(current.origin, current.soa)
    if not serial_gt(current.serial, client_serial):
        return [soa]
    old = zone.version_with_serial(client_serial)
    if old is None or old.number > current.number:
        return axfr_stream(current)
    owners = current.owners_changed_since(old)  # (the nodes an edit leaves alone are shared)
    old_records = old.records(owners)
    new_records = current.records(owners)
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
