#!/usr/bin/env python3
"""TCP abuse against a ``fakens serve`` this script starts on loopback (issue 10's measurements).

    python scripts/tcp_abuse.py                 # all four, default settings of the server
    python scripts/tcp_abuse.py --seconds 10 -- --tcp-max-per-client 50   # flags after -- go to serve

Hogs connect from 127.0.0.2, the client that should still be served from 127.0.0.3:

- idle hog: 100 connections that send nothing; then the other client's TCP queries;
- reconnecting hog: 100 connections, each reopened as soon as the server closes it,
  while the other client asks over TCP for ``--seconds``;
- slowloris (from 127.0.0.4): one byte a second of a query; how long until the server closes it;
- unread pipelining (from 127.0.0.5): 300 AXFRs of a 2,000-record zone on one connection that never
  reads; the server's memory growth, whether and when the connection is aborted, and
  the other client's queries meanwhile.

For each it prints what the other client got (answered / asked) and the figures above.
Run it where 127.0.0.2 and 127.0.0.3 exist (Linux: all of 127/8 is loopback).
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import dns.message

HOG, OTHER, HOST = "127.0.0.2", "127.0.0.3", "127.0.0.1"
SLOW, PIPELINER = "127.0.0.4", "127.0.0.5"  # a client of their own: the hogs' closed connections may still count
ZONE = """$ORIGIN abuse.test.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
$GENERATE 1-2000 host-$ TXT "record $ of the abuse zone, long enough to make the transfer large"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def connect(port: int, source: str, timeout: float = 2.0, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect((HOST, port))
    return sock


def frame(wire: bytes) -> bytes:
    return struct.pack("!H", len(wire)) + wire


def read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def tcp_query(port: int, source: str = OTHER, timeout: float = 2.0) -> bool:
    """One query on a new connection: answered?"""
    try:
        with connect(port, source, timeout) as sock:
            q = dns.message.make_query("www.abuse.test.", "A")
            sock.sendall(frame(q.to_wire()))
            (length,) = struct.unpack("!H", read_exact(sock, 2))
            return dns.message.from_wire(read_exact(sock, length)).id == q.id
    except (OSError, EOFError):
        return False


def asking(port: int, seconds: float) -> tuple[int, int]:
    """The other client asking over TCP for *seconds*: (answered, asked)."""
    answered = asked = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        asked += 1
        answered += tcp_query(port)
    return answered, asked


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def closed(sock: socket.socket) -> bool:
    """Has the server closed or reset *sock* (without waiting)?"""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    data: bytes | None
    try:
        data = sock.recv(65536)
    except BlockingIOError:
        data = None  # open, nothing to read
    except OSError:
        data = b""  # reset
    sock.settimeout(timeout)
    return data == b""


def idle_hog(port: int, seconds: float) -> str:
    hogs = []
    for _ in range(100):
        try:
            hogs.append(connect(port, HOG))
        except OSError:
            pass
    time.sleep(0.3)
    alive = sum(1 for s in hogs if not closed(s))
    answered, asked = asking(port, seconds)
    for s in hogs:
        s.close()
    return f"idle hog: {alive} of 100 hog connections held; other client's TCP: {answered} of {asked} answered"


def reconnecting_hog(port: int, seconds: float) -> str:
    stop = threading.Event()
    reopened = [0]

    def hog() -> None:
        socks: list[socket.socket] = []
        while not stop.is_set():
            for s in list(socks):
                if closed(s):
                    socks.remove(s)
                    s.close()
                    reopened[0] += 1
            while len(socks) < 100 and not stop.is_set():
                try:
                    socks.append(connect(port, HOG))
                except OSError:
                    break
            time.sleep(0.001)
        for s in socks:
            s.close()

    thread = threading.Thread(target=hog)
    thread.start()
    time.sleep(0.5)
    answered, asked = asking(port, seconds)
    stop.set()
    thread.join()
    return (f"reconnecting hog: {reopened[0]} reopened connections; "
            f"other client's TCP: {answered} of {asked} answered")


def slowloris(port: int, limit: float) -> str:
    wire = frame(dns.message.make_query("www.abuse.test.", "A").to_wire())
    sock = connect(port, SLOW)
    started = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - started < limit:
            if time.monotonic() - started >= sent:  # one byte a second
                sock.sendall(wire[sent % len(wire) : sent % len(wire) + 1])
                sent += 1
            time.sleep(0.05)
            if closed(sock):
                return f"slowloris (1 byte/s): closed by the server after {time.monotonic() - started:.1f} s, {sent} bytes"
    except OSError:
        return f"slowloris (1 byte/s): reset by the server after {time.monotonic() - started:.1f} s, {sent} bytes"
    finally:
        sock.close()
    return f"slowloris (1 byte/s): still open after {limit:.0f} s"


def unread_pipelining(port: int, pid: int, limit: float) -> str:
    before = rss_kib(pid)
    sock = connect(port, PIPELINER, rcvbuf=4096)
    queries = b"".join(frame(dns.message.make_query("abuse.test.", "AXFR").to_wire()) for _ in range(300))
    sock.setblocking(False)
    sent = 0
    try:
        while sent < len(queries):
            sent += sock.send(queries[sent:])
    except BlockingIOError:
        pass
    started = time.monotonic()
    peak = before
    result: str | None = None
    with_other = [0, 0]
    while time.monotonic() - started < limit:
        peak = max(peak, rss_kib(pid))
        with_other[0] += tcp_query(port)
        with_other[1] += 1
        try:
            sock.send(b"")
            if sock.recv(1, socket.MSG_PEEK) == b"":
                break
        except BlockingIOError:
            pass
        except OSError:
            result = f"aborted (reset) after {time.monotonic() - started:.1f} s"
            break
        time.sleep(0.1)
    sock.close()
    outcome = result or f"still held after {limit:.0f} s"
    return (f"unread pipelining (300 AXFRs, {sent} query bytes taken): {outcome}; server memory "
            f"+{(peak - before) / 1024:.1f} MiB at peak; other client's TCP meanwhile: {with_other[0]} of "
            f"{with_other[1]} answered")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the other client asks per case")
    parser.add_argument("serve_args", nargs="*", help="more flags for fakens serve (after --)")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        zone = Path(tmp) / "abuse.test.zone"
        zone.write_text(ZONE)
        ready = Path(tmp) / "ready.json"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        proc = subprocess.Popen([sys.executable, "-m", "fakens", "serve", str(zone), "--listen", f"{HOST}:{port}",
                                 "--quiet", "--ready-file", str(ready), *args.serve_args], env=env)
        try:
            deadline = time.monotonic() + 30
            while not ready.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    print("fakens serve did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
            print(f"fakens serve on {HOST}:{port} {' '.join(args.serve_args)}".rstrip(), flush=True)
            print(idle_hog(port, args.seconds), flush=True)
            print(reconnecting_hog(port, args.seconds), flush=True)
            print(slowloris(port, 30.0), flush=True)
            print(unread_pipelining(port, proc.pid, 30.0), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
