"""Which event loop fakens runs on: plain asyncio, or uvloop when it is installed.

uvloop (``pip install fakens[fast]``) answers more queries a second; plain asyncio is
always there and gives the same answers. ``fakens serve`` and ``fakens lab`` take
``--loop asyncio|uvloop|auto`` (else ``$FAKENS_LOOP``, else auto: uvloop when it can be
imported). Servers started from synchronous code (``Server.start()``, the pytest
plugin's fixtures) run on plain asyncio unless ``$FAKENS_LOOP`` asks for another::

    loop_name("auto")                  # "uvloop" when installed, else "asyncio"
    run(main(), "asyncio")             # asyncio.run on the chosen loop
    loop = new_loop(loop_name(None))   # $FAKENS_LOOP, else auto
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from fakens.errors import ConfigError

__all__ = ["LOOPS", "LOOP_ENV", "SERVING_GC_THRESHOLDS", "collector_for_serving", "loop_factory", "loop_name", "new_loop",
           "run"]

T = TypeVar("T")

LOOPS = ("auto", "asyncio", "uvloop")
"""The choices of ``--loop`` and ``$FAKENS_LOOP``."""
LOOP_ENV = "FAKENS_LOOP"
"""The environment variable read when no ``--loop`` is given."""


SERVING_GC_THRESHOLDS = (10_000, 10, 10)
"""The cyclic collector's thresholds in a process that only serves (``fakens serve``, ``fakens lab``)."""


def collector_for_serving() -> None:
    """Set the process's cyclic garbage collector for serving: what is loaded by now (zones,
    modules) frozen where the collector never looks, and passes made rarer
    (:data:`SERVING_GC_THRESHOLDS`). Every query leaves a log entry and reply-cache entries that
    live on; with Python's defaults the collector walks them all every few thousand queries
    (100,000 distinct questions of a 100k-record zone, in-process: 100 µs a query with pauses
    up to 480 ms; with these thresholds 66 µs, pauses up to 52 ms, no full pass). Once the
    query log is full, each query's new objects are offset by those of the entry it evicts,
    and CPython 3.11 counts both against the young generation, which then grows past its
    threshold unseen: what a query keeps is what the next young pass walks. A reply of the
    reply cache or the express path keeps two such objects (a list and a tuple: its LogEntry is
    made when the log is read), so those passes stay short (300,000 distinct questions of that
    zone, in-process: young passes at most 3-4 ms, older ones 30 ms; 120-230 ms when each query
    kept a LogEntry and its lists, name and tuples, some six objects more). Queries the engine
    answers still keep a LogEntry. Freezing again as the process serves
    would stop that, but serving does make cyclic garbage to collect: each TCP connection leaves
    its asyncio transport in a cycle, and adding a fault leaves some too. Only for processes
    fakens owns: the pytest plugin leaves the test process's collector alone."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVING_GC_THRESHOLDS)


def _have_uvloop() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_name(choice: str | None, default: str = "auto") -> str:
    """The loop to run, ``"asyncio"`` or ``"uvloop"``: *choice* (a ``--loop`` value),
    else ``$FAKENS_LOOP``, else *default*; ``auto`` is uvloop when it can be imported.
    A choice that is not one of :data:`LOOPS`, or uvloop asked for but not installed,
    is a ConfigError saying how to fix it."""
    where = "--loop"
    if choice is None:
        choice = os.environ.get(LOOP_ENV) or None
        where = f"${LOOP_ENV}"
    if choice is None:
        choice, where = default, "the default"
    choice = choice.strip().lower()
    if choice not in LOOPS:
        raise ConfigError(f"{where} {choice!r}: the event loop is one of {', '.join(LOOPS)}")
    if choice == "auto":
        return "uvloop" if _have_uvloop() else "asyncio"
    if choice == "uvloop" and not _have_uvloop():
        raise ConfigError(f"{where} uvloop: uvloop is not installed; pip install 'fakens[fast]' "
                          f"(or pip install uvloop), or use --loop asyncio")
    return choice


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A function making a new event loop of *name* (``"asyncio"`` or ``"uvloop"``)."""
    if name == "uvloop":
        import uvloop

        return cast(Callable[[], asyncio.AbstractEventLoop], uvloop.new_event_loop)
    return asyncio.new_event_loop


def new_loop(name: str) -> asyncio.AbstractEventLoop:
    """A new event loop of *name* (``"asyncio"`` or ``"uvloop"``)."""
    return loop_factory(name)()


def run(main: Coroutine[Any, Any, T], name: str) -> T:
    """``asyncio.run(main)`` on a new loop of *name*."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        return runner.run(main)
