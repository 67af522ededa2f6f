"""Helpers for the control endpoint's tests: an endpoint over a real server, a raw HTTP client.

    call(control, "POST", "/v1/faults", {"spec": "drop"})   -> Reply(status, body, headers)
    call(control, "GET", "/v1/servers", headers={"Origin": "http://evil.test"})

``call`` speaks HTTP/1.1 with http.client (not fakens' own client), so what the endpoint
accepts and refuses is tested on the wire: it sends the token and a JSON Content-Type unless
told otherwise (``token=None``, ``headers=`` to override or add, ``raw=`` for a body as is).
Nothing sleeps to synchronise: waits are socket timeouts or polls with a deadline.
"""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

import fakens
from fakens.clock import ManualClock
from fakens.control import ControlServer, ServeTarget
from fakens.errors import ConfigError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_ZONE = os.path.join(REPO, "zones", "example.test.zone")
TEST_ZONE = os.path.join(REPO, "zones", "test.zone")
TIMEOUT = 5.0


@dataclass
class Reply:
    status: int
    body: Any
    headers: http.client.HTTPMessage

    @property
    def error(self) -> str:
        assert isinstance(self.body, dict) and "error" in self.body, self.body
        return str(self.body["error"])


_DEFAULT: Any = object()


def call(control: ControlServer, method: str, path: str, body: Any = None, *, token: str | None = _DEFAULT,
         headers: Mapping[str, str] | None = None, raw: bytes | None = None) -> Reply:
    """One request over a fresh HTTP/1.1 connection; the reply with its JSON body decoded."""
    host, port = control.address
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    sent: dict[str, str] = {}
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    token = control.token if token is _DEFAULT else token
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    sent.update(headers or {})
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    decoded = json.loads(payload) if payload else None
    return Reply(response.status, decoded, response.headers)


class LabTarget:
    """A ControlTarget as a lab would be: several servers, a ManualClock it can move and pause,
    a timeline of events (what each does is a callable)."""

    name = "test-lab"

    def __init__(self, servers: Mapping[str, fakens.Server], clock: ManualClock,
                 events: list[tuple[float, str, Callable[[], None]]]) -> None:
        self._servers = dict(servers)
        self.clock = clock
        self.paused = False
        self.events = events
        self.done: set[int] = set()

    def servers(self) -> Mapping[str, fakens.Server]:
        return self._servers

    def clock_info(self) -> dict[str, Any]:
        return {"kind": "manual", "now": self.clock.now(), "paused": self.paused, "scale": 1}

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        if self.paused:
            raise ConfigError("the clock is paused: resume it first")
        self.clock.advance(seconds)
        return self.clock_info()

    def pause_clock(self, paused: bool) -> dict[str, Any]:
        self.paused = paused
        return self.clock_info()

    def timeline(self) -> list[dict[str, Any]]:
        return [{"index": i, "at": at, "action": action, "done": i in self.done}
                for i, (at, action, _) in enumerate(self.events)]

    def run_event(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self.events):
            raise ConfigError(f"no timeline event {index} (events 0 to {len(self.events) - 1})")
        self.events[index][2]()
        self.done.add(index)
        return self.timeline()[index]


@pytest.fixture
def control(server: fakens.Server) -> Iterator[ControlServer]:
    """The control endpoint of ``fakens serve`` over the example.test. server, on 127.0.0.1."""
    with ControlServer(ServeTarget(server)) as endpoint:
        yield endpoint


@pytest.fixture
def lab(make_server: Callable[..., fakens.Server]) -> Iterator[tuple[LabTarget, ControlServer]]:
    """Two servers, ns1 and ns2, sharing one example.test. Zone, and ns2 also test.; a
    ManualClock; a timeline of two events (add a fault on ns2, bump example.test.)."""
    clock = ManualClock(1_700_000_000)
    shared = fakens.Zone.from_file(EXAMPLE_ZONE)
    ns1 = make_server([shared], name="ns1", clock=clock)
    ns2 = make_server([shared, fakens.Zone.from_file(TEST_ZONE)], name="ns2", clock=clock)
    target = LabTarget({"ns1": ns1, "ns2": ns2}, clock, [
        (30.0, "fault ns2 nxdomain", lambda: ns2.faults.add("nxdomain", name="timeline-nx")),
        (60.0, "bump example.test.", lambda: shared.edit()),
    ])
    with ControlServer(target) as endpoint:
        yield target, endpoint
