"""Fault semantics (docs/faults.md): each fault looks on the wire like the broken server it
imitates, also when two faults (or a fault and TSIG/TCP/EDNS) combine.

Each docstring says what a real broken server sends and why. Real loopback sockets,
ephemeral ports, dnspython as the client, no sleeping (waits are socket timeouts).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import pytest
from helpers import ask

from fakens import Server
from fakens.clock import ManualClock

PARENT = """$ORIGIN test.
$TTL 86400
@            SOA  ns.nic.test. hostmaster.nic.test. 2026010101 3600 600 604800 900
@            NS   ns.nic.test.
ns.nic       A    127.0.0.1
example      NS   ns1.example.test.
example      NS   ns2.example.test.
ns1.example  A    192.0.2.1
ns1.example  AAAA 2001:db8::1
ns2.example  A    192.0.2.2
ns2.example  AAAA 2001:db8::2
; the registry also holds a host object (glue) for ns3.example.test.
ns3.example  A    192.0.2.3
"""

CHILD = """$ORIGIN example.test.
$TTL 3600
@     SOA  ns1.example.test. hostmaster.example.test. 10 3600 600 604800 300
@     NS   ns1
@     NS   ns2
@     MX   10 mail
ns1   A    192.0.2.1
ns2   A    192.0.2.2
mail  A    192.0.2.25
www   A    192.0.2.80
"""

KEY_NAME = "semantics-key."
KEY_SECRET = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: KEY_SECRET})
TIMEOUT = 1.5


@pytest.fixture(scope="module")
def parent() -> Iterator[Server]:
    with Server([PARENT], listen=["127.0.0.1:0"], name="parent") as server:
        yield server


@pytest.fixture(scope="module")
def child() -> Iterator[Server]:
    with Server([CHILD], listen=["127.0.0.1:0"], name="child", tsig_keys={KEY_NAME: KEY_SECRET}) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    servers = [request.getfixturevalue(n) for n in ("parent", "child") if n in request.fixturenames]
    for s in servers:
        s.faults.reset()
        s.log.clear()
    yield
    for s in servers:
        s.faults.reset()


def rrset(msg: dns.message.Message, section: str, name: str, rdtype: str) -> dns.rrset.RRset | None:
    for r in getattr(msg, section):
        if r.name == dns.name.from_text(name) and r.rdtype == dns.rdatatype.from_text(rdtype):
            return r
    return None


# ---------------------------------------------------------------------------------------
# wire faults and TSIG / fault-made replies
# ---------------------------------------------------------------------------------------


def test_flags_keeps_tsig_signature_valid(child: Server) -> None:
    """flags set=RA on a TSIG-signed query: a real authoritative server that offers recursion
    signs the reply it sends, RA included, so the client verifies the MAC and sees RA=1.
    fakens flips the header bits after signing (wire hook), so every signed reply fails
    verification (BADSIG at the client) - a different fault from the one asked for."""
    child.faults.add("flags set=RA")
    q = dns.message.make_query("www.example.test.", "A")
    q.use_tsig(KEYRING, keyname=KEY_NAME)
    reply = ask(child, q)  # verifies the TSIG
    assert reply.flags & dns.flags.RA


def test_flags_applies_to_reply_made_by_an_earlier_fault(child: Server) -> None:
    """lame (REFUSED) + flags set=RA: a lame server that is a recursive resolver too answers
    REFUSED with RA=1 (a common lame variant). Replies built by a fault's `before` hook
    (reply_with_rcode) skip the wire hooks, so flags (and wrong-id, malformed ...) never
    apply to them: RA stays 0."""
    child.faults.add("lame mode=refused")
    child.faults.add("flags set=RA")
    reply = ask(child, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.flags & dns.flags.RA


def test_delay_applies_after_a_fault_that_ends_the_query() -> None:
    """lame mode=servfail then delay ms=400: a slow lame server (a crashed secondary far away)
    answers SERVFAIL 400 ms late. FaultChain.before stops at the first Outcome, so the later
    delay never runs; the SERVFAIL comes at once and the log says 'fired, nothing to change'
    for the delay. (The delay waits on the server's ManualClock: no reply until it has moved
    400 ms.)"""
    clock = ManualClock(1_800_000_000)
    with Server([CHILD], listen=["127.0.0.1:0"], name="child", clock=clock) as server, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        server.faults.add("lame mode=servfail")
        server.faults.add("delay ms=400")
        sock.bind(("127.0.0.1", 0))
        sock.sendto(dns.message.make_query("www.example.test.", "A").to_wire(), server.addresses[0])
        deadline = time.monotonic() + TIMEOUT
        while not clock.pending():  # polling until the reply's timer is set
            assert time.monotonic() < deadline, "no timer for the reply: it was not delayed"
            time.sleep(0.005)
        assert clock.pending() == [pytest.approx(clock.now() + 0.4)]
        clock.advance(0.399)
        sock.settimeout(0)
        with pytest.raises(BlockingIOError):
            sock.recv(65535)  # nothing before the delay has passed
        clock.advance(0.001)
        sock.settimeout(TIMEOUT)
        reply = dns.message.from_wire(sock.recv(65535))
    assert reply.rcode() == dns.rcode.SERVFAIL


def test_edns_no_opt_also_without_opt_on_fault_made_rcode(child: Server) -> None:
    """edns mode=no-opt + rcode SERVFAIL: a server without EDNS never sends an OPT record, in
    errors too. reply_with_rcode adds the query's OPT (the encoding hook does not run), so the
    'EDNS-less' server suddenly speaks EDNS in its SERVFAILs."""
    child.faults.add("edns mode=no-opt")
    child.faults.add("rcode rcode=SERVFAIL qtype=MX")
    reply = ask(child, "example.test.", "MX", use_edns=0)
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert reply.edns == -1


def test_edns_no_opt_covers_transfers(child: Server) -> None:
    """edns mode=no-opt: an AXFR with OPT from a server without EDNS gets messages without OPT.
    The transfer stream is encoded with the query's OPT (encode_stream(opt=x.opt)), and the
    encoding hook is never called for transfers."""
    child.faults.add("edns mode=no-opt")
    q = dns.message.make_query("example.test.", "AXFR", use_edns=0)
    reply = ask(child, q, transport="tcp")
    assert reply.answer, "AXFR answered"
    assert reply.edns == -1


# ---------------------------------------------------------------------------------------
# transport faults
# ---------------------------------------------------------------------------------------


def test_rate_limit_slip_then_tcp_retry_is_answered() -> None:
    """rate-limit mode=slip: RRL (BIND, NSD, Knot) limits UDP only; the TC=1 slip exists so
    the client retries over TCP and gets its answer. fakens counts the TCP retry against the
    same per-second budget and drops it (`mode == drop or transport == tcp` -> Drop), so the
    slip leads nowhere: the TCP query stalls. (ManualClock: the second does not roll over.)"""
    clock = ManualClock(1_800_000_000)
    with Server([CHILD], listen=["127.0.0.1:0"], clock=clock) as server:
        server.faults.add("rate-limit qps=1 mode=slip")
        assert ask(server, "www.example.test.", "A").answer
        slipped = ask(server, "www.example.test.", "A")
        assert slipped.flags & dns.flags.TC
        reply = ask(server, "www.example.test.", "A", transport="tcp")
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer


def test_refuse_transfer_firewall_mode_leaves_udp_ixfr(child: Server) -> None:
    """refuse-transfer mode=reset imitates TCP/53 blocked by a firewall: over UDP nothing is
    blocked, so an IXFR over UDP from an up-to-date secondary gets its single-SOA answer
    (RFC 1995 section 2). fakens drops the UDP IXFR (close/reset/stall -> Drop over UDP), which
    is a different failure (server unreachable) and makes the secondary's UDP probe time out."""
    child.faults.add("refuse-transfer mode=reset")
    q = dns.message.make_query("example.test.", "IXFR")
    q.authority.append(dns.rrset.from_text("example.test.", 3600, "IN", "SOA",
                                           "ns1.example.test. hostmaster.example.test. 10 3600 600 604800 300"))
    reply = ask(child, q)
    assert reply.rcode() == dns.rcode.NOERROR
    soa = rrset(reply, "answer", "example.test.", "SOA")
    assert soa is not None and soa[0].serial == 10


# ---------------------------------------------------------------------------------------
# delegation faults
# ---------------------------------------------------------------------------------------


def test_ns_no_address_name_is_gone_for_every_type(child: Server) -> None:
    """ns-no-address (mode nxdomain) for ns2, which owns only an A record: with the A record
    gone the name does not exist, so a real server answers NXDOMAIN for every type (MX too),
    as the incident's zone did. fakens answers NXDOMAIN for A/AAAA/ANY but NOERROR/NODATA
    (with the SOA) for MX, so the name both exists and does not exist (RFC 8020 resolvers
    and checkers see an inconsistent server)."""
    child.faults.add("ns-no-address hosts=ns2.example.test.")
    assert ask(child, "ns2.example.test.", "A").rcode() == dns.rcode.NXDOMAIN
    assert ask(child, "ns2.example.test.", "MX").rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize("spec", ["ns-mismatch mode=add hosts=ns3.example.test.",
                                  "ns-mismatch mode=rename old=ns2.example.test. new=ns3.example.test."])
def test_ns_mismatch_on_parent_sends_glue_of_the_new_host(parent: Server, spec: str) -> None:
    """ns-mismatch on the parent (registrar NS set differs from the zone's): a registry lists
    ns3.example.test. in the referral and, since ns3 is in-bailiwick and the parent holds its
    address, sends its glue (192.0.2.3) - otherwise no resolver could ever reach ns3. fakens
    edits the NS RRset but never adds glue for added/renamed hosts, so the referral carries an
    in-bailiwick NS without glue: a missing-glue fault on top of the mismatch."""
    parent.faults.add(spec)
    reply = ask(parent, "www.example.test.", "A")
    ns = rrset(reply, "authority", "example.test.", "NS")
    assert ns is not None and any(r.target == dns.name.from_text("ns3.example.test.") for r in ns)
    glue = rrset(reply, "additional", "ns3.example.test.", "A")
    assert glue is not None and {r.address for r in glue} == {"192.0.2.3"}


def test_stale_glue_ipv4_only_keeps_the_aaaa_glue(parent: Server) -> None:
    """stale-glue host=ns1 addresses=<old IPv4>: a renumbered IPv4 address leaves old A glue
    at the parent; the host's AAAA glue is untouched. fakens removes every glue RRset of the
    host and adds back only the types given, so the AAAA glue vanishes (that is missing-glue
    mode=aaaa, a different fault)."""
    parent.faults.add("stale-glue host=ns1.example.test. addresses=198.51.100.1")
    reply = ask(parent, "www.example.test.", "A")
    a = rrset(reply, "additional", "ns1.example.test.", "A")
    aaaa = rrset(reply, "additional", "ns1.example.test.", "AAAA")
    assert a is not None and {r.address for r in a} == {"198.51.100.1"}
    assert aaaa is not None and {r.address for r in aaaa} == {"2001:db8::1"}


# ---------------------------------------------------------------------------------------
# answers that lie: composition and the log
# ---------------------------------------------------------------------------------------


def test_ttl_negative_applies_to_a_fault_made_nxdomain(parent: Server) -> None:
    """ttl negative=60 and nxdomain (the .io case with a chosen negative TTL): the NXDOMAIN's
    SOA should carry TTL 60 and minimum 60. With the faults listed in this (natural) order the
    ttl fault runs on the original referral, finds nothing negative, and the nxdomain made
    after it keeps TTL 900: the result silently depends on the order of the list."""
    parent.faults.add("ttl negative=60")
    parent.faults.add("nxdomain qname=**.example.test.")
    reply = ask(parent, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    soa = rrset(reply, "authority", "test.", "SOA")
    assert soa is not None and soa.ttl == 60 and soa[0].minimum == 60


def test_log_tells_a_real_nxdomain_from_the_faults(child: Server) -> None:
    """FAULTS.md: 'Each log entry says which faults fired, so a test can tell NXDOMAIN because
    of the fault from NXDOMAIN because the name does not exist'. For a name that does not exist
    the nxdomain fault changes nothing, yet the log says it acted ('nxdomain with the SOA of
    example.test.'), exactly as for an existing name: the two cannot be told apart."""
    child.faults.add("nxdomain qname=**.example.test. name=nx")
    assert ask(child, "nosuch.example.test.", "A").rcode() == dns.rcode.NXDOMAIN
    assert ask(child, "www.example.test.", "A").rcode() == dns.rcode.NXDOMAIN
    real, faked = list(child.log)[-2:]
    # issue 7: the fault could not change a real NXDOMAIN, so it is neither counted nor logged
    assert real.faults == [], real.faults
    assert faked.faults == [{"name": "nx", "type": "nxdomain", "mode": None,
                             "actions": ["nxdomain with the SOA of example.test."]}], faked.faults


def test_rcode_extended_without_edns_is_not_noerror(child: Server) -> None:
    """rcode rcode=BADVERS (FAULTS.md: 'any RCODE') to a query without EDNS: an extended RCODE
    exists only in an OPT record, so the broken server must carry one (or the fault must refuse
    the combination). fakens writes only the low 4 bits into the header and sends no OPT: the
    client sees NOERROR with an empty answer (BADCOOKIE, 23, shows up as YXRRSET), while the
    query log records rcode 16. The wire and the log disagree."""
    child.faults.add("rcode rcode=BADVERS")
    reply = ask(child, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.BADVERS, dns.rcode.to_text(reply.rcode())


@pytest.mark.parametrize("mode", ["lower", "unchanged"])
def test_stale_serial_same_serial_in_negative_answers(child: Server, mode: str) -> None:
    """stale-serial: a server whose zone has the older/lower serial shows that serial in every
    SOA it sends, including the SOA in AUTHORITY of NXDOMAIN/NODATA answers (which checkers
    and resolvers also read). fakens rewrites only SOA-query answers and transfers, so the
    same server at the same moment reports serial 9 (or the old one) for SOA and the current
    serial in its negative answers."""
    if mode == "unchanged":
        child.zone("example.test.").edit(add=["txt 300 TXT review"])
    try:
        child.faults.add(f"stale-serial mode={mode}")
        soa = rrset(ask(child, "example.test.", "SOA"), "answer", "example.test.", "SOA")
        neg = rrset(ask(child, "nosuch.example.test.", "A"), "authority", "example.test.", "SOA")
        assert soa is not None and neg is not None
        assert soa[0].serial == neg[0].serial, (soa[0].serial, neg[0].serial)
    finally:
        child.zone("example.test.").reset()



def test_stale_data_records_documented_example_parses(child: Server) -> None:
    """stale-data's own documented example, records="www 300 A 192.0.2.1; mail 300 A 192.0.2.2":
    the old server answers www with 192.0.2.1. The text after ';' keeps its leading blank, and a
    zone-file line starting with a blank has no owner, so parsing fails - at query time, not
    when the fault is added: every query the fault fires for gets SERVFAIL (AA=0, no question,
    'internal error' in the log, server.errors grows) instead of old data."""
    child.faults.add('stale-data mode=records records="www 300 A 192.0.2.1; mail 300 A 192.0.2.2"')
    reply = ask(child, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR, dns.rcode.to_text(reply.rcode())
    a = rrset(reply, "answer", "www.example.test.", "A")
    assert a is not None and {r.address for r in a} == {"192.0.2.1"}


def test_stale_data_records_keep_every_record_of_an_rrset(child: Server) -> None:
    """stale-data mode=records with the old provider's two MX records: the old server answers
    with both, as its zone file would. Each ';'-separated line replaces the whole (name, type)
    RRset, so only the last record survives and the 'old provider' has one MX (likewise an old
    NS set of two hosts on a parent, for a switch-over: only the last NS is kept)."""
    child.faults.add('stale-data mode=records records="@ 86400 MX 10 mx1.oldhost.net.;@ 86400 MX 20 mx2.oldhost.net."')
    mx = rrset(ask(child, "example.test.", "MX"), "answer", "example.test.", "MX")
    assert mx is not None
    assert sorted(r.exchange.to_text() for r in mx) == ["mx1.oldhost.net.", "mx2.oldhost.net."]
    assert mx.ttl == 86400
