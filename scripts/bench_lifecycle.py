#!/usr/bin/env python3
"""Benchmark: the cost of one function-scoped fake server (start, first answer, stop).

For each of N rounds (default 200), fakens and dnslib's stock server (DNSServer,
UDP + TCP threads) are each started on a free 127.0.0.1 port, asked one question
over UDP with dnspython, and stopped; rounds alternate between the two so both
see the same machine noise. Prints the median and 90th percentile of each and
the ratio fakens/dnslib (below 1: fakens is cheaper). Then ``fakens serve`` of
the small example zone is started as a process, --serve-rounds times, and polled
with a dnspython query until it answers: start to first answer (imports are most
of it; ``python -X importtime -m fakens serve ...`` shows which), beside NSD's
when NSD is installed (scripts/install-tools). Last, the zone load of generated zones
(SOA, NS and one A record per name) of --zone-records sizes: ``Zone.from_file``'s CPU time
and resident memory per record in a fresh interpreter, and ``fakens serve`` start to first
answer. Then a lab of --lab-servers servers (root, two TLD servers, one server per zone)
built, started and answering in-process. Loopback only.

    python scripts/bench_lifecycle.py [--rounds 200] [--serve-rounds 10] [--zone-records 100000,1000000]
    python scripts/bench_lifecycle.py --lab-only [--lab-servers 20] [--lab-rounds 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
from bench_vs_nsd import nsd_config  # scripts/: the same NSD set-up
from dnslib import QTYPE, RR
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from fakens import Server, Zone
from fakens.testing import find_tool, free_port

ZONE = """
$ORIGIN example.test.
$TTL 300
@   SOA ns1 hostmaster 1 3600 600 86400 300
@   NS  ns1
ns1 A   127.0.0.1
www A   192.0.2.10
"""
HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
SMALL_ZONE = ROOT / "zones" / "example.test.zone"


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


LAB_ZONE = """$TTL 300
@    SOA  ns1 hostmaster 1 7200 900 1209600 300
@    NS   ns1
ns1  A    127.0.0.1
www  A    192.0.2.10
"""


def lab_round(servers: int) -> tuple[float, float, int]:
    """A lab of *servers* servers (the root, two for test., the rest one zone each) built and
    started in-process on a free port, then asked through its root for a referral and each zone
    server for its www: (build + start + first answer from the root, stop) in seconds, and the
    servers started."""
    from fakens.lab import build_hierarchy

    zones = [Zone.from_text(LAB_ZONE, origin=f"zone{i}.test.") for i in range(servers - 3)]
    port = free_port(HOST)
    started = time.perf_counter()
    lab = build_hierarchy(zones, tld_servers=2, port=port)
    lab.start()
    reply = dns.query.udp(dns.message.make_query("www.zone0.test.", "A"), lab.root_address, port=port, timeout=2)
    assert reply.authority, "no referral from the root"
    answered = time.perf_counter()
    for i in range(servers - 3):
        reply = dns.query.udp(dns.message.make_query(f"www.zone{i}.test.", "A"),
                              lab.servers_for(f"zone{i}.test.")[0].addresses[0][0], port=port, timeout=2)
        assert reply.answer, f"no answer from zone{i}.test.'s server"
    count = len(lab.servers)
    stopping = time.perf_counter()
    lab.stop()
    return answered - started, time.perf_counter() - stopping, count


def lab_starts(rounds: int, servers: int) -> None:
    lab_round(servers)  # warm up: imports and the runner thread
    times = [lab_round(servers) for _ in range(rounds)]
    count = times[0][2]
    start = [t[0] * 1000 for t in times]
    stop = [t[1] * 1000 for t in times]
    print(f"\nlab of {count} servers in-process, {rounds} rounds, milliseconds (target: started and answering in 200)")
    print(f"{'':<26} {'median':>8} {'min':>8} {'max':>8}")
    print(f"{'build+start+first answer':<26} {statistics.median(start):>8.1f} {min(start):>8.1f} {max(start):>8.1f}")
    print(f"{'stop':<26} {statistics.median(stop):>8.1f} {min(stop):>8.1f} {max(stop):>8.1f}")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process *pid* so far (/proc/PID/stat), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def compiled_bytecode() -> str:
    """Compile fakens' modules to bytecode in place (fakens/__pycache__, ignored by git), as
    every start but a user's first finds them: where PYTHONDONTWRITEBYTECODE is set, as on
    this project's machines, no start writes them and each compiles fakens' ~90 modules again
    (120-150 ms of the small zone's start to first answer). A line for the report."""
    import compileall

    if not compileall.compile_dir(str(ROOT / "fakens"), quiet=1):
        raise SystemExit(f"cannot compile {ROOT / 'fakens'} to bytecode")
    return "fakens' bytecode compiled first (fakens/__pycache__): a start compiles no module of fakens"


def process_start(argv: list[str], port: int, probe: str, timeout: float = 30.0) -> tuple[float, float]:
    """(wall, CPU) seconds from starting *argv* to its first answer to *probe* SOA over UDP
    (polled every 5 ms): the CPU time is the process's own, steadier than the wall time on a
    busy machine. The process is stopped afterwards."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    query = dns.message.make_query(probe, "SOA")
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=env)
    try:
        while True:
            try:
                dns.query.udp(query, HOST, port=port, timeout=0.005)
                return time.perf_counter() - started, _cpu_seconds(proc.pid)
            except (dns.exception.Timeout, OSError):
                pass
            if proc.poll() is not None:
                raise SystemExit(f"{argv[0]} exited ({proc.returncode}): {proc.stderr.read().decode() if proc.stderr else ''}")
            if time.perf_counter() - started > timeout:
                raise SystemExit(f"{' '.join(argv)} did not answer within {timeout:g} s")
    finally:
        proc.terminate()
        proc.wait(10)


def fakens_serve_start(loop: str = "auto") -> tuple[float, float]:
    """``fakens serve`` of the small example zone, start to first answer: (wall, CPU) seconds."""
    port = free_port(HOST)
    return process_start([sys.executable, "-m", "fakens", "serve", str(SMALL_ZONE), "--listen", f"{HOST}:{port}",
                          "--quiet", "--loop", loop], port, "example.test.")


def nsd_start(work: Path) -> tuple[float, float]:
    """NSD (one process, foreground) on the same zone, start to first answer: (wall, CPU) seconds
    (the CPU time is the foreground process's; NSD serves from a forked child)."""
    nsd = find_tool("nsd")
    assert nsd
    port = free_port(HOST)
    conf = nsd_config(Path(tempfile.mkdtemp(dir=work)), port, "example.test.", SMALL_ZONE)
    return process_start([nsd, "-d", "-c", str(conf)], port, "example.test.")


def serve_starts(rounds: int) -> None:
    """Print start to first answer of ``fakens serve`` (each loop) and of NSD: wall time
    (median, min, max) and the process's CPU time (median)."""
    rows: dict[str, list[tuple[float, float]]] = {"fakens serve (auto loop)": [], "fakens serve (asyncio)": []}
    nsd = find_tool("nsd") is not None
    if nsd:
        rows["nsd"] = []
    with tempfile.TemporaryDirectory(prefix="fakens-bench-start-") as tmp:
        for _ in range(rounds):
            rows["fakens serve (auto loop)"].append(fakens_serve_start("auto"))
            rows["fakens serve (asyncio)"].append(fakens_serve_start("asyncio"))
            if nsd:
                rows["nsd"].append(nsd_start(Path(tmp)))
    print(f"\nstart to first answer, {SMALL_ZONE.name}, {rounds} rounds, milliseconds")
    print(f"{'server':<26} {'median':>8} {'min':>8} {'max':>8} {'CPU med':>8}")
    for name, values in rows.items():
        wall = [w for w, _ in values]
        cpu = statistics.median(c for _, c in values)
        print(f"{name:<26} {statistics.median(wall) * 1000:>8.1f} {min(wall) * 1000:>8.1f} {max(wall) * 1000:>8.1f} "
              f"{cpu * 1000:>8.0f}")
    if nsd:
        ratio = statistics.median(w for w, _ in rows["fakens serve (auto loop)"]) / statistics.median(w for w, _ in rows["nsd"])
        print(f"ratio fakens/nsd, wall medians: {ratio:.2f}")
    else:
        print("nsd not found (scripts/install-tools): no NSD figure")


_LOAD_PROBE = """
import gc, sys, time
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096
from fakens import Zone
gc.collect()
before = rss()
started = time.process_time()
zone = Zone.from_file(sys.argv[1])
cpu = time.process_time() - started
gc.collect()
records = sum(len(rrset) for node in zone.current.nodes.values() for rrset in node.values())
print(cpu, (rss() - before) / records, records)
"""


def write_big_zone(path: Path, count: int) -> None:
    """A zone of *count* A records (h0 .. hN-1) beside its SOA, NS and the name server's address."""
    with path.open("w") as f:
        f.write("$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\n"
                "ns1 A 192.0.2.1\n")
        f.writelines(f"h{i} A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}\n" for i in range(count))


def zone_loads(sizes: list[int], rounds: int) -> None:
    """Print, per zone size, Zone.from_file CPU seconds and bytes per record (RSS after the load,
    less RSS before it: the interpreter and imports not counted), and ``fakens serve`` start to
    first answer (wall and the process's CPU seconds); medians of *rounds*."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    print(f"\nzone load, generated zones of A records, {rounds} rounds (medians)")
    print(f"{'records':>10} {'from_file CPU s':>16} {'bytes/record':>13} {'serve wall s':>13} {'serve CPU s':>12}")
    with tempfile.TemporaryDirectory(prefix="fakens-bench-load-") as tmp:
        for size in sizes:
            path = Path(tmp) / "big.test.zone"
            write_big_zone(path, size)
            loads, starts = [], []
            for _ in range(rounds):
                out = subprocess.run([sys.executable, "-c", _LOAD_PROBE, str(path)], env=env, check=True,
                                     capture_output=True, text=True).stdout.split()
                loads.append((float(out[0]), float(out[1])))
                port = free_port(HOST)
                starts.append(process_start([sys.executable, "-m", "fakens", "serve", str(path), "--listen",
                                             f"{HOST}:{port}", "--quiet"], port, "big.test.", timeout=600))
            print(f"{size:>10,} {statistics.median(c for c, _ in loads):>16.2f} "
                  f"{statistics.median(b for _, b in loads):>13,.0f} {statistics.median(w for w, _ in starts):>13.2f} "
                  f"{statistics.median(c for _, c in starts):>12.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--serve-rounds", type=int, default=10, help="fakens serve / NSD process starts")
    parser.add_argument("--zone-records", default="100000",
                        help="sizes of the generated zones whose load is measured, comma-separated (0: none)")
    parser.add_argument("--load-rounds", type=int, default=3, help="loads and serve starts per zone size")
    parser.add_argument("--lab-rounds", type=int, default=10, help="in-process lab starts (0: none)")
    parser.add_argument("--lab-servers", type=int, default=20, help="servers in the measured lab")
    parser.add_argument("--lab-only", action="store_true", help="measure the lab start alone")
    args = parser.parse_args()
    sizes = [int(n) for n in args.zone_records.split(",") if int(n) > 0]
    if args.lab_only:
        lab_starts(args.lab_rounds, args.lab_servers)
        return
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
    if args.serve_rounds or sizes:
        print(compiled_bytecode())
    if args.serve_rounds:
        serve_starts(args.serve_rounds)
    if sizes:
        zone_loads(sizes, args.load_rounds)
    if args.lab_rounds:
        lab_starts(args.lab_rounds, args.lab_servers)


if __name__ == "__main__":
    main()
