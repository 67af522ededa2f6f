"""Streaming transfers: a 100k-record AXFR is made message by message, with backpressure.

One process holds two servers: ``big`` serves big.test. (100 000 A records) and
wide.test. (16 000 TXT records of 1000 bytes, 16 MB on the wire: more than the kernel
buffers for one connection), both built in memory with the Zone API; ``small`` serves
example.test. While ``big`` sends the
AXFR, a UDP prober in another process (so that the measure is not the test's own
thread fighting the servers' for the GIL) asks ``small`` every 5 ms and reports when each
answer came: every query is answered, and answers keep coming all through the transfer
(no gap between two of them longer than a fifth of the transfer, where a transfer built in
one blocking step leaves one gap nearly as long as the transfer; a timing class, not a
latency bound that a busy machine breaks). The AXFR client (dnspython's
``inbound_xfr`` into a ``dns.zone.Zone``) runs in a process of its own too and reports
what it received. A client of wide.test. that stops reading holds back the producer
(the query log shows how many messages were made); a client that goes away stops it.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rrset
import pytest

import fakens
from fakens.zones import ZoneVersion

from .conftest import EXAMPLE_ZONE, TIMEOUT, ask_wire, frame, poll, read_frame

RECORDS = 100_000
BIG = "big.test."
WIDE = "wide.test."
WIDE_RECORDS = 16_000
TXT_SIZE = 1000  # four strings of 250 bytes
SERIAL = 2026120201
LONGEST_GAP_SHARE = 0.2  # of the transfer's duration, between two answers of the prober

PROBER = textwrap.dedent("""
    import json, socket, struct, sys, threading, time
    import dns.message
    host, port = sys.argv[1], int(sys.argv[2])
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5.0)
    samples, lost, msg_id = [], 0, 0
    print("ready", flush=True)
    while not stop.is_set():
        msg_id = (msg_id + 1) % 65536
        wire = dns.message.make_query("www.example.test.", "A", id=msg_id).to_wire()
        sent = time.perf_counter()
        sock.sendto(wire, (host, port))
        try:
            while struct.unpack_from("!H", sock.recv(65535))[0] != msg_id:
                pass
            samples.append((sent, (time.perf_counter() - sent) * 1000))
        except socket.timeout:
            lost += 1
        time.sleep(0.005)
    print(json.dumps({"samples": samples, "lost": lost}), flush=True)
""")

AXFR_CLIENT = textwrap.dedent("""
    import json, sys, time
    import dns.query, dns.rdatatype, dns.zone
    host, port, origin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    started = time.perf_counter()
    zone = dns.zone.Zone(origin, relativize=False)
    dns.query.inbound_xfr(host, zone, port=port, timeout=30, lifetime=300)
    ended = time.perf_counter()
    took = ended - started
    soa = zone.get_rdataset(origin, "SOA")
    first = zone.get_rdataset("host-0." + origin, "A")
    last = zone.get_rdataset("host-99999." + origin, "A")
    print(json.dumps({
        "seconds": took, "started": started, "ended": ended,
        "nodes": len(zone.nodes),
        "records": sum(len(rds) for node in zone.nodes.values() for rds in node.rdatasets),
        "serial": soa[0].serial if soa else None,
        "first": [r.to_text() for r in first] if first else None,
        "last": [r.to_text() for r in last] if last else None,
    }))
""")


def address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def text_of(i: int) -> list[bytes]:
    return [f"record {i} part {part} ".ljust(TXT_SIZE // 4, "x").encode() for part in range(4)]


def generated(origin_text: str, count: int, rdtype: dns.rdatatype.RdataType,
              rdata: Callable[[int], dns.rdata.Rdata]) -> fakens.Zone:
    """SOA, NS, ns1 A, and host-0 .. host-{count-1} with one *rdtype* record each (built
    with the Zone API: much faster than zone text for 100k records)."""
    origin = dns.name.from_text(origin_text)
    none = dns.rdatatype.NONE
    soa = dns.rrset.from_text(origin, 300, "IN", "SOA", f"ns1.{origin_text} hostmaster.{origin_text} {SERIAL} 7200 900 1209600 300")
    ns_name = dns.name.from_text("ns1", origin)
    nodes = {
        origin: {(dns.rdatatype.SOA, none): soa,
                 (dns.rdatatype.NS, none): dns.rrset.from_text(origin, 300, "IN", "NS", ns_name.to_text())},
        ns_name: {(dns.rdatatype.A, none): dns.rrset.from_text(ns_name, 300, "IN", "A", "127.0.0.1")},
    }
    for i in range(count):
        name = dns.name.Name((b"host-%d" % i, *origin.labels))
        rrset = dns.rrset.RRset(name, dns.rdataclass.IN, rdtype)
        rrset.add(rdata(i), 300)
        nodes[name] = {(rdtype, none): rrset}
    return fakens.Zone(ZoneVersion(origin, nodes))


def big_zone() -> fakens.Zone:
    return generated(BIG, RECORDS, dns.rdatatype.A,
                     lambda i: dns.rdtypes.IN.A.A(dns.rdataclass.IN, dns.rdatatype.A, address(i)))


def wide_zone() -> fakens.Zone:
    return generated(WIDE, WIDE_RECORDS, dns.rdatatype.TXT,
                     lambda i: dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, text_of(i)))


@dataclass
class Pair:
    big: fakens.Server
    small: fakens.Server
    wide: fakens.Zone


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    wide = wide_zone()
    big = fakens.Server([big_zone(), wide], name="big", tcp_idle_timeout=30).start()
    small = fakens.Server([EXAMPLE_ZONE], name="small").start()
    gc.collect()  # the 100k-record zone settles in the oldest generation before anything is measured
    try:
        yield Pair(big, small, wide)
    finally:
        big.stop()
        small.stop()


@pytest.fixture(autouse=True)
def clean(pair: Pair) -> None:
    pair.big.log.clear()
    pair.small.log.clear()


def spawn(script: str, *args: object, nice: int = 0) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)


def finish(proc: subprocess.Popen[str], what: str, timeout: float = 300) -> dict[str, object]:
    out, err = proc.communicate("", timeout=timeout)
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}): {err[-2000:]}"
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def axfr_entry(server: fakens.Server) -> fakens.LogEntry | None:
    return next((e for e in server.log if e.qtype_text == "AXFR"), None)


def stalled_client(server: fakens.Server) -> socket.socket:
    """A TCP client with a tiny receive buffer that asks for wide.test.'s AXFR and reads nothing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(server.addresses[0])
    sock.sendall(frame(dns.message.make_query(WIDE, "AXFR").to_wire()))
    return sock


def settled(server: fakens.Server, quiet: float = 0.5, timeout: float = 10.0) -> tuple[fakens.LogEntry, int]:
    """The AXFR's log entry and its message count once that has not grown for *quiet* seconds."""
    entry: fakens.LogEntry = poll(lambda: axfr_entry(server), what="the AXFR in the log")
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if entry.messages != last:
            last, since = entry.messages, time.monotonic()
        elif time.monotonic() - since >= quiet and last > 0:
            return entry, last
        time.sleep(0.05)  # polling interval, not synchronisation
    raise AssertionError(f"the producer did not stop: {entry.messages} messages made")


# Each record of wide.test. takes more than TXT_SIZE bytes on the wire, a message at most
# 16 KiB: its whole transfer is at least this many messages.
FEWEST_MESSAGES = WIDE_RECORDS * TXT_SIZE // 16384


def kernel_send_buffer() -> int:
    """The most the kernel buffers for one TCP connection's sending side (tcp_wmem max)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 * 1024 * 1024


def buffered_at_most() -> int:
    """What a paused producer may have made: the kernel's buffer, the transport's high-water
    mark (64 KiB) and the message being written, with room to spare."""
    return kernel_send_buffer() + 256 * 1024


# -- tests ---------------------------------------------------------------------------------------


def test_udp_answered_all_along_while_100k_axfr_streams(pair: Pair) -> None:
    host, port = pair.small.addresses[0]
    # The prober measures the server, not its own scheduling: above normal priority where
    # allowed (root), so that on a busy 2-core machine it is not the one kept waiting.
    prober = spawn(PROBER, host, port, nice=-5 if os.geteuid() == 0 else 0)
    assert prober.stdout is not None and prober.stdout.readline().strip() == "ready"
    big_host, big_port = pair.big.addresses[0]
    # The client parses 100k records as fast as it can: at a lower priority, so that on a
    # busy machine it does not take the CPU from the servers being measured.
    client = spawn(AXFR_CLIENT, big_host, big_port, BIG, nice=10)
    try:
        received = finish(client, "the AXFR client")
    finally:
        probe = finish(prober, "the UDP prober", timeout=30)
    # the transfer arrived whole and right
    assert received["nodes"] == RECORDS + 2
    assert received["records"] == RECORDS + 3  # + SOA, NS, ns1 A
    assert received["serial"] == SERIAL
    assert received["first"] == [address(0)] and received["last"] == [address(RECORDS - 1)]
    entry = axfr_entry(pair.big)
    assert entry is not None and entry.rcode == 0 and entry.note == ""
    assert entry.messages > 100 and entry.size > RECORDS * 16
    # and the other server answered every query, all along the transfer
    assert probe["lost"] == 0, f"{probe['lost']} UDP queries unanswered during the transfer"
    started, ended = float(received["started"]), float(received["ended"])  # type: ignore[arg-type]
    answered = [sent + ms / 1000 for sent, ms in probe["samples"]]  # type: ignore[union-attr]
    during = [started] + [t for t in answered if started < t < ended] + [ended]
    gaps = [b - a for a, b in itertools.pairwise(during)]
    longest, took = max(gaps), ended - started
    rtts = sorted(ms for _, ms in probe["samples"])  # type: ignore[union-attr]
    print(f"AXFR of {RECORDS} records: {took:.2f}s in {entry.messages} messages; UDP on the other server: "
          f"{len(during) - 2} answers during it, longest gap {longest * 1000:.1f} ms, "
          f"median {rtts[len(rtts) // 2]:.2f} ms, worst {rtts[-1]:.2f} ms")
    assert len(during) - 2 > 50, f"only {len(during) - 2} UDP answers during a {took:.1f}s transfer"
    assert longest < LONGEST_GAP_SHARE * took, (
        f"no UDP answer for {longest * 1000:.0f} ms of a {took * 1000:.0f} ms transfer: the loop was held")
    assert len(pair.small.log) >= len(rtts)


def test_a_client_that_stops_reading_pauses_the_producer(pair: Pair) -> None:
    with stalled_client(pair.big) as sock:
        entry, made = settled(pair.big)
        # the kernel's buffers and the transport's high-water mark hold a part, not the zone
        assert entry.size <= buffered_at_most() and made < FEWEST_MESSAGES / 2, \
            f"{made} messages ({entry.size} bytes) made for a client that reads nothing (the whole: {FEWEST_MESSAGES}+)"
        reply, _ = ask_wire(pair.small, "www.example.test.", "A")
        assert reply.answer
        reply, _ = ask_wire(pair.big, "host-7.big.test.", "A")  # the busy server too
        assert [r.to_text() for r in reply.answer[0]] == [address(7)]
        # reading again resumes it
        for _ in range(300):
            wire = read_frame(sock)
            assert dns.message.from_wire(wire, xfr=True, one_rr_per_rrset=True).answer
        poll(lambda: entry.messages > made, what="the producer resuming once the client reads")


def test_a_client_that_closes_mid_transfer_stops_the_producer(pair: Pair) -> None:
    with stalled_client(pair.big) as sock:
        for _ in range(2):
            read_frame(sock)
    entry = poll(lambda: next((e for e in pair.big.log if "transfer stopped" in e.note), None),
                 what="the transfer noted as stopped")
    made = entry.messages
    assert entry.note == f"transfer stopped after {made} messages: the connection closed"
    assert 2 <= made < FEWEST_MESSAGES / 2 and entry.size <= buffered_at_most()
    time.sleep(0.3)  # nothing to wait for: a producer that went on would show here
    assert entry.messages == made, "the producer went on after the close"
    reply, _ = ask_wire(pair.small, "www.example.test.", "A")
    assert reply.answer


def test_a_stalled_transfer_is_aborted_after_the_idle_timeout(pair: Pair) -> None:
    server = fakens.Server([pair.wide], name="wide-short-idle", tcp_idle_timeout=0.5).start()
    try:
        with stalled_client(server) as sock:
            entry = poll(lambda: next((e for e in server.log if "transfer stopped" in e.note), None),
                         what="the stalled transfer aborted")
            assert 0 < entry.messages < FEWEST_MESSAGES / 2
            with pytest.raises((ConnectionResetError, EOFError)):
                while True:
                    read_frame(sock)
    finally:
        server.stop()
