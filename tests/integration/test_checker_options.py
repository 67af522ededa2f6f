"""Checker options over real sockets: sibling glue left out, names outside the served zones
answered SERVFAIL or not at all, NXDOMAIN and NODATA with a given SOA (Python, serve flags,
scenario keys)."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import pytest

import fakens
from fakens.cli import _make_server, _parser, main
from fakens.errors import ConfigError

from .conftest import ask_wire, check_wire, nothing_pending, udp_socket

TRANSPORTS = ["udp", "tcp"]
PARENT = """
$TTL 600
parent.test. SOA ns1.parent.test. hostmaster.parent.test. 7 3600 600 86400 300
$ORIGIN parent.test.
@ NS ns1
ns1 A 192.0.2.1
child    NS  ns.child
child    NS  ns.sibling
ns.child A   192.0.2.53
sibling  NS  ns.sibling
ns.sibling A 192.0.2.54
elsewhere A  192.0.2.55
other    NS  elsewhere
"""
GIVEN_SOA = "example.test. 120 SOA ns9 checker 99 3600 600 86400 60"


def _addresses(reply: dns.message.Message) -> dict[str, set[str]]:
    return {r.name.to_text(): {a.address for a in r} for r in reply.additional if r.rdtype == dns.rdatatype.A}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("sibling_glue", "expected"), [
    (True, {"ns.child.parent.test.": {"192.0.2.53"}, "ns.sibling.parent.test.": {"192.0.2.54"}}),
    (False, {"ns.child.parent.test.": {"192.0.2.53"}}),
])
def test_sibling_glue_left_out(make_server: Callable[..., fakens.Server], transport: str, sibling_glue: bool,
                               expected: dict[str, set[str]]) -> None:
    """The NS host in a sibling zone (and, below, one elsewhere in the parent) keeps its address
    only with sibling_glue (the default); the in-domain glue is always there."""
    server = make_server([PARENT], sibling_glue=sibling_glue)
    reply, _ = ask_wire(server, "www.child.parent.test.", "A", transport=transport)
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer
    assert {r.rdtype for r in reply.authority} == {dns.rdatatype.NS}
    assert _addresses(reply) == expected
    reply, _ = ask_wire(server, "x.other.parent.test.", "A", transport=transport)
    assert _addresses(reply) == ({"elsewhere.parent.test.": {"192.0.2.55"}} if sibling_glue else {})


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("qname", "rdclass"), [("www.example.org.", "IN"), ("www.example.test.", "HS"),
                                                ("nothing.bind.", "CH")])
def test_outside_zones_servfail(make_server: Callable[..., fakens.Server], transport: str, qname: str,
                                rdclass: str) -> None:
    server = make_server(outside_zones="servfail")
    reply, _ = ask_wire(server, qname, "A" if rdclass != "CH" else "TXT", rdclass, transport=transport)
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert not reply.answer and not reply.authority and not reply.flags & dns.flags.AA
    assert reply.question[0].name == dns.name.from_text(qname)
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport)  # served names as ever
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer


def test_outside_zones_drop_sends_nothing(make_server: Callable[..., fakens.Server]) -> None:
    """The outside query gets no datagram: the reply to the served query sent after it is the
    first (one socket's datagrams are handled in order) and nothing else waits."""
    server = make_server(outside_zones="drop")
    host, port = server.addresses[0]
    outside = dns.message.make_query("www.example.org.", "A")
    served = dns.message.make_query("www.example.test.", "A")
    outside.id, served.id = 0x1111, 0x2222
    with udp_socket(host) as sock:
        sock.sendto(outside.to_wire(), (host, port))
        sock.sendto(served.to_wire(), (host, port))
        first, _ = sock.recvfrom(65535)
        assert struct.unpack_from("!H", first)[0] == 0x2222
        assert check_wire(first).answer
        assert nothing_pending(sock) == []
    (entry,) = server.log.entries(qname="www.example.org.")
    assert entry.rcode is None and "outside_zones=drop" in entry.note


def test_outside_zones_refused_is_the_default_and_bad_values_say_so(server: fakens.Server) -> None:
    reply, _ = ask_wire(server, "www.example.org.", "A")
    assert reply.rcode() == dns.rcode.REFUSED
    with pytest.raises(ConfigError, match=r"outside_zones 'silent': must be one of refused, servfail, drop"):
        fakens.Server([], outside_zones="silent")


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("qname", "rdtype", "rcode"), [("nothing.example.test.", "A", dns.rcode.NXDOMAIN),
                                                       ("www.example.test.", "MX", dns.rcode.NOERROR)])
def test_negative_answers_carry_the_given_soa(make_server: Callable[..., fakens.Server], transport: str, qname: str,
                                              rdtype: str, rcode: dns.rcode.Rcode) -> None:
    server = make_server(negative_soa=GIVEN_SOA)
    reply, _ = ask_wire(server, qname, rdtype, transport=transport)
    assert reply.rcode() == rcode and not reply.answer
    (soa,) = reply.authority
    assert soa.name == dns.name.from_text("example.test.") and soa.ttl == 120  # the TTL as written
    assert [(r.serial, r.mname.to_text(), r.rname.to_text(), r.minimum) for r in soa] == [
        (99, "ns9.example.test.", "checker.example.test.", 60)]


def test_negative_soa_also_in_fault_made_negatives(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(negative_soa=GIVEN_SOA)
    server.faults.add("nxdomain qname=www.example.test.")
    reply, _ = ask_wire(server, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert [r.serial for r in reply.authority[0]] == [99]


@pytest.mark.parametrize(("text", "message"), [
    ("example.test 300 SOA ns1 hostmaster 99 3600 600 86400 60", "the record needs an absolute owner name"),
    ("example.test. 300 SOA ns1 hostmaster 99", "not an SOA record"),
    ("example.test. 300 A 192.0.2.1", "must be exactly one SOA record"),
    ("example.test. 300 SOA ns1 hostmaster serial 3600 600 86400 60", "not an SOA record"),
])
def test_negative_soa_checked_when_configured(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"^negative_soa {re.escape(repr(text))}: {message}.*e\.g\. \"example\.test\. 300 SOA"):
        fakens.Server([], negative_soa=text)


def test_serve_flags(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["serve", "zones/example.test.zone", "--no-sibling-glue", "--outside-zones", "drop",
                                 "--negative-soa", GIVEN_SOA])
    server = _make_server([], args)
    assert not server.options.sibling_glue and server.options.outside_zones == "drop"
    assert server.options.negative_soa is not None and server.options.negative_soa[0].serial == 99
    assert main(["serve", "zones/example.test.zone", "--negative-soa", "x. 1 A 192.0.2.1"]) != 0
    assert "--negative-soa 'x. 1 A 192.0.2.1': must be exactly one SOA record" in capsys.readouterr().err


SCENARIO = """\
[[zones]]
file = "example.test.zone"

[[servers]]
name = "ns1.example.test."
zones = ["example.test."]
"""


def test_scenario_keys(tmp_path: Path) -> None:
    from fakens.scenario import ScenarioError, load_scenario

    zone = "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n"
    (tmp_path / "example.test.zone").write_text(zone)
    good = tmp_path / "good.toml"
    good.write_text(SCENARIO + f'options = {{ sibling_glue = false, outside_zones = "servfail", '
                               f'negative_soa = "{GIVEN_SOA}" }}\n')
    (server,) = load_scenario(good).servers
    assert server.options == {"sibling_glue": False, "outside_zones": "servfail", "negative_soa": GIVEN_SOA}
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENARIO + 'options = { outside_zones = "silent", negative_soa = "x. 1 A 192.0.2.1" }\n')
    with pytest.raises(ScenarioError) as caught:
        load_scenario(bad)
    problems = caught.value.problems
    assert any("servers[0].options.outside_zones: outside_zones 'silent': must be one of" in p for p in problems)
    assert any("servers[0].options.negative_soa: negative_soa 'x. 1 A 192.0.2.1': must be exactly one SOA" in p
               for p in problems)
