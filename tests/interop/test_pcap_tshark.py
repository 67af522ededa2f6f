"""tshark reads what ``server.log.to_pcap`` writes: UDP and TCP queries, an AXFR, IPv6, a
message split over TCP segments; the names, rcodes, addresses and ports are the real ones, the
reply bytes in the file are those the client received, and every checksum is good."""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.query
import dns.rdata
import dns.rdatatype
import dns.rrset
import pytest
from helpers import frame, read_frame, require_ipv6_loopback
from helpers.procs import run_tool

import fakens
import fakens.pcap

ZONE_FILE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
FIELDS = ("ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport",
          "dns.id", "dns.flags.response", "dns.qry.name", "dns.flags.rcode", "dns.count.answers",
          "udp.payload", "tcp.payload", "ip.checksum.status", "udp.checksum.status", "tcp.checksum.status")
CHECKSUMS = ("-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE")
# any frame tshark finds wrong: malformed, a warning or an error (a bad checksum, a TCP sequence problem)
TROUBLE = "_ws.malformed || _ws.expert.severity >= 0x00600000"

Row = dict[str, str]


@pytest.fixture
def tshark(require_tool: Callable[[str], str]) -> Callable[..., list[Row]]:
    """tshark -r FILE: one dict of FIELDS per DNS message (after checking that no frame is wrong)."""
    path = require_tool("tshark")

    def read(pcap: Path, decode: Sequence[str]) -> list[Row]:
        trouble = run_tool([path, "-r", str(pcap), *decode, *CHECKSUMS, "-Y", TROUBLE])
        assert trouble == "", f"tshark finds frames wrong:\n{trouble}"
        out = run_tool([path, "-r", str(pcap), *decode, *CHECKSUMS, "-Y", "dns", "-T", "fields",
                        "-E", "separator=\t", *(arg for f in FIELDS for arg in ("-e", f))])
        return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]

    return read


def axfr_over_tcp(address: tuple[str, int], origin: str) -> tuple[dns.message.Message, list[bytes]]:
    """An AXFR over a raw socket: the query, and every reply message's bytes as received."""
    query = dns.message.make_query(origin, "AXFR")
    wires: list[bytes] = []
    soas = 0
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(frame(query.to_wire()))
        while soas < 2:
            wires.append(read_frame(sock))
            reply = dns.message.from_wire(wires[-1], xfr=True, one_rr_per_rrset=True)
            soas += sum(1 for rrset in reply.answer if rrset.rdtype == dns.rdatatype.SOA)
    return query, wires


def src(row: Row) -> tuple[str, int]:
    return row["ip.src"] or row["ipv6.src"], int(row["udp.srcport"] or row["tcp.srcport"])


def dst(row: Row) -> tuple[str, int]:
    return row["ip.dst"] or row["ipv6.dst"], int(row["udp.dstport"] or row["tcp.dstport"])


def test_udp_tcp_axfr_and_ipv6_as_tshark_reads_them(make_server: Callable[..., fakens.Server],
                                                    tshark: Callable[..., list[Row]], tmp_path: Path) -> None:
    require_ipv6_loopback()
    big = fakens.Zone.from_text("$ORIGIN gen.test.\n$TTL 300\n@ SOA ns1 hostmaster 7 7200 900 1209600 300\n"
                                "@ NS ns1\nns1 A 127.0.0.1\n$GENERATE 1-3000 host-$ AAAA 2001:db8::$\n")
    server = make_server(zones=[fakens.Zone.from_file(str(ZONE_FILE)), big], listen=["127.0.0.1:0", "[::1]:0"])
    v4, v6 = server.addresses
    udp_query = dns.message.make_query("www.example.test.", "A")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.bind(("127.0.0.1", 0))
        sock.sendto(udp_query.to_wire(), v4)
        udp_reply = sock.recv(65535)
        udp_client = sock.getsockname()
    dns.query.udp(dns.message.make_query("nope.example.test.", "A"), v4[0], port=v4[1], timeout=5)
    dns.query.tcp(dns.message.make_query("www.example.test.", "MX"), v4[0], port=v4[1], timeout=5)
    axfr, axfr_wires = axfr_over_tcp(v4, "gen.test.")
    dns.query.udp(dns.message.make_query("www.example.test.", "AAAA"), v6[0], port=v6[1], timeout=5)
    dns.query.tcp(dns.message.make_query("nope.example.test.", "TXT"), v6[0], port=v6[1], timeout=5)
    entries = list(server.log)
    assert len(entries) == 6 and len(axfr_wires) > 2

    pcap = tmp_path / "queries.pcap"
    server.log.to_pcap(str(pcap))
    rows = tshark(pcap, fakens.pcap.decode_as(entries))

    # (from, to, response, qname, rcode) of every DNS message, as the log has them (in time order,
    # but a transfer's replies are stamped when its last message was made: compared sorted)
    expected = []
    for e in entries:
        expected.append((e.client, e.local, "0", str(e.qname).rstrip("."), ""))
        for i in range(len(e.reply_bytes)):
            expected.append((e.local, e.client, "1", str(e.qname).rstrip(".") if i == 0 else "", str(e.rcode)))
    got = [(src(r), dst(r), r["dns.flags.response"], r["dns.qry.name"], r["dns.flags.rcode"]) for r in rows]
    assert sorted(got) == sorted(expected)
    rcodes = {(r["dns.qry.name"], src(r)[0]): r["dns.flags.rcode"] for r in rows if r["dns.flags.response"] == "1"
              and r["dns.qry.name"]}
    assert rcodes == {("www.example.test", "127.0.0.1"): "0", ("nope.example.test", "127.0.0.1"): "3",
                      ("gen.test", "127.0.0.1"): "0", ("www.example.test", "::1"): "0", ("nope.example.test", "::1"): "3"}
    assert {src(r)[0] for r in rows} == {"127.0.0.1", "::1"}

    # the bytes: the UDP reply the raw socket received, every message of the AXFR
    (udp_row,) = [r for r in rows if r["dns.flags.response"] == "1" and dst(r) == udp_client]
    assert bytes.fromhex(udp_row["udp.payload"]) == udp_reply
    (query_row,) = [r for r in rows if r["dns.flags.response"] == "0" and src(r) == udp_client]
    assert bytes.fromhex(query_row["udp.payload"]) == udp_query.to_wire()
    axfr_rows = [r for r in rows if r["dns.id"] == f"0x{axfr.id:04x}" and r["tcp.payload"]]
    assert [bytes.fromhex(r["tcp.payload"]) for r in axfr_rows] == [frame(axfr.to_wire())] + [frame(w) for w in axfr_wires]
    assert sum(int(r["dns.count.answers"]) for r in axfr_rows[1:]) == 3000 + 4  # SOA, NS, ns1 A, SOA

    for r in rows:  # 1: good (tshark checks them with the -o options)
        assert r["ip.checksum.status"] in ("1", ""), r
        assert (r["udp.checksum.status"] or r["tcp.checksum.status"]) == "1", r


@dataclass
class Sent:
    """One exchange for fakens.pcap.write, made up (no server)."""

    query_bytes: bytes
    reply_bytes: list[bytes]
    client: tuple[str, int]
    local: tuple[str, int] = ("::1", 5300)
    transport: str = "tcp"
    time: float = 1_700_000_000.0
    reply_time: float = 1_700_000_000.25


def big_response(query: dns.message.Message, size: int) -> bytes:
    """A response of exactly *size* bytes: distinct TXT records (213 bytes each on the wire,
    the owner a compression pointer), the last one sized to fit."""
    response = dns.message.make_response(query)
    rrset = dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", '"000"')
    response.answer.append(rrset)
    length = len(response.to_wire())
    count = (size - length - 14) // 213  # leave room for the last one: 12 + a length byte + a string
    for i in range(count):
        rrset.add(dns.rdata.from_text("IN", "TXT", f'"{i:03d}{"x" * 197}"'))
    short = size - len(response.to_wire(max_size=65535)) - 12 - 1
    rrset.add(dns.rdata.from_text("IN", "TXT", f'"{"y" * short}"'))
    wire = response.to_wire(max_size=65535)
    assert len(wire) == size
    return wire


@pytest.mark.parametrize("client", [("::1", 40000), ("127.0.0.1", 40001)])
def test_a_message_longer_than_one_segment(client: tuple[str, int], tshark: Callable[..., list[Row]],
                                           tmp_path: Path) -> None:
    """A 65535-byte reply goes in two TCP segments (IPv4's total length is 16 bits); tshark
    puts them together and decodes the one message."""
    query = dns.message.make_query("big.example.test.", "TXT")
    reply = big_response(query, 65535)
    local = ("::1", 5300) if ":" in client[0] else ("127.0.0.1", 5300)
    pcap = tmp_path / "big.pcap"
    packets = fakens.pcap.write(str(pcap), [Sent(query.to_wire(), [reply], client, local)])
    assert packets == 3 + 2 + 4  # the handshake; the query and its ACK; two segments, each ACKed
    rows = tshark(pcap, fakens.pcap.decode_as([Sent(b"", [], client, local)]))
    assert [(r["dns.flags.response"], r["dns.qry.name"]) for r in rows] == [("0", "big.example.test"),
                                                                           ("1", "big.example.test")]
    assert int(rows[1]["dns.count.answers"]) == len(dns.message.from_wire(reply).answer[0])
    data = pcap.read_bytes()
    lengths = []
    at = 24
    while at < len(data):
        (incl,) = struct.unpack_from("<I", data, at + 8)
        lengths.append(incl)
        at += 16 + incl
    assert max(lengths) <= 65535 + (40 if ":" in client[0] else 0)
