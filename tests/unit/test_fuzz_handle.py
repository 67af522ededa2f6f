"""Bad packets never break the server: mutated and random messages get FORMERR/NOTIMP/an answer
or nothing, never an internal error, and the server goes on answering (seeded, reproducible)."""

import random
import struct

import dns.flags
import dns.message
import dns.rcode
import pytest

from fakens import Drop, Reply, Server, Zone
from fakens.outcome import Stream

ZONE = """
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
ns1  A   127.0.0.1
www  A   192.0.2.80
*.w  TXT "wild"
"""

SEEDS = [
    dns.message.make_query("www.example.test.", "A").to_wire(),
    dns.message.make_query("www.example.test.", "A", use_edns=0, want_dnssec=True).to_wire(),
    dns.message.make_query("x.w.example.test.", "TXT", use_edns=0, options=[]).to_wire(),
    dns.message.make_query("example.test.", "AXFR").to_wire(),
]


def _mutate(rng: random.Random, wire: bytes) -> bytes:
    data = bytearray(wire)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        if choice < 0.4 and data:
            data[rng.randrange(len(data))] = rng.randrange(256)
        elif choice < 0.6 and len(data) > 1:
            del data[rng.randrange(len(data)):]
        elif choice < 0.8:
            data[rng.randrange(len(data) + 1):0] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif len(data) >= 12:
            struct.pack_into("!H", data, rng.choice((4, 6, 8, 10)), rng.randrange(65536))
    return bytes(data)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_mutated_and_random_packets_never_cause_an_internal_error(transport: str) -> None:
    server = Server([Zone.from_text(ZONE)])
    rng = random.Random(20261122)
    for i in range(4000):
        wire = _mutate(rng, rng.choice(SEEDS)) if i % 4 else bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        if len(wire) >= 3:
            wire = wire[:2] + bytes([wire[2] & 0x7F]) + wire[3:]  # a query (QR=0), so that it is answered or refused
        outcome = server.handle(wire, ("127.0.0.1", 5555), ("127.0.0.1", 53), transport)
        assert isinstance(outcome, (Reply, Drop, Stream)), outcome
        if isinstance(outcome, Stream):  # a transfer over TCP: made as it is read
            outcome = Reply([m for m in outcome.messages if m is not None])
        assert server.errors == [], f"packet {i} ({wire.hex()}) raised inside the server: {server.errors[0]!r}"
        if isinstance(outcome, Reply):
            for message in outcome.messages:
                assert message[:2] == wire[:2], "a reply carries the query's ID"
                assert message[2] & 0x80, "a reply has QR set"
    # and the server still answers a good query
    outcome = server.handle(SEEDS[0], ("127.0.0.1", 5555), ("127.0.0.1", 53), transport)
    assert isinstance(outcome, Reply)
    reply = dns.message.from_wire(outcome.messages[0])
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA and reply.answer
