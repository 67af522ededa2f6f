"""A virtual nameserver: its zones, its fault chain, its query log, its sockets.

Many servers run in one process and one event loop, each on its own
addresses. From synchronous code (a background thread runs the loop)::

    with Server([Zone.from_file("zones/example.test.zone")], listen=["127.0.0.1:0"]) as server:
        host, port = server.addresses[0]
        ...  # query it; server.log holds what it received

Inside a running asyncio loop::

    server = Server(zones, listen=["127.0.0.10:0"], name="ns1")
    await server.astart()
    ...
    await server.astop()

Sockets are bound when start returns; stop releases them at once. The way of
one query is :mod:`fakens.pipeline`; settings are a frozen
:class:`~fakens.options.ServerOptions` (``server.options``).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Unpack

import dns.name
import dns.rdataclass
import dns.tsig

from fakens.clock import Clock, SystemClock
from fakens.engine import Engine, EngineOptions
from fakens.errors import ConfigError, ServerError
from fakens.faults import FaultChain
from fakens.guard import PublicGuard
from fakens.log import DEFAULT_LIMIT, QueryLog
from fakens.notify import Notifier, NotifyRecord
from fakens.options import (
    DEFAULT_TCP_IDLE_TIMEOUT,
    DEFAULT_TCP_MAX_CONNECTIONS,
    DEFAULT_UDP_SIZE,
    NOTIFY_ATTEMPTS,
    NOTIFY_RETRY,
    GuardOptions,
    ServerOptions,
)
from fakens.outcome import Outcome
from fakens.pipeline import Pipeline
from fakens.runner import BackgroundRunner, background
from fakens.transport import (
    Endpoint,
    TcpListener,
    TransferSlots,
    UdpEndpoint,
    bind_pair,
    counts_as_loopback,
    parse_listen,
    require_local,
)
from fakens.zones import Name, Zone, ZoneVersion, load_zones

__all__ = ["Server"]


class Server:
    """One fake authoritative nameserver.

    Parameters (all but *zones* optional):

    - ``zones``: Zone objects, zone files, directories of zone files, or zone
      text (a string with a line break).
    - ``listen``: ``"ADDR:PORT"`` strings or (host, port) pairs; port 0
      picks a free port, the same for UDP and TCP. Default ``127.0.0.1:0``.
    - ``name``: how the log and CHAOS ``id.server.`` name this server.
    - ``nsid``: the NSID option value (RFC 5001), sent when asked.
    - ``udp_size``: the server's EDNS UDP size (default 1232).
    - CHAOS built-ins (TXT of class CH): ``identity`` (``id.server.``, ``hostname.bind.``;
      default ``"{name}"``: the server's name, ``{name}`` replaced in any text), ``version``
      (``version.bind.``, ``version.server.``; default "fakens"), ``authors`` (``authors.bind.``;
      default "fakens"): a text, a list of texts (one TXT record each) or None to switch the
      name off (REFUSED). Zones of class CH (``version.bind. 0 CH TXT "x"`` in a zone
      ``bind.``) answer CH queries for their names instead.
    - ``minimal_responses``, ``any_mode``, ``additional_from`` (``"zone"``:
      ADDITIONAL addresses only from the answering zone, as NSD, Knot and BIND; ``"server"``:
      from any zone this server holds): see EngineOptions.
    - TCP limits (RFC 7766, :mod:`fakens.transport.tcp`): ``tcp_idle_timeout`` (10 s),
      ``tcp_max_connections`` (100; when full, the connection idle longest is closed for a
      new one), ``tcp_max_per_client`` (20 per client address), ``tcp_query_timeout`` (2 s
      for one whole query from its first byte), ``tcp_write_timeout`` (5 s: output that
      does not drain aborts the connection), ``tcp_max_pipelined`` (100 unanswered queries
      per connection), ``tcp_max_buffered`` (1 MiB of output per connection), and
      ``max_transfers`` (10 zone transfers sent at once; more wait their turn).
    - ``notify``: ``"ADDR:PORT"`` of secondaries to NOTIFY after an edit.
    - ``allow_transfer``: networks allowed to transfer zones (None, the default: the
      clients that count as loopback; ``["0.0.0.0/0", "::/0"]``: anyone).
      ``allow_notify``: networks whose NOTIFY is accepted (None: any).
    - ``allow_public``: bind addresses that are not loopback (without it, ServerError);
      a warning on stderr says what is exposed, and non-loopback UDP clients get at most
      ``rate_limit`` (20) replies a second per /24, a burst of ``rate_limit_burst`` (40),
      and replies no larger than ``public_udp_size`` (1232) nor ``public_reply_ratio`` (4)
      times their query (512 bytes always allowed), else truncated (TC); 0 turns each off.
    - ``tsig_keys``: {key name: base64 secret} (hmac-sha256) or dnspython
      Keys; ``transfer_requires_tsig``: refuse unsigned AXFR/IXFR;
      ``notify_key``: the key that signs outgoing NOTIFY.
    - Checker options (:mod:`fakens.options`): ``sibling_glue`` (True; False: referrals
      without the addresses of NS hosts elsewhere in the parent zone), ``outside_zones``
      (``"refused"``, ``"servfail"`` or ``"drop"``: the answer to a name outside every
      served zone, another class, an unknown CHAOS name), ``negative_soa`` (an SOA record's
      text, e.g. ``"example.test. 300 SOA ns1 hostmaster 99 3600 600 86400 60"``, that
      NXDOMAIN and NODATA carry instead of the zone's).
    - ``ixfr_as_axfr``: answer every IXFR with the whole zone (legal, RFC 1995).
    - ``log_limit``: how many entries the query log keeps in memory (100,000, about 0.9 KiB
      each with their bytes; 0: none); ``log_file``: every entry as a JSON line, written by a
      child process, off the serving loop (:mod:`fakens.logwriter`); ``log_max_bytes``: past this size the file
      is moved to FILE.1 and a new one begun (0, the default: no cap).
    - ``clock``: the clock for log times, schedules and every timer: delays,
      NOTIFY retries and ``no-notify mode=late``, the TCP idle timeout (a lab's
      shared ManualClock; default SystemClock, real time).
    - ``tsig_time_offset``: seconds added to real time in the TSIG time signed
      (replies, NOTIFY, TSIG errors): a server whose clock is off (default 0).
    - ``dnssec``: sign the zones not signed yet: True (algorithm 13, KSK + ZSK, NSEC), a
      ``fakens.dnssec.DnssecPolicy`` or its table; served parents get their children's DS
      (docs/dnssec.md). A Zone signed with ``fakens.dnssec.sign_zone`` is served signed anyway.
    """

    def __init__(
        self,
        zones: Iterable[Zone | str | os.PathLike[str]] = (),
        listen: Sequence[str | tuple[str, int]] = ("127.0.0.1:0",),
        name: str = "fakens",
        *,
        nsid: str | bytes | None = None,
        udp_size: int = DEFAULT_UDP_SIZE,
        minimal_responses: bool = False,
        any_mode: str = "all",
        version: str | Sequence[str] | None = "fakens",
        identity: str | Sequence[str] | None = "{name}",
        authors: str | Sequence[str] | None = "fakens",
        additional_from: str = "zone",
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
        log_limit: int = DEFAULT_LIMIT,
        log_file: str | None = None,
        log_max_bytes: int = 0,
        clock: Clock | None = None,
        tsig_time_offset: float = 0.0,
        dnssec: object = None,
        sibling_glue: bool = True,
        outside_zones: str = "refused",
        negative_soa: str | None = None,
        **guard: Unpack[GuardOptions],
    ) -> None:
        if not listen:
            raise ConfigError("a server needs at least one listen address, e.g. listen=['127.0.0.1:0']")
        self.options = ServerOptions.make(
            nsid=nsid, udp_size=udp_size, minimal_responses=minimal_responses, any_mode=any_mode,
            version=version, identity=_named(identity, name), authors=authors,
            tcp_idle_timeout=tcp_idle_timeout, tcp_max_connections=tcp_max_connections,
            notify=notify, notify_retry=notify_retry, notify_attempts=notify_attempts,
            allow_transfer=allow_transfer, allow_notify=allow_notify, tsig_keys=tsig_keys,
            transfer_requires_tsig=transfer_requires_tsig, notify_key=notify_key, ixfr_as_axfr=ixfr_as_axfr,
            tsig_time_offset=tsig_time_offset, sibling_glue=sibling_glue, outside_zones=outside_zones,
            negative_soa=negative_soa, **guard)
        options = self.options
        self.name = name
        self.listen = [parse_listen(item) for item in listen]
        self.engine = Engine(_signed(load_zones(zones), dnssec), EngineOptions(
            minimal_responses=minimal_responses, any_mode=any_mode, identity=options.identity,
            version=options.version, authors=options.authors,
            additional_from=additional_from, sibling_glue=options.sibling_glue, negative_soa=options.negative_soa))
        self.clock: Clock = clock or SystemClock()
        self.notifier = Notifier(list(options.notify), options.notify_retry, options.notify_attempts,
                                 options.keyring, options.notify_key, self.clock, options.tsig_time_offset)
        self.log = QueryLog(log_limit, log_file, log_max_bytes)
        self.log.name_for_messages = f"server {name}"
        self.faults = FaultChain(name)
        self.faults.on_change.append(self._faults_changed)
        self.errors: list[BaseException] = []
        self.pipeline = Pipeline(name, options, self.engine, self.faults, self.log, self.clock, self.notifier,
                                 self.errors)
        self._udp: list[UdpEndpoint] = []
        self._tcp: list[TcpListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: BackgroundRunner | None = None
        self._loop_thread = 0
        for zone in self.engine.zones.values():
            zone.on_change(self._zone_changed)
            zone.on_reset(self._zone_reset)
        self._initial_zones = dict(self.engine.zones)

    @property
    def udp_size(self) -> int:
        """The server's EDNS UDP size."""
        return self.options.udp_size

    @property
    def nsid(self) -> bytes | None:
        return self.options.nsid

    @property
    def tsig_time_offset(self) -> float:
        """Seconds added to real time in the TSIG time this server signs."""
        return self.options.tsig_time_offset

    # -- zones -----------------------------------------------------------------

    @property
    def zones(self) -> dict[Name, Zone]:
        """The zones served, by origin."""
        return dict(self.engine.zones)

    def zone(self, origin: str | Name) -> Zone:
        """The served zone with this origin; raises ConfigError when there is none."""
        name = dns.name.from_text(origin) if isinstance(origin, str) else origin
        zone = self.engine.zones.get(name)
        if zone is None:
            served = ", ".join(str(o) for o in self.engine.zones) or "none"
            raise ConfigError(f"server {self.name} does not serve {name} (it serves: {served})")
        return zone

    def add_zone(self, zone: Zone | str | os.PathLike[str]) -> Zone:
        """Serve one more zone (from a Zone, a file or a directory's first zone)."""
        (loaded,) = load_zones([zone])
        self.engine.add_zone(loaded)
        self.pipeline.zones_changed()
        loaded.on_change(self._zone_changed)
        loaded.on_reset(self._zone_reset)
        return loaded

    def reset(self) -> None:
        """Back to the state at start: no faults, an empty log, the zones it was
        made with, each as loaded, no NOTIFY records or recorded errors (thread-safe).
        A Zone object shared with other servers is reset for them too (they forget the replies
        they kept of the edited version, as after ``zone.reset()``)."""
        self.faults.reset()
        for origin in [o for o in self.engine.zones if o not in self._initial_zones]:
            self.engine.remove_zone(origin)  # zones added during the test go
        for zone in self._initial_zones.values():
            self.engine.add_zone(zone)
            zone.reset()
        self.pipeline.zones_changed()
        self.log.clear()
        self.notifier.reset()
        self.errors.clear()

    # -- lifecycle ---------------------------------------------------------------

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (host, port) pairs, in listen order (empty before start)."""
        return [ep.local for ep in self._udp]

    @property
    def endpoints(self) -> list[Endpoint]:
        """The bound addresses as Endpoints (``str()`` gives ``127.0.0.1:5053``)."""
        return [Endpoint(*ep.local) for ep in self._udp]

    @property
    def running(self) -> bool:
        return bool(self._udp)

    async def astart(self) -> Server:
        """Bind every listen address and serve in the running loop."""
        if self._udp:
            raise ServerError(f"server {self.name} is already running on {self.endpoints[0]}")
        public = self._public_addresses()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        transfers = TransferSlots(self.options.tcp_limits.max_transfers)
        try:
            for host, port in self.listen:
                udp_sock, tcp_sock = bind_pair(host, port)
                try:
                    # (the pipeline's handle itself, as Server.handle calls it: one call less a query)
                    self._tcp.append(await TcpListener.start(tcp_sock, self.pipeline.handle, self.options.tcp_limits,
                                                             self.pipeline.on_connect, self.clock, transfers))
                    self._udp.append(await UdpEndpoint.start(udp_sock, self.pipeline.handle, self.clock))
                except BaseException:
                    udp_sock.close()
                    tcp_sock.close()
                    raise
        except BaseException:
            await self._close_sockets()
            raise
        if self.faults.listener_closed:  # a tcp-refused mode=closed given before the start
            self._sync_tcp_listeners()
        if public:
            self._warn_public([e for e in self.endpoints if not counts_as_loopback(e.host)])
        self.notifier.attach(self._loop, self._udp)
        return self

    def _public_addresses(self) -> list[Endpoint]:
        """The listen addresses that do not count as loopback; ServerError when there are
        some and ``allow_public`` is not set."""
        public = [Endpoint(host, port) for host, port in self.listen if not counts_as_loopback(host)]
        if public and not self.options.allow_public:
            where = ", ".join(str(e) for e in public)
            raise ServerError(
                f"server {self.name}: {where} is not a loopback address (127.0.0.0/8, ::1): other machines could "
                f"query it. Listen on loopback, or pass --allow-public (Server(allow_public=True), scenario "
                f"option allow_public = true) to expose it on purpose")
        return public

    def _warn_public(self, public: list[Endpoint]) -> None:
        options = self.options
        guard = PublicGuard(options.rate_limit, options.rate_limit_burst, options.public_udp_size,
                            options.public_reply_ratio)
        self.pipeline.guard = guard
        rate = (f"at most {options.rate_limit:g} UDP replies/s per /24 (burst {options.rate_limit_burst})"
                if options.rate_limit else "no rate limit (rate_limit=0)")
        caps = [f"{options.public_udp_size} bytes"] if options.public_udp_size else []
        if options.public_reply_ratio:
            caps.append(f"{options.public_reply_ratio:g} times the query (512 bytes always allowed)")
        size = f"UDP replies larger than {' or '.join(caps)} sent truncated (TC)" if caps else "no reply size cap"
        print(f"fakens: warning: server {self.name} listens on {', '.join(str(e) for e in public)}, reachable "
              f"from other machines: anyone who can reach it gets its zones and its faults' answers "
              f"(transfers only as allow_transfer says). For clients that are not loopback: {rate}; {size}.",
              file=sys.stderr, flush=True)

    async def astop(self) -> None:
        """Close every socket and connection at once, and flush the log file."""
        self.notifier.detach()
        await self._close_sockets()
        self.log.flush()

    async def _close_sockets(self) -> None:
        for udp in self._udp:
            await udp.close()
        for tcp in self._tcp:
            await tcp.close()
        self._udp, self._tcp = [], []

    def start(self) -> Server:
        """Start on the background-thread runner (for synchronous code)."""
        runner = background()
        runner.run(self.astart())
        self._runner = runner
        return self

    def stop(self) -> None:
        """Stop a server started with :meth:`start`."""
        if self._loop is None:
            return
        if self._runner is not None:
            if not self._runner.thread.is_alive():
                return  # the interpreter is shutting down: the loop and its sockets are gone
            self._runner.run(self.astop())
        elif self._loop.is_running():
            if threading.get_ident() == self._loop_thread:
                raise ServerError(f"server {self.name} runs in this thread's event loop: use 'await server.astop()'")
            asyncio.run_coroutine_threadsafe(self.astop(), self._loop).result(30)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Server:
        return await self.astart()

    async def __aexit__(self, *exc: object) -> None:
        await self.astop()

    # -- queries, edits and NOTIFY ---------------------------------------------------------

    def handle(self, wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        """Turn one received message into an Outcome, logging it first (the pipeline's work:
        the server's own sockets call ``self.pipeline.handle`` itself, so wrapping this method
        sees only the messages handed to it; to break what the sockets get, add a fault)."""
        return self.pipeline.handle(wire, client, local, transport)

    def _zone_reset(self, zone: Zone, old: ZoneVersion, loaded: ZoneVersion) -> None:
        self.pipeline.zones_changed()  # (replies kept of the edited version go; no NOTIFY)

    def _zone_changed(self, zone: Zone, old: ZoneVersion, new: ZoneVersion) -> None:
        self.pipeline.zones_changed()
        self.notifier.notify(new, plan_hook=self.pipeline.notify_plan)

    def send_notify(self, origin: str | Name, targets: Sequence[str | tuple[str, int]] | None = None) -> list[NotifyRecord]:
        """NOTIFY the configured secondaries (or *targets*) now about a zone (thread-safe)."""
        zone = self.zone(origin)
        if self._loop is None:
            raise ServerError(f"server {self.name} is not running: start it before sending NOTIFY")
        chosen = None
        if targets is not None:
            chosen = [require_local(parse_listen(t, default_port=53, what="notify target"), "notify target")
                      for t in targets]
        return self.notifier.notify(zone.current, chosen, plan_hook=self.pipeline.notify_plan)

    @property
    def notifies(self) -> list[NotifyRecord]:
        """Every NOTIFY sent (or withheld by a fault), oldest first."""
        return self.notifier.records

    # -- faults that act on the listener ------------------------------------------------------

    def _faults_changed(self) -> None:
        """Pause or resume the TCP listeners as faults that close them (``tcp-refused
        mode=closed``) come and go; a listener that cannot be bound again raises ServerError here."""
        loop = self._loop
        if loop is None or not self._udp:
            return
        if threading.get_ident() == self._loop_thread:
            self._sync_tcp_listeners()
            return
        done = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                self._sync_tcp_listeners()
            except BaseException as e:  # raised again in the thread that changed the faults
                failed.append(e)
            finally:
                done.set()

        loop.call_soon_threadsafe(run)
        done.wait(10)
        if failed:
            raise failed[0]

    def _sync_tcp_listeners(self) -> None:
        closed = self.faults.listener_closed
        failed: list[ServerError] = []
        for listener in self._tcp:
            try:
                if closed:
                    listener.pause()
                else:
                    listener.resume()
            except ServerError as e:  # the other listeners still resume
                failed.append(e)
        if failed:
            raise failed[0]

    def __repr__(self) -> str:
        where = ", ".join(str(e) for e in self.endpoints) or "not running"
        return f"<Server {self.name} {where} zones={[str(o) for o in self.engine.zones]}>"


def _named(texts: str | Sequence[str] | None, name: str) -> str | Sequence[str] | None:
    """*texts* with ``{name}`` replaced by the server's name (the identity default is ``"{name}"``)."""
    if isinstance(texts, str):
        return texts.replace("{name}", name)
    if isinstance(texts, (list, tuple)):
        return [t.replace("{name}", name) if isinstance(t, str) else t for t in texts]
    return texts


def _signed(zones: list[Zone], dnssec: object) -> list[Zone]:
    """*zones*, signed as *dnssec* says (None/False: as they are)."""
    if dnssec is None or dnssec is False:
        return zones
    from fakens.dnssec import DnssecPolicy, sign_zones

    sign_zones([zone for zone in zones if zone.rdclass == dns.rdataclass.IN], DnssecPolicy.from_value(dnssec))
    return zones
