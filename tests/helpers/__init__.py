"""Shared helpers for the test suite: environment checks and external processes.

Test modules import them as ``from helpers import ...`` (tests/ is on sys.path, see
tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import socket
from typing import NoReturn

import dns.message
import pytest

import fakens

__all__ = [
    "NETNS_ENV",
    "can_bind_port53",
    "in_private_netns",
    "is_ci",
    "require_ipv6_loopback",
    "require_port53",
    "require_tool",
    "served_by_this_loop",
    "unavailable",
]

# Where the tools live on Debian; sbin may be missing from a non-root PATH.
_EXTRA_PATH = ("/usr/sbin", "/sbin", "/usr/local/sbin")

# Which package provides each tool, for messages.
_PACKAGES = {
    "dig": "bind9-dnsutils",
    "named": "bind9",
    "named-checkzone": "bind9-utils",
    "kdig": "knot-dnsutils",
    "unbound": "unbound",
    "unbound-control": "unbound",
    "dnsperf": "dnsperf",
    "ip": "iproute2",
    "unshare": "util-linux",
    "setpriv": "util-linux",
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
