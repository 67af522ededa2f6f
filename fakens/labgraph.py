"""Draw a lab's delegation tree, so the outage is seen before a table is read.

::

    fakens lab check lab.toml --graph lab.svg       # also `fakens lab up` / `lab run` with --graph FILE

    from fakens.labgraph import lab_dot, lab_problems, write_graph
    write_graph(lab, "lab.svg")      # .svg and .png run Graphviz's dot (apt-get install graphviz)
    write_graph(lab, "lab.dot")      # DOT text: no Graphviz needed (render it with dot -Tsvg later)
    text = lab_dot(lab)              # the same DOT text, as a string
    for problem in lab_problems(lab):
        print(problem.kind, problem.zone, problem.text)

What the drawing shows (the lab as it is when drawn: zone data, faults and running servers
now, not the timeline's later events):

- a box per zone of ``lab.all_zones``, named as in the lab (an "old" and a "new" provider's
  copy of one origin are two boxes), with its origin and serial;
- a box per server: its name, the other NS names it answers as, its addresses, and its faults
  in red (a red border; "stopped" for a server of a running lab that is not running);
- grey lines from a zone down to the servers that serve it, black arrows from a parent zone to the
  child zones it delegates to (a dotted grey arrow to a copy of an origin the parent's NS
  records do not lead to: "not delegated");
- in red, what is wrong: a parent whose NS set is not the child's apex NS set (a red dashed
  arrow, ``parent: a, b / child: a, c``); an NS name no server answers as (a dashed red box);
  an NS name whose server does not serve the zone (a red dashed arrow "lame"); glue in the parent
  that is not the address its server listens on, or in-bailiwick glue missing; an in-zone NS
  host without an address record (or with another address than its server's), on the zone's
  box; a parent that has no NS records for a child at all. The graph's caption lists them all.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rdatatype

from fakens.errors import ConfigError
from fakens.faults.base import Fault, format_spec
from fakens.lab import Hierarchy, HierarchyServer
from fakens.zones import Name, Zone

FORMATS: dict[str, str | None] = {".svg": "svg", ".dot": None, ".png": "png"}
"""The extensions write_graph knows, and the Graphviz output format of each (None: DOT text)."""

_RED = "#c00000"
_GREY = "#777777"
_MAX_LINE = 90  # a fault's spec is cut to this many characters on its server's box


@dataclass(frozen=True)
class Problem:
    """One thing wrong between a lab's zones and servers, as the graph shows it.

    *kind*: ``ns-mismatch``, ``no-delegation``, ``no-server``, ``lame``, ``glue``, ``no-glue``,
    ``no-address``, ``address`` or ``no-ns``; *zone*: the zone's name in the lab; *host*: the NS
    host concerned, if one is."""

    kind: str
    zone: str
    text: str
    host: str | None = None


def write_graph(lab: Hierarchy, path: str | os.PathLike[str]) -> None:
    """Draw *lab* to *path*: ``.dot`` (DOT text), ``.svg`` or ``.png`` (Graphviz's ``dot``).

    Raises ConfigError for another extension, a missing ``dot``, or a file that cannot be written."""
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise ConfigError(f"cannot draw a graph to {path!r}: unknown extension {extension or '(none)'}; "
                          f"give a file ending {', '.join(FORMATS)}")
    text = lab_dot(lab)
    output = FORMATS[extension]
    if output is None:
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise ConfigError(f"cannot write the graph {path}: {e.strerror}") from None
        return
    _render(text, output, path)


def _render(text: str, output: str, path: str) -> None:
    dot = shutil.which("dot")
    if dot is None:
        raise ConfigError(f"drawing {path} needs Graphviz's `dot`, which is not installed: apt-get install graphviz "
                          "(the Debian package graphviz), or write a .dot file and render it elsewhere "
                          "(dot -Tsvg lab.dot > lab.svg)")
    try:
        done = subprocess.run([dot, f"-T{output}", "-o", path], input=text.encode("utf-8"),
                              capture_output=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ConfigError(f"cannot run {dot} for {path}: {e}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip()
        raise ConfigError(f"{dot} -T{output} could not write {path} (exit {done.returncode}): {message}")


def lab_dot(lab: Hierarchy) -> str:
    """The DOT text of *lab*'s delegation tree (see the module docstring)."""
    return _Drawing(lab).dot()


def lab_problems(lab: Hierarchy) -> list[Problem]:
    """What the graph of *lab* shows in red, in the order drawn."""
    return _Drawing(lab).problems


# -- reading the lab ------------------------------------------------------------------------


@dataclass
class _Edge:
    tail: str
    head: str
    label: list[str] = field(default_factory=list)
    color: str = "black"
    style: str = "solid"
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class _HostCheck:
    """An NS name of a zone that leads nowhere useful: *sources* say whose NS set names it."""

    zone: Zone
    host: Name
    member: HierarchyServer | None
    sources: list[str] = field(default_factory=list)


class _Drawing:
    """Everything the graph shows, read from the lab once."""

    def __init__(self, lab: Hierarchy) -> None:
        self.lab = lab
        self.zones = _lab_zones(lab)
        self.zone_id = {id(z): f"zone{i}" for i, z in enumerate(self.zones.values())}
        self.zone_name = {id(z): name for name, z in self.zones.items()}
        self.member_id = {id(m): f"server{i}" for i, m in enumerate(lab.members)}
        self.by_host: dict[Name, HierarchyServer] = {}
        for member in lab.members:
            for host in member.hosts:
                self.by_host.setdefault(host, member)
        self.problems: list[Problem] = []
        self.zone_notes: dict[int, list[str]] = {}
        self.edges: list[_Edge] = []
        self.host_checks: dict[tuple[int, Name], _HostCheck] = {}
        for zone in self.zones.values():
            self._check_zone(zone)
        for member in lab.members:
            for zone in member.zones:
                if id(zone) in self.zone_id:
                    self.edges.append(_Edge(self.zone_id[id(zone)], self.member_id[id(member)], color=_GREY,
                                            extra={"arrowhead": "none"}))
        self._delegations()
        self.phantom_id: dict[Name, str] = {}
        for check in self.host_checks.values():
            self._host_edge(check)

    def problem(self, kind: str, zone: Zone, text: str, host: Name | None = None) -> str:
        self.problems.append(Problem(kind, self.zone_name[id(zone)], text, None if host is None else host.to_text()))
        return text

    # -- a zone's own data

    def _check_zone(self, zone: Zone) -> None:
        notes = self.zone_notes.setdefault(id(zone), [])
        hosts = _apex_ns(zone)
        if not hosts:
            notes.append(self.problem("no-ns", zone, f"no NS records at {zone.origin}"))
        for host in hosts:
            self._check_host(zone, host, "its NS")
            if not host.is_subdomain(zone.origin):
                continue
            written = _addresses(zone, host)
            member = self.by_host.get(host)
            if not written:
                notes.append(self.problem("no-address", zone, f"NS {host} has no address record", host))
            elif member is not None and not _same_addresses(written, member.addresses):
                notes.append(self.problem("address", zone, f"{host} has {', '.join(written)}; its server listens "
                                                           f"on {', '.join(member.addresses)}", host))

    def _check_host(self, zone: Zone, host: Name, source: str) -> None:
        """Note *host* (named by *source*) when no server answers as it or its server lacks *zone*'s origin."""
        member = self.by_host.get(host)
        if member is not None and any(z.origin == zone.origin for z in member.zones):
            return
        check = self.host_checks.setdefault((id(zone), host), _HostCheck(zone, host, member))
        if source not in check.sources:
            check.sources.append(source)

    def _host_edge(self, check: _HostCheck) -> None:
        zone, host = check.zone, check.host
        named_by = " and ".join(check.sources)
        if check.member is None:
            text = f"{host} ({named_by}): no server answers as this name"
            self.problem("no-server", zone, text, host)
            if host not in self.phantom_id:
                self.phantom_id[host] = f"missing{len(self.phantom_id)}"
            self.edges.append(_Edge(self.zone_id[id(zone)], self.phantom_id[host], ["no server"], _RED, "dashed"))
            return
        text = f"{host} ({named_by}) is lame: its server does not serve {zone.origin}"
        self.problem("lame", zone, text, host)
        self.edges.append(_Edge(self.zone_id[id(zone)], self.member_id[id(check.member)],
                                [f"lame: no {zone.origin}"], _RED, "dashed"))

    # -- delegations

    def _delegations(self) -> None:
        origins: dict[Name, list[Zone]] = {}
        for zone in self.zones.values():
            origins.setdefault(zone.origin, []).append(zone)
        for origin, copies in origins.items():
            if origin == dns.name.root:
                continue
            parent_origin = _closest_enclosing(origins, origin)
            for parent in origins.get(parent_origin, []) if parent_origin is not None else []:
                self._delegation(parent, origin, copies)

    def _delegation(self, parent: Zone, origin: Name, copies: Sequence[Zone]) -> None:
        tail = self.zone_id[id(parent)]
        ns = parent.current.get(origin, dns.rdatatype.NS)
        if ns is None or not len(ns):
            for child in copies:
                text = self.problem("no-delegation", child, f"{self.zone_name[id(parent)]} has no NS records "
                                                            f"for {origin}: nothing leads to it")
                self.edges.append(_Edge(tail, self.zone_id[id(child)], [text], _RED, "dashed"))
            return
        parent_ns = [rd.target for rd in ns]
        delegated = self._delegated(origin, copies, parent_ns)
        for child in copies:
            head = self.zone_id[id(child)]
            if child not in delegated:
                self.edges.append(_Edge(tail, head, ["not delegated"], _GREY, "dotted"))
                continue
            label = self._compare(parent, child, parent_ns)
            mismatch = set(parent_ns) != set(_apex_ns(child))
            self.edges.append(_Edge(tail, head, label, _RED if label else "black", "dashed" if mismatch else "solid",
                                    {"penwidth": "2"} if label else {}))
            for host in parent_ns:
                self._check_host(child, host, f"{self.zone_name[id(parent)]}'s NS")

    def _delegated(self, origin: Name, copies: Sequence[Zone], parent_ns: Sequence[Name]) -> list[Zone]:
        """The copies of *origin* the parent's NS names lead to: those served by one of the names;
        else those whose apex says the same NS; else the lab's zone of that origin."""
        wanted = set(parent_ns)
        served = [c for c in copies if any(wanted & set(m.hosts) for m in self.lab.members if c in m.zones)]
        if served:
            return served
        same = [c for c in copies if set(_apex_ns(c)) == wanted]
        if same:
            return same
        primary = self.lab.zones.get(origin)
        return [primary] if primary is not None and primary in copies else list(copies[:1])

    def _compare(self, parent: Zone, child: Zone, parent_ns: Sequence[Name]) -> list[str]:
        """The differences between what *parent* says of *child* and what *child* and its servers say."""
        label = []
        child_ns = _apex_ns(child)
        if set(parent_ns) != set(child_ns):
            label.append(self.problem("ns-mismatch", child, f"parent: {_names(parent_ns)} / child: {_names(child_ns)}"))
        for host in parent_ns:
            if not host.is_subdomain(parent.origin):
                continue  # out of the parent's bailiwick: no glue
            glue = _addresses(parent, host)
            member = self.by_host.get(host)
            if not glue and host.is_subdomain(child.origin):
                label.append(self.problem("no-glue", child, f"no glue for {host} in {self.zone_name[id(parent)]}", host))
            elif glue and member is not None and not _same_addresses(glue, member.addresses):
                label.append(self.problem("glue", child, f"glue {host} {', '.join(glue)}; server: "
                                                         f"{', '.join(member.addresses)}", host))
        return label

    # -- writing DOT

    def dot(self) -> str:
        count = len(self.problems)
        lines = [
            "digraph lab {",
            '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, nodesep=0.3, ranksep=0.6, '
            "labelloc=b, labeljust=l];",
            '  node [fontname="Helvetica", fontsize=11];',
            '  edge [fontname="Helvetica", fontsize=10];',
            f"  label={_caption(self.lab.name, [f'{p.zone}: {p.text}' for p in self.problems])};",
            f"  // lab {_comment(self.lab.name)}: {len(self.zones)} zones, {len(self.lab.members)} servers, "
            f"{count} problem{'s' if count != 1 else ''}",
        ]
        for name, zone in self.zones.items():
            lines.append(f"  {self.zone_id[id(zone)]} [shape=box, style=\"rounded,filled\", "
                         f"fillcolor=\"#e8f0fe\", color={_quoted(_RED if self.zone_notes[id(zone)] else '#3b6fb6')}, "
                         f"label={_zone_label(name, zone, self.zone_notes[id(zone)])}];")
        for member in self.lab.members:
            faults = _fault_lines(member)
            stopped = member.server is not None and not member.server.running
            bad = bool(faults) or stopped
            lines.append(f"  {self.member_id[id(member)]} [shape=box, style=filled, "
                         f"fillcolor={_quoted('#fff0f0' if bad else '#ffffff')}, color={_quoted(_RED if bad else 'black')}, "
                         f"penwidth={2 if bad else 1}, label={_server_label(self.lab, member, faults, stopped)}];")
        for host, node in self.phantom_id.items():
            glue = sorted({a for z in self.zones.values() for a in _addresses(z, host)})
            rows = [("b", host.to_text()), ("", "no server answers as this name")]
            rows += [("", f"an address in the lab: {', '.join(glue)}")] if glue else []
            lines.append(f"  {node} [shape=box, style=dashed, color={_quoted(_RED)}, fontcolor={_quoted(_RED)}, "
                         f"label={_html_label(rows)}];")
        for edge in self.edges:
            attributes = {"color": _quoted(edge.color), "style": edge.style, **edge.extra}
            if edge.label:
                attributes["label"] = _quoted("\n".join(edge.label))
                attributes["fontcolor"] = _quoted(edge.color)
            lines.append(f"  {edge.tail} -> {edge.head} [{', '.join(f'{k}={v}' for k, v in attributes.items())}];")
        lines.append("}")
        return "\n".join(lines) + "\n"


def _lab_zones(lab: Hierarchy) -> dict[str, Zone]:
    """Every zone of the lab by its name: lab.all_zones, and any zone a server serves that is not in it."""
    zones = dict(lab.all_zones) if lab.all_zones else {o.to_text(): z for o, z in lab.zones.items()}
    known = {id(z) for z in zones.values()}
    for zone in [*lab.zones.values(), *(z for m in lab.members for z in m.zones)]:
        if id(zone) not in known:
            name, n = zone.origin.to_text(), 2
            while name in zones:
                name, n = f"{zone.origin} ({n})", n + 1
            zones[name] = zone
            known.add(id(zone))
    return dict(sorted(zones.items(), key=lambda item: len(item[1].origin)))  # the root first: a tree from the top


def _closest_enclosing(origins: Mapping[Name, object], name: Name) -> Name | None:
    """The closest origin in *origins* above *name* (not *name* itself)."""
    candidate = name
    while len(candidate) > 1:
        candidate = candidate.parent()
        if candidate in origins:
            return candidate
    return None


def _apex_ns(zone: Zone) -> list[Name]:
    ns = zone.current.get(zone.origin, dns.rdatatype.NS)
    return [rd.target for rd in ns] if ns is not None else []


def _addresses(zone: Zone, host: Name) -> list[str]:
    out = []
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        rds = zone.current.get(host, rdtype)
        out += [rd.to_text() for rd in rds] if rds is not None else []
    return out


def _same_addresses(a: Iterable[str], b: Iterable[str]) -> bool:
    def normal(addresses: Iterable[str]) -> set[str]:
        out = set()
        for address in addresses:
            try:
                out.add(str(ipaddress.ip_address(address)))
            except ValueError:
                out.add(address)
        return out

    return normal(a) == normal(b)


def _names(names: Iterable[Name]) -> str:
    return ", ".join(sorted(n.to_text() for n in names)) or "(none)"


def _fault_lines(member: HierarchyServer) -> list[str]:
    """The server's faults, one line each: ``NAME: TYPE params`` (the running server's, once it runs)."""
    faults: Iterable[Any] = member.server.faults if member.server is not None else member.faults
    lines = []
    for fault in faults:
        if isinstance(fault, Fault):
            spec = fault.spec()
            name = str(spec.pop("name", fault.name))
            text = f"{name}: {format_spec(spec)}"
        elif isinstance(fault, Mapping) and "type" in fault:
            spec = dict(fault)
            name = spec.pop("name", None)
            text = f"{name}: {format_spec(spec)}" if name is not None else format_spec(spec)
        else:
            text = str(fault)
        lines.append(text if len(text) <= _MAX_LINE else text[:_MAX_LINE - 1] + "…")
    return lines


# -- labels ---------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _quoted(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, a newline as DOT's \\n (a centred line break)."""
    text = _CONTROL.sub("?", text).replace("\r", "")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _comment(text: str) -> str:
    return _CONTROL.sub("?", text).replace("\r", " ").replace("\n", " ")


def _html(text: str) -> str:
    """Text for a Graphviz HTML-like label (XML): & < > " escaped, control characters replaced,
    a backslash doubled (Graphviz reads \\N, \\G ... in these labels too)."""
    text = _CONTROL.sub("?", text).replace("\r", " ").replace("\n", " ").replace("\\", "\\\\")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _html_label(rows: Sequence[tuple[str, str]]) -> str:
    """An HTML-like label of one cell per row; a row's style: "b" bold, "r" red, "" plain."""
    cells = []
    for style, text in rows:
        content = _html(text)
        if "b" in style:
            content = f"<B>{content}</B>"
        if "r" in style:
            content = f'<FONT COLOR="{_RED}">{content}</FONT>'
        if "s" in style:
            content = f'<FONT POINT-SIZE="9">{content}</FONT>'
        cells.append(f"<TR><TD>{content}</TD></TR>")
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{"".join(cells)}</TABLE>>'


def _zone_label(name: str, zone: Zone, notes: Sequence[str]) -> str:
    origin = zone.origin.to_text()
    rows = [("b", f"zone {name}")]
    rows += [("", origin)] if name != origin else []
    rows.append(("s", f"serial {zone.serial}"))
    rows += [("r", note) for note in notes]
    return _html_label(rows)


def _server_label(lab: Hierarchy, member: HierarchyServer, faults: Sequence[str], stopped: bool) -> str:
    rows = [("b", member.name)]
    rows += [("s", f"also {host}") for host in member.hosts if host != member.host]
    if member.server is not None and member.server.addresses:
        where = [f"{a}#{p}" if p != 53 else a for a, p in member.server.addresses]
    else:
        where = [f"{a}#{lab.port}" if lab.port != 53 else a for a in member.addresses]
    rows.append(("", ", ".join(where) or "(no address)"))
    rows += [("r", "stopped")] if stopped else []
    rows += [("r", f"fault {text}") for text in faults]
    return _html_label(rows)


def _caption(name: str, problems: Sequence[str]) -> str:
    """The graph's caption: the lab's name, then every problem, left-aligned, in red."""
    count = len(problems)
    head = f"<B>lab {_html(name)}</B>: {count} problem{'s' if count != 1 else ''}" + (":" if count else "")
    lines = [head, *(f'<FONT COLOR="{_RED}">{_html(p)}</FONT>' for p in problems)]
    return "<" + "".join(f'{line}<BR ALIGN="LEFT"/>' for line in lines) + ">"
