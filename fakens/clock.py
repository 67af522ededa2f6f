"""Clocks: the time that schedules, timelines and log timestamps read.

Servers read time from a clock object, never from ``time.time()`` directly,
so a test can move time instead of sleeping::

    clock = ManualClock(1_700_000_000)
    server = Server(zones, clock=clock)
    clock.advance(300)   # five minutes later, at once

Delays and timeouts on the wire use real time (asyncio's loop), not this clock.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """Anything with ``now()`` returning seconds since the epoch."""

    def now(self) -> float: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        return time.time()


class ManualClock:
    """A clock that moves only when told to (thread-safe)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by *seconds* (negative is refused)."""
        if seconds < 0:
            raise ValueError(f"a clock does not go backwards (advance({seconds}))")
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        """Jump to *when* (forward only)."""
        with self._lock:
            if when < self._now:
                raise ValueError(f"a clock does not go backwards ({when} < {self._now})")
            self._now = when
