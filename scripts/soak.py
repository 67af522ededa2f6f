#!/usr/bin/env python3
"""Soak: dnsperf at a steady rate against ``fakens serve --log FILE`` on loopback.

Starts ``fakens serve zones/example.test.zone --log FILE`` (server on CPU 0, dnsperf on
CPU 1 when there are two), runs ``dnsperf -Q RATE -l SECONDS`` with the zone's names
(answers, NXDOMAINs, a referral), and prints: queries sent and lost (the kernel's receive
buffer overflowing when the loop falls behind), the CPU time the server process and its log
writer process used per query, the server's resident memory at start,
middle and end, the log file's lines against the queries sent, and its size::

    python scripts/soak.py [--seconds 60] [--rate 5000] [-- EXTRA SERVE FLAGS]
    python scripts/soak.py --seconds 20 -- --log-max-bytes 10000000
    python scripts/soak.py --seconds 20 --rate 12000 --no-log     # the same without the log, to compare

Exit status 1 when replies were lost or log lines are missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_vs_nsd import HOST, SMALL_ZONE, pinned, start  # also puts the repository on sys.path

from fakens.testing import free_port

QUESTIONS = ["www.example.test. A", "example.test. SOA", "example.test. NS", "nope.example.test. A",
             "www.example.test. AAAA", "ns1.example.test. A", "x.nope.example.test. TXT", "example.test. MX"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="dnsperf run length (default 60)")
    ap.add_argument("--rate", type=int, default=5000, help="queries a second, dnsperf -Q (default 5000)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the server and dnsperf to CPUs")
    ap.add_argument("--no-log", action="store_true", help="serve without --log (the reference: what the log costs)")
    ap.add_argument("serve_flags", nargs=argparse.REMAINDER, help="after --: more fakens serve flags")
    args = ap.parse_args()
    extra = args.serve_flags[1:] if args.serve_flags[:1] == ["--"] else args.serve_flags
    dnsperf = shutil.which("dnsperf")
    if dnsperf is None:
        print("soak: dnsperf is not installed (scripts/install-tools)", file=sys.stderr)
        return 2
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    with tempfile.TemporaryDirectory(prefix="fakens-soak-") as tmp:
        work = Path(tmp)
        log = work / "queries.jsonl"
        qfile = work / "questions.txt"
        qfile.write_text("".join(f"{q}\n" for q in QUESTIONS))
        port = free_port(HOST)
        argv = [sys.executable, "-m", "fakens", "serve", str(SMALL_ZONE), "--listen", f"{HOST}:{port}",
                *([] if args.no_log else ["--log", str(log)]), "--quiet", *extra]
        server = start("fakens", pinned(argv, 0 if pin else None), port, "example.test.", work, 60)
        rss = {"start": server.rss()}
        timer = threading.Timer(args.seconds / 2, lambda: rss.__setitem__("middle", server.rss()))
        timer.start()
        perf = [dnsperf, "-s", HOST, "-p", str(port), "-d", str(qfile), "-l", f"{args.seconds:g}",
                "-Q", str(args.rate), "-c", "1"]
        began = time.perf_counter()
        res = subprocess.run(pinned(perf, 1 if pin else None), capture_output=True, text=True,
                             timeout=args.seconds + 60, check=False)
        took = time.perf_counter() - began
        timer.cancel()
        rss["end"] = server.rss()
        cpu = _cpu_seconds(server.proc.pid)
        server.stop()  # SIGTERM: fakens hands what it still holds to its log writer before exiting
        out = res.stdout
        if res.returncode != 0:
            print(f"soak: {' '.join(perf)} failed ({res.returncode}):\n{out}{res.stderr}", file=sys.stderr)
            return 2
        sent, lost = _figure(out, "Queries sent"), _figure(out, "Queries lost")
        files = [p for p in (Path(f"{log}.1"), log) if p.exists()]
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        size = sum(p.stat().st_size for p in files)
        probes = lines - sent  # the readiness probe's queries are logged too
        latency = re.search(r"Average Latency \(s\):\s+([\d.]+)\s+\(min ([\d.]+), max ([\d.]+)\)", out)
        qps = re.search(r"Queries per second:\s+([\d.]+)", out)
        print(f"soak: fakens serve{'' if args.no_log else ' --log'}, dnsperf -Q {args.rate} -l {args.seconds:g} ({took:.1f} s), "
              + ("server on CPU 0, dnsperf on CPU 1" if pin else "unpinned")
              + (f"; serve flags: {' '.join(extra)}" if extra else ""))
        print(f"  queries sent {sent}, lost {lost} ({100 * lost / max(sent, 1):.3f}%)"
              + (f", {float(qps.group(1)):.0f} replies/s" if qps else ""))
        if latency:
            print(f"  latency: average {float(latency.group(1)) * 1000:.3f} ms, max {float(latency.group(3)) * 1000:.1f} ms")
        if cpu is not None and sent > 0:
            own, children = cpu
            print(f"  CPU: server process {own:.2f} s ({own / sent * 1e6:.1f} us a query)"
                  + (f", its children (the log writer) {children:.2f} s ({children / sent * 1e6:.1f} us a query)"
                     if children else ""))
        print("  server RSS: " + ", ".join(f"{k} {v / 2**20:.1f} MiB" for k, v in rss.items()))
        if args.no_log:
            print("  log: off (--no-log)")
            print("  result: " + ("replies lost" if lost > 0 else "no reply lost"))
            return 1 if lost > 0 else 0
        print(f"  log: {lines} lines ({probes:+d} against queries sent: the readiness probes), "
              f"{size / 2**20:.1f} MiB in {', '.join(p.name for p in files)}")
        broken = lost > 0 or lines < sent
        print("  result: " + ("replies lost or log lines missing" if broken else "no reply lost, every query logged"))
        return 1 if broken else 0


def _cpu_seconds(pid: int) -> tuple[float, float] | None:
    """CPU time (user + system) of the server process and of its child processes (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")

    def of(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    try:
        own = of(pid)
        kids = [int(k) for t in Path(f"/proc/{pid}/task").iterdir() for k in (t / "children").read_text().split()]
        return own, sum(of(k) for k in kids)
    except (OSError, ValueError, IndexError):
        return None


def _figure(out: str, label: str) -> int:
    m = re.search(rf"{label}:\s+(\d+)", out)
    return int(m.group(1)) if m else -1


if __name__ == "__main__":
    sys.exit(main())
