"""The way of one query through a server: bytes in, an Outcome out, a log entry written.

    pipeline = Pipeline("ns1", options, engine, faults, log, clock, notifier)
    outcome = pipeline.handle(wire, client=("127.0.0.1", 40000), local=("127.0.0.1", 53), transport="udp")

First, if a served zone's signer made its signatures anew since the reply cache was emptied
(a renewed window, new keys), the cache and the express path's tails are emptied: a kept
reply never carries signatures the engine no longer gives.
With no fault set, two stages come before any Exchange is made, reading the bytes alone
(no stage after them would read an Exchange: their log entries are made from the bytes):
the reply cache asked with the query's bytes (a repeated question), then the express path
(:meth:`fakens.express.Express.reply_to`: a plain query answered straight from the zone).
Then the stages, each reading the :class:`~fakens.exchange.Exchange` and none the
bytes again (docs/architecture.md walks one UDP query, one TCP AXFR and one
fault added at run time through them):

1. receive: the header; responses go to the NOTIFY sender, never answered;
2. fast path: a reply cached for this exact query, or the express path's answer, when no
   fault could match it (faults are set, none could);
3. parse: the rest of the message (OPT, TSIG), errors answered FORMERR/NOTIMP/NOTAUTH;
4. ``before`` faults: may end the query (an rcode, a drop, a closed connection) or delay it;
5. dispatch: NOTIFY received, transfer (policy and RRsets in :mod:`fakens.xfr`), or the
   engine's Answer, then the ``after`` faults on it;
6. encode: the server's OPT, truncation, TSIG, after the ``encoding`` faults; then the
   ``wire`` faults on the bytes;
7. log: the exchange becomes the log entry (before the transport sends the reply).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig

from fakens import internalerrors
from fakens.answer import Answer, Kind
from fakens.clock import Clock
from fakens.dnssec.rounds import Watch
from fakens.engine import Engine
from fakens.exchange import HEADER, BytesTemplate, Exchange, TsigError
from fakens.express import Express
from fakens.fastpath import ReplyCache
from fakens.faults.chain import FaultChain, Passage
from fakens.faults.view import Encoding, ErrorReply, NotifyPlan, StreamPart, TransferPlan, View, ZoneHistory
from fakens.guard import PublicGuard, truncated
from fakens.log import LogEntry, QueryLog
from fakens.notify import Notifier, notify_refusal
from fakens.options import ServerOptions
from fakens.outcome import Drop, Outcome, Reply, Stream
from fakens.selectors import Facts
from fakens.transport import counts_as_loopback
from fakens.wire import (
    MAX_TCP,
    MIN_UDP,
    Opt,
    Question,
    StreamMessage,
    encode,
    encode_stream,
    header_flags,
    tsig_time,
)
from fakens.xfr import transfer_refusal, transfer_stream
from fakens.zones import Name, ZoneVersion

_XFR_TYPES = (dns.rdatatype.AXFR, dns.rdatatype.IXFR)
_NSID = dns.edns.OptionType.NSID
_REFUSED_QTYPES = (dns.rdatatype.OPT, dns.rdatatype.TSIG, dns.rdatatype.TKEY)


class EngineZones:
    """The server's zones and engine as faults may read them (:class:`~fakens.faults.view.ZoneData`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, origin: Name) -> ZoneHistory | None:
        return self._engine.zones.get(origin)

    def find(self, name: Name) -> ZoneHistory | None:
        return self._engine.find_zone(name)

    def answer(self, question: Question, versions: Mapping[Name, ZoneVersion] | None = None,
               dnssec_ok: bool = False) -> Answer:
        return self._engine.answer(question.name, question.rdtype, question.rdclass, versions=versions,
                                   dnssec_ok=dnssec_ok)

    def negative(self, version: ZoneVersion) -> dns.rrset.RRset:
        return self._engine.negative_soa(version)

    def addresses(self, host: Name, versions: Mapping[Name, ZoneVersion] | None = None) -> list[dns.rrset.RRset]:
        return self._engine.addresses_of(host, versions)


class Pipeline:
    """Turns received messages into Outcomes for one server; see the module docstring."""

    def __init__(self, name: str, options: ServerOptions, engine: Engine, faults: FaultChain, log: QueryLog,
                 clock: Clock, notifier: Notifier, errors: list[BaseException]) -> None:
        self.name = name
        self.options = options
        self.engine = engine
        self.faults = faults
        self.log = log
        self.clock = clock
        self.notifier = notifier
        self.errors = errors
        self.zone_data = EngineZones(engine)
        self.cache: ReplyCache[LogEntry | BytesTemplate] = ReplyCache(shared=BytesTemplate)
        self._templates: dict[str, BytesTemplate] = {}  # the express replies' log templates, by transport
        self.express = Express(engine, options.udp_size)
        self._generation = 0  # counts zone changes: a reply computed across one is not cached
        # the served zones' signers and their signing rounds when the cache was last emptied
        # (None: to be found at the next message, as after a zone change)
        self._signing: Watch | None = None
        self._lock = threading.Lock()
        self.guard: PublicGuard | None = None  # set by a server bound publicly (fakens.guard)

    def report(self, error: Exception, cause: str) -> None:
        """Keep an internal error on ``server.errors`` and print it on stderr (:mod:`fakens.internalerrors`)."""
        internalerrors.report(self.errors, error, f"server {self.name}", cause)

    def zones_changed(self) -> None:
        """A zone was edited, added or removed: cached replies are stale."""
        with self._lock:
            self._generation += 1
            self.cache.clear()
            self.express.clear()
            self._signing = None  # (a zone may have been signed, or another added: found again)

    def _signatures_current(self) -> None:
        """Kept replies (and the express path's tails) may carry signatures of the signed zones
        served. A signer has made its signatures anew since the cache was emptied (its window
        renewed once half the lifetime passed on its clock, real time by default, or new keys:
        :class:`fakens.dnssec.rounds.Watch`), or the zones changed: they are forgotten as after
        an edit, so that a kept reply does not carry signatures the engine no longer gives
        (nor, past the lifetime, expired ones)."""
        # the rounds read first: a reply begun after the generation changes below is signed in
        # them or a later one (which the next message finds)
        generation = self._generation
        watch = Watch([zone.signer for zone in list(self.engine.zones.values()) if zone.signer is not None])
        with self._lock:
            changed = self._generation != generation  # (the zones changed meanwhile: found again)
            self._generation += 1
            self.cache.clear()
            self.express.clear()
            self._signing = None if changed else watch

    # -- one query ---------------------------------------------------------------------

    def handle(self, wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> Outcome:
        """Turn one received message into an Outcome, logging it first (and, for a public
        server's non-loopback UDP clients, rate-limited and size-capped: :mod:`fakens.guard`)."""
        outcome: Outcome | None = None
        asked: bytes | None = None  # the key the cache was asked with
        received: tuple[float, float] | None = None  # (the clock's time, perf_counter) when asked
        signing = self._signing
        if signing is None or (signing.signers and signing.moved()):  # (no signed zone: nothing to look at)
            self._signatures_current()
        if not self.faults.active:  # no fault to ask: a repeated question is found by its bytes alone
            received = (self.clock.now(), time.perf_counter())
            asked = (b"t" if transport == "tcp" else b"u") + wire[2:]
            hit = self.cache.get(asked, wire)
            if hit is not None:  # (a key only a plain query's bytes make: no header to read first)
                known, template = hit
                outcome = Reply(self.log.append_hit(template, received[0], client, local,
                                                    (wire[0] << 8) | wire[1], wire, known,
                                                    time.perf_counter() - received[1]))
            else:
                outcome = self._express_from_bytes(wire, client, local, transport, asked, received)
        if outcome is None:
            outcome = self._handle(wire, client, local, transport, asked, received)
        if self.guard is None:
            return outcome
        return self._guarded(outcome, wire, client, transport)

    def _express_from_bytes(self, wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str,
                            key: bytes, received: tuple[float, float]) -> Reply | None:
        """The express answer to a plain query read from its bytes alone (no fault is set: no
        Exchange to make), logged and kept; None when the Exchange's way must answer it."""
        generation = self._generation
        now, started = received
        try:
            express = self.express.reply_to(wire, transport)
        except Exception as e:  # a bug of the express path: kept and printed, the engine's way answers
            x = Exchange.receive(wire, client, local, transport, self.name, now)
            if x is not None:
                x.read_question()
            self.report(e, _cause(x) if x is not None else f"{transport} query from {client[0]}#{client[1]}")
            return None
        if express is None:
            return None
        return self._logged(transport, now, client, local, wire, started, key, generation, express)

    def _guarded(self, outcome: Outcome, wire: bytes, client: tuple[str, int], transport: str) -> Outcome:
        """*outcome* as :mod:`fakens.guard` lets it go to a non-loopback UDP client."""
        guard = self.guard
        if guard is None or transport != "udp" or not isinstance(outcome, Reply) or counts_as_loopback(client[0]):
            return outcome
        if not guard.allow(client[0], self.clock.now()):
            return Drop()
        cap = guard.cap(len(wire))
        if cap is not None and any(len(m) > cap for m in outcome.messages):
            guard.truncated += 1
            return Reply([truncated(outcome.messages[0], wire)], outcome.delay)
        return outcome

    def _handle(self, wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str,
                asked: bytes | None, received: tuple[float, float] | None = None) -> Outcome:
        """The outcome of a message not answered from the reply cache or the bytes' express path
        (*asked*: the key the cache was asked with, None when faults are set; *received*: the
        clock's time and perf_counter when it was, the log entry's time and its duration's start)."""
        x = Exchange.receive(wire, client, local, transport, self.name,
                             self.clock.now() if received is None else received[0])
        if x is None:
            return Drop()  # not even a header: nothing to answer
        if received is not None:
            x.started = received[1]
        if x.is_response:
            self.notifier.acknowledge(x.msg_id, x.flags, client)
            return Drop()  # never answer a response (two servers would bounce errors)
        generation = self._generation
        key = self.cache.key(wire, transport, x.question_end())
        if key is not None and (not self.faults or (x.read_question()
                                                    and not self.faults.could_match(x.facts(known_edns=False)))):
            if asked is None:  # (else the cache and the express path were asked before the Exchange)
                cached = self._cached(key, x)
                if cached is not None:
                    return cached
                try:
                    express = self.express.reply(x)  # no fault could act on it: straight from the zone
                except Exception as e:  # a bug of the express path: kept and printed, the engine's way answers
                    self.report(e, _cause(x))
                    express = None
                if express is not None:
                    return self._logged(x.transport, x.time, x.client, x.local, x.wire, x.started, key, generation,
                                        express)
            else:
                key = asked  # the same bytes (its hash kept), not found above
        reply = _Replier(self, x)
        try:
            outcome = self._answer(x, reply)
        except Exception as e:  # a bug must not stop the server: answer SERVFAIL and keep it
            self.report(e, _cause(x))
            x.note = f"internal error: {type(e).__name__}: {e}"
            x.rcode = None
            reply.cacheable = False
            outcome = reply.delayed(Reply([_bare_error(x, dns.rcode.SERVFAIL)]))
        passage = reply.passage
        streaming = isinstance(outcome, Stream)
        if passage is not None:  # a stream's faults act as it is made: finished when it ends
            x.faults, x.matched = passage.records() if streaming else passage.finish()
        entry = x.entry(outcome)
        if streaming:
            reply.entry = entry  # the stream fills in its messages, size and faults as it goes
        self.log.append(entry, to_file=not streaming)  # a stream's entry goes to the file when it ends
        # the engine's answer alone (no fault fired, no TSIG) may be reused by the fast path,
        # unless a zone changed meanwhile (in another thread)
        if (key is not None and reply.cacheable and x.signer is None
                and (passage is None or not passage.fired) and isinstance(outcome, Reply)):
            with self._lock:
                if generation == self._generation:
                    self.cache.put(key, outcome.messages[0], entry)
        return outcome

    def _logged(self, transport: str, now: float, client: tuple[str, int], local: tuple[str, int], wire: bytes,
                started: float, key: bytes, generation: int, express: bytes) -> Reply:
        """An express reply logged and kept for the fast path (unless a zone changed meanwhile).
        Its log entry is made from the bytes when the log is read (a BytesTemplate): the
        query and the reply hold all of it."""
        template = self._templates.get(transport)
        if template is None:
            template = self._templates[transport] = BytesTemplate(self.name, transport)
        messages = self.log.append_hit(template, now, client, local, (wire[0] << 8) | wire[1], wire, express,
                                       time.perf_counter() - started)
        with self._lock:
            if generation == self._generation:
                self.cache.put(key, express, template)
        return Reply(messages)

    def _cached(self, key: bytes, x: Exchange) -> Outcome | None:
        """The fast path: the reply to these exact bytes (the caller made sure no fault could act on them)."""
        hit = self.cache.get(key, x.wire)
        if hit is None:
            return None
        reply, template = hit
        return Reply(self.log.append_hit(template, x.time, x.client, x.local, x.msg_id, x.wire, reply,
                                         time.perf_counter() - x.started))

    def _answer(self, x: Exchange, reply: _Replier) -> Outcome:
        """Parse, run the faults and the engine: the Outcome."""
        try:
            x.parse(self.options.keyring, self.options.tsig_time_offset)
        except TsigError as e:
            x.note = f"TSIG: {type(e.error).__name__}: {e.error}"
            return Reply([_tsig_error_reply(x, e.error, self.options.tsig_time_offset)])
        except dns.exception.DNSException as e:
            x.note = f"cannot parse: {e}"
            known = x.opcode in (dns.opcode.QUERY, dns.opcode.NOTIFY)
            return Reply([_bare_error(x, dns.rcode.FORMERR if known else dns.rcode.NOTIMP)])
        reply.parsed(self._opt_for(x))
        if self.faults:
            reply.passage = self.faults.begin(x.facts(), x.time)
            early, reply.delay = self.faults.before(reply.passage, reply.view)
            if early is not None:
                return reply.delayed(reply.carry_out(early))
        return reply.delayed(self._dispatch(x, x.opcode, reply))

    def _dispatch(self, x: Exchange, opcode: int, reply: _Replier) -> Outcome:
        if opcode not in (dns.opcode.QUERY, dns.opcode.NOTIFY):
            return reply.error(dns.rcode.NOTIMP)
        if x.qdcount != 1 or (x.message is not None and len(x.message.question) != 1):
            x.note = f"QDCOUNT {x.qdcount}"
            return reply.error(dns.rcode.FORMERR, question=False)
        if x.edns is not None and x.edns.version > 0:
            x.note = f"EDNS version {x.edns.version}"
            return reply.error(dns.rcode.BADVERS)
        question = x.question
        assert question is not None
        if opcode == dns.opcode.NOTIFY:
            refusal = notify_refusal(self.engine.zones, question, x.client[0], self.options)
            if refusal is not None:
                return reply.error(refusal)
            return reply.notify_ack()
        if question.rdtype in _XFR_TYPES:
            return self._transfer(x, question, reply)
        if question.rdtype in _REFUSED_QTYPES or (dns.rdatatype.is_metatype(question.rdtype)
                                                  and question.rdtype != dns.rdatatype.ANY):
            return reply.error(dns.rcode.FORMERR if question.rdtype == dns.rdatatype.OPT else dns.rcode.NOTIMP)
        answer = self.engine.answer(question.name, question.rdtype, question.rdclass, dnssec_ok=x.dnssec_ok)
        outside = self.options.outside_zones
        if answer.kind is Kind.REFUSED and outside == "servfail":
            answer.rcode = dns.rcode.SERVFAIL  # data the server does not hold (outside_zones="servfail")
        if reply.passage is not None:
            answer = self.faults.after(reply.passage, reply.view, answer)
        if answer.kind is Kind.REFUSED and outside == "drop":
            x.note = "no data here: no answer (outside_zones=drop)"
            return Drop()
        reply.cacheable = True
        return reply.answer(answer, self._limit(x))

    def _transfer(self, x: Exchange, question: Question, reply: _Replier) -> Outcome:
        zone = self.engine.zones.get(question.name)
        refusal = transfer_refusal(zone, question, x.transport, x.client[0], x.signer is not None,
                                   x.ixfr_serial, self.options)
        if refusal is not None:
            rcode, x.note = refusal
            return reply.error(rcode)
        assert zone is not None
        version = zone.current
        # made as the stream is sent (None: a checkpoint where the transport may stop)
        source = transfer_stream(zone, version, question.rdtype, x.ixfr_serial, self.options.ixfr_as_axfr)
        plan: TransferPlan | None = None
        passage = reply.passage
        if passage is not None and (self.faults.may_fire("transfer", passage) or self.faults.may_fire("wire", passage)):
            plan = TransferPlan([r for r in source if r is not None])  # faults edit the whole sequence
            self.faults.run("transfer", passage, reply.view, plan)
            source = plan.rrsets
        if x.transport == "udp":
            # RFC 1995 section 2: over UDP only the first RRset (an SOA); the client retries over TCP
            first = next((r for r in source if r is not None), None)
            answer = Answer(Kind.XFR, aa=True, answer=[first] if first is not None else [], zone=zone.origin,
                            version=version)
            return reply.answer(answer, self._limit(x))
        return reply.stream(source, plan)

    def _limit(self, x: Exchange) -> int:
        if x.transport == "tcp":
            return MAX_TCP
        if x.edns is None:
            return MIN_UDP
        return max(MIN_UDP, min(x.edns.payload, self.options.udp_size))

    def _opt_for(self, x: Exchange) -> Opt | None:
        if x.edns is None:
            return None
        options: list[dns.edns.Option] = []
        if self.options.nsid is not None and any(code == _NSID for code, _ in x.edns.options):
            options.append(dns.edns.GenericOption(_NSID, self.options.nsid))
        return Opt(self.options.udp_size, x.dnssec_ok, options)

    # -- faults outside a query ----------------------------------------------------------

    def view(self, transport: str, client: str | None, x: Exchange | None = None) -> View:
        """What a fault hook sees of this server (and of the exchange *x*, when there is one)."""
        return View(self.name, transport, client, self.clock.now(), self.options.udp_size, self.zone_data,
                    x.question if x else None, x.edns if x else None, x.ixfr_serial if x else None)

    def on_connect(self, peer: tuple[str, int], local: tuple[str, int]) -> str | None:
        """A TCP connection arrived: "reset", "close" or None (accept), as the faults say."""
        if not self.faults:
            return None
        view = self.view("tcp", peer[0])
        passage = self.faults.begin(_other_facts("tcp", peer[0], self.name), view.now)
        try:
            outcome = self.faults.connection(passage, view)
        except Exception as e:  # a broken fault must not stop the server: record it, accept the connection
            self.report(e, f"a TCP connection from {peer[0]}#{peer[1]}")
            outcome = None
        faults, matched = passage.finish()
        if outcome is None:
            return None
        action = type(outcome).__name__.lower()
        self.log.append(LogEntry(view.now, self.name, peer, local, "tcp", 0, None, None, None, faults=faults,
                                 matched=matched, note=f"TCP connection {action} before any query"))
        return action

    def notify_plan(self, version: ZoneVersion, plan: NotifyPlan) -> str:
        """Let ``no-notify`` faults change an outgoing NOTIFY; what they did, for the record."""
        if not self.faults:
            return ""
        target = plan.target[0]
        view = View(self.name, "udp", target, self.clock.now(), self.options.udp_size, self.zone_data,
                    Question(version.origin, dns.rdatatype.SOA, dns.rdataclass.IN))
        facts = _other_facts("udp", target, self.name, version.origin, dns.opcode.NOTIFY)
        passage = self.faults.begin(facts, view.now)
        try:
            self.faults.run("notify", passage, view, plan)
        except Exception as e:  # recorded for the test that owns the server; the NOTIFY goes out
            self.report(e, f"a NOTIFY of {version.origin} to {target}")
        passage.finish()
        return "; ".join(note for notes in passage.notes.values() for note in notes)


def _other_facts(transport: str, client: str, server: str, qname: Name | None = None,
                 opcode: int = 0) -> Facts:
    """Facts of an exchange that is not a query (a connection, an outgoing NOTIFY)."""
    if qname is None:
        return Facts(transport=transport, client=client, server=server, opcode=opcode)
    return Facts(qname, dns.rdatatype.SOA, dns.rdataclass.IN, opcode, transport, client, False, False, server)


class _Replier:
    """One query's reply in the making: every reply to it, the engine's or a fault's,
    goes through :meth:`encoding` (faults may change size, OPT, header flags, records)
    and :meth:`finish` (broken-bytes faults)."""

    def __init__(self, pipeline: Pipeline, x: Exchange) -> None:
        self.pipeline = pipeline
        self.x = x
        self.opt: Opt | None = None
        self.passage: Passage | None = None
        self.delay = 0.0
        self.cacheable = False  # an engine answer (the fast path may keep it if no fault fired)
        self.entry: LogEntry | None = None  # a stream's log entry, kept up to date as it is sent
        self._view: View | None = None
        self._stream_done = False

    @property
    def view(self) -> View:
        """What the faults see of the server and this exchange (made when a fault asks)."""
        view = self._view
        if view is None:
            view = self._view = self.pipeline.view(self.x.transport, self.x.client[0], self.x)
        return view

    def parsed(self, opt: Opt | None) -> None:
        """The query is parsed: the server's OPT for the reply (the faults' view is made anew)."""
        self.opt = opt
        self._view = None

    def carry_out(self, decided: Outcome | ErrorReply) -> Outcome:
        """What a ``before`` fault decided: an rcode reply (encoded here) or a transport outcome."""
        if isinstance(decided, ErrorReply):
            return self.error(decided.rcode, decided.question, decided.tc, decided.with_opt)
        return decided

    def delayed(self, outcome: Outcome) -> Outcome:
        if self.delay:
            outcome.delay += self.delay
        return outcome

    def encoding(self, limit: int, answer: Answer | None = None) -> Encoding:
        """How to encode this reply, after the faults' ``encoding`` hooks."""
        opt = self.opt.copy() if self.opt is not None else None
        enc = Encoding(limit, opt, answer=answer)
        if self.passage is not None:
            self.pipeline.faults.run("encoding", self.passage, self.view, enc)
        return enc

    def _flags(self, aa: bool, tc: bool, enc: Encoding) -> int:
        flags = header_flags(self.x.flags, self.x.opcode, aa, tc)
        return (flags | enc.set_flags) & ~enc.clear_flags

    def error(self, rcode: int, question: bool = True, tc: bool = False, with_opt: bool = True) -> Reply:
        """A reply with *rcode*, no records, the question unless told otherwise."""
        if rcode > 15:
            self.x.rcode = rcode
        enc = self.encoding(MAX_TCP)
        opt = enc.opt if with_opt else None
        if rcode > 15 and opt is None:
            opt = Opt(self.pipeline.options.udp_size)  # an extended RCODE lives in an OPT record
        wire = encode(self.x.msg_id, self._flags(False, tc, enc), rcode, self.x.question if question else None, None,
                      MAX_TCP, opt, self.x.signer)
        return self.finish([wire])

    def answer(self, answer: Answer, limit: int) -> Reply:
        """The reply carrying *answer*, encoded within *limit* (encoding faults applied)."""
        enc = self.encoding(limit, answer)
        answer = enc.answer or answer
        flags = self._flags(answer.aa, enc.tc, enc)
        body = None if enc.tc else answer
        x = self.x
        wire = encode(x.msg_id, flags, answer.rcode, x.question, body, enc.limit, enc.opt, x.signer)
        if enc.pad_to and len(wire) < enc.pad_to and enc.opt is not None:
            padding = dns.edns.GenericOption(dns.edns.OptionType.PADDING, bytes(max(0, enc.pad_to - len(wire) - 4)))
            enc.opt.options = list(enc.opt.options) + [padding]
            wire = encode(x.msg_id, flags, answer.rcode, x.question, body, enc.limit, enc.opt, x.signer)
        return self.finish([wire])

    def notify_ack(self) -> Reply:
        """The answer to a NOTIFY we accept (RFC 1996): opcode NOTIFY, AA, the question."""
        x = self.x
        flags = header_flags(x.flags, dns.opcode.NOTIFY, True)
        return self.finish([encode(x.msg_id, flags, dns.rcode.NOERROR, x.question, None, MAX_TCP, self.opt, x.signer)])

    def stream(self, rrsets: Iterable[dns.rrset.RRset | None], plan: TransferPlan | None) -> Stream:
        """A transfer over TCP: messages made one by one as the transport sends them
        (encoding faults applied once, broken-bytes faults to each message). *plan*:
        the transfer faults' plan, when they made the whole sequence at once."""
        enc = self.encoding(MAX_TCP)
        flags = self._flags(True, False, enc)
        x = self.x
        messages = encode_stream(x.msg_id, flags, x.question, rrsets, signer=x.signer, opt=enc.opt)
        stream = Stream(iter(()), close_after=plan is not None and plan.close_after)
        stream.messages = _Produced(self._produce(stream, messages, len(plan.rrsets) if plan is not None else None),
                                    self._end_stream)
        return stream

    def _end_stream(self, stopped_before: bool) -> None:
        """Once per stream: its faults' passage finished, its log entry complete (and to the file)."""
        if self._stream_done:
            return
        self._stream_done = True
        entry = self.entry
        if entry is None:
            return
        if stopped_before:
            entry.note = _join(entry.note, "transfer stopped after 0 messages: the connection closed")
        if self.passage is not None:
            entry.faults, entry.matched = self.passage.finish()
        self.pipeline.log.to_file(entry)

    def _produce(self, stream: Stream, messages: Iterator[StreamMessage | None],
                 total: int | None) -> Iterator[bytes | None]:
        """The stream's messages, the broken-bytes faults applied to each as it is made, and
        the log entry kept up to date (messages, size, faults; a stop noted)."""
        passage, faults = self.passage, self.pipeline.faults
        wire_faults = passage is not None and faults.may_fire("wire", passage)
        kept = self.pipeline.log.stream_messages_kept
        started = time.perf_counter()
        sent = 0
        entry: LogEntry | None = None
        try:
            for item in messages:
                if item is None:
                    yield None  # a checkpoint: the transport may stop here for other work
                    continue
                entry = self.entry
                wire = item.wire
                if wire_faults and passage is not None:
                    view = dataclasses.replace(self.view, part=StreamPart(sent, item.rrsets, total))
                    box = [wire]
                    faults.run("wire", passage, view, box, once=True)
                    wire = box[0]
                    if entry is not None:
                        entry.faults, entry.matched = passage.records()
                if entry is not None:
                    if sent == 0 and len(wire) >= 12:
                        _, rflags, qd, an, ns, ar = HEADER.unpack_from(wire)
                        entry.rcode = rflags & 0xF
                        entry.flags = rflags & 0x87F0
                        entry.counts = (qd, an, ns, ar)
                    entry.messages = sent + 1
                    entry.size += len(wire)
                    if sent < kept:
                        entry.reply_bytes.append(wire)
                sent += 1
                yield wire
        except GeneratorExit:
            if self.entry is not None:
                self.entry.note = _join(self.entry.note, f"transfer stopped after {sent} messages: the connection closed")
            raise
        except Exception as e:  # a bug must not stop the server: keep it, end the transfer here
            self.pipeline.report(e, f"{_cause(self.x)}, after {sent} messages")
            if self.entry is not None:
                self.entry.note = _join(self.entry.note, f"internal error after {sent} messages: {type(e).__name__}: {e}")
            stream.close_after = True
        finally:
            if self.entry is not None:
                self.entry.duration += time.perf_counter() - started
            close = getattr(messages, "close", None)
            if close is not None:
                close()
            self._end_stream(stopped_before=False)


    def finish(self, messages: list[bytes]) -> Reply:
        """Apply the broken-bytes faults and make the Reply."""
        if self.passage is not None:
            self.pipeline.faults.run("wire", self.passage, self.view, messages)
        return Reply(messages)


def _cause(x: Exchange) -> str:
    """The query an internal error came from, for its line on stderr."""
    q = x.question
    question = (f"{q.name} {dns.rdatatype.to_text(q.rdtype)}" if q is not None else "(question not read)")
    return f"{x.transport} query id {x.msg_id} from {x.client[0]}#{x.client[1]}: {question}"


def _join(note: str, more: str) -> str:
    return f"{note}; {more}" if note else more


def _bare_error(x: Exchange, rcode: int) -> bytes:
    """An error reply with no question and no OPT (for messages that cannot be parsed)."""
    opcode = dns.opcode.Opcode.make(x.opcode)
    return encode(x.msg_id, header_flags(x.flags, opcode, False), rcode, None, None, MAX_TCP)


def _tsig_error_reply(x: Exchange, error: Exception, time_offset: float) -> bytes:
    """NOTAUTH with an unsigned TSIG record carrying BADKEY, BADSIG or BADTIME (RFC 8945 5.2)."""
    try:
        message = dns.message.from_wire(x.wire, keyring=False)
    except dns.exception.DNSException:
        return _bare_error(x, dns.rcode.NOTAUTH)
    question = None
    if message.question:
        q = message.question[0]
        question = x.question = Question(q.name, q.rdtype, q.rdclass)
    tsig = message.tsig
    opcode = dns.opcode.Opcode.make(x.opcode)
    if tsig is None:
        return encode(x.msg_id, header_flags(x.flags, opcode, False), dns.rcode.NOTAUTH, question, None, MAX_TCP)
    if isinstance(error, dns.message.UnknownTSIGKey):
        code = dns.rcode.BADKEY
    elif isinstance(error, dns.tsig.BadTime):
        code = dns.rcode.BADTIME
    else:
        code = dns.rcode.BADSIG
    rdata = tsig[0].replace(time_signed=tsig_time(time_offset), mac=b"", error=code, other=b"")
    answer = Answer(Kind.ERROR, dns.rcode.NOTAUTH, additional=[dns.rrset.from_rdata(tsig.name, 0, rdata)])
    return encode(x.msg_id, header_flags(x.flags, opcode, False), dns.rcode.NOTAUTH, question, answer, MAX_TCP)


class _Produced:
    """A stream's messages: the producing generator, and at its end (exhausted, or closed even
    before it started) the stream's bookkeeping, exactly once."""

    def __init__(self, messages: Iterator[bytes | None], on_end: Callable[[bool], None]) -> None:
        self._messages = messages
        self._on_end = on_end
        self._started = False

    def __iter__(self) -> _Produced:
        return self

    def __next__(self) -> bytes | None:
        self._started = True
        return next(self._messages)

    def close(self) -> None:
        started = self._started
        close = getattr(self._messages, "close", None)
        if close is not None:
            close()
        self._on_end(not started)
