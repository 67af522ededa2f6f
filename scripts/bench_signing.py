#!/usr/bin/env python3
"""Benchmark: signing a big zone (every RRset and the NSEC/NSEC3 chain, ZoneSigner.sign_all).

Makes a zone of N A records at N names (default 100000: 100000 A RRsets, and as many NSEC
records, so twice N signatures), signs it with each algorithm asked, and prints the time of
the signatures alone, per RRset, and of an edit re-signed (only what changed). No sockets.

    python scripts/bench_signing.py [--records 100000] [--algorithms 13,8] [--nsec3]
"""

from __future__ import annotations

import argparse
import time

from fakens import Zone
from fakens.dnssec import DnssecPolicy, Nsec3Params, sign_zone


def make_zone(records: int) -> Zone:
    lines = ["$ORIGIN big.test.", "$TTL 300", "@ SOA ns1 hostmaster 1 3600 600 86400 300", "@ NS ns1", "ns1 A 192.0.2.1"]
    lines += [f"h{i} A 198.51.{i // 256 % 256}.{i % 256}" for i in range(records)]
    return Zone.from_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--algorithms", default="13,8")
    parser.add_argument("--nsec3", action="store_true", help="NSEC3 (0 iterations, no salt) instead of NSEC")
    args = parser.parse_args()
    for algorithm in (int(a) for a in args.algorithms.split(",")):
        zone = make_zone(args.records)
        policy = DnssecPolicy(algorithm=algorithm, nsec3=Nsec3Params() if args.nsec3 else None)
        started = time.perf_counter()
        signer = sign_zone(zone, policy)
        keys = time.perf_counter() - started
        started = time.perf_counter()
        made = signer.sign_all(zone.current)
        took = time.perf_counter() - started
        zone.edit(add=["h1 300 TXT changed"])
        started = time.perf_counter()
        again = signer.sign_all(zone.current)
        edit = time.perf_counter() - started
        denial = "NSEC3" if args.nsec3 else "NSEC"
        print(f"algorithm {algorithm:>2} {denial}: {args.records} records, {made} signatures in {took:.1f} s "
              f"({took / made * 1e6:.0f} us per RRset; keys {keys:.2f} s); an edit: {again} signatures, "
              f"{edit:.2f} s (chain made again)", flush=True)


if __name__ == "__main__":
    main()
