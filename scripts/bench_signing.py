#!/usr/bin/env python3
"""Benchmark: signing a big zone (every RRset and the NSEC/NSEC3 chain, ZoneSigner.sign_all).

Makes a zone of N A records at N names (default 100000: 100000 A RRsets, and as many NSEC
records, so twice N signatures), signs it with each algorithm asked, and prints:

- before: dnspython's ``dns.dnssec.sign`` per RRset (the key converted on each call), timed
  on a sample of the zone's RRsets, and what the whole zone would take with it;
- after: ``sign_all``, the signed data built once per RRset and the keys' ``sign`` run in one
  worker process per CPU (``--workers``; 1: in this process): wall time, and the CPU time of
  this process and of the workers (on a loaded machine the wall time says little; with
  C CPUs free it is about max(main, (main + workers) / C));
- an edit (one TXT added): what is signed again (the new RRset, the SOA, the NSEC whose
  types changed), the chain updated from the previous one, not made again.

    python scripts/bench_signing.py [--records 100000] [--algorithms 13,8] [--nsec3] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import dns.dnssec

from fakens import Zone
from fakens.dnssec import DnssecPolicy, Nsec3Params, sign_zone


def make_zone(records: int) -> Zone:
    lines = ["$ORIGIN big.test.", "$TTL 300", "@ SOA ns1 hostmaster 1 3600 600 86400 300", "@ NS ns1", "ns1 A 192.0.2.1"]
    lines += [f"h{i} A 198.51.{i // 256 % 256}.{i % 256}" for i in range(records)]
    return Zone.from_text("\n".join(lines) + "\n")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dnspython_per_rrset(zone: Zone, signer_keys: list, sample: int) -> float:  # type: ignore[type-arg]
    """Seconds per RRset with dns.dnssec.sign, on *sample* RRsets of the zone."""
    version = zone.current
    rrsets = [r for r in version.rrsets() if r.rdtype == dns.rdatatype.A][:sample]
    started = time.process_time()
    for rrset in rrsets:
        for key in signer_keys:
            dns.dnssec.sign(rrset, key.private, zone.origin, key.dnskey, lifetime=86400)
    return (time.process_time() - started) / len(rrsets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--algorithms", default="13,8")
    parser.add_argument("--nsec3", action="store_true", help="NSEC3 (0 iterations, no salt) instead of NSEC")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU for a big zone)")
    parser.add_argument("--sample", type=int, default=2000, help="RRsets timed with dns.dnssec.sign (before)")
    args = parser.parse_args()
    denial = "NSEC3" if args.nsec3 else "NSEC"
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
    for algorithm in (int(a) for a in args.algorithms.split(",")):
        zone = make_zone(args.records)
        policy = DnssecPolicy(algorithm=algorithm, nsec3=Nsec3Params() if args.nsec3 else None)
        started = time.perf_counter()
        signer = sign_zone(zone, policy)
        keys = time.perf_counter() - started
        before = dnspython_per_rrset(zone, signer.zsks, args.sample)
        started, cpu, child = time.perf_counter(), time.process_time(), children_cpu()
        made = signer.sign_all(zone.current, workers=args.workers)
        took, cpu, child = time.perf_counter() - started, time.process_time() - cpu, children_cpu() - child
        zone.edit(add=["h1 300 TXT changed"])
        started = time.perf_counter()
        again = signer.sign_all(zone.current, workers=args.workers)
        edit = time.perf_counter() - started
        print(f"algorithm {algorithm:>2} {denial}: {args.records} records (keys made in {keys:.2f} s)\n"
              f"  before: dns.dnssec.sign {before * 1e6:.0f} us per RRset (CPU), {before * made:.1f} s CPU for the zone\n"
              f"  after:  {made} RRsets signed in {took:.1f} s wall ({took / made * 1e6:.0f} us per RRset); CPU: "
              f"{cpu:.1f} s here + {child:.1f} s in workers ({(cpu + child) / made * 1e6:.0f} us per RRset)\n"
              f"  edit:   {again} RRsets signed again in {edit:.2f} s (the NSEC chain updated, not made again)",
              flush=True)


if __name__ == "__main__":
    main()
