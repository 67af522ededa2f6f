"""``fakens serve --control ... --ready-file F`` and ``fakens ctl ... --ready-file F`` end to end,
each in a process of its own (``python -m fakens`` from this checkout). The tests wait on the
ready file (polled, with a deadline) and on output lines, never for a fixed time."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.message
import dns.opcode
import dns.rcode
import pytest
from helpers import ask, poll
from helpers.procs import Proc, ProcessSet

from fakens.ready import ReadyFile, read_ready_file

from .conftest import EXAMPLE_ZONE, REPO, TIMEOUT

WWW = "www.example.test."


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FAKENS_READY_FILE"}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def fakens(*args: str) -> list[str]:
    return [sys.executable, "-m", "fakens", *args]


@dataclass
class Serving:
    """A running ``fakens serve`` and what its ready file says."""

    proc: Proc
    ready_path: Path
    ready: ReadyFile

    @property
    def address(self) -> tuple[str, int]:
        first = self.ready.data["servers"][0]["addresses"][0]
        return first["address"], first["port"]

    def ctl(self, *args: str, status: int = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``fakens ctl ARGS --ready-file F``; asserts the exit status."""
        done = subprocess.run(fakens("ctl", *args, "--ready-file", str(self.ready_path)), capture_output=True, text=True,
                              timeout=30, env=env or _env(), stdin=subprocess.DEVNULL, check=False)
        assert done.returncode == status, f"fakens ctl {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        return done

    def stop(self) -> int | None:
        self.proc.popen.send_signal(signal.SIGTERM)
        return self.proc.popen.wait(TIMEOUT * 2)


@pytest.fixture
def start(tmp_path: Path, procs: ProcessSet) -> Iterator[Callable[..., Serving]]:
    """``start(*options)``: fakens serve zones/example.test.zone on 127.0.0.1:0 with a control
    endpoint and a ready file, returned once the ready file says it is ready."""
    count = iter(range(100))

    def run(*options: str) -> Serving:
        n = next(count)
        ready_path = tmp_path / f"ready-{n}.json"
        proc = procs.start(f"fakens-serve-{n}", fakens("serve", EXAMPLE_ZONE, "--listen", "127.0.0.1:0",
                                                       "--control", "127.0.0.1:0", "--ready-file", str(ready_path),
                                                       *options), tmp_path, env=_env())
        ready = poll(lambda: read_ready_file(ready_path), 30, what="the ready file", procs=[proc])
        return Serving(proc, ready_path, ready)

    yield run


class Lines:
    """A process's stdout read line by line by a thread; ``next()`` waits with a deadline."""

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def next(self, timeout: float = TIMEOUT) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout}s") from None
        assert line is not None, "the process ended its output"
        return line


def test_serve_ctl_fault_query_log_follow_and_sigterm(start: Callable[..., Serving]) -> None:
    serving = start("-v")
    assert serving.ready.data["servers"][0]["zones"] == [{"origin": "example.test.", "serial": 2024010101}]
    assert os.stat(serving.ready_path).st_mode & 0o777 == 0o600
    assert ask(serving.address, WWW).rcode() == dns.rcode.NOERROR

    added = serving.ctl("fault", "add", "nxdomain", "qname=www.example.test.")
    assert added.stdout.startswith("added nxdomain-") and added.stdout.rstrip().endswith(
        "on fakens: nxdomain qname=www.example.test.")
    assert ask(serving.address, WWW).rcode() == dns.rcode.NXDOMAIN  # the next query sees it
    assert ask(serving.address, "mail.example.test.").rcode() == dns.rcode.NOERROR

    log = serving.ctl("log").stdout.splitlines()
    assert len(log) == 3
    assert log[1].endswith("www.example.test. A -> NXDOMAIN [faults: " + added.stdout.split()[1] + "]")
    assert serving.ctl("log", "--rcode", "NXDOMAIN", "--json").stdout.count("\n") == 1

    follow = subprocess.Popen(fakens("ctl", "log", "--follow", "--limit", "1", "--ready-file", str(serving.ready_path)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                              env=_env())
    try:
        lines = Lines(follow)
        assert lines.next(20).endswith("mail.example.test. A -> NOERROR")  # the newest: it follows from here
        ask(serving.address, "ftp.example.test.", "CNAME", transport="tcp")
        line = lines.next()
        assert " fakens tcp 127.0.0.1#" in line and line.endswith("ftp.example.test. CNAME -> NOERROR")
    finally:
        follow.send_signal(signal.SIGTERM)
        follow.wait(TIMEOUT)
    poll(lambda: "ftp.example.test. CNAME -> NOERROR" in serving.proc.stdout(), what="serve -v printing the query",
         procs=[serving.proc])

    assert serving.stop() == 0
    assert not serving.ready_path.exists()  # gone with the server
    assert "fakens: stopped after 4 queries" in serving.proc.stdout()


def test_ctl_zone_edit_sends_notify_to_the_serve_notify_target(start: Callable[..., Serving]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as secondary:
        secondary.bind(("127.0.0.1", 0))
        secondary.settimeout(TIMEOUT)
        port = secondary.getsockname()[1]
        serving = start("--notify", f"127.0.0.1:{port}")
        edited = serving.ctl("zone", "edit", "example.test.", "--add", "new 300 A 192.0.2.99", "--remove", "mail A")
        assert edited.stdout == (f"example.test. serial 2024010101 -> 2024010102 (version 2); "
                                 f"NOTIFY to 127.0.0.1:{port}\n")
        wire, peer = secondary.recvfrom(65535)
    notify = dns.message.from_wire(wire)
    assert notify.opcode() == dns.opcode.NOTIFY and notify.question[0].name.to_text() == "example.test."
    assert peer[:2] == serving.address
    assert ask(serving.address, "new.example.test.").answer[0][0].address == "192.0.2.99"
    assert ask(serving.address, "mail.example.test.").answer == []
    bumped = serving.ctl("zone", "bump", "example.test", "--json")
    assert json.loads(bumped.stdout)["serial"] == 2024010103
    quiet = serving.ctl("zone", "edit", "example.test.", "--add", "q A 192.0.2.7", "--no-bump")
    assert "serial 2024010103 -> 2024010103" in quiet.stdout
    assert serving.ctl("zone", "list").stdout == "example.test. serial 2024010103 (version 4, from " + EXAMPLE_ZONE + ")\n"
    assert serving.stop() == 0


def test_ctl_commands_their_output_and_exit_statuses(start: Callable[..., Serving], tmp_path: Path) -> None:
    serving = start("--quiet")
    servers = serving.ctl("servers").stdout.splitlines()
    host, port = serving.address
    assert servers[:3] == ["fakens serve: 1 server", f"fakens on {host}:{port} (udp, tcp), 0 queries",
                           f"  zone example.test. serial 2024010101 (version 1, from {EXAMPLE_ZONE})"]
    assert json.loads(serving.ctl("servers", "--json").stdout)["servers"][0]["addresses"][0]["port"] == port

    assert serving.ctl("fault", "add", "lame mode=servfail qtype=AAAA", "--name", "l").stdout == \
        "added l on fakens: lame mode=servfail qtype=AAAA\n"
    assert ask(serving.address, WWW, "AAAA").rcode() == dns.rcode.SERVFAIL
    assert serving.ctl("fault", "list").stdout == "l: lame mode=servfail qtype=AAAA (seen 1, fired 1)\n"
    assert serving.ctl("fault", "change", "l", "mode=refused").stdout == "changed l on fakens: lame mode=refused qtype=AAAA\n"
    assert ask(serving.address, WWW, "AAAA").rcode() == dns.rcode.REFUSED
    assert serving.ctl("fault", "remove", "l").stdout == "removed l on fakens: lame mode=refused qtype=AAAA\n"
    assert serving.ctl("fault", "list").stdout == "no faults\n"
    assert serving.ctl("fault", "list", "--json").stdout.strip() == json.dumps({"faults": []}, indent=2)

    # errors the endpoint reports: exit 1, its message on stderr
    bogus = serving.ctl("fault", "add", "bogus", status=1)
    assert bogus.stderr.startswith("fakens: error: unknown fault type 'bogus'; valid types: ") and bogus.stdout == ""
    assert "no fault named 'nope'" in serving.ctl("fault", "remove", "nope", status=1).stderr
    assert "serves no zone example.org." in serving.ctl("zone", "bump", "example.org.", status=1).stderr
    moved = serving.ctl("clock", "advance", "5", status=1)
    assert moved.stderr == "fakens: error: fakens serve runs on the real clock; a lab's clock can be moved\n"
    assert serving.ctl("clock", "pause", status=1).stderr == moved.stderr
    assert serving.ctl("clock").stdout.startswith("system clock: ")
    assert serving.ctl("timeline").stdout == "no timeline events\n"
    assert "no timeline" in serving.ctl("timeline", "run", "0", status=1).stderr
    assert "no server named 'ns9'" in serving.ctl("log", "--server", "ns9", status=1).stderr

    # usage: exit 2
    assert "ACTION" in serving.ctl("fault", status=2).stderr
    assert "invalid int value" in serving.ctl("log", "--limit", "x", status=2).stderr
    nowhere = subprocess.run(fakens("ctl", "servers"), capture_output=True, text=True, timeout=30, env=_env(),
                             stdin=subprocess.DEVNULL, check=False)
    assert nowhere.returncode == 2 and "needs --ready-file FILE (or $FAKENS_READY_FILE)" in nowhere.stderr
    # the environment names the ready file; the option may come before the command too
    by_env = subprocess.run(fakens("ctl", "fault", "list"), capture_output=True, text=True, timeout=30,
                            env=_env(FAKENS_READY_FILE=str(serving.ready_path)), stdin=subprocess.DEVNULL, check=False)
    assert (by_env.returncode, by_env.stdout) == (0, "no faults\n")
    before = subprocess.run(fakens("ctl", "--ready-file", str(serving.ready_path), "zone", "list"), capture_output=True,
                            text=True, timeout=30, env=_env(), stdin=subprocess.DEVNULL, check=False)
    assert before.returncode == 0 and before.stdout.startswith("example.test. serial")

    assert serving.stop() == 0
    assert serving.proc.stdout() == ""  # --quiet
    gone = serving.ctl("servers", status=1)
    assert f"ready file {serving.ready_path} does not exist" in gone.stderr


def test_ctl_waits_for_the_ready_file_to_come(tmp_path: Path, procs: ProcessSet) -> None:
    ready_path = tmp_path / "ready.json"
    waiting = subprocess.Popen(fakens("ctl", "servers", "--wait", "30", "--ready-file", str(ready_path)),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, env=_env())
    try:
        procs.start("fakens-serve", fakens("serve", EXAMPLE_ZONE, "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
                                           "--ready-file", str(ready_path)), tmp_path, env=_env())
        out, err = waiting.communicate(timeout=40)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 0, err
    assert out.startswith("fakens serve: 1 server\n")


@pytest.mark.parametrize(("options", "message"), [
    (["--control", "127.0.0.1:0"], "--control needs --ready-file FILE"),
    (["--control", "0.0.0.0:0", "--ready-file", "r.json"], "control address 0.0.0.0:0: the control endpoint listens on loopback only"),
    (["--control", "127.0.0.1:0", "--ready-file", "nowhere/r.json"], "ready file nowhere/r.json: cannot write in"),
    (["-v", "--quiet"], "not allowed with argument"),
])
def test_serve_refuses_bad_control_options(tmp_path: Path, options: list[str], message: str) -> None:
    done = subprocess.run(fakens("serve", EXAMPLE_ZONE, "--listen", "127.0.0.1:0", *options), capture_output=True,
                          text=True, timeout=30, env=_env(), cwd=tmp_path, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "fakens: ready" not in done.stdout
    assert not (tmp_path / "r.json").exists()


def test_ctl_log_pcap_writes_what_tshark_reads(start: Callable[..., Serving], tmp_path: Path,
                                               require_tool: Callable[[str], str]) -> None:
    """``fakens ctl log --pcap FILE``: the queries kept, with the reply bytes as sent, read by tshark."""
    tshark = require_tool("tshark")
    serving = start()
    serving.ctl("fault", "add", "nxdomain qname=nope.example.test.")
    assert ask(serving.address, WWW, "A").rcode() == dns.rcode.NOERROR
    assert ask(serving.address, "nope.example.test.", "A", transport="tcp").rcode() == dns.rcode.NXDOMAIN
    capture = tmp_path / "log.pcap"
    done = serving.ctl("log", "--pcap", str(capture))
    # UDP: query, reply; TCP: SYN, SYN-ACK, ACK, the query, its ACK, the reply, its ACK
    assert done.stdout.strip() == f"{capture}: 9 packets"
    port = serving.address[1]
    rows = subprocess.run([tshark, "-r", str(capture), "-d", f"tcp.port=={port},dns", "-d", f"udp.port=={port},dns",
                           "-Y", "dns", "-T", "fields", "-e", "dns.qry.name", "-e", "dns.flags.response",
                           "-e", "dns.flags.rcode"], capture_output=True, text=True, timeout=30, check=True).stdout.split("\n")
    seen = sorted(tuple(row.split("\t")) for row in rows if row)
    assert seen == sorted([("www.example.test", "0", ""), ("www.example.test", "1", "0"),   # query, reply NOERROR
                           ("nope.example.test", "0", ""), ("nope.example.test", "1", "3")]), seen  # reply NXDOMAIN
    assert serving.stop() == 0
