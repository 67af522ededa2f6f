"""Helpers for tests that use fakens: resolvers pointed at fake servers, unbound in front of a hierarchy.

    resolver = resolver_for(server)                # a dnspython stub resolver asking one fake server
    answer = resolver.resolve("www.example.test.", "A")

    unbound = start_unbound(hierarchy, "/tmp/u")   # a real resolver with the hierarchy's root hints
    unbound.resolver.resolve("www.example.test.", "A")
    unbound.flush(); unbound.stop()

    from fakens.resolvers import start_resolver    # BIND, Knot Resolver, PowerDNS Recursor too
    kresd = start_resolver("kresd", hierarchy, "/tmp/k")   # .address, .flush(), .stop(), .version

To point code under test at the fakes: pass it a resolver or a server address
when it accepts one. Code that only uses the system resolver can be run in a
private network namespace with its own resolv.conf, e.g. ``unshare -n -m sh -c
'mount --bind my-resolv.conf /etc/resolv.conf && ip link set lo up && pytest'``
with ``nameserver`` pointing at an unbound (or a fake server) on port 53.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dns.resolver

from fakens.errors import ServerError
from fakens.lab import Hierarchy
from fakens.server import Server

if TYPE_CHECKING:
    from fakens.scenario import Scenario


def find_tool(name: str) -> str | None:
    """A tool's path from PATH or the sbin directories (not on a normal user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


def resolver_for(server: Server, timeout: float = 2.0) -> dns.resolver.Resolver:
    """A dnspython stub resolver whose only nameserver is *server* (its first address)."""
    if not server.addresses:
        raise ServerError(f"server {server.name} is not running: start it first")
    host, port = server.addresses[0]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    resolver.timeout = resolver.lifetime = timeout
    return resolver


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free for UDP and TCP on *host* a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
            return port
    raise ServerError(f"no free port on {host}")


class ToolError(ServerError):
    """An external tool (unbound-control) is missing, cannot run or hangs."""


@dataclass
class Unbound:
    """A running unbound: its config, a stub resolver asking it, its control channel."""

    process: subprocess.Popen[bytes]
    config: str
    address: tuple[str, int]
    resolver: dns.resolver.Resolver
    log_path: str

    def control(self, *args: str) -> str:
        """Run ``unbound-control -c CONFIG ARGS`` and return its output."""
        binary = find_tool("unbound-control")
        if binary is None:
            raise ToolError("unbound-control is not installed (Debian: apt-get install unbound)")
        try:
            result = subprocess.run([binary, "-c", self.config, *args], capture_output=True, text=True,
                                    timeout=15, check=False)
        except subprocess.TimeoutExpired:
            raise ToolError(f"unbound-control {' '.join(args)} did not answer within 15 s") from None
        except OSError as e:
            raise ToolError(f"unbound-control ({binary}) cannot run: {e}") from None
        if result.returncode != 0:
            raise ServerError(f"unbound-control {' '.join(args)} failed: {result.stderr or result.stdout}")
        return result.stdout

    def flush(self) -> None:
        """Forget everything cached, so the next resolution is fresh."""
        self.control("flush_zone", ".")
        self.control("flush_infra", "all")
        self.control("flush_requestlist")
        self.control("flush_negative")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_unbound(hierarchy: Hierarchy, directory: str, qname_minimisation: bool = True,
                  timeout: float = 15.0, ede: bool = False) -> Unbound:
    """Start unbound on a free port of 127.0.0.1, resolving through *hierarchy* only
    (*ede*: with ``ede: yes``, extended DNS errors in its answers to EDNS queries)."""
    binary = find_tool("unbound")
    if binary is None:
        raise FileNotFoundError("unbound")
    port = free_port()
    directory = os.path.abspath(directory)  # unbound reads a relative control-interface as a host name
    config = os.path.join(directory, "unbound.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(hierarchy.unbound_config(port=port, directory=directory, qname_minimisation=qname_minimisation,
                                          ede=ede))
    log_path = os.path.join(directory, "unbound.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen([binary, "-d", "-c", config], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 5.0
    unbound = Unbound(process, config, ("127.0.0.1", port), resolver, log_path)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    raise ServerError(f"unbound exited with {process.returncode}:\n{f.read()[-2000:]}")
            try:
                unbound.control("status")
                return unbound
            except ToolError:
                raise  # the control tool itself is broken: waiting will not help
            except ServerError:
                time.sleep(0.05)  # polling for readiness with a deadline, not synchronising on time
        raise ServerError(f"unbound did not become ready within {timeout}s (log: {log_path})")
    except BaseException:
        unbound.stop()  # never leave it running
        raise


@dataclass
class LabRun:
    """A shipped lab (or a scenario file) started for a test: its servers, resolver configs
    and expected-symptom table::

        lab = start_lab("io-outage", "/tmp/lab")     # or fakens_lab("io-outage") in pytest
        lab.hierarchy.servers_for("io.")             # the running servers
        lab.config_dir                               # unbound.conf, named.conf, kresd.conf, ...
        lab.expect["unbound"]                        # what a resolver must show (docs/scenarios.md)
        lab.stop()
    """

    scenario: Scenario
    hierarchy: Hierarchy
    config_dir: str

    @property
    def expect(self) -> dict[str, Any]:
        """The scenario's ``[expect]`` table (symptoms by tool)."""
        return self.scenario.expect

    @property
    def root_hints(self) -> str:
        """The lab's root hints (a resolver's only way in)."""
        return self.hierarchy.root_hints

    def stop(self) -> None:
        self.hierarchy.stop()


def start_lab(name_or_path: str | os.PathLike[str], directory: str, *, fix: bool = False,
              time_scale: float = 1.0, **server_options: Any) -> LabRun:
    """Build and start a lab (a shipped lab's name or a scenario file) on this host's
    loopback (port 53 unless the scenario says otherwise: root, CAP_NET_BIND_SERVICE or a
    private network namespace), with resolver configs written into *directory*."""
    from fakens.catalog import lab_path
    from fakens.lab import write_resolver_configs
    from fakens.scenario import build_lab, load_scenario

    scenario = load_scenario(lab_path(name_or_path))
    hierarchy = build_lab(scenario, fix=fix, time_scale=time_scale, **server_options)
    hierarchy.start()
    try:
        config_dir = write_resolver_configs(hierarchy, directory)
    except BaseException:
        hierarchy.stop()
        raise
    return LabRun(scenario, hierarchy, config_dir)
