"""Run external DNS tools (named, unbound, ...) for interop tests, with deadlines.

Every process writes stdout/stderr to files in its work directory; failure messages include
the tail of its stderr. Nothing here sleeps to synchronise: readiness is polled.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Self

import pytest

from fakens.testing import free_port as fakens_free_port

from . import ask, is_ci, poll, require_tool

if TYPE_CHECKING:
    from fakens.testing import Unbound


__all__ = [
    "Proc",
    "ProcessSet",
    "delv_outcome",
    "describe_unbound",
    "free_port",
    "named_conf",
    "optional_delv",
    "run_tool",
    "start_named_secondary",
    "start_process",
    "start_unbound",
    "unbound_conf",
    "unbound_control",
]


class Proc:
    """An external process whose output goes to files in `workdir`."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.workdir = Path(workdir)
        self.conf: Path | None = None  # the tool's configuration file, when it has one
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.workdir / f"{name}.stdout"
        self.stderr_path = self.workdir / f"{name}.stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                cwd=self.workdir, env=env, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def output(self) -> str:
        """stdout followed by stderr (named -g and unbound -d log to stderr)."""
        return self.stdout() + self.stderr()

    def describe(self, tail: int = 40) -> str:
        """For failure messages: command, state and the last lines of its output."""
        state = "running" if self.alive() else f"exited with {self.popen.returncode}"
        lines = self.output().splitlines()[-tail:]
        body = "\n".join("    " + line for line in lines) or "    (no output)"
        return (f"{self.name} ({' '.join(self.argv)}), pid {self.pid}, {state}; "
                f"last output:\n{body}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        return self.popen.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Proc {self.name} pid={self.pid} alive={self.alive()}>"


class ProcessSet:
    """Processes stopped together (last started, first stopped) at fixture teardown."""

    def __init__(self) -> None:
        self.procs: list[Proc] = []

    def add(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc

    def start(self, name: str, argv: Sequence[str], workdir: Path,
              env: dict[str, str] | None = None) -> Proc:
        return self.add(Proc(name, argv, workdir, env))

    def describe(self) -> str:
        return "\n".join(p.describe() for p in self.procs)

    def stop_all(self) -> None:
        while self.procs:
            self.procs.pop().stop()


def start_process(name: str, argv: Sequence[str], workdir: Path,
                  env: dict[str, str] | None = None) -> Proc:
    return Proc(name, argv, workdir, env)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP on `host` (racy by nature; good enough on loopback)."""
    return fakens_free_port(host)


# --- BIND named as a secondary -------------------------------------------------------------

def named_conf(workdir: Path, *, primary: tuple[str, int], zone: str,
               listen: tuple[str, int]) -> Path:
    """Write named.conf for a secondary of `zone` (INTEROP.md recipe); return its path."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    zone = zone.rstrip(".")
    conf = f"""\
options {{
  directory "{workdir}"; pid-file "{workdir}/named.pid"; session-keyfile "{workdir}/session.key";
  managed-keys-directory "{workdir}";
  listen-on port {listen[1]} {{ {listen[0]}; }}; listen-on-v6 {{ none; }};
  recursion no; dnssec-validation no; notify no;
  allow-notify {{ 127.0.0.0/8; }};
  min-refresh-time 2; max-refresh-time 10; min-retry-time 2; max-retry-time 10;
}};
controls {{ }};
zone "{zone}" {{ type secondary; primaries {{ {primary[0]} port {primary[1]}; }};
  file "{zone}.db"; masterfile-format text; }};
"""
    path = workdir / "named.conf"
    path.write_text(conf)
    return path


def start_named_secondary(workdir: Path, *, primary: tuple[str, int], zone: str,
                          listen: tuple[str, int], timeout: float = 20.0) -> Proc:
    """Start `named -g` as a secondary; return once it logs `running` or answers a query.

    named listens only on addresses configured on an interface: outside a namespace where
    they were added (`ip addr add 127.0.0.2/8 dev lo`), only 127.0.0.1 works.
    """
    named = require_tool("named")
    conf = named_conf(workdir, primary=primary, zone=zone, listen=listen)
    proc = Proc("named", [named, "-g", "-4", "-c", str(conf)], Path(workdir))
    proc.conf = conf

    def ready() -> bool:
        if re.search(r"^\S+ \S+ running$", proc.stderr(), re.MULTILINE):
            return True
        ask((listen[0], listen[1]), "version.bind.", "TXT", rdclass="CH", timeout=0.2, flags=0)
        return True

    try:
        poll(ready, timeout, what=f"named on {listen[0]}#{listen[1]}", procs=[proc])
    except BaseException:
        proc.stop()
        raise
    return proc


# --- unbound as a resolver ------------------------------------------------------------------

def unbound_conf(workdir: Path, *, root_hints: str, listen: tuple[str, int],
                 control_port: int, qname_minimisation: bool = True,
                 extra: str = "") -> Path:
    """Write root.hints and unbound.conf (INTEROP.md recipe); return the conf path."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    hints = workdir / "root.hints"
    hints.write_text(root_hints if root_hints.endswith("\n") else root_hints + "\n")
    conf = f"""\
server:
  interface: {listen[0]}
  port: {listen[1]}
  do-ip6: no
  num-threads: 1
  username: ""
  chroot: ""
  directory: "{workdir}"
  pidfile: "{workdir}/unbound.pid"
  logfile: ""
  use-syslog: no
  verbosity: 1
  root-hints: "{hints}"
  do-not-query-localhost: no
  module-config: "iterator"
  local-zone: "test." nodefault
  discard-timeout: 0
  qname-minimisation: {"yes" if qname_minimisation else "no"}
{extra}
remote-control:
  control-enable: yes
  control-use-cert: no
  control-interface: 127.0.0.1
  control-port: {control_port}
"""
    path = workdir / "unbound.conf"
    path.write_text(conf)
    return path


def start_unbound(workdir: Path, *, root_hints: str, listen: tuple[str, int],
                  control_port: int | None = None, qname_minimisation: bool = True,
                  extra: str = "", timeout: float = 20.0) -> Proc:
    """Start `unbound -d`; return once it answers (`localhost.` is answered locally)."""
    unbound = require_tool("unbound")
    if control_port is None:
        control_port = free_port("127.0.0.1")
    conf = unbound_conf(workdir, root_hints=root_hints, listen=listen,
                        control_port=control_port, qname_minimisation=qname_minimisation,
                        extra=extra)
    proc = Proc("unbound", [unbound, "-d", "-c", str(conf)], Path(workdir))
    proc.conf = conf

    def ready() -> bool:
        ask((listen[0], listen[1]), "localhost.", "A", timeout=0.2)
        return True

    try:
        poll(ready, timeout, what=f"unbound on {listen[0]}#{listen[1]}", procs=[proc])
    except BaseException:
        proc.stop()
        raise
    return proc


def describe_unbound(unbound: Unbound, tail: int = 40) -> str:
    """For failure messages about an unbound from fakens.testing.start_unbound (the
    ``fakens_unbound`` fixture): config, state and the last lines of its log."""
    process = unbound.process
    state = "running" if process.poll() is None else f"exited with {process.returncode}"
    try:
        lines = Path(unbound.log_path).read_text(errors="replace").splitlines()[-tail:]
    except OSError as e:
        lines = [f"(log {unbound.log_path} unreadable: {e})"]
    body = "\n".join("    " + line for line in lines) or "    (no output)"
    host, port = unbound.address
    return (f"unbound on {host}#{port} (-c {unbound.config}), pid {process.pid}, {state}; "
            f"last output:\n{body}")


def delv_outcome(delv: str, anchor: str, address: tuple[str, int], qname: str, qtype: str) -> str:
    """What ``delv @resolver -a ANCHOR`` makes of *qname*: secure ("; fully validated"),
    insecure ("; unsigned answer"), each also for a negative response; bogus (resolution or
    validation failed); else "unclear" and its output. delv validates itself (asking with CD=1)."""
    done = subprocess.run([delv, f"@{address[0]}", "-p", str(address[1]), "-a", anchor, "+root", qname, qtype],
                          capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL,
                          env={**os.environ, "LC_ALL": "C"})
    out = done.stdout + done.stderr
    first = out.splitlines()[0] if out else ""  # "; [negative response, ]fully validated" / "unsigned answer"
    if first.endswith("fully validated"):
        return "secure"
    if first.endswith("unsigned answer"):
        return "insecure"
    if "resolution failed" in out or "validation failed" in out or "no valid" in out:
        return "bogus"
    return f"unclear ({out.strip()[-300:]})"


def optional_delv(unbound: Unbound) -> tuple[str, str] | None:
    """(delv, the trust-anchors file next to *unbound*'s config) when delv is installed; None
    locally without it (under CI=true the test fails)."""
    delv = shutil.which("delv")
    if delv is None:
        if is_ci():
            pytest.fail("needs delv (Debian bind9-dnsutils) under CI=true", pytrace=False)
        return None
    return delv, str(Path(unbound.config).parent / "trust-anchors.conf")


def unbound_control(conf: Path | str, *args: str, timeout: float = 10.0) -> str:
    """Run `unbound-control -c CONF ARGS...`; return stdout, raise with output on failure."""
    tool = require_tool("unbound-control")
    res = subprocess.run([tool, "-c", str(conf), *args], capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    if res.returncode != 0:
        raise AssertionError(f"unbound-control {' '.join(args)} failed ({res.returncode}):\n"
                             f"{res.stdout}{res.stderr}")
    return res.stdout


def run_tool(argv: Sequence[str], timeout: float = 15.0, check: bool = True) -> str:
    """Run a short-lived tool (dig, kdig, ...) and return its stdout (+stderr on failure)."""
    res = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                         stdin=subprocess.DEVNULL)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited with {res.returncode}:\n"
                             f"{res.stdout}{res.stderr}")
    return res.stdout
