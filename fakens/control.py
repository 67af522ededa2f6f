"""Runtime control of running servers over HTTP/1.1 and JSON, on loopback only.

``fakens serve --control 127.0.0.1:0 --ready-file F`` (and a lab) start a
:class:`ControlServer` next to the DNS servers; ``fakens ctl ... --ready-file F`` and
:class:`ControlClient` talk to it. Through it, while the servers run: list them, add,
change and remove faults, edit zones (the server NOTIFYs its secondaries), read and move
the clock, run timeline events, and read or follow the query log. The routes are listed
in docs/control.md::

    control = ControlServer(ServeTarget(server))      # binds 127.0.0.1 on a free port
    control.start()                                   # bound when it returns
    client = ControlClient(control.url, control.token)
    client.post("/v1/faults", {"spec": "nxdomain qname=www.example.test."})
    for entry in client.follow("/v1/log", qtype="A"):  # JSON lines, until the client stops
        print(entry["text"])
    control.stop()

What it controls is a :class:`ControlTarget`: :class:`ServeTarget` for ``fakens serve``
(one server, the real clock, no timeline), or a lab.

Security: the endpoint binds loopback only (127.0.0.0/8, ::1; anything else is a
ConfigError); every request needs ``Authorization: Bearer TOKEN`` (the token is random,
``secrets.token_urlsafe``, and is handed out through the ready file, mode 0600); a request
whose ``Host`` is not the bound address or ``localhost`` with the bound port is refused
(DNS rebinding), as is any request with an ``Origin`` header (browsers send one; fakens'
clients do not); a request body must be ``application/json``. Errors are JSON
``{"error": "..."}`` with fakens' own message (a bad fault spec: 400 and the spec parser's).

Threads: requests are served by threads of a ``ThreadingHTTPServer`` on a daemon thread.
What they call is safe from any thread: a server's fault chain, ``Zone.edit`` (under the
zone's lock; the server's NOTIFY is scheduled on its loop through its clock), the query
log's reads and watchers; a lab's clock and timeline are its ``ControlTarget``'s business.
"""

from __future__ import annotations

import contextlib
import email.message
import hmac
import http.server
import ipaddress
import json
import os
import queue
import re
import secrets
import select
import shlex
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import dns.exception
import dns.name
import dns.rcode

from fakens.errors import ConfigError, FakensError, ServerError
from fakens.faults.base import Fault
from fakens.faults.spec import parse_text
from fakens.log import LogEntry
from fakens.ready import server_summary
from fakens.selectors import SELECTOR_KEYS, Selector
from fakens.server import Server
from fakens.transport import Endpoint, parse_listen
from fakens.zones import Zone

__all__ = ["API_PREFIX", "ControlClient", "ControlError", "ControlServer", "ControlTarget", "ServeTarget", "control_address", "entry_line"]

API_PREFIX = "/v1"
MAX_BODY = 1 << 20
"""The largest request body accepted (bytes)."""

LOG_FILTERS = tuple(k for k in SELECTOR_KEYS if k != "server") + ("rcode", "fault")
"""The log's filters (``GET /v1/log``): the selector keys, ``rcode`` and ``fault``, as
``QueryLog.entries`` takes them; ``server`` picks the server."""

FOLLOW_QUEUE = 10_000
"""Entries a follower may lag behind before the newest are dropped (and the stream says so)."""


class ControlTarget(Protocol):
    """What a control endpoint controls: ``fakens serve`` (:class:`ServeTarget`) or a lab.

    Every method is called from the endpoint's request threads (several at once); raise
    ConfigError (the request gets 400 and its message) when something cannot be done.
    """

    name: str
    """``"fakens serve"``, or the lab's name."""

    def servers(self) -> Mapping[str, Server]:
        """The servers by name, in order."""
        ...

    def clock_info(self) -> dict[str, Any]:
        """The clock: ``{"kind": "system" | "manual", "now": seconds, "paused": bool, "scale": float}``
        (a target may add keys)."""
        ...

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        """Move the clock *seconds* on (firing what falls due) and return :meth:`clock_info`;
        ConfigError when this clock cannot be moved."""
        ...

    def pause_clock(self, paused: bool) -> dict[str, Any]:
        """Stop (True) or restart (False) the clock and return :meth:`clock_info`."""
        ...

    def timeline(self) -> list[dict[str, Any]]:
        """The timeline's events: ``[{"index": 0, "at": 30.0, "action": "...", "done": False, ...}]``."""
        ...

    def run_event(self, index: int) -> dict[str, Any]:
        """Run the event with this index now and return it as :meth:`timeline` lists it."""
        ...


class ServeTarget:
    """``fakens serve``: one server on the real clock, without a timeline."""

    name = "fakens serve"

    def __init__(self, server: Server) -> None:
        self.server = server

    def servers(self) -> Mapping[str, Server]:
        return {self.server.name: self.server}

    def clock_info(self) -> dict[str, Any]:
        return {"kind": "system", "now": self.server.clock.now(), "paused": False, "scale": 1}

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        raise ConfigError("fakens serve runs on the real clock; a lab's clock can be moved")

    def pause_clock(self, paused: bool) -> dict[str, Any]:
        raise ConfigError("fakens serve runs on the real clock; a lab's clock can be moved")

    def timeline(self) -> list[dict[str, Any]]:
        return []

    def run_event(self, index: int) -> dict[str, Any]:
        raise ConfigError(f"no timeline event {index}: fakens serve has no timeline (a lab's scenario has one)")


# -- what the endpoint says about servers, faults, zones and queries ----------------------------------


def entry_line(entry: LogEntry) -> str:
    """One query as a line: the time on the server's clock (local time), then ``str(entry)``:
    ``14:03:07.412 fakens udp 127.0.0.1#47612 www.example.test. A -> NXDOMAIN [faults: nxdomain-1]``."""
    stamp = time.strftime("%H:%M:%S", time.localtime(entry.time))
    return f"{stamp}.{int(entry.time * 1000) % 1000:03d} {entry}"


def entry_json(entry: LogEntry) -> dict[str, Any]:
    """A log entry as the endpoint sends it: ``LogEntry.to_dict()`` and its ``text`` (:func:`entry_line`)."""
    return {**entry.to_dict(), "text": entry_line(entry)}


def wire_json(entry: LogEntry) -> dict[str, Any]:
    """The bytes of a query and its reply, hex (``/v1/log?wire=1``: ``fakens ctl log --pcap``),
    with the times a capture needs."""
    return {"query_hex": entry.query_bytes.hex(), "reply_hex": [m.hex() for m in entry.reply_bytes],
            "reply_time": entry.reply_time}


def fault_json(fault: Fault) -> dict[str, Any]:
    """A fault: name, type, mode, its spec as text and as a table, and its schedule's counts
    (``seen``: exchanges it was counted for, ``fired``: those it fired for)."""
    with fault.lock:
        seen, fired = fault.schedule.seen, fault.schedule.fired
    return {"name": fault.name, "type": fault.type_name, "mode": fault.mode or None, "spec": str(fault),
            "table": fault.spec(), "seen": seen, "fired": fired}


def zone_json(zone: Zone) -> dict[str, Any]:
    return {"origin": zone.origin.to_text(), "serial": zone.serial, "version": zone.current.number,
            "versions": len(zone.history), "source": zone.source}


def server_json(name: str, server: Server) -> dict[str, Any]:
    """A server: its addresses and zones (as in the ready file), its faults, its query count
    and NOTIFY targets."""
    summary = server_summary(name, server)
    summary["zones"] = [zone_json(zone) for zone in server.zones.values()]
    summary["faults"] = [fault_json(f) for f in server.faults.list()]
    summary["queries"] = server.log.total
    summary["notify"] = [str(Endpoint(*t)) for t in server.options.notify]
    return summary


# -- the HTTP side ------------------------------------------------------------------------------------


class HttpError(Exception):
    """A refusal with its HTTP status and message."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Request:
    """One request as a route sees it."""

    method: str
    path: str
    match: re.Match[str]
    query: dict[str, str]
    body: dict[str, Any]

    def param(self, key: str, default: Any = None) -> Any:
        """A value from the body, else from the query string."""
        if key in self.body:
            return self.body[key]
        return self.query.get(key, default)


@dataclass
class Follow:
    """A route's answer that streams: the log entries of *servers* that match, as JSON lines."""

    servers: list[tuple[str, Server]]
    selector: Selector
    rcode: int | None
    fault: str | None
    backlog: int | None

    def matches(self, entry: LogEntry) -> bool:
        return entry.matches(self.selector, rcode=self.rcode, fault=self.fault)


Reply = tuple[int, dict[str, Any]] | Follow
Route = Callable[[Request], Reply]


class Api:
    """The routes, over one target."""

    def __init__(self, target: ControlTarget) -> None:
        self.target = target
        self.routes: list[tuple[str, str, re.Pattern[str], Route]] = []  # method, path, its pattern, route
        p = API_PREFIX
        for method, pattern, route in [
            ("GET", "/", self.root),
            ("GET", "/servers", self.list_servers),
            ("GET", "/servers/{name}", self.get_server),
            ("GET", "/faults", self.list_faults),
            ("POST", "/faults", self.add_fault),
            ("GET", "/faults/{name}", self.get_fault),
            ("PATCH", "/faults/{name}", self.change_fault),
            ("DELETE", "/faults/{name}", self.remove_fault),
            ("GET", "/zones", self.list_zones),
            ("POST", "/zones/edit", self.edit_zone),
            ("POST", "/zones/bump", self.bump_zone),
            ("GET", "/clock", self.clock),
            ("POST", "/clock/advance", self.advance_clock),
            ("POST", "/clock/pause", self.pause_clock),
            ("POST", "/clock/resume", self.resume_clock),
            ("GET", "/timeline", self.timeline),
            ("POST", "/timeline/{index}/run", self.run_event),
            ("GET", "/log", self.log),
        ]:
            self.routes.append((method, p + pattern, _compile(p + pattern), route))

    def dispatch(self, method: str, path: str) -> tuple[Route, re.Match[str]]:
        allowed = []
        for route_method, _, pattern, route in self.routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            if route_method == method:
                return route, match
            allowed.append(route_method)
        if allowed:
            raise HttpError(405, f"{method} {path}: not allowed; use {', '.join(allowed)}", {"Allow": ", ".join(allowed)})
        raise HttpError(404, f"no route {path}; the routes are under {API_PREFIX}/ (GET {API_PREFIX}/ lists them)")

    # -- choosing servers, faults, zones

    def server(self, request: Request) -> tuple[str, Server]:
        """The server the request names (``server``), or the only one."""
        servers = self.target.servers()
        name = request.param("server")
        if name is None:
            if len(servers) == 1:
                return next(iter(servers.items()))
            if not servers:
                raise HttpError(409, f"{self.target.name} has no servers")
            raise HttpError(400, f"{self.target.name} has {len(servers)} servers: say which one (fakens ctl "
                                 f"--server NAME; \"server\" in the JSON): {', '.join(servers)}")
        server = self._named(servers, str(name))
        return next(n for n, s in servers.items() if s is server), server

    def servers(self, request: Request) -> list[tuple[str, Server]]:
        """The server the request names, or every one."""
        servers = self.target.servers()
        name = request.param("server")
        if name is None:
            return list(servers.items())
        server = self._named(servers, str(name))
        return [(next(n for n, s in servers.items() if s is server), server)]

    def _named(self, servers: Mapping[str, Server], name: str) -> Server:
        """The server called *name*, with or without the trailing dot of a host name."""
        server = servers.get(name) or servers.get(name + ".") or servers.get(name.rstrip("."))
        if server is None:
            raise HttpError(404, f"no server named {name!r} in {self.target.name} "
                                 f"(servers: {', '.join(servers) or 'none'})")
        return server

    def fault(self, server_name: str, server: Server, name: str) -> Fault:
        fault = server.faults.get(name)
        if fault is None:
            names = ", ".join(f.name for f in server.faults.list()) or "none"
            raise HttpError(404, f"server {server_name} has no fault named {name!r} (faults: {names})")
        return fault

    def zone(self, request: Request) -> tuple[Zone, list[tuple[str, Server]]]:
        """The zone the request names (``origin``, on ``server`` when given) and every server
        that serves that same Zone object (they all see an edit, and each NOTIFYs)."""
        origin_text = request.param("origin")
        if not isinstance(origin_text, str) or not origin_text:
            raise HttpError(400, "give the zone's origin: origin=example.test.")
        try:
            origin = dns.name.from_text(origin_text)
        except dns.exception.DNSException as e:
            raise HttpError(400, f"origin {origin_text!r}: not a domain name: {e}") from None
        servers = self.target.servers()
        if request.param("server") is not None:
            _, server = self.server(request)
            zone = server.zones.get(origin)
            if zone is None:
                raise HttpError(404, f"server {request.param('server')} does not serve {origin} "
                                     f"(it serves: {', '.join(str(o) for o in server.zones) or 'none'})")
        else:
            found = {id(s.zones[origin]): s.zones[origin] for s in servers.values() if origin in s.zones}
            if not found:
                served = sorted({str(o) for s in servers.values() for o in s.zones})
                raise HttpError(404, f"{self.target.name} serves no zone {origin} (zones: {', '.join(served) or 'none'})")
            if len(found) > 1:
                holders = [n for n, s in servers.items() if origin in s.zones]
                raise HttpError(400, f"{origin} is served by several servers with zones of their own: say which one "
                                     f"(fakens ctl --server NAME; \"server\" in the JSON): {', '.join(holders)}")
            (zone,) = found.values()
        return zone, [(n, s) for n, s in servers.items() if s.zones.get(origin) is zone]

    # -- routes

    def root(self, request: Request) -> Reply:
        from fakens import __version__

        return 200, {"name": self.target.name, "fakens": __version__, "pid": os.getpid(),
                     "servers": list(self.target.servers()),
                     "routes": [f"{method} {path}" for method, path, _, _ in self.routes]}

    def list_servers(self, request: Request) -> Reply:
        return 200, {"name": self.target.name,
                     "servers": [server_json(n, s) for n, s in self.target.servers().items()]}

    def get_server(self, request: Request) -> Reply:
        name = request.match["name"]
        return 200, server_json(name, self._named(self.target.servers(), name))

    def list_faults(self, request: Request) -> Reply:
        return 200, {"faults": [{"server": n, **fault_json(f)} for n, s in self.servers(request) for f in s.faults.list()]}

    def add_fault(self, request: Request) -> Reply:
        _only(request, "spec", "name", "server")
        spec = request.body.get("spec")
        if not isinstance(spec, (str, dict)):
            raise HttpError(400, 'give the fault as "spec": text ("nxdomain qname=www.example.test.") '
                                 'or a table ({"type": "nxdomain", "qname": "www.example.test."})')
        name = request.body.get("name")
        server_name, server = self.server(request)
        fault = server.faults.add(spec, **({} if name is None else {"name": str(name)}))
        return 201, {"server": server_name, "fault": fault_json(fault)}

    def get_fault(self, request: Request) -> Reply:
        server_name, server = self.server(request)
        return 200, {"server": server_name, "fault": fault_json(self.fault(server_name, server, request.match["name"]))}

    def change_fault(self, request: Request) -> Reply:
        _only(request, "spec", "server")
        server_name, server = self.server(request)
        old = self.fault(server_name, server, request.match["name"])
        changes = _changes(old, request.body.get("spec"))
        fault = server.faults.update(old.name, **changes)
        return 200, {"server": server_name, "fault": fault_json(fault)}

    def remove_fault(self, request: Request) -> Reply:
        _only(request, "server")
        server_name, server = self.server(request)
        fault = server.faults.remove(self.fault(server_name, server, request.match["name"]).name)
        return 200, {"server": server_name, "removed": fault_json(fault)}

    def list_zones(self, request: Request) -> Reply:
        return 200, {"zones": [{"server": n, **zone_json(z)} for n, s in self.servers(request) for z in s.zones.values()]}

    def edit_zone(self, request: Request) -> Reply:
        _only(request, "origin", "server", "add", "remove", "replace", "bump_serial", "serial")
        records = {key: _strings(request.body.get(key, []), key) for key in ("add", "remove", "replace")}
        bump = request.body.get("bump_serial", True)
        serial = request.body.get("serial")
        if not isinstance(bump, bool):
            raise HttpError(400, f"bump_serial={bump!r}: expected true or false")
        if serial is not None and (isinstance(serial, bool) or not isinstance(serial, int)):
            raise HttpError(400, f"serial={serial!r}: expected an integer")
        return self._edit(request, bump_serial=bump, serial=serial, **records)

    def bump_zone(self, request: Request) -> Reply:
        _only(request, "origin", "server")
        return self._edit(request)

    def _edit(self, request: Request, **edit: Any) -> Reply:
        zone, holders = self.zone(request)
        before = [len(s.notifies) for _, s in holders]
        old = zone.current
        new = zone.edit(**edit)
        notified = [{"server": n, "target": str(Endpoint(*r.target)), "serial": r.serial, "note": r.note}
                    for (n, s), count in zip(holders, before, strict=True) for r in s.notifies[count:]
                    if r.zone == zone.origin and r.serial == new.serial]
        return 200, {"zone": zone_json(zone), "servers": [n for n, _ in holders], "old_serial": old.serial,
                     "serial": new.serial, "version": new.number, "notify": notified}

    def clock(self, request: Request) -> Reply:
        return 200, self.target.clock_info()

    def advance_clock(self, request: Request) -> Reply:
        _only(request, "seconds")
        seconds = request.param("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float, str)):
            raise HttpError(400, 'give "seconds": how far to move the clock')
        try:
            value = float(seconds)
        except ValueError:
            raise HttpError(400, f"seconds={seconds!r}: not a number") from None
        if not value >= 0:
            raise HttpError(400, f"seconds={seconds!r}: a clock moves forward only (0 or more)")
        return 200, self.target.advance_clock(value)

    def pause_clock(self, request: Request) -> Reply:
        _only(request)
        return 200, self.target.pause_clock(True)

    def resume_clock(self, request: Request) -> Reply:
        _only(request)
        return 200, self.target.pause_clock(False)

    def timeline(self, request: Request) -> Reply:
        return 200, {"events": self.target.timeline()}

    def run_event(self, request: Request) -> Reply:
        _only(request)
        return 200, self.target.run_event(_integer(request.match["index"], "event index", minimum=0))

    def log(self, request: Request) -> Reply:
        unknown = sorted(set(request.query) - {*LOG_FILTERS, "server", "limit", "follow", "wire"})
        if unknown:
            raise HttpError(400, f"unknown log filter {', '.join(unknown)}; valid: "
                                 f"{', '.join([*LOG_FILTERS, 'server', 'limit', 'follow', 'wire'])}")
        servers = self.servers(request)
        criteria = {k: v for k, v in request.query.items() if k in SELECTOR_KEYS and k != "server"}
        selector = Selector.parse(criteria, context="log filter")
        rcode = _rcode(request.query.get("rcode"))
        fault = request.query.get("fault")
        limit = None if "limit" not in request.query else _integer(request.query["limit"], "limit", minimum=0)
        follow = request.query.get("follow", "0").lower() in ("1", "true", "yes", "on")
        if follow:
            return Follow(servers, selector, rcode, fault, limit)
        entries = _matching(servers, selector, rcode, fault, limit)
        if request.query.get("wire", "0").lower() in ("1", "true", "yes", "on"):
            return 200, {"entries": [{**entry_json(e), **wire_json(e)} for e in entries]}
        return 200, {"entries": [entry_json(e) for e in entries]}


def _compile(path: str) -> re.Pattern[str]:
    """``/v1/faults/{name}`` -> a pattern with a group per ``{name}`` (one path segment each);
    ``/v1/`` also matches ``/v1``."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(pattern[:-1] + "/?" if path.endswith("/") else pattern)


def _matching(servers: list[tuple[str, Server]], selector: Selector, rcode: int | None, fault: str | None,
              limit: int | None) -> list[LogEntry]:
    """The matching entries of these servers' logs, oldest first, the newest *limit* of them."""
    entries = [e for _, s in servers for e in s.log.entries(selector, rcode=rcode, fault=fault)]
    if len(servers) > 1:
        entries.sort(key=lambda e: e.time)
    if limit is None:
        return entries
    return entries[-limit:] if limit else []


def _only(request: Request, *keys: str) -> None:
    unknown = sorted(set(request.body) - set(keys))
    if unknown:
        valid = ", ".join(keys) or "none (send no body, or {})"
        raise HttpError(400, f"{request.method} {request.path}: unknown key {', '.join(unknown)}; valid: {valid}")


def _strings(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HttpError(400, f"{key}: expected a list of records in master-file form, e.g. [\"www 300 A 192.0.2.1\"]")
    return value


def _integer(text: str, what: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise HttpError(400, f"{what} {text!r}: not a whole number") from None
    if value < minimum:
        raise HttpError(400, f"{what} {value}: must be {minimum} or more")
    return value


def _rcode(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(dns.rcode.from_text(text.upper()))
    except (dns.exception.DNSException, ValueError):
        raise HttpError(400, f"rcode {text!r}: not an rcode (NOERROR, NXDOMAIN, SERVFAIL, REFUSED ...)") from None


def _changes(fault: Fault, spec: Any) -> dict[str, Any]:
    """The keys of a fault change: ``"mode=refused probability=0.5"`` (optionally after the
    fault's type) or a table; the type and the name stay."""
    if isinstance(spec, str):
        words = spec.split(None, 1)
        table = parse_text(spec if words and "=" not in words[0] else f"{shlex.quote(fault.type_name)} {spec}")
    elif isinstance(spec, dict):
        table = {str(k).replace("-", "_"): v for k, v in spec.items()}
    else:
        raise HttpError(400, 'give the change as "spec": "key=value ..." (e.g. "mode=refused probability=0.5") or a table')
    kind = str(table.pop("type", fault.type_name)).replace("_", "-")
    if kind != fault.type_name:
        raise HttpError(400, f"fault {fault.name} is a {fault.type_name} fault: a change keeps the type; "
                             f"remove it and add a {kind} fault instead")
    if "name" in table and str(table["name"]) != fault.name:
        raise HttpError(400, f"fault {fault.name}: a change keeps the name; remove it and add it under the new name")
    table.pop("name", None)
    if not table:
        raise HttpError(400, f"fault {fault.name}: nothing to change; give key=value pairs (e.g. mode=refused)")
    return table


_STOP = object()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakens-control"
    timeout = 60  # an idle keep-alive connection is closed after this long
    server: _HttpServer

    def log_message(self, format: str, *args: Any) -> None:  # the base class names it format
        return  # requests are not logged (the query log is what fakens reports)

    def setup(self) -> None:
        super().setup()
        self.server.control.connections.add(self.connection)

    def finish(self) -> None:
        self.server.control.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_OPTIONS(self) -> None:  # a browser's preflight: refused as any request with an Origin
        self._serve("OPTIONS")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's own errors (a malformed request, an unknown method) as JSON too."""
        self.close_connection = True
        self._send(code, {"error": message or self.responses.get(code, (f"HTTP {code}",))[0]})

    def _serve(self, method: str) -> None:
        control = self.server.control
        try:
            body = self._read_body()
            control.check(self.headers, method, bool(body))
            url = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(url.path)
            route, match = control.api.dispatch(method, path)
            query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query, keep_blank_values=True).items()}
            request = Request(method, path, match, query, _json_body(body))
            try:
                reply = route(request)
            except ServerError as e:
                raise HttpError(500, str(e)) from None
            except FakensError as e:
                raise HttpError(400, str(e)) from None
        except HttpError as e:
            self._send(e.status, {"error": e.message}, e.headers)
            return
        except Exception as e:  # the client gets the error, the endpoint goes on
            self._send(500, {"error": f"internal error: {type(e).__name__}: {e}"})
            return
        if isinstance(reply, Follow):
            self._follow(reply)
        else:
            self._send(*reply)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise HttpError(411, "send the body with a Content-Length, not chunked")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self.close_connection = True
            raise HttpError(400, "Content-Length is not a number") from None
        if length > MAX_BODY:
            self.close_connection = True
            raise HttpError(413, f"the body is {length} bytes; at most {MAX_BODY} are accepted")
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        data = (json.dumps(body, default=str) + "\n").encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client went

    def _follow(self, follow: Follow) -> None:
        """Stream the matching entries as JSON lines (chunked) until the client goes or the endpoint stops."""
        control = self.server.control
        entries: queue.Queue[object] = queue.Queue(FOLLOW_QUEUE)
        dropped = [0]

        def told(entry: LogEntry) -> None:
            if follow.matches(entry):
                try:
                    entries.put_nowait(entry)
                except queue.Full:
                    dropped[0] += 1

        unwatch = [server.log.watch(told) for _, server in follow.servers]
        with control.followed:
            control.followers.add(entries)
        self.close_connection = True
        try:
            backlog: list[LogEntry] = []
            if follow.backlog:
                backlog = _matching(follow.servers, follow.selector, follow.rcode, follow.fault, follow.backlog)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            shown = {id(e) for e in backlog}
            for entry in backlog:
                self._chunk(entry_json(entry))
            while not control.stopping.is_set():
                try:
                    item = entries.get(timeout=0.2)
                except queue.Empty:
                    if self._client_gone():
                        return
                    continue
                if item is _STOP:
                    break
                if dropped[0]:
                    self._chunk({"dropped": dropped[0], "text": f"... {dropped[0]} entries dropped: the client was too slow"})
                    dropped[0] = 0
                if not isinstance(item, LogEntry) or id(item) in shown:
                    continue  # logged while the backlog was read: sent with it
                shown.clear()  # what comes after it is newer than the backlog
                self._chunk(entry_json(item))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            return  # the client went
        finally:
            for stop in unwatch:
                stop()
            with control.followed:
                control.followers.discard(entries)
                control.followed.notify_all()

    def _chunk(self, body: dict[str, Any]) -> None:
        data = (json.dumps(body, default=str) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _client_gone(self) -> bool:
        readable, _, _ = select.select([self.connection], [], [], 0)
        if not readable:
            return False
        try:
            peeked: bytes = self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        return not peeked  # readable and nothing to read: the client closed


def _json_body(body: bytes) -> dict[str, Any]:
    if not body:
        return {}
    try:
        value = json.loads(body)
    except ValueError as e:
        raise HttpError(400, f"the body is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object ({...})")
    return value


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], control: ControlServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.control = control
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # not HTTPServer's: no getfqdn (a DNS lookup) for the name
        host, port = self.socket.getsockname()[:2]
        self.server_name, self.server_port = host, port


def control_address(listen: str | tuple[str, int]) -> tuple[str, int]:
    """The (host, port) of ``"127.0.0.1:0"``; ConfigError naming it when it is not loopback."""
    host, port = parse_listen(listen, default_port=0, what="control address")
    if not ipaddress.ip_address(host).is_loopback:
        raise ConfigError(f"control address {Endpoint(host, port)}: the control endpoint listens on loopback only "
                          f"(127.0.0.0/8 or ::1), e.g. 127.0.0.1:0")
    return host, port


class ControlServer:
    """The control endpoint of *target*, on *listen* (loopback only; port 0: a free port).

    ``start()`` binds at once (``url`` is known when it returns) and serves on a daemon
    thread; ``stop()`` closes it and every connection (a follower's stream ends). Usable
    from asyncio code too: start() does not block, ``await control.astop()``.
    """

    def __init__(self, target: ControlTarget, listen: str | tuple[str, int] = "127.0.0.1:0",
                 token: str | None = None) -> None:
        self.target = target
        self.listen = control_address(listen)
        self.token = token or secrets.token_urlsafe(32)
        self.api = Api(target)
        self.connections: set[socket.socket] = set()
        self.followers: set[queue.Queue[object]] = set()  # the queues of the follow streams, under followed
        self.followed = threading.Condition()
        self.stopping = threading.Event()
        self._http: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        if self._http is None:
            raise ServerError("the control endpoint is not started: call start() first")
        host, port = self._http.server_name, self._http.server_port
        return host, port

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``http://[::1]:PORT``)."""
        return f"http://{Endpoint(*self.address)}"

    def start(self) -> ControlServer:
        if self._http is not None:
            raise ServerError(f"the control endpoint already runs on {self.url}")
        try:
            self._http = _HttpServer(self.listen, self)
        except OSError as e:
            raise ServerError(f"control address {Endpoint(*self.listen)}: cannot bind it: {e.strerror}") from None
        self.stopping.clear()
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fakens-control", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        http_server, self._http = self._http, None
        if http_server is None:
            return
        self.stopping.set()
        with self.followed:
            for follower in self.followers:
                with contextlib.suppress(queue.Full):
                    follower.put_nowait(_STOP)
            # each stream ends with its last chunk before the connections are cut (a stuck client: 2 s at most)
            self.followed.wait_for(lambda: not self.followers, timeout=2)
        http_server.shutdown()
        http_server.server_close()
        for connection in list(self.connections):  # idle keep-alive connections end now
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(10)

    async def astop(self) -> None:
        """:meth:`stop` without blocking the running loop."""
        import asyncio

        await asyncio.to_thread(self.stop)

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self, headers: email.message.Message, method: str, has_body: bool) -> None:
        """Refuse a request from a browser (Origin), for another host (Host: DNS rebinding),
        without the token, or with a body that is not JSON."""
        if headers.get("Origin") is not None:
            raise HttpError(403, "a request with an Origin header is refused: the control endpoint does not serve browsers")
        host = headers.get("Host")
        allowed = self.hosts()
        if host is None or host.lower() not in allowed:
            raise HttpError(403, f"Host {host!r} is refused: use {' or '.join(sorted(allowed))}")
        authorization = headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.token.encode()):
            why = "no Authorization header" if not authorization else "a wrong token"
            raise HttpError(401, f"{why}: send Authorization: Bearer TOKEN, the token in the ready file",
                            {"WWW-Authenticate": 'Bearer realm="fakens"'})
        if has_body and method in ("POST", "PUT", "PATCH", "DELETE"):
            kind = headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind != "application/json":
                raise HttpError(415, f"a request body must be application/json (got {kind or 'no Content-Type'})")

    def hosts(self) -> set[str]:
        """The Host values accepted: the bound address and localhost, with the bound port."""
        host, port = self.address
        return {str(Endpoint(host, port)).lower(), f"localhost:{port}"}

    def __repr__(self) -> str:
        where = self.url if self._http is not None else "not started"
        return f"<ControlServer {self.target.name} {where}>"


# -- the client ------------------------------------------------------------------------------------


class ControlError(FakensError):
    """The control endpoint refused a request (its message), or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


class ControlClient:
    """Talks to a control endpoint (``fakens ctl`` uses it)::

        client = ControlClient.from_ready_file("ready.json")
        client.get("/v1/servers")
        client.post("/v1/faults", {"spec": "drop qtype=AAAA"})
    """

    def __init__(self, url: str, token: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_ready_file(cls, path: str | os.PathLike[str], wait: float = 0.0) -> ControlClient:
        """The client for the endpoint a ready file names (waiting up to *wait* seconds for it)."""
        from fakens.ready import read_ready_file, wait_ready_file

        ready = wait_ready_file(path, wait) if wait > 0 else read_ready_file(path)
        return cls(ready.url, ready.token)

    def get(self, path: str, **query: Any) -> Any:
        return self.request("GET", path, query=query)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("PATCH", path, body)

    def delete(self, path: str, **query: Any) -> Any:
        return self.request("DELETE", path, query=query)

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None,
                query: Mapping[str, Any] | None = None) -> Any:
        """Send one request; its JSON reply, or ControlError with the endpoint's message."""
        with self._open(method, path, body, query, self.timeout) as response:
            return json.loads(response.read())

    def follow(self, path: str, **query: Any) -> Iterator[dict[str, Any]]:
        """The JSON lines of a streaming reply (``/v1/log`` with follow), as they come."""
        with self._open("GET", path, None, {**query, "follow": 1}, None) as response:  # waits for entries
            for line in response:
                if line.strip():
                    yield json.loads(line)

    def _open(self, method: str, path: str, body: Mapping[str, Any] | None, query: Mapping[str, Any] | None,
              timeout: float | None) -> Any:
        pairs = {k: v for k, v in (query or {}).items() if v is not None}
        url = self.url + path + (f"?{urllib.parse.urlencode(pairs)}" if pairs else "")
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            return _OPENER.open(request, timeout=timeout)
        except urllib.error.HTTPError as e:
            with e:
                raw = e.read()
            try:
                message = str(json.loads(raw)["error"])
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {e.code}: {raw.decode(errors='replace').strip() or e.reason}"
            raise ControlError(message, e.code) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ControlError(f"cannot reach the control endpoint at {self.url}: {reason}; is fakens still running?") from None
