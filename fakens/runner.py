"""Running servers: in the caller's event loop, or on a background thread for sync code.

Synchronous code shares one daemon thread that runs an event loop; every
server started with ``Server.start()`` lives there::

    runner = background()
    runner.run(server.astart())      # blocks until bound; re-raises errors here

Async code awaits ``server.astart()`` in its own loop and needs no runner.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_runner: BackgroundRunner | None = None


class BackgroundRunner:
    """An event loop on a daemon thread, started on first use."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
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
    """The process's shared background runner."""
    global _runner
    with _lock:
        if _runner is None or not _runner.thread.is_alive():
            _runner = BackgroundRunner()
        return _runner
