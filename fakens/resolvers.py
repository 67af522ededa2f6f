"""Real recursive resolvers in front of a lab: unbound, BIND named, Knot Resolver, PowerDNS Recursor.

    resolver = start_resolver("kresd", lab, "/tmp/k")     # or "unbound", "named", "pdns-recursor"
    dns.query.udp(query, *resolver.address)               # ask it (address = ("127.0.0.1", port))
    resolver.flush()                                       # forget everything cached
    resolver.version                                       # "5.6.0"
    resolver.stop()

Each one runs as a subprocess of this process, so inside the lab's network namespace, with a
config fakens writes into *directory*: the lab's root hints as its only way in; no forwarding;
the lab's root trust anchor instead of the built-in one (a signed lab), else validation off;
address filters cleared (the lab's servers sit on 127.0.0.0/8); the special-use names and
RFC 6303 default zones the lab serves not answered locally; qname minimisation off unless
asked (the shipped labs' figures count fresh resolutions that way). docs/scenarios.md,
"[expect.resolver]", says which resolver shows what on the shipped labs.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fakens.errors import ServerError
from fakens.resolverconf import kresd_config, named_resolver_config, pdns_recursor_config, uses_ip6
from fakens.testing import ToolError, find_tool, free_port, start_unbound

if TYPE_CHECKING:
    from fakens.lab import Hierarchy

RESOLVERS = ("unbound", "named", "kresd", "pdns-recursor")
"""The resolvers ``fakens lab verify --tool`` knows, by the name it takes."""


@dataclass
class RunningResolver:
    """A started resolver: where to ask it, how to flush and stop it, what version it is."""

    name: str
    version: str
    address: tuple[str, int]
    process: subprocess.Popen[bytes]
    log_path: str
    config: str
    flusher: Callable[[], None] = field(repr=False, default=lambda: None)

    def flush(self) -> None:
        """Forget everything cached (records, negative answers, server selection), for a fresh resolution."""
        self.flusher()

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def tool_version(argv: list[str], pattern: str = r"(\d+\.\d+\.\d+)") -> str:
    """The first ``N.N.N`` of a tool's version output (``named -v``: "9.18.49"), or "unknown"."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def _binary(name: str) -> str:
    found = find_tool(name)
    if found is None:
        raise FileNotFoundError(name)
    return found


def _spawn(argv: list[str], log_path: str, cwd: str) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd, start_new_session=True)


def _wait_ready(resolver: RunningResolver, ready: Callable[[], bool], timeout: float) -> RunningResolver:
    """Poll *ready* until it holds (a deadline, not a sleep to synchronise); stop the resolver on failure."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if resolver.process.poll() is not None:
                raise ServerError(f"{resolver.name} exited with {resolver.process.returncode} "
                                  f"(config {resolver.config}):\n{resolver.log()[-2000:]}")
            if ready():
                return resolver
            time.sleep(0.05)
        raise ServerError(f"{resolver.name} did not become ready within {timeout:g} s (log {resolver.log_path})")
    except BaseException:
        resolver.stop()
        raise


def _answers(address: tuple[str, int]) -> bool:
    """Does a DNS server answer (anything) on *address*?"""
    import dns.exception
    import dns.message
    import dns.query

    try:
        dns.query.udp(dns.message.make_query(".", "NS"), address[0], port=address[1], timeout=0.5)
    except (dns.exception.Timeout, OSError):
        return False
    return True


def socket_dir(directory: str, name: str) -> str:
    """*directory*/*name* for a unix control socket, or a short new /tmp dir when that path would be
    too long for one (108 bytes on Linux, the socket's own name included)."""
    path = os.path.join(directory, name)
    if len(path) > 70:
        path = tempfile.mkdtemp(prefix=f"fakens-{name}-")
    os.makedirs(path, exist_ok=True)
    return path


# -- unbound ---------------------------------------------------------------------------


def start_unbound_resolver(lab: Hierarchy, directory: str, *, qname_minimisation: bool = False,
                           timeout: float = 15.0) -> RunningResolver:
    """unbound from ``lab.unbound_config`` (``ede: yes`` on a signed lab)."""
    unbound = start_unbound(lab, directory, qname_minimisation=qname_minimisation, timeout=timeout, ede=lab.signed)
    return RunningResolver("unbound", tool_version([_binary("unbound"), "-V"]), unbound.address, unbound.process,
                           unbound.log_path, unbound.config, unbound.flush)


# -- BIND named ------------------------------------------------------------------------


def start_named(lab: Hierarchy, directory: str, *, qname_minimisation: bool = False,
                timeout: float = 30.0) -> RunningResolver:
    """BIND named as a recursive resolver (``named -g``), flushed with ``rndc flush``."""
    binary = _binary("named")
    rndc = _binary("rndc")
    port, control = free_port(), free_port()
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    config = os.path.join(directory, "named-resolver.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(named_resolver_config(lab, port, control, directory, key, qname_minimisation))
    rndc_conf = os.path.join(directory, "rndc.conf")
    with open(rndc_conf, "w", encoding="utf-8") as f:
        f.write(f'key "fakens" {{ algorithm hmac-sha256; secret "{key}"; }};\n'
                f'options {{ default-key "fakens"; default-server 127.0.0.1; default-port {control}; }};\n')
    log_path = os.path.join(directory, "named-resolver.log")
    open(log_path, "wb").close()
    argv = [binary, "-g", "-n", "2", "-c", config]
    if not uses_ip6(lab):
        argv.insert(1, "-4")
    process = _spawn(argv, log_path, directory)

    def control_cmd(*args: str) -> bool:
        try:
            done = subprocess.run([rndc, "-c", rndc_conf, *args], capture_output=True, text=True, timeout=15,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ToolError(f"rndc {' '.join(args)} did not answer within 15 s") from None
        return done.returncode == 0

    def flush() -> None:
        if not control_cmd("flush"):
            raise ServerError(f"rndc flush failed (named log {log_path})")

    resolver = RunningResolver("named", tool_version([binary, "-v"]), ("127.0.0.1", port), process, log_path,
                               config, flush)
    return _wait_ready(resolver, lambda: control_cmd("status") and _answers(resolver.address), timeout)


# -- Knot Resolver ---------------------------------------------------------------------


def _control(path: str, command: str, timeout: float = 10.0) -> str:
    """One command on kresd's control socket (its Lua console); what it printed."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)  # kresd runs the line, answers and closes
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return data.decode(errors="replace")


def start_kresd(lab: Hierarchy, directory: str, *, qname_minimisation: bool = False,
                timeout: float = 30.0) -> RunningResolver:
    """Knot Resolver (``kresd -n -c CONFIG DIR``), flushed with ``cache.clear()`` on its control socket."""
    binary = _binary("kresd")
    port = free_port()
    rundir = socket_dir(directory, "kresd")
    config = os.path.join(directory, "kresd.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(kresd_config(lab, port, directory, qname_minimisation))
    log_path = os.path.join(directory, "kresd.log")
    open(log_path, "wb").close()
    process = _spawn([binary, "-n", "-c", config, rundir], log_path, rundir)
    control = os.path.join(rundir, "control", str(process.pid))

    def flush() -> None:
        try:
            _control(control, "cache.clear()")
        except OSError as e:
            raise ServerError(f"kresd's control socket {control}: {e} (log {log_path})") from None

    resolver = RunningResolver("kresd", tool_version([binary, "--version"]), ("127.0.0.1", port), process,
                               log_path, config, flush)
    return _wait_ready(resolver, lambda: os.path.exists(control) and _answers(resolver.address), timeout)


# -- PowerDNS Recursor -----------------------------------------------------------------


def start_pdns_recursor(lab: Hierarchy, directory: str, *, qname_minimisation: bool = False,
                        timeout: float = 30.0) -> RunningResolver:
    """PowerDNS Recursor (``pdns_recursor --config-dir DIR``), flushed with ``rec_control wipe-cache``."""
    binary = _binary("pdns_recursor")
    rec_control = _binary("rec_control")
    port = free_port()
    confdir = socket_dir(directory, "pdns-recursor")
    config = os.path.join(confdir, "recursor.conf")
    with open(config, "w", encoding="utf-8") as f:
        f.write(pdns_recursor_config(lab, port, confdir, qname_minimisation))
    log_path = os.path.join(directory, "pdns-recursor.log")
    open(log_path, "wb").close()
    process = _spawn([binary, f"--config-dir={confdir}"], log_path, confdir)

    def control_cmd(*args: str) -> bool:
        try:
            done = subprocess.run([rec_control, f"--socket-dir={confdir}", *args], capture_output=True, text=True,
                                  timeout=15, check=False)
        except subprocess.TimeoutExpired:
            raise ToolError(f"rec_control {' '.join(args)} did not answer within 15 s") from None
        return done.returncode == 0

    def flush() -> None:
        # rec_control wipe-cache forgets records, negative answers and the packet cache, but not the
        # servers' measured speeds and throttles (4.8 has no command for those): it would stay with
        # the server it found fastest. A fresh resolver is a restarted one.
        resolver.stop()
        resolver.process = _spawn([binary, f"--config-dir={confdir}"], log_path, confdir)
        _wait_ready(resolver, ready, timeout)

    def ready() -> bool:
        return control_cmd("ping") and _answers(resolver.address)

    resolver = RunningResolver("pdns-recursor", tool_version([binary, "--version"]), ("127.0.0.1", port), process,
                               log_path, config, flush)
    return _wait_ready(resolver, ready, timeout)


STARTERS: dict[str, Callable[..., RunningResolver]] = {
    "unbound": start_unbound_resolver, "named": start_named, "kresd": start_kresd,
    "pdns-recursor": start_pdns_recursor,
}


def start_resolver(name: str, lab: Hierarchy, directory: str, *, qname_minimisation: bool = False,
                   timeout: float = 30.0) -> RunningResolver:
    """Start the resolver called *name* (one of :data:`RESOLVERS`) in front of *lab*."""
    if name not in STARTERS:
        raise ValueError(f"{name!r} is not a resolver fakens knows ({', '.join(RESOLVERS)})")
    os.makedirs(directory, exist_ok=True)
    return STARTERS[name](lab, os.path.abspath(directory), qname_minimisation=qname_minimisation, timeout=timeout)
