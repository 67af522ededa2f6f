"""Shared helpers for the test suite: queries, polling, TCP framing, environment checks and
external processes (helpers.procs).

    ask(server, "www.example.test.", "A", transport="tcp", use_edns=0)  -> the reply
    poll(lambda: len(server.log) == 2, 5, what="two queries logged")     -> the true value

Test modules import them as ``from helpers import ...`` (tests/ is on sys.path, see
tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, NoReturn, Protocol, TypeVar

import dns.message
import dns.name
import dns.query
import pytest

import fakens

__all__ = [
    "NETNS_ENV",
    "TIMEOUT",
    "Target",
    "address",
    "ask",
    "can_bind_port53",
    "frame",
    "in_private_netns",
    "is_ci",
    "poll",
    "read_frame",
    "recv_exact",
    "require_ipv6_loopback",
    "require_port53",
    "require_tool",
    "served_by_this_loop",
    "unavailable",
]

T = TypeVar("T")

# How long a test waits for a reply or a condition, unless it says otherwise.
TIMEOUT = 5.0

# A server to query: a fakens Server (its first address) or a (host, port) pair.
Target = fakens.Server | tuple[str, int]


def address(target: Target) -> tuple[str, int]:
    """(host, port) of a Server (its first address) or of a (host, port) pair."""
    if isinstance(target, fakens.Server):
        return target.addresses[0]
    return target[0], int(target[1])


def ask(target: Target, query: dns.message.Message | dns.name.Name | str, rdtype: str | int = "A", *,
        transport: Literal["udp", "tcp"] = "udp", timeout: float = TIMEOUT, source: str | None = None,
        ignore_trailing: bool = False, **make: Any) -> dns.message.Message:
    """Send one query with dnspython (dns.query.udp/tcp) and return the reply.

    *query* is a message, or a name for ``dns.message.make_query(query, rdtype, **make)``
    (``flags=0`` for RD=0, ``use_edns=0``, ``want_dnssec=True`` ...). dnspython checks the
    reply's ID, question and source, and verifies TSIG when the query is signed. Silence
    raises dns.exception.Timeout; a closed or reset connection raises its OSError/EOFError.
    """
    host, port = address(target)
    if not isinstance(query, dns.message.Message):
        query = dns.message.make_query(query, rdtype, **make)
    elif make:
        raise TypeError(f"make_query arguments {sorted(make)} given with a ready message")
    if transport == "tcp":
        return dns.query.tcp(query, host, port=port, timeout=timeout, source=source,
                             ignore_trailing=ignore_trailing)
    return dns.query.udp(query, host, port=port, timeout=timeout, source=source,
                         ignore_trailing=ignore_trailing)


class Watched(Protocol):
    """What poll needs of an external process it watches (helpers.procs.Proc)."""

    name: str

    def alive(self) -> bool: ...

    def describe(self) -> str: ...


def poll(predicate: Callable[[], T], deadline: float = TIMEOUT, *, what: str = "condition",
         procs: Sequence[Watched] = (), interval: float = 0.005) -> T:
    """Call *predicate* until it returns a true value (returned), for at most *deadline* seconds.

    An exception from the predicate counts as "not yet" (the last one is reported). With
    *procs*, fails at once when one of them exits, showing each one's output. The interval is
    the polling period, not a synchronisation: nothing waits longer than it must.
    """
    end = time.monotonic() + deadline
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except Exception as e:
            value, last_error = None, e  # type: ignore[assignment]
        if value:
            return value
        dead = [p for p in procs if not p.alive()]
        now = time.monotonic()
        if dead or now >= end:
            why = f"{', '.join(p.name for p in dead)} exited" if dead else f"not reached within {deadline:g}s"
            detail = f"; last error: {last_error!r}" if last_error else ""
            outputs = "".join("\n" + p.describe() for p in procs)
            raise AssertionError(f"waiting for {what}: {why}{detail}{outputs}")
        time.sleep(min(interval, end - now))


def frame(wire: bytes) -> bytes:
    """*wire* with its TCP length prefix."""
    return struct.pack("!H", len(wire)) + wire


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes; EOFError when the peer closes first."""
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def read_frame(sock: socket.socket) -> bytes:
    """One length-prefixed DNS message from a TCP socket."""
    (length,) = struct.unpack("!H", recv_exact(sock, 2))
    return recv_exact(sock, length)


# Where the tools live on Debian; sbin may be missing from a non-root PATH.
_EXTRA_PATH = ("/usr/sbin", "/sbin", "/usr/local/sbin")

# Which package provides each tool, for messages.
_PACKAGES = {
    "dig": "bind9-dnsutils",
    "named": "bind9",
    "named-checkzone": "bind9-utils",
    "nsd": "nsd",
    "knotd": "knot",
    "nsd-checkzone": "nsd",
    "kdig": "knot-dnsutils",
    "unbound": "unbound",
    "unbound-control": "unbound",
    "rndc": "bind9",
    "kresd": "knot-resolver",
    "pdns_recursor": "pdns-recursor",
    "rec_control": "pdns-recursor",
    "dnsperf": "dnsperf",
    "ip": "iproute2",
    "tshark": "tshark",
    "unshare": "util-linux",
    "setpriv": "util-linux",
    "dot": "graphviz",
}


def is_ci() -> bool:
    """True under CI (CI=true): missing prerequisites fail tests instead of skipping them."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Skip the current test locally; fail it under CI=true, naming what is needed."""
    if is_ci():
        pytest.fail(f"{reason} (CI=true: this is required in CI, so the test fails instead "
                    f"of being skipped)", pytrace=False)
    pytest.skip(reason)


# scripts/test sets this, inside the namespace it creates, to that namespace's id.
NETNS_ENV = "FAKENS_TEST_NETNS"


def in_private_netns() -> bool:
    """True when this process runs in a network namespace other than that of PID 1.

    When /proc/1 is unreadable (another user's process, hardened /proc, some containers),
    assume not private, unless scripts/test vouches for it: it exports FAKENS_TEST_NETNS
    set to the id of the namespace it created, which must be the one we are in.
    """
    try:
        mine = os.readlink("/proc/self/ns/net")
    except OSError:
        return False
    try:
        init = os.readlink("/proc/1/ns/net")
    except OSError:
        return os.environ.get(NETNS_ENV) == mine
    return mine != init


def can_bind_port53(host: str = "127.0.0.53") -> bool:
    """True when a UDP socket can be bound to port 53 on a loopback address."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind((host, 53))
    except OSError as e:
        # EADDRINUSE still proves we may bind low ports; anything else (EACCES) does not.
        return e.errno == errno.EADDRINUSE
    finally:
        s.close()
    return True


def require_port53() -> None:
    """Skip (locally) or fail (CI) unless the test may bind port 53 in a private namespace."""
    if not in_private_netns():
        unavailable("needs a private network namespace to bind port 53 on 127.0.0.x: "
                    "run the suite through scripts/test (as root, it uses `unshare -n`)")
    if not can_bind_port53():
        unavailable("needs permission to bind port 53 (root or CAP_NET_BIND_SERVICE)")


def require_tool(name: str) -> str:
    """Return the path of executable `name`; skip (locally) or fail (CI) when it is missing."""
    found = shutil.which(name)
    if found is None:
        path = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
        found = shutil.which(name, path=path)
    if found is None:
        pkg = _PACKAGES.get(name, name)
        unavailable(f"needs the `{name}` executable (Debian package {pkg}): "
                    f"run scripts/install-tools")
    return found


def require_ipv6_loopback() -> None:
    """Skip (locally) or fail (CI) unless a socket can be bound to ::1."""
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    except OSError as e:
        unavailable(f"needs IPv6 (cannot make an IPv6 socket: {e})")
    try:
        probe.bind(("::1", 0))
    except OSError as e:
        unavailable(f"needs the IPv6 loopback ::1 (cannot bind it: {e})")
    finally:
        probe.close()


async def served_by_this_loop(server: fakens.Server, qname: str = "loop-probe.example.test.") -> bool:
    """True when *server* answers a UDP query only once the running loop runs again, that is
    when it is served by this loop: the query is sent, the loop is blocked for 0.2 s (a server
    in another thread answers meanwhile, one in this loop cannot), then the reply is awaited."""
    host, port = server.addresses[0]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.sendto(dns.message.make_query(qname, "A").to_wire(), (host, port))
        sock.settimeout(0.2)
        try:
            sock.recv(65535)  # blocks this loop
            return False
        except TimeoutError:
            pass
        sock.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 65535), 5)
        return True
