"""unbound validating through a signed fake hierarchy (root, test., example.test.) with the
lab's trust anchor and root hints only: SECURE answers (AD set) for names in the signed zone,
positive, NXDOMAIN and NODATA, with NSEC and with NSEC3; delv agrees."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import pytest
from helpers.procs import delv_outcome, describe_unbound, optional_delv

from fakens.dnssec import DnssecPolicy, Nsec3Params, add_ds_records, sign_zone
from fakens.lab import Hierarchy
from fakens.testing import Unbound

pytestmark = pytest.mark.port53

EXAMPLE_ZONE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
POLICIES = {"nsec": DnssecPolicy(), "nsec3": DnssecPolicy(nsec3=Nsec3Params())}


def _ask(address: tuple[str, int], qname: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(qname, rdtype, want_dnssec=True, use_edns=0, payload=1232)
    query.flags |= dns.flags.AD
    return dns.query.udp(query, address[0], port=address[1], timeout=10)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_unbound_secure_through_signed_lab(fakens_hierarchy: Callable[..., Hierarchy],
                                           fakens_unbound: Callable[..., Unbound],
                                           require_tool: Callable[[str], str], policy: DnssecPolicy) -> None:
    require_tool("unbound")
    lab = fakens_hierarchy([EXAMPLE_ZONE], dnssec=policy)
    assert lab.signed and " DS " in lab.trust_anchors
    unbound = fakens_unbound(lab)
    address = unbound.address
    for qname, rdtype, rcode in (("www.example.test.", "A", dns.rcode.NOERROR),
                                 ("anything.wild.example.test.", "TXT", dns.rcode.NOERROR),
                                 ("nope.example.test.", "A", dns.rcode.NXDOMAIN),
                                 ("www.example.test.", "MX", dns.rcode.NOERROR),
                                 ("b.ent.example.test.", "A", dns.rcode.NOERROR)):
        reply = _ask(address, qname, rdtype)
        assert reply.rcode() == rcode, f"{qname} {rdtype}: {reply}\n{describe_unbound(unbound)}"
        assert reply.flags & dns.flags.AD, f"{qname} {rdtype}: not SECURE (no AD): {reply}\n{describe_unbound(unbound)}"


def test_unbound_insecure_delegation_has_no_ad(fakens_hierarchy: Callable[..., Hierarchy],
                                               fakens_unbound: Callable[..., Unbound],
                                               require_tool: Callable[[str], str]) -> None:
    """example.test. unsigned below a signed root and test.: answers, INSECURE (no AD)."""
    require_tool("unbound")
    lab = fakens_hierarchy([EXAMPLE_ZONE])
    for origin in (".", "test."):  # served already: the edits reach the running servers
        sign_zone(lab.zones[dns.name.from_text(origin)])
    add_ds_records(lab.zones.values())
    assert lab.signed
    unbound = fakens_unbound(lab)
    reply = _ask(unbound.address, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer, f"{reply}\n{describe_unbound(unbound)}"
    assert not reply.flags & dns.flags.AD, f"{reply}\n{describe_unbound(unbound)}"
    delv = optional_delv(unbound)
    if delv is not None:  # delv, asked through the same unbound, agrees: an unsigned answer
        assert delv_outcome(*delv, unbound.address, "www.example.test.", "A") == "insecure"


def test_delv_agrees(fakens_hierarchy: Callable[..., Hierarchy], fakens_unbound: Callable[..., Unbound],
                     require_tool: Callable[[str], str], tmp_path: Path) -> None:
    require_tool("unbound")
    delv = require_tool("delv")
    lab = fakens_hierarchy([EXAMPLE_ZONE], dnssec=True)
    unbound = fakens_unbound(lab)
    anchors = lab.write_trust_anchors(tmp_path)
    host, port = unbound.address
    out = subprocess.run([delv, f"@{host}", "-p", str(port), "-a", anchors["bind"], "+root", "www.example.test.", "A"],
                         capture_output=True, text=True, timeout=30, env={**os.environ, "LC_ALL": "C"})
    assert "; fully validated" in out.stdout, f"{out.stdout}\n{out.stderr}"


def test_unbound_bogus_for_an_unsigned_lie(fakens_hierarchy: Callable[..., Hierarchy],
                                           fakens_unbound: Callable[..., Unbound],
                                           require_tool: Callable[[str], str]) -> None:
    """The control: an answer-editing fault's NXDOMAIN carries no proof, so the validator
    calls it bogus (SERVFAIL) where the signed truth was SECURE."""
    require_tool("unbound")
    lab = fakens_hierarchy([EXAMPLE_ZONE], dnssec=True)
    for server in lab.servers_for("example.test."):
        server.faults.add("nxdomain qname=www.example.test.")
    unbound = fakens_unbound(lab)
    reply = _ask(unbound.address, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.SERVFAIL, f"{reply}\n{describe_unbound(unbound)}"
    assert _ask(unbound.address, "mail.example.test.", "A").flags & dns.flags.AD
