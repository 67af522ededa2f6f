"""What the zone-reading rules mean on the wire: real sockets, dnspython as the client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.query
import dns.rcode
import dns.rdatatype
from helpers import address, ask

import fakens
from fakens.zonefile import MAX_MESSAGE
from fakens.zones import Zone

from ._common import HEAD, ttl_in_include


def test_ttl_from_an_include_is_served_after_it(tmp_path: Path, make_server: Callable[..., fakens.Server]) -> None:
    path = ttl_in_include(tmp_path, 60)
    server = make_server(zones=[Zone.from_file(path)])
    for transport in ("udp", "tcp"):
        assert ask(server, "www.t.test.", "A", transport=transport).answer[0].ttl == 86400
        reply = ask(server, "after.t.test.", "A", transport=transport)
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer[0].ttl == 60


def test_generated_records_are_served(make_server: Callable[..., fakens.Server]) -> None:
    zone = Zone.from_text(HEAD + "$GENERATE 1-200 host-${0,3,d} 120 A 10.0.0.$\n")
    server = make_server(zones=[zone])
    reply = ask(server, "host-042.zone.test.", "A")
    assert [r.to_text() for r in reply.answer[0]] == ["10.0.0.42"] and reply.answer[0].ttl == 120
    assert ask(server, "host-201.zone.test.", "A").rcode() == dns.rcode.NXDOMAIN


def test_biggest_rrset_that_fits_is_served_whole_over_tcp(make_server: Callable[..., fakens.Server]) -> None:
    """The size check refuses only what no message holds: an RRset just under 64 KB loads
    and is served whole over TCP (truncated over UDP), and the zone transfers."""
    records = "".join(f'big TXT "{i:03d}{"x" * 240}"\n' for i in range(250))  # about 62,000 octets
    server = make_server(zones=[Zone.from_text(HEAD + records)])
    reply = ask(server, "big.zone.test.", "TXT", transport="tcp")
    assert len(reply.answer[0]) == 250 and len(reply.to_wire()) <= MAX_MESSAGE
    assert ask(server, "big.zone.test.", "TXT", transport="udp").flags & dns.flags.TC
    host, port = address(server)
    count = sum(len(rrset) for m in dns.query.xfr(host, "zone.test.", port=port, timeout=10) for rrset in m.answer)
    assert count == 250 + 5 + 1  # the TXT records, HEAD's five, the closing SOA


def test_lenient_records_are_served_as_read(make_server: Callable[..., fakens.Server]) -> None:
    zone = Zone.from_text(HEAD + f'h HINFO "VPS OS"\nk TXT "{"k" * 400}"\n')
    server = make_server(zones=[zone])
    [hinfo] = ask(server, "h.zone.test.", "HINFO").answer[0]
    assert (hinfo.cpu, hinfo.os) == (b"VPS", b"OS")
    [txt] = ask(server, "k.zone.test.", "TXT", transport="tcp").answer[0]
    assert txt.strings == (b"k" * 255, b"k" * 145)
    assert ask(server, "h.zone.test.", "ANY", transport="tcp").answer  # and ANY carries it


def test_bytes_outside_ascii_are_served_as_bytes(tmp_path: Path, make_server: Callable[..., fakens.Server]) -> None:
    path = tmp_path / "zone.test.zone"
    path.write_bytes(HEAD.encode() + b'latin TXT "M\xfcller"\nm\xc3\xbcller A 192.0.2.9\n')
    server = make_server(zones=[Zone.from_file(path)])
    [txt] = ask(server, "latin.zone.test.", "TXT").answer[0]
    assert txt.strings == (b"M\xfcller",)
    reply = ask(server, "m\\195\\188ller.zone.test.", "A")
    assert reply.answer and reply.answer[0].name.labels[0] == b"m\xc3\xbcller"
    assert ask(server, "xn--mller-kva.zone.test.", "A").rcode() == dns.rcode.NXDOMAIN  # not IDNA
