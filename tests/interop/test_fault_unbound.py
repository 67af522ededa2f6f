"""The .io outage of 2017 through unbound: 2 of 7 TLD servers answer NXDOMAIN for a name
that exists; fresh resolutions fail about 2/7 of the time, and the failure is cached.

Hierarchy, all fakens servers in this process on port 53:
root 127.0.0.10 -> test. on ns1..ns7.nic.test. = 127.0.0.21..27 -> example.test. on
127.0.0.12/13 (zones/example.test.zone).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import pytest
from helpers.procs import (
    Proc,
    ProcessSet,
    dns_query,
    free_port,
    start_unbound,
    unbound_control,
)

from fakens import Server, Zone

pytestmark = pytest.mark.port53

ZONES = Path(__file__).resolve().parents[2] / "zones"
TLD_ADDRESSES = [f"127.0.0.{20 + i}" for i in range(1, 8)]
BAD = {"127.0.0.23", "127.0.0.26"}  # the 2 of 7 TLD servers that answer NXDOMAIN
NEGATIVE_TTL = 1234  # the TLD's SOA minimum, below its TTL: the NXDOMAIN's negative TTL
QNAME = "www.example.test."

ROOT_ZONE = "$ORIGIN .\n$TTL 86400\n" + """\
. IN SOA a.root-servers.test. hostmaster.root-servers.test. 1 1800 900 604800 86400
.                     IN NS  a.root-servers.test.
a.root-servers.test.  IN A   127.0.0.10
""" + "".join(f"test. IN NS ns{i}.nic.test.\n" for i in range(1, 8)) + "".join(
    f"ns{i}.nic.test. IN A {a}\n" for i, a in enumerate(TLD_ADDRESSES, 1))

TLD_ZONE = "$ORIGIN test.\n$TTL 86400\n" + f"""\
@ IN SOA ns1.nic.test. hostmaster.nic.test. 2024010101 7200 900 1209600 {NEGATIVE_TTL}
""" + "".join(f"@ IN NS ns{i}.nic.test.\n" for i in range(1, 8)) + "".join(
    f"ns{i}.nic IN A {a}\n" for i, a in enumerate(TLD_ADDRESSES, 1)) + """\
a.root-servers IN A 127.0.0.10
; example.test. as its own NS say (zones/example.test.zone)
example     IN NS ns1.example.test.
example     IN NS ns2.example.test.
ns1.example IN A  127.0.0.12
ns2.example IN A  127.0.0.13
"""

ROOT_HINTS = """\
.                     3600000 NS a.root-servers.test.
a.root-servers.test.  3600000 A  127.0.0.10
"""


@pytest.fixture
def hierarchy() -> Iterator[dict[str, Server]]:
    servers = {
        "root": Server(zones=[Zone.from_text(ROOT_ZONE, origin=".")],
                       listen=["127.0.0.10:53"], name="root"),
        **{address: Server(zones=[Zone.from_text(TLD_ZONE, origin="test.")],
                           listen=[f"{address}:53"], name=f"ns{i}.nic.test")
           for i, address in enumerate(TLD_ADDRESSES, 1)},
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


def resolve(port: int, unbound: Proc, qname: str = QNAME) -> dns.message.Message:
    try:
        return dns_query("127.0.0.1", port, qname, "A", rd=True, timeout=5)
    except dns.exception.Timeout:
        raise AssertionError(f"unbound did not answer {qname} A within 5 s\n"
                             f"{unbound.describe()}") from None


def outcome(r: dns.message.Message) -> str:
    """"ok" (the right address), "nxdomain", or the unexpected reply as text."""
    if r.rcode() == dns.rcode.NXDOMAIN and not r.answer:
        return "nxdomain"
    addresses = {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A
                 for rd in rrset}
    if r.rcode() == dns.rcode.NOERROR and addresses == {"192.0.2.10"}:
        return "ok"
    return r.to_text()


def flush(conf: Path) -> None:
    """Make the next resolution fresh: no cached data, delegations or server RTTs."""
    unbound_control(conf, "flush_zone", ".")
    unbound_control(conf, "flush_infra", "all")
    unbound_control(conf, "flush_requestlist")


def tld_count(servers: dict[str, Server]) -> int:
    return sum(len(servers[a].log) for a in TLD_ADDRESSES)


# One test function: the hierarchy's addresses are fixed (127.0.0.10-27:53).
def test_two_of_seven_tld_servers_nxdomain(hierarchy: dict[str, Server], tmp_path: Path,
                                           procs: ProcessSet,
                                           require_tool: Callable[[str], str]) -> None:
    require_tool("unbound")
    require_tool("unbound-control")
    port = free_port("127.0.0.1")
    unbound = procs.add(start_unbound(tmp_path / "unbound", root_hints=ROOT_HINTS,
                                      listen=("127.0.0.1", port), qname_minimisation=False))
    assert unbound.conf is not None
    conf = unbound.conf
    for address in BAD:
        hierarchy[address].faults.add("nxdomain")  # with the SOA of test.

    # The fault on the wire, straight from a bad server and a good one.
    direct = dns_query(min(BAD), 53, QNAME, "A")
    assert direct.rcode() == dns.rcode.NXDOMAIN, direct
    soa = [rrset for rrset in direct.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert [(str(r.name), r.ttl) for r in soa] == [("test.", NEGATIVE_TTL)], direct
    good = dns_query("127.0.0.21", 53, QNAME, "A")
    assert good.rcode() == dns.rcode.NOERROR and not good.answer and good.authority, good
    for s in hierarchy.values():
        s.log.clear()

    # 100 fresh resolutions with the faults.
    started = time.monotonic()
    results = []
    for _ in range(100):
        flush(conf)
        results.append(outcome(resolve(port, unbound)))
    faulty_time = time.monotonic() - started
    odd = [r for r in results if r not in ("ok", "nxdomain")]
    assert not odd, f"unexpected replies from unbound:\n{odd[0]}\n{unbound.describe()}"
    failures = results.count("nxdomain")
    print(f"\n2 of 7 TLD servers NXDOMAIN: {failures}/100 fresh resolutions failed "
          f"({faulty_time:.1f} s)")
    assert 0.10 <= failures / 100 <= 0.50, f"{failures}/100 NXDOMAIN, expected about 2/7"

    # The TLD servers' logs tell which servers lied: faults only on the 2 bad ones.
    for address in TLD_ADDRESSES:
        entries = hierarchy[address].log.entries()
        for e in entries:
            assert e.client[0] == "127.0.0.1", e
            if address in BAD:
                assert e.rcode_text == "NXDOMAIN", e
                assert [f["type"] for f in e.faults] == ["nxdomain"], e
            else:
                assert e.rcode_text != "NXDOMAIN" and e.faults == [], (e, e.faults)
        if address in BAD:
            assert entries, f"bad TLD server {address} was never asked in 100 resolutions"
    lied = sum(hierarchy[a].log.count(qname=QNAME, rcode="NXDOMAIN") for a in BAD)
    assert lied == failures, f"{lied} NXDOMAIN for {QNAME} sent, {failures} resolutions failed"

    # Negative caching: a failed resolution is answered from the cache, without asking
    # any TLD server again, with the SOA of test. at (at most) its negative TTL.
    for _ in range(50):
        flush(conf)
        if outcome(resolve(port, unbound)) == "nxdomain":
            break
    else:
        raise AssertionError("no NXDOMAIN in 50 more fresh resolutions")
    before = tld_count(hierarchy)
    again = resolve(port, unbound)
    assert outcome(again) == "nxdomain", again
    soa = [rrset for rrset in again.authority if rrset.rdtype == dns.rdatatype.SOA]
    assert [str(r.name) for r in soa] == ["test."], again
    assert NEGATIVE_TTL - 10 <= soa[0].ttl <= NEGATIVE_TTL, again
    assert tld_count(hierarchy) == before, "the cached NXDOMAIN went to a TLD server again"

    # The faults removed: no failure in 30 fresh resolutions.
    for address in BAD:
        hierarchy[address].faults.reset()
    for s in hierarchy.values():
        s.log.clear()
    results = []
    for _ in range(30):
        flush(conf)
        results.append(outcome(resolve(port, unbound)))
    assert results == ["ok"] * 30, f"{results}\n{unbound.describe()}"
    for address in TLD_ADDRESSES:
        for e in hierarchy[address].log.entries():
            assert (e.rcode_text, e.faults) == ("NOERROR", []), (e, e.faults)
    asked = sum(1 for a in TLD_ADDRESSES if hierarchy[a].log.count(qname=QNAME))
    assert asked >= 3, f"only {asked} of 7 TLD servers asked in 30 fresh resolutions"
