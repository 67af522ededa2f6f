"""The scheduler on the injected clock: ManualClock timers fire as a test moves time, in due
order, in their loop's thread; SystemClock timers are the loop's own (real time).

No sockets. Loops run on helper threads (as the background runner's does) or in the test's
own loop (async tests). No sleeping to synchronise: ``advance`` returns once the callbacks it
fired have run; real-time waits are polls with a deadline.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fakens.clock import Clock, ManualClock, SystemClock

DEADLINE = 5.0


class LoopThread:
    """An event loop on its own thread, like fakens' background runner."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.errors: list[BaseException] = []
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context["exception"]))

    def call(self, fn: Callable[[], object]) -> object:
        """Run *fn* in the loop's thread and return what it returns."""
        async def run() -> object:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(DEADLINE)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(DEADLINE)
        self.loop.close()


@pytest.fixture
def lt() -> Iterator[LoopThread]:
    loop_thread = LoopThread()
    try:
        yield loop_thread
    finally:
        loop_thread.stop()


def poll(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {DEADLINE}s"
        time.sleep(0.005)  # polling interval, not synchronisation


def test_both_clocks_are_clocks() -> None:
    clocks: list[Clock] = [SystemClock(), ManualClock(5)]
    assert [type(c).__name__ for c in clocks] == ["SystemClock", "ManualClock"]


# -- ManualClock ---------------------------------------------------------------------------------


def test_a_timer_fires_only_once_time_has_reached_it(lt: LoopThread) -> None:
    clock = ManualClock(1000)
    fired: list[float] = []
    clock.call_later(0.5, lambda: fired.append(clock.now()), lt.loop)
    clock.advance(0.25)
    clock.advance(0.249)
    assert fired == [] and clock.pending() == [1000.5]
    clock.advance(0.001)  # advance returns after the callback has run in the loop's thread
    assert fired == [1000.5]
    assert clock.pending() == []
    clock.advance(10)
    assert fired == [1000.5], "a timer fires once"


def test_timers_fire_in_due_order_ties_in_registration_order(lt: LoopThread) -> None:
    clock = ManualClock(0)
    order: list[str] = []
    for name, delay in [("c", 3.0), ("a", 1.0), ("b1", 2.0), ("b2", 2.0), ("d", 4.0)]:
        clock.call_later(delay, lambda name=name: order.append(name), lt.loop)  # type: ignore[misc]
    clock.set(3.5)
    assert order == ["a", "b1", "b2", "c"]
    assert clock.now() == 3.5 and clock.pending() == [4.0]


def test_callbacks_run_in_the_loops_thread_and_see_their_due_time(lt: LoopThread) -> None:
    """A callback that sets a new timer (a retry) counts from its own due time; one falling
    within the same move fires in it too."""
    clock = ManualClock(100)
    seen: list[tuple[float, bool]] = []

    def retry() -> None:
        seen.append((clock.now(), threading.current_thread() is lt.thread))
        if len(seen) < 4:
            clock.call_later(1.0 * len(seen), retry, lt.loop)

    clock.call_later(1.0, retry, lt.loop)
    clock.advance(1.0 + 1.0 + 2.0)  # the first three fall within this move, the fourth is due at 107
    assert seen == [(101.0, True), (102.0, True), (104.0, True)]
    assert clock.now() == 104.0 and clock.pending() == [107.0]


def test_float_sums_are_exact_at_epoch_sized_times(lt: LoopThread) -> None:
    clock = ManualClock(1_800_000_000)
    fired: list[bool] = []
    clock.call_later(0.3, lambda: fired.append(True), lt.loop)
    for _ in range(2):
        clock.advance(0.1)
    assert fired == []
    clock.advance(0.1)
    assert fired == [True]


def test_a_timer_due_when_set_runs_at_once_on_the_next_iteration(lt: LoopThread) -> None:
    clock = ManualClock(0)
    ran = threading.Event()
    where: list[bool] = []

    def callback() -> None:
        where.append(threading.current_thread() is lt.thread)
        ran.set()

    clock.call_later(0, callback, lt.loop)  # from this thread: time does not move
    assert ran.wait(DEADLINE)
    assert where == [True] and clock.pending() == []
    # inside the loop: not during the call itself, on the loop's next iteration
    during: list[bool] = []

    def set_in_loop() -> None:
        clock.call_later(-1, lambda: during.append(True), lt.loop)
        during.append(False)
    lt.call(set_in_loop)
    poll(lambda: len(during) == 2, "the immediate timer")
    assert during == [False, True]


def test_cancel_from_any_thread(lt: LoopThread) -> None:
    clock = ManualClock(0)
    fired: list[str] = []
    keep = clock.call_later(1, lambda: fired.append("keep"), lt.loop)
    gone = clock.call_later(1, lambda: fired.append("gone"), lt.loop)
    lt.call(lambda: clock.call_later(0, lambda: fired.append("soon"), lt.loop).cancel())  # before its iteration
    lt.call(gone.cancel)
    gone.cancel()  # idempotent
    assert clock.pending() == [1.0]
    clock.advance(1)
    lt.call(lambda: None)  # one more loop iteration: "soon" would have run by now
    assert fired == ["keep"]
    keep.cancel()  # after it ran: nothing happens


def test_cancelled_timers_do_not_pile_up(lt: LoopThread) -> None:
    """A TCP connection re-arms its idle timer on every query: the cancelled ones are dropped."""
    clock = ManualClock(0)
    timer = clock.call_later(10, lambda: None, lt.loop)
    for _ in range(10_000):
        timer.cancel()
        timer = clock.call_later(10, lambda: None, lt.loop)
    assert clock.pending() == [10.0]
    assert len(clock._timers) < 200  # the heap itself, not only what pending() shows


def test_a_failing_callback_is_reported_and_later_timers_still_fire(lt: LoopThread) -> None:
    clock = ManualClock(0)
    fired: list[int] = []

    def broken() -> None:
        raise RuntimeError("boom")

    clock.call_later(1, broken, lt.loop)
    clock.call_later(2, lambda: fired.append(2), lt.loop)
    clock.advance(2)
    assert fired == [2]
    assert [str(e) for e in lt.errors] == ["boom"]


def test_timers_of_a_closed_loop_are_skipped() -> None:
    clock = ManualClock(0)
    gone = LoopThread()
    clock.call_later(1, lambda: pytest.fail("ran on a closed loop"), gone.loop)
    gone.stop()
    clock.advance(1)  # neither raises nor waits
    assert clock.pending() == []


def test_timers_set_from_many_threads(lt: LoopThread) -> None:
    clock = ManualClock(0)
    fired: list[int] = []
    lock = threading.Lock()

    def add(i: int) -> None:
        for j in range(50):
            def record(k: int = i * 100 + j) -> None:
                with lock:
                    fired.append(k)
            clock.call_later(1 + j, record, lt.loop)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(clock.pending()) == 200
    clock.advance(50)
    assert sorted(fired) == sorted(i * 100 + j for i in range(4) for j in range(50))
    assert [k % 100 for k in fired] == sorted(k % 100 for k in fired), "fired in due order"


def test_clock_refuses_to_go_backwards() -> None:
    clock = ManualClock(10)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(9.5)
    assert clock.now() == 10


async def test_advance_from_the_loops_own_thread_runs_callbacks_at_once() -> None:
    """An async test moving the clock of a server in its own loop: the callbacks run inside
    advance (the loop cannot run them while the test holds it)."""
    clock = ManualClock(0)
    fired: list[float] = []
    clock.call_later(1, lambda: fired.append(clock.now()))  # the running loop by default
    clock.call_later(2, lambda: fired.append(clock.now()))
    clock.advance(1.5)
    assert fired == [1.0]
    clock.advance(0.5)
    assert fired == [1.0, 2.0]


async def test_manual_sleep_wakes_when_time_moves() -> None:
    clock = ManualClock(0)
    sleeper = asyncio.ensure_future(clock.sleep(30))
    await asyncio.sleep(0)
    assert clock.pending() == [30.0]
    clock.advance(29)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(1)
    await asyncio.wait_for(sleeper, DEADLINE)
    # a cancelled sleep leaves no timer behind
    other = asyncio.ensure_future(clock.sleep(5))
    await asyncio.sleep(0)
    other.cancel()
    with pytest.raises(asyncio.CancelledError):
        await other
    assert clock.pending() == []


def test_manual_sleep_moved_from_another_thread(lt: LoopThread) -> None:
    clock = ManualClock(0)
    future = asyncio.run_coroutine_threadsafe(clock.sleep(60), lt.loop)
    poll(clock.pending, "the sleep's timer")
    clock.advance(60)
    assert future.result(DEADLINE) is None


# -- SystemClock (real time) ---------------------------------------------------------------------


def test_system_timer_from_another_thread_waits_real_time(lt: LoopThread) -> None:
    clock = SystemClock()
    fired: list[tuple[float, bool]] = []
    started = time.monotonic()
    clock.call_later(0.2, lambda: fired.append((time.monotonic(), threading.current_thread() is lt.thread)), lt.loop)
    poll(lambda: fired, "the real-time timer")
    at, in_loop = fired[0]
    assert in_loop
    assert at - started >= 0.2


def test_system_timer_cancelled_from_another_thread(lt: LoopThread) -> None:
    clock = SystemClock()
    fired: list[str] = []
    timer = clock.call_later(0.05, lambda: fired.append("cancelled"), lt.loop)
    timer.cancel()
    done = threading.Event()
    clock.call_later(0.1, done.set, lt.loop)
    assert done.wait(DEADLINE)
    assert fired == []
    # set in the loop, cancelled from here
    handle = lt.call(lambda: clock.call_later(0.05, lambda: fired.append("in-loop"), lt.loop))
    handle.cancel()  # type: ignore[attr-defined]  # (a Timer)
    later = threading.Event()
    clock.call_later(0.1, later.set, lt.loop)
    assert later.wait(DEADLINE)
    assert fired == []


async def test_system_sleep_is_real_time() -> None:
    started = time.monotonic()
    await SystemClock().sleep(0.1)
    assert time.monotonic() - started >= 0.1
