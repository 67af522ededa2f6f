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

Sockets are bound when start returns; stop releases them at once.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import ipaddress
import os
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import cast

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.tsig
import dns.tsigkeyring

from fakens.answer import Answer, Kind
from fakens.clock import Clock, SystemClock
from fakens.engine import Engine, EngineOptions
from fakens.errors import ConfigError, ServerError
from fakens.fastpath import ReplyCache
from fakens.faults import FaultChain
from fakens.faults.context import Encoding, FaultContext, NotifyPlan, StreamPart
from fakens.log import DEFAULT_LIMIT, LogEntry, QueryLog
from fakens.notify import ATTEMPTS, RETRY_INTERVAL, Notifier, NotifyRecord
from fakens.outcome import Drop, Outcome, Reply, Stream
from fakens.query import Query
from fakens.runner import BackgroundRunner, background
from fakens.transport import Endpoint, TcpLimits, TcpListener, UdpEndpoint, bind_pair, parse_listen
from fakens.wire import MAX_TCP, MIN_UDP, Opt, Question, StreamMessage, TsigSigner, encode, encode_stream, header_flags
from fakens.xfr import axfr_stream, ixfr_stream
from fakens.zones import Name, Zone, ZoneVersion, load_zones, serial_gt

DEFAULT_UDP_SIZE = 1232
_HEADER = struct.Struct("!HHHHHH")
_XFR_TYPES = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)
_NSID = dns.edns.OptionType.NSID
_REFUSED_QTYPES = (dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY)


def _networks(items: Iterable[str] | None, option: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None:
    if items is None:
        return None
    nets = []
    for item in items:
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{option}: {item!r} is not an address or network (e.g. 127.0.0.1 or 127.0.0.0/8)") from None
    return nets


def _allowed(nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] | None, host: str) -> bool:
    if nets is None:
        return True
    address = ipaddress.ip_address(host)
    return any(address in net for net in nets)


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
    - ``minimal_responses``, ``any_mode``, ``version``: see EngineOptions.
    - ``tcp_idle_timeout`` (10 s), ``tcp_max_connections`` (100).
    - ``notify``: ``"ADDR:PORT"`` of secondaries to NOTIFY after an edit.
    - ``allow_transfer`` / ``allow_notify``: networks allowed (None: any).
    - ``tsig_keys``: {key name: base64 secret} (hmac-sha256) or dnspython
      Keys; ``transfer_requires_tsig``: refuse unsigned AXFR/IXFR;
      ``notify_key``: the key that signs outgoing NOTIFY.
    - ``ixfr_as_axfr``: answer every IXFR with the whole zone (legal, RFC 1995).
    - ``log_limit``, ``log_file``: the query log's memory bound and file.
    - ``clock``: the clock for log times (a lab's shared ManualClock).
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
        version: str | None = "fakens",
        tcp_idle_timeout: float = TcpLimits.idle_timeout,
        tcp_max_connections: int = TcpLimits.max_connections,
        notify: Sequence[str | tuple[str, int]] = (),
        notify_retry: float = RETRY_INTERVAL,
        notify_attempts: int = ATTEMPTS,
        allow_transfer: Iterable[str] | None = None,
        allow_notify: Iterable[str] | None = None,
        tsig_keys: Mapping[str, str | dns.tsig.Key] | None = None,
        transfer_requires_tsig: bool = False,
        notify_key: str | None = None,
        ixfr_as_axfr: bool = False,
        log_limit: int = DEFAULT_LIMIT,
        log_file: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not listen:
            raise ConfigError("a server needs at least one listen address, e.g. listen=['127.0.0.1:0']")
        if not 512 <= udp_size <= 65535:
            raise ConfigError(f"udp_size {udp_size}: must be between 512 and 65535 (1232 is the usual choice)")
        if tcp_max_connections < 1 or tcp_idle_timeout <= 0:
            raise ConfigError("tcp_max_connections must be at least 1 and tcp_idle_timeout above 0")
        self.name = name
        self.listen = [parse_listen(item) for item in listen]
        self.engine = Engine(load_zones(zones), EngineOptions(
            minimal_responses=minimal_responses, any_mode=any_mode, identity=name, version=version))
        self.nsid = nsid.encode() if isinstance(nsid, str) else nsid
        self.udp_size = udp_size
        self.tcp_limits = TcpLimits(tcp_idle_timeout, tcp_max_connections)
        self.allow_transfer = _networks(allow_transfer, "allow_transfer")
        self.allow_notify = _networks(allow_notify, "allow_notify")
        self.keyring: dict[dns.name.Name, dns.tsig.Key] | None = None
        if tsig_keys:
            self.keyring = {}
            for key_name, secret in tsig_keys.items():
                key = secret if isinstance(secret, dns.tsig.Key) else dns.tsig.Key(key_name, secret, dns.tsig.HMAC_SHA256)
                self.keyring[key.name] = key
        self.transfer_requires_tsig = transfer_requires_tsig
        if transfer_requires_tsig and not self.keyring:
            raise ConfigError("transfer_requires_tsig needs tsig_keys={name: base64 secret}")
        self.ixfr_as_axfr = ixfr_as_axfr
        notify_key_name: dns.name.Name | None = None
        if notify_key is not None:
            notify_key_name = dns.name.from_text(notify_key)
            if not self.keyring or notify_key_name not in self.keyring:
                raise ConfigError(f"notify_key {notify_key!r} is not among tsig_keys; add it: tsig_keys={{{notify_key!r}: 'base64 secret'}}")
        self.notifier = Notifier([parse_listen(t, default_port=53, what="notify target") for t in notify],
                                 notify_retry, notify_attempts, self.keyring, notify_key_name)
        self.log = QueryLog(log_limit, log_file)
        self.log.name_for_messages = f"server {name}"
        self.clock: Clock = clock or SystemClock()
        self.faults = FaultChain(self.clock, name)
        self.faults.on_change.append(self._faults_changed)
        self._cache: ReplyCache[LogEntry] = ReplyCache()
        self._generation = 0  # counts zone changes: a reply computed across one is not cached
        self.errors: list[BaseException] = []
        self._udp: list[UdpEndpoint] = []
        self._tcp: list[TcpListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._runner: BackgroundRunner | None = None
        self._loop_thread = 0
        for zone in self.engine.zones.values():
            zone.on_change(self._zone_changed)
        self._initial_zones = dict(self.engine.zones)

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
        self._generation += 1
        self._cache.clear()
        loaded.on_change(self._zone_changed)
        return loaded

    def reset(self) -> None:
        """Back to the state at start: no faults, an empty log, the zones it was
        made with, each as loaded, no NOTIFY records or recorded errors (thread-safe).
        A Zone object shared with other servers is reset for them too: reset them as well
        (``Hierarchy.reset()`` does) so that none keeps replies of the edited version."""
        self.faults.reset()
        for origin in [o for o in self.engine.zones if o not in self._initial_zones]:
            self.engine.remove_zone(origin)  # zones added during the test go
        for zone in self._initial_zones.values():
            self.engine.add_zone(zone)
            zone.reset()
        self._generation += 1
        self._cache.clear()
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
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        try:
            for host, port in self.listen:
                udp_sock, tcp_sock = bind_pair(host, port)
                try:
                    self._tcp.append(await TcpListener.start(tcp_sock, self.handle, self.tcp_limits, self._on_connect))
                    self._udp.append(await UdpEndpoint.start(udp_sock, self.handle))
                except BaseException:
                    udp_sock.close()
                    tcp_sock.close()
                    raise
        except BaseException:
            await self._close_sockets()
            raise
        self.notifier.attach(self._loop, self._udp)
        if self.log.path is not None:
            self._flush_task = asyncio.ensure_future(self._flush_log())
        return self

    async def astop(self) -> None:
        """Close every socket and connection at once, and flush the log file."""
        if self._flush_task is not None:
            self._flush_task.cancel()
            self._flush_task = None
        self.notifier.detach()
        await self._close_sockets()
        self.log.flush()

    async def _close_sockets(self) -> None:
        for udp in self._udp:
            await udp.close()
        for tcp in self._tcp:
            await tcp.close()
        self._udp, self._tcp = [], []

    async def _flush_log(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self.log.flush()

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

    # -- the way of one query --------------------------------------------------------

    def handle(self, wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        """Turn one received message into an Outcome, logging it first."""
        started = time.perf_counter()
        if len(wire) < 12:
            return Drop()  # not even a header: nothing to answer
        msg_id, flags, qdcount, _, _, _ = _HEADER.unpack_from(wire)
        if flags & dns.flags.QR:
            self.notifier.acknowledge(msg_id, flags, client)
            return Drop()  # never answer a response (two servers would bounce errors)
        generation = self._generation
        key = self._cache.key(wire, transport)
        if key is not None and (not self.faults or not self.faults.could_match(wire, transport, client[0])):
            hit = self._cache.get(key, wire)
            if hit is not None:
                reply, template = hit
                entry = copy.copy(template)  # same question, byte for byte: only who, when and the ID differ
                entry.time, entry.client, entry.local, entry.id = self.clock.now(), client, local, msg_id
                entry.duration = time.perf_counter() - started
                self.log.append(entry)
                return Reply([reply])
        entry = LogEntry(self.clock.now(), self.name, client, local, transport, msg_id, None, None, None,
                         opcode=dns.opcode.from_flags(flags), query_flags=flags & 0x87F0)
        box: list[FaultContext] = []
        try:
            outcome = self._dispatch(wire, flags, qdcount, entry, transport, client, local, box)
        except Exception as e:  # a bug must not stop the server: answer SERVFAIL and keep it
            self.errors.append(e)
            entry.note = f"internal error: {type(e).__name__}: {e}"
            outcome = Reply([self._error_reply(msg_id, flags, dns.rcode.SERVFAIL, None, None)])
        if isinstance(outcome, Stream):
            pass  # its messages are made later: _Exchange._produce fills rcode, flags, counts, size
        elif isinstance(outcome, Reply) and outcome.messages:
            first = outcome.messages[0]
            _, rflags, qd, an, ns, ar = _HEADER.unpack_from(first)
            if entry.rcode is None:  # else set where an extended rcode was chosen
                entry.rcode = rflags & 0xF
            entry.flags = rflags & 0x87F0
            entry.counts = (qd, an, ns, ar)
            entry.size = sum(len(m) for m in outcome.messages)
            entry.messages = len(outcome.messages)
        else:
            entry.rcode = None
        if box:
            ctx = box[0]
            outcome.delay += ctx.delay
            if ctx.firing:
                entry.faults = ctx.log_records()
        entry.duration = time.perf_counter() - started
        self.log.append(entry)
        if key is not None and entry.cacheable and isinstance(outcome, Reply) and generation == self._generation:
            self._cache.put(key, outcome.messages[0], entry)  # not if a zone changed meanwhile (another thread)
        return outcome

    def _dispatch(self, wire: bytes, flags: int, qdcount: int, entry: LogEntry, transport: str,
                  client: tuple[str, int], local: tuple[str, int], box: list[FaultContext]) -> Outcome:
        msg_id = entry.id
        try:
            message = dns.message.from_wire(wire, keyring=self.keyring, one_rr_per_rrset=False)
        except (dns.message.UnknownTSIGKey, dns.tsig.BadSignature, dns.tsig.BadTime, dns.tsig.PeerError) as e:
            entry.note = f"TSIG: {type(e).__name__}: {e}"
            return Reply([self._tsig_error_reply(wire, msg_id, flags, e, entry)])
        except dns.exception.DNSException as e:
            entry.note = f"cannot parse: {e}"
            known = dns.opcode.from_flags(flags) in (dns.opcode.QUERY, dns.opcode.NOTIFY)
            return Reply([self._error_reply(msg_id, flags, dns.rcode.FORMERR if known else dns.rcode.NOTIMP, None, None)])
        if message.question:
            q = message.question[0]
            entry.qname, entry.qtype, entry.qclass = q.name, q.rdtype, q.rdclass
        x = _Exchange(self, msg_id, flags, entry, self._opt_for(message, entry), self._signer(message))
        if entry.qname is not None:
            x.question = Question(entry.qname, dns.rdatatype.RdataType.make(entry.qtype or 0),
                                  dns.rdataclass.RdataClass.make(entry.qclass or 0))
        query = Query(message, wire, client, local, transport, self.name, entry.time)
        if self.faults:
            x.ctx = FaultContext(self, query, client[0], transport, entry=entry,
                                 exchange=x)
            box.append(x.ctx)
            self.faults.select(x.ctx)
            early = self.faults.before(x.ctx)
            if early is not None:
                return early
        opcode = message.opcode()
        if opcode not in (dns.opcode.QUERY, dns.opcode.NOTIFY):
            return x.error(dns.rcode.NOTIMP)
        if qdcount != 1 or len(message.question) != 1:
            entry.note = f"QDCOUNT {qdcount}"
            return x.error(dns.rcode.FORMERR, question=False)
        if message.edns > 0:
            entry.note = f"EDNS version {message.edns}"
            return x.error(dns.rcode.BADVERS)
        question = x.question
        assert question is not None
        if opcode == dns.opcode.NOTIFY:
            return self._notify_received(query, x)
        if question.rdtype in _XFR_TYPES:
            return self._transfer(query, x)
        if question.rdtype in _REFUSED_QTYPES or (dns.rdatatype.is_metatype(question.rdtype) and question.rdtype != dns.rdatatype.ANY):
            return x.error(dns.rcode.FORMERR if question.rdtype == dns.rdatatype.OPT else dns.rcode.NOTIMP)
        answer = self.engine.answer(question.name, question.rdtype, question.rdclass,
                                    dnssec_ok=bool(message.ednsflags & dns.flags.DO))
        if x.ctx is not None:
            answer = self.faults.after(x.ctx, answer)
        # the engine's answer alone (no fault fired, no TSIG): the fast path may reuse it
        entry.cacheable = x.signer is None and (x.ctx is None or not x.ctx.firing)
        return x.reply(answer, self._limit(message, transport))

    def reply_with_rcode(self, ctx: FaultContext, rcode: int, question: bool = True, tc: bool = False,
                         with_opt: bool = True) -> Reply:
        """A reply with *rcode* and no records, for faults (``rcode``, ``lame`` ...)."""
        exchange = ctx.exchange
        assert isinstance(exchange, _Exchange)
        return exchange.error(rcode, question=question, tc=tc, with_opt=with_opt)

    def _limit(self, message: dns.message.Message, transport: str) -> int:
        if transport == "tcp":
            return MAX_TCP
        if message.edns < 0:
            return MIN_UDP
        return max(MIN_UDP, min(message.payload, self.udp_size))

    def _opt_for(self, message: dns.message.Message, entry: LogEntry) -> Opt | None:
        if message.edns < 0:
            return None
        do = bool(message.ednsflags & dns.flags.DO)
        entry.edns = {
            "version": message.edns,
            "size": message.payload,
            "do": do,
            "flags": message.ednsflags & 0xFFFF,
            "options": [dns.edns.OptionType.to_text(o.otype) if isinstance(o.otype, dns.edns.OptionType) else int(o.otype)
                        for o in message.options],
        }
        options: list[dns.edns.Option] = []
        if self.nsid is not None and any(o.otype == _NSID for o in message.options):
            options.append(dns.edns.GenericOption(_NSID, self.nsid))
        return Opt(self.udp_size, do, options)

    def _signer(self, message: dns.message.Message) -> TsigSigner | None:
        if not message.had_tsig or self.keyring is None:
            return None
        key = self.keyring.get(message.keyname)  # type: ignore[arg-type]
        if key is None:
            return None
        return TsigSigner(key, message.mac or b"", message.id)

    def _tsig_error_reply(self, wire: bytes, msg_id: int, flags: int, error: Exception, entry: LogEntry) -> bytes:
        """NOTAUTH with an unsigned TSIG record carrying BADKEY, BADSIG or BADTIME (RFC 8945 5.2)."""
        try:
            message = dns.message.from_wire(wire, keyring=False)
        except dns.exception.DNSException:
            return self._error_reply(msg_id, flags, dns.rcode.NOTAUTH, None, None)
        question = None
        if message.question:
            q = message.question[0]
            question = Question(q.name, q.rdtype, q.rdclass)
            entry.qname, entry.qtype, entry.qclass = q.name, q.rdtype, q.rdclass
        tsig = message.tsig
        if tsig is None:
            return self._error_reply(msg_id, flags, dns.rcode.NOTAUTH, question, None)
        if isinstance(error, dns.message.UnknownTSIGKey):
            code = dns.rcode.BADKEY
        elif isinstance(error, dns.tsig.BadTime):
            code = dns.rcode.BADTIME
        else:
            code = dns.rcode.BADSIG
        rdata = tsig[0].replace(time_signed=int(time.time()), mac=b"", error=code, other=b"")
        answer = Answer(Kind.ERROR, dns.rcode.NOTAUTH, additional=[dns.rrset.from_rdata(tsig.name, 0, rdata)])
        opcode = dns.opcode.from_flags(flags)
        return encode(msg_id, header_flags(flags, opcode, False), dns.rcode.NOTAUTH, question, answer, MAX_TCP)

    def _error_reply(self, msg_id: int, flags: int, rcode: int, question: Question | None,
                     opt: Opt | None, signer: TsigSigner | None = None) -> bytes:
        opcode = dns.opcode.from_flags(flags)
        return encode(msg_id, header_flags(flags, opcode, False), rcode, question, None, MAX_TCP, opt, signer)

    # -- transfers and NOTIFY ----------------------------------------------------------

    def _transfer(self, query: Query, x: _Exchange) -> Outcome:
        question = x.question
        assert question is not None
        is_axfr = question.rdtype == dns.rdatatype.AXFR
        if is_axfr and query.transport == "udp":
            x.entry.note = "AXFR over UDP"
            return x.error(dns.rcode.FORMERR)
        zone = self.engine.zones.get(question.name)
        if zone is None or question.rdclass != dns.rdataclass.IN:
            x.entry.note = "transfer of a name that is not a served zone's apex"
            return x.error(dns.rcode.NOTAUTH)
        if not _allowed(self.allow_transfer, query.client[0]):
            x.entry.note = "transfer refused by allow_transfer"
            return x.error(dns.rcode.REFUSED)
        if self.transfer_requires_tsig and x.signer is None:
            x.entry.note = "transfer refused: not TSIG-signed"
            return x.error(dns.rcode.REFUSED)
        version = zone.current
        source: Iterable[dns.rrset.RRset | None]  # made as the stream is sent (None: a checkpoint)
        if is_axfr:
            source = axfr_stream(version)
        else:
            client_serial = self._ixfr_serial(query.message)
            if client_serial is None:
                x.entry.note = "IXFR without the client's SOA in AUTHORITY"
                return x.error(dns.rcode.FORMERR)
            if self.ixfr_as_axfr and serial_gt(version.serial, client_serial):
                source = axfr_stream(version)
            else:
                source = ixfr_stream(zone, client_serial, version)
        rrsets: list[dns.rrset.RRset] | None = None
        if x.ctx is not None and any(f.uses("transfer") or f.uses("wire") for f in x.ctx.firing):
            rrsets = [r for r in source if r is not None]  # faults edit the whole sequence: made at once
            self.faults.run("transfer", x.ctx, rrsets)
            source = rrsets
        if query.transport == "udp":
            # RFC 1995 section 2: the first RRset only (an SOA); the client retries over TCP
            first = next((r for r in source if r is not None), None)
            answer = Answer(Kind.XFR, aa=True, answer=[first] if first is not None else [], zone=zone.origin,
                            version=version)
            return x.reply(answer, self._limit(query.message, "udp"))
        return x.stream(source, len(rrsets) if rrsets is not None else None)

    def ixfr_client_serial(self, ctx: FaultContext) -> int | None:
        """The serial an IXFR client says it has (for faults)."""
        return self._ixfr_serial(ctx.message) if ctx.query is not None else None

    @staticmethod
    def _ixfr_serial(message: dns.message.Message) -> int | None:
        for rrset in message.authority:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                return cast(dns.rdtypes.ANY.SOA.SOA, rrset[0]).serial
        return None

    def _notify_received(self, query: Query, x: _Exchange) -> Outcome:
        assert x.question is not None
        if x.question.name not in self.engine.zones:
            return x.error(dns.rcode.NOTAUTH)
        if not _allowed(self.allow_notify, query.client[0]):
            return x.error(dns.rcode.REFUSED)
        reply_flags = header_flags(x.flags, dns.opcode.NOTIFY, True)
        return x.finish([encode(x.msg_id, reply_flags, dns.rcode.NOERROR, x.question, None, MAX_TCP, x.opt, x.signer)])

    def _zone_changed(self, zone: Zone, old: ZoneVersion, new: ZoneVersion) -> None:
        self._generation += 1
        self._cache.clear()
        self.notifier.notify(new, plan_hook=self._notify_faults)

    def send_notify(self, origin: str | Name, targets: Sequence[str | tuple[str, int]] | None = None) -> list[NotifyRecord]:
        """NOTIFY the configured secondaries (or *targets*) now about a zone (thread-safe)."""
        zone = self.zone(origin)
        if self._loop is None:
            raise ServerError(f"server {self.name} is not running: start it before sending NOTIFY")
        chosen = [parse_listen(t, default_port=53, what="notify target") for t in targets] if targets is not None else None
        return self.notifier.notify(zone.current, chosen, plan_hook=self._notify_faults)

    @property
    def notifies(self) -> list[NotifyRecord]:
        """Every NOTIFY sent (or withheld by a fault), oldest first."""
        return self.notifier.records

    def _notify_faults(self, version: ZoneVersion, plan: NotifyPlan) -> str:
        """Let no-notify faults change an outgoing NOTIFY; what they did, for the record."""
        if not self.faults:
            return ""
        ctx = FaultContext(self, None, plan.target[0], "udp")
        try:
            self.faults.notify(ctx, version.origin, plan)
        except Exception as e:  # recorded for the test that owns the server; the NOTIFY goes out
            self.errors.append(e)
        return "; ".join(a for actions in ctx.actions.values() for a in actions)

    # -- faults that act outside a query ---------------------------------------------------

    def _on_connect(self, peer: tuple[str, int], local: tuple[str, int]) -> str | None:
        if not self.faults:
            return None
        ctx = FaultContext(self, None, peer[0], "tcp")
        try:
            action = self.faults.connection_faults(ctx)
        except Exception as e:  # a broken fault must not stop the server: record it, accept the connection
            self.errors.append(e)
            return None
        if action is not None:
            entry = LogEntry(self.clock.now(), self.name, peer, local, "tcp", 0, None, None, None,
                             faults=ctx.log_records(), note=f"TCP connection {action} before any query")
            self.log.append(entry)
        return action

    def _faults_changed(self) -> None:
        """Pause or resume the TCP listeners as ``tcp-refused mode=closed`` faults come
        and go; a listener that cannot be bound again raises ServerError here."""
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
        closed = any(f.type_name == "tcp-refused" and f.mode == "closed"
                     and f.selector.matches(transport="tcp", server=self.name) for f in self.faults)
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


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


@dataclasses.dataclass
class _Exchange:
    """One query's reply in the making: every reply to it, the engine's or a fault's,
    goes through :meth:`encoding` (faults may change size, OPT, header flags, records)
    and :meth:`finish` (broken-bytes faults)."""

    server: Server
    msg_id: int
    flags: int
    entry: LogEntry
    opt: Opt | None
    signer: TsigSigner | None
    question: Question | None = None
    ctx: FaultContext | None = None

    def encoding(self, limit: int, answer: Answer | None = None) -> Encoding:
        """How to encode this reply, after the faults' ``encoding`` hooks."""
        opt = dataclasses.replace(self.opt, options=list(self.opt.options)) if self.opt is not None else None
        enc = Encoding(limit, opt, answer=answer)
        if self.ctx is not None:
            self.server.faults.run("encoding", self.ctx, enc)
        return enc

    def _flags(self, aa: bool, tc: bool, enc: Encoding) -> int:
        flags = header_flags(self.flags, dns.opcode.from_flags(self.flags), aa, tc)
        return (flags | enc.set_flags) & ~enc.clear_flags

    def error(self, rcode: int, question: bool = True, tc: bool = False, with_opt: bool = True) -> Reply:
        """A reply with *rcode*, no records, the question unless told otherwise."""
        if rcode > 15:
            self.entry.rcode = rcode
        enc = self.encoding(MAX_TCP)
        opt = enc.opt if with_opt else None
        if rcode > 15 and opt is None:
            opt = Opt(self.server.udp_size)  # an extended RCODE lives in an OPT record
        wire = encode(self.msg_id, self._flags(False, tc, enc), rcode, self.question if question else None, None,
                      MAX_TCP, opt, self.signer)
        return self.finish([wire])

    def reply(self, answer: Answer, limit: int) -> Reply:
        """The reply carrying *answer*, encoded within *limit* (encoding faults applied)."""
        enc = self.encoding(limit, answer)
        answer = enc.answer or answer
        flags = self._flags(answer.aa, enc.tc, enc)
        body = None if enc.tc else answer
        wire = encode(self.msg_id, flags, answer.rcode, self.question, body, enc.limit, enc.opt, self.signer)
        if enc.pad_to and len(wire) < enc.pad_to and enc.opt is not None:
            padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, bytes(max(0, enc.pad_to - len(wire) - 4)))
            enc.opt.options = list(enc.opt.options) + [padding]
            wire = encode(self.msg_id, flags, answer.rcode, self.question, body, enc.limit, enc.opt, self.signer)
        return self.finish([wire])

    def stream(self, rrsets: Iterable[dns.rrset.RRset | None], total: int | None) -> Stream:
        """A transfer over TCP: messages made one by one as the transport sends them
        (encoding faults applied once; broken-bytes faults to each message). *total*:
        the number of RRsets, when known (the wire hooks' StreamPart)."""
        enc = self.encoding(MAX_TCP)
        flags = self._flags(True, False, enc)
        messages = encode_stream(self.msg_id, flags, self.question, rrsets, signer=self.signer, opt=enc.opt)
        stream = Stream(iter(()), close_after=self.ctx is not None and self.ctx.close_after)
        stream.messages = self._produce(stream, messages, total)
        return stream

    def _produce(self, stream: Stream, messages: Iterator[StreamMessage | None],
                 total: int | None) -> Iterator[bytes | None]:
        """The stream's messages, with the broken-bytes faults applied to each as it
        is made and the log entry kept up to date (messages, size; a stop noted)."""
        ctx, entry, faults = self.ctx, self.entry, self.server.faults
        wire_faults = ctx is not None and any(f.uses("wire") for f in ctx.firing)
        started = time.perf_counter()
        sent = 0
        try:
            for item in messages:
                if item is None:
                    yield None  # a checkpoint: the transport may stop here for other work
                    continue
                wire = item.wire
                if wire_faults:
                    assert ctx is not None
                    ctx.part = StreamPart(sent, item.rrsets, total)
                    box = [wire]
                    faults.run("wire", ctx, box, once=True)
                    wire, ctx.part = box[0], None
                    entry.faults = ctx.log_records()
                if sent == 0 and len(wire) >= 12:
                    _, rflags, qd, an, ns, ar = _HEADER.unpack_from(wire)
                    if entry.rcode is None:
                        entry.rcode = rflags & 0xF
                    entry.flags = rflags & 0x87F0
                    entry.counts = (qd, an, ns, ar)
                sent += 1
                entry.messages = sent
                entry.size += len(wire)
                yield wire
        except GeneratorExit:
            entry.note = _join(entry.note, f"transfer stopped after {sent} messages: the connection closed")
            raise
        except Exception as e:  # a bug must not stop the server: keep it, end the transfer here
            self.server.errors.append(e)
            entry.note = _join(entry.note, f"internal error after {sent} messages: {type(e).__name__}: {e}")
            stream.close_after = True
        finally:
            entry.duration += time.perf_counter() - started
            close = getattr(messages, "close", None)
            if close is not None:
                close()

    def finish(self, messages: list[bytes]) -> Reply:
        """Apply the broken-bytes faults and make the Reply."""
        if self.ctx is not None:
            self.server.faults.run("wire", self.ctx, messages)
            return Reply(messages, close_after=self.ctx.close_after)
        return Reply(messages)
