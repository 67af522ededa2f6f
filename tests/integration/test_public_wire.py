"""A server on a non-loopback address, asked by a real non-loopback client over the wire.

The test makes its own network namespace (``unshare -n``) with a veth pair: the server
listens on 192.0.2.1 (one end) and on 127.0.0.1, the client sends from 192.0.2.2 (the
other end). With an interface besides ``lo`` these addresses are not loopback for
fakens (:func:`fakens.transport.counts_as_loopback`), so ``fakens serve --allow-public``
warns, rate-limits the outside client's UDP replies and truncates large ones, while
the loopback client and TCP get everything. Nothing leaves the namespace.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.helpers import require_tool, unavailable

REPO = Path(__file__).resolve().parents[2]

INSIDE = r"""
import json, socket, subprocess, sys, time
import dns.message, dns.query, dns.flags

def sh(*argv):
    subprocess.run(argv, check=True)

sh("ip", "link", "set", "lo", "up")
sh("ip", "link", "add", "out0", "type", "veth", "peer", "name", "out1")
sh("ip", "addr", "add", "192.0.2.1/24", "dev", "out0")
sh("ip", "addr", "add", "192.0.2.2/24", "dev", "out1")
sh("ip", "link", "set", "out0", "up")
sh("ip", "link", "set", "out1", "up")

server = subprocess.Popen([sys.executable, "-m", "fakens", "serve", "zones/example.test.zone",
                           "--listen", "192.0.2.1:5300", "--listen", "127.0.0.1:5300", "--allow-public",
                           "--rate-limit", "5", "--rate-limit-burst", "10"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def ask(where, source, qname, qtype, timeout, **kw):
    q = dns.message.make_query(qname, qtype, **kw)
    try:
        return dns.query.udp(q, where, port=5300, source=source, timeout=timeout)
    except dns.exception.Timeout:
        return None

deadline = time.monotonic() + 60
while ask("127.0.0.1", "127.0.0.1", "www.example.test.", "A", 0.2) is None:  # started and answering
    assert server.poll() is None and time.monotonic() < deadline, "fakens serve did not answer"

result = {}
big = dict(use_edns=0, payload=4096)
r = ask("192.0.2.1", "192.0.2.2", "big.example.test.", "TXT", 2.0, **big)
result["outside_big"] = None if r is None else [bool(r.flags & dns.flags.TC), len(r.answer), len(r.to_wire())]
r = ask("127.0.0.1", "127.0.0.1", "big.example.test.", "TXT", 2.0, **big)
result["loopback_big"] = None if r is None else [bool(r.flags & dns.flags.TC), len(r.answer), len(r.to_wire())]
q = dns.message.make_query("big.example.test.", "TXT", **big)
r = dns.query.tcp(q, "192.0.2.1", port=5300, source="192.0.2.2", timeout=5)
result["outside_tcp_big"] = [bool(r.flags & dns.flags.TC), len(r.answer)]

# a burst of 40 UDP queries from outside, sent at once: the bucket (5/s, burst 10, one token
# spent above) answers about 9 of them; loopback is never limited
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.bind(("192.0.2.2", 0))
    began = time.monotonic()
    for i in range(40):
        sock.sendto(dns.message.make_query("www.example.test.", "A", id=i).to_wire(), ("192.0.2.1", 5300))
    sent = time.monotonic() - began
    sock.settimeout(1.0)  # the limited ones never come: how long to wait for them
    answered = set()
    try:
        while True:
            answered.add(dns.message.from_wire(sock.recv(4096)).id)
    except socket.timeout:
        pass
result["burst_answered"], result["burst_seconds"] = len(answered), time.monotonic() - began
result["loopback_answered"] = sum(
    ask("127.0.0.1", "127.0.0.1", "www.example.test.", "A", 2.0) is not None for _ in range(40))
server.terminate()
_, err = server.communicate(timeout=30)
result["stderr"] = err
print(json.dumps(result))
"""


def test_outside_client_limited_and_truncated_on_the_wire_loopback_not(tmp_path: Path) -> None:
    require_tool("unshare")
    require_tool("ip")
    done = subprocess.run(["unshare", "-n", sys.executable, "-c", textwrap.dedent(INSIDE)], cwd=REPO,
                          capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0 and "unshare failed" in done.stderr:
        unavailable(f"needs `unshare -n` (root): {done.stderr.strip()}")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    result = json.loads(done.stdout.splitlines()[-1])
    err = result["stderr"]
    assert "warning: server fakens listens on 192.0.2.1:5300" in err and "reachable from other machines" in err
    assert "at most 5 UDP replies/s per /24 (burst 10)" in err
    tc, answers, size = result["outside_big"]
    assert tc and answers == 0 and size < 100  # truncated for the outside client: asked again over TCP
    tc, answers, size = result["loopback_big"]
    assert not tc and answers == 1 and size > 512  # whole for loopback (the outside cap: 512, or 4x the query)
    assert result["outside_tcp_big"] == [False, 1]  # TCP is not capped
    # 9 tokens left of the burst, plus at most 5 a second for the time the burst took
    assert 9 <= result["burst_answered"] <= 9 + 5 * result["burst_seconds"] + 1, result
    assert result["loopback_answered"] == 40
