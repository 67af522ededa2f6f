#!/usr/bin/env python3
"""Benchmark fakens against a stock dnslib server with dnsperf, on loopback only.

Starts `python -m fakens serve zones/example.test.zone` and a dnslib DNSServer (UDP + TCP,
answering www.example.test A from a tiny dnslib zone) as subprocesses on free 127.0.0.1
ports, then runs dnsperf against each, alternating, over UDP and TCP, and prints the
queries per second and the ratio fakens/dnslib.

    python scripts/bench_dnsperf.py [--seconds 10] [--rounds 1] [--clients 4] [--names N]
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fakens.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
ZONE_FILE = ROOT / "zones" / "example.test.zone"
HOST = "127.0.0.1"  # loopback only

DNSLIB_ZONE = """\
example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 300
example.test. 3600 IN NS ns1.example.test.
www.example.test. 300 IN A 192.0.2.10
"""


def serve_dnslib(port: int) -> None:
    """Child mode: a stock dnslib server on HOST:port, UDP and TCP, until SIGTERM."""
    from dnslib import QTYPE, RCODE, RR
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    records = RR.fromZone(DNSLIB_ZONE)

    class ZoneResolver(BaseResolver):  # type: ignore[misc]
        def resolve(self, request, handler):  # type: ignore[no-untyped-def]
            reply = request.reply()
            q = request.q
            matched = [rr for rr in records if rr.rname == q.qname]
            if not matched:
                reply.header.rcode = RCODE.NXDOMAIN
            for rr in matched:
                if q.qtype in (rr.rtype, QTYPE.ANY):
                    reply.add_answer(rr)
            reply.header.aa = 1
            return reply

    logger = DNSLogger(logf=lambda s: None)
    servers = [DNSServer(ZoneResolver(), address=HOST, port=port, tcp=tcp, logger=logger)
               for tcp in (False, True)]
    for s in servers:
        s.start_thread()
    print("dnslib: ready", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for s in servers:
        s.stop()


class Child:
    def __init__(self, name: str, argv: list[str], workdir: Path, ready: str) -> None:
        self.name = name
        self.log = workdir / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + 30
        while ready not in self.log.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"{name} did not become ready:\n{self.log.read_text(errors='replace')}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def dnsperf(dnsperf_bin: str, port: int, qfile: Path, seconds: float, clients: int,
            tcp: bool) -> tuple[float, str]:
    argv = [dnsperf_bin, "-s", HOST, "-p", str(port), "-d", str(qfile),
            "-l", f"{seconds:g}", "-c", str(clients)]
    if tcp:
        argv += ["-m", "tcp"]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60,
                         check=False)
    m = re.search(r"Queries per second:\s+([\d.]+)", res.stdout)
    if res.returncode != 0 or not m:
        sys.exit(f"{' '.join(argv)} failed ({res.returncode}):\n{res.stdout}{res.stderr}")
    lost = re.search(r"Queries lost:\s+(\d+)", res.stdout)
    return float(m.group(1)), lost.group(1) if lost else "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0, help="dnsperf run length (-l)")
    ap.add_argument("--rounds", type=int, default=1, help="alternating runs per server")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf clients (-c)")
    ap.add_argument("--names", type=int, default=1, metavar="N",
                    help="ask N distinct names (N.wild.example.test A, a wildcard answer in fakens, NXDOMAIN in "
                         "dnslib's tiny zone); above 10000 every fakens query misses its reply cache (default 1: "
                         "www.example.test A)")
    ap.add_argument("--serve-dnslib", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_dnslib:
        serve_dnslib(args.serve_dnslib)
        return 0

    dnsperf_bin = shutil.which("dnsperf")
    if dnsperf_bin is None:
        sys.exit("dnsperf not found: run scripts/install-tools")

    with tempfile.TemporaryDirectory(prefix="fakens-bench-") as tmp:
        work = Path(tmp)
        qfile = work / "queries.txt"
        if args.names > 1:
            qfile.write_text("".join(f"n{i}.wild.example.test A\n" for i in range(args.names)))
        else:
            qfile.write_text("www.example.test A\n")
        fport, dport = free_port(HOST), free_port(HOST)
        env_py = [sys.executable]
        children = {
            "fakens": Child("fakens", [*env_py, "-m", "fakens", "serve", str(ZONE_FILE),
                                       "--listen", f"{HOST}:{fport}"], work, "fakens: ready"),
        }
        try:
            children["dnslib"] = Child("dnslib", [*env_py, __file__, "--serve-dnslib",
                                                  str(dport)], work, "dnslib: ready")
            ports = {"fakens": fport, "dnslib": dport}
            results: dict[tuple[str, str], list[float]] = {}
            lost: dict[tuple[str, str], list[str]] = {}
            for rnd in range(args.rounds):
                for transport in ("udp", "tcp"):
                    order = ["fakens", "dnslib"] if rnd % 2 == 0 else ["dnslib", "fakens"]
                    for name in order:
                        qps, nlost = dnsperf(dnsperf_bin, ports[name], qfile, args.seconds,
                                             args.clients, transport == "tcp")
                        results.setdefault((name, transport), []).append(qps)
                        lost.setdefault((name, transport), []).append(nlost)
                        print(f"round {rnd + 1} {transport} {name}: {qps:.0f} qps "
                              f"(lost {nlost})", file=sys.stderr, flush=True)
        finally:
            for child in children.values():
                child.stop()

    print(f"\ndnsperf -l {args.seconds:g} -c {args.clients}, {args.rounds} round(s), "
          f"median qps, www.example.test A on {HOST}")
    print(f"{'transport':<10}{'fakens':>12}{'dnslib':>12}{'fakens/dnslib':>16}"
          f"  lost (fakens; dnslib)")
    for transport in ("udp", "tcp"):
        f = statistics.median(results[("fakens", transport)])
        d = statistics.median(results[("dnslib", transport)])
        ratio = f"{f / d:.2f}" if d else "n/a"
        lost_text = (f"{','.join(lost[('fakens', transport)])}; "
                     f"{','.join(lost[('dnslib', transport)])}")
        print(f"{transport:<10}{f:>12.0f}{d:>12.0f}{ratio:>16}  {lost_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
