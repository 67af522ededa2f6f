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
import importlib.util
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from fakens.errors import ConfigError

__all__ = ["LOOPS", "LOOP_ENV", "loop_factory", "loop_name", "new_loop", "run"]

T = TypeVar("T")

LOOPS = ("auto", "asyncio", "uvloop")
"""The choices of ``--loop`` and ``$FAKENS_LOOP``."""
LOOP_ENV = "FAKENS_LOOP"
"""The environment variable read when no ``--loop`` is given."""


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
