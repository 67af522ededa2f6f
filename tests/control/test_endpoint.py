"""The control endpoint of ``fakens serve`` over real HTTP: every route, its effect on the next
real DNS query (dnspython), a zone edit's NOTIFY, and the log's filters and follow stream."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import dns.message
import dns.opcode
import dns.rcode
import dns.rdatatype
import pytest
from helpers import ask, poll

import fakens
from fakens.control import ControlServer, ServeTarget
from fakens.errors import ConfigError
from fakens.faults import build

from .conftest import EXAMPLE_ZONE, TIMEOUT, call

WWW = "www.example.test."
SERIAL = 2024010101


def rcode(server: fakens.Server, qname: str = WWW, rdtype: str = "A", **kwargs: Any) -> str:
    return dns.rcode.to_text(ask(server, qname, rdtype, **kwargs).rcode())


# -- the root, servers, unknown routes ----------------------------------------------------------------


def test_root_names_the_target_and_lists_the_routes(control: ControlServer) -> None:
    reply = call(control, "GET", "/v1")
    assert reply.status == 200
    assert reply.body["name"] == "fakens serve" and reply.body["servers"] == ["fakens"]
    assert "POST /v1/faults" in reply.body["routes"] and "GET /v1/log" in reply.body["routes"]
    assert call(control, "GET", "/v1/").body == reply.body


def test_servers_lists_addresses_zones_faults_and_counts(server: fakens.Server, control: ControlServer) -> None:
    server.faults.add("nxdomain qname=www.example.test.", name="nx")
    assert rcode(server) == "NXDOMAIN"
    reply = call(control, "GET", "/v1/servers")
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    (described,) = reply.body["servers"]
    host, port = server.addresses[0]
    assert described["name"] == "fakens"
    assert described["addresses"] == [{"address": host, "port": port, "transport": ["udp", "tcp"]}]
    assert [(z["origin"], z["serial"]) for z in described["zones"]] == [("example.test.", SERIAL)]
    (fault,) = described["faults"]
    assert (fault["name"], fault["type"], fault["seen"], fault["fired"]) == ("nx", "nxdomain", 1, 1)
    assert fault["spec"] == "nxdomain name=nx qname=www.example.test."
    assert build(fault["spec"]).spec() == fault["table"]  # the text round-trips
    assert described["queries"] == 1
    assert call(control, "GET", "/v1/servers/fakens").body == described


def test_unknown_server_route_and_method(control: ControlServer) -> None:
    missing = call(control, "GET", "/v1/servers/ns9")
    assert missing.status == 404 and "ns9" in missing.error and "fakens" in missing.error
    nowhere = call(control, "GET", "/v1/nothing")
    assert nowhere.status == 404 and "/v1/nothing" in nowhere.error
    wrong = call(control, "PUT", "/v1/faults", {"spec": "drop"})
    assert wrong.status == 405 and wrong.headers["Allow"] == "GET, POST"


def test_a_body_that_is_not_a_json_object_is_refused(server: fakens.Server, control: ControlServer) -> None:
    json_header = {"Content-Type": "application/json"}
    broken = call(control, "POST", "/v1/faults", raw=b"{nope", headers=json_header)
    assert broken.status == 400 and "not JSON" in broken.error
    listed = call(control, "POST", "/v1/faults", raw=b'["drop"]', headers=json_header)
    assert listed.status == 400 and "object" in listed.error
    unknown = call(control, "POST", "/v1/faults", {"spec": "drop", "colour": "red"})
    assert unknown.status == 400 and "colour" in unknown.error
    assert not server.faults


# -- faults ---------------------------------------------------------------------------------------------


def test_a_fault_added_acts_on_the_next_query(server: fakens.Server, control: ControlServer) -> None:
    assert rcode(server) == "NOERROR"
    reply = call(control, "POST", "/v1/faults", {"spec": "nxdomain qname=www.example.test."})
    assert reply.status == 201 and reply.body["server"] == "fakens"
    name = reply.body["fault"]["name"]
    assert name.startswith("nxdomain-") and reply.body["fault"]["seen"] == 0
    assert rcode(server) == "NXDOMAIN"
    assert rcode(server, "mail.example.test.") == "NOERROR"
    server.log.assert_received(qname=WWW, fault=name, times=1)


def test_a_fault_as_a_table_with_a_name(server: fakens.Server, control: ControlServer) -> None:
    reply = call(control, "POST", "/v1/faults",
                 {"spec": {"type": "rcode", "rcode": "SERVFAIL", "qtype": "AAAA"}, "name": "aaaa-fail"})
    assert reply.status == 201 and reply.body["fault"]["name"] == "aaaa-fail"
    assert rcode(server, rdtype="AAAA") == "SERVFAIL"
    assert rcode(server, rdtype="A") == "NOERROR"
    assert [f.name for f in server.faults] == ["aaaa-fail"]


@pytest.mark.parametrize("spec", ["bogus", "nxdomain probability=2", "delay ms=x", "lame mode=sideways", ""])
def test_a_bad_spec_is_400_with_the_parser_message(server: fakens.Server, control: ControlServer, spec: str) -> None:
    with pytest.raises(ConfigError) as expected:
        build(spec)
    reply = call(control, "POST", "/v1/faults", {"spec": spec})
    assert reply.status == 400 and reply.body == {"error": str(expected.value)}
    assert not server.faults


def test_a_missing_spec_and_a_taken_name(server: fakens.Server, control: ControlServer) -> None:
    assert call(control, "POST", "/v1/faults", {"name": "x"}).status == 400
    assert call(control, "POST", "/v1/faults", {"spec": "drop", "name": "x"}).status == 201
    taken = call(control, "POST", "/v1/faults", {"spec": "nxdomain", "name": "x"})
    assert taken.status == 400 and "'x' exists already" in taken.error
    assert [f.type_name for f in server.faults] == ["drop"]


def test_faults_are_listed_and_read_by_name(server: fakens.Server, control: ControlServer) -> None:
    server.faults.add("nxdomain qname=www.example.test.", name="a")
    server.faults.add("ttl ttl=5", name="b")
    listed = call(control, "GET", "/v1/faults").body["faults"]
    assert [(f["server"], f["name"], f["type"]) for f in listed] == [("fakens", "a", "nxdomain"), ("fakens", "b", "ttl")]
    one = call(control, "GET", "/v1/faults/b")
    assert one.status == 200 and one.body["fault"]["spec"] == "ttl name=b ttl=5"
    missing = call(control, "GET", "/v1/faults/c")
    assert missing.status == 404 and "'c'" in missing.error and "a, b" in missing.error


def test_a_fault_changed_by_name_keeps_its_name_and_place(server: fakens.Server, control: ControlServer) -> None:
    server.faults.add("lame mode=servfail qname=www.example.test.", name="w")
    server.faults.add("ttl ttl=5", name="t")
    assert rcode(server) == "SERVFAIL"
    uid = server.faults.find("w").uid
    reply = call(control, "PATCH", "/v1/faults/w", {"spec": "mode=refused"})
    assert reply.status == 200
    assert reply.body["fault"]["spec"] == "lame name=w mode=refused qname=www.example.test."
    assert reply.body["fault"]["seen"] == 0  # FaultChain.update: the schedule starts again
    assert rcode(server) == "REFUSED"
    assert [f.name for f in server.faults] == ["w", "t"] and server.faults.find("w").uid == uid
    # the type may be repeated first; a table works too
    assert call(control, "PATCH", "/v1/faults/w", {"spec": "lame mode=servfail"}).status == 200
    assert call(control, "PATCH", "/v1/faults/t", {"spec": {"ttl": 7}}).body["fault"]["table"]["ttl"] == 7
    assert rcode(server) == "SERVFAIL"


@pytest.mark.parametrize(("change", "message"), [
    ({"spec": "nxdomain"}, "keeps the type"),
    ({"spec": "name=other"}, "keeps the name"),
    ({"spec": "ttl"}, "nothing to change"),
    ({"spec": "ttl=abc"}, "ttl"),
    ({"spec": "colour=red"}, "colour"),
    ({}, "key=value"),
])
def test_a_bad_change_is_400_and_changes_nothing(server: fakens.Server, control: ControlServer,
                                                 change: dict[str, str], message: str) -> None:
    fault = server.faults.add("ttl ttl=5", name="t")
    reply = call(control, "PATCH", "/v1/faults/t", change)
    assert reply.status == 400 and message in reply.error
    assert server.faults.list() == [fault]


def test_a_fault_removed_acts_no_more(server: fakens.Server, control: ControlServer) -> None:
    server.faults.add("nxdomain qname=www.example.test.", name="nx")
    assert rcode(server) == "NXDOMAIN"
    reply = call(control, "DELETE", "/v1/faults/nx")
    assert reply.status == 200 and reply.body["removed"]["name"] == "nx" and reply.body["removed"]["fired"] == 1
    assert rcode(server) == "NOERROR"
    again = call(control, "DELETE", "/v1/faults/nx")
    assert again.status == 404 and "none" in again.error


def test_tcp_refused_closed_through_the_endpoint_closes_the_listener(server: fakens.Server, control: ControlServer) -> None:
    """A fault whose change runs on the servers' loop (the TCP listener is closed and opened)."""
    assert call(control, "POST", "/v1/faults", {"spec": "tcp-refused mode=closed", "name": "closed"}).status == 201
    with pytest.raises(ConnectionRefusedError):
        ask(server, WWW, transport="tcp")
    assert call(control, "DELETE", "/v1/faults/closed").status == 200
    assert ask(server, WWW, transport="tcp").rcode() == dns.rcode.NOERROR


# -- zones ------------------------------------------------------------------------------------------------


def test_zones_are_listed_with_serial_and_version(server: fakens.Server, control: ControlServer) -> None:
    (zone,) = call(control, "GET", "/v1/zones").body["zones"]
    assert zone["server"] == "fakens" and zone["origin"] == "example.test." and zone["serial"] == SERIAL
    assert zone["version"] == server.zone("example.test.").current.number and zone["versions"] == 1
    assert zone["source"].endswith("example.test.zone")


def test_a_zone_edit_is_served_at_once(server: fakens.Server, control: ControlServer) -> None:
    reply = call(control, "POST", "/v1/zones/edit", {
        "origin": "example.test", "add": ["new 300 A 192.0.2.99"], "remove": ["mail"],
        "replace": ["www 60 A 192.0.2.11", "www 60 A 192.0.2.12"]})
    assert reply.status == 200
    assert (reply.body["old_serial"], reply.body["serial"]) == (SERIAL, SERIAL + 1)
    assert reply.body["servers"] == ["fakens"] and reply.body["notify"] == []
    assert ask(server, "new.example.test.").answer[0][0].address == "192.0.2.99"
    assert rcode(server, "mail.example.test.") == "NXDOMAIN"
    www = ask(server, WWW).answer[0]
    assert sorted(r.address for r in www) == ["192.0.2.11", "192.0.2.12"] and www.ttl == 60
    assert ask(server, "example.test.", "SOA").answer[0][0].serial == SERIAL + 1


def test_a_zone_edit_without_bump_or_with_a_serial(server: fakens.Server, control: ControlServer) -> None:
    quiet = call(control, "POST", "/v1/zones/edit", {"origin": "example.test.", "add": ["q A 192.0.2.7"],
                                                     "bump_serial": False})
    assert quiet.body["serial"] == SERIAL and ask(server, "q.example.test.").answer
    lower = call(control, "POST", "/v1/zones/edit", {"origin": "example.test.", "serial": 7})
    assert lower.body["serial"] == 7 and server.zone("example.test.").serial == 7


def test_a_bump_raises_the_serial(server: fakens.Server, control: ControlServer) -> None:
    reply = call(control, "POST", "/v1/zones/bump", {"origin": "example.test."})
    assert reply.status == 200 and reply.body["serial"] == SERIAL + 1
    assert ask(server, "example.test.", "SOA").answer[0][0].serial == SERIAL + 1


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"origin": "example.test.", "add": ["www 300 A not-an-address"]}, 400, "cannot parse record"),
    ({"origin": "example.test.", "add": ["www.example.org. 300 A 192.0.2.1"]}, 400, "outside the zone"),
    ({"origin": "example.test.", "remove": ["@ SOA"]}, 400, "removes the SOA"),
    ({"origin": "example.test.", "add": "www A 192.0.2.1", "bump_serial": "no"}, 400, "bump_serial"),
    ({"origin": "example.test.", "add": [1]}, 400, "list of records"),
    ({"origin": "example.org."}, 404, "serves no zone example.org."),
    ({"add": ["x A 192.0.2.1"]}, 400, "origin"),
])
def test_a_bad_edit_is_refused_and_changes_nothing(server: fakens.Server, control: ControlServer,
                                                   body: dict[str, object], status: int, message: str) -> None:
    version = server.zone("example.test.").current
    reply = call(control, "POST", "/v1/zones/edit", body)
    assert reply.status == status and message in reply.error
    assert server.zone("example.test.").current is version


@pytest.fixture
def secondary() -> Iterator[socket.socket]:
    """A UDP socket standing in for a secondary (a --notify target)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(TIMEOUT)
    try:
        yield sock
    finally:
        sock.close()


@pytest.mark.parametrize("route", ["edit", "bump"])
def test_a_zone_edit_sends_notify(make_server: Callable[..., fakens.Server], secondary: socket.socket, route: str) -> None:
    port = secondary.getsockname()[1]
    server = make_server(notify=[f"127.0.0.1:{port}"])
    with ControlServer(ServeTarget(server)) as control:
        body: dict[str, object] = {"origin": "example.test."}
        if route == "edit":
            body["add"] = ["new 300 A 192.0.2.99"]
        reply = call(control, "POST", f"/v1/zones/{route}", body)
    assert reply.status == 200
    (notified,) = reply.body["notify"]
    assert notified == {"server": "fakens", "target": f"127.0.0.1:{port}", "serial": SERIAL + 1, "note": ""}
    wire, peer = secondary.recvfrom(65535)
    notify = dns.message.from_wire(wire)
    assert notify.opcode() == dns.opcode.NOTIFY
    assert notify.question[0].name.to_text() == "example.test." and notify.question[0].rdtype == dns.rdatatype.SOA
    assert peer[:2] == server.addresses[0]  # from the server's own address
    assert notify.answer[0][0].serial == SERIAL + 1


# -- clock and timeline (fakens serve: the real clock, no timeline) ------------------------------------------


def test_the_clock_of_fakens_serve_is_real_and_cannot_be_moved(server: fakens.Server, control: ControlServer) -> None:
    info = call(control, "GET", "/v1/clock").body
    assert info["kind"] == "system" and info["paused"] is False and info["scale"] == 1
    assert abs(info["now"] - server.clock.now()) < 60
    for path, body in (("/v1/clock/advance", {"seconds": 5}), ("/v1/clock/pause", None), ("/v1/clock/resume", None)):
        refused = call(control, "POST", path, body)
        assert refused.status == 400
        assert refused.error == "fakens serve runs on the real clock; a lab's clock can be moved"


def test_fakens_serve_has_an_empty_timeline(control: ControlServer) -> None:
    assert call(control, "GET", "/v1/timeline").body == {"events": []}
    refused = call(control, "POST", "/v1/timeline/0/run")
    assert refused.status == 400 and "no timeline" in refused.error
    assert call(control, "POST", "/v1/timeline/x/run").status == 400


# -- the log ------------------------------------------------------------------------------------------------


def test_log_entries_as_json_with_their_text(server: fakens.Server, control: ControlServer) -> None:
    ask(server, WWW)
    (entry,) = call(control, "GET", "/v1/log").body["entries"]
    assert entry["qname"] == WWW and entry["qtype"] == "A" and entry["rcode"] == "NOERROR"
    assert entry["server"] == "fakens" and entry["transport"] == "udp"
    assert entry["text"].endswith(f"fakens udp {entry['client']} www.example.test. A -> NOERROR")


def test_log_filters_as_the_python_api(server: fakens.Server, control: ControlServer) -> None:
    server.faults.add("nxdomain qname=mail.example.test.", name="nx")
    ask(server, WWW)
    ask(server, WWW, "AAAA", transport="tcp")
    ask(server, "mail.example.test.")
    ask(server, "ftp.example.test.", "CNAME")

    def qnames(**query: str) -> list[tuple[str, str]]:
        path = "/v1/log?" + "&".join(f"{k}={v}" for k, v in query.items())
        reply = call(control, "GET", path)
        assert reply.status == 200, reply.body
        found = [(e["qname"], e["qtype"]) for e in reply.body["entries"]]
        expected = [(str(e.qname), e.qtype_text) for e in server.log.entries(**{k: v for k, v in query.items() if k != "limit"})]
        if "limit" not in query:
            assert found == expected
        return found

    assert qnames(qname=WWW) == [(WWW, "A"), (WWW, "AAAA")]
    assert qnames(qtype="A,CNAME") == [(WWW, "A"), ("mail.example.test.", "A"), ("ftp.example.test.", "CNAME")]
    assert qnames(rcode="nxdomain") == [("mail.example.test.", "A")]
    assert qnames(fault="nx") == qnames(fault="nxdomain") == [("mail.example.test.", "A")]
    assert qnames(transport="tcp") == [(WWW, "AAAA")]
    assert qnames(client="127.0.0.0/8")[-1] == ("ftp.example.test.", "CNAME")
    assert qnames(client="192.0.2.1") == []
    assert qnames(qtype="!A") == [(WWW, "AAAA"), ("ftp.example.test.", "CNAME")]  # negated, as faults take it
    encoded = call(control, "GET", "/v1/log?qtype=%21A,CNAME").body["entries"]  # the ! URL-encoded
    assert [(e["qname"], e["qtype"]) for e in encoded] == [(WWW, "AAAA")]
    assert qnames(qname="**.example.test.", limit="2") == [("mail.example.test.", "A"), ("ftp.example.test.", "CNAME")]
    assert qnames(limit="0") == []
    assert len(qnames(limit="99")) == 4


@pytest.mark.parametrize(("query", "message"), [
    ("colour=red", "unknown log filter colour"),
    ("rcode=BOGUS", "not an rcode"),
    ("qtype=NOPE", "NOPE"),
    ("edns=!true", "! makes no sense there"),
    ("limit=-1", "limit"),
    ("limit=many", "limit"),
    ("server=ns9", "ns9"),
])
def test_a_bad_log_filter_is_refused(control: ControlServer, query: str, message: str) -> None:
    reply = call(control, "GET", f"/v1/log?{query}")
    assert reply.status in (400, 404) and message in reply.error


class Follower:
    """``GET /v1/log?follow=1`` read line by line over http.client; headers are in when made
    (the endpoint watches the log before it answers)."""

    def __init__(self, control: ControlServer, query: str = "") -> None:
        host, port = control.address
        self.connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        self.connection.request("GET", f"/v1/log?follow=1&{query}", headers={"Authorization": f"Bearer {control.token}"})
        self.response = self.connection.getresponse()

    def next(self) -> dict[str, object]:
        line = self.response.readline()
        assert line, "the stream ended"
        value: dict[str, object] = json.loads(line)
        return value

    def close(self) -> None:
        self.connection.close()


def test_follow_streams_new_matching_entries(server: fakens.Server, control: ControlServer) -> None:
    follower = Follower(control, "qtype=AAAA")
    try:
        assert follower.response.status == 200
        assert follower.response.headers["Content-Type"] == "application/x-ndjson"
        assert follower.response.headers["Transfer-Encoding"] == "chunked"
        ask(server, WWW, "A")  # filtered out
        ask(server, WWW, "AAAA")
        ask(server, "mail.example.test.", "AAAA", transport="tcp")
        first, second = follower.next(), follower.next()
        assert (first["qname"], first["qtype"]) == (WWW, "AAAA")
        assert (second["qname"], second["transport"]) == ("mail.example.test.", "tcp")
        assert str(second["text"]).endswith("mail.example.test. AAAA -> NOERROR")
    finally:
        follower.close()
    poll(lambda: not server.log._watchers, what="the follower unwatched once its client went")


def test_follow_with_a_limit_first_sends_the_newest(server: fakens.Server, control: ControlServer) -> None:
    for name in ("a", "b", "c"):
        ask(server, f"{name}.example.test.")
    follower = Follower(control, "limit=2")
    try:
        assert [follower.next()["qname"] for _ in range(2)] == ["b.example.test.", "c.example.test."]
        ask(server, "d.example.test.")
        assert follower.next()["qname"] == "d.example.test."
    finally:
        follower.close()


def test_stopping_the_endpoint_ends_a_follow_stream(server: fakens.Server) -> None:
    control = ControlServer(ServeTarget(server)).start()
    follower = Follower(control)
    try:
        ask(server, WWW)
        assert follower.next()["qname"] == WWW
        control.stop()
        assert follower.response.read() == b""  # the last chunk came: the stream is complete
        assert follower.response.isclosed()
    finally:
        follower.close()
        control.stop()
    assert not server.log._watchers


def test_requests_on_one_keep_alive_connection(server: fakens.Server, control: ControlServer) -> None:
    host, port = control.address
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    auth = {"Authorization": f"Bearer {control.token}", "Content-Type": "application/json"}
    try:
        connection.request("POST", "/v1/faults", body=json.dumps({"spec": "drop", "name": "d"}), headers=auth)
        assert connection.getresponse().read() and True
        connection.request("GET", "/v1/faults/d", headers=auth)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["fault"]["name"] == "d"
    finally:
        connection.close()


async def test_usable_from_asyncio_code() -> None:
    """Servers in the test's own loop: start() binds without blocking it, a fault change that
    must run on that loop (the TCP listener closed) is made while the loop awaits, astop()."""
    server = fakens.Server([fakens.Zone.from_file(EXAMPLE_ZONE)])
    await server.astart()
    control = ControlServer(ServeTarget(server)).start()
    address = control.address
    try:
        assert address[1] != 0
        added = await asyncio.to_thread(call, control, "POST", "/v1/faults", {"spec": "tcp-refused mode=closed"})
        assert added.status == 201 and server.faults.listener_closed
        (described,) = (await asyncio.to_thread(call, control, "GET", "/v1/servers")).body["servers"]
        assert described["faults"][0]["type"] == "tcp-refused"
    finally:
        await control.astop()
        await server.astop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=TIMEOUT)  # closed with astop()
