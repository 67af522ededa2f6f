"""Running servers: in the caller's event loop, or on a background thread for sync code.

Synchronous code shares one daemon thread that runs an event loop; every
server started with ``Server.start()`` lives there::

    runner = background()
    runner.run(server.astart())      # blocks until bound; re-raises errors here

Async code awaits ``server.astart()`` in its own loop and needs no runner.

The runner's loop is plain asyncio unless ``$FAKENS_LOOP`` asks for uvloop (or
auto): a test suite opts in (fakens.loops); one runner is kept per kind of loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from fakens.loops import loop_name, new_loop

T = TypeVar("T")

_lock = threading.Lock()
_runners: dict[str, BackgroundRunner] = {}


class BackgroundRunner:
    """An event loop (*loop*: ``"asyncio"`` or ``"uvloop"``) on a daemon thread, started on first use."""

    def __init__(self, loop: str = "asyncio") -> None:
        self.loop_name = loop
        self.loop = new_loop(loop)
        ready = threading.Event()
        self.thread = threading.Thread(target=self._main, args=(ready,), name="fakens-runner", daemon=True)
        self.thread.start()
        ready.wait()

    def _main(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        """Run *coro* on the runner's loop and wait for its result (errors re-raised here)."""
        if threading.current_thread() is self.thread:
            coro.close()
            raise RuntimeError("fakens: called a synchronous server method from the runner's own thread; use astart()/astop()")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def background() -> BackgroundRunner:
    """The process's shared background runner (of the loop ``$FAKENS_LOOP`` names, else plain asyncio)."""
    name = loop_name(None, default="asyncio")
    with _lock:
        runner = _runners.get(name)
        if runner is None or not runner.thread.is_alive():
            runner = _runners[name] = BackgroundRunner(name)
        return runner
