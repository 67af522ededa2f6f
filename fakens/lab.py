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

import errno
import itertools
import os
import socket
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import dns.name
import dns.rdatatype

from fakens.clock import ManualClock
from fakens.errors import ConfigError, ServerError
from fakens.server import Server
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


@dataclass
class HierarchyServer:
    """One server of a hierarchy: its NS host name, address and the zones it serves."""

    host: Name
    address: str
    zones: list[Zone]
    server: Server | None = None


@dataclass
class Hierarchy:
    """Root, TLD and zone servers with delegations and glue (see the module docstring)."""

    port: int
    members: list[HierarchyServer]
    zones: dict[Name, Zone]
    clock: ManualClock
    server_options: dict[str, Any] = field(default_factory=dict)

    @property
    def servers(self) -> dict[str, Server]:
        """Every running server by its NS host name (``"ns1.example.test."``)."""
        return {m.host.to_text(): m.server for m in self.members if m.server is not None}

    def server(self, host: str) -> Server:
        """The server for one NS host name."""
        name = dns.name.from_text(host)
        for member in self.members:
            if member.host == name and member.server is not None:
                return member.server
        raise ConfigError(f"no server {host} in this hierarchy (servers: {', '.join(self.servers)})")

    def servers_for(self, zone: str | Name) -> list[Server]:
        """The servers of a zone, in NS order."""
        origin = dns.name.from_text(zone) if isinstance(zone, str) else zone
        out = [m.server for m in self.members if m.server is not None and any(z.origin == origin for z in m.zones)]
        if not out:
            raise ConfigError(f"no server serves {origin} in this hierarchy (zones: {', '.join(str(z) for z in self.zones)})")
        return out

    @property
    def root_address(self) -> str:
        return self.members[0].address

    @property
    def root_hints(self) -> str:
        """Root hints in zone-file form, for unbound, BIND and Zonemaster."""
        return (f".                     3600000 NS {ROOT_SERVER}\n"
                f"{ROOT_SERVER}  3600000 A  {self.root_address}\n")

    def write_root_hints(self, path: str | os.PathLike[str]) -> str:
        """Write the root hints to *path* and return the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.root_hints)
        return os.fspath(path)

    def tracer(self, **options: Any) -> Tracer:
        """fakens' iterative resolver, starting at this hierarchy's root."""
        return Tracer([(ROOT_SERVER.to_text(), self.root_address)], port=self.port, **options)

    def unbound_config(self, port: int, directory: str, interface: str = "127.0.0.1",
                       control: str | None = None, qname_minimisation: bool = True) -> str:
        """An unbound.conf that resolves through this hierarchy only (root hints
        written to *directory*/root.hints; the control channel on a unix socket)."""
        hints = self.write_root_hints(os.path.join(directory, "root.hints"))
        control = control or os.path.join(directory, "unbound.ctl")
        tlds = sorted({z.origin.labels[-2].decode() for z in self.zones.values() if len(z.origin) > 1})
        local_zones = "".join(f'  local-zone: "{tld}." nodefault\n' for tld in tlds)
        return (
            "server:\n"
            f"  interface: {interface}\n  port: {port}\n  do-ip6: no\n  do-ip4: yes\n"
            '  username: ""\n  chroot: ""\n  logfile: ""\n  pidfile: ""\n'
            f'  directory: "{directory}"\n  root-hints: "{hints}"\n'
            "  do-not-query-localhost: no\n  module-config: \"iterator\"\n"
            f"{local_zones}"
            "  discard-timeout: 0\n"
            f"  qname-minimisation: {'yes' if qname_minimisation else 'no'}\n"
            "remote-control:\n  control-enable: yes\n  control-use-cert: no\n"
            f'  control-interface: "{control}"\n'
        )

    def named_config(self, port: int, directory: str, listen: str = "127.0.0.1") -> str:
        """A named.conf for BIND as a recursive resolver through this hierarchy only."""
        hints = self.write_root_hints(os.path.join(directory, "root.hints"))
        return (
            "options {\n"
            f'  directory "{directory}"; pid-file "{directory}/named.pid";\n'
            f'  session-keyfile "{directory}/session.key"; managed-keys-directory "{directory}";\n'
            f"  listen-on port {port} {{ {listen}; }}; listen-on-v6 {{ none; }};\n"
            "  recursion yes; allow-query { any; }; dnssec-validation no; notify no;\n"
            "  qname-minimization off;\n"
            "};\n"
            f'zone "." {{ type hint; file "{hints}"; }};\n'
        )

    # -- lifecycle ----------------------------------------------------------------------

    def _make_servers(self) -> None:
        for member in self.members:
            member.server = Server(member.zones, listen=[f"{member.address}:{self.port}"],
                                   name=member.host.to_text(), clock=self.clock, **self.server_options)

    async def astart(self) -> Hierarchy:
        """Start every server in the running loop."""
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
        return self

    async def astop(self) -> None:
        for member in self.members:
            if member.server is not None:
                await member.server.astop()

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


def build_hierarchy(
    zones: Iterable[Zone | str | os.PathLike[str]],
    *,
    tld_servers: Mapping[str, int] | int = 1,
    port: int = 53,
    clock: ManualClock | None = None,
    delegation_ttl: int = 86400,
    octet: int | None = None,
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
    """
    given = {z.origin: z for z in load_zones(zones)}
    if dns.name.root in given:
        raise ConfigError("build_hierarchy makes the root zone itself; give the zones below it")
    second = octet if octet is not None else worker_octet()
    block = _free_block(second, port)
    addresses = (f"127.{second}.{block}.{n}" for n in range(10, 255))
    members: list[HierarchyServer] = []
    by_host: dict[Name, HierarchyServer] = {}

    def member(host: Name, zone: Zone) -> HierarchyServer:
        found = by_host.get(host)
        if found is None:
            try:
                address = next(addresses)
            except StopIteration:
                raise ConfigError("more than 245 servers in one hierarchy") from None
            found = by_host[host] = HierarchyServer(host, address, [])
            members.append(found)
        if zone not in found.zones:
            found.zones.append(zone)
        return found

    # the root first, so it gets .10
    root = Zone.from_text(_SOA.format(origin=".", ns=ROOT_SERVER, origin_text="") + f"\n. 3600000 NS {ROOT_SERVER}\n",
                          origin=dns.name.root)
    member(ROOT_SERVER, root)
    tlds: dict[Name, Zone] = {}
    count = tld_servers if isinstance(tld_servers, int) else None
    for origin in sorted(given):
        tld = dns.name.Name(origin.labels[-2:])
        if tld in given or tld in tlds:
            continue
        n = count if count is not None else cast(Mapping[str, int], tld_servers).get(tld.labels[0].decode(), 1)
        hosts = [dns.name.from_text(f"ns{i}.nic", tld) for i in range(1, n + 1)]
        lines = [_SOA.format(origin=tld, ns=hosts[0], origin_text=tld.to_text())]
        lines += [f"{tld} 86400 NS {h}" for h in hosts]
        tlds[tld] = Zone.from_text("\n".join(lines) + "\n", origin=tld)
    all_zones = {**given, **tlds}
    for tld in sorted(tlds):
        for host in _ns_hosts(tlds[tld]):
            member(host, tlds[tld])
    for origin in sorted(given, key=len):
        for host in _ns_hosts(given[origin]):
            if _enclosing(all_zones, host) is not None:  # a host in no zone here cannot be found: no server
                member(host, given[origin])
    # addresses: NS hosts inside a served zone get A records there
    for m in members[1:]:
        holder = _enclosing(all_zones, m.host)
        if holder is None:
            continue
        has_address = any(holder.current.get(m.host, t) is not None for t in (dns.rdatatype.A, dns.rdatatype.AAAA))
        own_ns = m.host in _ns_hosts(holder) and holder not in tlds.values()
        if has_address or not own_ns:
            holder.edit(replace=[f"{m.host} 3600 A {m.address}"], remove=[f"{m.host} AAAA"], bump_serial=False)
        # one of a zone's own NS hosts that the zone gives no address keeps none (a mistake
        # served on purpose: the mail-migration incident); the parent's glue still has its server's address
    # delegations: every zone from its closest served ancestor (or the root)
    for origin, zone in sorted(all_zones.items(), key=lambda item: len(item[0])):
        parent = _enclosing({o: z for o, z in all_zones.items() if o != origin}, origin) or root
        _delegate(parent, zone, by_host, delegation_ttl)
    # the root server's own name resolves in the test. TLD when fakens made it
    test_tld = all_zones.get(dns.name.from_text("test."))
    if test_tld is not None and test_tld in tlds.values():
        test_tld.edit(replace=[f"{ROOT_SERVER} 3600000 A {members[0].address}"], bump_serial=False)
    root.edit(replace=[f"{ROOT_SERVER} 3600000 A {members[0].address}"], bump_serial=False)
    for zone in list(all_zones.values()) + [root]:
        zone.set_baseline()  # the hierarchy as built is the version a reset returns to
    return Hierarchy(port, members, {dns.name.root: root, **all_zones}, clock or ManualClock(0.0), dict(server_options))


def _ns_hosts(zone: Zone) -> list[Name]:
    ns = zone.current.get(zone.origin, dns.rdatatype.NS)
    if ns is None or not len(ns):
        raise ConfigError(f"zone {zone.origin} has no NS records: a hierarchy needs its name servers")
    return [cast(Name, r.target) for r in ns]


def _enclosing(zones: Mapping[Name, Zone], name: Name) -> Zone | None:
    candidate = name
    while True:
        if candidate in zones:
            return zones[candidate]
        if len(candidate) <= 1:
            return None
        candidate = candidate.parent()


def _delegate(parent: Zone, child: Zone, by_host: Mapping[Name, HierarchyServer], ttl: int) -> None:
    """Make *parent* delegate *child* to the child's apex NS, with glue, unless it already does."""
    version = parent.current
    if child.origin == parent.origin or version.get(child.origin, dns.rdatatype.NS) is not None:
        return
    hosts = _ns_hosts(child)
    records = [f"{child.origin} {ttl} NS {h}" for h in hosts]
    for host in hosts:
        if host.is_subdomain(parent.origin) and host in by_host:
            records.append(f"{host} {ttl} A {by_host[host].address}")
    parent.edit(add=records, bump_serial=False)


def bind_error_hint(error: str) -> str:
    """Advice for a hierarchy that could not bind port 53."""
    return (f"{error}\nA hierarchy binds port 53 on 127.x addresses: run as root, grant CAP_NET_BIND_SERVICE, "
            "or run the tests in a private network namespace: `unshare -n sh -c 'ip link set lo up && pytest'` "
            "(scripts/test does this).")

