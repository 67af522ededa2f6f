"""Outgoing NOTIFY (RFC 1996): sent from the server's own address, retried until answered.

A server has one Notifier; after a zone edit it NOTIFYs each secondary::

    notifier = Notifier(targets=[("127.0.0.2", 53)], retry=1.0, attempts=5, clock=clock)
    notifier.attach(loop, udp_endpoints)          # when the server starts
    notifier.notify(zone.current)                 # thread-safe; returns the NotifyRecords
    notifier.acknowledge(msg_id, flags, client)   # a NOTIFY response came in

Retries come after 1, 2, 3 ... times ``retry`` seconds, at most ``attempts``
sends, until the secondary answers. A delayed first send (``no-notify
mode=late``) and the retries wait on the server's clock (a ManualClock moves
them); a signed NOTIFY's TSIG time is real time plus ``tsig_time_offset``.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import dns.name
import dns.opcode
import dns.rcode
import dns.tsig

from fakens.clock import Clock, SystemClock, Timer
from fakens.faults.view import NotifyPlan
from fakens.options import NOTIFY_ATTEMPTS, NOTIFY_RETRY, ServerOptions
from fakens.transport import UdpEndpoint, stays_on_this_machine
from fakens.wire import Question, TsigSigner, sign
from fakens.xfr import make_notify
from fakens.zones import Name, ZoneVersion

RETRY_INTERVAL = NOTIFY_RETRY
ATTEMPTS = NOTIFY_ATTEMPTS


@dataclass
class NotifyRecord:
    """One NOTIFY the server sent: to whom, for which serial, and whether it was answered."""

    zone: Name
    serial: int
    target: tuple[str, int]
    id: int
    attempts: int = 0
    answered: bool = False
    rcode: int | None = None
    sent_from: tuple[str, int] | None = None
    note: str = ""
    handle: Timer | None = field(default=None, repr=False)


PlanHook = Callable[[ZoneVersion, NotifyPlan], str]
"""Changes a NOTIFY's plan (no-notify faults) and says what it did."""


class Notifier:
    """Sends, retries and tracks the NOTIFYs of one server."""

    def __init__(self, targets: Sequence[tuple[str, int]] = (), retry: float = RETRY_INTERVAL,
                 attempts: int = ATTEMPTS, keyring: Mapping[dns.name.Name, dns.tsig.Key] | None = None,
                 key_name: dns.name.Name | None = None, clock: Clock | None = None,
                 tsig_time_offset: float = 0.0) -> None:
        self.targets = list(targets)
        self.clock: Clock = clock or SystemClock()
        self.tsig_time_offset = tsig_time_offset
        self.retry = retry
        self.attempts = attempts
        self.keyring = keyring
        self.key_name = key_name
        self.records: list[NotifyRecord] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._endpoints: list[UdpEndpoint] = []

    def attach(self, loop: asyncio.AbstractEventLoop, endpoints: list[UdpEndpoint]) -> None:
        """Send from these endpoints (the server's own addresses), on this loop."""
        self._loop, self._endpoints = loop, endpoints

    def detach(self) -> None:
        """Stop every pending retry (the server stops)."""
        for record in self.records:
            if record.handle is not None:
                record.handle.cancel()
        self._endpoints = []

    def reset(self) -> None:
        """Forget every record (a shared server between tests)."""
        for record in self.records:
            if record.handle is not None:
                record.handle.cancel()
        self.records.clear()

    def notify(self, version: ZoneVersion, targets: Sequence[tuple[str, int]] | None = None,
               plan_hook: PlanHook | None = None) -> list[NotifyRecord]:
        """NOTIFY *targets* (default: the configured ones) about *version* (thread-safe)."""
        loop = self._loop
        if loop is None or not self._endpoints:
            return []
        records = []
        for target in self.targets if targets is None else targets:
            plan = NotifyPlan(target)
            note = plan_hook(version, plan) if plan_hook is not None else ""
            record = NotifyRecord(version.origin, version.serial, plan.target, random.randrange(65536), note=note)
            self.records.append(record)
            records.append(record)
            if plan.skip:
                continue
            # set here, not in the loop: a test moving a ManualClock right after an edit moves this timer
            record.handle = self.clock.call_later(plan.delay, functools.partial(self._send, record, version), loop)
        return records

    def _send(self, record: NotifyRecord, version: ZoneVersion) -> None:
        if record.answered or not self._endpoints or record.attempts >= self.attempts:
            return
        if not stays_on_this_machine(record.target[0]):  # the last check before the socket, whatever the caller
            record.note = f"not sent: {record.target[0]} is not on this machine (fakens sends only to loopback)"
            return
        family_v6 = ":" in record.target[0]
        endpoint = next((u for u in self._endpoints if (":" in u.local[0]) == family_v6), self._endpoints[0])
        message = make_notify(version)
        message.id = record.id
        wire = message.to_wire()
        if self.key_name is not None and self.keyring is not None:
            wire, _ = sign(wire, TsigSigner(self.keyring[self.key_name], b"", record.id, time_offset=self.tsig_time_offset), b"")
        record.attempts += 1
        assert self._loop is not None
        # the retry's timer is set before the send: whoever sees this NOTIFY may move the clock at once
        record.handle = self.clock.call_later(self.retry * record.attempts, functools.partial(self._send, record, version),
                                              self._loop)
        record.sent_from = endpoint.local
        endpoint.sendto(wire, record.target)

    def acknowledge(self, msg_id: int, flags: int, client: tuple[str, int]) -> None:
        """A response arrived at the server: if it answers a NOTIFY, stop retrying it."""
        if dns.opcode.from_flags(flags) != dns.opcode.NOTIFY:
            return
        for record in self.records:
            if record.id == msg_id and record.target[0] == client[0] and not record.answered:
                record.answered = True
                record.rcode = flags & 0xF
                if record.handle is not None:
                    record.handle.cancel()


def notify_refusal(zones: Mapping[Name, object], question: Question, client: str, options: ServerOptions) -> int | None:
    """The rcode refusing an incoming NOTIFY (NOTAUTH: not a zone served here; REFUSED:
    not allowed by allow_notify), or None: acknowledge it."""
    if question.name not in zones:
        return dns.rcode.NOTAUTH
    if not options.allows_notify(client):
        return dns.rcode.REFUSED
    return None
