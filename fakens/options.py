"""A server's settings, checked once and frozen; the CLI reads its defaults here too.

    options = ServerOptions.make(udp_size=1400, allow_transfer=["127.0.0.0/8"])
    options.udp_size            # 1400
    options.allows_transfer("127.0.0.2")   # True

:class:`fakens.server.Server` takes the same keywords and builds one of these.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dns.name
import dns.tsig

from fakens.errors import ConfigError
from fakens.transport import TcpLimits, parse_listen, require_local

DEFAULT_UDP_SIZE = 1232
DEFAULT_TCP_IDLE_TIMEOUT = TcpLimits.idle_timeout
DEFAULT_TCP_MAX_CONNECTIONS = TcpLimits.max_connections
NOTIFY_RETRY = 1.0  # seconds before the first retry of an unanswered NOTIFY (then 2x, 3x ...)
NOTIFY_ATTEMPTS = 5  # sends at most (BIND's number)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Keyring = Mapping[dns.name.Name, dns.tsig.Key]


def networks(items: Iterable[str] | None, option: str) -> tuple[Network, ...] | None:
    """Networks from addresses or CIDR text; None stays None (anyone)."""
    if items is None:
        return None
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{option}: {item!r} is not an address or network (e.g. 127.0.0.1 or 127.0.0.0/8)") from None
    return tuple(nets)


def allowed(nets: tuple[Network, ...] | None, host: str) -> bool:
    """Is *host* in *nets* (None: everyone is)?"""
    if nets is None:
        return True
    address = ipaddress.ip_address(host)
    return any(address in net for net in nets)


@dataclass(frozen=True)
class ServerOptions:
    """Everything about a server but its zones, addresses and name (see :class:`fakens.server.Server`)."""

    nsid: bytes | None = None
    udp_size: int = DEFAULT_UDP_SIZE
    minimal_responses: bool = False
    any_mode: str = "all"
    version: str | None = "fakens"
    tcp_limits: TcpLimits = field(default_factory=TcpLimits)
    notify: tuple[tuple[str, int], ...] = ()
    notify_retry: float = NOTIFY_RETRY
    notify_attempts: int = NOTIFY_ATTEMPTS
    allow_transfer: tuple[Network, ...] | None = None
    allow_notify: tuple[Network, ...] | None = None
    keyring: Keyring | None = None
    transfer_requires_tsig: bool = False
    notify_key: dns.name.Name | None = None
    ixfr_as_axfr: bool = False
    tsig_time_offset: float = 0.0  # seconds added to real time in the TSIG time the server signs

    @classmethod
    def make(
        cls,
        *,
        nsid: str | bytes | None = None,
        udp_size: int = DEFAULT_UDP_SIZE,
        minimal_responses: bool = False,
        any_mode: str = "all",
        version: str | None = "fakens",
        tcp_idle_timeout: float = DEFAULT_TCP_IDLE_TIMEOUT,
        tcp_max_connections: int = DEFAULT_TCP_MAX_CONNECTIONS,
        notify: Sequence[str | tuple[str, int]] = (),
        notify_retry: float = NOTIFY_RETRY,
        notify_attempts: int = NOTIFY_ATTEMPTS,
        allow_transfer: Iterable[str] | None = None,
        allow_notify: Iterable[str] | None = None,
        tsig_keys: Mapping[str, str | dns.tsig.Key] | None = None,
        transfer_requires_tsig: bool = False,
        notify_key: str | None = None,
        ixfr_as_axfr: bool = False,
        tsig_time_offset: float = 0.0,
    ) -> ServerOptions:
        """Options from the keywords users write, each checked with an error that says how to fix it."""
        if not 512 <= udp_size <= 65535:
            raise ConfigError(f"udp_size {udp_size}: must be between 512 and 65535 (1232 is the usual choice)")
        if tcp_max_connections < 1 or tcp_idle_timeout <= 0:
            raise ConfigError("tcp_max_connections must be at least 1 and tcp_idle_timeout above 0")
        keyring: dict[dns.name.Name, dns.tsig.Key] | None = None
        if tsig_keys:
            keyring = {}
            for key_name, secret in tsig_keys.items():
                key = secret if isinstance(secret, dns.tsig.Key) else dns.tsig.Key(key_name, secret, dns.tsig.HMAC_SHA256)
                keyring[key.name] = key
        if transfer_requires_tsig and not keyring:
            raise ConfigError("transfer_requires_tsig needs tsig_keys={name: base64 secret}")
        notify_key_name: dns.name.Name | None = None
        if notify_key is not None:
            notify_key_name = dns.name.from_text(notify_key)
            if not keyring or notify_key_name not in keyring:
                raise ConfigError(f"notify_key {notify_key!r} is not among tsig_keys; "
                                  f"add it: tsig_keys={{{notify_key!r}: 'base64 secret'}}")
        return cls(
            nsid=nsid.encode() if isinstance(nsid, str) else nsid,
            udp_size=udp_size,
            minimal_responses=minimal_responses,
            any_mode=any_mode,
            version=version,
            tcp_limits=TcpLimits(tcp_idle_timeout, tcp_max_connections),
            notify=tuple(require_local(parse_listen(t, default_port=53, what="notify target"), "notify target")
                         for t in notify),
            notify_retry=notify_retry,
            notify_attempts=notify_attempts,
            allow_transfer=networks(allow_transfer, "allow_transfer"),
            allow_notify=networks(allow_notify, "allow_notify"),
            keyring=keyring,
            transfer_requires_tsig=transfer_requires_tsig,
            notify_key=notify_key_name,
            ixfr_as_axfr=ixfr_as_axfr,
            tsig_time_offset=tsig_time_offset,
        )

    def replace(self, **changes: object) -> ServerOptions:
        """A copy with some fields changed (fields as stored, e.g. ``udp_size=1400``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def allows_transfer(self, client: str) -> bool:
        return allowed(self.allow_transfer, client)

    def allows_notify(self, client: str) -> bool:
        return allowed(self.allow_notify, client)
