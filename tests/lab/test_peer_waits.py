"""What a paused lab still does on time, over real sockets (dnspython as the client):

- a ``delay`` fault's reply under ``fakens lab verify`` (fakens.verify.running: the LabClock
  paused) comes after about the delay in real time, not never, and moving the clock still
  releases it at once (``LabClock.call_later_peer``);
- a server whose ``notify`` option names ``"secondary"`` NOTIFYs the lab's secondary once
  ``Hierarchy.set_secondary`` says where it listens (lab verify's named), and ``no-notify``
  withholds it.

The labs use ``[lab] port = 0`` (a free port per server, queried directly). Waits are
events and socket timeouts with deadlines, never sleeps.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import dns.message
import dns.opcode
import dns.query
import pytest

from fakens import verify
from fakens.clock import LabClock, call_later_peer
from fakens.errors import ConfigError
from fakens.lab import Hierarchy
from fakens.scenario import build_lab, load_scenario

from ._common import EXAMPLE_ZONE, start, write

TIMEOUT = 3.0  # seconds a reply may take beyond its delay (a loaded machine)
DELAY = 0.4

LAB = """\
servers = [
  {{ name = "ns1.example.test.", addresses = ["127.0.0.1"], faults = ["delay ms={ms} name=slow"], options = {{ notify = ["secondary"] }} }},
  {{ name = "ns2.example.test.", addresses = ["127.0.0.2"] }},
]
zones = [{{ file = "example.test.zone" }}]
lab = {{ port = 0 }}
"""


def lab_file(tmp_path: Path, ms: float = DELAY * 1000) -> Path:
    return write(tmp_path, LAB.format(ms=ms), example_test_zone=EXAMPLE_ZONE)


def test_a_delay_under_lab_verify_answers_after_the_delay_not_never(tmp_path: Path) -> None:
    """lab verify's lab (clock paused): UDP and TCP replies come after about the delay; the lab's
    time does not move (the timeline stays where the steps put it)."""
    with verify.running(load_scenario(lab_file(tmp_path)), False, 1.0) as run:
        clock = run.lab.clock
        assert isinstance(clock, LabClock) and clock.paused
        held = clock.now()
        host, port = run.lab.server("ns1.example.test.").addresses[0]
        for send in (dns.query.udp, dns.query.tcp):
            query = dns.message.make_query("www.example.test.", "A", flags=0)
            began = time.monotonic()
            reply = send(query, host, port=port, timeout=DELAY + TIMEOUT)
            took = time.monotonic() - began
            assert reply.id == query.id and reply.answer, reply
            assert DELAY * 0.9 <= took < DELAY + TIMEOUT, (send.__name__, took)
        prompt_host, prompt_port = run.lab.server("ns2.example.test.").addresses[0]
        began = time.monotonic()
        assert dns.query.udp(dns.message.make_query("www.example.test.", "A", flags=0), prompt_host,
                             port=prompt_port, timeout=TIMEOUT).answer
        assert time.monotonic() - began < DELAY  # the other server is not slowed
        assert clock.paused and clock.now() == held
        entries = [e for e in run.lab.server("ns1.example.test.").log if e.qname.to_text() == "www.example.test."]
        assert len(entries) == 2 and all(e.delay == pytest.approx(DELAY) for e in entries)


async def test_moving_a_paused_lab_clock_still_releases_a_delay(tmp_path: Path, running: list[Hierarchy]) -> None:
    """A minute's delay, the clock paused: advancing it 60 s sends the reply at once."""
    clock = LabClock()
    lab = await start(running, build_lab(load_scenario(lab_file(tmp_path, ms=60_000)), probe=False, clock=clock))
    clock.pause()
    host, port = lab.server("ns1.example.test.").addresses[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        query = dns.message.make_query("www.example.test.", "A", flags=0)
        sock.sendto(query.to_wire(), (host, port))
        deadline = time.monotonic() + TIMEOUT
        while not clock.pending():  # the loop reads the query and sets the delay's timer
            assert time.monotonic() < deadline, "the delayed query was not read"
            await asyncio.sleep(0.005)  # polling interval: the loop reads the socket meanwhile
        with pytest.raises(BlockingIOError):
            sock.recv(65535)
        clock.advance(60)  # fires the delay's lab timer in this (the servers') loop
        reply = dns.message.from_wire(sock.recv(65535))
    assert reply.id == query.id and reply.answer


async def test_call_later_peer_on_a_lab_clock_fires_once_by_real_or_lab_time() -> None:
    loop = asyncio.get_running_loop()
    clock = LabClock()
    fired: list[str] = []
    call_later_peer(clock, 0.01, lambda: fired.append("not run yet"), loop)  # before run(): a ManualClock
    clock.run(loop)
    clock.pause()
    real = asyncio.Event()
    call_later_peer(clock, 0.05, lambda: (fired.append("real"), real.set()), loop)
    await asyncio.wait_for(real.wait(), TIMEOUT)  # paused: real time released it
    assert fired == ["real"] and clock.now() < 0.05
    call_later_peer(clock, 3600, lambda: fired.append("moved"), loop)
    cancelled = call_later_peer(clock, 3600, lambda: fired.append("cancelled"), loop)
    cancelled.cancel()
    clock.advance(3600)  # lab time released it (and the one set before run)
    assert fired == ["real", "not run yet", "moved"]
    clock.advance(3600)
    assert fired == ["real", "not run yet", "moved"] and not clock.pending()  # each once


async def test_a_lab_server_notifies_the_secondary_set_at_run_time(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, build_lab(load_scenario(lab_file(tmp_path)), probe=False, clock=LabClock()))
    primary = lab.server("ns1.example.test.")
    assert primary.notifier.targets == []  # "secondary" is nobody until set_secondary
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as secondary:
        secondary.bind(("127.0.0.1", 0))
        secondary.setblocking(False)
        lab.set_secondary(secondary.getsockname())
        assert primary.notifier.targets == [secondary.getsockname()]
        assert lab.server("ns2.example.test.").notifier.targets == []  # its notify does not name it
        zone = lab.all_zones["example.test."]
        zone.edit(add=["new 300 A 192.0.2.99"])
        loop = asyncio.get_running_loop()
        wire, sender = await asyncio.wait_for(loop.sock_recvfrom(secondary, 65535), TIMEOUT)
        notify = dns.message.from_wire(wire)
        assert notify.opcode() == dns.opcode.NOTIFY and sender == primary.addresses[0]
        assert notify.question[0].name.to_text() == "example.test."
        primary.faults.add("no-notify name=silent")
        zone.edit(add=["newer 300 A 192.0.2.98"])
        withheld = primary.notifies[-1]
        assert withheld.serial == zone.serial and withheld.note == "NOTIFY not sent" and withheld.attempts == 0
        with pytest.raises(BlockingIOError):
            secondary.recv(65535)
    with pytest.raises(ConfigError, match="fakens sends only to loopback"):
        lab.set_secondary(("192.0.2.53", 53))


def test_a_notify_target_that_is_neither_an_address_nor_secondary_is_a_scenario_error(tmp_path: Path) -> None:
    from fakens.scenario import ScenarioError

    text = LAB.format(ms=1).replace('notify = ["secondary"]', 'notify = ["secondary", "secundary", "192.0.2.9:53"]')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text, example_test_zone=EXAMPLE_ZONE))
    problems = caught.value.problems
    assert len(problems) == 1 and ":2: servers[0].options.notify[1]: notify target 'secundary'" in problems[0], problems
    assert '(or "secondary": the lab\'s secondary)' in problems[0]  # an address elsewhere: checked when the lab starts
