"""Clocks: the time that schedules, timelines, log timestamps and every timer read.

Servers read time from a clock object, never from ``time.time()`` directly,
and wait on it, never on ``loop.call_later`` or ``asyncio.sleep``, so a test
can move time instead of sleeping::

    clock = ManualClock(1_700_000_000)
    server = Server(zones, clock=clock)
    clock.advance(300)   # five minutes later, at once

The scheduler: ``clock.call_later(seconds, callback, loop)`` runs *callback()*
in *loop*'s thread once *seconds* have passed on the clock and returns a Timer
(``timer.cancel()``); ``await clock.sleep(seconds)`` waits on the clock::

    timer = clock.call_later(0.5, lambda: print("late"), loop)  # any thread
    await clock.sleep(2)                                        # in a coroutine

- SystemClock: real time, the loop's own timers (``loop.call_at``).
- ManualClock: a timer fires only when a test moves time past it
  (``advance``/``set``), in due order (ties: registration order), each in its
  loop's thread. Time steps from one due time to the next, so a callback that
  sets a new timer (a NOTIFY retry) counts from its own due time, and a timer
  that falls within the same move fires in it too. ``advance`` returns once
  every callback it fired has run (waiting for the loops of other threads,
  running those of the calling thread's loop at once), so after
  ``clock.advance(0.4)`` a reply delayed 400 ms has been sent. A timer whose
  time has come when it is set runs at once (on the loop's next iteration).
  Time is kept in whole nanoseconds, so sums are exact: ``advance(0.1)``
  three times fires a 0.3 s timer, also at epoch-sized times.
  ``pending()`` lists the due times of the timers still waiting.

Both are thread-safe: ``call_later`` and ``cancel`` may be called from any thread.

Values a peer checks against its own clock (the time signed in TSIG) do not
follow this clock: they are real time (plus the server's ``tsig_time_offset``).

A wait a peer measures on its own clock (a reply held back by a ``delay`` fault)
is set with ``call_later_peer(clock, seconds, callback, loop)``: on a ManualClock
and a SystemClock it is ``call_later`` (a test moves time to release it); on a
LabClock it fires when the lab's time has moved *seconds* on or when *seconds* of
real time have passed, whichever comes first, so a paused lab (``fakens lab
verify``) still answers late instead of never::

    call_later_peer(clock, 0.3, send_reply, loop)
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol, cast

Callback = Callable[[], object]

_WAIT_FOR_CALLBACK = 10.0  # ManualClock: at most this long (real time) for a loop to run one fired timer
_NS = 1_000_000_000


class Timer(Protocol):
    """A pending call set with ``Clock.call_later``."""

    def cancel(self) -> None:
        """Do not run it (if it has not run yet); thread-safe, idempotent."""


class Clock(Protocol):
    """Anything with ``now()`` returning seconds since the epoch, and a scheduler on it."""

    def now(self) -> float: ...

    def call_later(self, seconds: float, callback: Callback,
                   loop: asyncio.AbstractEventLoop | None = None) -> Timer:
        """Run *callback()* in *loop*'s thread (default: the running loop) after
        *seconds* on this clock (thread-safe)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait *seconds* on this clock (in a coroutine)."""
        ...


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def _sleep_on(clock: Clock, seconds: float) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not done.done():
            done.set_result(None)

    timer = clock.call_later(seconds, wake, loop)
    try:
        await done
    finally:
        timer.cancel()


class _LoopTimer:
    """A SystemClock timer: the loop's own, armed and cancelled in the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._cancelled = False

    def arm(self, when: float, callback: Callback) -> None:
        if not self._cancelled:  # runs in the loop's thread
            self._handle = self._loop.call_at(when, callback)

    def cancel(self) -> None:
        self._cancelled = True
        handle = self._handle
        if handle is None:
            return
        if _running_loop() is self._loop:
            handle.cancel()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(handle.cancel)


class SystemClock:
    """The real wall clock; timers are the loop's own (real time)."""

    def now(self) -> float:
        return time.time()

    def call_later(self, seconds: float, callback: Callback,
                   loop: asyncio.AbstractEventLoop | None = None) -> Timer:
        """``loop.call_later``, also from another thread (the delay counts from this call)."""
        target = loop or asyncio.get_running_loop()
        timer = _LoopTimer(target)
        if _running_loop() is target:
            timer.arm(target.time() + seconds, callback)
        else:
            target.call_soon_threadsafe(timer.arm, target.time() + seconds, callback)
        return timer

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def call_later_peer(clock: Clock, seconds: float, callback: Callback,
                    loop: asyncio.AbstractEventLoop | None = None) -> Timer:
    """Run *callback()* in *loop*'s thread after a wait a peer measures (a reply's delay):
    the clock's ``call_later_peer`` when it has one (a LabClock: lab time or real time,
    whichever elapses first), else its ``call_later`` (thread-safe)."""
    peer = getattr(clock, "call_later_peer", None)
    if peer is not None:
        return cast(Timer, peer(seconds, callback, loop))
    return clock.call_later(seconds, callback, loop)


class _EitherTimer:
    """Two timers for one callback (LabClock.call_later_peer): the first to fire runs it, once."""

    def __init__(self) -> None:
        self.timers: list[Timer] = []
        self.fired = False

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()


class _ManualTimer:
    def __init__(self, due: int, callback: Callback, loop: asyncio.AbstractEventLoop, clock: ManualClock) -> None:
        self.due = due
        self.callback = callback
        self.loop = loop
        self.clock = clock
        self.cancelled = False
        self.ran = False
        self.queued = False  # in the clock's heap

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            if self.queued:
                self.clock._forget()

    def run(self) -> None:
        if not self.cancelled and not self.ran:
            self.ran = True
            self.callback()

    def fire(self) -> None:
        """Run in the loop's thread; return once it has run (or its loop is gone)."""
        loop = self.loop
        if loop.is_closed():
            return
        if _running_loop() is loop:
            try:
                self.run()
            except Exception as e:  # as the loop would: report it, go on with the next timer
                loop.call_exception_handler({"message": "exception in a ManualClock timer", "exception": e})
            return
        done = threading.Event()

        def run() -> None:
            try:
                self.run()
            finally:
                done.set()

        try:
            loop.call_soon_threadsafe(run)
        except RuntimeError:  # closed meanwhile
            return
        if loop.is_running():
            done.wait(_WAIT_FOR_CALLBACK)


def _ns(seconds: float) -> int:
    """*seconds* in whole nanoseconds (exact for integers, the nearest for fractions)."""
    whole = math.floor(seconds)
    return whole * _NS + round((seconds - whole) * _NS)


class ManualClock:
    """A clock that moves only when told to (thread-safe); its timers fire as it moves."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = _ns(start)  # nanoseconds: exact sums and comparisons
        self._lock = threading.Lock()
        self._timers: list[tuple[int, int, _ManualTimer]] = []  # a heap by (due, order)
        self._order = itertools.count()
        self._dead = 0  # cancelled timers still in the heap

    def now(self) -> float:
        return self._now / _NS

    def advance(self, seconds: float) -> None:
        """Move time forward by *seconds* (negative is refused), firing the timers due."""
        if seconds < 0:
            raise ValueError(f"a clock does not go backwards (advance({seconds}))")
        with self._lock:
            target = self._now + _ns(seconds)
        self._move_to(target)

    def set(self, when: float) -> None:
        """Jump to *when* (forward only), firing the timers due."""
        target = _ns(when)
        with self._lock:
            if target < self._now:
                raise ValueError(f"a clock does not go backwards ({when} < {self.now()})")
        self._move_to(target)

    def call_later(self, seconds: float, callback: Callback,
                   loop: asyncio.AbstractEventLoop | None = None) -> Timer:
        """Run *callback()* in *loop*'s thread when time has moved *seconds* on
        (at once, on the loop's next iteration, when *seconds* <= 0)."""
        target = loop or asyncio.get_running_loop()
        with self._lock:
            delay = max(0, _ns(seconds))
            timer = _ManualTimer(self._now + delay, callback, target, self)
            if delay > 0:
                timer.queued = True
                heapq.heappush(self._timers, (timer.due, next(self._order), timer))
                return timer
        target.call_soon_threadsafe(timer.run)
        return timer

    async def sleep(self, seconds: float) -> None:
        """Wait until time has moved *seconds* on (another task or thread moves it)."""
        await _sleep_on(self, seconds)

    def pending(self) -> list[float]:
        """The due times of the timers not yet fired nor cancelled, soonest first."""
        with self._lock:
            return sorted(due / _NS for due, _, timer in self._timers if not timer.cancelled)

    def _forget(self) -> None:
        """A timer was cancelled: drop the cancelled ones once they are most of the heap
        (a TCP connection re-arms its idle timer on every query)."""
        with self._lock:
            self._dead += 1
            if self._dead > 64 and self._dead * 2 > len(self._timers):
                self._timers = [item for item in self._timers if not item[2].cancelled]
                heapq.heapify(self._timers)
                self._dead = 0

    def _move_to(self, target: int) -> None:
        while True:
            with self._lock:
                while self._timers and self._timers[0][2].cancelled:
                    heapq.heappop(self._timers)[2].queued = False
                    self._dead = max(0, self._dead - 1)
                if not self._timers or self._timers[0][0] > target:
                    self._now = max(self._now, target)
                    return
                due, _, timer = heapq.heappop(self._timers)
                timer.queued = False
                self._now = max(self._now, due)
            timer.fire()  # outside the lock: the callback may set new timers


class LabClock(ManualClock):
    """A lab's clock: it follows real time from :meth:`run`, and can be paused and moved on.

    Starts at *start* (a lab starts at 0: timeline times and schedule windows are
    seconds since the lab started). Until :meth:`run` it is a ManualClock; once
    running in a loop, its time goes on with real time and its timers fire when
    due, while ``pause()`` holds time (and its timers) and ``advance(seconds)``
    jumps, firing what falls due::

        clock = LabClock()
        clock.run(loop)          # from now on it follows real time
        clock.advance(3600)      # an hour later, at once (the timeline's events due run)
        clock.pause(); clock.resume()

    A wait a peer measures (``call_later_peer``: a ``delay`` fault's reply) runs in real
    time even while the clock is paused, and moving the clock releases it too.
    """

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(start)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._anchor_real = 0.0  # time.monotonic() when _anchor_lab was the lab's time
        self._anchor_lab = self._now
        self._running = False
        self._wake: asyncio.TimerHandle | None = None

    @property
    def paused(self) -> bool:
        """True when time does not follow real time (before run, or paused)."""
        return not self._running

    def _tracked(self) -> int:
        if not self._running:
            return self._now
        return self._anchor_lab + _ns(time.monotonic() - self._anchor_real)

    def now(self) -> float:
        with self._lock:
            return max(self._now, self._tracked()) / _NS

    def run(self, loop: asyncio.AbstractEventLoop) -> None:
        """Follow real time from now on, firing timers in *loop* (any thread)."""
        self._loop = loop
        self.resume()

    def pause(self) -> None:
        """Hold the lab's time (timers wait too) until :meth:`resume`."""
        with self._lock:
            self._now = max(self._now, self._tracked())
            self._running = False
        self._rearm()

    def resume(self) -> None:
        """Follow real time again, from the time the clock shows."""
        if self._loop is None:
            raise RuntimeError("LabClock.resume() before run(loop)")
        with self._lock:
            self._now = max(self._now, self._tracked())
            self._anchor_lab = self._now
            self._anchor_real = time.monotonic()
            self._running = True
        self._rearm()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"a clock does not go backwards (advance({seconds}))")
        with self._lock:
            self._now = max(self._now, self._tracked())
            target = self._now + _ns(seconds)
            self._anchor_lab += _ns(seconds)
        self._move_to(target)
        self._rearm()

    def set(self, when: float) -> None:
        self.advance(max(0.0, when - self.now()))

    def call_later(self, seconds: float, callback: Callback,
                   loop: asyncio.AbstractEventLoop | None = None) -> Timer:
        with self._lock:
            self._now = max(self._now, self._tracked())
        timer = super().call_later(seconds, callback, loop)
        self._rearm()
        return timer

    def call_later_peer(self, seconds: float, callback: Callback,
                        loop: asyncio.AbstractEventLoop | None = None) -> Timer:
        """Run *callback()* in *loop*'s thread once *seconds* have passed on the lab's clock or in
        real time, whichever comes first: a wait a peer measures on its own clock (a ``delay``
        fault's reply) elapses while the clock is paused, and moving the clock still releases it.
        Before :meth:`run` the clock is a ManualClock: only moving it releases the wait."""
        if self._loop is None:
            return self.call_later(seconds, callback, loop)
        target = loop or asyncio.get_running_loop()
        either = _EitherTimer()

        def once() -> None:  # both timers run it in the loop's thread: no race on fired
            if not either.fired:
                either.fired = True
                either.cancel()
                callback()

        either.timers.append(self.call_later(seconds, once, target))
        either.timers.append(SystemClock().call_later(seconds, once, target))
        return either

    def _rearm(self) -> None:
        """Set one real timer in the clock's loop for the soonest lab timer."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if _running_loop() is loop:
            self._arm_in_loop()
        else:
            loop.call_soon_threadsafe(self._arm_in_loop)

    def _arm_in_loop(self) -> None:
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None
        with self._lock:
            live = [due for due, _, timer in self._timers if not timer.cancelled]
            if not live or not self._running:
                return
            soonest = min(live)
            wait = max(0.0, (soonest - self._tracked()) / _NS)
        assert self._loop is not None
        self._wake = self._loop.call_later(wait, self._catch_up)

    def _catch_up(self) -> None:
        self._wake = None
        with self._lock:
            target = self._tracked()
        self._move_to(target)
        self._arm_in_loop()
