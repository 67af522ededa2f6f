"""The endpoint over a lab-like ControlTarget (tests/control/conftest.py LabTarget): several
servers (which one a change is for), a shared zone, a ManualClock moved and paused through it,
and a timeline whose events run on request."""

from __future__ import annotations

import socket
from collections.abc import Callable

import dns.message
import dns.rcode
import pytest
from helpers import ask, poll

import fakens
from fakens.clock import ManualClock
from fakens.control import ControlServer

from .conftest import EXAMPLE_ZONE, TIMEOUT, LabTarget, call

WWW = "www.example.test."
Lab = tuple[LabTarget, ControlServer]


def rcode(server: fakens.Server, qname: str = WWW) -> str:
    return dns.rcode.to_text(ask(server, qname).rcode())


def test_servers_are_listed_in_order(lab: Lab) -> None:
    _, control = lab
    reply = call(control, "GET", "/v1/servers").body
    assert reply["name"] == "test-lab"
    assert [(s["name"], [z["origin"] for z in s["zones"]]) for s in reply["servers"]] == [
        ("ns1", ["example.test."]), ("ns2", ["example.test.", "test."])]


def test_a_fault_change_must_name_its_server_when_there_are_several(lab: Lab) -> None:
    target, control = lab
    ns1, ns2 = target.servers()["ns1"], target.servers()["ns2"]
    for method, path, body in (("POST", "/v1/faults", {"spec": "nxdomain"}), ("PATCH", "/v1/faults/x", {"spec": "mode=a"}),
                               ("DELETE", "/v1/faults/x", None), ("GET", "/v1/faults/x", None)):
        refused = call(control, method, path, body)
        assert refused.status == 400, path
        assert refused.error == 'test-lab has 2 servers: say which one (fakens ctl --server NAME; "server" in the JSON): ns1, ns2'
    added = call(control, "POST", "/v1/faults", {"spec": "nxdomain", "server": "ns2", "name": "nx"})
    assert added.status == 201 and added.body["server"] == "ns2"
    assert rcode(ns2) == "NXDOMAIN" and rcode(ns1) == "NOERROR"
    dotted = call(control, "GET", "/v1/faults/nx?server=ns2.")  # a host name with its trailing dot is the same server
    assert dotted.status == 200 and dotted.body["server"] == "ns2", dotted
    unknown = call(control, "POST", "/v1/faults", {"spec": "nxdomain", "server": "ns3"})
    assert unknown.status == 404 and unknown.error == "no server named 'ns3' in test-lab (servers: ns1, ns2)"
    assert call(control, "GET", "/v1/faults/nx?server=ns1").status == 404
    assert call(control, "PATCH", "/v1/faults/nx", {"spec": "qname=mail.example.test.", "server": "ns2"}).status == 200
    assert rcode(ns2) == "NOERROR" and rcode(ns2, "mail.example.test.") == "NXDOMAIN"
    assert call(control, "DELETE", "/v1/faults/nx?server=ns2").status == 200
    assert not ns2.faults


def test_listings_cover_every_server_unless_one_is_named(lab: Lab) -> None:
    target, control = lab
    target.servers()["ns1"].faults.add("drop", name="d1")
    target.servers()["ns2"].faults.add("drop", name="d2")
    assert [(f["server"], f["name"]) for f in call(control, "GET", "/v1/faults").body["faults"]] == [("ns1", "d1"), ("ns2", "d2")]
    assert [f["name"] for f in call(control, "GET", "/v1/faults?server=ns2").body["faults"]] == ["d2"]
    zones = call(control, "GET", "/v1/zones").body["zones"]
    assert [(z["server"], z["origin"]) for z in zones] == [("ns1", "example.test."), ("ns2", "example.test."), ("ns2", "test.")]
    assert [z["origin"] for z in call(control, "GET", "/v1/zones?server=ns1").body["zones"]] == ["example.test."]


def test_a_shared_zone_is_edited_once_for_every_server_serving_it(lab: Lab) -> None:
    target, control = lab
    reply = call(control, "POST", "/v1/zones/edit", {"origin": "example.test.", "add": ["new A 192.0.2.99"]})
    assert reply.status == 200 and reply.body["servers"] == ["ns1", "ns2"]
    for server in target.servers().values():
        assert ask(server, "new.example.test.").answer[0][0].address == "192.0.2.99"
    only_ns2 = call(control, "POST", "/v1/zones/bump", {"origin": "test."})
    assert only_ns2.status == 200 and only_ns2.body["servers"] == ["ns2"]
    not_there = call(control, "POST", "/v1/zones/bump", {"origin": "test.", "server": "ns1"})
    assert not_there.status == 404 and not_there.error == "server ns1 does not serve test. (it serves: example.test.)"


def test_zones_of_their_own_need_the_server_named(make_server: Callable[..., fakens.Server]) -> None:
    clock = ManualClock(1_700_000_000)
    a = make_server([fakens.Zone.from_file(EXAMPLE_ZONE)], name="a")
    b = make_server([fakens.Zone.from_file(EXAMPLE_ZONE)], name="b")
    with ControlServer(LabTarget({"a": a, "b": b}, clock, [])) as control:
        refused = call(control, "POST", "/v1/zones/bump", {"origin": "example.test."})
        assert refused.status == 400 and "say which one (fakens ctl --server NAME; \"server\" in the JSON): a, b" in refused.error
        assert call(control, "POST", "/v1/zones/bump", {"origin": "example.test.", "server": "b"}).status == 200
    assert (a.zone("example.test.").serial, b.zone("example.test.").serial) == (2024010101, 2024010102)


def test_the_clock_is_read_moved_and_paused(lab: Lab) -> None:
    target, control = lab
    ns1 = target.servers()["ns1"]
    assert call(control, "GET", "/v1/clock").body == {"kind": "manual", "now": 1_700_000_000, "paused": False, "scale": 1}
    ns1.faults.add("delay ms=400")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.sendto(dns.message.make_query(WWW, "A").to_wire(), ns1.addresses[0])
        poll(target.clock.pending, what="the delayed reply waiting on the clock")
        moved = call(control, "POST", "/v1/clock/advance", {"seconds": 0.4})
        assert moved.status == 200 and moved.body["now"] == pytest.approx(1_700_000_000.4)
        assert dns.message.from_wire(sock.recv(65535)).answer  # sent once the clock got there
    assert call(control, "POST", "/v1/clock/pause").body["paused"] is True
    refused = call(control, "POST", "/v1/clock/advance", {"seconds": 1})
    assert refused.status == 400 and refused.error == "the clock is paused: resume it first"
    assert call(control, "POST", "/v1/clock/resume", {}).body["paused"] is False
    for bad in ({"seconds": -1}, {"seconds": "soon"}, {}, {"seconds": True}):
        assert call(control, "POST", "/v1/clock/advance", bad).status == 400, bad
    assert target.clock.now() == pytest.approx(1_700_000_000.4)


def test_timeline_events_are_listed_and_run(lab: Lab) -> None:
    target, control = lab
    events = call(control, "GET", "/v1/timeline").body["events"]
    assert events == [{"index": 0, "at": 30.0, "action": "fault ns2 nxdomain", "done": False},
                      {"index": 1, "at": 60.0, "action": "bump example.test.", "done": False}]
    ran = call(control, "POST", "/v1/timeline/0/run")
    assert ran.status == 200 and ran.body["done"] is True
    assert rcode(target.servers()["ns2"]) == "NXDOMAIN"
    missing = call(control, "POST", "/v1/timeline/5/run")
    assert missing.status == 400 and missing.error == "no timeline event 5 (events 0 to 1)"
    assert [e["done"] for e in call(control, "GET", "/v1/timeline").body["events"]] == [True, False]


def test_the_log_merges_the_servers_in_time_order(lab: Lab) -> None:
    target, control = lab
    ns1, ns2 = target.servers()["ns1"], target.servers()["ns2"]
    ask(ns1, "a.example.test.")
    target.clock.advance(1)
    ask(ns2, "b.example.test.")
    target.clock.advance(1)
    ask(ns1, "c.example.test.")
    merged = [(e["server"], e["qname"]) for e in call(control, "GET", "/v1/log").body["entries"]]
    assert merged == [("ns1", "a.example.test."), ("ns2", "b.example.test."), ("ns1", "c.example.test.")]
    assert [e["qname"] for e in call(control, "GET", "/v1/log?server=ns1&limit=1").body["entries"]] == ["c.example.test."]
