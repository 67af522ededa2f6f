#!/usr/bin/env python3
"""Benchmark: the cost of one function-scoped fake server (start, first answer, stop).

For each of N rounds (default 200), fakens and dnslib's stock server (DNSServer,
UDP + TCP threads) are each started on a free 127.0.0.1 port, asked one question
over UDP with dnspython, and stopped; rounds alternate between the two so both
see the same machine noise. Prints the median and 90th percentile of each and
the ratio fakens/dnslib (below 1: fakens is cheaper). Loopback only.

    python scripts/bench_lifecycle.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import dns.message
import dns.query
from dnslib import QTYPE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from fakens import Server, Zone
from fakens.testing import free_port

ZONE = """
$ORIGIN example.test.
$TTL 300
@   SOA ns1 hostmaster 1 3600 600 86400 300
@   NS  ns1
ns1 A   127.0.0.1
www A   192.0.2.10
"""
HOST = "127.0.0.1"


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.rrs = RR.fromZone("www.example.test. 300 IN A 192.0.2.10")

    def resolve(self, request, handler):  # type: ignore[no-untyped-def]
        reply = request.reply()
        for rr in self.rrs:
            if request.q.qtype == QTYPE.A and rr.rname == request.q.qname:
                reply.add_answer(rr)
        return reply


def _ask(port: int) -> None:
    reply = dns.query.udp(dns.message.make_query("www.example.test.", "A"), HOST, port=port, timeout=2)
    assert reply.answer, "no answer"


def fakens_round(zone_text: str) -> tuple[float, float]:
    """(start + first answer, stop) in seconds."""
    started = time.perf_counter()
    server = Server([Zone.from_text(zone_text)], listen=[f"{HOST}:0"])
    server.start()
    _ask(server.addresses[0][1])
    answered = time.perf_counter()
    server.stop()
    return answered - started, time.perf_counter() - answered


def dnslib_round(resolver: _Resolver) -> tuple[float, float]:
    """(start + first answer, stop) in seconds; dnslib's stop is socketserver's shutdown."""
    started = time.perf_counter()
    port = free_port(HOST)
    logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    udp = DNSServer(resolver, port=port, address=HOST, logger=logger)
    tcp = DNSServer(resolver, port=port, address=HOST, tcp=True, logger=logger)
    udp.start_thread()
    tcp.start_thread()
    _ask(port)
    answered = time.perf_counter()
    udp.stop()
    tcp.stop()
    udp.server.server_close()
    tcp.server.server_close()
    return answered - started, time.perf_counter() - answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    resolver = _Resolver()
    fakens_times: list[tuple[float, float]] = []
    dnslib_times: list[tuple[float, float]] = []
    fakens_round(ZONE)  # warm up: the shared runner thread starts once per process
    dnslib_round(resolver)
    for _ in range(args.rounds):
        fakens_times.append(fakens_round(ZONE))
        dnslib_times.append(dnslib_round(resolver))

    def row(name: str, times: list[tuple[float, float]]) -> tuple[float, float, float]:
        total = [a + b for a, b in times]
        med = (statistics.median(total), statistics.median(a for a, _ in times), statistics.median(b for _, b in times))
        p90 = statistics.quantiles(total, n=10)[-1]
        print(f"{name:<8} {med[0] * 1000:>12.2f} {p90 * 1000:>9.2f} {med[1] * 1000:>16.2f} {med[2] * 1000:>9.2f}")
        return med

    print(f"{args.rounds} rounds, milliseconds")
    print(f"{'server':<8} {'total median':>12} {'total p90':>9} {'start+answer med':>16} {'stop med':>9}")
    f = row("fakens", fakens_times)
    d = row("dnslib", dnslib_times)
    print(f"ratio fakens/dnslib, medians: total {f[0] / d[0]:.3f}, start+answer {f[1] / d[1]:.2f}, stop {f[2] / d[2]:.4f}")


if __name__ == "__main__":
    main()
