"""``fakens lab verify``: run a lab, point real tools at it, compare what they show with its [expect].

    fakens lab verify fakens/labs/io-outage.toml --tool unbound            # the symptom
    fakens lab verify fakens/labs/io-outage.toml --tool unbound --fix      # gone with the fix
    fakens lab verify fakens/labs/lame-delegation.toml --tool zonemaster
    fakens lab verify fakens/labs/lame-delegation.toml --tool named-secondary
    fakens lab verify fakens/labs/stale-ds-rollover.toml --tool dnsviz     # DNSViz's error codes
    fakens lab verify SCENARIO --netns                                    # in a private namespace

The lab runs in this process on host loopback, port 53 (root or CAP_NET_BIND_SERVICE; in a
namespace of its own with ``--netns``, or when already inside ``unshare -n``). The tools
(unbound, zonemaster-cli, BIND named, dnsviz) are started as subprocesses. The [expect] format is in
docs/scenarios.md, "Expected symptoms"; :func:`expect_problems` checks it (``lab check`` does too).
A lab with a timeline is played with its clock paused: each step moves the clock to its ``at``
(a ``delay`` fault's replies still come after their delay in real time: LabClock.call_later_peer).
The named secondary's address is given to the lab (``Hierarchy.set_secondary``): a server whose
``notify`` option lists ``"secondary"`` NOTIFYs it after an edit.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from fakens.clock import LabClock
from fakens.dnssec import DnssecPolicy
from fakens.errors import ConfigError
from fakens.verifyreport import Report, Result, junit_xml

if TYPE_CHECKING:  # the lab and scenario modules load when a lab is verified, not with the parser
    from fakens.lab import Hierarchy
    from fakens.scenario import Scenario

RESOLVERS = ("unbound", "named", "kresd", "pdns-recursor")  # fakens.resolvers.RESOLVERS
TOOLS = (*RESOLVERS, "zonemaster", "named-secondary", "zonecheck", "dnsviz")
_ISOLATED = (*RESOLVERS, "dnsviz")
"""The known tools that run only in a network namespace with loopback alone (they ask the lab's servers)."""
DEFAULT_TOOLS = ("unbound", "zonemaster", "named-secondary", "zonecheck")
"""What runs without --tool (and every [expect.tool.NAME] with a command); ``--tool all``: TOOLS too."""
_SECTION_TOOLS: dict[str, tuple[str, ...]] = {
    "resolver": RESOLVERS, "mail": ("unbound",), "checker": ("zonemaster",), "secondary": ("named-secondary",),
    "zonecheck": ("zonecheck",), "dnsviz": ("dnsviz",)}
_TOP = ("time_scale", "resolver", "mail", "checker", "secondary", "zonecheck", "dnsviz", "tool")
_STEP = ("description", "at", "wait", "flush", "trials", "queries", "outcomes", "asked")
_RESOLVER = (*_STEP, "steps", "qname_minimisation", "fixed", "versions", *RESOLVERS)
_PER_RESOLVER = (*_STEP, "steps", "qname_minimisation", "fixed", "version")
_OUTCOME = ("description", "qname", "qtype", "rcode", "answer", "soa", "soa_ttl", "ad", "ede", "seconds", "min",
            "max")
_ASKED = ("description", "servers", "qname", "min", "max")
_QUERY = ("qname", "qtype")
_CHECKER = ("description", "domain", "must", "must_not", "fixed")
_SECONDARY = ("description", "zone", "qname", "qtype", "steps", "fixed")
_SECONDARY_STEP = ("description", "at", "serial", "answer", "rcode", "log", "no_log", "within", "hold")
_MAIL = ("description", "domain", "messages", "sinks", "fixed")
_SINK = ("name", "address", "port", "min", "max")
_ZONECHECK = ("description", "must", "must_not", "fixed")
_DNSVIZ = ("description", "domain", "types", "at", "version", "errors", "must", "must_not", "fixed")
_RCODES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "TIMEOUT")


# -- the [expect] table: checking -------------------------------------------------------


class _Checker:
    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.problems: list[str] = []

    def problem(self, key_path: str, message: str) -> None:
        self.problems.append(f"{self.scenario.path}:{self.scenario.places.line(key_path)}: {key_path}: {message}")

    def table(self, value: Any, path: str, allowed: Sequence[str], what: str) -> dict[str, Any]:
        from fakens.scenario import did_you_mean

        if not isinstance(value, dict):
            self.problem(path, f"expected a table ({what}), got {type(value).__name__}")
            return {}
        for key in value:
            if key not in allowed:
                self.problem(f"{path}.{key}", f"unknown key in {what}{did_you_mean(key, allowed)}; "
                                              f"valid keys: {', '.join(allowed)}")
        return value

    def tables(self, value: Any, path: str, allowed: Sequence[str], what: str) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            self.problem(path, f"expected an array of tables ({what}), got {type(value).__name__}")
            return []
        return [self.table(item, f"{path}[{i}]", allowed, what) for i, item in enumerate(value)]

    def fraction(self, table: Mapping[str, Any], path: str) -> None:
        for key in ("min", "max"):
            value = table.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not 0 <= value <= 1):
                self.problem(f"{path}.{key}", f"expected a fraction from 0 to 1, got {value!r}")
        if isinstance(table.get("min"), (int, float)) and isinstance(table.get("max"), (int, float)) \
                and table["min"] > table["max"]:
            self.problem(f"{path}.min", f"min {table['min']} is above max {table['max']}")

    def strings(self, table: Mapping[str, Any], key: str, path: str) -> None:
        value = table.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            self.problem(f"{path}.{key}", "expected an array of strings")

    def duration(self, table: Mapping[str, Any], key: str, path: str) -> None:
        from fakens.scenario import parse_duration

        if key in table:
            try:
                parse_duration(table[key])
            except ValueError as e:
                self.problem(f"{path}.{key}", str(e))

    def integer(self, table: Mapping[str, Any], key: str, path: str, low: int = 1) -> None:
        value = table.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            self.problem(f"{path}.{key}", f"expected an integer of at least {low}, got {value!r}")

    def qtype(self, table: Mapping[str, Any], path: str) -> None:
        value = table.get("qtype", "A")
        try:
            dns.rdatatype.from_text(str(value))
        except dns.rdatatype.UnknownRdatatype:
            self.problem(f"{path}.qtype", f"{value!r} is not a record type")

    def step(self, step: Mapping[str, Any], path: str, queries: list[tuple[str, str]]) -> None:
        self.duration(step, "at", path)
        self.duration(step, "wait", path)
        self.integer(step, "trials", path)
        if "flush" in step and not isinstance(step["flush"], bool):
            self.problem(f"{path}.flush", "expected true or false")
        if "queries" in step:
            queries = []
            for i, query in enumerate(self.tables(step["queries"], f"{path}.queries", _QUERY, "a query")):
                if not isinstance(query.get("qname"), str):
                    self.problem(f"{path}.queries[{i}]", "a query needs qname = \"www.example.test.\"")
                    continue
                self.qtype(query, f"{path}.queries[{i}]")
                queries.append(_query_key(query))
        if not queries and ("outcomes" in step or "asked" in step):
            self.problem(path, "no queries = [{ qname = ..., qtype = ... }] to count outcomes over")
        for i, outcome in enumerate(self.tables(step.get("outcomes", []), f"{path}.outcomes", _OUTCOME,
                                                "an outcome")):
            place = f"{path}.outcomes[{i}]"
            self.fraction(outcome, place)
            self.qtype(outcome, place)
            self.strings(outcome, "answer", place)
            if "rcode" in outcome and str(outcome["rcode"]).upper() not in _RCODES:
                self.problem(f"{place}.rcode", f"{outcome['rcode']!r}: expected one of {', '.join(_RCODES)}")
            ttl = outcome.get("soa_ttl")
            if ttl is not None and (not isinstance(ttl, list) or len(ttl) != 2
                                    or not all(isinstance(t, int) and not isinstance(t, bool) for t in ttl)):
                self.problem(f"{place}.soa_ttl", "expected [lowest, highest] seconds")
            took = outcome.get("seconds")
            if took is not None and (not isinstance(took, list) or len(took) != 2 or not all(
                    isinstance(t, (int, float)) and not isinstance(t, bool) and t >= 0 for t in took)):
                self.problem(f"{place}.seconds", "expected [shortest, longest] seconds the reply took ([1.5, 8])")
            if "ad" in outcome and not isinstance(outcome["ad"], bool):
                self.problem(f"{place}.ad", "expected true (validated: SECURE) or false")
            self.integer(outcome, "ede", place, 0)
            if "ad" in outcome or "ede" in outcome:
                self.signed(place)
            if isinstance(outcome.get("qname"), str) and queries and _query_key(outcome) not in queries:
                self.problem(f"{place}.qname", f"{outcome['qname']} {outcome.get('qtype', 'A')} is not one of "
                                               "the step's queries")
        for i, asked in enumerate(self.tables(step.get("asked", []), f"{path}.asked", _ASKED, "an asked count")):
            place = f"{path}.asked[{i}]"
            self.fraction(asked, place)
            self.strings(asked, "servers", place)
            if not asked.get("servers"):
                self.problem(place, "servers = [\"ns1.example.test.\", ...]: the servers counted")

    def signed(self, place: str) -> None:
        if self.scenario.dnssec is None and not any(isinstance(z.dnssec, DnssecPolicy) for z in self.scenario.zones):
            self.problem(place, "ad and ede are for a signed lab ([lab] dnssec = true): unbound validates only then")

    def resolver(self, table: Mapping[str, Any], path: str, inherited: list[tuple[str, str]],
                 allowed: Sequence[str] = _RESOLVER) -> None:
        from fakens.scenario import did_you_mean

        versions = table.get("versions", {})
        if not isinstance(versions, dict) or not all(isinstance(v, str) for v in versions.values()):
            self.problem(f"{path}.versions", 'expected a table of tool = "version" (unbound = "1.17.1")')
        else:
            for tool in versions:
                if tool not in RESOLVERS:
                    self.problem(f"{path}.versions.{tool}", f"not a resolver{did_you_mean(tool, RESOLVERS)}; "
                                                           f"resolvers: {', '.join(RESOLVERS)}")
        if "version" in table and not isinstance(table["version"], str):
            self.problem(f"{path}.version", 'expected the version measured with, as a string ("5.6.0")')
        if "qname_minimisation" in table and not isinstance(table["qname_minimisation"], bool):
            self.problem(f"{path}.qname_minimisation", "expected true or false")
        queries = [_query_key(q) for q in table.get("queries", []) if isinstance(q, dict) and "qname" in q] \
            or inherited
        for tool in RESOLVERS:
            if tool in table and allowed is _RESOLVER:
                over = self.table(table[tool], f"{path}.{tool}", _PER_RESOLVER, f"{tool}'s own symptoms")
                self.resolver(over, f"{path}.{tool}", queries, _PER_RESOLVER)
        if "steps" in table:
            for i, step in enumerate(self.tables(table["steps"], f"{path}.steps", _STEP, "a step")):
                self.step(step, f"{path}.steps[{i}]", queries)
        else:
            self.step(table, path, queries)
        if "fixed" in table:
            fixed = self.table(table["fixed"], f"{path}.fixed", _STEP + ("steps", "qname_minimisation"),
                               "the symptoms with the fix")
            self.resolver(fixed, f"{path}.fixed", queries, _STEP)

    def tags(self, table: Mapping[str, Any], path: str, allowed: Sequence[str], what: str) -> None:
        self.table(table, path, allowed, what)
        if allowed is _CHECKER and not isinstance(table.get("domain"), str):
            self.problem(path, "the checker's symptoms need domain = \"example.test.\" (the zone it checks)")
        self.strings(table, "must", path)
        self.strings(table, "must_not", path)
        if "fixed" in table:
            self.tags(table["fixed"], f"{path}.fixed", [k for k in allowed if k != "fixed"], f"{what} with the fix")

    def dnsviz(self, table: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        self.tags(table, path, allowed, "DNSViz's findings")
        if allowed is _DNSVIZ:
            domain = table.get("domain")
            if not (isinstance(domain, str) or (isinstance(domain, list) and domain
                                                and all(isinstance(d, str) for d in domain))):
                self.problem(path, "DNSViz's findings need domain = \"www.example.test.\" (the name it probes), "
                                   "or a list of names (probed together)")
        self.strings(table, "errors", path)
        self.strings(table, "types", path)
        types = table.get("types")
        for i, name in enumerate(types if isinstance(types, list) else []):
            if isinstance(name, str):
                try:
                    dns.rdatatype.from_text(name)
                except (dns.rdatatype.UnknownRdatatype, ValueError):
                    self.problem(f"{path}.types[{i}]", f"{name!r} is not a query type (A, AAAA, TXT, MX, ...)")
        self.duration(table, "at", path)
        if isinstance(table.get("fixed"), dict):
            self.strings(table["fixed"], "errors", f"{path}.fixed")
        if "version" in table and not isinstance(table["version"], str):
            self.problem(f"{path}.version", 'expected the DNSViz version measured with, as a string ("0.9.4")')

    def secondary(self, table: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        self.table(table, path, allowed, "the secondary's symptoms")
        for i, step in enumerate(self.tables(table.get("steps", []), f"{path}.steps", _SECONDARY_STEP, "a step")):
            place = f"{path}.steps[{i}]"
            for key in ("at", "within", "hold"):
                self.duration(step, key, place)
            self.integer(step, "serial", place, 0)
            self.strings(step, "answer", place)
            for key in ("log", "no_log"):
                if key in step:
                    try:
                        re.compile(str(step[key]))
                    except re.error as e:
                        self.problem(f"{place}.{key}", f"not a regular expression: {e}")
        if "fixed" in table:
            self.secondary(table["fixed"], f"{path}.fixed", [k for k in allowed if k != "fixed"])

    def mail(self, table: Mapping[str, Any], path: str, allowed: Sequence[str]) -> None:
        self.table(table, path, allowed, "the mail symptoms")
        self.integer(table, "messages", path)
        if allowed is _MAIL and not isinstance(table.get("domain"), str):
            self.problem(path, "the mail symptoms need domain = \"example.test.\" (whose MX the sender uses)")
        for i, sink in enumerate(self.tables(table.get("sinks", []), f"{path}.sinks", _SINK, "a mail sink")):
            self.fraction(sink, f"{path}.sinks[{i}]")
            if not isinstance(sink.get("address"), str):
                self.problem(f"{path}.sinks[{i}]", "a sink needs address = \"127.0.25.1\" (an MX host's address)")
            self.integer(sink, "port", f"{path}.sinks[{i}]")
        if "fixed" in table:
            self.mail(table["fixed"], f"{path}.fixed", [k for k in allowed if k != "fixed"])


def _query_key(table: Mapping[str, Any]) -> tuple[str, str]:
    qname = str(table.get("qname", ""))
    return (qname if qname.endswith(".") else qname + ".").lower(), str(table.get("qtype", "A")).upper()


def expect_problems(scenario: Scenario) -> list[str]:
    """Every problem of the scenario's [expect] table, each ``file:line: key.path: message``."""
    c = _Checker(scenario)
    expect = c.table(scenario.expect, "expect", _TOP, "[expect]")
    if "time_scale" in expect:
        value = expect["time_scale"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            c.problem("expect.time_scale", f"expected a number above 0, got {value!r}")
    if "resolver" in expect:
        c.table(expect["resolver"], "expect.resolver", _RESOLVER, "[expect.resolver]")
        if isinstance(expect["resolver"], dict):
            c.resolver(expect["resolver"], "expect.resolver", [])
    if "checker" in expect:
        c.tags(expect["checker"], "expect.checker", _CHECKER, "[expect.checker]")
    if "zonecheck" in expect:
        c.tags(expect["zonecheck"], "expect.zonecheck", _ZONECHECK, "[expect.zonecheck]")
    if "dnsviz" in expect:
        c.dnsviz(expect["dnsviz"], "expect.dnsviz", _DNSVIZ)
    if "secondary" in expect:
        c.secondary(expect["secondary"], "expect.secondary", _SECONDARY)
    if "mail" in expect:
        c.mail(expect["mail"], "expect.mail", _MAIL)
    if "tool" in expect:
        from fakens.toolcmd import check_tool_tables

        check_tool_tables(c, expect["tool"])
    return c.problems


_EXPECTATIONS = ("steps", "outcomes", "asked", "sinks", "must", "must_not", "errors", "exit")


def _over(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """*over*'s keys replacing *base*'s; the expectations (outcomes/asked, steps, ...) as a whole."""
    out = dict(base)
    if "steps" in over:
        out.pop("outcomes", None)
        out.pop("asked", None)
    elif any(key in over for key in _EXPECTATIONS):
        for key in _EXPECTATIONS:
            out.pop(key, None)
    return {**out, **over}


def _section(expect: Mapping[str, Any], fix: bool) -> dict[str, Any]:
    """*expect* (one tool's table) as it applies: the fixed sub-table over it with --fix."""
    base = {k: v for k, v in expect.items() if k != "fixed"}
    return _over(base, expect.get("fixed", {})) if fix else base


def resolver_table(expect: Mapping[str, Any], tool: str) -> dict[str, Any]:
    """[expect.resolver] as it applies to resolver *tool*: its own sub-table
    (``[expect.resolver.kresd]``) over the common one, and its ``fixed`` over the common ``fixed``."""
    base = {k: v for k, v in expect.items() if k not in RESOLVERS and k != "versions"}
    own = expect.get(tool, {})
    table = _over(base, {k: v for k, v in own.items() if k not in ("fixed", "version")})
    table.pop("fixed", None)
    if "fixed" in base or "fixed" in own:
        table["fixed"] = _over(base.get("fixed", {}), own.get("fixed", {}))
    return table


def measured_version(expect: Mapping[str, Any], tool: str) -> str | None:
    """The version of *tool* the lab's resolver table says it was measured with (None: not said)."""
    own = expect.get(tool, {})
    if isinstance(own, dict) and "version" in own:
        return str(own["version"])
    versions = expect.get("versions", {})
    return str(versions[tool]) if isinstance(versions, dict) and tool in versions else None


def _bounds(table: Mapping[str, Any]) -> tuple[float, float, str]:
    low, high = float(table.get("min", 0.0)), float(table.get("max", 1.0))
    return low, high, f"{low:g}..{high:g}"


def _fraction_result(tool: str, what: str, hits: int, total: int, table: Mapping[str, Any]) -> Result:
    low, high, text = _bounds(table)
    value = hits / total if total else 0.0
    return Result(tool, what, f"{hits}/{total} = {value:.2f}", text, total > 0 and low - 1e-9 <= value <= high + 1e-9)


# -- running the lab ---------------------------------------------------------------------


@dataclass
class RunningLab:
    lab: Hierarchy
    time_scale: float

    def seconds(self, value: Any) -> float:
        """A lab duration from [expect] in real seconds at this lab's time scale."""
        from fakens.scenario import parse_duration, scaled

        return scaled(parse_duration(value), self.time_scale) if value is not None else 0.0

    def move_to(self, at: Any) -> None:
        """Move the (paused) lab clock to *at* (lab time, scaled) and wait for the events due."""
        target = self.seconds(at)
        clock = self.lab.clock
        if target > clock.now():
            clock.advance(target - clock.now() + 0.001)  # a hair past: timers due "at" it fire
        self.settle()

    def settle(self, deadline: float = 15.0) -> None:
        end = time.monotonic() + deadline
        now = self.lab.clock.now()
        while time.monotonic() < end:
            if all(e.done for e in self.lab.timeline.events if e.at < now):
                return
            time.sleep(0.02)
        raise ConfigError("the lab's timeline events did not finish within 15 s")

    def clear_logs(self) -> None:
        for server in self.lab.servers.values():
            server.log.clear()


@contextmanager
def running(scenario: Scenario, fix: bool, time_scale: float) -> Iterator[RunningLab]:
    """The lab of *scenario* started (background thread), its clock paused once the
    events at 0 (a fix's) have run."""
    from fakens.scenario import build_lab

    lab = build_lab(scenario, time_scale=time_scale, fix=fix, clock=LabClock(0.0))
    lab.start()
    try:
        clock = lab.clock
        if isinstance(clock, LabClock):
            clock.pause()
        run = RunningLab(lab, time_scale)
        run.settle()
        yield run
    finally:
        lab.stop()


# -- unbound -----------------------------------------------------------------------------


@dataclass
class Observation:
    rcode: str
    answer: list[str]
    soa: str | None
    soa_ttl: int | None
    ad: bool = False
    ede: tuple[int, ...] = ()
    seconds: float = 0.0
    """How long the reply took (the client's clock; a TIMEOUT: the client's timeout)."""


def _observe(reply: dns.message.Message | None, qtype: str) -> Observation:
    if reply is None:
        return Observation("TIMEOUT", [], None, None)
    wanted = dns.rdatatype.from_text(qtype)
    answer = sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rd in rrset)
    soa = next((rrset for rrset in reply.authority if rrset.rdtype == dns.rdatatype.SOA), None)
    ede = tuple(int(o.code) for o in reply.options if isinstance(o, dns.edns.EDEOption))
    return Observation(dns.rcode.to_text(reply.rcode()), answer, None if soa is None else soa.name.to_text(),
                       None if soa is None else soa.ttl, bool(reply.flags & dns.flags.AD), ede)


def _matches(outcome: Mapping[str, Any], seen: Observation) -> bool:
    if "rcode" in outcome and seen.rcode != str(outcome["rcode"]).upper():
        return False
    if "answer" in outcome and seen.answer != sorted(outcome["answer"]):
        return False
    if "soa" in outcome and (seen.soa or "").lower() != _query_key({"qname": outcome["soa"]})[0]:
        return False
    if "soa_ttl" in outcome:
        low, high = outcome["soa_ttl"]
        if seen.soa_ttl is None or not low <= seen.soa_ttl <= high:
            return False
    if "ad" in outcome and seen.ad != outcome["ad"]:
        return False
    if "ede" in outcome and outcome["ede"] not in seen.ede:
        return False
    if "seconds" in outcome:
        low, high = outcome["seconds"]
        if not low <= seen.seconds <= high:
            return False
    return True


def _describe(outcome: Mapping[str, Any]) -> str:
    if outcome.get("description"):
        return str(outcome["description"])
    said = [f"{k}={outcome[k]}" for k in ("rcode", "answer", "soa", "soa_ttl", "ad", "ede", "seconds") if k in outcome]
    return f"{outcome.get('qname')} {outcome.get('qtype', 'A')} {' '.join(said)}"


def ask(address: tuple[str, int], qname: str, qtype: str, timeout: float = 8.0,
        dnssec: bool = False) -> dns.message.Message | None:
    """One recursive query (None on timeout); *dnssec*: with EDNS, DO and AD, as a validating
    stub asks (the AD bit and extended errors of the answer say what the validator made of it)."""
    if dnssec:
        query = dns.message.make_query(qname, qtype, use_edns=0, payload=1232, want_dnssec=True)
        query.flags |= dns.flags.AD
    else:
        query = dns.message.make_query(qname, qtype)
    try:
        return dns.query.udp(query, address[0], port=address[1], timeout=timeout)
    except dns.exception.Timeout:
        return None


def verify_resolver(run: RunningLab, expect: Mapping[str, Any], report: Report, directory: str,
                    trials: int | None = None, tool: str = "unbound", measured: str | None = None) -> None:
    """Start resolver *tool* in front of the running lab and check *expect* (its resolver table) with it."""
    from fakens.resolvers import start_resolver

    signed = run.lab.signed  # validated: AD and extended errors in the answers
    resolver = start_resolver(tool, run.lab, directory, qname_minimisation=bool(expect.get("qname_minimisation", False)))
    report.versions[tool] = resolver.version
    if measured is None:
        report.notes.append(f"{tool} {resolver.version} (the table records no version measured for {tool})")
    elif measured != resolver.version:
        report.notes.append(f"{tool} {resolver.version}: the table was measured with {tool} {measured}")
    else:
        report.notes.append(f"{tool} {resolver.version}, as the table was measured with")
    try:
        steps = expect.get("steps") or [expect]
        queries_before: list[Any] = expect.get("queries", [])
        for number, step in enumerate(steps):
            queries = step.get("queries", queries_before)
            queries_before = queries
            run.move_to(step.get("at", 0))
            wait = run.seconds(step.get("wait"))
            if wait:
                time.sleep(wait)
            n = trials or int(step.get("trials", expect.get("trials", 10)))
            flush = bool(step.get("flush", True))
            seen: dict[tuple[str, str], list[Observation]] = {}
            asked: dict[str, list[set[str]]] = {}
            for _ in range(n):
                if flush:
                    resolver.flush()
                for query in queries:
                    run.clear_logs()
                    key = _query_key(query)
                    began = time.monotonic()
                    observed = _observe(ask(resolver.address, key[0], key[1], dnssec=signed), key[1])
                    observed.seconds = time.monotonic() - began
                    seen.setdefault(key, []).append(observed)
                    servers = {name for name, server in run.lab.servers.items()
                               if any(str(e.qname).lower() == key[0] for e in server.log)}
                    asked.setdefault(key[0], []).append(servers)
            prefix = f"step {number + 1}: " if len(steps) > 1 else ""
            if len(steps) > 1:
                report.notes.append(f"step {number + 1}: {step.get('description', '')} (lab time "
                                    f"{run.lab.clock.now():g} s, {n} trial(s), {'fresh' if flush else 'cached'})")
            for outcome in step.get("outcomes", []):
                got = seen.get(_query_key(outcome), [])
                hits = sum(_matches(outcome, o) for o in got)
                result = _fraction_result(tool, prefix + _describe(outcome), hits, len(got), outcome)
                if not result.ok:
                    kinds = sorted({f"{o.rcode} {o.answer}" + (f" AD={o.ad} EDE={list(o.ede)}" if signed else "")
                                    for o in got})
                    result.observed += f"; seen: {', '.join(kinds[:4])}"
                if "seconds" in outcome and got:
                    took = sorted(o.seconds for o in got)
                    result.observed += f"; took {took[0]:.1f}-{took[-1]:.1f} s, median {took[len(took) // 2]:.1f}"
                report.results.append(result)
            for count in step.get("asked", []):
                qname = _query_key(count)[0]
                names = {_query_key({"qname": s})[0] for s in count.get("servers", [])}
                per_trial = asked.get(qname, [])
                hits = sum(bool(names & s) for s in per_trial)
                what = count.get("description") or f"{qname} asked of {', '.join(sorted(names))}"
                report.results.append(_fraction_result(tool, prefix + str(what), hits, len(per_trial), count))
    finally:
        resolver.stop()


# -- mail: a sender resolving MX through unbound, sinks on the MX hosts' addresses ----------


def verify_mail(run: RunningLab, expect: Mapping[str, Any], report: Report, directory: str) -> None:
    import smtplib

    from aiosmtpd.controller import Controller

    from fakens.testing import start_unbound

    sinks = expect.get("sinks", [])
    domain = str(expect["domain"])
    counts: dict[str, int] = {str(s.get("name", s["address"])): 0 for s in sinks}

    class Sink:
        def __init__(self, name: str) -> None:
            self.name = name

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            counts[self.name] += 1
            return "250 OK"

    controllers = []
    try:
        for sink in sinks:
            name = str(sink.get("name", sink["address"]))
            controller = Controller(Sink(name), hostname=str(sink["address"]), port=int(sink.get("port", 25)))
            controller.start()
            controllers.append(controller)
        ports = {str(s["address"]): int(s.get("port", 25)) for s in sinks}
        unbound = start_unbound(run.lab, directory, qname_minimisation=False)
        lost = 0
        messages = int(expect.get("messages", 10))
        try:
            for i in range(messages):
                unbound.flush()  # each message from a sender whose resolver starts fresh
                target = _mail_target(unbound.address, domain)
                if target is None or target not in ports:
                    lost += 1
                    continue
                try:
                    with smtplib.SMTP(target, ports[target], timeout=10) as smtp:
                        smtp.sendmail(f"sender{i}@sender.test", [f"user@{domain.rstrip('.')}"],
                                      f"Subject: lab message {i}\r\n\r\nfrom fakens lab verify\r\n")
                except (OSError, smtplib.SMTPException):
                    lost += 1
        finally:
            unbound.stop()
    finally:
        for controller in controllers:
            controller.stop()
    landed = ", ".join(f"{name} {count}" for name, count in counts.items())
    report.notes.append(f"mail: {messages} messages to {domain} through the lab's resolver: {landed}, "
                        f"undelivered {lost}")
    for sink in sinks:
        name = str(sink.get("name", sink["address"]))
        report.results.append(_fraction_result("mail", f"messages that landed on {name} ({sink['address']})",
                                               counts[name], messages, sink))


def _mail_target(address: tuple[str, int], domain: str) -> str | None:
    """The address a sender delivers to: the best MX's first A (None: no delivery)."""
    reply = ask(address, domain, "MX")
    if reply is None or reply.rcode() != dns.rcode.NOERROR:
        return None
    exchanges = sorted((rd.preference, rd.exchange.to_text()) for rrset in reply.answer
                       if rrset.rdtype == dns.rdatatype.MX for rd in rrset)
    for _, host in exchanges:
        a = ask(address, host, "A")
        if a is not None:
            found = _observe(a, "A").answer
            if found:
                return found[0]
    return None


# -- zonemaster ------------------------------------------------------------------------


def _tag_found(tag: str, found: set[tuple[str, str]]) -> bool:
    if ":" in tag:
        module, name = tag.split(":", 1)
        return (module.upper(), name.upper()) in found
    return any(name == tag.upper() for _, name in found)


def zonemaster_findings(lab: Hierarchy, domain: str, directory: str, timeout: float = 300) -> list[dict[str, Any]]:
    """Every message zonemaster-cli emits for *domain* against the lab (JSON stream, level INFO)."""
    binary = shutil.which("zonemaster-cli")
    if binary is None:
        raise FileNotFoundError("zonemaster-cli")
    hints = lab.write_root_hints(os.path.join(directory, "root.hints"))
    done = subprocess.run([binary, domain, "--hints", hints, "--no-ipv6", "--level", "INFO", "--json-stream"],
                          capture_output=True, text=True, timeout=timeout, check=False)
    out = []
    for line in done.stdout.splitlines():
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict) and "tag" in message:
            out.append(message)
    if not out:
        raise ConfigError(f"zonemaster-cli gave no messages (exit {done.returncode}): {done.stderr[-500:]}")
    return out


def _verify_tags(tool: str, found: set[tuple[str, str]], expect: Mapping[str, Any], report: Report) -> None:
    for tag in expect.get("must", []):
        ok = _tag_found(tag, found)
        report.results.append(Result(tool, f"reports {tag}", "reported" if ok else "not reported", "reported", ok))
    for tag in expect.get("must_not", []):
        ok = not _tag_found(tag, found)
        report.results.append(Result(tool, f"does not report {tag}", "not reported" if ok else "reported",
                                     "not reported", ok))


def verify_checker(run: RunningLab, expect: Mapping[str, Any], report: Report, directory: str) -> None:
    domain = str(expect.get("domain") or "")
    messages = zonemaster_findings(run.lab, domain, directory)
    found = {(str(m.get("module", "")).upper(), str(m["tag"]).upper()) for m in messages}
    serious = sorted({f"{m.get('module')}:{m['tag']}" for m in messages
                      if m.get("level") in ("WARNING", "ERROR", "CRITICAL")})
    report.notes.append(f"zonemaster-cli {domain}: {len(messages)} messages; WARNING or worse: "
                        f"{', '.join(serious) or 'none'}")
    _verify_tags("zonemaster", found, expect, report)


def verify_dnsviz(run: RunningLab, expect: Mapping[str, Any], report: Report, directory: str) -> None:
    """``dnsviz probe`` + ``grok`` of [expect.dnsviz]'s domain (a name or a list; ``types``: only those
    query types) in the running lab, at lab time ``at`` (fakens.dnsviz): ``must``/``must_not`` codes
    (``ERROR:``, ``WARNING:``, ``STATUS:`` or bare), ``errors`` exactly."""
    from fakens.dnsviz import run_dnsviz

    names = expect.get("domain") or []
    names = [str(names)] if isinstance(names, str) else [str(n) for n in names]
    domain = " ".join(names)
    run.move_to(expect.get("at", 0))
    result = run_dnsviz(run.lab, names, directory, types=[str(t) for t in expect.get("types") or []])
    report.versions["dnsviz"] = result.version
    measured = expect.get("version")
    said = "the table records no version measured" if measured is None else \
        "as the table was measured with" if measured == result.version else f"the table was measured with {measured}"
    statuses = sorted({code for kind, code in result.codes if kind == "STATUS"})
    report.notes.append(f"dnsviz {result.version} ({said}) {domain}: errors {', '.join(result.errors) or 'none'}; "
                        f"warnings {', '.join(result.warnings) or 'none'}; statuses {', '.join(statuses) or 'none'}; "
                        f"grok output {result.grok_path}")
    _verify_tags("dnsviz", result.codes, expect, report)
    if "errors" in expect:
        wanted = sorted({str(code).upper() for code in expect["errors"]})
        report.results.append(Result("dnsviz", "its errors, exactly", ", ".join(result.errors) or "none",
                                     ", ".join(wanted) or "none", result.errors == wanted))


def verify_zonecheck(scenario: Scenario, fix: bool, expect: Mapping[str, Any], report: Report) -> None:
    from fakens.scenario import load_scenario

    used = load_scenario(scenario.fix.file) if fix and scenario.fix is not None and scenario.fix.file else scenario
    codes = {("", w.code.upper()) for spec in used.zones for w in spec.zone.warnings}
    report.notes.append(f"zone check: {', '.join(sorted(c for _, c in codes)).lower() or 'no findings'}")
    _verify_tags("zonecheck", codes, expect, report)


# -- BIND named as a secondary -------------------------------------------------------------


def verify_secondary(run: RunningLab, expect: Mapping[str, Any], report: Report, directory: str) -> None:
    from fakens.testing import find_tool, free_port

    binary = find_tool("named")
    if binary is None:
        raise FileNotFoundError("named")
    port = free_port()
    run.lab.set_secondary(("127.0.0.1", port))  # servers whose notify names "secondary" NOTIFY this named
    config = os.path.join(directory, "named-secondary.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(run.lab.named_secondary_config(port, directory))
    log_path = os.path.join(directory, "named.log")
    zone = _query_key({"qname": expect.get("zone", "")})[0]
    qname, qtype = _query_key({"qname": expect.get("qname", zone), "qtype": expect.get("qtype", "A")})
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, "-g", "-c", config], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    address = ("127.0.0.1", port)
    from fakens.scenario import parse_duration

    def read_log() -> str:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def state() -> tuple[int | None, Observation]:
        try:
            soa = dns.query.udp(dns.message.make_query(zone, "SOA", flags=0), address[0], port=port, timeout=1)
            serial = next((rd.serial for rrset in soa.answer if rrset.rdtype == dns.rdatatype.SOA for rd in rrset),
                          None)
            reply = dns.query.udp(dns.message.make_query(qname, qtype, flags=0), address[0], port=port, timeout=1)
        except (dns.exception.Timeout, OSError):
            return None, Observation("TIMEOUT", [], None, None)
        return serial, _observe(reply, qtype)

    try:
        offset = 0
        for number, step in enumerate(expect.get("steps", [])):
            begun = len(read_log())  # no_log: named's log from this step on
            run.move_to(step.get("at", 0))
            within = parse_duration(step.get("within", "20s"))
            hold = parse_duration(step.get("hold", 0))

            def holds(step: Mapping[str, Any] = step, since: int = offset, begun: int = begun) -> tuple[bool, str]:
                serial, seen = state()
                ok = True
                if "serial" in step:
                    ok &= serial == step["serial"]
                if "answer" in step:
                    ok &= seen.answer == sorted(step["answer"])
                if "rcode" in step:
                    ok &= seen.rcode == str(step["rcode"]).upper()
                if "log" in step:
                    ok &= re.search(str(step["log"]), read_log()[since:]) is not None
                if "no_log" in step:
                    ok &= re.search(str(step["no_log"]), read_log()[begun:]) is None
                return bool(ok), f"serial {serial}, {seen.rcode} {seen.answer}"

            end = time.monotonic() + within
            ok, observed = holds()
            while not ok and time.monotonic() < end and process.poll() is None:
                time.sleep(0.2)
                ok, observed = holds()
            waited = within - max(0.0, end - time.monotonic())
            if ok and hold:
                end = time.monotonic() + hold
                while ok and time.monotonic() < end:
                    time.sleep(0.2)
                    ok, observed = holds()
                observed += f", held {hold:g} s" if ok else ", then changed"
            else:
                observed += f" after {waited:.1f} s"
            said = [f"{k} {step[k]}" for k in ("serial", "answer", "rcode") if k in step]
            if "log" in step:
                said.append(f"log /{step['log']}/")
            if "no_log" in step:
                said.append(f"no log /{step['no_log']}/")
            what = f"step {number + 1} (lab time {run.lab.clock.now():.0f} s)" + (
                f": {step['description']}" if step.get("description") else "")
            report.results.append(Result("named-secondary", what, observed, ", ".join(said), ok))
            offset = len(read_log()) if "log" in step else offset
        log_text = read_log()
        ours = re.escape(zone.rstrip("."))
        completed = len(re.findall(rf"transfer of '{ours}/IN' from \S+: Transfer completed", log_text))
        refused = len(re.findall(rf"'{ours}/IN'.*REFUSED", log_text))
        report.notes.append(f"named secondary on 127.0.0.1#{port}: {completed} transfers of {zone} completed, "
                            f"{refused} log lines with REFUSED; log {log_path}")
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


# -- the command ------------------------------------------------------------------------


def _tool_list(scenario: Scenario, tools: Sequence[str] | None) -> list[str]:
    """*tools* as given (``all`` and the default expanded): known names and commands."""
    from fakens.toolcmd import commands_of

    out: list[str] = []
    for tool in tools or ["default"]:
        names = {"all": [*TOOLS, *commands_of(scenario)], "default": [*DEFAULT_TOOLS, *commands_of(scenario)]}
        out += [t for t in names.get(tool, [tool]) if t not in out]
    return out


def wanted_tools(scenario: Scenario, tools: Sequence[str] | None) -> list[tuple[str, str | None]]:
    """Those of *tools* the scenario's [expect] has symptoms for, each (name, command: None for a tool
    fakens knows); a ConfigError when none."""
    from fakens.toolcmd import command_name, custom_tool

    expect = scenario.expect
    wanted: list[tuple[str, str | None]] = []
    for tool in _tool_list(scenario, tools):
        if tool in TOOLS:
            if any(tool in _SECTION_TOOLS.get(s, ()) for s in expect):
                wanted.append((tool, None))
            continue
        found = custom_tool(scenario, tool)
        if found is not None:
            wanted.append(found)
    if not wanted:
        asked = ", ".join(t if t in TOOLS or t in ("all", "default") else f"{t} ([expect.tool.{command_name(t)}])"
                          for t in tools or ["default"])
        raise ConfigError(f"{scenario.path}: [expect] has nothing for {asked} (sections: "
                          f"{', '.join(expect) or 'none'}); pick a --tool it has, or add an [expect] section "
                          f"(docs/scenarios.md)")
    return wanted


def _isolated() -> bool:
    """Is this process in a network namespace with loopback only (nothing it starts can leave it)?"""
    import socket

    return all(name == "lo" for _, name in socket.if_nameindex())


def verify(scenario: Scenario, tools: Sequence[str] | None, fix: bool = False, trials: int | None = None,
           time_scale: float | None = None, directory: str | None = None,
           say: Callable[[str], None] = lambda text: None) -> Report:
    """Run the lab of *scenario* and check each tool's symptoms; the report says what held.

    *tools*: names (``unbound``, ``kresd``, ...), ``all``, or shell commands ([expect.tool.NAME])."""
    from fakens.toolcmd import verify_command

    problems = expect_problems(scenario)
    if problems:
        from fakens.scenario import ScenarioError

        raise ScenarioError(problems)
    expect = scenario.expect
    scale = float(time_scale or expect.get("time_scale", 1.0))
    report = Report(scenario.name, fix)
    if scale != 1:
        report.notes.append(f"time scale 1/{scale:g}")
    # absolute: the tools are given paths inside it (unbound reads a relative control-interface as a host name)
    directory = os.path.abspath(directory) if directory else tempfile.mkdtemp(prefix=f"fakens-verify-{scenario.name}-")
    for tool, command in wanted_tools(scenario, tools):
        if (command is not None or tool in _ISOLATED) and not _isolated():
            raise ConfigError(f"--tool {tool}: resolvers and commands run only in a network namespace with "
                              "loopback alone (nothing they ask may leave the lab): use fakens lab verify, which "
                              "enters one itself, or run under unshare -n")
        if tool == "zonecheck":
            verify_zonecheck(scenario, fix, _section(expect["zonecheck"], fix), report)
            continue
        sections = ["tool"] if command is not None else [s for s in expect if tool in _SECTION_TOOLS.get(s, ())]
        for section in sections:
            table = _section(expect["tool"][tool] if command is not None else resolver_table(expect[section], tool)
                             if section == "resolver" else expect[section], fix)
            sub = os.path.join(directory, f"{tool}-{section}{'-fixed' if fix else ''}")
            os.makedirs(sub, exist_ok=True)
            say(f"{scenario.name}{' --fix' if fix else ''}: {tool}: {section} ...")
            with running(scenario, fix, scale) as run:
                if command is not None:
                    verify_command(run, scenario, fix, tool, command, table, report, os.path.abspath(sub))
                elif section == "resolver":
                    verify_resolver(run, table, report, sub, trials, tool, measured_version(expect[section], tool))
                elif section == "mail":
                    if importlib.util.find_spec("aiosmtpd") is None:
                        report.results.append(Result(
                            "mail", "messages delivered through the lab's resolver", "not checked: the mail sinks "
                            "need aiosmtpd, which is not installed", "pip install 'fakens[lab]'", False))
                        continue
                    verify_mail(run, table, report, sub)
                elif section == "checker":
                    verify_checker(run, table, report, sub)
                elif section == "dnsviz":
                    verify_dnsviz(run, table, report, sub)
                else:
                    verify_secondary(run, table, report, sub)
    return report


def add_verify_parser(lab_sub: Any) -> None:
    """``fakens lab verify`` (called from fakens.labcli)."""
    p = lab_sub.add_parser("verify", help="run a lab with real tools and check its [expect] symptoms",
                           description="Start the lab in this process (host loopback, port 53), run real tools "
                                       "against it and compare what they show with the scenario's [expect] "
                                       "(docs/scenarios.md). Exit 0 when every expectation holds, 1 otherwise.")
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help="scenario files, or names of shipped labs (fakens lab list); each is verified in turn")
    p.add_argument("--all-shipped", action="store_true", help="every shipped lab (fakens lab list) that has "
                   "symptoms for the tools asked")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (a list, one object per lab)")
    p.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML (for CI systems)")
    p.add_argument("--tool", action="append", metavar="TOOL", help=f"the tool(s) to run, repeatable: "
                   f"{', '.join(TOOLS)}; all (each of them); or a shell command, checked against "
                   "[expect.tool.NAME] (NAME: its first word). Default: "
                   f"{', '.join(DEFAULT_TOOLS)} and the [expect.tool] tables with a command")
    p.add_argument("--fix", action="store_true", help="apply the fix and check the symptoms with the fix")
    p.add_argument("--and-fix", action="store_true", help="each lab as it is, then with its fix (if it has one)")
    p.add_argument("--trials", type=int, metavar="N", help="fresh resolutions per step (default: [expect]'s trials)")
    p.add_argument("--time-scale", type=float, metavar="N", help="play the lab N times faster "
                   "(default: [expect]'s time_scale, else 1)")
    p.add_argument("--dir", metavar="DIR", help="where the tools' configs and logs go (default: a new /tmp dir)")
    p.add_argument("--netns", action="store_true", help="run in a private network namespace of its own "
                   "(unshare -n; root, or a user namespace): port 53 and the mail sinks' port 25 are free there")


NETNS_ENV = "FAKENS_VERIFY_NETNS"


def run_verify(args: Any) -> int:
    """``fakens lab verify``: the exit status."""
    from fakens.catalog import shipped_labs
    from fakens.scenario import load_scenario

    paths = list(args.scenarios)
    if not paths and not args.all_shipped:
        raise ConfigError("lab verify: name a SCENARIO (a file or a shipped lab: fakens lab list) or --all-shipped")
    scenarios = [load_scenario(path) for path in paths]  # every file checked before any lab starts
    if args.all_shipped:
        shipped = [load_scenario(path) for path in shipped_labs().values()]
        scenarios += [sc for sc in shipped if _has_any(sc, args.tool)]
    for scenario in scenarios:
        problems = expect_problems(scenario)
        if problems:
            from fakens.scenario import ScenarioError

            raise ScenarioError(problems)
    wanted = {scenario.path: wanted_tools(scenario, args.tool) for scenario in scenarios}
    resolving = any(command is not None or tool in _ISOLATED for tools in wanted.values() for tool, command in tools)
    if (args.netns or (resolving and not _isolated())) and not os.environ.get(NETNS_ENV):
        if not args.netns:
            print("lab verify: resolvers and commands run in a network namespace of their own (unshare -n), "
                  "so nothing they ask leaves the lab", file=sys.stderr)
        unshare = shutil.which("unshare")
        if unshare is None:
            raise ConfigError("--netns needs unshare (util-linux)")
        how = ["--net"] if os.geteuid() == 0 else ["--net", "--user", "--map-root-user"]
        argv = [a for a in sys.argv[1:] if a != "--netns"]
        return subprocess.call([unshare, *how, "--", sys.executable, "-m", "fakens", *argv],
                               env={**os.environ, NETNS_ENV: "1"})
    if os.environ.get(NETNS_ENV):
        subprocess.run([shutil.which("ip") or "/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    reports: list[Report] = []
    runs = [(sc, fix) for sc in scenarios
            for fix in (([False, True] if sc.fix is not None else [False]) if args.and_fix else [bool(args.fix)])]
    for scenario, fix in runs:
        directory = args.dir
        if args.dir and len(runs) > 1:
            directory = os.path.join(args.dir, scenario.name + ("-fixed" if fix and args.and_fix else ""))
        try:
            report = verify(scenario, args.tool, fix=fix, trials=args.trials, time_scale=args.time_scale,
                            directory=directory, say=lambda text: print(text, file=sys.stderr, flush=True))
        except FileNotFoundError as e:
            raise ConfigError(f"{e.args[0] if e.args else e} is not installed (Debian: scripts/install-tools)") from None
        print(report.text(), flush=True)
        reports.append(report)
    if len(reports) > 1:
        failed = [r.title for r in reports if not r.ok]
        print(f"{len(reports) - len(failed)}/{len(reports)} labs hold" + (f"; failed: {', '.join(failed)}" if failed else ""))
    if args.json:
        _write(args.json, json.dumps([r.as_json() for r in reports], indent=2) + "\n")
    if args.junit:
        _write(args.junit, junit_xml(reports))
    return 0 if all(r.ok for r in reports) else 1


def _has_any(scenario: Scenario, tools: Sequence[str] | None) -> bool:
    try:
        wanted_tools(scenario, tools)
    except ConfigError:
        return False
    return True


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as e:
        raise ConfigError(f"{path}: cannot write it: {e.strerror}") from None
