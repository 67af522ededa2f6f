"""The query log as filled by real queries: fields, limit, JSON lines file."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

import fakens

from .conftest import (
    ask_wire,
    check_wire,
    example_zone,
    frame,
    raw_exchange,
    read_frame,
    recv_reply,
    udp_socket,
)


def test_entry_fields_for_a_udp_query(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(name="logged-ns")
    host, port = server.addresses[0]
    query = dns.message.make_query("wWw.Example.TEST.", "A", want_dnssec=True, payload=4096,
                                   options=[dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")])
    before = time.time()
    with udp_socket() as sock:
        client = sock.getsockname()
        sock.sendto(query.to_wire(), (host, port))
        wire = recv_reply(sock, query.id)
    after = time.time()
    reply = check_wire(wire)
    (entry,) = list(server.log)
    assert before - 1 <= entry.time <= after + 1
    assert entry.server == "logged-ns"
    assert entry.client == client
    assert entry.local == (host, port)
    assert entry.transport == "udp"
    assert entry.id == query.id
    assert str(entry.qname) == "wWw.Example.TEST."  # the client's case
    assert entry.qtype == dns.rdatatype.A and entry.qtype_text == "A"
    assert entry.edns is not None
    assert entry.edns["size"] == 4096 and entry.edns["do"] is True and entry.edns["version"] == 0
    assert entry.edns["options"] == ["NSID"]
    assert entry.rcode == dns.rcode.NOERROR and entry.rcode_text == "NOERROR"
    assert entry.flags & dns.flags.QR and entry.flags & dns.flags.AA
    assert entry.flags == reply.flags & 0x87F0
    assert entry.query_flags & dns.flags.RD
    assert entry.counts == (1, sum(len(r) for r in reply.answer), sum(len(r) for r in reply.authority),
                            sum(len(r) for r in reply.additional) + 1)  # + OPT
    assert entry.size == len(wire)
    assert entry.messages == 1
    assert 0 <= entry.duration < 5
    data = entry.to_dict()
    json.dumps(data)
    assert data["client"] == f"{client[0]}#{client[1]}"
    assert data["qname"] == "wWw.Example.TEST."
    assert data["rcode"] == "NOERROR"
    assert data["counts"]["an"] == sum(len(r) for r in reply.answer)


def test_entry_fields_for_tcp_and_errors(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    with socket.create_connection((host, port), timeout=5) as sock:
        client = sock.getsockname()
        q = dns.message.make_query("nope.example.test.", "MX")
        sock.sendall(frame(q.to_wire()))
        wire = read_frame(sock)
    (entry,) = list(server.log)
    assert entry.transport == "tcp" and entry.client == client
    assert entry.rcode == dns.rcode.NXDOMAIN and entry.qtype_text == "MX"
    assert entry.edns is None
    assert entry.size == len(wire)
    assert server.log.count(rcode="NXDOMAIN", transport="tcp") == 1
    assert server.log.entries(qname="NOPE.example.test.", qtype="MX")[0] is entry


def test_dropped_message_logged_without_rcode_or_not_at_all(server: fakens.Server) -> None:
    response = dns.message.make_response(dns.message.make_query("www.example.test.", "A"))
    host, port = server.addresses[0]
    with udp_socket() as sock:
        sock.sendto(response.to_wire(), (host, port))
        good = dns.message.make_query("www.example.test.", "A")
        sock.sendto(good.to_wire(), (host, port))
        recv_reply(sock, good.id)
    for entry in server.log:
        if entry.id == response.id and entry.id != good.id:
            assert entry.rcode is None  # no reply sent


def test_badvers_logged_with_the_extended_rcode(server: fakens.Server) -> None:
    reply, _ = ask_wire(server, "www.example.test.", "A", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS
    (entry,) = list(server.log)
    assert entry.rcode == dns.rcode.BADVERS, f"logged {entry.rcode_text}, the wire says BADVERS"
    assert entry.rcode_text == "BADVERS"


def test_transfer_logged_with_message_count(make_server: Callable[..., fakens.Server]) -> None:
    from .test_xfr import generated_zone

    server = make_server(zones=[generated_zone(3000)])
    host, port = server.addresses[0]
    messages = list(dns.query.xfr(host, "gen.test.", port=port, timeout=5))
    (entry,) = list(server.log)
    assert entry.qtype_text == "AXFR" and entry.transport == "tcp"
    assert entry.messages == len(messages) > 1
    assert entry.size > 3000 * 16


def test_log_limit_keeps_the_newest(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(log_limit=5)
    ids = []
    for i in range(8):
        reply, _ = ask_wire(server, f"n{i}.example.test.", "A")
        ids.append(reply.id)
    entries = list(server.log)
    assert len(entries) == 5 == len(server.log)
    assert [e.id for e in entries] == ids[-5:]
    assert [str(e.qname) for e in entries] == [f"n{i}.example.test." for i in range(3, 8)]
    assert server.log.total == 8


def test_log_file_gets_every_entry_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "queries.jsonl"
    server = fakens.Server([example_zone()], listen=["127.0.0.1:0"], log_limit=3, log_file=str(path), name="filed")
    server.start()
    try:
        sent = []
        for i in range(7):
            reply, _ = ask_wire(server, f"n{i}.example.test.", "A", transport="tcp" if i % 2 else "udp")
            sent.append(reply.id)
        reply = check_wire(raw_exchange(server, dns.message.make_query("www.example.test.", "AAAA",
                                                                       use_edns=0).to_wire()))
        sent.append(reply.id)
    finally:
        server.stop()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 8
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == sent
    for row in rows:
        for key in ("time", "server", "client", "local", "transport", "id", "qname", "qtype", "edns",
                    "rcode", "flags", "counts", "size", "duration_ms"):
            assert key in row, f"{key} missing from {row}"
        assert row["server"] == "filed"
    assert rows[0]["rcode"] == "NXDOMAIN" and rows[0]["transport"] == "udp" and rows[1]["transport"] == "tcp"
    assert rows[-1]["qname"] == "www.example.test." and rows[-1]["qtype"] == "AAAA"
    assert rows[-1]["edns"]["size"] == 1232  # dnspython's default payload
    assert rows[-1]["rcode"] == "NOERROR"
    assert len(server.log) == 3


async def test_log_file_with_async_server(tmp_path: Path, aask_wire: Callable[..., Awaitable[tuple[dns.message.Message, bytes]]]) -> None:
    path = tmp_path / "async.jsonl"
    server = fakens.Server([example_zone()], listen=["127.0.0.1:0"], log_file=str(path))
    await server.astart()
    try:
        for i in range(4):
            await aask_wire(server, f"a{i}.example.test.", "A")
    finally:
        await server.astop()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["qname"] for r in rows] == [f"a{i}.example.test." for i in range(4)]
