"""A lab's timeline on its clock, observed over DNS (dnspython): every action, events that run
once, errors kept; time scaling of zones, events and fault windows; the LabClock and LabControl.

The labs here use ``[lab] port = 0``: every server has a free port of its own (the tests
query the servers directly; referrals carry no port, so nothing here follows them).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from fakens.clock import LabClock, ManualClock
from fakens.errors import ConfigError
from fakens.lab import Hierarchy, LabControl
from fakens.scenario import build_lab, load_scenario
from fakens.timeline import Event, Timeline

from ._common import EXAMPLE_ZONE, start, write

HEAD = """\
[lab]
port = 0

[[zones]]
file = "example.test.zone"

[[servers]]
name = "ns1.example.test."
addresses = ["127.0.0.1"]

[[servers]]
name = "ns2.example.test."
addresses = ["127.0.0.2"]
"""


def make_lab(tmp_path: Path, text: str, clock: ManualClock | None = None, **options: Any) -> Hierarchy:
    path = write(tmp_path, HEAD + text, example_test_zone=EXAMPLE_ZONE)
    return build_lab(load_scenario(path), probe=False, clock=clock or ManualClock(0), **options)


async def ask(lab: Hierarchy, server: str, qname: str, rdtype: str = "A", tcp: bool = False) -> dns.message.Message:
    host, port = lab.server(server).addresses[0]
    query = dns.message.make_query(qname, rdtype, flags=0)
    if tcp:
        return await dns.asyncquery.tcp(query, host, port=port, timeout=2)
    return await dns.asyncquery.udp(query, host, port=port, timeout=2)


def answer(reply: dns.message.Message) -> list[str]:
    return sorted(f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text()}"
                  for rrset in reply.answer for rd in rrset)


def rcode(reply: dns.message.Message) -> str:
    return dns.rcode.to_text(reply.rcode())


async def advance(lab: Hierarchy, seconds: float) -> None:
    """Move the lab's ManualClock on and wait for the events it started."""
    lab.clock.advance(seconds)
    await asyncio.sleep(0)  # a timer due at once runs on the loop's next iteration
    await lab.timeline.idle()


async def test_edit_serves_the_new_record_at_its_time(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[timeline]]
at = "10s"
action = "edit"
zone = "example.test."
add = ["new 120 A 192.0.2.99"]
replace = ["www 300 A 192.0.2.11"]
"""))
    assert rcode(await ask(lab, "ns1.example.test.", "new.example.test.")) == "NXDOMAIN"
    await advance(lab, 9.5)
    assert not lab.timeline.events[0].done
    await advance(lab, 0.5)
    (event,) = lab.timeline.status()
    assert event["done"] and event["error"] == ""
    assert event["result"] == "zone example.test. (example.test.) now serial 2"
    assert event["source"].endswith("/lab.toml:15: timeline[0]")
    for server in ("ns1.example.test.", "ns2.example.test."):  # both servers serve the one zone
        assert answer(await ask(lab, server, "new.example.test.")) == ["new.example.test. 120 A 192.0.2.99"]
        assert answer(await ask(lab, server, "www.example.test.")) == ["www.example.test. 300 A 192.0.2.11"]
    assert lab.all_zones["example.test."].serial == 2


async def test_bump_serial_and_an_explicit_serial(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[timeline]]
at = 5
action = "bump-serial"
zone = "example.test."

[[timeline]]
at = 10
action = "edit"
zone = "example.test."
serial = 2024010101
"""))

    async def serial() -> int:
        reply = await ask(lab, "ns1.example.test.", "example.test.", "SOA")
        return int(reply.answer[0][0].serial)

    assert await serial() == 1
    await advance(lab, 5)
    assert await serial() == 2
    await advance(lab, 5)
    assert await serial() == 2024010101


async def test_delegate_switches_the_parents_referral(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[servers]]
name = "ns3.example.test."
addresses = ["127.0.0.3"]
zones = ["example.test."]

[[timeline]]
at = "1m"
action = "delegate"
zone = "example.test."
ns = ["ns3.example.test.", "ns.elsewhere.example."]
ttl = 30
"""))

    async def referral() -> tuple[list[str], list[str], int]:
        reply = await ask(lab, "ns1.nic.test.", "www.example.test.")
        assert rcode(reply) == "NOERROR" and not reply.answer
        ns = sorted(rd.target.to_text() for rrset in reply.authority for rd in rrset)
        glue = sorted(f"{rrset.name} {rd.to_text()}" for rrset in reply.additional for rd in rrset
                      if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA))
        return ns, glue, int(reply.authority[0].ttl)

    # computed from the zone's own NS (ns3 serves it but is not among them)
    assert await referral() == (["ns1.example.test.", "ns2.example.test."],
                                ["ns1.example.test. 127.0.0.1", "ns2.example.test. 127.0.0.2"], 86400)
    tld_serial = lab.zones[dns.name.from_text("test.")].serial
    await advance(lab, 60)
    assert lab.timeline.events[0].result == "test. now delegate example.test. to ns3.example.test., ns.elsewhere.example."
    assert await referral() == (["ns.elsewhere.example.", "ns3.example.test."], ["ns3.example.test. 127.0.0.3"], 30)
    assert lab.zones[dns.name.from_text("test.")].serial == tld_serial + 1  # a registry's change


async def test_add_and_remove_a_fault(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[timeline]]
at = 5
action = "add-fault"
server = "ns2.example.test."
fault = "rcode rcode=REFUSED qname=www.example.test."

[[timeline]]
at = 10
action = "remove-fault"
server = "ns2.example.test."
name = "rcode-1"
"""))
    www = "www.example.test."
    assert rcode(await ask(lab, "ns2.example.test.", www)) == "NOERROR"
    await advance(lab, 5)
    assert rcode(await ask(lab, "ns2.example.test.", www)) == "REFUSED"
    assert rcode(await ask(lab, "ns1.example.test.", www)) == "NOERROR"  # only the server named
    assert [f.name for f in lab.server("ns2.example.test.").faults] == ["rcode-1"]
    await advance(lab, 5)
    assert rcode(await ask(lab, "ns2.example.test.", www)) == "NOERROR"
    added, removed = lab.timeline.events
    assert added.result.startswith("fault rcode name=rcode-1 ") and added.result.endswith(" on ns2.example.test.")
    assert removed.result == "fault rcode-1 removed from ns2.example.test."


async def test_remove_a_scenario_fault_by_its_default_name(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[servers]]
name = "ns3.example.test."
addresses = ["127.0.0.3"]
zones = ["example.test."]
faults = ["nxdomain qname=www.example.test.", "nxdomain qname=ns1.example.test."]

[[timeline]]
at = 5
action = "remove-fault"
server = "ns3.example.test."
name = "nxdomain-1"
"""))
    assert [f.name for f in lab.server("ns3.example.test.").faults] == ["nxdomain-1", "nxdomain-2"]
    assert rcode(await ask(lab, "ns3.example.test.", "www.example.test.")) == "NXDOMAIN"
    await advance(lab, 5)
    assert lab.timeline.events[0].error == ""
    assert rcode(await ask(lab, "ns3.example.test.", "www.example.test.")) == "NOERROR"
    assert rcode(await ask(lab, "ns3.example.test.", "ns1.example.test.")) == "NXDOMAIN"


async def test_stop_and_start_a_server(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[timeline]]
at = 5
action = "stop"
server = "ns2.example.test."

[[timeline]]
at = 10
action = "start"
server = "ns2.example.test."
"""))
    www = "www.example.test."
    server = lab.server("ns2.example.test.")
    address = server.addresses[0]
    assert rcode(await ask(lab, "ns2.example.test.", www, tcp=True)) == "NOERROR"
    await advance(lab, 5)
    assert not server.running
    query = dns.message.make_query(www, "A")
    with pytest.raises(ConnectionRefusedError):
        await dns.asyncquery.tcp(query, address[0], port=address[1], timeout=2)
    assert rcode(await ask(lab, "ns1.example.test.", www, tcp=True)) == "NOERROR"
    await advance(lab, 5)
    assert lab.server("ns2.example.test.") is server and server.running  # the same server: log, faults kept
    assert server.addresses[0][0] == "127.0.0.2"  # a new free port with lab.port = 0
    assert rcode(await ask(lab, "ns2.example.test.", www, tcp=True)) == "NOERROR"
    assert [e["result"] for e in lab.timeline.status()] == ["server ns2.example.test. stopped",
                                                            "server ns2.example.test. started"]


async def test_events_run_once_and_errors_are_kept(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[servers]]
name = "ns3.example.test."
addresses = ["127.0.0.3"]
zones = ["example.test."]
faults = ["nxdomain"]

[[timeline]]
at = 5
action = "bump-serial"
zone = "example.test."

[[timeline]]
at = 6
action = "remove-fault"
server = "ns3.example.test."
name = "nxdomain-1"

[[timeline]]
at = 7
action = "remove-fault"
server = "ns3.example.test."
name = "nxdomain-1"
description = "once more"

[[timeline]]
at = 8
action = "bump-serial"
zone = "example.test."
"""))
    seen: list[Event] = []
    lab.timeline.listeners.append(seen.append)
    zone = lab.all_zones["example.test."]
    first = await lab.timeline.arun(0)  # at once, before its time (the control endpoint's "run event")
    assert first.done and zone.serial == 2
    await advance(lab, 10)
    assert zone.serial == 3  # event 0 did not run again at its time; event 3 ran
    assert (await lab.timeline.arun(0)) is first and zone.serial == 3
    status = lab.timeline.status()
    assert [e["done"] for e in status] == [True, True, True, True]
    assert status[1]["error"] == ""
    assert status[2]["error"] == "no fault named 'nxdomain-1' (faults: none)"
    assert status[2]["describe"] == "remove fault nxdomain-1 from ns3.example.test. (once more)"
    assert [e.at for e in seen] == [5, 6, 7, 8]  # the listeners hear of every event, errors too
    assert lab.timeline.next_due() is None
    with pytest.raises(Exception, match=r"no timeline event 9; the timeline has 4 \(0..3\)"):
        await lab.timeline.arun(9)


async def test_an_event_that_raises_anything_is_kept_as_an_error() -> None:
    def broken() -> str:
        raise KeyError("boom")

    timeline = Timeline([Event(1, "edit", "broken", broken), Event(0, "edit", "fine", lambda: "ok")])
    assert [e.describe for e in timeline.events] == ["fine", "broken"]  # in time order
    event = await timeline.arun(1)
    assert event.done and event.error == "KeyError: 'boom'"


async def test_the_fix_is_applied_before_the_first_query(tmp_path: Path, running: list[Hierarchy]) -> None:
    """A fix's events are applied when the lab is built (``lab check --fix`` shows the fixed lab,
    ``lab up --fix`` serves it from the first query): no timeline event is left for them."""
    lab = await start(running, make_lab(tmp_path, """
[[servers]]
name = "ns3.example.test."
addresses = ["127.0.0.3"]
zones = ["example.test."]
faults = ["nxdomain qname=www.example.test."]

[fix]
description = "the fault goes"

[[fix.events]]
action = "remove-fault"
server = "ns3.example.test."
name = "nxdomain-1"
""", fix=True))
    assert not lab.timeline.events
    assert rcode(await ask(lab, "ns3.example.test.", "www.example.test.")) == "NOERROR"
    assert not lab.member("ns3.example.test.").faults


def test_the_fix_in_its_own_file(tmp_path: Path) -> None:
    write(tmp_path, HEAD + '[[zones]]\norigin = "fixed.test."\ntext = "@ 300 SOA ns1 h 1 3600 600 86400 300\\n'
                           '@ 300 NS ns1\\n"\n', name="fixed.toml")
    lab = make_lab(tmp_path, '\n[fix]\nfile = "fixed.toml"\n', fix=True)
    assert "fixed.test." in lab.all_zones
    assert "fixed.test." not in make_lab(tmp_path, '\n[fix]\nfile = "fixed.toml"\n').all_zones


# -- time scaling -----------------------------------------------------------------------


def test_time_scale_divides_ttls_soa_timers_delegations_and_event_times(tmp_path: Path) -> None:
    lab = make_lab(tmp_path, """
[[servers]]
name = "ns3.example.test."
addresses = ["127.0.0.3"]
zones = ["example.test."]
faults = ["nxdomain qname=www.example.test. from=60 until=3600", "delay ms=300 until=1"]

[[timeline]]
at = "30m"
action = "edit"
zone = "example.test."
add = ["new 86400 A 192.0.2.1", "other A 192.0.2.2"]

[[timeline]]
at = "30s"
action = "delegate"
zone = "example.test."
ns = ["ns3.example.test."]
""", time_scale=100)
    zone = lab.all_zones["example.test."]
    www = zone.current.get(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert www is not None and www.ttl == 3  # 300 / 100
    soa_set = zone.current.get(zone.origin, dns.rdatatype.SOA)
    assert soa_set is not None and soa_set.ttl == 3
    soa = soa_set[0]
    # REFRESH 3600, RETRY 600, EXPIRE 86400, MINIMUM 300 divided; the serial is not a time
    assert (soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum) == (1, 36, 6, 864, 3)
    tld = lab.zones[dns.name.from_text("test.")]
    ns = tld.current.get(dns.name.from_text("example.test."), dns.rdatatype.NS)
    assert ns is not None and ns.ttl == 864  # delegation_ttl 86400
    root_ns = lab.zones[dns.name.root].current.get(dns.name.root, dns.rdatatype.NS)
    assert root_ns is not None and root_ns.ttl == 36000  # the made root's 3600000
    assert [(e.at, e.action) for e in lab.timeline.events] == [(1, "delegate"), (18, "edit")]  # 30 s -> 0.3 -> 1 s
    faults = lab.member("ns3.example.test.").faults
    assert [(f.schedule.start, f.schedule.until) for f in faults] == [(1, 36), (None, 1)]
    assert faults[1].values["ms"] == 300  # a delay stays real
    # the scenario itself is not changed: a lab built from it at scale 1 has the times as written
    plain = make_lab(tmp_path, "", time_scale=1)
    unscaled = plain.all_zones["example.test."].current.get(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert unscaled is not None and unscaled.ttl == 300


async def test_scaled_edit_records_and_fault_window_on_the_lab_clock(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[servers]]
name = "ns3.example.test."
addresses = ["127.0.0.3"]
zones = ["example.test."]
faults = ["nxdomain qname=www.example.test. from=200 until=400"]

[[timeline]]
at = "5m"
action = "edit"
zone = "example.test."
add = ["new 86400 A 192.0.2.1", "other A 192.0.2.2"]
""", time_scale=100))
    www = "www.example.test."
    assert rcode(await ask(lab, "ns3.example.test.", www)) == "NOERROR"
    await advance(lab, 2)  # 200 s / 100
    assert rcode(await ask(lab, "ns3.example.test.", www)) == "NXDOMAIN"
    await advance(lab, 1)  # the edit at 300 s / 100
    assert answer(await ask(lab, "ns1.example.test.", "new.example.test.")) == ["new.example.test. 864 A 192.0.2.1"]
    assert answer(await ask(lab, "ns1.example.test.", "other.example.test.")) == ["other.example.test. 3 A 192.0.2.2"]
    await advance(lab, 1)  # until 400 s / 100
    assert rcode(await ask(lab, "ns3.example.test.", www)) == "NOERROR"


def test_a_time_scale_must_be_positive(tmp_path: Path) -> None:
    for scale in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="--time-scale"):
            make_lab(tmp_path, "", time_scale=scale)


# -- the LabClock ---------------------------------------------------------------------------


async def test_lab_clock_is_manual_until_run() -> None:
    clock = LabClock()
    assert clock.paused and clock.now() == 0
    fired: list[float] = []
    clock.call_later(10, lambda: fired.append(clock.now()))
    clock.advance(10)
    assert fired == [10]
    with pytest.raises(RuntimeError, match="before run"):
        clock.resume()


async def test_lab_clock_follows_real_time_pauses_and_jumps() -> None:
    loop = asyncio.get_running_loop()
    clock = LabClock()
    clock.run(loop)
    assert not clock.paused
    fired: list[str] = []
    soon = asyncio.Event()

    def first() -> None:
        fired.append("soon")
        soon.set()

    clock.call_later(0.05, first)
    clock.call_later(3600, lambda: fired.append("hour"))
    await asyncio.wait_for(soon.wait(), 5)  # a real timer fires it
    assert fired == ["soon"] and clock.now() >= 0.05
    clock.pause()
    assert clock.paused
    held = clock.now()
    await asyncio.sleep(0.02)
    assert clock.now() == held  # paused: time holds
    clock.advance(3600)  # the hour-long timer is due: it fires now
    assert fired == ["soon", "hour"]
    assert clock.now() == pytest.approx(held + 3600)
    clock.resume()
    later = asyncio.Event()
    clock.call_later(0.03, later.set)
    await asyncio.wait_for(later.wait(), 5)
    assert clock.now() >= held + 3600.03
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


async def test_a_paused_lab_clock_does_not_fire_timers() -> None:
    clock = LabClock()
    clock.run(asyncio.get_running_loop())
    clock.pause()
    fired: list[int] = []
    clock.call_later(0.01, lambda: fired.append(1))
    await asyncio.sleep(0.05)
    assert fired == [] and clock.pending() == [pytest.approx(clock.now() + 0.01)]
    clock.resume()
    done = asyncio.Event()
    clock.call_later(0.02, done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert fired == [1]


async def test_lab_control_moves_the_clock_and_runs_events(tmp_path: Path, running: list[Hierarchy]) -> None:
    lab = await start(running, make_lab(tmp_path, """
[[timeline]]
at = "1h"
action = "bump-serial"
zone = "example.test."

[[timeline]]
at = "2h"
action = "bump-serial"
zone = "example.test."
""", clock=LabClock()))
    control = LabControl(lab)
    assert set(control.servers()) == {m.name for m in lab.members}
    info = control.clock_info()
    assert info["kind"] == "lab" and not info["paused"] and info["next_event"]["index"] == 0
    assert info["scale"] == 1
    # the control endpoint calls from its own thread; _settle waits for the events started
    info = await asyncio.to_thread(control.advance_clock, 3600)
    assert info["now"] >= 3600 and lab.all_zones["example.test."].serial == 2
    assert info["next_event"]["at"] == 7200
    paused = await asyncio.to_thread(control.pause_clock, True)
    assert paused["paused"] and lab.clock.now() == paused["now"]
    assert (await asyncio.to_thread(control.run_event, 1))["done"]
    assert lab.all_zones["example.test."].serial == 3
    assert [e["done"] for e in control.timeline()] == [True, True]
    assert not (await asyncio.to_thread(control.pause_clock, False))["paused"]
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="only goes forward"):
            control.advance_clock(bad)


def test_lab_control_refuses_pausing_a_manual_clock(tmp_path: Path) -> None:
    control = LabControl(make_lab(tmp_path, ""))
    with pytest.raises(ConfigError, match="ManualClock"):
        control.pause_clock(True)
    with pytest.raises(ConfigError, match="not running"):
        control.run_event(0)
    assert os.path.exists(tmp_path / "lab.toml")
