"""fakens' iterative resolver (fakens.trace.Tracer) through fake hierarchies on port 53.

Every test builds its own hierarchy (build_hierarchy picks a free 127.(worker+1).x.y block),
so the tests may run in parallel under pytest-xdist.
"""

from __future__ import annotations

import collections
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import dns.name
import dns.rcode
import dns.rdatatype
import pytest

from fakens.lab import Hierarchy, build_hierarchy
from fakens.trace import TraceResult

pytestmark = pytest.mark.port53

MakeHierarchy = Callable[..., Hierarchy]

EXAMPLE = """\
$ORIGIN example.test.
$TTL 300
@     SOA ns1 hostmaster 1 3600 600 86400 300
@     NS  ns1
@     NS  ns2
ns1   A   127.0.0.1
ns2   A   127.0.0.1
www   A   192.0.2.10
shop  CNAME www.other.test.
"""

OTHER = """\
$ORIGIN other.test.
$TTL 300
@     SOA ns1 hostmaster 1 3600 600 86400 300
@     NS  ns1
ns1   A   127.0.0.1
www   A   192.0.2.20
"""


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def zones_on_path(result: TraceResult) -> list[str]:
    return [step.zone.to_text() for step in result.path]


def assert_ok(result: TraceResult, addresses: list[str]) -> None:
    assert result.status == "ok", f"{result.error}\n{result}"
    assert result.rcode == dns.rcode.NOERROR, str(result)
    assert result.addresses == addresses, str(result)


def path_key(result: TraceResult) -> list[tuple[str, str, str]]:
    return [(step.address, step.qname.to_text(), dns.rdatatype.to_text(step.qtype)) for step in result.path]


# -- resolution --------------------------------------------------------------------------


def test_resolves_through_root_tld_and_zone(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert_ok(result, ["192.0.2.10"])
    assert zones_on_path(result) == [".", "test.", "example.test."], str(result)
    assert [s.outcome for s in result.path] == ["referral", "referral", "answer"], str(result)
    root, tld, zone = result.path
    assert root.address == hierarchy.root_address
    assert tld.server_name == name("ns1.nic.test.")
    assert tld.address == hierarchy.server("ns1.nic.test.").addresses[0][0]
    assert zone.server_name == name("ns1.example.test.")
    assert zone.address == hierarchy.server("ns1.example.test.").addresses[0][0]
    assert zone.aa and not root.aa and not tld.aa
    assert all(s.purpose == "" for s in result.path), str(result)
    assert result.error == ""
    assert result.disagreements == []


def test_follows_a_cname_into_another_zone(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE, OTHER])
    result = hierarchy.tracer().resolve("shop.example.test.", "A")
    assert_ok(result, ["192.0.2.20"])
    assert [(s.zone.to_text(), s.qname.to_text(), s.outcome) for s in result.path] == [
        (".", "shop.example.test.", "referral"),
        ("test.", "shop.example.test.", "referral"),
        ("example.test.", "shop.example.test.", "cname"),
        (".", "www.other.test.", "referral"),
        ("test.", "www.other.test.", "referral"),
        ("other.test.", "www.other.test.", "answer"),
    ], str(result)
    owners = [(rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype)) for rrset in result.answer]
    assert owners == [("shop.example.test.", "CNAME"), ("www.other.test.", "A")], str(result)
    assert result.path[-1].address == hierarchy.server("ns1.other.test.").addresses[0][0]


GLUELESS_EXAMPLE = """\
$ORIGIN example.test.
$TTL 300
@     SOA ns.dns.net. hostmaster 1 3600 600 86400 300
@     NS  ns.dns.net.
www   A   192.0.2.10
"""

DNS_NET = """\
$ORIGIN dns.net.
$TTL 300
@     SOA ns hostmaster 1 3600 600 86400 300
@     NS  ns
ns    A   127.0.0.1
"""


def test_resolves_a_glueless_name_server_in_another_tld(fakens_hierarchy: MakeHierarchy) -> None:
    # example.test. is served by ns.dns.net.: test. cannot hold glue for it (out of bailiwick)
    hierarchy = fakens_hierarchy([GLUELESS_EXAMPLE, DNS_NET])
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert_ok(result, ["192.0.2.10"])
    ns_address = hierarchy.server("ns.dns.net.").addresses[0][0]
    referral = result.path[1]
    assert referral.zone == name("test.") and referral.outcome == "referral", str(result)
    assert not [rrset for rrset in referral.response.additional if rrset.rdtype == dns.rdatatype.A], \
        f"the referral to example.test. should carry no glue:\n{referral.response}"
    glueless = [s for s in result.path if s.purpose]
    assert [(s.zone.to_text(), s.qname.to_text(), s.outcome) for s in glueless] == [
        (".", "ns.dns.net.", "referral"),
        ("net.", "ns.dns.net.", "referral"),
        ("dns.net.", "ns.dns.net.", "answer"),
    ], str(result)
    assert all("glueless" in s.purpose and "ns.dns.net." in s.purpose for s in glueless), str(result)
    assert path_key(result)[-1] == (ns_address, "www.example.test.", "A"), str(result)
    assert result.path[-1].zone == name("example.test.")
    # the glueless lookup comes between the referral and the question to example.test.
    assert result.path.index(glueless[0]) == 2 and result.path.index(glueless[-1]) == len(result.path) - 2


def test_resolves_a_glueless_sibling_name_server(fakens_hierarchy: MakeHierarchy) -> None:
    # example.test. delegated to ns.other.test.; the test. servers leave out the sibling glue
    example = EXAMPLE.replace("@     NS  ns1\n@     NS  ns2\n", "@     NS  ns.other.test.\n")
    hierarchy = fakens_hierarchy([example, OTHER])
    for server in hierarchy.servers_for("test."):
        server.faults.add("missing-glue qname=**.example.test.")
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert_ok(result, ["192.0.2.10"])
    glueless = [(s.zone.to_text(), s.qname.to_text(), s.outcome) for s in result.path if s.purpose]
    assert glueless == [
        (".", "ns.other.test.", "referral"),
        ("test.", "ns.other.test.", "referral"),
        ("other.test.", "ns.other.test.", "answer"),
    ], str(result)
    last = result.path[-1]
    assert (last.zone, last.server_name) == (name("example.test."), name("ns.other.test.")), str(result)
    assert last.address == hierarchy.server("ns.other.test.").addresses[0][0]


def test_nxdomain(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    tracer = hierarchy.tracer()
    result = tracer.resolve("nope.example.test.", "A")
    assert (result.status, result.rcode) == ("nxdomain", dns.rcode.NXDOMAIN), str(result)
    assert zones_on_path(result) == [".", "test.", "example.test."]
    assert result.path[-1].outcome == "nxdomain" and result.path[-1].aa
    assert result.answer == [] and result.error == ""

    # a name in no zone below the TLD: the TLD itself says NXDOMAIN
    result = tracer.resolve("www.absent.test.", "A")
    assert (result.status, result.rcode) == ("nxdomain", dns.rcode.NXDOMAIN), str(result)
    assert zones_on_path(result) == [".", "test."]
    # and a TLD nobody serves: the root says NXDOMAIN
    result = tracer.resolve("www.example.invalid.", "A")
    assert (result.status, result.rcode) == ("nxdomain", dns.rcode.NXDOMAIN), str(result)
    assert zones_on_path(result) == ["."]


def test_nodata(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    result = hierarchy.tracer().resolve("www.example.test.", "MX")
    assert (result.status, result.rcode) == ("nodata", dns.rcode.NOERROR), str(result)
    assert result.answer == [] and result.path[-1].outcome == "nodata"


# -- failures: loops and lame servers ----------------------------------------------------


def test_stops_on_an_upward_referral(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    for server in hierarchy.servers_for("example.test."):
        server.faults.add("lame mode=upward ns=a.root-servers.test.")
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert (result.status, result.rcode) == ("servfail", dns.rcode.SERVFAIL), str(result)
    assert result.answer == []
    # each server of example.test. asked once, then the tracer gives up (no endless loop)
    assert zones_on_path(result) == [".", "test.", "example.test.", "example.test."], str(result)
    assert all("upward" in s.note for s in result.path[2:]), str(result)
    assert "example.test." in result.error, result.error
    # a clear error says what went wrong: the servers referred back up
    assert "referral" in result.error, f"result.error does not mention the referral: {result.error!r}\n{result}"


SELF_DELEGATING = EXAMPLE + """\
sub   NS  ns1.example.test.
"""


def test_stops_on_a_zone_that_delegates_to_itself(fakens_hierarchy: MakeHierarchy) -> None:
    # sub.example.test. is delegated to ns1.example.test., which does not serve it: asked
    # for www.sub.example.test., ns1 refers to sub.example.test. again, and again...
    hierarchy = fakens_hierarchy([SELF_DELEGATING])
    result = hierarchy.tracer().resolve("www.sub.example.test.", "A")
    assert (result.status, result.rcode) == ("servfail", dns.rcode.SERVFAIL), str(result)
    assert len(result.path) <= 5, str(result)
    assert "sub.example.test." in result.error, result.error
    assert "referral" in result.error, f"result.error does not mention the referral: {result.error!r}\n{result}"


LOOP_EXAMPLE = GLUELESS_EXAMPLE.replace("ns.dns.net.", "ns.loop.net.")
LOOP_NET = """\
$ORIGIN loop.net.
$TTL 300
@     SOA ns.example.test. hostmaster 1 3600 600 86400 300
@     NS  ns.example.test.
"""


def test_stops_on_a_glueless_cycle(fakens_hierarchy: MakeHierarchy) -> None:
    # example.test. is served by ns.loop.net., loop.net. by ns.example.test.: neither name resolves
    hierarchy = fakens_hierarchy([LOOP_EXAMPLE, LOOP_NET])
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert (result.status, result.rcode) == ("servfail", dns.rcode.SERVFAIL), str(result)
    assert 0 < len(result.path) < 60, str(result)
    assert not any(s.zone in (name("example.test."), name("loop.net.")) for s in result.path), str(result)
    assert "example.test." in result.error, result.error
    # a clear error says that no name server of example.test. has an address
    assert "no address" in result.error, f"result.error does not say no NS address was found: {result.error!r}"


def test_stops_on_lame_servers(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    for server in hierarchy.servers_for("example.test."):
        server.faults.add("lame mode=refused")
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert (result.status, result.rcode) == ("servfail", dns.rcode.SERVFAIL), str(result)
    assert result.answer == []
    lame = result.path[2:]
    assert [(s.server_name, s.outcome, s.rcode) for s in lame] == [
        (name("ns1.example.test."), "lame", dns.rcode.REFUSED),
        (name("ns2.example.test."), "lame", dns.rcode.REFUSED),
    ], str(result)
    assert "example.test." in result.error and "www.example.test." in result.error, result.error
    assert "usable answer" in result.error, result.error


def test_one_lame_server_is_skipped(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE])
    hierarchy.server("ns1.example.test.").faults.add("lame mode=servfail")
    result = hierarchy.tracer().resolve("www.example.test.", "A")
    assert_ok(result, ["192.0.2.10"])
    assert [(s.server_name, s.outcome) for s in result.path[2:]] == [
        (name("ns1.example.test."), "lame"), (name("ns2.example.test."), "answer")], str(result)


# -- ask_all and order --------------------------------------------------------------------


def test_ask_all_reports_the_disagreeing_tld_server(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE], tld_servers=3)
    bad = hierarchy.server("ns2.nic.test.")
    bad.faults.add("nxdomain")
    bad_address = bad.addresses[0][0]
    result = hierarchy.tracer(ask_all=True).resolve("www.example.test.", "A")
    assert_ok(result, ["192.0.2.10"])  # the first TLD server's referral is followed
    tld_steps = [s for s in result.path if s.zone == name("test.")]
    assert [s.server_name.to_text() for s in tld_steps] == ["ns1.nic.test.", "ns2.nic.test.", "ns3.nic.test."]
    assert len(result.disagreements) == 1, "\n".join(map(str, result.disagreements))
    disagreement = result.disagreements[0]
    assert disagreement.zone == name("test.") and disagreement.qname == name("www.example.test.")
    assert disagreement.qtype == dns.rdatatype.A
    odd = {server: summary for server, summary in disagreement.answers.items() if "NXDOMAIN" in summary}
    assert list(odd) == [f"ns2.nic.test. ({bad_address})"], disagreement.answers
    assert len(disagreement.answers) == 3
    assert "ns2.nic.test." in str(disagreement) and "NXDOMAIN" in str(disagreement)
    assert str(disagreement) in str(result)

    # without the fault the three agree
    bad.faults.reset()
    assert hierarchy.tracer(ask_all=True).resolve("www.example.test.", "A").disagreements == []


def test_random_order_is_reproducible_with_a_seed(fakens_hierarchy: MakeHierarchy) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE], tld_servers=3)
    first = hierarchy.tracer(order="random", seed=7).resolve("www.example.test.", "A")
    second = hierarchy.tracer(order="random", seed=7).resolve("www.example.test.", "A")
    assert_ok(first, ["192.0.2.10"])
    assert path_key(first) == path_key(second)

    paths = set()
    for seed in range(20):
        result = hierarchy.tracer(order="random", seed=seed).resolve("www.example.test.", "A")
        assert_ok(result, ["192.0.2.10"])
        assert zones_on_path(result) == [".", "test.", "example.test."]
        paths.add(tuple(path_key(result)))
    # 3 TLD servers x 2 zone servers: twenty seeds do not all pick the same two
    assert len(paths) > 1, paths

    # listed order always asks the first listed servers
    listed = {tuple(path_key(hierarchy.tracer().resolve("www.example.test.", "A"))) for _ in range(3)}
    assert len(listed) == 1


# -- the path against the servers' own logs ---------------------------------------------------


@pytest.mark.parametrize("qname, qtype, status, addresses", [
    ("www.example.test.", "A", "ok", ["192.0.2.10"]),
    ("shop.example.test.", "A", "ok", ["192.0.2.20"]),  # CNAME www.other.test.
    ("nope.example.test.", "AAAA", "nxdomain", []),
])
@pytest.mark.parametrize("ask_all", [False, True])
def test_path_matches_the_query_logs(fakens_hierarchy: MakeHierarchy, qname: str, qtype: str,
                                     status: str, addresses: list[str], ask_all: bool) -> None:
    hierarchy = fakens_hierarchy([EXAMPLE, OTHER], tld_servers=3)
    result = hierarchy.tracer(ask_all=ask_all).resolve(qname, qtype)
    assert (result.status, result.addresses) == (status, addresses), str(result)
    by_address = {member.address: member.server for member in hierarchy.members}
    asked: collections.Counter[tuple[str, str, str]] = collections.Counter(path_key(result))
    logged: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for address, server in by_address.items():
        assert server is not None
        for entry in server.log:
            assert entry.local[0] == address
            assert entry.qname is not None and entry.qtype_text is not None
            logged[(address, entry.qname.to_text().lower(), entry.qtype_text)] += 1
    for step in result.path:
        server = by_address[step.address]
        assert server is not None
        server.log.assert_received(qname=step.qname.to_text(), qtype=dns.rdatatype.to_text(step.qtype))
    assert logged == asked, f"path:\n{result}\nlogs:\n" + "\n".join(
        str(e) for s in hierarchy.servers.values() for e in s.log)


# -- the command line -------------------------------------------------------------------------


def test_fakens_trace_command(tmp_path: Path) -> None:
    with build_hierarchy([EXAMPLE]) as hierarchy:
        hints = hierarchy.write_root_hints(tmp_path / "root.hints")
        done = subprocess.run([sys.executable, "-m", "fakens", "trace", "www.example.test", "A", "--hints", hints],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        root, tld, zone = hierarchy.root_address, *(hierarchy.server(h).addresses[0][0]
                                                     for h in ("ns1.nic.test.", "ns1.example.test."))
        assert lines[0].startswith(f";; . @a.root-servers.test. ({root}#53) www.example.test. A: referral to test.")
        assert lines[1].startswith(f";; test. @ns1.nic.test. ({tld}#53) www.example.test. A: referral to example.test.")
        assert lines[2] == f";; example.test. @ns1.example.test. ({zone}#53) www.example.test. A: NOERROR 192.0.2.10"
        assert lines[3] == "www.example.test. 300 IN A 192.0.2.10"
        assert lines[-1] == ";; ok: NOERROR"
        assert hierarchy.server("ns1.example.test.").log.count(qname="www.example.test.", qtype="A") == 1

        hierarchy.server("ns1.example.test.").faults.add("lame")
        hierarchy.server("ns2.example.test.").faults.add("lame")
        failed = subprocess.run([sys.executable, "-m", "fakens", "trace", "www.example.test.", "--hints", hints],
                                capture_output=True, text=True, timeout=60, check=False)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        assert failed.stdout.splitlines()[-1].startswith(";; servfail: SERVFAIL (no server of example.test.")
