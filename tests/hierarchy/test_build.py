"""fakens.lab.build_hierarchy: root hints, delegations and glue, one server per NS host,
addresses, resolver configurations and reset."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from helpers import ask

from fakens import Zone
from fakens.lab import ROOT_SERVER, Hierarchy, build_hierarchy, worker_octet
from fakens.trace import parse_hints

pytestmark = pytest.mark.port53

MakeHierarchy = Callable[..., Hierarchy]
ZONES = Path(__file__).resolve().parents[2] / "zones"

EXAMPLE = """\
$ORIGIN example.test.
$TTL 300
@     SOA ns1 hostmaster 1 3600 600 86400 300
@     NS  ns1
@     NS  ns2
@     NS  ns3
ns1   A   192.0.2.1
ns2   A   192.0.2.2
ns2   AAAA 2001:db8::2
ns3   A   192.0.2.3
www   A   192.0.2.10
"""


def rrset_texts(section: list, rdtype: int) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return sorted((rrset.name.to_text(), rdata.to_text()) for rrset in section if rrset.rdtype == rdtype
                  for rdata in rrset)


def address_of(hierarchy: Hierarchy, host: str) -> str:
    return hierarchy.server(host).addresses[0][0]


def test_root_hints(fakens_hierarchy: MakeHierarchy, tmp_path: Path) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    root = hierarchy.root_address
    assert hierarchy.members[0].host == ROOT_SERVER
    assert address_of(hierarchy, "a.root-servers.test.") == root
    assert hierarchy.root_hints.split() == [".", "3600000", "NS", "a.root-servers.test.",
                                            "a.root-servers.test.", "3600000", "A", root]
    path = hierarchy.write_root_hints(tmp_path / "root.hints")
    assert Path(path).read_text() == hierarchy.root_hints
    assert parse_hints(path) == [(ROOT_SERVER, [root])]
    # the root server answers for the root, with its own address as glue (priming)
    priming = ask((root, 53), ".", "NS", use_edns=0, flags=0)
    assert priming.flags & dns.flags.AA and priming.rcode() == dns.rcode.NOERROR
    assert rrset_texts(priming.answer, dns.rdatatype.NS) == [(".", "a.root-servers.test.")]
    assert rrset_texts(priming.additional, dns.rdatatype.A) == [("a.root-servers.test.", root)]


def test_delegations_carry_glue(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    ns = {host: address_of(hierarchy, f"{host}.example.test.") for host in ("ns1", "ns2", "ns3")}
    tld = address_of(hierarchy, "ns1.nic.test.")

    # root -> test.: NS ns1.nic.test. with glue
    referral = ask((hierarchy.root_address, 53), "www.example.test.", "A", use_edns=0, flags=0)
    assert not referral.flags & dns.flags.AA and not referral.answer
    assert rrset_texts(referral.authority, dns.rdatatype.NS) == [("test.", "ns1.nic.test.")]
    assert rrset_texts(referral.additional, dns.rdatatype.A) == [("ns1.nic.test.", tld)]

    # test. -> example.test.: the zone's own NS set, glue with the chosen addresses, no stale AAAA
    referral = ask((tld, 53), "www.example.test.", "A", use_edns=0, flags=0)
    assert not referral.flags & dns.flags.AA and not referral.answer
    assert rrset_texts(referral.authority, dns.rdatatype.NS) == [
        ("example.test.", f"{h}.example.test.") for h in ("ns1", "ns2", "ns3")]
    assert rrset_texts(referral.additional, dns.rdatatype.A) == sorted(
        (f"{h}.example.test.", a) for h, a in ns.items())
    assert rrset_texts(referral.additional, dns.rdatatype.AAAA) == []
    test_zone = hierarchy.zones[dns.name.from_text("test.")]
    assert test_zone.current.get(dns.name.from_text("example.test."), dns.rdatatype.NS) is not None

    # the zone's own address records say the same as the glue
    answer = ask((ns["ns2"], 53), "ns2.example.test.", "A", use_edns=0, flags=0)
    assert answer.flags & dns.flags.AA
    assert rrset_texts(answer.answer, dns.rdatatype.A) == [("ns2.example.test.", ns["ns2"])]
    assert rrset_texts(ask((ns["ns2"], 53), "ns2.example.test.", "AAAA", use_edns=0, flags=0).answer, dns.rdatatype.AAAA) == []
    assert rrset_texts(ask((ns["ns1"], 53), "www.example.test.", "A", use_edns=0, flags=0).answer, dns.rdatatype.A) == [
        ("www.example.test.", "192.0.2.10")]


def test_each_ns_host_is_its_own_server(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    assert list(hierarchy.servers) == ["a.root-servers.test.", "ns1.nic.test.", "ns1.example.test.",
                                       "ns2.example.test.", "ns3.example.test."]
    servers = hierarchy.servers_for("example.test.")
    assert [s.name for s in servers] == ["ns1.example.test.", "ns2.example.test.", "ns3.example.test."]
    assert len({s.addresses[0] for s in hierarchy.servers.values()}) == len(hierarchy.servers)
    assert all(s.addresses[0][1] == 53 for s in hierarchy.servers.values())
    assert [m.address for m in hierarchy.members] == [s.addresses[0][0] for s in hierarchy.servers.values()]
    # a query to one server is in its log only
    ns2 = hierarchy.server("ns2.example.test.")
    ask((ns2.addresses[0][0], 53), "www.example.test.", "A", use_edns=0, flags=0)
    ns2.log.assert_received(qname="www.example.test.", qtype="A", times=1)
    for other in hierarchy.servers.values():
        if other is not ns2:
            other.log.assert_not_received()
    # a fault on one NS host leaves its siblings alone
    ns2.faults.add("nxdomain")
    assert ask((ns2.addresses[0][0], 53), "www.example.test.", "A", use_edns=0, flags=0).rcode() == dns.rcode.NXDOMAIN
    assert ask((address_of(hierarchy, "ns3.example.test."), 53), "www.example.test.", "A", use_edns=0, flags=0).rcode() == dns.rcode.NOERROR


def test_an_ns_host_in_no_zone_gets_no_server(fakens_hierarchy: MakeHierarchy) -> None:
    zone = EXAMPLE.replace("@     NS  ns3\n", "@     NS  ns.elsewhere.invalid.\n")
    hierarchy = fakens_hierarchy([zone])
    assert "ns.elsewhere.invalid." not in hierarchy.servers
    assert [s.name for s in hierarchy.servers_for("example.test.")] == ["ns1.example.test.", "ns2.example.test."]


def test_seven_tld_servers(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE], tld_servers=7)
    hosts = [f"ns{i}.nic.test." for i in range(1, 8)]
    assert [s.name for s in hierarchy.servers_for("test.")] == hosts
    addresses = {h: address_of(hierarchy, h) for h in hosts}
    assert len(set(addresses.values())) == 7
    referral = ask((hierarchy.root_address, 53), "example.test.", "SOA", use_edns=0, flags=0)
    assert rrset_texts(referral.authority, dns.rdatatype.NS) == [("test.", h) for h in hosts]
    assert rrset_texts(referral.additional, dns.rdatatype.A) == sorted(addresses.items())
    for host, address in addresses.items():
        soa = ask((address, 53), "test.", "SOA", use_edns=0, flags=0)
        assert soa.flags & dns.flags.AA and soa.rcode() == dns.rcode.NOERROR, host
        assert rrset_texts(ask((address, 53), "test.", "NS", use_edns=0, flags=0).answer, dns.rdatatype.NS) == [("test.", h) for h in hosts]
        referral = ask((address, 53), "www.example.test.", "A", use_edns=0, flags=0)
        assert rrset_texts(referral.authority, dns.rdatatype.NS)[0] == ("example.test.", "ns1.example.test."), host
    # a mapping gives TLDs different counts
    other = fakens_hierarchy([EXAMPLE, EXAMPLE.replace("example.test.", "example.net.")],
                             tld_servers={"test": 2, "net": 3})
    assert [s.name for s in other.servers_for("test.")] == ["ns1.nic.test.", "ns2.nic.test."]
    assert [s.name for s in other.servers_for("net.")] == ["ns1.nic.net.", "ns2.nic.net.", "ns3.nic.net."]


def test_addresses_are_in_the_worker_block(fakens_hierarchy: MakeHierarchy) -> None:
    first = fakens_hierarchy([EXAMPLE])
    second = fakens_hierarchy([EXAMPLE])
    for hierarchy in (first, second):
        blocks = set()
        for member in hierarchy.members:
            octets = member.address.split(".")
            assert octets[:2] == ["127", str(worker_octet())], member.address
            assert 10 <= int(octets[3]) < 255
            blocks.add(octets[2])
        assert len(blocks) == 1, [m.address for m in hierarchy.members]
        assert hierarchy.members[0].address.endswith(".10")  # the root first
        assert all(p == 53 for s in hierarchy.servers.values() for _, p in s.addresses)
    # two hierarchies at once: different blocks, no address shared
    assert not {m.address for m in first.members} & {m.address for m in second.members}


def test_the_xdist_worker_picks_the_second_octet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw5")
    assert worker_octet() == 6
    hierarchy = build_hierarchy([EXAMPLE])
    with hierarchy:
        assert all(m.address.startswith("127.6.") for m in hierarchy.members), [m.address for m in hierarchy.members]
        result = hierarchy.tracer().resolve("www.example.test.", "A")
        assert result.addresses == ["192.0.2.10"], str(result)
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert worker_octet() == 1


def non_loopback(text: str) -> list[str]:
    found = []
    for token in re.findall(r"[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*", text):
        token = token.strip(".:")
        try:
            address = ipaddress.ip_address(token)
        except ValueError:
            continue
        if not address.is_loopback:
            found.append(token)
    return found


def test_unbound_and_named_configs(fakens_hierarchy: MakeHierarchy, tmp_path: Path) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE, OTHER_NET])
    hints = tmp_path / "root.hints"
    unbound = hierarchy.unbound_config(port=5300, directory=str(tmp_path))
    assert f'root-hints: "{hints}"' in unbound
    assert hints.read_text() == hierarchy.root_hints
    assert "port: 5300" in unbound and "interface: 127.0.0.1" in unbound
    assert "do-not-query-localhost: no" in unbound
    assert 'local-zone: "test." nodefault' in unbound  # .test is otherwise a local zone in unbound
    assert non_loopback(unbound) == [], unbound

    hints.unlink()
    named = hierarchy.named_config(port=5301, directory=str(tmp_path))
    assert f'zone "." {{ type hint; file "{hints}"; }};' in named
    assert hints.read_text() == hierarchy.root_hints
    assert "listen-on port 5301 { 127.0.0.1; }" in named
    assert non_loopback(named) == [], named
    # the hints themselves name only the hierarchy's root (loopback)
    assert non_loopback(hierarchy.root_hints) == []


OTHER_NET = """\
$ORIGIN other.net.
$TTL 300
@     SOA ns1 hostmaster 1 3600 600 86400 300
@     NS  ns1
ns1   A   198.51.100.1
"""


def test_non_loopback_finds_addresses() -> None:  # the helper the config test relies on
    assert non_loopback("a 192.0.2.1; b 127.1.2.3 ::1 2001:db8::1.") == ["192.0.2.1", "2001:db8::1"]


def zone_state(hierarchy: Hierarchy) -> dict[str, tuple[int, set]]:  # type: ignore[type-arg]
    return {origin.to_text(): (zone.serial, zone.current.records()) for origin, zone in hierarchy.zones.items()}


def test_reset_returns_the_zones_as_built(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([Zone.from_file(ZONES / "example.test.zone"), OTHER_NET], tld_servers=2)
    built = zone_state(hierarchy)
    answers = {qname: rrset_texts(ask((address_of(hierarchy, "ns1.example.test."), 53), qname, "A", use_edns=0, flags=0).answer,
                                  dns.rdatatype.A) for qname in ("www.example.test.", "new.example.test.")}
    referral = ask((address_of(hierarchy, "ns1.nic.test."), 53), "www.example.test.", "A", use_edns=0, flags=0)

    test_zone = hierarchy.zones[dns.name.from_text("test.")]
    example = hierarchy.zones[dns.name.from_text("example.test.")]
    example.edit(add=["new 300 A 192.0.2.99"], replace=["www 300 A 192.0.2.11"], remove=["ftp CNAME"])
    test_zone.edit(remove=["example.test. NS"])
    hierarchy.server("ns2.nic.test.").faults.add("drop")
    ask((address_of(hierarchy, "ns1.example.test."), 53), "new.example.test.", "A", use_edns=0, flags=0)
    assert zone_state(hierarchy) != built

    hierarchy.reset()

    assert zone_state(hierarchy) == built
    for server in hierarchy.servers.values():
        assert len(server.log) == 0 and len(server.faults) == 0, server.name
    for qname, expected in answers.items():
        got = ask((address_of(hierarchy, "ns1.example.test."), 53), qname, "A", use_edns=0, flags=0)
        assert rrset_texts(got.answer, dns.rdatatype.A) == expected, qname
    assert answers["www.example.test."] == [("www.example.test.", "192.0.2.10")]
    again = ask((address_of(hierarchy, "ns1.nic.test."), 53), "www.example.test.", "A", use_edns=0, flags=0)
    assert rrset_texts(again.authority, dns.rdatatype.NS) == rrset_texts(referral.authority, dns.rdatatype.NS)
    assert rrset_texts(again.additional, dns.rdatatype.A) == rrset_texts(referral.additional, dns.rdatatype.A)
    assert ask((address_of(hierarchy, "ns2.nic.test."), 53), "www.example.test.", "A", use_edns=0, flags=0).rcode() == dns.rcode.NOERROR
    assert hierarchy.tracer().resolve("www.example.test.", "A").addresses == ["192.0.2.10"]
