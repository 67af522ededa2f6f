#!/usr/bin/env python3
"""Differential campaign of the express path: random zones, random questions, every reply the engine's.

The express path (fakens/express.py) answers common queries straight from a zone's records,
and must send exactly the bytes the engine's Answer rendered by dnspython would. The unit
tests hold that over fixed corpora (tests/unit/test_express.py); this campaign makes zones
the corpora do not have, seeded and reproducible: random owners (depth 1-3, mixed case),
wildcards at several depths, empty non-terminals, CNAMEs (in the zone, out of it, into a child
zone, a cut or a DNAME, chained up to and past the engine's 16 steps, looping),
MX and SRV hosts in and out of the zone, a delegation with glue (and a DS half the time), cuts
at random owners (a wildcard's too), a DNAME, a child zone served by the same server; unsigned, or signed with NSEC, NSEC3 or NSEC3
opt-out (random salt and iterations); server options (minimal responses, additional data from
the server, a small UDP size, a given negative SOA); an edit between rounds of questions.

For each zone two servers serve the same Zone objects (so that the signatures, made once and
cached by content, are the same): one as it serves, one with the express path off; each
question (a name of the zone or below it, in random case, a random type, EDNS or not, DO or
not, a payload of 512 to 4096, CD or not, UDP or TCP) goes to both, the reference rendering
with dnspython alone. A difference prints the zone, the options and the question, and ends
the run with status 1::

    python scripts/express_campaign.py [--zones 300] [--questions 150] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.rdatatype

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import fakens.wire
from fakens import Server, Zone
from fakens.dnssec import DnssecPolicy, Nsec3Params, sign_zones
from fakens.outcome import Reply

CLIENT = ("127.0.0.1", 40000)
LOCAL = ("127.0.0.1", 53)
QTYPES = ("A", "A", "A", "AAAA", "AAAA", "TXT", "MX", "SRV", "NS", "SOA", "CNAME", "DNAME", "DS", "DNSKEY",
          "NSEC", "NSEC3", "RRSIG", "ANY", "CAA", "TLSA", "PTR", "HINFO", "TYPE65280")
LABELS = ("a", "b", "c", "www", "mail", "x", "y", "z0", "-", "0", "zz", "m")


def _owner(rng: random.Random) -> str:
    """A relative owner of depth 1 to 3, in random case."""
    labels = [rng.choice(LABELS) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
    return ".".join("".join(c.upper() if rng.random() < 0.3 else c for c in label) for label in labels)


def make_zones(rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(the parent's origin, the zone files' texts: the parent and maybe its child, the names to ask below)."""
    origin = f"z{rng.randrange(100)}.test."
    lines = [f"$ORIGIN {origin}", "$TTL 300", "@ SOA ns1 hostmaster 1 3600 600 86400 60", "@ NS ns1",
             "ns1 A 192.0.2.1"]
    if rng.random() < 0.5:
        lines.append("ns1 AAAA 2001:db8::1")
    if rng.random() < 0.3:
        lines.append("@ NS ns.elsewhere.test.")
    names = ["@", "ns1"]
    for _ in range(rng.randrange(3, 14)):
        owner = _owner(rng)
        if rng.random() < 0.25:
            owner = "*" if rng.random() < 0.3 else "*." + owner
        kind = rng.random()
        if kind < 0.3:
            lines.append(f"{owner} A 192.0.2.{rng.randrange(2, 250)}")
            if rng.random() < 0.3:
                lines.append(f"{owner} A 192.0.2.{rng.randrange(2, 250)}")
        elif kind < 0.4:
            lines.append(f"{owner} AAAA 2001:db8::{rng.randrange(2, 999):x}")
        elif kind < 0.5:
            lines.append(f'{owner} TXT "t{rng.randrange(99)}" "second"')
        elif kind < 0.6:
            host = rng.choice(names + ["mx.elsewhere.test."])
            lines.append(f"{owner} MX {rng.randrange(1, 50)} {host}")
        elif kind < 0.65:
            host = rng.choice(names + ["srv.elsewhere.test."])
            lines.append(f"{owner} SRV 1 2 {rng.randrange(1, 9999)} {host}")
        elif kind < 0.78:
            target = rng.choice(names + ["out.elsewhere.test.", _owner(rng), "www.kid", "x.w.kid", "nx.kid",
                                         "deep.sub", "ns1.sub", "q.dn", "dn", "chain0"])
            if target.lower() != owner.lower():
                lines.append(f"{owner} CNAME {target}")
        elif kind < 0.83:
            lines.append(f"{owner} CAA 0 issue \"ca.test\"")
        elif kind < 0.86:
            lines.append(f"{owner} TLSA 3 1 1 {'ab' * 32}")
        elif kind < 0.89:  # a cut anywhere, a wildcard's too
            lines.append(f"{owner} NS ns1.{origin}")
        else:
            lines.append(f"{owner} HINFO \"pc\" \"os\"")
        names.append(owner)
    if rng.random() < 0.5:
        lines += ["sub NS ns1.sub", "sub NS ns1", "ns1.sub A 192.0.2.53"]
        if rng.random() < 0.5:
            lines.append("sub DS 12345 13 2 " + "ab" * 32)
        names += ["sub", "ns1.sub", "deep.sub"]
    if rng.random() < 0.3:
        lines.append(f"dn DNAME {rng.choice(['elsewhere.test.', 'a.' + origin])}")
        names += ["dn", "q.dn"]
    if rng.random() < 0.3:  # a chain of CNAMEs, about as long as the engine follows, maybe a loop
        length = rng.randrange(2, 19)
        lines += [f"chain{i} CNAME chain{i + 1}" for i in range(length)]
        end = rng.random()
        if end < 0.3:
            lines.append(f"chain{length} CNAME chain{rng.randrange(length)}")  # back into the chain
        elif end < 0.7:
            lines.append(f"chain{length} A 192.0.2.9")
        names += [f"chain{i}" for i in range(0, length + 1, 3)]
    texts = ["\n".join(lines) + "\n"]
    if rng.random() < 0.3:  # a child served by the same server, the parent delegating to it
        child = f"kid.{origin}"
        texts[0] += "kid NS ns1.kid\nns1.kid A 192.0.2.77\n"
        texts.append(f"$ORIGIN {child}\n$TTL 120\n@ SOA ns1 h 5 3600 600 86400 30\n@ NS ns1\n"
                     f"ns1 A 192.0.2.77\nwww A 192.0.2.78\n*.w TXT \"kid\"\nmail MX 5 ns1.{origin}\n")
        names += ["kid", "ns1.kid", "www.kid", "x.w.kid", "nx.kid", "mail.kid"]
    return origin, texts, names


def policy_of(rng: random.Random) -> tuple[str, DnssecPolicy | None]:
    choice = rng.choice(("unsigned", "unsigned", "nsec", "nsec3", "nsec3-optout"))
    if choice == "unsigned":
        return choice, None
    if choice == "nsec":
        return choice, DnssecPolicy(algorithm=rng.choice((13, 15)))
    salt = bytes(rng.randrange(256) for _ in range(rng.choice((0, 2, 4))))
    return choice, DnssecPolicy(algorithm=13, csk=rng.random() < 0.5,
                                nsec3=Nsec3Params(iterations=rng.choice((0, 1, 5)), salt=salt,
                                                  opt_out=choice == "nsec3-optout"))


def options_of(rng: random.Random, origin: str) -> dict[str, Any]:
    return rng.choice(({}, {}, {"minimal_responses": True}, {"additional_from": "server"}, {"udp_size": 512},
                       {"negative_soa": f"{origin} 90 SOA ns1.{origin} other.{origin} 7 1 2 3 4"}))


def question(rng: random.Random, origin: str, names: list[str]) -> tuple[bytes, str, str]:
    """(the query's bytes, its transport, how to say it)."""
    name = rng.choice(names)
    name = origin if name == "@" else f"{name}.{origin}"
    if rng.random() < 0.3:
        name = f"{rng.choice(LABELS)}.{name}"
    name = name.replace("*", rng.choice(("*", "star", "q")))
    name = "".join(c.swapcase() if rng.random() < 0.2 else c for c in name)
    qtype = rng.choice(QTYPES)
    do = rng.random() < 0.6
    edns = rng.random() < 0.85 or do
    payload = rng.choice((512, 1232, 1232, 4096))
    query = dns.message.make_query(name, qtype, use_edns=0 if edns else False, payload=payload, want_dnssec=do)
    if rng.random() < 0.2:
        query.flags |= dns.flags.CD
    if rng.random() < 0.1:
        query.flags &= ~dns.flags.RD
    query.id = rng.randrange(65536)
    transport = "tcp" if rng.random() < 0.25 else "udp"
    return query.to_wire(), transport, f"{name} {qtype} do={int(do)} edns={int(edns)} payload={payload} {transport}"


def _chained(wire: bytes) -> bool:
    """Does the reply answer a question of another type with a CNAME chain?"""
    try:
        reply = dns.message.from_wire(wire)
    except dns.exception.DNSException:
        return False  # (the comparison with the engine's reply tells what is wrong)
    return bool(reply.answer) and reply.answer[0].rdtype == dns.rdatatype.CNAME != reply.question[0].rdtype


def reply_of(server: Server, wire: bytes, transport: str) -> bytes:
    outcome = server.handle(wire, CLIENT, LOCAL, transport)
    assert isinstance(outcome, Reply), outcome
    return outcome.messages[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zones", type=int, default=300)
    parser.add_argument("--questions", type=int, default=150, help="per zone, in two rounds around an edit")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    encode_fast = fakens.wire.encode_fast
    asked = answered = signed_asked = chained = 0
    by_policy: dict[str, int] = {}
    started = time.monotonic()
    for number in range(args.zones):
        origin, texts, names = make_zones(rng)
        label, policy = policy_of(rng)
        options = options_of(rng, origin)
        zones = [Zone.from_text(text) for text in texts]
        if policy is not None:
            sign_zones(zones, policy)
        served = Server(zones=zones, **options)
        reference = Server(zones=zones, **options)
        reference.pipeline.express.reply = lambda x: None  # type: ignore[method-assign]
        reference.pipeline.express.reply_to = lambda wire, transport: None  # type: ignore[method-assign]
        for round_ in range(2):
            if round_ == 1:  # an edit: a new version of the parent (and what it proves)
                zones[0].edit(add=[f"{_owner(rng)} A 192.0.2.{rng.randrange(2, 250)}"])
            batch = [question(rng, origin, names) for _ in range(args.questions // 2)]
            mine = []
            for wire, transport, _ in batch:
                before = served.pipeline.express.answered
                mine.append(reply_of(served, wire, transport))
                if served.pipeline.express.answered > before:
                    answered += 1
                    chained += _chained(mine[-1])
            fakens.wire.encode_fast = lambda *a: None  # type: ignore[assignment]  # the reference: dnspython renders
            try:
                theirs = [reply_of(reference, wire, transport) for wire, transport, _ in batch]
            finally:
                fakens.wire.encode_fast = encode_fast
            asked += len(batch)
            by_policy[label] = by_policy.get(label, 0) + len(batch)
            if policy is not None:
                signed_asked += sum(1 for _, _, said in batch if "do=1" in said)
            for (_, _, said), a, b in zip(batch, mine, theirs, strict=True):
                if a != b:
                    print(f"DIFFERENT REPLY (zone {number}, {label}, options {options}, round {round_}): {said}")
                    for text in texts:
                        print(text)
                    print("express:\n", dns.message.from_wire(a))
                    print("engine:\n", dns.message.from_wire(b))
                    return 1
        if (number + 1) % 50 == 0:
            print(f"{number + 1} zones, {asked} questions, {answered} by the express path ({chained} CNAME chains) "
                  f"({time.monotonic() - started:.0f} s)", flush=True)
    print(f"done: {args.zones} zones (seed {args.seed}), {asked} questions, {answered} answered by the express "
          f"path ({chained} of them CNAME chains), {signed_asked} DO=1 questions of signed zones; by signing: {by_policy}; no reply differed "
          f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
