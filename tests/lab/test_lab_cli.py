"""``fakens lab check|up|run`` end to end, in subprocesses (``python -m fakens``).

``lab up`` binds port 53 on 127.x addresses: these tests run in the suite's private network
namespace (as root there). Readiness is the printed "ready" line (or the command's own
queries), polled with a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import pytest
from helpers import poll

from ._common import EXAMPLE_ZONE, write

pytestmark = pytest.mark.port53

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "PYTHONPATH": ROOT, "PYTHONUNBUFFERED": "1"}

SCENARIO = """\
[lab]
name = "cli"

[[zones]]
file = "example.test.zone"

[[servers]]
name = "ns1.example.test."
addresses = ["127.0.53.1"]

[[servers]]
name = "ns2.example.test."
addresses = ["127.0.53.2"]
faults = ["nxdomain qname=www.example.test."]
"""


def fakens(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", *args], env=ENV, capture_output=True, text=True,
                          timeout=60, **options)  # type: ignore[call-overload]


class Lab:
    """``fakens lab up`` in the background, its output collected line by line."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "fakens", "lab", "up", *args], env=ENV, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, deadline: float = 20) -> None:
        def seen() -> bool:
            if text in self.output:
                return True
            assert self.process.poll() is None, f"fakens lab up exited {self.process.returncode}:\n{self.output}"
            return False

        poll(seen, deadline, what=f"{text!r} in the output of fakens lab up")

    def finish(self, timeout: float = 20) -> int:
        code = self.process.wait(timeout)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def labs() -> Iterator[list[Lab]]:
    started: list[Lab] = []
    yield started
    for lab in started:
        lab.kill()


def query(address: str, qname: str, rdtype: str = "A") -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(qname, rdtype, flags=0), address, timeout=2)


# -- check --------------------------------------------------------------------------------


def test_check_prints_the_plan(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO + '\n[[timeline]]\nat = "1m"\naction = "bump-serial"\nzone = "example.test."\n',
                 example_test_zone=EXAMPLE_ZONE)
    done = fakens("lab", "check", str(path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{path}: lab 'cli', mode loopback: 4 servers, 3 zones, 1 timeline event"
    assert lines[1].split() == ["SERVER", "ADDRESSES", "ZONES", "(SERIAL)", "FAULTS"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:6]}
    assert rows["ns1.example.test."] == ["127.0.53.1#53", "example.test.", "(1)", "-"]
    assert rows["ns2.example.test."] == ["127.0.53.2#53", "example.test.", "(1)", "nxdomain-1"]
    assert set(rows) == {"a.root-servers.test.", "ns1.nic.test.", "ns1.example.test.", "ns2.example.test."}
    assert "  at       60s  bump the serial of example.test." in lines
    assert lines[-1] == "ok (addresses are planned; `lab up` picks a free 127.x block)"


def test_check_reports_every_problem_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace('addresses = ["127.0.53.2"]', 'addresses = ["192.0.2.2"]')
                 + '\n[[timeline]]\nat = "1m"\naction = "stpo"\n', example_test_zone=EXAMPLE_ZONE)
    done = fakens("lab", "check", "lab.toml", cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "fakens: error: lab.toml:18: timeline[0].action: unknown action 'stpo' (did you mean 'stop'?); valid actions: "
        "edit, bump-serial, delegate, add-fault, remove-fault, stop, start, rollover",
        "lab.toml:13: servers[1].addresses[0]: 192.0.2.2 is not a loopback address, and the lab runs on this host's "
        "loopback (mode \"loopback\": 127.0.0.0/8 and ::1): use 127.x.y.z, or run the lab in a private network namespace "
        "where any address works: `fakens lab run SCENARIO -- COMMAND` (with lab.mode = \"namespace\")",
        "(2 problems)"]
    assert os.path.exists(path)
    # checked for a private namespace, the address is fine (the action is not)
    again = fakens("lab", "check", "--mode", "namespace", "lab.toml", cwd=tmp_path)
    assert again.returncode == 2 and "192.0.2.2" not in again.stderr and "stpo" in again.stderr


def test_check_in_namespace_mode(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace("127.0.53.1", "192.0.2.1").replace("127.0.53.2", "2001:db8::2"),
                 example_test_zone=EXAMPLE_ZONE)
    done = fakens("lab", "check", "--mode", "namespace", str(path))
    assert done.returncode == 0, done.stderr
    assert "mode namespace" in done.stdout and "2001:db8::2#53" in done.stdout and done.stdout.endswith("ok\n")


# -- up -----------------------------------------------------------------------------------


def test_up_serves_writes_configs_and_stops_on_sigterm(tmp_path: Path, labs: list[Lab]) -> None:
    path = write(tmp_path, SCENARIO, example_test_zone=EXAMPLE_ZONE)
    configs = tmp_path / "configs"
    lab = Lab(str(path), "--for", "60", "--control", "none", "--config-dir", str(configs), "-v")
    labs.append(lab)
    lab.wait_for("ready; Ctrl-C stops")
    assert f"configs: {configs} (root.hints, unbound.conf, named.conf, named-secondary.conf, kresd.conf, " \
           "pdns-recursor/recursor.conf)" in lab.lines
    hints = (configs / "root.hints").read_text()
    root = hints.split()[-1]
    assert hints.startswith(".                     3600000 NS a.root-servers.test.\n") and root.startswith("127.")
    # the root refers to test., test. to the servers of example.test., which answer
    referral = query(root, "www.example.test.")
    assert not referral.answer and [rrset.name.to_text() for rrset in referral.authority] == ["test."]
    tld = referral.additional[0][0].address
    referral = query(tld, "www.example.test.")
    assert sorted(rd.target.to_text() for rd in referral.authority[0]) == ["ns1.example.test.", "ns2.example.test."]
    assert sorted(rrset[0].address for rrset in referral.additional) == ["127.0.53.1", "127.0.53.2"]
    assert query("127.0.53.1", "www.example.test.").answer[0][0].address == "192.0.2.10"
    assert dns.rcode.to_text(query("127.0.53.2", "www.example.test.").rcode()) == "NXDOMAIN"  # its fault
    # -v: one line per query, as they come
    poll(lambda: sum("www.example.test." in line for line in lab.lines) >= 4, 10, what="4 query lines")
    unbound = (configs / "unbound.conf").read_text()
    for line in (f'root-hints: "{configs}/root.hints"', "do-not-query-localhost: no", 'local-zone: "test." nodefault',
                 "port: 5300", "do-ip6: no"):
        assert f"  {line}\n" in unbound
    named = (configs / "named.conf").read_text()
    for text in ("dnssec-validation no;", "empty-zones-enable no;", "recursion yes;", "listen-on port 5301",
                 f'zone "." {{ type hint; file "{configs}/root.hints"; }};'):
        assert text in named
    secondary = (configs / "named-secondary.conf").read_text()
    for text in ("dnssec-validation no;", "empty-zones-enable no;", "recursion no;", "listen-on port 5302",
                 'zone "example.test." { type secondary; primaries { 127.0.53.1 port 53; };', 'zone "test."'):
        assert text in secondary
    assert 'zone "." {' not in secondary
    kresd = (configs / "kresd.conf").read_text()
    for text in ("net.listen('127.0.0.1', 5303,", f"hints.root_file('{configs}/root.hints')",
                 "policy.special_names = {}", "option('ALLOW_LOCAL', true)", "trust_anchors.remove('.')"):
        assert text in kresd
    recursor = (configs / "pdns-recursor" / "recursor.conf").read_text().splitlines()
    for line in ("local-port=5304", f"hint-file={configs}/pdns-recursor/root.hints", "dont-query=", "dnssec=off",
                 "forward-zones="):
        assert line in recursor
    check_with_tools(configs)
    lab.process.send_signal(signal.SIGTERM)
    assert lab.finish() == 0, lab.output
    assert lab.lines[-1].startswith("fakens lab 'cli' stopped after ")
    queries = int(lab.lines[-1].split("after ")[1].split()[0])
    assert queries >= 4


def check_with_tools(configs: Path) -> None:
    """unbound-checkconf and named-checkconf accept the configs, when they are installed."""
    checkers = {"unbound-checkconf": ["unbound.conf"], "named-checkconf": ["named.conf", "named-secondary.conf"]}
    for tool, files in checkers.items():
        found = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        if found is None:
            continue
        for name in files:
            done = subprocess.run([found, str(configs / name)], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, f"{tool} {name}: {done.stdout}{done.stderr}"


def test_up_notifies_the_secondary_of_named_secondary_conf(tmp_path: Path, labs: list[Lab]) -> None:
    """A server whose notify lists "secondary" NOTIFYs 127.0.0.1 at the resolver port + 2 (where
    named-secondary.conf listens) after the timeline's edit."""
    scenario = SCENARIO.replace('addresses = ["127.0.53.1"]', 'addresses = ["127.0.53.1"]\noptions = { notify = ["secondary"] }')
    scenario += '\n[[timeline]]\nat = 1\naction = "bump-serial"\nzone = "example.test."\n'
    path = write(tmp_path, scenario, example_test_zone=EXAMPLE_ZONE)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as secondary:
        secondary.bind(("127.0.0.1", 0))
        port = secondary.getsockname()[1]  # an ephemeral port: port - 2 is one too
        lab = Lab(str(path), "--for", "60", "--control", "none", "--config-dir", str(tmp_path / "configs"),
                  "--resolver-port", str(port - 2))
        labs.append(lab)
        secondary.settimeout(20)
        wire, sender = secondary.recvfrom(65535)
    notify = dns.message.from_wire(wire)
    assert notify.opcode() == dns.opcode.NOTIFY and notify.question[0].name.to_text() == "example.test."
    assert sender == ("127.0.53.1", 53), lab.output
    assert f"listen-on port {port} " in (tmp_path / "configs" / "named-secondary.conf").read_text()


def test_up_for_seconds_exits_0(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO, example_test_zone=EXAMPLE_ZONE)
    started = time.monotonic()
    done = fakens("lab", "up", str(path), "--for", "0.5", "--control", "none", "--config-dir", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30
    assert "ready; Ctrl-C stops (running for 0.5 s)" in done.stdout
    assert done.stdout.splitlines()[-1] == "fakens lab 'cli' stopped after 0 queries"


def test_up_a_namespace_scenario_points_to_lab_run(tmp_path: Path) -> None:
    path = write(tmp_path, SCENARIO.replace('name = "cli"', 'mode = "namespace"').replace("127.0.53.1", "192.0.2.1"),
                 example_test_zone=EXAMPLE_ZONE)
    done = fakens("lab", "up", str(path), "--for", "1", "--control", "none")
    assert done.returncode == 2
    assert done.stderr == (f"fakens: error: {path}: lab.mode is \"namespace\" (its addresses need a private network "
                           f"namespace): use `fakens lab run {path} -- COMMAND`\n")


def test_up_without_the_right_to_bind_port_53(tmp_path: Path) -> None:
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs setpriv (util-linux) and root to drop CAP_NET_BIND_SERVICE")
    path = write(tmp_path, SCENARIO, example_test_zone=EXAMPLE_ZONE)
    done = subprocess.run([setpriv, "--bounding-set=-net_bind_service", sys.executable, "-m", "fakens", "lab", "up",
                           str(path), "--for", "1", "--control", "none"], env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    first, second = done.stderr.splitlines()
    assert first.startswith("fakens: error: cannot bind 127.") and first.endswith(":53: Permission denied")
    assert second == ("A lab's servers listen on port 53 of their addresses: run as root or with CAP_NET_BIND_SERVICE, "
                      f"or use `fakens lab run {path} -- COMMAND` (a private network namespace; no root needed where "
                      "unprivileged user namespaces are allowed)")


# -- run ----------------------------------------------------------------------------------

NAMESPACE_SCENARIO = """\
[lab]
name = "ns"
mode = "namespace"

[[zones]]
text = \"\"\"
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
@    NS  ns6
ns1  A   192.0.2.1
ns1  AAAA 2001:db8::1
ns6  AAAA 2001:db8::6
www  A   192.0.2.10
\"\"\"

[[servers]]
name = "ns1.example.test."
addresses = ["192.0.2.1", "2001:db8::1"]

[[servers]]
name = "ns6.example.test."
addresses = ["2001:db8::6"]
"""

INSIDE = """
import os, socket, sys
import dns.message, dns.query
def www(address):
    reply = dns.query.udp(dns.message.make_query("www.example.test.", "A", flags=0), address, timeout=2)
    return reply.answer[0][0].address
assert www("192.0.2.1") == "192.0.2.10"
assert www("2001:db8::1") == "192.0.2.10"
assert www("2001:db8::6") == "192.0.2.10"  # the IPv6-only server
hints = open(os.environ["FAKENS_LAB_ROOT_HINTS"]).read()
root = hints.split()[-1]
referral = dns.query.udp(dns.message.make_query("www.example.test.", "A", flags=0), root, timeout=2)
assert [r.name.to_text() for r in referral.authority] == ["test."], referral
assert "FAKENS_LAB_NAMESPACE" not in os.environ
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    sock.sendto(b"x", ("198.51.100.1", 53))  # not a lab address: nothing routes there
except OSError as e:
    print("unreachable:", e.strerror)
    sys.exit(7)
sys.exit(1)
"""


def test_run_gives_every_server_its_address_in_a_private_namespace(tmp_path: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux)")
    path = write(tmp_path, NAMESPACE_SCENARIO)
    done = fakens("lab", "run", str(path), "--control", "none", "--config-dir", str(tmp_path / "c"), "--",
                  sys.executable, "-c", textwrap.dedent(INSIDE))
    assert done.returncode == 7, f"{done.stdout}\n{done.stderr}"
    assert "unreachable: Network is unreachable" in done.stdout
    assert "fakens lab 'ns' (namespace): 4 servers" in done.stdout
    assert "2001:db8::6#53" in done.stdout
    assert "fakens lab 'ns' stopped after 4 queries" in done.stdout
    assert (tmp_path / "c" / "unbound.conf").read_text().count("do-ip6: yes") == 1


def test_run_passes_the_command_status_and_needs_a_command(tmp_path: Path) -> None:
    path = write(tmp_path, NAMESPACE_SCENARIO)
    done = fakens("lab", "run", str(path), "--quiet", "--control", "none", "--", sys.executable, "-c",
                  "import sys; sys.exit(3)")
    assert (done.returncode, done.stdout) == (3, "")
    for args in ([], ["--control", "none"]):
        missing = fakens("lab", "run", str(path), *args)
        assert missing.returncode == 2 and "give the command to run in the lab's namespace after --" in missing.stderr


def test_run_checks_the_scenario_before_making_a_namespace(tmp_path: Path) -> None:
    path = write(tmp_path, NAMESPACE_SCENARIO.replace('"2001:db8::6"]', '"2001:db8::6", "2001:db8::1"]'))
    done = fakens("lab", "run", str(path), "--", "true")
    assert done.returncode == 2
    assert "servers[1].addresses[1]: 2001:db8::1 port 53 is also ns1.example.test.'s" in done.stderr


# addresses of its own: test_up_serves_... may run at the same time (pytest-xdist)
TIMELINE_SCENARIO = SCENARIO.replace("127.0.53.", "127.0.54.") + """
[[timeline]]
at = "1h"
action = "edit"
zone = "example.test."
add = ["late 300 A 192.0.2.99"]
"""


def test_up_with_ready_file_driven_by_ctl(tmp_path: Path, labs: list[Lab]) -> None:
    """The lab in the background, found through its ready file; ``fakens ctl`` changes a fault
    (seen on the next query), moves the lab's clock (the timeline's edit happens), lists the
    timeline; SIGTERM stops it and removes the ready file."""
    path = write(tmp_path, TIMELINE_SCENARIO, example_test_zone=EXAMPLE_ZONE)
    ready = tmp_path / "lab.json"
    lab = Lab(str(path), "--ready-file", str(ready), "--config-dir", str(tmp_path / "configs"))
    labs.append(lab)
    poll(ready.exists, 20, what="the lab's ready file")
    assert oct(ready.stat().st_mode & 0o777) == "0o600"

    def ctl(*args: str) -> str:
        done = fakens("ctl", *args, "--ready-file", str(ready))
        assert done.returncode == 0, f"fakens ctl {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    assert "ns1.example.test." in ctl("servers")
    assert query("127.0.54.1", "www.example.test.").rcode() == dns.rcode.NOERROR
    ctl("fault", "add", "rcode rcode=REFUSED qname=www.example.test.", "--server", "ns1.example.test.", "--name", "no-www")
    assert query("127.0.54.1", "www.example.test.").rcode() == dns.rcode.REFUSED
    assert "no-www" in ctl("fault", "list", "--server", "ns1.example.test.")
    ctl("fault", "remove", "no-www", "--server", "ns1.example.test.")
    assert query("127.0.54.1", "www.example.test.").rcode() == dns.rcode.NOERROR
    assert "pending" in ctl("timeline")
    assert query("127.0.54.1", "late.example.test.").rcode() == dns.rcode.NXDOMAIN
    ctl("clock", "advance", "3600")  # an hour of lab time at once: the edit is due
    assert query("127.0.54.1", "late.example.test.").answer[0][0].address == "192.0.2.99"
    assert "done" in ctl("timeline")
    assert "REFUSED" in ctl("log", "--server", "ns1.example.test.", "--rcode", "REFUSED")
    lab.process.send_signal(signal.SIGTERM)
    assert lab.finish() == 0, lab.output
    assert "timeline at 36" in lab.output and "now serial 2" in lab.output  # printed with the lab time it ran at
    assert not ready.exists()
