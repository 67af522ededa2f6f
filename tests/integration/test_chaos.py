"""CHAOS-class data over real sockets: the built-ins (id.server., hostname.bind., version.bind.,
version.server., authors.bind.) overridden or switched off per server, and zones of class CH
served as given, apart from an IN zone of the same origin."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import fakens
from fakens.cli import _make_server, _parser
from fakens.errors import ConfigError, ZoneError

from .conftest import ask_wire

TRANSPORTS = ["udp", "tcp"]
CH_ZONE = """\
$ORIGIN bind.
$TTL 0
@        CH SOA ns hostmaster 1 3600 600 86400 0
         CH NS  ns
version  CH TXT "9.18.99-from-a-zone"
authors     TXT "Ann" "Bob"
"""
IN_ZONE = """\
$ORIGIN bind.
$TTL 300
@        SOA ns hostmaster 7 3600 600 86400 300
         NS  ns
ns       A   192.0.2.9
version  TXT "in-class data"
"""


def _txt(reply: dns.message.Message) -> list[tuple[bytes, ...]]:
    (rrset,) = [r for r in reply.answer if r.rdtype == dns.rdatatype.TXT]
    return sorted(r.strings for r in rrset)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_builtins_by_default(make_server: Callable[..., fakens.Server], transport: str) -> None:
    server = make_server(name="ns7.lab.")
    for qname, expected in [("authors.bind.", b"fakens"), ("version.server.", b"fakens"), ("id.server.", b"ns7.lab.")]:
        reply, _ = ask_wire(server, qname, "TXT", "CH", transport=transport)
        assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
        assert reply.answer[0].rdclass == dns.rdataclass.CH and reply.answer[0].ttl == 0
        assert _txt(reply) == [(expected,)]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_builtins_overridden_and_switched_off(make_server: Callable[..., fakens.Server], transport: str) -> None:
    server = make_server(name="ns1", identity="{name}.site-a", version=["BIND 9.18.24", "built 2024"],
                         authors=None)
    reply, _ = ask_wire(server, "hostname.bind.", "TXT", "CH", transport=transport)
    assert _txt(reply) == [(b"ns1.site-a",)]
    reply, _ = ask_wire(server, "version.bind.", "TXT", "CH", transport=transport)
    assert _txt(reply) == [(b"BIND 9.18.24",), (b"built 2024",)]  # one TXT record each
    reply, _ = ask_wire(server, "authors.bind.", "TXT", "CH", transport=transport)
    assert reply.rcode() == dns.rcode.REFUSED and not reply.answer
    off = make_server(identity=None)
    reply, _ = ask_wire(off, "id.server.", "TXT", "CH", transport=transport)
    assert reply.rcode() == dns.rcode.REFUSED


def test_bad_builtin_text_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"^authors \[\]: give a text of at most 255 bytes, a list"):
        fakens.Server([], authors=[])
    with pytest.raises(ConfigError, match=r"^version 'xxx.*: give a text of at most 255 bytes"):
        fakens.Server([], version="x" * 256)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ch_zone_served_as_given_beside_an_in_zone_of_the_same_origin(
        make_server: Callable[..., fakens.Server], transport: str) -> None:
    server = make_server([CH_ZONE, IN_ZONE], version="builtin")
    reply, _ = ask_wire(server, "version.bind.", "TXT", "CH", transport=transport)
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert _txt(reply) == [(b"9.18.99-from-a-zone",)]
    assert {(r.rdclass, r.rdtype) for r in reply.authority} == {(dns.rdataclass.CH, dns.rdatatype.NS)}
    reply, _ = ask_wire(server, "authors.bind.", "TXT", "CH", transport=transport)
    assert _txt(reply) == [(b"Ann", b"Bob")]  # the class carried on from the zone's records
    reply, _ = ask_wire(server, "hostname.bind.", "TXT", "CH", transport=transport)  # the zone has no such name
    assert reply.rcode() == dns.rcode.NXDOMAIN
    (soa,) = reply.authority
    assert soa.rdclass == dns.rdataclass.CH and soa.rdtype == dns.rdatatype.SOA
    reply, _ = ask_wire(server, "id.server.", "TXT", "CH", transport=transport)  # no CH zone: the built-in
    assert _txt(reply) == [(b"fakens",)]
    reply, _ = ask_wire(server, "version.bind.", "TXT", "IN", transport=transport)  # the IN zone, untouched
    assert _txt(reply) == [(b"in-class data",)] and reply.answer[0].rdclass == dns.rdataclass.IN
    assert sorted(z.to_text() for z in server.engine.chaos_zones) == ["bind."]
    assert sorted(z.to_text() for z in server.zones) == ["bind."]


@pytest.mark.parametrize(("text", "message"), [
    (CH_ZONE + "extra IN TXT \"x\"\n",
     r"<text>:7: .*class IN in a zone of class CH \(its first record's\): a zone holds one class"),
    ("$ORIGIN x.\n@ 300 HS SOA ns hostmaster 1 2 3 4 5\n", r"<text>:2: .*class HS: fakens serves zones of class IN and CH"),
])
def test_zone_file_classes_checked(text: str, message: str) -> None:
    with pytest.raises(ZoneError, match=message):
        fakens.Zone.from_text(text)


def test_ch_zone_has_no_address_warnings() -> None:
    zone = fakens.Zone.from_text(CH_ZONE)
    assert zone.rdclass == dns.rdataclass.CH
    assert "ns-no-address" not in {w.code for w in zone.warnings}


def test_serve_flags() -> None:
    args = _parser().parse_args(["serve", "x.zone", "--name", "ns9", "--chaos-version", "9.9", "--chaos-authors", "Ann",
                                 "--chaos-authors", "Bob", "--chaos-off", "identity"])
    options = _make_server([], args).options
    assert (options.identity, options.version, options.authors) == (None, ("9.9",), ("Ann", "Bob"))
    options = _make_server([], _parser().parse_args(["serve", "x.zone", "--name", "ns9"])).options
    assert (options.identity, options.version, options.authors) == (("ns9",), ("fakens",), ("fakens",))


def test_scenario_keys(tmp_path: Path) -> None:
    from fakens.scenario import ScenarioError, load_scenario

    (tmp_path / "example.test.zone").write_text(
        "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\n")
    head = '[[zones]]\nfile = "example.test.zone"\n\n[[servers]]\nname = "ns1.example.test."\n'
    good = tmp_path / "good.toml"
    good.write_text(head + 'options = { identity = false, authors = ["Ann", "Bob"], version = "9.18" }\n')
    (server,) = load_scenario(good).servers
    options = fakens.Server([], **server.options).options
    assert (options.identity, options.version, options.authors) == (None, ("9.18",), ("Ann", "Bob"))
    bad = tmp_path / "bad.toml"
    bad.write_text(head + "options = { authors = 5 }\n")
    with pytest.raises(ScenarioError, match=r"servers\[0\]\.options\.authors: authors 5: give a text"):
        load_scenario(bad)
