"""Servers on event loops of different threads, under load at once: each client gets exactly
its own server's answers (the UDP transport's batched path keeps buffers per process, so a
receive in one thread must never hand over another thread's datagrams)."""

from __future__ import annotations

import socket
import threading
import time

import dns.message
import dns.rdatatype

import fakens
from fakens.runner import BackgroundRunner

NAMES = 200
ROUNDS = 3
BURST = 40


def _zone(origin: str, octet: int) -> str:
    hosts = "".join(f"h{i} A 10.{octet}.{i // 256}.{i % 256}\n" for i in range(NAMES))
    return f"$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\nns1 A 127.0.0.1\n{hosts}"


def _blast(address: tuple[str, int], origin: str, octet: int, problems: list[str]) -> None:
    """Every name of the zone ROUNDS times, BURST queries in flight; every reply checked."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5.0)
        asked = [(i, r) for r in range(ROUNDS) for i in range(NAMES)]
        for start in range(0, len(asked), BURST):
            waiting: dict[int, int] = {}
            for i, r in asked[start:start + BURST]:
                query = dns.message.make_query(f"h{i}.{origin}", "A")
                query.id = (r * NAMES + i) & 0xFFFF
                waiting[query.id] = i
                sock.sendto(query.to_wire(), address)
            while waiting:
                try:
                    data = sock.recv(4096)
                except TimeoutError:
                    problems.append(f"{origin}: {len(waiting)} replies never came")
                    return
                reply = dns.message.from_wire(data)
                i = waiting.pop(reply.id, -1)
                expected = f"10.{octet}.{i // 256}.{i % 256}"
                got = [r.to_text() for rrset in reply.answer if rrset.rdtype == dns.rdatatype.A for r in rrset]
                if i < 0 or reply.question[0].name.to_text() != f"h{i}.{origin}" or got != [expected]:
                    problems.append(f"{origin}: reply {reply.id} is {reply.question[0].name} {got}, not h{i} {expected}")


def test_servers_on_two_threads_each_answer_only_their_own_clients() -> None:
    origins = [("one.test.", 1), ("two.test.", 2)]
    runners = [BackgroundRunner("asyncio") for _ in origins]
    servers = [fakens.Server([fakens.Zone.from_text(_zone(origin, octet))], name=origin) for origin, octet in origins]
    for runner, server in zip(runners, servers, strict=True):
        runner.run(server.astart())
    try:
        assert all(server.addresses for server in servers)
        problems: list[str] = []
        clients = [threading.Thread(target=_blast, args=(server.addresses[0], origin, octet, problems))
                   for server, (origin, octet) in zip(servers, origins, strict=True) for _ in range(2)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join(60)
        assert not any(client.is_alive() for client in clients), f"clients still running after {time.monotonic() - started:.0f} s"
        assert problems == []
        for server in servers:  # every query reached its own server, logged there
            entries = server.log.entries()
            assert len(entries) == 2 * ROUNDS * NAMES
            assert {str(entry.qname).split(".", 1)[1] for entry in entries} == {server.name}
    finally:
        for runner, server in zip(runners, servers, strict=True):
            runner.run(server.astop())
            runner.loop.call_soon_threadsafe(runner.loop.stop)
            runner.thread.join(5)
            runner.loop.close()
