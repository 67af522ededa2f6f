"""Scenario files: a whole misbehaving DNS world in one TOML file.

::

    [lab]
    name = "io-outage"
    description = "2 of the 7 .io servers answer NXDOMAIN for delegations that exist"

    [[zones]]
    origin = "example.io."
    file = "example.io.zone"          # relative to the scenario; or text = \"\"\"...\"\"\"

    [[servers]]                       # servers not given are made: one per NS host
    name = "ns6.nic.io."
    zones = ["io."]
    faults = ["nxdomain qname=**.example.io. soa_zone=io."]

    [[timeline]]
    at = "30m"
    action = "remove-fault"
    server = "ns6.nic.io."
    name = "nxdomain-1"

The format (every key, with defaults) is in docs/scenarios.md. ``[lab] port`` is 53 by
default (referrals carry no port: a resolver that follows them goes to 53); ``port = 0``
gives every server a free port of its own on each of its addresses, for tests that
query the servers directly (``lab.server(name).addresses``; a server stopped and started
again gets a new port; the tracer and the resolver configs need port 53). ``load_scenario``
reads and checks a file without binding anything; every problem names the file,
the line and the key path (``servers[2].faults[0].qname``), what was expected, and
the near miss; ``build_lab`` plans the servers (addresses, NS, glue, the made root
and TLDs) and returns a :class:`~fakens.lab.Hierarchy` ready to start::

    scenario = load_scenario("fakens/labs/io-outage.toml")
    lab = build_lab(scenario, time_scale=100)
    async with lab_running(lab): ...
"""

from __future__ import annotations

import difflib
import inspect
import ipaddress
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import dns.name
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset
import dns.ttl

from fakens.clock import LabClock, ManualClock
from fakens.dnssec import DnssecPolicy
from fakens.dnssec.rollover import KINDS, STATES, start_rollover
from fakens.errors import ConfigError, FakensError
from fakens.faults.base import Fault
from fakens.faults.base import format_spec as format_fault
from fakens.faults.spec import build as build_fault
from fakens.faults.spec import parse_text as parse_fault_text
from fakens.lab import (
    NOTIFY_SECONDARY,
    DelegationPlan,
    Hierarchy,
    HierarchyServer,
    ZonePlan,
    delegate_zone,
    loopback_addresses,
    parent_zones,
    plan_lab,
)
from fakens.options import ServerOptions
from fakens.timeline import Event, Timeline
from fakens.tomlplaces import TomlPlaces
from fakens.transport import parse_listen
from fakens.zones import Name, Zone
from fakens.zoneversion import ZoneVersion

MODES = ("loopback", "namespace")
ACTIONS = {
    "edit": ("zone", "add", "remove", "replace", "bump_serial", "serial"),
    "bump-serial": ("zone",),
    "delegate": ("zone", "ns", "glue", "ttl"),
    "add-fault": ("server", "fault"),
    "remove-fault": ("server", "name"),
    "stop": ("server",),
    "start": ("server",),
    "rollover": ("zone", "kind", "state", "algorithm", "ds_follows"),
}
_COMMON_EVENT_KEYS = ("at", "action", "description")
SERVER_OPTIONS = ("nsid", "udp_size", "minimal_responses", "any_mode", "additional_from", "version", "tcp_idle_timeout",
                  "tcp_max_connections", "allow_transfer", "allow_notify", "notify", "ixfr_as_axfr",
                  "transfer_requires_tsig", "tsig_keys", "notify_key", "tsig_time_offset", "notify_retry",
                  "notify_attempts", "tcp_max_per_client", "tcp_query_timeout", "tcp_write_timeout",
                  "tcp_max_pipelined", "tcp_max_buffered", "max_transfers", "allow_public", "rate_limit",
                  "rate_limit_burst", "public_udp_size", "public_reply_ratio", "identity", "authors", "sibling_glue", "outside_zones",
                  "negative_soa")
_CHECKED_OPTIONS = ("outside_zones", "negative_soa", "version", "identity", "authors")
_TOP = ("lab", "zones", "servers", "delegations", "timeline", "fix", "expect")
_LAB = ("name", "description", "port", "mode", "delegation_ttl", "tld_servers", "dnssec")
_ZONE = ("name", "origin", "file", "text", "delegate", "description", "dnssec")
_SERVER = ("name", "hosts", "addresses", "zones", "faults", "options", "description")
_DELEGATION = ("zone", "ns", "glue", "ttl", "description")
_FIX = ("description", "file", "events")


class ScenarioError(ConfigError):
    """A scenario that cannot be used: every problem, one per line, with file:line and key path."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        super().__init__("\n".join(self.problems) + (f"\n({count} problems)" if count > 1 else ""))


@dataclass
class ZoneSpec:
    name: str
    zone: Zone
    delegate: bool | None
    path: str
    description: str = ""
    dnssec: DnssecPolicy | bool | None = None
    """The zone's own signing policy, False for unsigned, None: as the lab's ``dnssec`` says."""


@dataclass
class ServerSpec:
    name: Name
    hosts: list[Name]
    addresses: list[str]
    zones: list[str]
    faults: list[Fault]
    options: dict[str, Any]
    path: str
    description: str = ""


@dataclass
class DelegationSpec:
    zone: Name
    ns: list[Name]
    glue: dict[Name, list[str]] | None
    ttl: int | None
    path: str


@dataclass
class EventSpec:
    at: float
    action: str
    values: dict[str, Any]
    path: str
    description: str = ""


@dataclass
class FixSpec:
    description: str
    file: str | None
    events: list[EventSpec]


@dataclass
class Scenario:
    """A scenario file, read and checked (see the module docstring)."""

    path: str
    name: str
    description: str
    port: int
    mode: str
    delegation_ttl: int
    tld_servers: int | dict[str, int]
    zones: list[ZoneSpec]
    servers: list[ServerSpec]
    delegations: list[DelegationSpec]
    timeline: list[EventSpec]
    fix: FixSpec | None
    expect: dict[str, Any]
    places: TomlPlaces
    warnings: list[str] = field(default_factory=list)
    dnssec: DnssecPolicy | None = None
    """``[lab] dnssec``: every zone (the made root and TLDs too) signed unless it says otherwise."""

    def where(self, path: str) -> str:
        """``lab.toml:41: servers[2].faults[0]`` for error messages."""
        return f"{self.path}:{self.places.line(path)}: {path}"


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'qname'?)`` or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"30s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"1h30m"`` (BIND units s m h d w)."""
    if isinstance(value, bool):
        raise ValueError("a duration, not true/false")
    if isinstance(value, (int, float)):
        if value < 0 or not math.isfinite(value):
            raise ValueError(f"{value}: a duration is 0 or more seconds")
        return float(value)
    if isinstance(value, str):
        try:
            return float(dns.ttl.from_text(value.strip()))
        except dns.ttl.BadTTL:
            try:
                return parse_duration(float(value))
            except ValueError:
                pass
    raise ValueError(f"{value!r}: expected seconds or a duration such as \"30s\", \"5m\", \"2h\", \"1d\", \"1h30m\"")


def scaled(seconds: float, time_scale: float) -> float:
    """*seconds* divided by *time_scale*: whole seconds rounded up, at least 1 (0 stays 0)."""
    if time_scale == 1 or seconds == 0:
        return seconds
    return float(max(1, math.ceil(seconds / time_scale)))


class _Reader:
    """Reads one scenario document, collecting every problem with its place."""

    def __init__(self, path: str, places: TomlPlaces) -> None:
        self.path = path
        self.places = places
        self.problems: list[str] = []
        self.fault_numbers: dict[tuple[str, str], int] = {}

    def fault_name(self, server: str, fault: Fault, item: Any) -> None:
        """Name a fault the scenario gives no name= ``TYPE-N``, N counting that type on that
        server in the order written (server faults, then add-fault events): names a
        remove-fault event can use whatever else the process built."""
        if isinstance(item, dict) and "name" in item:
            return
        if isinstance(item, str):
            try:
                if "name" in parse_fault_text(item):
                    return
            except ConfigError:
                return
        key = (_absolute(server), fault.type_name)
        self.fault_numbers[key] = self.fault_numbers.get(key, 0) + 1
        fault.name = f"{fault.type_name}-{self.fault_numbers[key]}"

    def dnssec(self, table: Mapping[str, Any], key_path: str) -> DnssecPolicy | None:
        """The ``dnssec`` key of a table (true, false or a policy table), problems at the
        innermost key (``zones[1].dnssec.nsec3.iterations``)."""
        if "dnssec" not in table:
            return None
        try:
            return DnssecPolicy.from_value(table["dnssec"], f"{key_path}.dnssec")
        except ConfigError as e:
            where, _, message = str(e).partition(": ")
            self.problem(where, message)
            return None

    def problem(self, key_path: str, message: str) -> None:
        self.problems.append(f"{self.path}:{self.places.line(key_path)}: {key_path}: {message}")

    def keys(self, table: Mapping[str, Any], key_path: str, allowed: Sequence[str], what: str) -> None:
        for key in table:
            if key not in allowed:
                where = f"{key_path}.{key}" if key_path else key
                self.problem(where, f"unknown key in {what}{did_you_mean(key, allowed)}; "
                                    f"valid keys: {', '.join(allowed)}")

    def table(self, value: Any, key_path: str, what: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.problem(key_path, f"expected a table ({what}), got {_kind(value)}")
            return {}
        return value

    def tables(self, document: Mapping[str, Any], key: str, what: str) -> list[dict[str, Any]]:
        value = document.get(key, [])
        if not isinstance(value, list):
            self.problem(key, f"expected an array of tables ([[{key}]] {what}), got {_kind(value)}")
            return []
        return [self.table(item, f"{key}[{i}]", what) for i, item in enumerate(value)]

    def string(self, table: Mapping[str, Any], key: str, key_path: str, default: str | None = None,
               required: bool = False) -> str | None:
        if key not in table:
            if required:
                self.problem(key_path, f"missing key {key!r}")
            return default
        value = table[key]
        if not isinstance(value, str):
            self.problem(f"{key_path}.{key}", f"expected a string, got {_kind(value)}")
            return default
        return value

    def strings(self, table: Mapping[str, Any], key: str, key_path: str) -> list[str]:
        value = table.get(key, [])
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{key_path}.{key}", f"expected a string or an array of strings, got {_kind(value)}")
            return []
        return list(value)

    def boolean(self, table: Mapping[str, Any], key: str, key_path: str) -> bool | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, bool):
            self.problem(f"{key_path}.{key}", f"expected true or false, got {_kind(value)}")
            return None
        return value

    def integer(self, table: Mapping[str, Any], key: str, key_path: str, default: int,
                low: int = 0, high: int = 2**31 - 1) -> int:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.problem(f"{key_path}.{key}", f"expected an integer from {low} to {high}, got {value!r}")
            return default
        return value

    def duration(self, table: Mapping[str, Any], key: str, key_path: str) -> float | None:
        if key not in table:
            return None
        try:
            return parse_duration(table[key])
        except ValueError as e:
            self.problem(f"{key_path}.{key}", str(e))
            return None

    def name(self, value: str, key_path: str) -> Name | None:
        try:
            return dns.name.from_text(value)
        except dns.exception.DNSException as e:
            self.problem(key_path, f"{value!r} is not a domain name: {e}")
            return None

    def names(self, table: Mapping[str, Any], key: str, key_path: str) -> list[Name]:
        out = []
        for i, text in enumerate(self.strings(table, key, key_path)):
            name = self.name(text, f"{key_path}.{key}[{i}]" if isinstance(table.get(key), list) else f"{key_path}.{key}")
            if name is not None:
                out.append(name)
        return out


def _kind(value: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def load_scenario(path: str | os.PathLike[str], mode: str | None = None) -> Scenario:
    """Read and check a scenario file (zones loaded, faults parsed; nothing bound).

    *mode*: the address mode the lab will run in ("loopback" or "namespace"; default
    the scenario's ``lab.mode``): addresses are checked for it.
    Raises :class:`ScenarioError` listing every problem found."""
    if mode is not None and mode not in MODES:
        raise ConfigError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ScenarioError([f"{path}: cannot read the scenario: {e.strerror}"]) from None
    text = raw.decode("utf-8", errors="replace")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        at = re.search(r"\(at line (\d+), column \d+\)", str(e))
        raise ScenarioError([f"{path}:{at.group(1) if at else 1}: not valid TOML: {e}"]) from None
    reader = _Reader(path, TomlPlaces(text))
    scenario = _read(reader, document, os.path.dirname(os.path.abspath(path)))
    _check(reader, scenario, mode or scenario.mode)
    if reader.problems:
        raise ScenarioError(reader.problems)
    return scenario


def _read(r: _Reader, document: dict[str, Any], base: str) -> Scenario:
    r.keys(document, "", _TOP, "the scenario")
    lab = r.table(document.get("lab", {}), "lab", "[lab]")
    r.keys(lab, "lab", _LAB, "[lab]")
    mode = r.string(lab, "mode", "lab", "loopback") or "loopback"
    if mode not in MODES:
        r.problem("lab.mode", f"{mode!r}: expected one of {', '.join(MODES)}{did_you_mean(mode, MODES)}")
        mode = "loopback"
    tld_servers: int | dict[str, int] = 1
    if isinstance(lab.get("tld_servers"), dict):
        tld_servers = {k.strip("."): r.integer(lab["tld_servers"], k, "lab.tld_servers", 1, 1, 13)
                       for k in lab["tld_servers"]}
    else:
        tld_servers = r.integer(lab, "tld_servers", "lab", 1, 1, 13)
    zones = [_read_zone(r, t, f"zones[{i}]", base) for i, t in enumerate(r.tables(document, "zones", "of zones"))]
    zone_specs = [z for z in zones if z is not None]
    servers = [_read_server(r, t, f"servers[{i}]") for i, t in enumerate(r.tables(document, "servers", "of servers"))]
    delegations = [_read_delegation(r, t, f"delegations[{i}]")
                   for i, t in enumerate(r.tables(document, "delegations", "of delegations"))]
    timeline = [_read_event(r, t, f"timeline[{i}]", need_at=True)
                for i, t in enumerate(r.tables(document, "timeline", "of events"))]
    fix = None
    if "fix" in document:
        table = r.table(document["fix"], "fix", "[fix]")
        r.keys(table, "fix", _FIX, "[fix]")
        events = table.get("events", [])
        if not isinstance(events, list):
            r.problem("fix.events", f"expected an array of event tables, got {_kind(events)}")
            events = []
        fix_file = r.string(table, "file", "fix")
        fix = FixSpec(r.string(table, "description", "fix", "") or "",
                      os.path.join(base, fix_file) if fix_file else None,
                      [e for i, t in enumerate(events)
                       if (e := _read_event(r, r.table(t, f"fix.events[{i}]", "an event"), f"fix.events[{i}]",
                                            need_at=False)) is not None])
    expect = document.get("expect", {})
    if not isinstance(expect, dict):
        r.problem("expect", f"expected a table of expected symptoms, got {_kind(expect)}")
        expect = {}
    default_name = os.path.splitext(os.path.basename(r.path))[0]
    return Scenario(
        path=r.path, name=r.string(lab, "name", "lab", default_name) or default_name,
        description=r.string(lab, "description", "lab", "") or "",
        port=r.integer(lab, "port", "lab", 53, 0, 65535), mode=mode,
        delegation_ttl=max(1, int(r.duration(lab, "delegation_ttl", "lab") or 86400)),
        tld_servers=tld_servers, zones=zone_specs,
        servers=[s for s in servers if s is not None], delegations=[d for d in delegations if d is not None],
        timeline=[e for e in timeline if e is not None], fix=fix, expect=expect, places=r.places,
        dnssec=r.dnssec(lab, "lab"))


def _read_zone(r: _Reader, table: dict[str, Any], key_path: str, base: str) -> ZoneSpec | None:
    r.keys(table, key_path, _ZONE, "a zone")
    origin_text = r.string(table, "origin", key_path)
    origin = r.name(origin_text, f"{key_path}.origin") if origin_text is not None else None
    file = r.string(table, "file", key_path)
    text = r.string(table, "text", key_path)
    if (file is None) == (text is None):
        r.problem(key_path, "give the zone's data as file = \"NAME.zone\" (relative to the scenario) "
                            "or text = \"\"\"...\"\"\", one of the two")
        return None
    try:
        if file is not None:
            zone = Zone.from_file(os.path.join(base, file), origin=origin)
        else:
            assert text is not None
            line = r.places.line(f"{key_path}.text")
            zone = Zone.from_text("\n" * line + text, origin=origin, filename=r.path)
    except FakensError as e:
        r.problem(f"{key_path}.{'file' if file is not None else 'text'}", str(e))
        return None
    # an SOA owner that is not the given origin: the zone is served under its SOA owner, with
    # the loader's warning (as CoreDNS serves such a file), not refused
    name = r.string(table, "name", key_path, zone.origin.to_text()) or zone.origin.to_text()
    dnssec = r.dnssec(table, key_path)
    return ZoneSpec(name, zone, r.boolean(table, "delegate", key_path), key_path,
                    r.string(table, "description", key_path, "") or "",
                    False if dnssec is None and table.get("dnssec") is False else dnssec)


def _read_server(r: _Reader, table: dict[str, Any], key_path: str) -> ServerSpec | None:
    r.keys(table, key_path, _SERVER, "a server")
    name_text = r.string(table, "name", key_path, required=True)
    if name_text is None:
        return None
    name = r.name(name_text, f"{key_path}.name")
    if name is None:
        return None
    hosts = r.names(table, "hosts", key_path) or [name]
    if name not in hosts:
        hosts.insert(0, name)
    addresses = []
    for i, text in enumerate(r.strings(table, "addresses", key_path)):
        try:
            addresses.append(str(ipaddress.ip_address(text)))
        except ValueError:
            r.problem(f"{key_path}.addresses[{i}]", f"{text!r} is not an IPv4 or IPv6 address")
    options = r.table(table.get("options", {}), f"{key_path}.options", "Server options")
    r.keys(options, f"{key_path}.options", SERVER_OPTIONS, "server options")
    for key in _CHECKED_OPTIONS:  # values a typo in would only fail when the lab starts
        if key in options:
            try:
                ServerOptions.make(**{key: options[key]})
            except ConfigError as e:
                r.problem(f"{key_path}.options.{key}", str(e))
    notify = options.get("notify", [])
    for i, target in enumerate(notify if isinstance(notify, list) else [notify]):
        if target != NOTIFY_SECONDARY:  # "secondary": the lab's secondary, given when it starts
            try:  # the form only: whether it is on this machine is checked when the lab starts (lab run adds addresses)
                parse_listen(target, default_port=53, what="notify target")
            except (ConfigError, TypeError, ValueError) as e:
                r.problem(f"{key_path}.options.notify[{i}]", f"{e} (or \"secondary\": the lab's secondary)")
    faults = []
    items = table.get("faults", [])
    if not isinstance(items, list):
        items = [items]
    for i, item in enumerate(items):
        fault = _read_fault(r, item, f"{key_path}.faults[{i}]")
        if fault is not None:
            r.fault_name(name.to_text(), fault, item)
            faults.append(fault)
    return ServerSpec(name, hosts, addresses, r.strings(table, "zones", key_path), faults, dict(options),
                      key_path, r.string(table, "description", key_path, "") or "")


def _read_fault(r: _Reader, item: Any, key_path: str) -> Fault | None:
    if not isinstance(item, (str, dict)):
        r.problem(key_path, f"expected a fault spec (\"nxdomain qname=x.\") or a table "
                            f"({{type = \"nxdomain\", ...}}), got {_kind(item)}")
        return None
    try:
        return build_fault(item)
    except ConfigError as e:
        message = str(e)
        place = key_path
        if isinstance(item, dict):  # the key the message is about: "qname=...", else the word alone
            keys = [str(k) for k in item if k != "type"]
            for pattern in (r"(?<![\w-]){}=", r"(?<![\w-]){}(?![\w-])"):
                found = [k for k in keys if re.search(pattern.format(re.escape(k)), message)]
                if found:
                    place = f"{key_path}.{found[0]}"
                    break
        r.problem(place, message)
        return None


def _read_delegation(r: _Reader, table: dict[str, Any], key_path: str) -> DelegationSpec | None:
    r.keys(table, key_path, _DELEGATION, "a delegation")
    zone_text = r.string(table, "zone", key_path, required=True)
    zone = r.name(zone_text, f"{key_path}.zone") if zone_text else None
    if zone is None:
        return None
    ns = r.names(table, "ns", key_path)
    if not ns:
        r.problem(key_path, "a delegation needs ns = [\"ns1.example.test.\", ...]")
    ttl = r.duration(table, "ttl", key_path)
    return DelegationSpec(zone, ns, _read_glue(r, table, key_path), None if ttl is None else int(ttl), key_path)


def _read_glue(r: _Reader, table: Mapping[str, Any], key_path: str) -> dict[Name, list[str]] | None:
    if "glue" not in table:
        return None
    glue_table = r.table(table["glue"], f"{key_path}.glue", "host = [addresses]")
    glue: dict[Name, list[str]] = {}
    for host_text, value in glue_table.items():
        host = r.name(host_text, f"{key_path}.glue.{host_text}")
        values = [value] if isinstance(value, str) else value
        if host is None or not isinstance(values, list):
            r.problem(f"{key_path}.glue.{host_text}", "expected an address or an array of addresses")
            continue
        addresses = []
        for text in values:
            try:
                addresses.append(str(ipaddress.ip_address(text)))
            except (ValueError, TypeError):
                r.problem(f"{key_path}.glue.{host_text}", f"{text!r} is not an IPv4 or IPv6 address")
        glue[host] = addresses
    return glue


def _read_event(r: _Reader, table: dict[str, Any], key_path: str, need_at: bool) -> EventSpec | None:
    at = r.duration(table, "at", key_path)
    if at is None:
        if need_at and "at" not in table:
            r.problem(key_path, "missing key 'at' (when it happens: \"30s\", \"2h\", seconds since the lab started)")
        at = 0.0
    action = r.string(table, "action", key_path, required=True)
    if action is None:
        return None
    if action not in ACTIONS:
        r.problem(f"{key_path}.action", f"unknown action {action!r}{did_you_mean(action, list(ACTIONS))}; "
                                        f"valid actions: {', '.join(ACTIONS)}")
        return None
    r.keys(table, key_path, (*_COMMON_EVENT_KEYS, *ACTIONS[action]), f"a {action!r} event")
    values = {k: v for k, v in table.items() if k not in _COMMON_EVENT_KEYS}
    need = {"edit": ("zone",), "bump-serial": ("zone",), "delegate": ("zone", "ns"), "add-fault": ("server", "fault"),
            "remove-fault": ("server", "name"), "stop": ("server",), "start": ("server",),
            "rollover": ("zone", "kind", "state")}[action]
    for key in need:
        if key not in values:
            r.problem(key_path, f"a {action!r} event needs {key!r}")
    if action == "add-fault" and "fault" in values:
        fault = _read_fault(r, values["fault"], f"{key_path}.fault")
        if fault is not None:
            if isinstance(values.get("server"), str):
                r.fault_name(values["server"], fault, values["fault"])
            values["fault"] = fault.spec()
    if action == "edit":
        for key in ("add", "remove", "replace"):
            if key in values:
                r.strings(values, key, key_path)
        if "bump_serial" in values:
            r.boolean(values, "bump_serial", key_path)
    if action == "rollover":
        for key, known in (("kind", KINDS), ("state", STATES)):
            if key in values and values[key] not in known:
                r.problem(f"{key_path}.{key}", f"{values[key]!r}: expected one of {', '.join(known)} (RFC 7583 states)")
        if "ds_follows" in values:
            r.boolean(values, "ds_follows", key_path)
        if values.get("kind") == "algorithm" and not isinstance(values.get("algorithm"), int):
            r.problem(key_path, "an algorithm rollover needs algorithm = the new algorithm's number (e.g. 8)")
    if action == "delegate":
        values["ns"] = r.names(values, "ns", key_path)
        values["glue"] = _read_glue(r, values, key_path)
        if "ttl" in values:
            ttl = r.duration(values, "ttl", key_path)
            values["ttl"] = None if ttl is None else int(ttl)
    return EventSpec(at, action, values, key_path, r.string(table, "description", key_path, "") or "")


def _check(r: _Reader, scenario: Scenario, mode: str) -> None:
    """What parses but cannot work: references to nothing, clashing addresses, modes."""
    zone_names = [z.name for z in scenario.zones]
    for spec in scenario.zones:
        if zone_names.count(spec.name) > 1 and spec.path != next(z.path for z in scenario.zones if z.name == spec.name):
            r.problem(f"{spec.path}.name", f"two zones are named {spec.name!r}; give each a name = \"...\" "
                                           "(two providers' copies of one zone need names such as \"old\" and \"new\")")
    origins: dict[Name, list[ZoneSpec]] = {}
    for spec in scenario.zones:
        origins.setdefault(spec.zone.origin, []).append(spec)
    for origin, specs in origins.items():
        if sum(1 for s in specs if s.delegate is not False) > 1 and sum(1 for s in specs if s.delegate) != 1:
            names = ", ".join(s.name for s in specs)
            if not any(d.zone == origin for d in scenario.delegations):
                r.problem(specs[1].path, f"zones {names} all have origin {origin}: say which one the parent "
                                         "delegates to with delegate = true on it (delegate = false on the others), "
                                         "or give a [[delegations]] entry")
    server_names = [s.name.to_text() for s in scenario.servers]
    hosts: dict[Name, ServerSpec] = {}
    for server in scenario.servers:
        for host in server.hosts:
            if host in hosts and hosts[host] is not server:
                r.problem(f"{server.path}.name", f"{host} is already the name of {hosts[host].path}")
            hosts[host] = server
        for i, ref in enumerate(server.zones):
            if _find_zone(scenario, ref) is None and _absolute(ref) not in _made_zone_names(scenario):
                r.problem(f"{server.path}.zones[{i}]" if len(server.zones) > 1 else f"{server.path}.zones",
                          f"no zone {ref!r} in this scenario{did_you_mean(ref, zone_names)}; zones: "
                          f"{', '.join(zone_names) or '(none)'}")
    used: dict[str, str] = {}
    for server in scenario.servers:
        for i, address in enumerate(server.addresses):
            place = f"{server.path}.addresses[{i}]"
            ip = ipaddress.ip_address(address)
            key = f"{address}#{scenario.port}"
            if key in used and scenario.port != 0:
                r.problem(place, f"{address} port {scenario.port} is also {used[key]}'s: two servers cannot "
                                 "share an address and port")
            used[key] = server.name.to_text()
            if ip.is_multicast or ip.is_unspecified:
                r.problem(place, f"{address} cannot be a server's address (multicast or unspecified)")
            elif mode == "loopback" and not ip.is_loopback:
                r.problem(place, f"{address} is not a loopback address, and the lab runs on this host's loopback "
                                 "(mode \"loopback\": 127.0.0.0/8 and ::1): use 127.x.y.z, or run the lab in a private "
                                 "network namespace where any address works: `fakens lab run SCENARIO -- COMMAND` "
                                 "(with lab.mode = \"namespace\")")
    lab_hosts = set(hosts)

    def check_ns(ns: Sequence[Name], glue: Mapping[Name, Any] | None, key_path: str) -> None:
        for i, host in enumerate(ns):
            if host in lab_hosts or (glue and host in glue):
                continue
            if _holder(scenario, host) is not None and _zone_named_host(scenario, host) is None:
                r.problem(f"{key_path}.ns[{i}]",
                          f"{host} is no server of this scenario{did_you_mean(host.to_text(), server_names)} "
                          "and no zone of it serves the name; add a [[servers]] entry named so, or glue for it")

    for delegation in scenario.delegations:
        check_ns(delegation.ns, delegation.glue, delegation.path)
    scratch: dict[str, Zone] = {}  # the edits tried in time order on copies: records that cannot be read
    events = [*scenario.timeline, *(scenario.fix.events if scenario.fix else [])]
    for event in sorted(events, key=lambda e: e.at):
        values = event.values
        if "zone" in values and event.action in ("edit", "bump-serial", "rollover") and (
                not isinstance(values["zone"], str) or _find_zone(scenario, values["zone"]) is None):
            r.problem(f"{event.path}.zone", f"no zone {values['zone']!r} in this scenario"
                                            f"{did_you_mean(str(values['zone']), zone_names)}")
        elif event.action == "edit":
            found = _find_zone(scenario, values["zone"])
            assert found is not None
            zone = scratch.setdefault(found.name, Zone(found.zone.current, found.zone.source))
            _try_edit(r, zone, event)
        if "zone" in values and event.action == "delegate":
            name = r.name(str(values["zone"]), f"{event.path}.zone")
            made_zones = [dns.name.from_text(z) for z in _made_zone_names(scenario)]
            if name is not None and name not in origins and name not in made_zones:
                r.problem(f"{event.path}.zone", f"no zone {name} in this scenario to delegate"
                                                f"{did_you_mean(name.to_text(), [o.to_text() for o in origins])}")
            check_ns(values.get("ns") or [], values.get("glue"), event.path)
        if "server" in values:
            ref = values["server"]
            all_hosts = list(dict.fromkeys([h.to_text() for h in hosts] + _made_server_names(scenario)))
            if not isinstance(ref, str) or _absolute(ref) not in all_hosts:
                r.problem(f"{event.path}.server", f"no server {ref!r} in this scenario"
                                                  f"{did_you_mean(_absolute(str(ref)), all_hosts)}; servers: "
                                                  f"{', '.join(all_hosts)}")
            elif event.action == "remove-fault" and "name" in values:
                known = _fault_names(scenario, _absolute(ref))
                if str(values["name"]) not in known:
                    r.problem(f"{event.path}.name", f"no fault {values['name']!r} on {_absolute(ref)}"
                                                    f"{did_you_mean(str(values['name']), known)}; its faults: "
                                                    f"{', '.join(known) or '(none)'} (a fault without name= is "
                                                    "TYPE-N: the N-th of its type on that server)")


def _try_edit(r: _Reader, zone: Zone, event: EventSpec) -> None:
    """Apply an edit event to a scratch copy of its zone, reporting each record it cannot read."""
    values = event.values
    serial = values.get("serial")
    if serial is not None and (isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial < 2**32):
        r.problem(f"{event.path}.serial", f"expected a serial from 0 to 4294967295, got {serial!r}")
        return
    lists = {key: _as_list(values.get(key)) for key in ("remove", "replace", "add")}
    if not all(isinstance(item, str) for items in lists.values() for item in items):
        return  # reported by the reader
    bad = False
    for key, items in lists.items():
        for j, item in enumerate(items):
            try:
                Zone(zone.current).edit(add=[item] if key == "add" else [], remove=[item] if key == "remove" else [],
                                        replace=[item] if key == "replace" else [], bump_serial=False)
            except FakensError as e:
                r.problem(f"{event.path}.{key}[{j}]" if isinstance(values.get(key), list) else f"{event.path}.{key}",
                          str(e))
                bad = True
    if not bad:
        try:
            zone.edit(add=lists["add"], remove=lists["remove"], replace=lists["replace"],
                      bump_serial=bool(values.get("bump_serial", True)), serial=serial)
        except FakensError as e:
            r.problem(event.path, str(e))


def _fault_names(scenario: Scenario, server: str) -> list[str]:
    """The names of the faults a server has or gets from an add-fault event."""
    names = [f.name for s in scenario.servers if server in [h.to_text() for h in s.hosts] for f in s.faults]
    for event in [*scenario.timeline, *(scenario.fix.events if scenario.fix else [])]:
        fault = event.values.get("fault")
        if event.action == "add-fault" and isinstance(fault, dict) and _absolute(str(event.values.get("server"))) == server:
            names.append(str(fault.get("name")))
    return names


def _absolute(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _find_zone(scenario: Scenario, ref: str) -> ZoneSpec | None:
    for spec in scenario.zones:
        if spec.name == ref:
            return spec
    matches = [s for s in scenario.zones if s.zone.origin.to_text() == _absolute(ref)]
    return matches[0] if len(matches) == 1 else None


def _holder(scenario: Scenario, host: Name) -> ZoneSpec | None:
    best = None
    for spec in scenario.zones:
        if host.is_subdomain(spec.zone.origin) and (best is None or len(spec.zone.origin) > len(best.zone.origin)):
            best = spec
    return best


def _zone_named_host(scenario: Scenario, host: Name) -> ZoneSpec | None:
    """A zone that lists *host* among its own NS (it gets a server made)."""
    for spec in scenario.zones:
        ns = spec.zone.current.get(spec.zone.origin, dns.rdatatype.NS)
        if ns is not None and any(rd.target == host for rd in ns):
            return spec
    return None


def _made_zone_names(scenario: Scenario) -> list[str]:
    """The root and the TLDs the planner makes (no scenario zone has their origin)."""
    origins = {z.zone.origin for z in scenario.zones}
    out = [] if dns.name.root in origins else ["."]
    for spec in scenario.zones:
        if len(spec.zone.origin) > 1:
            tld = dns.name.Name(spec.zone.origin.labels[-2:])
            if tld not in origins and tld.to_text() not in out:
                out.append(tld.to_text())
    return out


def _made_server_names(scenario: Scenario) -> list[str]:
    """Servers the planner makes: NS hosts of the zones no server lists, the root, made TLDs."""
    listed = {ref for s in scenario.servers for ref in s.zones}
    out = ["a.root-servers.test."]
    origins = {z.zone.origin for z in scenario.zones}
    for spec in scenario.zones:
        tld = dns.name.Name(spec.zone.origin.labels[-2:]) if len(spec.zone.origin) > 1 else None
        if tld is not None and tld not in origins:
            count = scenario.tld_servers if isinstance(scenario.tld_servers, int) else \
                scenario.tld_servers.get(tld.labels[0].decode(), 1)
            out += [f"ns{i}.nic.{tld}" for i in range(1, count + 1)]
        if spec.name in listed or spec.zone.origin.to_text() in listed:
            continue
        ns = spec.zone.current.get(spec.zone.origin, dns.rdatatype.NS)
        out += [rd.target.to_text() for rd in ns or []]
    return out


# -- building -----------------------------------------------------------------------


def _scaled_rrsets(zone: Zone, time_scale: float) -> list[dns.rrset.RRset]:
    out = []
    for node in zone.current.nodes.values():
        for rrset in node.values():
            copy = rrset.copy()
            copy.ttl = int(scaled(rrset.ttl, time_scale))
            if rrset.rdtype == dns.rdatatype.SOA:
                soa = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0])
                copy.clear()
                copy.add(soa.replace(**{k: int(scaled(getattr(soa, k), time_scale))
                                        for k in ("refresh", "retry", "expire", "minimum")}))
            out.append(copy)
    return out


def scale_zone(zone: Zone, time_scale: float) -> Zone:
    """A copy of *zone* with every TTL and the SOA's REFRESH, RETRY, EXPIRE and MINIMUM divided
    by *time_scale* (whole seconds, rounded up, at least 1)."""
    if time_scale == 1:
        return zone
    version = zone.current
    nodes: dict[Name, dict[Any, Any]] = {}
    for rrset in _scaled_rrsets(zone, time_scale):
        nodes.setdefault(rrset.name, {})[(rrset.rdtype, rrset.covers)] = rrset
    new = ZoneVersion(version.origin, nodes, version.rdclass, version.where, version.record_where)
    return Zone(new, zone.source, zone.warnings)


def _scale_in_place(zone: Zone, time_scale: float) -> None:
    """Scale a lab's zone as it was planned (given zones, the made root and TLDs, the NS and
    glue added to parents alike), and make that the version a reset returns to."""
    if time_scale != 1:
        zone.edit(replace=_scaled_rrsets(zone, time_scale), bump_serial=False)
        zone.set_baseline()


def _scale_fault(fault: Fault, time_scale: float) -> Fault:
    schedule = fault.schedule
    if time_scale != 1 and (schedule.start is not None or schedule.until is not None):
        start = None if schedule.start is None else scaled(schedule.start, time_scale)
        until = None if schedule.until is None else scaled(schedule.until, time_scale)
        if start is not None and until is not None and (schedule.until or 0) > (schedule.start or 0):
            until = max(until, start + 1)  # a window stays at least 1 s long (30..90 at 1/100: 1..2)
        fault.schedule = replace(schedule, start=start, until=until)
    return fault


def _scale_records(records: Sequence[str], time_scale: float) -> list[str]:
    """Record lines with their TTL (``www 86400 A ...``) divided by *time_scale*."""
    if time_scale == 1:
        return list(records)
    out = []
    for line in records:
        words = line.split()
        if len(words) > 2:
            try:
                ttl = dns.ttl.from_text(words[1])
            except dns.ttl.BadTTL:
                out.append(line)
                continue
            words[1] = str(int(scaled(ttl, time_scale)))
            line = " ".join(words)
        out.append(line)
    return out


def build_lab(scenario: Scenario, *, mode: str | None = None, time_scale: float = 1.0, fix: bool = False,
              octet: int | None = None, probe: bool = True, clock: ManualClock | None = None,
              **server_options: Any) -> Hierarchy:
    """Plan the lab of *scenario* (servers not started: ``async with`` / start()).

    *mode*: "loopback" or "namespace" (default the scenario's); *time_scale* divides
    the scenario's times (see docs/scenarios.md); *fix*: apply the scenario's fix;
    *probe*: find a free 127.x block by binding (False for ``lab check``);
    *clock*: the lab's clock (default a LabClock at 0, following real time once started).
    """
    if fix and scenario.fix is not None and scenario.fix.file:
        return build_lab(load_scenario(scenario.fix.file), mode=mode, time_scale=time_scale, fix=False,
                         octet=octet, probe=probe, clock=clock, **server_options)
    if time_scale <= 0 or not math.isfinite(time_scale):
        raise ConfigError(f"--time-scale {time_scale}: must be above 0 (100 plays an hour in 36 s)")
    mode = mode or scenario.mode
    zones = {spec.name: _fresh_copy(spec.zone) for spec in scenario.zones}  # scaled once planned
    zone_plans = []
    for spec in scenario.zones:
        same = [s for s in scenario.zones if s.zone.origin == spec.zone.origin]
        if spec.delegate is not None:
            delegate = spec.delegate
        elif any(s.delegate for s in same):
            delegate = False  # another copy of the zone says it is the delegated one
        else:
            delegate = next(s for s in same if s.delegate is None) is spec
        policy = scenario.dnssec if spec.dnssec is None else spec.dnssec  # False: unsigned in a signed lab
        zone_plans.append(ZonePlan(spec.name, zones[spec.name], delegate,
                                   policy if isinstance(policy, DnssecPolicy) else None))
    members = []
    for server in scenario.servers:
        served, made_refs = [], []
        for ref in server.zones:
            found = _find_zone(scenario, ref)
            if found is None:
                made_refs.append(_absolute(ref))  # the root or a TLD the planner makes (checked by load_scenario)
            else:
                served.append(zones[found.name])
        members.append(HierarchyServer(
            server.name, list(server.addresses), served, hosts=list(server.hosts),
            faults=[_scale_fault(build_fault(f.spec()), time_scale) for f in server.faults],
            options=dict(server.options), given_addresses=bool(server.addresses), zone_refs=made_refs))
    delegations = [DelegationPlan(d.zone, d.ns, d.glue, d.ttl) for d in scenario.delegations]
    plan_members, origins, by_name, warnings = plan_lab(
        zone_plans, members, delegations,
        addresses=loopback_addresses(scenario.port, octet, probe=probe and mode == "loopback"),
        tld_servers=scenario.tld_servers, delegation_ttl=scenario.delegation_ttl, dnssec=scenario.dnssec)
    for zone in by_name.values():
        _scale_in_place(zone, time_scale)
    root = origins[dns.name.root]
    ordered = {dns.name.root: root, **{o: z for o, z in origins.items() if o != dns.name.root}}
    lab = Hierarchy(scenario.port, plan_members, ordered, clock or LabClock(0.0), dict(server_options),
                    name=scenario.name, all_zones=by_name, warnings=[*scenario.warnings, *warnings],
                    time_scale=time_scale)
    events = [_event(lab, scenario, spec, time_scale) for spec in scenario.timeline]
    if fix and scenario.fix is not None:
        events += _apply_fix(lab, scenario, scenario.fix.events, time_scale)
    lab.timeline = Timeline(events)
    return lab


def _apply_fix(lab: Hierarchy, scenario: Scenario, specs: Sequence[EventSpec], time_scale: float) -> list[Event]:
    """Apply a fix's events to the planned lab, so that ``lab check --fix`` shows the fixed lab and
    ``lab up --fix`` serves it from the first query; returns those that need running servers
    (stop, start) as events at 0."""
    later: list[Event] = []
    for spec in specs:
        if spec.action in ("add-fault", "remove-fault"):
            member = lab.member(_absolute(spec.values["server"]))
            if spec.action == "add-fault":
                member.faults.append(_scale_fault(build_fault(spec.values["fault"]), time_scale))
            else:
                member.faults = [f for f in member.faults if getattr(f, "name", None) != str(spec.values["name"])]
        elif spec.action in ("stop", "start"):
            later.append(replace(_event(lab, scenario, spec, time_scale), at=0.0))
        else:
            result = _event(lab, scenario, spec, time_scale).apply()  # edit, bump-serial, delegate: zones only
            assert not inspect.isawaitable(result)
    for zone in lab.all_zones.values():
        zone.set_baseline()  # a reset returns to the fixed lab
    return later


def _fresh_copy(zone: Zone) -> Zone:
    """A zone of its own for each lab built from one scenario (the planner edits zones)."""
    return Zone(zone.current, zone.source, zone.warnings)


def _event(lab: Hierarchy, scenario: Scenario, spec: EventSpec, time_scale: float) -> Event:
    values = spec.values
    action = spec.action
    source = scenario.where(spec.path)
    at = scaled(spec.at, time_scale)
    apply: Callable[[], Any]
    if action in ("edit", "bump-serial"):
        found = _find_zone(scenario, values["zone"])
        assert found is not None
        zone = lab.all_zones[found.name]
        add = _scale_records(_as_list(values.get("add")), time_scale)
        remove = _as_list(values.get("remove"))
        change = _scale_records(_as_list(values.get("replace")), time_scale)
        bump = bool(values.get("bump_serial", True))
        serial = values.get("serial")

        def apply_edit() -> str:
            new = zone.edit(add=add, remove=remove, replace=change, bump_serial=bump or action == "bump-serial",
                            serial=serial)
            return f"zone {zone.origin} ({found.name}) now serial {new.serial}"

        apply = apply_edit
        describe = (f"bump the serial of {found.name}" if action == "bump-serial" else
                    f"edit {found.name}: {len(add)} added, {len(remove)} removed, {len(change)} replaced")
    elif action == "delegate":
        child = dns.name.from_text(values["zone"])
        ttl = values.get("ttl")
        plan = DelegationPlan(child, list(values["ns"]), values.get("glue"),
                              int(scaled(ttl if ttl is not None else scenario.delegation_ttl, time_scale)))

        def apply_delegation() -> str:
            parents = parent_zones(lab, child)
            for parent in parents:
                delegate_zone(lab, parent, plan)
            return (f"{', '.join(str(p.origin) for p in parents)} now delegate {child} to "
                    f"{', '.join(h.to_text() for h in plan.ns)}")

        apply = apply_delegation
        describe = f"delegate {child} to {', '.join(h.to_text() for h in plan.ns)}"
    elif action == "rollover":
        rolled = _find_zone(scenario, values["zone"])
        assert rolled is not None
        signed = lab.all_zones[rolled.name]
        kind, state, follows = str(values["kind"]), str(values["state"]), bool(values.get("ds_follows", True))
        algorithm = values.get("algorithm")

        def apply_rollover() -> str:
            roll = start_rollover(signed, parent_zones(lab, signed.origin), kind, algorithm, follows)
            return roll.move(state)

        apply = apply_rollover
        describe = f"{kind} rollover of {rolled.name}: {state}" + ("" if follows else " (the DS never updated)")
    elif action == "add-fault":
        spec_value = values["fault"]
        server_name = _absolute(values["server"])

        def apply_add() -> str:
            fault = _scale_fault(build_fault(spec_value), time_scale)
            lab.server(server_name).faults.add(fault)
            return f"fault {fault} on {server_name}"

        apply = apply_add
        describe = f"add fault {format_fault(spec_value) if isinstance(spec_value, dict) else spec_value} on {server_name}"
    elif action == "remove-fault":
        server_name, fault_name = _absolute(values["server"]), str(values["name"])

        def apply_remove() -> str:
            lab.server(server_name).faults.remove(fault_name)
            return f"fault {fault_name} removed from {server_name}"

        apply = apply_remove
        describe = f"remove fault {fault_name} from {server_name}"
    else:
        server_name = _absolute(values["server"])

        async def apply_power() -> str:
            if action == "stop":
                await lab.astop_server(server_name)
            else:
                await lab.astart_server(server_name)
            return f"server {server_name} {'stopped' if action == 'stop' else 'started'}"

        apply = apply_power
        describe = f"{action} server {server_name}"
    if spec.description:
        describe = f"{describe} ({spec.description})"
    return Event(at, action, describe, apply, source=source)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)
