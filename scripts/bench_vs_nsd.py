#!/usr/bin/env python3
"""Benchmark fakens against NSD in the same run, with dnsperf, on loopback only.

For each zone (the bundled small zone, and generated zones of 100k and, with
``--sizes small,100k,1m``, 1M records) it starts NSD (rate limiting off, one
process), ``fakens serve`` and a do-nothing UDP endpoint (fakens' UDP transport and loop that
echoes each query with QR set: the ceiling of any Python server on this loop), then
measures, alternating the servers round by round (fakens twice: on uvloop when it is
installed, the figures the targets are about, and on plain asyncio, ``--loop asyncio``):

- ``udp-repeated``: 100 distinct questions asked over and over (reply caches warm);
- ``udp-distinct``: every question distinct: each name of the zone (of the small zone: 300,000
  wildcard names) asked once, ``dnsperf -n 1`` (the run ends with the file, or after
  ``--seconds``), so no reply cache ever holds one asked before;
- ``tcp-pipelined``: dnsperf ``-m tcp -q 100`` with the repeated questions;
- start to first answer and resident memory (after load and after the runs).

``--sizes cname`` (not in the default) is 100,000 CNAMEs naming 1,000 hosts, every question
one of them asked for A (the answer: the CNAME and the host's address; since stop 31 the
express path answers them, before, the engine did).

``--sizes signed`` (not in the default) is the small zone signed (algorithm 13, KSK and ZSK,
NSEC) and every query DO=1 (``dnsperf -D``): NSD serves the zone as fakens signed it
(written out with its RRSIG, NSEC and DNSKEY records), ``fakens serve --dnssec`` signs the
unsigned file itself with the same policy; the distinct questions are wildcard names, whose
answers carry the wildcard's signature and an NSEC proof (since stop 30 the express path
answers them; before, the engine did).

Servers are pinned to CPU 0 and dnsperf to CPU 1 with taskset when there are two
CPUs (``--no-pin`` to turn off). When the do-nothing endpoint does not clearly
outrun NSD, the UDP ratios measure the client, not the servers: the script says so.
Prints per test both figures, the ratio fakens/NSD and the range over rounds.

    python scripts/bench_vs_nsd.py [--sizes small,100k] [--seconds 5] [--rounds 2]
    python scripts/bench_vs_nsd.py --sizes signed            # DO=1, a signed small zone
    python scripts/bench_vs_nsd.py --sizes cname             # CNAME chains
    python scripts/bench_vs_nsd.py --lifecycle-only     # fixture and lab start only
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fakens.testing import find_tool, free_port  # noqa: E402

HOST = "127.0.0.1"  # loopback only
SMALL_ZONE = ROOT / "zones" / "example.test.zone"
SIZES = {"small": 0, "signed": 0, "cname": 100_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}


def big_zone(path: Path, records: int) -> list[tuple[str, str]]:
    """Write a zone of *records* records under big.test. (A, AAAA, MX, TXT in turn);
    return (name, type) of every record."""
    questions: list[tuple[str, str]] = []
    with open(path, "w") as out:
        out.write("$TTL 3600\n$ORIGIN big.test.\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
                  "@ IN NS ns1\nns1 IN A 127.0.0.1\n")
        for i in range(records):
            kind = i % 4
            if kind == 0:
                out.write(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
                questions.append((f"h{i}.big.test.", "A"))
            elif kind == 1:
                out.write(f"h{i} 300 IN AAAA 2001:db8::{i >> 16:x}:{i & 0xffff:x}\n")
                questions.append((f"h{i}.big.test.", "AAAA"))
            elif kind == 2:
                out.write(f"h{i} IN MX 10 mail{i}\n")
                questions.append((f"h{i}.big.test.", "MX"))
            else:
                out.write(f'h{i} IN TXT "v=spf1 -all {i}"\n')
                questions.append((f"h{i}.big.test.", "TXT"))
    return questions


def cname_zone(path: Path, records: int) -> list[tuple[str, str]]:
    """Write a zone of *records* CNAMEs under big.test., each naming one of 1,000 hosts with an
    A record; return (owner, A) of every CNAME (each answer the CNAME and the host's A)."""
    with open(path, "w") as out:
        out.write("$TTL 3600\n$ORIGIN big.test.\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
                  "@ IN NS ns1\nns1 IN A 127.0.0.1\n")
        out.writelines(f"host{j} IN A 10.0.{j >> 8}.{j & 255}\n" for j in range(1000))
        out.writelines(f"c{i} IN CNAME host{i % 1000}\n" for i in range(records))
    return [(f"c{i}.big.test.", "A") for i in range(records)]


@dataclass
class Zone:
    label: str
    origin: str
    path: Path
    records: int
    repeated: list[tuple[str, str]]
    distinct: list[tuple[str, str]]
    signed: Path | None = None  # the zone as fakens signed it, for NSD (fakens serve --dnssec signs *path*)


def make_zone(label: str, work: Path) -> Zone:
    if label in ("small", "signed"):
        names = ["www", "mail", "ns1", "exact.wild", "example.test."]
        repeated = [(f"{n}.example.test." if not n.endswith(".") else n, t)
                    for n in names for t in ("A", "AAAA", "MX", "TXT")][:20] * 5
        distinct = [(f"n{i}.wild.example.test.", "A") for i in range(300_000)]
        zone = Zone(label, "example.test.", SMALL_ZONE, 0, repeated, distinct)
        if label == "signed":
            zone.signed = signed_copy(SMALL_ZONE, work / "signed.example.test.zone")
        return zone
    (work / label).mkdir()
    path = work / label / "big.test.zone"  # the origin from the file name, as fakens serve reads it
    questions = (cname_zone if label == "cname" else big_zone)(path, SIZES[label])
    step = max(1, len(questions) // 100)
    return Zone(label, "big.test.", path, SIZES[label], questions[::step][:100], questions)


def signed_copy(path: Path, out: Path) -> Path:
    """*path* signed as ``fakens serve --dnssec`` signs it, written to *out* (for NSD)."""
    from fakens import Zone as FZone
    from fakens.dnssec import sign_zone

    zone = FZone.from_file(str(path))
    signer = sign_zone(zone)
    rrsets = signer.signed_rrsets(zone.current)
    out.write_text("".join(rrset.to_text() + "\n" for rrset in rrsets))
    return out


def write_questions(path: Path, questions: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{name} {qtype}\n" for name, qtype in questions))
    return path


# --- servers -------------------------------------------------------------------------------

def pinned(argv: list[str], cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if cpu is not None else argv


@dataclass
class Running:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    started: float
    ready_after: float = 0.0
    rss_ready: int = 0
    log: Path = field(default_factory=Path)

    def rss(self) -> int:
        """The largest resident set in the server's process tree, in bytes (NSD serves
        from a forked child; taskset execs the server, so the pid is the server's)."""
        largest, pending = 0, [self.proc.pid]
        while pending:
            pid = pending.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            m = re.search(r"VmRSS:\s+(\d+) kB", status)
            largest = max(largest, int(m.group(1)) * 1024 if m else 0)
        return largest

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(name: str, argv: list[str], port: int, probe: str, work: Path, timeout: float) -> Running:
    """Start a server and wait until it answers *probe* A (start to first answer measured)."""
    log = work / f"{name}-{port}.log"
    with open(log, "wb") as out:
        started = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work,
                                env=env)
    running = Running(name, proc, port, started, log=log)
    query = dns.message.make_query(probe, "SOA")
    deadline = started + timeout
    while True:
        if proc.poll() is not None:
            sys.exit(f"{name} exited ({proc.returncode}):\n{log.read_text(errors='replace')}")
        try:
            reply = dns.query.udp(query, HOST, port=port, timeout=0.02)
            if reply.rcode() == dns.rcode.NOERROR:
                break
        except (dns.exception.DNSException, OSError):  # not yet; or a late reply to an earlier probe
            pass
        if time.perf_counter() > deadline:
            running.stop()
            sys.exit(f"{name} did not answer within {timeout:g} s:\n{log.read_text(errors='replace')}")
    running.ready_after = time.perf_counter() - started
    running.rss_ready = running.rss()
    return running


def nsd_config(d: Path, port: int, origin: str, zonefile: Path) -> Path:
    """Write an NSD config serving *zonefile* as *origin* on 127.0.0.1:*port* from directory
    *d* (one process, rate limiting off, no control); return its path."""
    conf = d / "nsd.conf"
    conf.write_text(f"""\
server:
  ip-address: {HOST}@{port}
  do-ip6: no
  port: {port}
  username: ""
  chroot: ""
  zonesdir: "{d}"
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}"
  pidfile: "{d}/nsd.pid"
  verbosity: 0
  server-count: 1
  reuseport: no
  rrl-ratelimit: 0
  tcp-count: 1000
remote-control:
  control-enable: no
zone:
  name: "{origin}"
  zonefile: "{zonefile}"
""")
    return conf


def start_nsd(zone: Zone, work: Path, cpu: int | None) -> Running:
    port = free_port(HOST)
    d = work / f"nsd-{port}"
    d.mkdir()
    conf = nsd_config(d, port, zone.origin, zone.signed or zone.path)
    nsd = find_tool("nsd")
    assert nsd
    # -d: stay in the foreground; NSD forks xfrd, the serving process is the child
    return start("nsd", pinned([nsd, "-d", "-c", str(conf)], cpu), port, zone.origin, work, 120)


def start_fakens(zone: Zone, work: Path, cpu: int | None, loop: str = "auto") -> Running:
    port = free_port(HOST)
    argv = [sys.executable, "-m", "fakens", "serve", str(zone.path), "--listen", f"{HOST}:{port}", "--quiet",
            "--loop", loop] + (["--dnssec"] if zone.signed is not None else [])
    return start("fakens", pinned(argv, cpu), port, zone.origin, work, 600)


NOOP = """
import asyncio, socket, sys
from fakens.outcome import Reply
from fakens.transport.udp import UdpEndpoint

def echo(data, client, local, transport):
    if len(data) < 12:
        return Reply([])
    return Reply([data[:2] + bytes([data[2] | 0x84, data[3] & 0xf0]) + data[4:]])

async def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], int(sys.argv[2])))
    sock.setblocking(False)
    await UdpEndpoint.start(sock, echo)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def start_noop(work: Path, cpu: int | None) -> Running:
    """The do-nothing endpoint: fakens' own UDP transport on the same event loop, with a
    handler that echoes the query as a reply (its SOA probe comes back NOERROR, empty)."""
    port = free_port(HOST)
    return start("noop", pinned([sys.executable, "-c", NOOP, HOST, str(port)], cpu), port, "x.", work, 30)


# --- dnsperf ------------------------------------------------------------------------------

def dnsperf(port: int, qfile: Path, seconds: float, clients: int, cpu: int | None,
            tcp: bool = False, once: bool = False, do: bool = False) -> tuple[float, int, int]:
    """(queries per second, lost, sent). *once*: each question of *qfile* sent once at most;
    *do*: every query with the DO bit."""
    binary = shutil.which("dnsperf")
    assert binary
    argv = [binary, "-s", HOST, "-p", str(port), "-d", str(qfile), "-l", f"{seconds:g}", "-c", str(clients)]
    if tcp:
        argv += ["-m", "tcp", "-q", "100"]
    if once:
        argv += ["-n", "1"]
    if do:
        argv += ["-D"]
    res = subprocess.run(pinned(argv, cpu), capture_output=True, text=True, timeout=seconds + 60, check=False)
    qps = re.search(r"Queries per second:\s+([\d.]+)", res.stdout)
    lost = re.search(r"Queries lost:\s+(\d+)", res.stdout)
    sent = re.search(r"Queries sent:\s+(\d+)", res.stdout)
    if res.returncode != 0 or not qps:
        sys.exit(f"{' '.join(argv)} failed ({res.returncode}):\n{res.stdout}{res.stderr}")
    return float(qps.group(1)), int(lost.group(1)) if lost else -1, int(sent.group(1)) if sent else -1


# --- in-process lifecycle -----------------------------------------------------------------

def lifecycle(rounds: int) -> dict[str, list[float]]:
    """A fixture server's start + answer + stop, and a 20-server lab started and answering."""
    from fakens import Server
    from fakens import Zone as FZone
    from fakens.lab import build_hierarchy

    text = ("$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n"
            "@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.10\n")
    query = dns.message.make_query("www.example.test.", "A")
    out: dict[str, list[float]] = {"fixture start+answer+stop": [], "20-server lab start+answer": []}
    for _ in range(rounds):
        t = time.perf_counter()
        server = Server([FZone.from_text(text)], listen=[f"{HOST}:0"])
        server.start()
        dns.query.udp(query, HOST, port=server.addresses[0][1], timeout=2)
        server.stop()
        out["fixture start+answer+stop"].append(time.perf_counter() - t)
    zones = [f"$ORIGIN z{i}.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 86400 300\n@ NS ns1\nwww A 192.0.2.{i}\n"
             for i in range(18)]
    for _ in range(max(3, rounds // 20)):
        t = time.perf_counter()
        lab = build_hierarchy([FZone.from_text(z) for z in zones], port=free_port(HOST))
        with lab:
            server = lab.servers_for("z17.test.")[0]
            address, port = server.addresses[0]
            dns.query.udp(dns.message.make_query("www.z17.test.", "A"), address, port=port, timeout=2)
        out["20-server lab start+answer"].append(time.perf_counter() - t)
        out.setdefault("lab servers", []).append(float(len(lab.servers)))
    return out


# --- report -------------------------------------------------------------------------------

def span(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:,.0f}" if round(lo) == round(hi) else f"{lo:,.0f}-{hi:,.0f}"


def ratio_span(a: list[float], b: list[float]) -> str:
    ratios = [x / y for x, y in zip(a, b, strict=True) if y]
    if not ratios:
        return "n/a"
    lo, hi = min(ratios), max(ratios)
    return f"{lo:.2f}" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="small,100k", help="zones: small, signed, cname, 10k, 100k, 1m (comma list)")
    ap.add_argument("--seconds", type=float, default=5.0, help="dnsperf run length per test (-l)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating runs per server and test")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf clients (-c)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin servers and dnsperf to CPUs")
    ap.add_argument("--lifecycle-only", action="store_true", help="only fixture and lab start")
    args = ap.parse_args()

    life = lifecycle(50)
    print("in-process lifecycle (median, p90):")
    for what, values in life.items():
        if what == "lab servers":
            print(f"  lab size: {int(values[0])} servers")
            continue
        values = sorted(values)
        print(f"  {what}: {statistics.median(values) * 1000:.1f} ms, "
              f"p90 {values[int(len(values) * 0.9) - 1] * 1000:.1f} ms")
    if args.lifecycle_only:
        return 0

    for tool in ("dnsperf", "nsd"):
        if not find_tool(tool):
            sys.exit(f"{tool} not found: run scripts/install-tools")
    from bench_lifecycle import compiled_bytecode  # (this script's directory is on sys.path)

    print(compiled_bytecode())
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    server_cpu, client_cpu = (0, 1) if pin else (None, None)
    print(f"\ndnsperf -l {args.seconds:g} -c {args.clients}, {args.rounds} round(s); "
          + ("servers on CPU 0, dnsperf on CPU 1" if pin else "unpinned"), flush=True)

    with tempfile.TemporaryDirectory(prefix="fakens-bench-nsd-") as tmp:
        work = Path(tmp)
        for label in args.sizes.split(","):
            zone = make_zone(label.strip(), work)
            rep = write_questions(work / f"{label}-repeated.txt", zone.repeated)
            dis = write_questions(work / f"{label}-distinct.txt", zone.distinct)
            results: dict[tuple[str, str], list[float]] = {}
            loads: dict[str, list[float]] = {}
            memory: dict[str, list[tuple[int, int]]] = {}
            for rnd in range(args.rounds):
                order = ["nsd", "fakens", "asyncio", "noop"]
                if rnd % 2:
                    order.reverse()
                for name in order:
                    if name == "nsd":
                        server = start_nsd(zone, work, server_cpu)
                    elif name == "fakens":
                        server = start_fakens(zone, work, server_cpu)
                    elif name == "asyncio":
                        server = start_fakens(zone, work, server_cpu, "asyncio")
                    else:
                        server = start_noop(work, server_cpu)
                    try:
                        loads.setdefault(name, []).append(server.ready_after)
                        tests = [("udp-repeated", rep, False), ("udp-distinct", dis, False)]
                        if name != "noop":
                            tests.append(("tcp-pipelined", rep, True))
                        for test, qfile, tcp in tests:
                            qps, lost, sent = dnsperf(server.port, qfile, args.seconds, args.clients, client_cpu, tcp,
                                                      once=test == "udp-distinct", do=zone.signed is not None)
                            results.setdefault((name, test), []).append(qps)
                            print(f"  {label} round {rnd + 1} {name:<7} {test:<14} {qps:>10,.0f} qps "
                                  f"(lost {lost} of {sent})", file=sys.stderr, flush=True)
                        memory.setdefault(name, []).append((server.rss_ready, server.rss()))
                    finally:
                        server.stop()
            print(f"\nzone {label} ({zone.records:,} generated records)" if zone.records else
                  f"\nzone {label} ({SMALL_ZONE.name}{', signed, every query DO=1' if zone.signed else ''})")
            from fakens.loops import loop_name

            print(f"  fakens on {loop_name('auto')}; 'asyncio' is fakens serve --loop asyncio")
            print(f"  {'test':<16}{'NSD':>16}{'fakens':>16}{'asyncio':>16}{'no-op':>16}{'fakens/NSD':>14}"
                  f"{'asyncio/NSD':>14}")
            client_bound = False
            for test in ("udp-repeated", "udp-distinct", "tcp-pipelined"):
                n, f, a = results[("nsd", test)], results[("fakens", test)], results[("asyncio", test)]
                noop = results.get(("noop", test))
                if noop and statistics.median(noop) < 1.5 * statistics.median(n):
                    client_bound = True
                print(f"  {test:<16}{span(n):>16}{span(f):>16}{span(a):>16}{span(noop) if noop else '':>16}"
                      f"{ratio_span(f, n):>14}{ratio_span(a, n):>14}")
            print(f"  {'start to answer':<16}{span([x * 1000 for x in loads['nsd']]) + ' ms':>16}"
                  f"{span([x * 1000 for x in loads['fakens']]) + ' ms':>16}"
                  f"{span([x * 1000 for x in loads['asyncio']]) + ' ms':>16}")
            for name in ("nsd", "fakens", "asyncio"):
                ready = [r / 2**20 for r, _ in memory[name]]
                after = [a / 2**20 for _, a in memory[name]]
                print(f"  {name} resident memory: {span(ready)} MB ready, {span(after)} MB after the runs")
            if client_bound:
                print("  note: the do-nothing endpoint does not clearly outrun NSD (< 1.5x): the UDP ratios "
                      "measure the client as much as the servers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
