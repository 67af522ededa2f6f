"""Resolvers pointed at fakes: fakens_resolver, resolver_for, and unbound in front of a hierarchy."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import dns.resolver
import pytest

from fakens import Server, ServerError
from fakens.lab import Hierarchy
from fakens.testing import Unbound, resolver_for

from .userproject import OTHER_ZONE_TEXT

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_ZONE = os.path.join(REPO, "zones", "example.test.zone")


@pytest.mark.fakens(zones=[EXAMPLE_ZONE])
def test_fakens_resolver_resolves(fakens_server: Server, fakens_resolver: dns.resolver.Resolver) -> None:
    assert (fakens_resolver.nameservers, fakens_resolver.port) == ([fakens_server.addresses[0][0]],
                                                                   fakens_server.addresses[0][1])
    assert [r.address for r in fakens_resolver.resolve("www.example.test.", "A")] == ["192.0.2.10"]
    assert sorted(r.address for r in fakens_resolver.resolve("ftp.example.test.", "AAAA")) == ["2001:db8::10"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        fakens_resolver.resolve("nope.example.test.", "A")
    fakens_server.log.assert_received(qname="www.example.test.", qtype="A", times=1)
    fakens_server.log.assert_received(qname="nope.example.test.", rcode="NXDOMAIN")


@pytest.mark.fakens(zones=[EXAMPLE_ZONE])
def test_resolver_for_a_second_server(fakens_server: Server, fakens_resolver: dns.resolver.Resolver,
                                      fakens_servers: Callable[..., Server]) -> None:
    second = fakens_servers([OTHER_ZONE_TEXT])
    resolver = resolver_for(second, timeout=3.0)
    assert resolver.port == second.addresses[0][1] and resolver.lifetime == 3.0
    assert [r.address for r in resolver.resolve("www.other.test.", "A")] == ["198.51.100.7"]
    assert [r.address for r in fakens_resolver.resolve("www.example.test.", "A")] == ["192.0.2.10"]
    second.log.assert_received(qname="www.other.test.", times=1)
    second.log.assert_not_received(qname="www.example.test.")
    fakens_server.log.assert_not_received(qname="www.other.test.")


def test_resolver_for_a_server_not_started() -> None:
    with pytest.raises(ServerError, match="not running"):
        resolver_for(Server([OTHER_ZONE_TEXT], name="idle"))


def _count(servers: list[Server], **criteria: Any) -> int:
    return sum(s.log.count(**criteria) for s in servers)


@pytest.mark.port53
def test_fakens_unbound_resolves_through_a_hierarchy(fakens_hierarchy: Callable[..., Hierarchy],
                                                     fakens_unbound: Callable[..., Unbound],
                                                     require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    hierarchy = fakens_hierarchy([EXAMPLE_ZONE])
    unbound = fakens_unbound(hierarchy)

    # unbound was configured from hierarchy.unbound_config: the hierarchy's root hints, nothing else
    with open(unbound.config, encoding="utf-8") as f:
        config = f.read()
    directory = os.path.dirname(unbound.config)
    assert config == hierarchy.unbound_config(port=unbound.address[1], directory=directory)
    with open(os.path.join(directory, "root.hints"), encoding="utf-8") as f:
        assert f.read() == hierarchy.root_hints
    assert hierarchy.root_address in hierarchy.root_hints

    root = [hierarchy.server("a.root-servers.test.")]
    tld = hierarchy.servers_for("test.")
    zone = hierarchy.servers_for("example.test.")
    assert len(zone) == 2  # ns1 and ns2.example.test.

    answer = unbound.resolver.resolve("www.example.test.", "A")
    assert [r.address for r in answer] == ["192.0.2.10"]
    # unbound's queries reached the fakes: root, test., then example.test. for the name itself
    assert _count(root) >= 1 and _count(tld) >= 1
    assert _count(zone, qname="www.example.test.", qtype="A") >= 1
    for server in root + tld + zone:
        for entry in server.log:
            assert entry.client[0] == "127.0.0.1"  # unbound, from loopback
    before = {"root": _count(root), "tld": _count(tld), "zone": _count(zone, qname="www.example.test.", qtype="A")}

    # cached: the same question does not reach the servers again
    assert [r.address for r in unbound.resolver.resolve("www.example.test.", "A")] == ["192.0.2.10"]
    assert _count(zone, qname="www.example.test.", qtype="A") == before["zone"]

    # flushed: the next resolution starts from the root again
    unbound.flush()
    assert [r.address for r in unbound.resolver.resolve("www.example.test.", "A")] == ["192.0.2.10"]
    assert _count(zone, qname="www.example.test.", qtype="A") > before["zone"]
    assert _count(root) > before["root"]
    assert _count(tld) > before["tld"]
