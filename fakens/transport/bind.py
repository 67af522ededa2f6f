"""Listen addresses: parsing ``ADDR:PORT`` and binding UDP and TCP on one port.

Port 0 picks a free port that is free for both UDP and TCP (retrying when
the pair is not free). TCP sockets use SO_REUSEADDR so that a stopped
server's address can be bound again at once::

    parse_listen("[::1]:5053")     # ("::1", 5053)
    udp, tcp = bind_pair("127.0.0.1", 0)

:func:`counts_as_loopback` says which addresses fakens treats as loopback (for
the default ``allow_transfer``, ``allow_public`` and the rate limit): 127.0.0.0/8,
::1, and any address when this process's network namespace has no interface
but ``lo`` (a lab's private namespace from ``fakens lab run``)::

    counts_as_loopback("127.0.0.2")    # True
    counts_as_loopback("192.0.2.1")    # True only inside a namespace with just lo
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

from fakens.errors import ConfigError, ServerError

BIND_ATTEMPTS = 50


@dataclass(frozen=True)
class Endpoint:
    """A bound address: host and port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(spec: str | tuple[str, int], default_port: int = 5053, what: str = "listen address") -> tuple[str, int]:
    """``"127.0.0.1:5053"``, ``"[::1]:5053"``, ``"127.0.0.2"`` or ``("::1", 0)`` -> (host, port)."""
    if isinstance(spec, tuple):
        host, port = spec
    else:
        text = spec.strip()
        if text.startswith("["):
            host, sep, rest = text[1:].partition("]")
            if not sep:
                raise ConfigError(f"{what} {spec!r}: missing ']' (write IPv6 as [::1]:5053)")
            port_text = rest[1:] if rest.startswith(":") else ""
            if rest and not rest.startswith(":"):
                raise ConfigError(f"{what} {spec!r}: expected ':PORT' after ']'")
        elif text.count(":") == 1:
            host, port_text = text.split(":")
        elif text.count(":") > 1:
            raise ConfigError(f"{what} {spec!r}: write an IPv6 address in brackets, e.g. [::1]:5053")
        else:
            host, port_text = text, ""
        try:
            port = int(port_text) if port_text else default_port
        except ValueError:
            raise ConfigError(f"{what} {spec!r}: port {port_text!r} is not a number") from None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"{what} {spec!r}: {host!r} is not an IP address (use e.g. 127.0.0.1 or [::1])") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{what} {spec!r}: port {port} is out of range 0-65535")
    return host, port


def _interface_names() -> list[str]:
    """The names of this network namespace's interfaces (``socket.if_nameindex``)."""
    try:
        return [name for _, name in socket.if_nameindex()]
    except OSError:
        return ["unknown"]  # cannot tell: assume a real network


interface_names: Callable[[], list[str]] = _interface_names
"""Where :func:`only_loopback_here` gets the interface list (tests replace it, then
call ``only_loopback_here.cache_clear()``)."""


@functools.cache
def only_loopback_here() -> bool:
    """Has this process's network namespace no interface but ``lo``? (Checked once, then cached.)"""
    names = interface_names()
    return bool(names) and all(name == "lo" for name in names)


def counts_as_loopback(address: str) -> bool:
    """Is *address* loopback for fakens' safety rules: 127.0.0.0/8, ::1 (also as
    ::ffff:127.x.y.z), or any address in a network namespace whose only interface is
    ``lo``, where nothing can reach another machine? A text that is not an address: False."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or only_loopback_here()


def stays_on_this_machine(host: str) -> bool:
    """Is *host* loopback or an address of this machine (its network namespace)? Traffic to it
    never leaves the machine. fakens sends (NOTIFY, the tracer) only to such addresses."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_loopback:
        return True
    if address.is_unspecified or address.is_multicast:
        return False
    with socket.socket(_family(host), socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, 0))  # only an address assigned here can be bound
        except OSError:
            return False
    return True


def require_local(target: tuple[str, int], what: str) -> tuple[str, int]:
    """*target* unchanged, or ConfigError when it is not on this machine (see :func:`stays_on_this_machine`)."""
    if not stays_on_this_machine(target[0]):
        raise ConfigError(f"{what} {Endpoint(*target)}: fakens sends only to loopback (127.0.0.0/8, ::1) or to "
                          f"an address of this machine or of the lab's network namespace; use one of those")
    return target


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bind(kind: socket.SocketKind, host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if _family(host) == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _explain(e: OSError, host: str, port: int) -> ServerError:
    where = str(Endpoint(host, port))
    if e.errno == errno.EACCES:
        return ServerError(
            f"cannot bind {where}: permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE, "
            f"or run inside a private network namespace as root (unshare -n)")
    if e.errno == errno.EADDRINUSE:
        return ServerError(f"cannot bind {where}: address already in use; stop what holds it or pick another port (0 = any free)")
    if e.errno == errno.EADDRNOTAVAIL:
        return ServerError(f"cannot bind {where}: no such local address on this machine (loopback is 127.0.0.0/8 and ::1)")
    return ServerError(f"cannot bind {where}: {e.strerror}")


def bind_tcp(host: str, port: int) -> socket.socket:
    """Bind a TCP socket again on a known port (a listener reopened)."""
    try:
        return _bind(socket.SOCK_STREAM, host, port)
    except OSError as e:
        raise _explain(e, host, port) from None


def bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """Bind UDP and TCP sockets on the same *port* (0: a free one for both)."""
    attempts = BIND_ATTEMPTS if port == 0 else 1
    last: OSError | None = None
    for _ in range(attempts):
        try:
            tcp = _bind(socket.SOCK_STREAM, host, port)
        except OSError as e:
            raise _explain(e, host, port) from None
        chosen = tcp.getsockname()[1]
        try:
            udp = _bind(socket.SOCK_DGRAM, host, chosen)
        except OSError as e:
            tcp.close()
            last = e
            if e.errno == errno.EADDRINUSE and port == 0:
                continue
            raise _explain(e, host, chosen) from None
        return udp, tcp
    assert last is not None
    raise ServerError(f"cannot find a port free for both UDP and TCP on {host} after {attempts} tries: {last.strerror}")
