"""A server's settings, checked once and frozen; the CLI reads its defaults here too.

    options = ServerOptions.make(udp_size=1400, allow_transfer=["127.0.0.0/8"], tcp_max_per_client=5)
    options.udp_size            # 1400
    options.allows_transfer("127.0.0.2")   # True
    options.tcp_limits.max_per_client     # 5

``allow_transfer`` left out (None) allows the clients that count as loopback
(:func:`fakens.transport.counts_as_loopback`); ``["0.0.0.0/0", "::/0"]`` allows anyone.
``allow_public`` must be True for a server to bind an address that is not loopback;
then non-loopback clients get at most ``rate_limit`` UDP replies a second per /24
(IPv6: /56; a burst of ``rate_limit_burst``) and UDP replies no larger than
``public_udp_size`` bytes nor than ``public_reply_ratio`` times their query (512
bytes always allowed); larger ones are sent truncated (TC). 0 turns each off.

CHAOS built-ins (TXT of class CH): ``identity`` (``id.server.``, ``hostname.bind.``),
``version`` (``version.bind.``, ``version.server.``), ``authors`` (``authors.bind.``); each
a text, a list of texts (one TXT record each) or None to switch the name off (REFUSED)::

    ServerOptions.make(version="9.18.1", authors=["Ann", "Bob"], identity=None)

Checker options (the answers a zone checker's scenarios need)::

    ServerOptions.make(sibling_glue=False, outside_zones="servfail",
                       negative_soa="example.test. 300 SOA ns1 hostmaster 99 3600 600 86400 60")

``sibling_glue=False`` leaves out of referrals the addresses of NS hosts elsewhere in the
parent zone (not under the delegated child); ``outside_zones`` answers queries for data the
server does not hold (names outside every served zone, other classes, unknown CHAOS names)
with ``"refused"`` (the default), ``"servfail"`` or ``"drop"`` (no answer at all);
``negative_soa`` is the SOA record (zone-file text, relative names below its owner) that
NXDOMAIN and NODATA answers carry instead of the zone's, TTL as written (none written:
its minimum, as in a zone file).

:class:`fakens.server.Server` takes the same keywords and builds one of these.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict, Unpack

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.zonefile

from fakens.errors import ConfigError
from fakens.transport import TcpLimits, counts_as_loopback, parse_listen, require_local

DEFAULT_UDP_SIZE = 1232
DEFAULT_TCP_IDLE_TIMEOUT = TcpLimits.idle_timeout
DEFAULT_TCP_MAX_CONNECTIONS = TcpLimits.max_connections
DEFAULT_RATE_LIMIT = 20.0  # UDP replies a second per non-loopback /24 of a public server
DEFAULT_RATE_LIMIT_BURST = 40
DEFAULT_PUBLIC_UDP_SIZE = 1232
DEFAULT_PUBLIC_REPLY_RATIO = 4.0
NOTIFY_RETRY = 1.0  # seconds before the first retry of an unanswered NOTIFY (then 2x, 3x ...)
NOTIFY_ATTEMPTS = 5  # sends at most (BIND's number)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Keyring = Mapping[dns.name.Name, dns.tsig.Key]
OUTSIDE_ZONES = ("refused", "servfail", "drop")
ChaosTexts = tuple[str, ...] | None


def chaos_texts(value: object, option: str) -> ChaosTexts:
    """A CHAOS built-in's TXT strings: a string or a list of them (one TXT record each);
    None or False switch it off (the name is not served)."""
    if value is None or value is False:
        return None
    texts = (value,) if isinstance(value, str) else value
    if (not isinstance(texts, (list, tuple)) or not texts
            or any(not isinstance(t, str) or len(t.encode()) > 255 for t in texts)):
        raise ConfigError(f"{option} {value!r}: give a text of at most 255 bytes, a list of such texts "
                          f"(one TXT record each), or None / false to switch the name off")
    return tuple(texts)


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


class GuardOptions(TypedDict, total=False):
    """The keywords (of :class:`fakens.server.Server` and :meth:`ServerOptions.make`) that keep a
    server up under abuse and from being an open amplifier; defaults in :class:`TcpLimits` and above."""

    tcp_max_per_client: int
    tcp_query_timeout: float
    tcp_write_timeout: float
    tcp_max_pipelined: int
    tcp_max_buffered: int
    max_transfers: int
    allow_public: bool
    rate_limit: float
    rate_limit_burst: int
    public_udp_size: int
    public_reply_ratio: float


def parse_soa(text: str, option: str = "negative_soa") -> dns.rrset.RRset:
    """One SOA record from zone-file text ``OWNER TTL [CLASS] SOA MNAME RNAME SERIAL REFRESH
    RETRY EXPIRE MINIMUM``: an absolute owner, relative names below it, a TTL written.

        parse_soa("example.test. 300 SOA ns1 hostmaster 99 3600 600 86400 60")
    """
    example = "e.g. \"example.test. 300 SOA ns1 hostmaster 99 3600 600 86400 60\""
    if not isinstance(text, str):
        raise ConfigError(f"{option}: expected the SOA record as text, {example}; got {text!r}")
    owner_text = text.split(None, 1)[0] if text.strip() else ""
    if not owner_text.endswith("."):
        raise ConfigError(f"{option} {text!r}: the record needs an absolute owner name (ending in '.'), {example}")
    try:
        owner = dns.name.from_text(owner_text)
        rrsets = dns.zonefile.read_rrsets(text, origin=owner, rdclass=dns.rdataclass.IN)
    except dns.exception.DNSException as e:
        raise ConfigError(f"{option} {text!r}: not an SOA record ({e}); write OWNER TTL SOA MNAME RNAME "
                          f"SERIAL REFRESH RETRY EXPIRE MINIMUM, {example}") from None
    if len(rrsets) != 1 or rrsets[0].rdtype != dns.rdatatype.SOA or len(rrsets[0]) != 1:
        raise ConfigError(f"{option} {text!r}: must be exactly one SOA record, {example}")
    return rrsets[0]


@dataclass(frozen=True)
class ServerOptions:
    """Everything about a server but its zones, addresses and name (see :class:`fakens.server.Server`)."""

    nsid: bytes | None = None
    udp_size: int = DEFAULT_UDP_SIZE
    minimal_responses: bool = False
    any_mode: str = "all"
    version: ChaosTexts = ("fakens",)
    identity: ChaosTexts = ("fakens",)
    authors: ChaosTexts = ("fakens",)
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
    allow_public: bool = False
    rate_limit: float = DEFAULT_RATE_LIMIT
    rate_limit_burst: int = DEFAULT_RATE_LIMIT_BURST
    public_udp_size: int = DEFAULT_PUBLIC_UDP_SIZE
    public_reply_ratio: float = DEFAULT_PUBLIC_REPLY_RATIO
    sibling_glue: bool = True
    outside_zones: str = "refused"
    negative_soa: dns.rrset.RRset | None = None

    @classmethod
    def make(
        cls,
        *,
        nsid: str | bytes | None = None,
        udp_size: int = DEFAULT_UDP_SIZE,
        minimal_responses: bool = False,
        any_mode: str = "all",
        version: str | Sequence[str] | None = "fakens",
        identity: str | Sequence[str] | None = "fakens",
        authors: str | Sequence[str] | None = "fakens",
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
        sibling_glue: bool = True,
        outside_zones: str = "refused",
        negative_soa: str | None = None,
        **guard: Unpack[GuardOptions],
    ) -> ServerOptions:
        """Options from the keywords users write, each checked with an error that says how to fix it
        (*guard*: the keywords of :class:`GuardOptions`)."""
        if not isinstance(outside_zones, str) or outside_zones not in OUTSIDE_ZONES:
            raise ConfigError(f"outside_zones {outside_zones!r}: must be one of {', '.join(OUTSIDE_ZONES)}")
        tcp_max_per_client = guard.get("tcp_max_per_client", TcpLimits.max_per_client)
        tcp_query_timeout = guard.get("tcp_query_timeout", TcpLimits.query_timeout)
        tcp_write_timeout = guard.get("tcp_write_timeout", TcpLimits.write_timeout)
        tcp_max_pipelined = guard.get("tcp_max_pipelined", TcpLimits.max_pipelined)
        tcp_max_buffered = guard.get("tcp_max_buffered", TcpLimits.max_buffered)
        max_transfers = guard.get("max_transfers", TcpLimits.max_transfers)
        allow_public = guard.get("allow_public", False)
        rate_limit = guard.get("rate_limit", DEFAULT_RATE_LIMIT)
        rate_limit_burst = guard.get("rate_limit_burst", DEFAULT_RATE_LIMIT_BURST)
        public_udp_size = guard.get("public_udp_size", DEFAULT_PUBLIC_UDP_SIZE)
        public_reply_ratio = guard.get("public_reply_ratio", DEFAULT_PUBLIC_REPLY_RATIO)
        if not 512 <= udp_size <= 65535:
            raise ConfigError(f"udp_size {udp_size}: must be between 512 and 65535 (1232 is the usual choice)")
        limits = TcpLimits(tcp_idle_timeout, tcp_max_connections, tcp_max_per_client, tcp_query_timeout,
                           tcp_write_timeout, tcp_max_pipelined, tcp_max_buffered, max_transfers)
        problems = limits.problems()
        if problems:  # the keyword names: max_transfers as it is, the others with tcp_ before them
            raise ConfigError("; ".join(p if p.startswith("max_transfers") else f"tcp_{p}" for p in problems))
        if rate_limit < 0 or rate_limit_burst < 1:
            raise ConfigError(f"rate_limit {rate_limit} / rate_limit_burst {rate_limit_burst}: the rate must be "
                              f"0 (off) or more replies a second, the burst at least 1")
        if public_udp_size and not 512 <= public_udp_size <= 65535:
            raise ConfigError(f"public_udp_size {public_udp_size}: must be 0 (off) or between 512 and 65535")
        if public_reply_ratio < 0:
            raise ConfigError(f"public_reply_ratio {public_reply_ratio}: must be 0 (off) or above")
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
            version=chaos_texts(version, "version"),
            identity=chaos_texts(identity, "identity"),
            authors=chaos_texts(authors, "authors"),
            tcp_limits=limits,
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
            allow_public=allow_public,
            rate_limit=rate_limit,
            rate_limit_burst=rate_limit_burst,
            public_udp_size=public_udp_size,
            public_reply_ratio=public_reply_ratio,
            sibling_glue=sibling_glue,
            outside_zones=outside_zones,
            negative_soa=None if negative_soa is None else parse_soa(negative_soa),
        )

    def replace(self, **changes: object) -> ServerOptions:
        """A copy with some fields changed (fields as stored, e.g. ``udp_size=1400``)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def allows_transfer(self, client: str) -> bool:
        """Is *client* in ``allow_transfer`` (left out: does it count as loopback)?"""
        if self.allow_transfer is None:
            return counts_as_loopback(client)
        return allowed(self.allow_transfer, client)

    def allows_notify(self, client: str) -> bool:
        return allowed(self.allow_notify, client)
