"""A lab's timeline: events that happen at given times on the lab's clock.

Each event is a time (seconds since the lab started, on its clock), an action and
a function that does it; a scenario file makes them (``[[timeline]]``)::

    timeline = Timeline([Event(30, "edit", "edit example.test.: 1 added", apply)])
    timeline.start(clock, loop)   # each event runs when the clock reaches its time
    clock.advance(30)             # a ManualClock or a LabClock: the edit happens now
    timeline.status()             # [{"index": 0, "at": 30.0, "action": "edit", "done": True, ...}]

An event may also be run at once (``await timeline.arun(0)``, the control endpoint's
"run event"); it runs only once either way. An event's function returns a note, or
an awaitable (starting a server) that the timeline awaits; an error is kept in the
event's ``error`` and reported to the listeners, and the lab goes on.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fakens.clock import Clock, Timer
from fakens.errors import FakensError

Apply = Callable[[], str | Awaitable[str | None] | None]


@dataclass
class Event:
    """One thing that happens at *at* seconds on the lab's clock."""

    at: float
    action: str
    describe: str
    apply: Apply
    done: bool = False
    result: str = ""
    error: str = ""
    source: str = ""
    """Where the scenario says it (``lab.toml:40 timeline[2]``)."""

    def to_dict(self, index: int) -> dict[str, Any]:
        return {"index": index, "at": self.at, "action": self.action, "describe": self.describe,
                "done": self.done, "result": self.result, "error": self.error, "source": self.source}


@dataclass
class Timeline:
    """Events in time order (ties: as written)."""

    events: list[Event] = field(default_factory=list)
    listeners: list[Callable[[Event], object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.events = sorted(self.events, key=lambda e: e.at)
        self._timers: list[Timer] = []
        self._running: set[int] = set()
        self._tasks: set[asyncio.Task[Event]] = set()

    def __len__(self) -> int:
        return len(self.events)

    def start(self, clock: Clock, loop: asyncio.AbstractEventLoop) -> None:
        """Run each event not yet done when *clock* reaches its time (any thread)."""
        now = clock.now()
        for index, event in enumerate(self.events):
            if not event.done:
                self._timers.append(clock.call_later(event.at - now, functools.partial(self._fire, index), loop))

    def stop(self) -> None:
        """Forget the events not yet due."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    def _fire(self, index: int) -> None:
        task = asyncio.get_running_loop().create_task(self.arun(index))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def arun(self, index: int) -> Event:
        """Run event *index* now (if it has not run yet) and return it."""
        if not 0 <= index < len(self.events):
            raise FakensError(f"no timeline event {index}; the timeline has {len(self.events)} "
                              f"(0..{len(self.events) - 1})")
        event = self.events[index]
        if event.done or index in self._running:
            return event
        self._running.add(index)
        try:
            outcome = event.apply()
            if inspect.isawaitable(outcome):
                outcome = await outcome
            event.result = outcome or ""
        except FakensError as e:
            event.error = str(e)
        except Exception as e:  # an event's bug must not end the lab: kept like the others
            event.error = f"{type(e).__name__}: {e}"
        finally:
            event.done = True
            self._running.discard(index)
        for listener in self.listeners:
            listener(event)
        return event

    async def idle(self) -> None:
        """Wait for the events that are running to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def status(self) -> list[dict[str, Any]]:
        """Every event as data (for the control endpoint and the live view)."""
        return [event.to_dict(i) for i, event in enumerate(self.events)]

    def next_due(self) -> Event | None:
        """The first event not done yet."""
        return next((e for e in self.events if not e.done), None)
