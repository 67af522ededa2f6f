"""Signed servers and a validating look at their answers: dnspython as the client, over
real sockets, and dnspython's own validation (``dns.dnssec.validate``) against the DNSKEY
set the server serves."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.rrset
import pytest

import fakens
from fakens.dnssec import DnssecPolicy, sign_zone

ZONE = os.path.join(os.path.dirname(__file__), "..", "..", "zones", "example.test.zone")
ORIGIN = dns.name.from_text("example.test.")


@pytest.fixture
def signed_server(make_server: Callable[..., fakens.Server]) -> Callable[..., fakens.Server]:
    """Start a server of zones/example.test.zone (or *zone*) signed with *policy* (stopped at teardown)."""

    def make(policy: DnssecPolicy | None = None, zone: fakens.Zone | None = None, **options: Any) -> fakens.Server:
        zone = zone or fakens.Zone.from_file(ZONE)
        sign_zone(zone, policy or DnssecPolicy())
        return make_server([zone], **options)

    return make


def ask(server: fakens.Server, qname: str, rdtype: str, do: bool = True, tcp: bool = False) -> dns.message.Message:
    """One query (EDNS 1232, DO as given) to *server* over UDP, or TCP."""
    host, port = server.addresses[0]
    query = dns.message.make_query(qname, rdtype, use_edns=0, want_dnssec=do, payload=1232)
    if tcp:
        return dns.query.tcp(query, host, port=port, timeout=3)
    return dns.query.udp(query, host, port=port, timeout=3, ignore_trailing=False)


def dnskeys(server: fakens.Server, origin: dns.name.Name = ORIGIN,
            now: float | None = None) -> dict[dns.name.Name, dns.rrset.RRset]:
    """The served DNSKEY set, checked against its own RRSIG (the KSK's) at *now* (default:
    the real time), as a validator's keyring."""
    reply = ask(server, origin.to_text(), "DNSKEY", tcp=True)
    keys = reply.find_rrset(reply.answer, origin, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    sig = reply.find_rrset(reply.answer, origin, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY)
    dns.dnssec.validate(keys, sig, {origin: keys}, now=now)
    return {origin: keys}


def validate_section(section: list[dns.rrset.RRset], keyring: dict[dns.name.Name, dns.rrset.RRset],
                     unsigned: tuple[int, ...] = (), now: float | None = None) -> list[dns.rrset.RRset]:
    """Validate every RRset of *section* with its RRSIG (at *now*, default the real time);
    types in *unsigned* may come without one (a referral's NS, glue). The RRsets validated."""
    sigs = {(r.name, r.covers): r for r in section if r.rdtype == dns.rdatatype.RRSIG}
    done = []
    for rrset in section:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            continue
        sig = sigs.get((rrset.name, rrset.rdtype))
        if sig is None:
            assert rrset.rdtype in unsigned, f"no RRSIG for {rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}"
            continue
        dns.dnssec.validate(rrset, sig, keyring, now=now)
        done.append(rrset)
    return done


def rrsigs(message: dns.message.Message) -> list[dns.rrset.RRset]:
    return [r for s in (message.answer, message.authority, message.additional) for r in s
            if r.rdtype == dns.rdatatype.RRSIG]


def has_ad(message: dns.message.Message) -> bool:
    return bool(message.flags & dns.flags.AD)
