"""Memory a zone costs: loaded, each version kept after an edit, signed, every signature made.

    python scripts/bench_memory.py                  # a generated 100k-record A/AAAA/MX/TXT zone
    python scripts/bench_memory.py --records 20000 --edits 10
    python scripts/bench_memory.py --zone FILE      # a zone file of your own (origin from its name)

Resident memory (after a garbage collection) is read before and after each step and
divided by the zone's records; the machine's noise is a few bytes a record. Stop 28 on a
100k-record zone: 588 loaded, 61 a kept version (57 signed), 370 signing (keys, NSEC
chain), 1,800 more for every signature.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_vs_nsd import big_zone  # (the same generated zone; it puts this checkout on sys.path)


def resident() -> int:
    gc.collect()
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000, help="records of the generated zone")
    parser.add_argument("--zone", type=Path, help="a zone file instead of the generated zone")
    parser.add_argument("--edits", type=int, default=5, help="edits kept (one TXT added each)")
    args = parser.parse_args()
    from fakens import Zone
    from fakens.dnssec import sign_zone

    with tempfile.TemporaryDirectory(prefix="fakens-bench-memory-") as work:
        path = args.zone
        if path is None:
            path = Path(work) / "big.test.zone"
            big_zone(path, args.records)
        before = resident()
        started = time.perf_counter()
        zone = Zone.from_file(path)
        loaded = resident()
        records = sum(len(rrset) for node in zone.current.nodes.values() for rrset in node.values())
        print(f"{records:,} records, loaded in {time.perf_counter() - started:.2f} s: "
              f"{(loaded - before) / records:.0f} bytes a record")

        def edits(signer: object = None) -> None:
            at = resident()
            started = time.perf_counter()
            for i in range(args.edits):
                zone.edit(add=[f'bench-memory-{signer is not None}-{i} 300 TXT "edit {i}"'])
                if signer is not None:
                    signer.sign_all(zone.current)  # type: ignore[attr-defined]
            took = (time.perf_counter() - started) / args.edits
            kind = "signed, each signed again" if signer is not None else "unsigned"
            print(f"  each kept version ({kind}): {(resident() - at) / records / args.edits:.0f} bytes a record, "
                  f"{took * 1000:.0f} ms an edit")

        edits()
        at = resident()
        signer = sign_zone(zone)
        signer.chain(zone.current)
        signed = resident()
        print(f"  signed (keys, NSEC chain): {(signed - at) / records:.0f} bytes a record")
        started = time.perf_counter()
        made = signer.sign_all(zone.current)
        print(f"  every signature made ({made:,} RRsets, {time.perf_counter() - started:.1f} s): "
              f"{(resident() - signed) / records:.0f} bytes a record more")
        edits(signer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
