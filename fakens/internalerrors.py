"""Internal errors: kept for the test that owns the server, and printed on stderr as they happen.

A bug in the server or in a fault must not stop it: the query gets SERVFAIL (a transfer
ends, a connection is accepted anyway) and the exception is recorded here::

    report(server.errors, error, "server ns1", "udp 127.0.0.1#40000 www.example.test. A")

prints one line on stderr, the exception's type and message and what caused it, then the
frame that raised it (``  at fakens/engine.py:120 in answer``); the whole traceback when
:data:`full_tracebacks` is set (``fakens serve --traceback``, or ``FAKENS_TRACEBACK=1``
in the environment). The exception is appended to *errors* (``server.errors``; the
pytest plugin fails the test that caused one). ``quiet = True`` prints nothing.
"""

from __future__ import annotations

import os
import sys
import traceback

full_tracebacks = os.environ.get("FAKENS_TRACEBACK", "") not in ("", "0")
quiet = False


def report(errors: list[BaseException], error: BaseException, who: str, cause: str) -> None:
    """Keep *error* on *errors* and print it on stderr: *who* raised it (``server ns1``),
    *cause* what it was doing (the query: transport, client, question)."""
    errors.append(error)
    if quiet:
        return
    print(describe(error, who, cause), file=sys.stderr, flush=True)


def describe(error: BaseException, who: str, cause: str) -> str:
    """The lines :func:`report` prints."""
    line = f"fakens: internal error in {who}: {type(error).__name__}: {error} (while handling {cause})"
    if full_tracebacks:
        return line + "\n" + "".join(traceback.format_exception(error)).rstrip("\n")
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return line
    last = frames[-1]
    return f"{line}\n  at {_short(last.filename)}:{last.lineno} in {last.name}"


def _short(path: str) -> str:
    """A path from the fakens package on (``fakens/engine.py``), else as it is."""
    marker = os.sep + "fakens" + os.sep
    at = path.rfind(marker)
    return path[at + 1:] if at >= 0 else path
