"""Helpers for the schedule, selector, spec and control tests: servers on loopback, queries.

Every server listens on 127.0.0.1 (or ::1) on a free port; every query goes to an explicit
address with a timeout. Nothing sleeps to synchronise: time windows move a ManualClock.
"""

from __future__ import annotations

import os
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode

import fakens

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_ZONE = os.path.join(REPO, "zones", "example.test.zone")
TIMEOUT = 3.0
SHORT = 0.4  # how long to wait for a reply that a drop fault must suppress


def example_zone() -> fakens.Zone:
    return fakens.Zone.from_file(EXAMPLE_ZONE)


def query(server: fakens.Server, qname: str, rdtype: str = "A", *, tcp: bool = False,
          source: str | None = None, timeout: float = TIMEOUT, opcode: int | None = None,
          **make: Any) -> dns.message.Message:
    """One query to the server's first address; raises dns.exception.Timeout on silence."""
    host, port = server.addresses[0]
    q = dns.message.make_query(qname, rdtype, **make)
    if opcode is not None:
        q.set_opcode(opcode)
        if opcode == dns.opcode.NOTIFY:
            q.flags |= dns.flags.AA
            q.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(q, host, port=port, timeout=timeout, source=source)
    return dns.query.udp(q, host, port=port, timeout=timeout, source=source)


def rcode_of(server: fakens.Server, qname: str, rdtype: str = "A", **kwargs: Any) -> str:
    """The reply's rcode as text, or "no reply" after a short wait."""
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        reply = query(server, qname, rdtype, **kwargs)
    except dns.exception.Timeout:
        return "no reply"
    return dns.rcode.to_text(reply.rcode())


def fired(entry: fakens.LogEntry) -> list[str]:
    """Names of the faults that fired for one log entry, in order."""
    return [f["name"] for f in entry.faults]

