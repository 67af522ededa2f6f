"""A fake DNS hierarchy in one call: root, TLD and zone servers on loopback, with delegations and glue.

Referrals carry no port, so a resolver that follows them always goes to port
53: every server of a hierarchy gets its own 127.x.y.z address on port 53
(root, CAP_NET_BIND_SERVICE, or a private network namespace: ``unshare -n``)::

    hierarchy = build_hierarchy([Zone.from_file("zones/example.test.zone")])
    with hierarchy:                                   # starts every server
        print(hierarchy.root_hints)                   # ". NS a.root-servers.test." + its address
        hierarchy.servers_for("example.test.")        # the zone's servers (one per NS host)
        result = hierarchy.tracer().resolve("www.example.test.", "A")
        open("unbound.conf", "w").write(hierarchy.unbound_config(port=5300, directory="/tmp/u"))

Addresses come from a block per pytest-xdist worker (worker N uses
127.(N+1).x.y; without xdist, 127.1.x.y) and per hierarchy (x counts up), so
parallel workers never collide; a block whose first address is taken on the
port (another run) is skipped. Given zones are served as they are, except
that the addresses of their in-zone NS hosts are set to the addresses chosen
for them (the glue in the parent says the same); one of a zone's own NS hosts
that the zone gives no address keeps none, while the parent's glue still has
it (the mail-migration incident: an NS host without an address). A zone's NS hosts each get a
server of their own, so one of them can be given a fault ("ns2 answers
NXDOMAIN"); an NS host in no zone of the hierarchy cannot be resolved and
gets no server. TLDs that are not given are made, with ``tld_servers`` servers each
(default 1), named ns1.nic.TLD. ... .
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import dns.name
import dns.rdatatype

from fakens.clock import LabClock, ManualClock
from fakens.dnssec import DnssecPolicy, add_ds_records, sign_zone
from fakens.dnssec.anchors import ds_text, write_trust_anchors
from fakens.errors import ConfigError, ServerError
from fakens.server import Server
from fakens.timeline import Timeline
from fakens.trace import Tracer
from fakens.zones import Name, Zone, load_zones

ROOT_SERVER = dns.name.from_text("a.root-servers.test.")
_SOA = "{origin} 3600 SOA {ns} hostmaster.{origin_text} 1 3600 600 86400 300"

_block_lock = threading.Lock()
_blocks = itertools.count()


def worker_octet() -> int:
    """The second octet of this process's address range: pytest-xdist worker N uses N+1."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return (int(worker[2:]) + 1) % 255 or 255
    return 1


def _free_block(second: int, port: int) -> int:
    """The next address block (127.second.BLOCK.x) whose first address is free on *port*."""
    for _ in range(256):
        with _block_lock:
            block = next(_blocks) % 256
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            probe.bind((f"127.{second}.{block}.10", port))
            return block
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                continue  # another hierarchy (another worker, another run) holds it: next block
            raise ServerError(bind_error_hint(f"cannot bind 127.{second}.{block}.10:{port}: {e.strerror}")) from None
        finally:
            probe.close()
    raise ServerError(f"no free address block in 127.{second}.0.0/16 on port {port}")


NOTIFY_SECONDARY = "secondary"
"""A server's ``notify`` target that stands for the lab's secondary (:meth:`Hierarchy.set_secondary`)."""


@dataclass
class HierarchyServer:
    """One server of a lab: its name, the NS host names it answers as, its addresses, its zones.

    *addresses* empty means "give it one" (the planner picks a 127.x address);
    *faults* (spec text or tables) and *options* (Server keyword arguments) apply
    when it starts.
    """

    host: Name
    addresses: list[str]
    zones: list[Zone]
    server: Server | None = None
    hosts: list[Name] = field(default_factory=list)
    faults: list[Any] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    given_addresses: bool = False
    zone_refs: list[str] = field(default_factory=list)
    """Names of zones the planner makes (the root ".", a TLD "io.") that this server serves."""

    def __post_init__(self) -> None:
        if not self.hosts:
            self.hosts = [self.host]

    @property
    def address(self) -> str:
        """The first address (a planned server always has one)."""
        return self.addresses[0]

    @property
    def name(self) -> str:
        return self.host.to_text()


@dataclass
class Hierarchy:
    """Root, TLD and zone servers with delegations and glue (see the module docstring)."""

    port: int
    members: list[HierarchyServer]
    zones: dict[Name, Zone]
    clock: ManualClock
    server_options: dict[str, Any] = field(default_factory=dict)
    name: str = "hierarchy"
    all_zones: dict[str, Zone] = field(default_factory=dict)
    """Every zone by its name in the lab (two zones may share an origin: an old and a new provider)."""
    warnings: list[str] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    """Events on the lab's clock (a scenario's ``[[timeline]]``); they run once the lab starts."""
    time_scale: float = 1.0
    loop: asyncio.AbstractEventLoop | None = None
    """The event loop the servers run in (set by astart)."""
    secondary: tuple[str, int] | None = None
    """Where the lab's secondary listens (:meth:`set_secondary`): the NOTIFY target ``"secondary"`` stands for it."""

    @property
    def servers(self) -> dict[str, Server]:
        """Every running server by its NS host name (``"ns1.example.test."``)."""
        return {m.host.to_text(): m.server for m in self.members if m.server is not None}

    def member(self, host: str | Name) -> HierarchyServer:
        """The planned server named *host* (or answering as *host*)."""
        name = dns.name.from_text(host) if isinstance(host, str) else host
        for member in self.members:
            if member.host == name or name in member.hosts:
                return member
        raise ConfigError(f"no server {name} in this lab (servers: {', '.join(m.name for m in self.members)})")

    def server(self, host: str) -> Server:
        """The server for one NS host name."""
        member = self.member(host)
        if member.server is None:
            raise ConfigError(f"server {member.name} is not running (start the lab first)")
        return member.server

    def servers_for(self, zone: str | Name) -> list[Server]:
        """The servers of a zone, in NS order."""
        origin = dns.name.from_text(zone) if isinstance(zone, str) else zone
        out = [m.server for m in self.members if m.server is not None and any(z.origin == origin for z in m.zones)]
        if not out:
            raise ConfigError(f"no server serves {origin} in this hierarchy (zones: {', '.join(str(z) for z in self.zones)})")
        return out

    @property
    def root_members(self) -> list[HierarchyServer]:
        """The servers of the root zone (the root hints name them)."""
        return [m for m in self.members if any(z.origin == dns.name.root for z in m.zones)]

    @property
    def root_address(self) -> str:
        return self.root_members[0].address

    @property
    def root_hints(self) -> str:
        """Root hints in zone-file form, for unbound, BIND and Zonemaster."""
        lines = []
        for m in self.root_members:
            lines.append(f".                     3600000 NS {m.host}\n")
        for m in self.root_members:
            for address in m.addresses:
                kind = "AAAA" if ":" in address else "A"
                lines.append(f"{m.host}  3600000 {kind}  {address}\n")
        return "".join(lines)

    def write_root_hints(self, path: str | os.PathLike[str]) -> str:
        """Write the root hints to *path* and return the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.root_hints)
        return os.fspath(path)

    def tracer(self, **options: Any) -> Tracer:
        """fakens' iterative resolver, starting at this hierarchy's root."""
        return Tracer([(m.host.to_text(), a) for m in self.root_members for a in m.addresses],
                      port=self.port, **options)

    def special_use_zones(self) -> list[str]:
        """Zones a resolver answers locally by default that this lab serves (or serves below):
        each needs ``local-zone: "NAME" nodefault`` in unbound."""
        return resolver_local_zones(self.zones)

    @property
    def signed(self) -> bool:
        """Is the lab's root signed (a chain of trust a validator can follow from it)?"""
        root = self.zones.get(dns.name.root)
        return root is not None and root.signer is not None

    @property
    def trust_anchors(self) -> str:
        """The signed root's DS records in zone-file form (unbound's ``trust-anchor-file``)."""
        return ds_text([self.zones[dns.name.root]])

    def write_trust_anchors(self, directory: str | os.PathLike[str]) -> dict[str, str]:
        """Write the root's trust anchor to *directory* as ``root.ds`` (DS records: unbound) and
        ``trust-anchors.conf`` (a ``trust-anchors`` clause: BIND's named.conf, ``delv -a``)."""
        return write_trust_anchors([self.zones[dns.name.root]], directory)

    def unbound_config(self, port: int, directory: str, interface: str = "127.0.0.1",
                       control: str | None = None, qname_minimisation: bool = True,
                       do_ip6: bool = False, ede: bool = False) -> str:
        """An unbound.conf that resolves through this hierarchy only (root hints
        written to *directory*/root.hints; the control channel on a unix socket). A signed lab
        is validated: the root's trust anchor in *directory*/root.ds, the validator module on.
        *ede*: ``ede: yes``, extended DNS errors (RFC 8914) in answers to EDNS queries (unbound
        1.16 and later; off by default in unbound)."""
        hints = self.write_root_hints(os.path.join(directory, "root.hints"))
        control = control or os.path.join(directory, "unbound.ctl")
        modules, validation = "iterator", ""
        if self.signed:
            modules = "validator iterator"
            validation = f'  trust-anchor-file: "{self.write_trust_anchors(directory)["ds"]}"\n  val-log-level: 2\n'
        local_zones = "".join(f'  local-zone: "{name}" nodefault\n' for name in self.special_use_zones())
        return (
            "server:\n"
            f"  interface: {interface}\n  port: {port}\n  do-ip6: {'yes' if do_ip6 else 'no'}\n  do-ip4: yes\n"
            '  username: ""\n  chroot: ""\n  logfile: ""\n  pidfile: ""\n'
            f'  directory: "{directory}"\n  root-hints: "{hints}"\n'
            f'  do-not-query-localhost: no\n  module-config: "{modules}"\n{validation}'
            f"{local_zones}"
            + ("  ede: yes\n" if ede else "")
            + "  discard-timeout: 0\n"
            f"  qname-minimisation: {'yes' if qname_minimisation else 'no'}\n"
            "remote-control:\n  control-enable: yes\n  control-use-cert: no\n"
            f'  control-interface: "{control}"\n'
        )

    def named_config(self, port: int, directory: str, listen: str = "127.0.0.1") -> str:
        """A named.conf for BIND as a recursive resolver through this hierarchy only
        (``empty-zones-enable no``: BIND's built-in RFC 6303 zones would shadow the lab's
        reverse zones). A signed lab is validated (its trust anchor in *directory*/trust-anchors.conf)."""
        hints = self.write_root_hints(os.path.join(directory, "root.hints"))
        validation, anchors = "no", ""
        if self.signed:
            validation = "yes"
            anchors = f'include "{self.write_trust_anchors(directory)["bind"]}";\n'
        return (
            "options {\n"
            f'  directory "{directory}"; pid-file "{directory}/named.pid";\n'
            f'  session-keyfile "{directory}/session.key"; managed-keys-directory "{directory}";\n'
            f"  listen-on port {port} {{ {listen}; }}; listen-on-v6 {{ none; }};\n"
            f"  recursion yes; allow-query {{ any; }}; dnssec-validation {validation}; notify no;\n"
            "  empty-zones-enable no; qname-minimization off;\n"
            "};\n"
            f'zone "." {{ type hint; file "{hints}"; }};\n'
            f"{anchors}"
        )

    def named_secondary_config(self, port: int, directory: str, listen: str = "127.0.0.1") -> str:
        """A named.conf for BIND as a secondary of every zone of this lab but the root
        and the made TLDs, transferring from the zone's first server."""
        zones = []
        for origin, zone in sorted(self.zones.items(), key=lambda item: len(item[0])):
            if origin == dns.name.root:
                continue
            primaries = [m for m in self.members if zone in m.zones]
            if not primaries:
                continue
            primary = primaries[0]
            file = origin.to_text().rstrip(".") + ".db"
            zones.append(f'zone "{origin.to_text()}" {{ type secondary; primaries {{ {primary.address} port {self.port}; }};\n'
                         f'  file "{file}"; masterfile-format text; }};\n')
        allow = "; ".join(sorted({m.address for m in self.members}))
        return (
            "options {\n"
            f'  directory "{directory}"; pid-file "{directory}/named-secondary.pid";\n'
            f'  session-keyfile "{directory}/session-secondary.key"; managed-keys-directory "{directory}";\n'
            f"  listen-on port {port} {{ {listen}; }}; listen-on-v6 {{ none; }};\n"
            "  recursion no; dnssec-validation no; notify no; empty-zones-enable no;\n"
            f"  allow-notify {{ {allow}; }};\n"
            # a lab's SOA timers are seconds (scaled, or short on purpose): BIND's defaults clamp
            # refresh to at least 300 s and retry to 500 s
            "  min-refresh-time 2; max-refresh-time 10; min-retry-time 2; max-retry-time 10;\n"
            "};\n" + "".join(zones)
        )

    def set_secondary(self, address: str | tuple[str, int]) -> None:
        """The lab's secondary listens at *address* (``("127.0.0.1", 5302)``: ``lab verify --tool
        named-secondary``'s named, or named-secondary.conf's port with ``lab up``/``lab run``): every
        server whose ``notify`` option names ``"secondary"`` NOTIFYs it after an edit, from now on
        (running servers too; thread-safe). Loopback or this machine's addresses only::

            lab.set_secondary(("127.0.0.1", port))   # then a timeline edit NOTIFYs named there
        """
        from fakens.transport import parse_listen, require_local

        chosen = require_local(parse_listen(address, default_port=53, what="secondary"), "secondary")
        previous, self.secondary = self.secondary, chosen
        for member in self.members:
            if member.server is not None and NOTIFY_SECONDARY in member.options.get("notify", ()):
                notifier = member.server.notifier
                notifier.targets = [t for t in notifier.targets if t != previous] + [chosen]

    # -- lifecycle ----------------------------------------------------------------------

    def _make_server(self, member: HierarchyServer) -> Server:
        from fakens.faults.spec import build

        options = {**self.server_options, **member.options}
        if NOTIFY_SECONDARY in options.get("notify", ()):  # the lab's secondary, once set_secondary says where
            options["notify"] = [t for t in options["notify"] if t != NOTIFY_SECONDARY] + (
                [self.secondary] if self.secondary is not None else [])
        server = Server(member.zones, listen=[f"[{a}]:{self.port}" if ":" in a else f"{a}:{self.port}"
                                               for a in member.addresses],
                        name=member.host.to_text(), clock=self.clock, **options)
        for spec in member.faults:
            server.faults.add(spec if not isinstance(spec, (str, Mapping)) else build(spec))
        return server

    def _make_servers(self) -> None:
        for member in self.members:
            member.server = self._make_server(member)

    async def astart(self) -> Hierarchy:
        """Start every server in the running loop, then the timeline (a LabClock starts
        following real time here)."""
        self._make_servers()
        started = []
        try:
            for member in self.members:
                assert member.server is not None
                await member.server.astart()
                started.append(member.server)
        except BaseException:
            for server in started:
                await server.astop()
            raise
        loop = self.loop = asyncio.get_running_loop()
        if isinstance(self.clock, LabClock) and self.clock.paused:
            self.clock.run(loop)
        self.timeline.start(self.clock, loop)
        return self

    async def astop(self) -> None:
        self.timeline.stop()
        await self.timeline.idle()
        for member in self.members:
            if member.server is not None:
                await member.server.astop()

    async def astop_server(self, host: str | Name) -> None:
        """Stop one server (its sockets close; it keeps its faults, log and zones)."""
        member = self.member(host)
        if member.server is not None and member.server.running:
            await member.server.astop()

    async def astart_server(self, host: str | Name) -> None:
        """Start one stopped server again, on the same addresses."""
        member = self.member(host)
        if member.server is None:
            member.server = self._make_server(member)
        if not member.server.running:
            await member.server.astart()

    def start(self) -> Hierarchy:
        """Start every server on the background runner."""
        from fakens.runner import background

        return background().run(self.astart())

    def stop(self) -> None:
        from fakens.runner import background

        background().run(self.astop())

    def __enter__(self) -> Hierarchy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Reset every server (faults, logs, zone edits)."""
        for server in self.servers.values():
            server.reset()


class LabControl:
    """A lab as the control endpoint drives it (fakens.control's ControlTarget): its
    servers, its clock (advance, pause) and its timeline, from any thread."""

    def __init__(self, lab: Hierarchy) -> None:
        self.lab = lab
        self.name = lab.name

    def servers(self) -> dict[str, Server]:
        return {m.name: m.server for m in self.lab.members if m.server is not None}

    def clock_info(self) -> dict[str, Any]:
        clock = self.lab.clock
        return {"kind": "lab", "now": clock.now(), "paused": getattr(clock, "paused", True),
                "scale": self.lab.time_scale,
                "next_event": None if (e := self.lab.timeline.next_due()) is None else e.to_dict(
                    self.lab.timeline.events.index(e))}

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        if not 0 <= seconds < float("inf"):  # NaN too
            raise ConfigError(f"advance {seconds}: the lab's clock only goes forward (seconds >= 0)")
        self.lab.clock.advance(seconds)
        self._settle()
        return self.clock_info()

    def pause_clock(self, paused: bool) -> dict[str, Any]:
        clock = self.lab.clock
        if not isinstance(clock, LabClock):
            raise ConfigError("this lab's clock is a ManualClock: it moves only when advanced")
        if paused:
            clock.pause()
        else:
            clock.resume()
        return self.clock_info()

    def timeline(self) -> list[dict[str, Any]]:
        return self.lab.timeline.status()

    def run_event(self, index: int) -> dict[str, Any]:
        loop = self.lab.loop
        if loop is None:
            raise ConfigError("the lab is not running")
        event = asyncio.run_coroutine_threadsafe(self.lab.timeline.arun(index), loop).result(30)
        return event.to_dict(index)

    def _settle(self) -> None:
        """Wait for the timeline events that moving the clock started."""
        loop = self.lab.loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(self.lab.timeline.idle(), loop).result(30)


def write_resolver_configs(lab: Hierarchy, directory: str | os.PathLike[str], port: int = 5300) -> str:
    """Write unbound.conf (resolver on *port*), named.conf (*port* + 1),
    named-secondary.conf (*port* + 2), kresd.conf (*port* + 3: ``kresd -n -c kresd.conf DIR``)
    and pdns-recursor/recursor.conf (*port* + 4: ``pdns_recursor --config-dir DIR/pdns-recursor``)
    for *lab* into *directory* (made if missing); return its absolute path. unbound runs with qname minimisation off, as
    ``lab verify`` runs it: the shipped labs' figures count fresh resolutions that way
    (with it on, unbound retries an NXDOMAIN with the full name and hides most TLD failures)."""
    os.makedirs(directory, exist_ok=True)
    where = os.path.abspath(directory)
    with open(os.path.join(where, "unbound.conf"), "w", encoding="utf-8") as f:
        f.write(lab.unbound_config(port, where, qname_minimisation=False,
                                   do_ip6=any(":" in a for m in lab.members for a in m.addresses)))
    with open(os.path.join(where, "named.conf"), "w", encoding="utf-8") as f:
        f.write(lab.named_config(port + 1, where))
    with open(os.path.join(where, "named-secondary.conf"), "w", encoding="utf-8") as f:
        f.write(lab.named_secondary_config(port + 2, where))
    from fakens.resolverconf import kresd_config, pdns_recursor_config

    with open(os.path.join(where, "kresd.conf"), "w", encoding="utf-8") as f:
        f.write(kresd_config(lab, port + 3, where))
    os.makedirs(os.path.join(where, "pdns-recursor"), exist_ok=True)
    with open(os.path.join(where, "pdns-recursor", "recursor.conf"), "w", encoding="utf-8") as f:
        f.write(pdns_recursor_config(lab, port + 4, os.path.join(where, "pdns-recursor")))
    return where


def resolver_local_zones(zones: Iterable[Name]) -> list[str]:
    """The special-use names (RFC 6761) and default reverse zones (RFC 6303) at or above
    a served zone, for ``local-zone: NAME nodefault`` lines (unbound)."""
    from fakens.resolverzones import default_local_zones

    served = list(zones)
    return [name for name in default_local_zones()
            if any(origin.is_subdomain(dns.name.from_text(name)) for origin in served)]


@dataclass
class ZonePlan:
    """A zone of a lab: a name unique in the lab, the zone, whether its parent delegates to it."""

    name: str
    zone: Zone
    delegate: bool = True
    dnssec: DnssecPolicy | None = None
    """Sign the zone with this policy (its parent in the lab then holds its DS)."""


@dataclass
class DelegationPlan:
    """What a parent says about a child: NS hosts and (optional) glue addresses.

    *glue* None: computed from the lab's servers for hosts in the parent's bailiwick."""

    child: Name
    ns: list[Name]
    glue: dict[Name, list[str]] | None = None
    ttl: int | None = None


def loopback_addresses(port: int, octet: int | None = None, probe: bool = True) -> Iterator[str]:
    """Addresses for a lab's servers on host loopback: 127.OCTET.BLOCK.10 onwards, in a
    block free on *port* (probed by binding unless *probe* is False)."""
    second = octet if octet is not None else worker_octet()
    block = _free_block(second, port) if probe else 0
    return (f"127.{second}.{block}.{n}" for n in range(10, 255))


def plan_lab(
    zones: Sequence[ZonePlan],
    servers: Sequence[HierarchyServer] = (),
    delegations: Sequence[DelegationPlan] = (),
    *,
    addresses: Iterator[str],
    tld_servers: Mapping[str, int] | int = 1,
    delegation_ttl: int = 86400,
    dnssec: DnssecPolicy | None = None,
) -> tuple[list[HierarchyServer], dict[Name, Zone], dict[str, Zone], list[str]]:
    """The servers, the zones by origin (the delegated one of each), every zone by name,
    and warnings, for a lab of *zones* served by *servers* (more are made as needed).

    - A root zone and TLD zones not given are made (the root on a.root-servers.test.,
      a TLD on ns1..N.nic.TLD.).
    - A zone that no given server lists is served by a server per NS host of its apex
      (one is made for a host in no given server, when the host is in a zone of the lab).
      A given server that lists no zones serves every zone whose apex NS names it.
    - A server without addresses gets the next of *addresses*; the A record of its host in
      the zone that holds it is set to that address (one of a zone's own NS hosts that the
      zone gives no address keeps none: a mistake served on purpose).
    - Every zone is delegated from its closest enclosing zone (or the root) to its apex NS
      with glue for hosts in the parent's bailiwick, unless the parent already has NS for
      it, the zone says ``delegate=False``, or a DelegationPlan says what the parent holds.
    - Zones with a ``dnssec`` policy are signed; the made root and TLDs too (with *dnssec*, by
      default the default policy when any zone is signed), and every signed zone's parent holds
      its DS: a chain of trust from the root (``Hierarchy.trust_anchors``).
    """
    warnings: list[str] = []
    by_name: dict[str, Zone] = {}
    by_origin: dict[Name, list[ZonePlan]] = {}
    for plan in zones:
        by_name[plan.name] = plan.zone
        by_origin.setdefault(plan.zone.origin, []).append(plan)
    members: list[HierarchyServer] = []
    by_host: dict[Name, HierarchyServer] = {}
    made: set[int] = set()  # ids of the zones the planner made (root, TLDs)
    unassigned = [s for s in servers if not s.zones and not s.zone_refs]  # serve what names them (below)

    def add_member(member: HierarchyServer) -> HierarchyServer:
        members.append(member)
        for host in member.hosts:
            by_host.setdefault(host, member)
        return member

    def member(host: Name, zone: Zone) -> HierarchyServer:
        found = by_host.get(host) or add_member(HierarchyServer(host, [], []))
        if zone not in found.zones:
            found.zones.append(zone)
        return found

    if dns.name.root not in by_origin:
        root = Zone.from_text(_SOA.format(origin=".", ns=ROOT_SERVER, origin_text="") + f"\n. 3600000 NS {ROOT_SERVER}\n",
                              origin=dns.name.root)
        made.add(id(root))
        by_name["."] = root
        by_origin[dns.name.root] = [ZonePlan(".", root)]
        given_root = next((s for s in servers if ROOT_SERVER in s.hosts), None)
        if given_root is None:
            member(ROOT_SERVER, root)  # first, so it gets .10
        elif root not in given_root.zones:
            given_root.zones.append(root)
    for server in servers:
        add_member(server)
    listed = {id(z) for s in servers for z in s.zones}
    count = tld_servers if isinstance(tld_servers, int) else None
    for origin in sorted(by_origin):
        if origin == dns.name.root:
            continue
        tld = dns.name.Name(origin.labels[-2:])
        if tld in by_origin:
            continue
        n = count if count is not None else cast(Mapping[str, int], tld_servers).get(tld.labels[0].decode(), 1)
        hosts = [dns.name.from_text(f"ns{i}.nic", tld) for i in range(1, n + 1)]
        lines = [_SOA.format(origin=tld, ns=hosts[0], origin_text=tld.to_text())]
        lines += [f"{tld} 86400 NS {h}" for h in hosts]
        tld_zone = Zone.from_text("\n".join(lines) + "\n", origin=tld)
        made.add(id(tld_zone))
        by_name[tld.to_text()] = tld_zone
        by_origin[tld] = [ZonePlan(tld.to_text(), tld_zone)]
    for server in servers:
        for ref in server.zone_refs:
            if ref not in by_name:
                raise ConfigError(f"server {server.name}: no zone {ref!r} in this lab (zones: {', '.join(by_name)})")
            if by_name[ref] not in server.zones:
                server.zones.append(by_name[ref])  # a made zone keeps its made servers too
    # the zone of each origin the parent delegates to (two providers' copies: the delegated one)
    origins = {o: next((p for p in plans if p.delegate), plans[0]).zone for o, plans in by_origin.items()}
    # a given server that lists no zones serves those whose apex NS name one of its hosts
    # (one copy per origin: the delegated one when two providers' copies both name it)
    for server in unassigned:
        for origin, plans in sorted(by_origin.items(), key=lambda item: (len(item[0]), item[0])):
            naming = [p for p in plans if set(server.hosts) & set(_ns_hosts(p.zone))]
            if naming and not any(z.origin == origin for z in server.zones):
                chosen = next((p for p in naming if p.delegate), naming[0])
                server.zones.append(chosen.zone)
    below_root = {o: z for o, z in origins.items() if o != dns.name.root}
    # servers for the zones no given server lists: made zones first (TLDs), then the rest by depth
    unlisted = [p for o in sorted(by_origin, key=lambda o: (id(by_origin[o][0].zone) not in made, len(o), o))
                for p in by_origin[o] if id(p.zone) not in listed and p.zone.origin != dns.name.root]
    for plan in unlisted:
        for host in _ns_hosts(plan.zone):
            if _enclosing(below_root, host) is not None:  # a host in no zone here cannot be found: no server
                member(host, plan.zone)
    root_zone = by_origin[dns.name.root][0].zone
    if id(root_zone) not in listed and not any(root_zone in m.zones for m in members):
        for host in _ns_hosts(root_zone):
            member(host, root_zone)
    for m in members:
        if not m.addresses:
            try:
                m.addresses = [next(addresses)]
            except StopIteration:
                raise ConfigError("more than 245 servers in one lab") from None
    # addresses of the NS hosts in the zones that hold them
    for m in members:
        for host in m.hosts:
            holder_origin = _enclosing_origin(origins, host)
            if holder_origin is None:
                continue
            for plan in by_origin[holder_origin]:
                _set_host_addresses(plan.zone, host, m, id(plan.zone) in made, warnings)
    # delegations: every zone from its closest served ancestor (or the root)
    explicit = {d.child: d for d in delegations}
    for origin in sorted(by_origin, key=len):
        if origin == dns.name.root:
            continue
        parent_origin = _enclosing_origin({o: z for o, z in origins.items() if o != origin}, origin) or dns.name.root
        parents = [p.zone for p in by_origin[parent_origin]]
        delegation = explicit.get(origin)
        if delegation is None:
            delegating = [p for p in by_origin[origin] if p.delegate]
            if not delegating:
                continue
            delegation = DelegationPlan(origin, _ns_hosts(delegating[0].zone))
        for parent in parents:
            _delegate(parent, delegation, by_host, delegation.ttl or delegation_ttl, replace=origin in explicit)
    # the root server's own name resolves in the test. TLD when fakens made it
    test_tld = by_origin.get(dns.name.from_text("test."))
    root_member = by_host.get(ROOT_SERVER)
    if root_member is not None:
        for zone in [p.zone for p in test_tld or []] + [root_zone]:
            if id(zone) in made:
                zone.edit(replace=[_address_record(ROOT_SERVER, a, 3600000) for a in root_member.addresses],
                          bump_serial=False)
    _sign_lab(zones, [z for z in by_name.values() if id(z) in made], origins, dnssec, delegation_ttl)
    for zone in by_name.values():
        zone.set_baseline()  # the lab as built is the version a reset returns to
    return members, origins, by_name, warnings


def _sign_lab(plans: Sequence[ZonePlan], made: Sequence[Zone], origins: Mapping[Name, Zone],
              dnssec: DnssecPolicy | None, ttl: int) -> None:
    """Sign the zones that say so and the made ones (a signed root and TLDs above signed zones),
    then give each delegated signed zone's parent its DS."""
    signed = [p for p in plans if p.dnssec is not None]
    if not signed and dnssec is None:
        return
    for plan in signed:
        if plan.zone.signer is None:
            sign_zone(plan.zone, plan.dnssec)
    for zone in made:
        if zone.signer is None:
            sign_zone(zone, dnssec or DnssecPolicy())
    add_ds_records(origins.values(), ttl)


def build_hierarchy(
    zones: Iterable[Zone | str | os.PathLike[str]],
    *,
    tld_servers: Mapping[str, int] | int = 1,
    port: int = 53,
    clock: ManualClock | None = None,
    delegation_ttl: int = 86400,
    octet: int | None = None,
    dnssec: bool | DnssecPolicy | None = None,
    **server_options: Any,
) -> Hierarchy:
    """Plan a hierarchy for *zones* (servers not started yet: use ``with`` or start()).

    *tld_servers*: how many servers each made TLD gets (``{"test": 7}`` or 7).
    *delegation_ttl*: the TTL of the NS and glue records the builder adds to parents
    (lower it to watch a resolver pick up a changed delegation).
    *clock*: shared by every server (default: a ManualClock at 0): schedules, and
    every timer (delays, NOTIFY retries, TCP idle timeouts) wait on it, so a
    ``delay`` fault in a lab answers once the test moves ``hierarchy.clock``.
    *server_options* go to every Server (e.g. ``minimal_responses=True``).
    *dnssec*: sign every zone, the made root and TLDs included (True or a DnssecPolicy), with
    the DS records in the parents; ``trust_anchors`` then says what a validator trusts.
    """
    given = load_zones(zones)
    if any(z.origin == dns.name.root for z in given):
        raise ConfigError("build_hierarchy makes the root zone itself; give the zones below it")
    policy = DnssecPolicy.from_value(dnssec)
    plans = [ZonePlan(z.origin.to_text(), z, dnssec=policy) for z in given]
    members, origins, by_name, warnings = plan_lab(
        plans, addresses=loopback_addresses(port, octet), tld_servers=tld_servers, delegation_ttl=delegation_ttl,
        dnssec=policy)
    root = origins[dns.name.root]
    ordered = {dns.name.root: root, **{o: z for o, z in origins.items() if o != dns.name.root}}
    return Hierarchy(port, members, ordered, clock or ManualClock(0.0), dict(server_options),
                     all_zones=by_name, warnings=warnings)


def parent_zones(lab: Hierarchy, child: Name) -> list[Zone]:
    """The zones of the lab that delegate *child*: every zone (old and new copies alike) whose
    origin is the closest enclosing origin of *child* in the lab."""
    origins = {z.origin for z in lab.all_zones.values() if z.origin != child}
    parent = _enclosing_origin(dict.fromkeys(origins, None), child) or dns.name.root  # type: ignore[arg-type]
    return [z for z in lab.all_zones.values() if z.origin == parent]


def delegate_zone(lab: Hierarchy, parent: Zone, plan: DelegationPlan) -> None:
    """Make *parent* delegate *plan.child* as *plan* says, replacing what it held, with its
    serial bumped (a registry's change): a timeline's delegation switch."""
    by_host = {host: m for m in lab.members for host in m.hosts}
    _delegate(parent, plan, by_host, plan.ttl or 86400, replace=True, bump_serial=True)


def _address_record(host: Name, address: str, ttl: int) -> str:
    return f"{host} {ttl} {'AAAA' if ':' in address else 'A'} {address}"


def _set_host_addresses(zone: Zone, host: Name, member: HierarchyServer, made: bool, warnings: list[str]) -> None:
    """Give *host* the addresses of its server in *zone* (the zone that holds the name)."""
    version = zone.current
    a, aaaa = (version.get(host, t) for t in (dns.rdatatype.A, dns.rdatatype.AAAA))
    written = {rd.to_text() for rds in (a, aaaa) if rds is not None for rd in rds}
    own_ns = host in _ns_hosts(zone) and not made
    if member.given_addresses and not made:
        if written and written != set(member.addresses):
            warnings.append(f"zone {zone.origin}: {host} has address {', '.join(sorted(written))} but its server "
                            f"listens on {', '.join(member.addresses)}; kept as written (a resolver goes to the zone's address)")
            return
        if written or own_ns:
            return  # as written; or one of the zone's own NS hosts without an address, kept so
    elif not written and own_ns:
        return  # one of a zone's own NS hosts that the zone gives no address keeps none (an incident)
    ttl = a.ttl if a is not None else aaaa.ttl if aaaa is not None else 3600
    zone.edit(replace=[_address_record(host, address, ttl) for address in member.addresses],
              remove=[f"{host} {kind}" for kind in ("A", "AAAA")
                      if not any((":" in addr) == (kind == "AAAA") for addr in member.addresses)],
              bump_serial=False)


def _ns_hosts(zone: Zone) -> list[Name]:
    ns = zone.current.get(zone.origin, dns.rdatatype.NS)
    if ns is None or not len(ns):
        raise ConfigError(f"zone {zone.origin} has no NS records: a hierarchy needs its name servers")
    return [cast(Name, r.target) for r in ns]


def _enclosing_origin(zones: Mapping[Name, Zone], name: Name) -> Name | None:
    candidate = name
    while True:
        if candidate in zones:
            return candidate
        if len(candidate) <= 1:
            return None
        candidate = candidate.parent()


def _enclosing(zones: Mapping[Name, Zone], name: Name) -> Zone | None:
    origin = _enclosing_origin(zones, name)
    return None if origin is None else zones[origin]


def _delegate(parent: Zone, plan: DelegationPlan, by_host: Mapping[Name, HierarchyServer], ttl: int,
              replace: bool = False, bump_serial: bool = False) -> None:
    """Make *parent* delegate *plan.child* to *plan.ns*, with glue, unless it already does
    (*replace*: the scenario says what the parent holds, whatever it held)."""
    child = plan.child
    version = parent.current
    if child == parent.origin:
        return
    if version.get(child, dns.rdatatype.NS) is not None and not replace:
        return
    records = [f"{child} {ttl} NS {h}" for h in plan.ns]
    for host in plan.ns:
        if not host.is_subdomain(parent.origin):
            continue  # out of the parent's bailiwick: no glue
        if plan.glue is not None:
            addresses = plan.glue.get(host, [])
        else:
            addresses = by_host[host].addresses if host in by_host else []
        records += [_address_record(host, a, ttl) for a in addresses]
    remove = [f"{child} NS"] if replace else []
    if replace:
        remove += [f"{h} {t}" for h in version.names if h.is_subdomain(child) for t in ("A", "AAAA")
                   if version.get(h, dns.rdatatype.from_text(t)) is not None]
    parent.edit(remove=remove, add=records, bump_serial=bump_serial)


def bind_error_hint(error: str) -> str:
    """Advice for a hierarchy that could not bind port 53."""
    return (f"{error}\nA hierarchy binds port 53 on 127.x addresses: run as root, grant CAP_NET_BIND_SERVICE, "
            "or run the tests in a private network namespace: `unshare -n sh -c 'ip link set lo up && pytest'` "
            "(scripts/test does this).")

