"""The query log keeps the bytes: the query as received, the reply as the client got it (a
broken-bytes fault's too, a transfer's first messages); faults that changed nothing are in
``matched``; ``to_pcap`` writes them as packets (read back here with struct; tshark reads
them in tests/interop/test_pcap_tshark.py)."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.rcode
import pytest

import fakens

from .conftest import check_wire, example_zone, frame, read_frame, recv_reply, tcp_stream, udp_socket
from .test_xfr import generated_zone


def udp_raw(server: fakens.Server, query: bytes) -> tuple[bytes, tuple[str, int]]:
    """Send *query* from a fresh socket; (the reply's bytes as received, the socket's address)."""
    host, port = server.addresses[0]
    with udp_socket(host) as sock:
        sock.sendto(query, (host, port))
        return sock.recv(65535), sock.getsockname()[:2]


def test_udp_entries_keep_the_query_and_the_reply_as_sent(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server()
    query = dns.message.make_query("www.example.test.", "A").to_wire()
    first, client = udp_raw(server, query)
    again = dns.message.make_query("www.example.test.", "A").to_wire()  # another ID: the fast path
    second, _ = udp_raw(server, again)
    check_wire(first)
    e1, e2 = server.log
    assert e1.client == client
    assert e1.query_bytes == query and e1.reply_bytes == [first]
    assert e2.query_bytes == again and e2.reply_bytes == [second], "a cached reply is kept with its own ID"
    assert first[2:] == second[2:] and first[:2] != second[:2]
    assert e1.reply_bytes_omitted == e2.reply_bytes_omitted == 0
    assert e1.delay == 0.0 and e1.reply_time == e1.time + e1.duration
    data = e1.to_dict()
    assert not {"query_bytes", "reply_bytes"} & set(data), "the bytes are not in the JSON lines"
    assert data["matched"] == [] and data["delay_ms"] == 0.0
    json.dumps(data)


def test_tcp_pipelined_entries_keep_each_reply(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server()
    queries = [dns.message.make_query(name, "A").to_wire() for name in ("www.example.test.", "nope.example.test.")]
    with socket.create_connection(server.addresses[0], timeout=5) as sock:
        sock.sendall(b"".join(frame(q) for q in queries))
        replies = {struct.unpack_from("!H", w)[0]: w for w in (read_frame(sock), read_frame(sock))}
    entries = list(server.log)
    assert [e.query_bytes for e in entries] == queries
    for entry in entries:
        assert entry.reply_bytes == [replies[entry.id]]
    assert entries[1].rcode == dns.rcode.NXDOMAIN


def test_a_transfer_keeps_its_messages_as_sent(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[generated_zone(3000)])
    query = dns.message.make_query("gen.test.", "AXFR")
    wires = [w for _, w in tcp_stream(server, query)]
    (entry,) = server.log
    assert len(wires) > 2
    assert entry.query_bytes == query.to_wire()
    assert entry.reply_bytes == wires and entry.messages == len(wires) and entry.reply_bytes_omitted == 0


def test_a_long_transfer_keeps_only_its_first_messages(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[generated_zone(3000)])
    server.log.stream_messages_kept = 2
    wires = [w for _, w in tcp_stream(server, dns.message.make_query("gen.test.", "AXFR"))]
    (entry,) = server.log
    assert entry.reply_bytes == wires[:2]
    assert entry.messages == len(wires) and entry.reply_bytes_omitted == len(wires) - 2 > 0


def test_broken_bytes_are_kept_as_they_went_out(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[example_zone(), generated_zone(300)])
    server.faults.add("malformed mode=short transport=udp name=short")
    query = dns.message.make_query("www.example.test.", "A").to_wire()
    got, _ = udp_raw(server, query)
    (entry,) = server.log
    assert entry.reply_bytes == [got] and entry.size == len(got)
    assert [f["name"] for f in entry.faults] == ["short"]
    server.faults.reset()
    server.log.clear()
    server.faults.add("wrong-id offset=5 qtype=AXFR")
    axfr = dns.message.make_query("gen.test.", "AXFR")
    with socket.create_connection(server.addresses[0], timeout=5) as sock:
        sock.sendall(frame(axfr.to_wire()))
        first = read_frame(sock)
    assert struct.unpack_from("!H", first)[0] == (axfr.id + 5) % 65536
    (entry,) = server.log
    assert entry.reply_bytes[0] == first, "each message's bytes as the wire fault left them"


def test_a_dropped_query_keeps_no_reply_bytes(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server()
    server.faults.add("drop")
    query = dns.message.make_query("www.example.test.", "A")
    host, port = server.addresses[0]
    with udp_socket(host) as sock:
        sock.sendto(query.to_wire(), (host, port))
        with pytest.raises(TimeoutError):
            recv_reply(sock, query.id, timeout=0.3)
    (entry,) = server.log
    assert entry.query_bytes == query.to_wire() and entry.reply_bytes == [] and entry.rcode is None


def test_a_delayed_reply_records_its_delay(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server()
    server.faults.add("delay ms=150")
    query = dns.message.make_query("www.example.test.", "A").to_wire()
    got, _ = udp_raw(server, query)
    (entry,) = server.log
    assert entry.delay == pytest.approx(0.15)
    assert entry.reply_time == pytest.approx(entry.time + 0.15 + entry.duration)
    assert entry.to_dict()["delay_ms"] == 150.0 and entry.reply_bytes == [got]


def test_matched_faults_are_apart_from_those_that_changed_something(tmp_path: Path) -> None:
    """A fault that fired and changed nothing is in ``matched`` (JSON lines too), not in
    ``faults``, not found by ``fault=`` and not in str(entry)."""
    path = tmp_path / "log.jsonl"
    with fakens.Server([example_zone()], listen=["127.0.0.1:0"], log_file=str(path)) as server:
        server.faults.add("stale-data name=sd")  # fires, but no older version is kept
        server.faults.add("ttl ttl=7 name=short-ttl")
        got, _ = udp_raw(server, dns.message.make_query("www.example.test.", "A").to_wire())
        assert check_wire(got).answer[0].ttl == 7
        (entry,) = server.log
        assert [f["name"] for f in entry.faults] == ["short-ttl"]
        assert entry.matched == [{"name": "sd", "type": "stale-data", "mode": "version",
                                  "reason": "no older version of example.test. kept"}]
        assert server.log.entries(fault="sd") == [] and server.log.entries(fault="short-ttl") == [entry]
        assert "short-ttl" in str(entry) and "sd" not in str(entry)
    (row,) = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert row["matched"] == entry.matched and [f["name"] for f in row["faults"]] == ["short-ttl"]


# -- the pcap file, read back with struct ---------------------------------------------------


def read_pcap(path: Path) -> tuple[int, list[tuple[float, bytes]]]:
    """(link type, [(time, packet)]) of a classic libpcap file."""
    data = path.read_bytes()
    magic, major, minor, _, _, _, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor) == (0xA1B2C3D4, 2, 4)
    packets, at = [], 24
    while at < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, at)
        assert incl == orig
        packets.append((sec + usec / 1e6, data[at + 16 : at + 16 + incl]))
        at += 16 + incl
    assert at == len(data)
    return linktype, packets


def ones_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def test_pcap_of_udp_queries_has_checked_ipv4_and_udp_headers(make_server: Callable[..., fakens.Server],
                                                               tmp_path: Path) -> None:
    server = make_server()
    query = dns.message.make_query("www.example.test.", "A").to_wire()
    got, client = udp_raw(server, query)
    path = tmp_path / "udp.pcap"
    assert server.log.to_pcap(str(path)) == 2
    linktype, packets = read_pcap(path)
    assert linktype == 101  # LINKTYPE_RAW
    (entry,) = server.log
    (t1, p1), (t2, p2) = packets
    assert t1 == pytest.approx(entry.time, abs=1e-6) and t2 == pytest.approx(entry.reply_time, abs=1e-6)
    local = server.addresses[0]
    for packet, src, dst, payload in ((p1, client, local, query), (p2, local, client, got)):
        assert packet[0] == 0x45 and packet[9] == 17
        assert struct.unpack_from("!H", packet, 2)[0] == len(packet)
        assert ones_sum(packet[:20]) == 0xFFFF, "IPv4 header checksum"
        assert socket.inet_ntoa(packet[12:16]) == src[0] and socket.inet_ntoa(packet[16:20]) == dst[0]
        sport, dport, length, _ = struct.unpack_from("!HHHH", packet, 20)
        assert (sport, dport, length) == (src[1], dst[1], 8 + len(payload))
        assert packet[28:] == payload
        pseudo = packet[12:20] + struct.pack("!xBH", 17, length)
        assert ones_sum(pseudo + packet[20:]) == 0xFFFF, "UDP checksum"
