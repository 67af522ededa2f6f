"""Bad packets never break the server: mutated and random messages get FORMERR/NOTIMP/an answer
or nothing, never an internal error, and the server goes on answering (seeded, reproducible).
The same holds with each fault type installed (one representative spec per type)."""

import random
import struct

import dns.flags
import dns.message
import dns.rcode
import pytest

from fakens import Outcome, Reply, Server, Zone
from fakens.faults import REGISTRY
from fakens.outcome import Stream

ZONE = """
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
@    NS  ns2
ns1  A   127.0.0.1
ns2  A   127.0.0.2
www  A   192.0.2.80
*.w  TXT "wild"
sub  NS  ns1.sub
sub  NS  ns2.sub
ns1.sub A 127.0.0.3
ns2.sub A 127.0.0.4
sub  DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
"""

SEEDS = [
    dns.message.make_query("www.example.test.", "A").to_wire(),
    dns.message.make_query("www.example.test.", "A", use_edns=0, want_dnssec=True).to_wire(),
    dns.message.make_query("x.w.example.test.", "TXT", use_edns=0, options=[]).to_wire(),
    dns.message.make_query("example.test.", "AXFR").to_wire(),
    dns.message.make_query("a.sub.example.test.", "A").to_wire(),  # a referral, with glue
    dns.message.make_query("example.test.", "SOA").to_wire(),
    # for the faults of signed zones (served signed for them): keys, DS, a denial
    dns.message.make_query("example.test.", "DNSKEY", use_edns=0, want_dnssec=True).to_wire(),
    dns.message.make_query("sub.example.test.", "DS", use_edns=0, want_dnssec=True).to_wire(),
    dns.message.make_query("nope.example.test.", "A", use_edns=0, want_dnssec=True).to_wire(),
]

# One spec per fault type, chosen to act on ZONE and the SEEDS.
FAULT_SPECS = {
    "nxdomain": "nxdomain",
    "nodata": "nodata",
    "rcode": "rcode rcode=SERVFAIL",
    "stale-data": 'stale-data mode=records records="www 300 A 192.0.2.1"',
    "ttl": "ttl ttl=5 negative=7",
    "flags": "flags set=RA,AD clear=AA",
    "lame": "lame mode=upward ns=a.root-servers.test.",
    "missing-glue": "missing-glue mode=hosts hosts=ns1.sub.example.test.",
    "stale-glue": "stale-glue host=ns1.sub.example.test. addresses=127.0.0.99",
    "ns-mismatch": "ns-mismatch mode=remove hosts=ns2.example.test.",
    "ns-no-address": "ns-no-address hosts=ns2.example.test.",
    "edns": "edns mode=formerr",
    "wrong-id": "wrong-id",
    "verbatim": 'verbatim rcode=NXDOMAIN flags=none answer="other.test. 5 CH TXT x; @ 7 NS ns.other.test."',
    "wrong-question": "wrong-question mode=name to=other.example.test.",
    "malformed": "malformed mode=counts",
    "stale-serial": "stale-serial mode=lower",
    "refuse-transfer": "refuse-transfer mode=notauth",
    "broken-transfer": "broken-transfer mode=cut keep=3",
    "no-notify": "no-notify mode=none",
    "drop": "drop qtype=A",
    "delay": "delay ms=300",
    "truncate": "truncate",
    "oversize": "oversize size=1400",
    "rate-limit": "rate-limit qps=10 mode=slip",
    "tcp-refused": "tcp-refused mode=reset",
    "rrsig-expired": "rrsig-expired",
    "rrsig-bad": "rrsig-bad mode=flipped",
    "rrsig-unknown-key": "rrsig-unknown-key",
    "rrsig-missing": "rrsig-missing types=A",
    "stale-ds": "stale-ds",
    "dnskey-oversize": "dnskey-oversize",
    "bad-ds": "bad-ds mode=retired",
    "bad-denial": "bad-denial mode=uncovered",
    "nsec3-iterations": "nsec3-iterations",
}
SIGNED = {"nsec3-iterations": {"nsec3": {"iterations": 0}}}  # the zone as the signed_only faults need it
NO_QUERY_HOOK = {"no-notify", "tcp-refused"}  # act on outgoing NOTIFY / on connections, not in handle()
UDP_ONLY = {"truncate", "oversize", "rate-limit"}  # over TCP they never act (rate-limit: as in BIND, NSD, Knot)
TCP_ONLY = {"broken-transfer"}  # a transfer over UDP is one SOA (AXFR: FORMERR): nothing to break
CHANGES_THE_ID = {"wrong-id"}


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


def fuzz(server: Server, transport: str, seed: int, count: int, keeps_id: bool = True) -> None:
    """Send *count* mutated or random queries through server.handle; none may raise inside it."""
    rng = random.Random(seed)
    for i in range(count):
        wire = _mutate(rng, rng.choice(SEEDS)) if i % 4 else bytes(rng.randrange(256) for _ in range(rng.randint(0, 80)))
        if len(wire) >= 3:
            wire = wire[:2] + bytes([wire[2] & 0x7F]) + wire[3:]  # a query (QR=0), so that it is answered or refused
        outcome = server.handle(wire, ("127.0.0.1", 5555), ("127.0.0.1", 53), transport)
        if isinstance(outcome, Stream):  # a transfer over TCP: made as it is read
            outcome = Reply([m for m in outcome.messages if m is not None])
        assert server.errors == [], f"packet {i} ({wire.hex()}) raised inside the server: {server.errors[0]!r}"
        assert isinstance(outcome, Outcome), outcome
        if isinstance(outcome, Reply):
            for message in outcome.messages:
                if keeps_id:
                    assert message[:2] == wire[:2], "a reply carries the query's ID"
                assert message[2] & 0x80, "a reply has QR set"


def assert_still_answers(server: Server, transport: str) -> None:
    outcome = server.handle(SEEDS[0], ("127.0.0.1", 5555), ("127.0.0.1", 53), transport)
    assert isinstance(outcome, Reply)
    reply = dns.message.from_wire(outcome.messages[0])
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA and reply.answer


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_mutated_and_random_packets_never_cause_an_internal_error(transport: str) -> None:
    server = Server([Zone.from_text(ZONE)])
    fuzz(server, transport, 20261122, 4000)
    for entry in server.log:
        assert entry.faults == []
    assert_still_answers(server, transport)


def test_every_fault_type_has_a_fuzz_spec() -> None:
    assert sorted(FAULT_SPECS) == sorted(REGISTRY)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("fault_type", sorted(FAULT_SPECS))
def test_fuzz_with_each_fault_type_installed(fault_type: str, transport: str) -> None:
    signed = SIGNED.get(fault_type, True) if REGISTRY[fault_type].signed_only else None
    server = Server([Zone.from_text(ZONE)], dnssec=signed)
    server.faults.add(f"{FAULT_SPECS[fault_type]} name=f")
    assert server.faults.get("f").type_name == fault_type
    for seed in SEEDS:  # each seed once as it is, so that the fault surely acts (a fault counts only where it can)
        outcome = server.handle(seed, ("127.0.0.1", 5555), ("127.0.0.1", 53), transport)
        if isinstance(outcome, Stream):
            list(outcome.messages)
    fuzz(server, transport, 20261122 + len(fault_type), 600, keeps_id=fault_type not in CHANGES_THE_ID)
    acts_here = not ((transport == "tcp" and fault_type in UDP_ONLY) or (transport == "udp" and fault_type in TCP_ONLY))
    if fault_type not in NO_QUERY_HOOK and acts_here:
        assert any(e.faults for e in server.log), f"{fault_type} never fired: not exercised"
    server.faults.reset()
    assert_still_answers(server, transport)
