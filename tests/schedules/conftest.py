"""Helpers for the schedule, selector, spec and control tests: servers on loopback, rcodes.

Every server listens on 127.0.0.1 (or ::1) on a free port; every query goes to an explicit
address with a timeout. Nothing sleeps to synchronise: time windows move a ManualClock.
"""

from __future__ import annotations

import os
from typing import Any

import dns.exception
import dns.rcode
from helpers import ask

import fakens

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_ZONE = os.path.join(REPO, "zones", "example.test.zone")
TIMEOUT = 3.0
SHORT = 0.4  # how long to wait for a reply that a drop fault must suppress


def example_zone() -> fakens.Zone:
    return fakens.Zone.from_file(EXAMPLE_ZONE)


def rcode_of(server: fakens.Server, qname: str, rdtype: str = "A", **kwargs: Any) -> str:
    """The reply's rcode as text (helpers.ask), or "no reply" when none comes within the timeout."""
    kwargs.setdefault("timeout", TIMEOUT)
    try:
        reply = ask(server, qname, rdtype, **kwargs)
    except dns.exception.Timeout:
        return "no reply"
    return dns.rcode.to_text(reply.rcode())


def fired(entry: fakens.LogEntry) -> list[str]:
    """Names of the faults that fired and changed something for one log entry, in order."""
    return [f["name"] for f in entry.faults]

