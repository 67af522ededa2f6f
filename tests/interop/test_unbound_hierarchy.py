"""unbound resolving through a fake hierarchy: root, test., example.test. on port 53."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dns.rcode
import dns.rdatatype
import pytest
from helpers.procs import (
    ProcessSet,
    dns_query,
    free_port,
    start_unbound,
    unbound_control,
)

from fakens import Server, Zone

pytestmark = pytest.mark.port53

ZONES = Path(__file__).resolve().parents[2] / "zones"

ROOT_ZONE = """\
$ORIGIN .
$TTL 86400
. IN SOA a.root-servers.test. hostmaster.root-servers.test. 1 1800 900 604800 86400
.                     IN NS  a.root-servers.test.
a.root-servers.test.  IN A   127.0.0.10
test.                 IN NS  ns1.test.
ns1.test.             IN A   127.0.0.11
"""

ROOT_HINTS = """\
.                     3600000 NS a.root-servers.test.
a.root-servers.test.  3600000 A  127.0.0.10
"""


@pytest.fixture
def hierarchy() -> Iterator[dict[str, Server]]:
    # zones/test.zone delegates example.test. to ns1/ns2.example.test. = 127.0.0.12/13;
    # one virtual server answers on both addresses.
    servers = {
        "root": Server(zones=[Zone.from_text(ROOT_ZONE, origin=".")],
                       listen=["127.0.0.10:53"], name="root"),
        "test": Server(zones=[Zone.from_file(str(ZONES / "test.zone"))],
                       listen=["127.0.0.11:53"], name="ns1.test"),
        "example": Server(zones=[Zone.from_file(str(ZONES / "example.test.zone"))],
                          listen=["127.0.0.12:53", "127.0.0.13:53"], name="ns.example.test"),
    }
    started: list[Server] = []
    try:
        for s in servers.values():
            s.start()
            started.append(s)
        yield servers
    finally:
        for s in reversed(started):
            s.stop()


# One test function for the whole hierarchy: its addresses are fixed (127.0.0.10-13:53), so
# two tests using them must not run at once (pytest-xdist splits a module's tests).
def test_unbound_resolves_through_fake_hierarchy(hierarchy: dict[str, Server], tmp_path: Path,
                                                 procs: ProcessSet,
                                                 require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    # Priming: unbound asks the root for ". NS" and needs the root server's address in the
    # reply's additional section. a.root-servers.test. lies below the test. cut, so that
    # address is glue; BIND sends it, and without it unbound asks test. (NXDOMAIN) and fails.
    priming = dns_query("127.0.0.10", 53, ".", "NS")
    glue = [rrset for rrset in priming.additional if rrset.rdtype == dns.rdatatype.A]
    assert [(str(g.name), g[0].address) for g in glue] == [
        ("a.root-servers.test.", "127.0.0.10")], f"root priming reply lacks the glue:\n{priming}"

    for qname_minimisation in (True, False):
        for server in hierarchy.values():
            server.log.clear()
        resolve_through(hierarchy, tmp_path / f"unbound-qmin-{qname_minimisation}", procs,
                        qname_minimisation)


def resolve_through(hierarchy: dict[str, Server], workdir: Path, procs: ProcessSet,
                    qname_minimisation: bool) -> None:
    port = free_port("127.0.0.1")
    unbound = procs.add(start_unbound(workdir, root_hints=ROOT_HINTS,
                                      listen=("127.0.0.1", port),
                                      qname_minimisation=qname_minimisation))
    mode = f"qname-minimisation {'on' if qname_minimisation else 'off'}"

    r = dns_query("127.0.0.1", port, "www.example.test.", "A", rd=True, timeout=10)
    assert r.rcode() == dns.rcode.NOERROR, f"{mode}: {r}\n{unbound.describe()}"
    addresses = {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                 for rd in rrset}
    assert addresses == {"192.0.2.10"}, f"{mode}: {r}\n{unbound.describe()}"

    for name, server in hierarchy.items():
        entries = server.log.entries()
        assert entries, f"{mode}: fakens server {name} received no query\n{unbound.describe()}"
        assert all(e.client[0].startswith("127.") for e in entries), entries
    asked = {str(e.qname).lower() for e in hierarchy["example"].log.entries()}
    assert "www.example.test." in asked, f"{mode}: {asked}"

    # After a flush, an answer must come through the hierarchy again.
    assert unbound.conf is not None
    unbound_control(unbound.conf, "flush_zone", ".")
    unbound_control(unbound.conf, "flush_infra", "all")
    before = len(hierarchy["example"].log.entries())
    r = dns_query("127.0.0.1", port, "example.test.", "MX", rd=True, timeout=10)
    assert r.rcode() == dns.rcode.NOERROR and r.answer, f"{mode}: {r}\n{unbound.describe()}"
    assert len(hierarchy["example"].log.entries()) > before, mode
    unbound.stop()
