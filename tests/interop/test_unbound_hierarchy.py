"""unbound resolving through a fake hierarchy: root, test., example.test. on port 53.

The hierarchy comes from the ``fakens_hierarchy`` fixture (build_hierarchy): its servers get
addresses of this pytest-xdist worker's own 127.(worker+1).x.y block, so every test has its
own hierarchy and tests may run in parallel. unbound comes from ``fakens_unbound``
(configured by ``hierarchy.unbound_config``, on a free port of 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dns.rcode
import dns.rdatatype
import pytest
from helpers import ask
from helpers.procs import describe_unbound

from fakens import Server
from fakens.lab import ROOT_SERVER, Hierarchy
from fakens.log import LogEntry
from fakens.testing import Unbound

pytestmark = pytest.mark.port53

EXAMPLE_ZONE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
# The zones whose servers must each see unbound's queries (example.test. has two servers,
# ns1 and ns2: at least one of them must be asked).
ZONES = (".", "test.", "example.test.")

MakeHierarchy = Callable[..., Hierarchy]
MakeUnbound = Callable[..., Unbound]


@pytest.fixture
def hierarchy(fakens_hierarchy: MakeHierarchy) -> Hierarchy:
    """root (a.root-servers.test.), test. (ns1.nic.test.), example.test. (ns1, ns2)."""
    return fakens_hierarchy([EXAMPLE_ZONE])


def entries(servers: list[Server]) -> list[LogEntry]:
    return [e for s in servers for e in s.log.entries()]


def test_root_priming_reply_has_glue(hierarchy: Hierarchy) -> None:
    # Priming: unbound asks the root for ". NS" and needs the root server's address in the
    # reply's additional section. a.root-servers.test. lies below the test. cut, so that
    # address is glue; BIND sends it, and without it unbound asks test. (NXDOMAIN) and fails.
    root_address = hierarchy.server(ROOT_SERVER.to_text()).addresses[0][0]
    assert root_address == hierarchy.root_address
    priming = ask((root_address, hierarchy.port), ".", "NS", flags=0)
    glue = [rrset for rrset in priming.additional if rrset.rdtype == dns.rdatatype.A]
    assert [(str(g.name), g[0].address) for g in glue] == [
        ("a.root-servers.test.", root_address)], f"root priming reply lacks the glue:\n{priming}"


@pytest.mark.parametrize("qname_minimisation", [True, False], ids=["qmin-on", "qmin-off"])
def test_unbound_resolves_through_fake_hierarchy(hierarchy: Hierarchy, fakens_unbound: MakeUnbound,
                                                 require_tool: Callable[[str], str],
                                                 qname_minimisation: bool) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    unbound = fakens_unbound(hierarchy, qname_minimisation=qname_minimisation)
    host, port = unbound.address
    mode = f"qname-minimisation {'on' if qname_minimisation else 'off'}"
    example = hierarchy.servers_for("example.test.")

    r = ask((host, port), "www.example.test.", "A", timeout=10)
    assert r.rcode() == dns.rcode.NOERROR, f"{mode}: {r}\n{describe_unbound(unbound)}"
    addresses = {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                 for rd in rrset}
    assert addresses == {"192.0.2.10"}, f"{mode}: {r}\n{describe_unbound(unbound)}"

    for zone in ZONES:
        servers = hierarchy.servers_for(zone)
        got = entries(servers)
        names = ", ".join(s.name for s in servers)
        assert got, f"{mode}: no fakens server of {zone} ({names}) received a query\n{describe_unbound(unbound)}"
        assert all(e.client[0].startswith("127.") for e in got), got
    asked = {str(e.qname).lower() for e in entries(example)}
    assert "www.example.test." in asked, f"{mode}: {asked}"

    # After a flush, an answer must come through the hierarchy again.
    unbound.control("flush_zone", ".")
    unbound.control("flush_infra", "all")
    before = len(entries(example))
    r = ask((host, port), "example.test.", "MX", timeout=10)
    assert r.rcode() == dns.rcode.NOERROR and r.answer, f"{mode}: {r}\n{describe_unbound(unbound)}"
    assert len(entries(example)) > before, mode
    unbound.stop()
