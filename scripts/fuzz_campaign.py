#!/usr/bin/env python3
"""Fuzz campaign: N inputs over UDP and TCP against ``fakens serve`` on loopback.

Starts ``fakens serve`` on a free loopback port with the zone of tests/unit/test_fuzz_handle.py
(answers, a wildcard, a delegation with glue, DS) and sends, seeded and reproducible:

- ``query``: mutations of valid queries (that test's seeds and mutator: bytes changed, cut,
  inserted, counts rewritten);
- ``reply``: mutations of the server's own replies to those seeds (QR kept or cleared);
- ``random``: random bytes (0 to 80);
- ``dnslib``: messages built with dnslib (random names, types, classes, opcodes, flags, EDNS);
- ``hypothesis``: messages built field by field from hypothesis strategies (lying counts,
  raw labels, any type, OPT with random options, trailing records), when hypothesis is installed:
  a pool of 4,000 made at the start (hypothesis makes about 200 a second), each sent once as
  made, then mutated;
- ``framing`` (TCP only): a bad length prefix or a cut frame on a connection of its own.

After each input a sentinel query (a fresh ID, a name of its own) follows on the same socket
or connection: the replies before the sentinel's are the input's, so nothing waits for a
timeout. Every reply must parse with dnspython, have QR set, carry the input's ID and, when
the input parsed with one question, the same question. Every ``--health-every`` inputs a
normal query over UDP and over TCP must be answered NOERROR with an answer. At the end: inputs
tried by kind and transport, replies, rcodes, broken replies (the first ones in hex), missed
sentinels and health checks, the server's internal errors (its stderr) and memory::

    python scripts/fuzz_campaign.py [--inputs 1000000] [--seed 1] [--tcp-share 0.2] [-- SERVE FLAGS]

Exit status 1 when anything broke.
"""

from __future__ import annotations

import argparse
import collections
import random
import select
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.rcode
from bench_vs_nsd import HOST, ROOT, start  # also puts the repository on sys.path

sys.path.insert(0, str(ROOT / "tests" / "unit"))
from test_fuzz_handle import SEEDS, ZONE, _mutate

from fakens.testing import free_port

TIMEOUT = 2.0  # for the sentinel's reply: only a broken server takes this long
KINDS = ("query", "reply", "random", "dnslib", "hypothesis")
WEIGHTS = (40, 15, 15, 10, 20)
HYPOTHESIS_POOL = 4000
QTYPES = (1, 2, 5, 6, 12, 15, 16, 28, 33, 43, 46, 47, 48, 50, 99, 251, 252, 255, 256, 65535)


# --- inputs -------------------------------------------------------------------------------------

def dnslib_message(rng: random.Random) -> bytes:
    import dnslib

    labels = [rng.choice(["www", "example", "test", "sub", "w", "x", "ns1", "*", "a" * rng.randint(1, 63)])
              for _ in range(rng.randint(0, 6))]
    record = dnslib.DNSRecord(dnslib.DNSHeader(id=rng.randrange(65536), opcode=rng.choice((0, 0, 0, 1, 2, 4, 5)),
                                               rd=rng.randrange(2), aa=rng.randrange(2), ad=rng.randrange(2),
                                               cd=rng.randrange(2)))
    for _ in range(rng.choice((1, 1, 1, 0, 2))):
        record.add_question(dnslib.DNSQuestion(".".join(labels) or ".", rng.choice(QTYPES),
                                               rng.choice((1, 1, 1, 3, 254, 255))))
    if rng.random() < 0.5:
        options = [dnslib.EDNSOption(rng.choice((3, 8, 10, 11, 12, 15, 65001)), bytes(rng.randrange(256)
                   for _ in range(rng.randint(0, 40)))) for _ in range(rng.randint(0, 3))]
        record.add_ar(dnslib.EDNS0(udp_len=rng.choice((0, 512, 1232, 4096, 65535)), version=rng.choice((0, 0, 1)),
                                   flags="do" if rng.random() < 0.5 else "", opts=options))
    if rng.random() < 0.2:
        record.add_answer(*dnslib.RR.fromZone(f"{'.'.join(labels) or 'x'}. 300 IN TXT \"fuzz\""))
    return bytes(record.pack())


def hypothesis_messages(seed: int) -> Iterator[bytes]:
    """DNS messages built field by field from hypothesis strategies, in batches."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    label = st.one_of(st.sampled_from([b"www", b"example", b"test", b"sub", b"*", b"w"]),
                      st.binary(min_size=1, max_size=63))
    name = st.lists(label, max_size=8).map(lambda ls: b"".join(bytes([len(x)]) + x for x in ls) + b"\0")
    pointer = st.integers(0xC000, 0xFFFF).map(lambda p: struct.pack("!H", p))
    question = st.tuples(st.one_of(name, pointer), st.sampled_from(QTYPES) | st.integers(0, 65535),
                         st.sampled_from((1, 3, 255)) | st.integers(0, 65535)).map(
        lambda q: q[0] + struct.pack("!HH", q[1], q[2]))
    option = st.tuples(st.integers(0, 65535), st.binary(max_size=40)).map(
        lambda o: struct.pack("!HH", o[0], len(o[1])) + o[1])
    opt = st.tuples(st.integers(0, 65535), st.integers(0, 2**32 - 1), st.lists(option, max_size=4)).map(
        lambda o: b"\0" + struct.pack("!HHIH", 41, o[0], o[1], sum(map(len, o[2]))) + b"".join(o[2]))
    record = st.tuples(name, st.integers(0, 65535), st.binary(max_size=30)).map(
        lambda r: r[0] + struct.pack("!HHIH", r[1], 1, 300, len(r[2])) + r[2])
    message = st.tuples(st.integers(0, 65535), st.integers(0, 0x7FFF), st.lists(question, max_size=2),
                        st.lists(record, max_size=2), st.lists(opt, max_size=2), st.booleans()).map(
        lambda m: struct.pack("!HHHHHH", m[0], m[1], len(m[2]), len(m[3]), 0, len(m[4]) if m[5] else 0)
        + b"".join(m[2]) + b"".join(m[3]) + b"".join(m[4]))
    batch: list[bytes] = []
    n = 0
    while True:
        @hseed(seed + n)
        @settings(max_examples=2000, database=None, phases=[Phase.generate], deadline=None,
                  suppress_health_check=list(HealthCheck))
        @given(message)
        def collect(wire: bytes) -> None:
            batch.append(wire)

        collect()
        n += 1
        yield from batch
        batch.clear()


class Inputs:
    """The campaign's inputs, by kind."""

    def __init__(self, seed: int, replies: list[bytes], use_hypothesis: bool) -> None:
        self.rng = random.Random(seed)
        self.replies = replies
        # hypothesis makes about 200 messages a second: a pool of them, each sent as made, then mutated
        made = hypothesis_messages(seed) if use_hypothesis else iter(())
        self.pool = [next(made) for _ in range(HYPOTHESIS_POOL)] if use_hypothesis else []
        self.fresh = iter(list(self.pool))
        self.kinds = [k for k in KINDS if k != "hypothesis" or use_hypothesis]
        self.weights = [w for k, w in zip(KINDS, WEIGHTS, strict=True) if k in self.kinds]
        self.makers: dict[str, Callable[[], bytes]] = {
            "query": lambda: _as_query(_mutate(self.rng, self.rng.choice(SEEDS))),
            "reply": lambda: self._reply(),
            "random": lambda: bytes(self.rng.randrange(256) for _ in range(self.rng.randint(0, 80))),
            "dnslib": lambda: dnslib_message(self.rng),
            "hypothesis": lambda: next(self.fresh, None) or _mutate(self.rng, self.rng.choice(self.pool)),
        }

    def _reply(self) -> bytes:
        wire = _mutate(self.rng, self.rng.choice(self.replies))
        return _as_query(wire) if self.rng.random() < 0.5 else wire

    def next(self) -> tuple[str, bytes]:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        return kind, self.makers[kind]()


def _as_query(wire: bytes) -> bytes:
    """QR cleared, so that it is answered (a response is only ever acknowledged, never answered)."""
    return wire[:2] + bytes([wire[2] & 0x7F]) + wire[3:] if len(wire) >= 3 else wire


# --- checking ---------------------------------------------------------------------------------------

class Tally:
    def __init__(self) -> None:
        self.tried: collections.Counter[str] = collections.Counter()
        self.replies = 0
        self.unanswered = 0
        self.rcodes: collections.Counter[str] = collections.Counter()
        self.broken: list[str] = []
        self.missed_sentinels = 0
        self.health = 0
        self.health_failed: list[str] = []
        self.reconnects = 0

    def check(self, kind: str, transport: str, wire: bytes, replies: list[bytes]) -> None:
        self.tried[f"{kind}/{transport}"] += 1
        if not replies:
            self.unanswered += 1
        asked = _question(wire)
        for reply in replies:
            self.replies += 1
            problem, message = _problem(wire, reply, asked)
            if message is not None:
                self.rcodes[dns.rcode.to_text(message.rcode())] += 1
            if problem:
                self.broken.append(f"{kind}/{transport}: {problem}: input {wire.hex()} reply {reply.hex()}")


def _question(wire: bytes) -> tuple[dns.name.Name, int, int] | None:
    try:
        message = dns.message.from_wire(wire, keyring=False)
    except Exception:
        return None
    if len(message.question) != 1:
        return None
    q = message.question[0]
    return q.name, q.rdtype, q.rdclass


def _problem(wire: bytes, reply: bytes, asked: tuple[dns.name.Name, int, int] | None
             ) -> tuple[str, dns.message.Message | None]:
    """What is wrong with *reply* to *wire* ("" when nothing), and the reply parsed."""
    try:
        message = dns.message.from_wire(reply, keyring=False)  # False: TSIG read, not verified
    except Exception as e:
        return f"reply does not parse ({type(e).__name__}: {e})", None
    if not message.flags & 0x8000:
        return "reply without QR", message
    if len(wire) >= 2 and reply[:2] != wire[:2]:
        return "reply ID differs from the query's", message
    if asked is not None and message.question:
        q = message.question[0]
        if (q.name, q.rdtype, q.rdclass) != asked:
            return f"reply question {q.name} {q.rdtype} {q.rdclass} differs from the query's", message
    return "", message


# --- transports ------------------------------------------------------------------------------------

class Sentinel:
    def __init__(self) -> None:
        self.n = 0

    def make(self) -> tuple[int, bytes]:
        self.n += 1
        msg_id = self.n & 0xFFFF
        return msg_id, dns.message.make_query(f"s{self.n}.example.test.", "A", id=msg_id).to_wire()

    @staticmethod
    def is_reply(reply: bytes, msg_id: int, query: bytes) -> bool:
        return len(reply) >= 12 and reply[:2] == struct.pack("!H", msg_id) and query[12:] in reply


class Udp:
    def __init__(self, port: int) -> None:
        self.target = (HOST, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.settimeout(TIMEOUT)

    def exchange(self, wire: bytes, sentinel: Sentinel) -> list[bytes] | None:
        """The replies to *wire*; None when the sentinel's did not come."""
        msg_id, probe = sentinel.make()
        self.sock.sendto(wire, self.target)
        self.sock.sendto(probe, self.target)
        replies = []
        while True:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                return None
            if Sentinel.is_reply(data, msg_id, probe):
                return replies
            replies.append(data)


class Tcp:
    def __init__(self, port: int, tally: Tally) -> None:
        self.port = port
        self.tally = tally
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection((HOST, self.port), timeout=TIMEOUT)
            # the input and its sentinel are two small writes: without NODELAY the client's
            # Nagle holds the second until the server's delayed ACK (about 40 ms each)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        return self.sock

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.tally.reconnects += 1

    def _frame(self) -> bytes | None:
        assert self.sock is not None
        while True:
            if len(self.buffer) >= 2:
                n = struct.unpack("!H", self.buffer[:2])[0]
                if len(self.buffer) >= 2 + n:
                    frame, self.buffer = self.buffer[2:2 + n], self.buffer[2 + n:]
                    return frame
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data

    def exchange(self, wire: bytes, sentinel: Sentinel) -> list[bytes] | None:
        msg_id, probe = sentinel.make()
        replies: list[bytes] = []
        for attempt in range(2):
            sock = self._connect()
            try:
                # the sentinel only once the input's reply came (or 20 ms passed): two queries in one
                # segment take fakens about 40 ms to answer (delayed ACK), one at a time 0.2 ms
                if wire:
                    sock.sendall(struct.pack("!H", len(wire)) + wire)
                    if select.select([sock], [], [], 0.02)[0]:
                        frame = self._frame()
                        if frame is None:
                            self._drop()
                            sock = self._connect()
                        else:
                            replies.append(frame)
                sock.sendall(struct.pack("!H", len(probe)) + probe)
                while True:
                    frame = self._frame()
                    if frame is None:  # the server closed the connection (after a bad message): fine, once
                        self._drop()
                        break
                    if Sentinel.is_reply(frame, msg_id, probe):
                        return replies
                    replies.append(frame)
            except (TimeoutError, OSError):
                self._drop()
                if attempt:
                    return None
            if replies or attempt:
                return replies  # answered, then closed: the sentinel was not read
            wire = b""  # closed before any reply: ask the sentinel alone on a new connection
        return replies

    def framing(self, rng: random.Random, wire: bytes) -> None:
        """A bad length prefix or a cut frame, on a connection of its own, closed at once."""
        with socket.create_connection((HOST, self.port), timeout=TIMEOUT) as sock:
            n = rng.choice((0, 1, len(wire) + rng.randint(1, 50), 65535))
            sock.sendall(struct.pack("!H", n) + wire[:rng.randint(0, len(wire))])


def health(udp: Udp, tcp: Tcp, sentinel: Sentinel) -> list[str]:
    failed = []
    query = dns.message.make_query("www.example.test.", "A")
    for name, transport in (("udp", udp), ("tcp", tcp)):
        query.id = (query.id + 1) & 0xFFFF
        replies = transport.exchange(query.to_wire(), sentinel)
        ok = False
        for reply in replies or []:
            try:
                message = dns.message.from_wire(reply)
            except dns.exception.DNSException:
                continue
            ok = ok or (message.id == query.id and message.rcode() == dns.rcode.NOERROR and bool(message.answer))
        if not ok:
            failed.append(f"{name}: {len(replies) if replies is not None else 'no'} replies")
    return failed


# --- the campaign ----------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=1_000_000, help="inputs to send (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--tcp-share", type=float, default=0.2,
                    help="share of inputs sent over TCP (default 0.2)")
    ap.add_argument("--health-every", type=int, default=1000, help="a health check every N inputs (default 1000)")
    ap.add_argument("--no-hypothesis", action="store_true", help="leave out hypothesis-built messages")
    ap.add_argument("--progress", type=int, default=50_000, help="print progress every N inputs")
    ap.add_argument("serve_flags", nargs=argparse.REMAINDER, help="after --: more fakens serve flags")
    args = ap.parse_args()
    extra = args.serve_flags[1:] if args.serve_flags[:1] == ["--"] else args.serve_flags
    use_hypothesis = not args.no_hypothesis
    if use_hypothesis:
        try:
            import hypothesis  # noqa: F401
        except ImportError:
            print("fuzz: hypothesis is not installed: no hypothesis-built messages", flush=True)
            use_hypothesis = False
    with tempfile.TemporaryDirectory(prefix="fakens-fuzz-") as tmp:
        work = Path(tmp)
        zone = work / "example.test.zone"
        zone.write_text(ZONE)
        port = free_port(HOST)
        argv = [sys.executable, "-m", "fakens", "serve", str(zone), "--listen", f"{HOST}:{port}", "--quiet",
                "--log-keep", "1000", *extra]
        server = start("fakens", argv, port, "example.test.", work, 60)
        rss_start = server.rss()
        tally = Tally()
        sentinel = Sentinel()
        udp, tcp = Udp(port), Tcp(port, tally)
        replies = [r for seed in SEEDS for r in (udp.exchange(seed, sentinel) or []) + (tcp.exchange(seed, sentinel) or [])]
        inputs = Inputs(args.seed, replies, use_hypothesis)
        rng = random.Random(args.seed + 1)
        began = time.perf_counter()
        for i in range(args.inputs):
            kind, wire = inputs.next()
            transport = "tcp" if rng.random() < args.tcp_share else "udp"
            if transport == "tcp" and rng.random() < 0.02:
                tcp.framing(rng, wire)
                tally.tried["framing/tcp"] += 1
            else:
                got = (tcp if transport == "tcp" else udp).exchange(wire, sentinel)
                if got is None:
                    tally.missed_sentinels += 1
                    tally.broken.append(f"{kind}/{transport}: no reply to the sentinel after input {wire.hex()}")
                    got = []
                tally.check(kind, transport, wire, got)
            if (i + 1) % args.health_every == 0:
                tally.health += 1
                failed = health(udp, tcp, sentinel)
                if failed:
                    tally.health_failed.append(f"after input {i + 1}: " + "; ".join(failed))
            if args.progress and (i + 1) % args.progress == 0:
                rate = (i + 1) / (time.perf_counter() - began)
                print(f"  {i + 1} inputs, {rate:.0f}/s, {tally.replies} replies, {len(tally.broken)} broken, "
                      f"{len(tally.health_failed)} failed health checks", flush=True)
        took = time.perf_counter() - began
        final = health(udp, tcp, sentinel)
        rss_end = server.rss()
        alive = server.proc.poll() is None
        server.stop()
        stderr = server.log.read_text(errors="replace")
    internal = [line for line in stderr.splitlines() if "internal error" in line or "Traceback" in line]
    rate = args.inputs / took
    print(f"fuzz: {args.inputs} inputs (seed {args.seed}) in {took:.1f} s, {rate:.0f}/s "
          f"(1,000,000 would take about {1_000_000 / rate / 60:.1f} min)")
    print("  inputs: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.tried.items())))
    print(f"  replies: {tally.replies} ({tally.unanswered} inputs unanswered); rcodes: "
          + ", ".join(f"{k} {v}" for k, v in tally.rcodes.most_common()))
    print(f"  TCP connections closed by the server: {tally.reconnects}")
    print(f"  health checks: {tally.health} every {args.health_every} inputs, {len(tally.health_failed)} failed"
          + (f", final {'; '.join(final)}" if final else ", final one answered"))
    print(f"  missed sentinels: {tally.missed_sentinels}; broken replies: {len(tally.broken) - tally.missed_sentinels}")
    print(f"  server: {'alive' if alive else 'EXITED'} at the end, RSS {rss_start / 2**20:.1f} -> "
          f"{rss_end / 2**20:.1f} MiB, {len(internal)} internal errors on its stderr")
    for line in (tally.broken + tally.health_failed + internal)[:20]:
        print(f"  BROKEN {line[:400]}")
    broken = bool(tally.broken or tally.health_failed or final or internal or not alive)
    print("  result: " + ("something broke (above)" if broken else "nothing broken"))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
