"""The ready file: written once every socket is bound, so a script knows where the servers are.

``fakens serve --ready-file F`` (and a lab) write it when the DNS servers (and the control
endpoint, with ``--control``) are listening, and remove it when they stop. It is JSON,
written whole or not at all (a temporary file in the same directory, then ``os.replace``),
mode 0600 because it holds the control endpoint's token::

    {
      "fakens": 1,
      "pid": 4242,
      "servers": [
        {"name": "fakens",
         "addresses": [{"address": "127.0.0.1", "port": 5053, "transport": ["udp", "tcp"]}],
         "zones": [{"origin": "example.test.", "serial": 2024010101}]}
      ],
      "control": {"url": "http://127.0.0.1:40123", "token": "3q2-..."}
    }

``fakens`` is the format's version; ``control`` is null when there is no control endpoint;
a writer may add keys of its own (``extra``: a lab's name, say). The zones are those served
when the file was written (``GET /v1/servers`` on the control endpoint says what is served now).

    write_ready_file("run/ready.json", [server], control=control_server)
    ready = read_ready_file("run/ready.json")        # ReadyFile: .url, .token, .pid, .data
    ready = wait_ready_file("run/ready.json", 10)    # the same, once the file is there
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fakens.errors import ConfigError

if TYPE_CHECKING:
    from fakens.server import Server

__all__ = ["FORMAT", "ControlAddress", "ReadyFile", "read_ready_file", "remove_ready_file", "server_summary", "wait_ready_file",
           "write_ready_file"]

FORMAT = 1
"""The ready file's format version (its ``fakens`` key)."""

_KEYS = ("fakens", "pid", "servers", "control")


class ControlAddress(Protocol):
    """Where the control endpoint is (a :class:`fakens.control.ControlServer`)."""

    @property
    def url(self) -> str: ...

    @property
    def token(self) -> str: ...


@dataclass(frozen=True)
class ReadyFile:
    """A ready file as read: the writer's pid, the control endpoint (url and token) and the
    whole document (``data``: servers, addresses, zones, a writer's own keys)."""

    path: str
    pid: int
    url: str
    token: str
    data: dict[str, Any]


def server_summary(name: str, server: Server) -> dict[str, Any]:
    """A server as the ready file (and the control endpoint) describe it: name, bound
    addresses, zones with their serials."""
    return {
        "name": name,
        "addresses": [{"address": host, "port": port, "transport": ["udp", "tcp"]} for host, port in server.addresses],
        "zones": [{"origin": origin.to_text(), "serial": zone.serial} for origin, zone in server.zones.items()],
    }


def write_ready_file(path: str | os.PathLike[str], servers: Iterable[Server] | Mapping[str, Server],
                     control: ControlAddress | None = None, extra: Mapping[str, Any] | None = None) -> None:
    """Write the ready file at *path* at once (mode 0600): *servers* (a list, or a mapping by
    the name to show), the control endpoint's url and token, and *extra* top-level keys."""
    path = os.fspath(path)
    named = list(servers.items()) if isinstance(servers, Mapping) else [(s.name, s) for s in servers]
    document: dict[str, Any] = {
        "fakens": FORMAT,
        "pid": os.getpid(),
        "servers": [server_summary(name, server) for name, server in named],
        "control": None if control is None else {"url": control.url, "token": control.token},
    }
    for key, value in (extra or {}).items():
        if key in document:
            raise ConfigError(f"ready file {path}: extra key {key!r} is one of the file's own ({', '.join(_KEYS)})")
        document[key] = value
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise ConfigError(f"ready file {path}: cannot write in {directory}: {e.strerror}; "
                          f"give a path in a directory that exists and is writable") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp made it 0600
            json.dump(document, f, indent=2)
            f.write("\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_ready_file(path: str | os.PathLike[str]) -> None:
    """Remove the ready file if this process wrote it (a file another process wrote since stays)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            mine = json.load(f).get("pid") == os.getpid()
    except (OSError, ValueError, AttributeError):
        return
    if mine:
        with contextlib.suppress(OSError):
            os.unlink(path)


def read_ready_file(path: str | os.PathLike[str]) -> ReadyFile:
    """The ready file at *path*; ConfigError saying why when it is missing, incomplete, has no
    control endpoint, or was left by a process that is gone."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise ConfigError(f"ready file {path} does not exist: nothing is ready yet. Is fakens running with "
                          f"--ready-file {path}? It is written once every socket is bound") from None
    except OSError as e:
        raise ConfigError(f"ready file {path}: cannot read it: {e.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"ready file {path} is not complete JSON ({e}): not a fakens ready file, "
                          f"or not written by fakens") from None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int) or "servers" not in data:
        raise ConfigError(f"ready file {path} is incomplete: a fakens ready file has the keys {', '.join(_KEYS)}")
    pid: int = data["pid"]
    if not _alive(pid):
        raise ConfigError(f"ready file {path} was left by process {pid}, which is gone: "
                          f"start fakens again (the file is replaced when it is ready)")
    control = data.get("control")
    if not isinstance(control, dict) or not isinstance(control.get("url"), str) or not isinstance(control.get("token"), str):
        raise ConfigError(f"ready file {path} names no control endpoint: start fakens serve with --control 127.0.0.1:0")
    return ReadyFile(path, pid, control["url"], control["token"], data)


def wait_ready_file(path: str | os.PathLike[str], timeout: float) -> ReadyFile:
    """:func:`read_ready_file` once the file is there and complete, for at most *timeout*
    seconds (polled every 20 ms); the last error otherwise."""
    end = time.monotonic() + timeout
    while True:
        try:
            return read_ready_file(path)
        except ConfigError:
            if time.monotonic() >= end:
                raise
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's: it exists
    return True
