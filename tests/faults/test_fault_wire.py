"""Every fault type and every mode, observed on the wire with dnspython as the client.

``CASES`` is keyed by (type name, mode or "") and must cover ``fakens.faults.REGISTRY``
completely: a new type or mode without a case fails ``test_fault_on_the_wire``.

Two tests per case:

- ``test_fault_on_the_wire``: the fault is added (named ``wire-fault``) and the case's
  check sends its queries over real loopback sockets and asserts what FAULTS.md and the
  fault's docstring say a client sees; then the query log entry of the fired query names
  the fault (type, name, mode) and what it did.
- ``test_fault_not_matching_is_invisible``: the same fault with a selector that does not
  match the query gives exactly the bytes the fault-free server gives for the same raw
  query with the same ID, and the log entry has ``faults == []``.

One module-scoped server serves example.test. (edited once, so it has a history),
parent.test. (a referral with A+AAAA glue, sibling glue and an out-of-domain NS) and
bulk.test. (an AXFR of several messages); a second one sends NOTIFYs to sockets the test
binds. Both run on a ManualClock: delays and late NOTIFYs come when the test moves it.
``server.faults.reset()`` runs around every test. No sleeping: waits are socket
timeouts, barrier queries, or polls with deadlines.
"""

from __future__ import annotations

import os
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from helpers import ask, frame, poll, read_frame

import fakens
from fakens.faults import REGISTRY

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_ZONE = os.path.join(REPO, "zones", "example.test.zone")

# --------------------------------------------------------------------------------------------
# zones and servers
# --------------------------------------------------------------------------------------------

PARENT = """$ORIGIN parent.test.
$TTL 3600
@           SOA   ns1.parent.test. hostmaster.parent.test. 5 3600 600 86400 60
@           NS    ns1.parent.test.
ns1         A     127.0.0.20
; a referral with in-domain glue (A and AAAA), sibling glue and an out-of-domain host
child       NS    ns1.child.parent.test.
child       NS    ns2.child.parent.test.
child       NS    ns.sibling.parent.test.
child       NS    ns.example.net.
ns1.child   A     127.0.0.21
ns1.child   AAAA  2001:db8::21
ns2.child   A     127.0.0.22
ns2.child   AAAA  2001:db8::22
sibling     NS    ns.sibling.parent.test.
ns.sibling  A     127.0.0.23
ns.sibling  AAAA  2001:db8::23
"""

BULK = """$ORIGIN bulk.test.
$TTL 3600
@   SOA  ns1.bulk.test. hostmaster.bulk.test. 1 3600 600 86400 60
@   NS   ns1.bulk.test.
ns1 A    127.0.0.30
$GENERATE 1-3000 host$ A 198.51.100.1
"""

OLD_SERIAL = 2024010101
NEW_SERIAL = 2024010102
TIMEOUT = 3.0
FAULT_NAME = "wire-fault"
FIXED_ID = 0x4242
UNKNOWN_OPTION = 65001

REFERRAL_QNAME = "www.child.parent.test."
CHILD = dns.name.from_text("child.parent.test.")
NS1C = dns.name.from_text("ns1.child.parent.test.")
NS2C = dns.name.from_text("ns2.child.parent.test.")
NSSIB = dns.name.from_text("ns.sibling.parent.test.")
A, AAAA = dns.rdatatype.A, dns.rdatatype.AAAA
FULL_GLUE: set[tuple[dns.name.Name, int]] = {(NS1C, A), (NS1C, AAAA), (NS2C, A), (NS2C, AAAA), (NSSIB, A), (NSSIB, AAAA)}
EXAMPLE = dns.name.from_text("example.test.")


def unknown_option(data: bytes) -> dns.edns.Option:
    """An EDNS option with a code no server knows."""
    return dns.edns.GenericOption(cast(Any, UNKNOWN_OPTION), data)


def example_zone() -> fakens.Zone:
    """example.test. with one edit: www A 192.0.2.10 -> 192.0.2.11, new A 192.0.2.99 added."""
    zone = fakens.Zone.from_file(EXAMPLE_ZONE)
    zone.edit(replace=["www 300 A 192.0.2.11"], add=["new 300 A 192.0.2.99"])
    assert zone.serial == NEW_SERIAL
    return zone


@dataclass
class Env:
    server: fakens.Server
    clock: fakens.ManualClock | None = None
    sockets: list[socket.socket] = field(default_factory=list)
    mark: int = 0  # log entries before this index belong to earlier tests

    @property
    def addr(self) -> tuple[str, int]:
        return self.server.addresses[0]


@pytest.fixture(scope="module")
def main_env() -> Iterator[Env]:
    clock = fakens.ManualClock(1000)
    server = fakens.Server([example_zone(), fakens.Zone.from_text(PARENT), fakens.Zone.from_text(BULK)],
                           listen=["127.0.0.1:0"], clock=clock)
    server.start()
    try:
        yield Env(server, clock)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def notify_env() -> Iterator[Env]:
    """A primary for example.test. and parent.test. that NOTIFYs socket 0; socket 1 is
    the 'wrong address'."""
    socks = [udp_socket(), udp_socket()]
    port = socks[0].getsockname()[1]
    clock = fakens.ManualClock(1000)
    server = fakens.Server([example_zone(), fakens.Zone.from_text(PARENT)], listen=["127.0.0.1:0"],
                           notify=[f"127.0.0.1:{port}"], notify_attempts=1, clock=clock)
    server.start()
    try:
        yield Env(server, clock, socks)
    finally:
        server.stop()
        for s in socks:
            s.close()


# --------------------------------------------------------------------------------------------
# socket helpers
# --------------------------------------------------------------------------------------------


def udp_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(TIMEOUT)
    return sock


def make_query(qname: str, qtype: str = "A", msg_id: int = FIXED_ID, edns: int = 0,
               options: tuple[dns.edns.Option, ...] = (), ednsflags: int = 0, payload: int = 1232,
               ixfr_serial: int | None = None) -> dns.message.Message:
    q = dns.message.make_query(qname, qtype, use_edns=edns if edns >= 0 else False,
                               options=list(options) or None, ednsflags=ednsflags, payload=payload)
    q.id = msg_id
    if ixfr_serial is not None:
        q.authority.append(dns.rrset.from_text(qname, 0, "IN", "SOA",
                                               f". . {ixfr_serial} 0 0 0 0"))
    return q


def udp_raw(env: Env, wire: bytes, timeout: float = TIMEOUT, src: str = "127.0.0.1") -> bytes:
    """Send one datagram; the first datagram back from the server (whatever its ID)."""
    with udp_socket(src) as sock:
        sock.sendto(wire, env.addr)
        return recv_from(sock, env.addr, timeout)


def recv_from(sock: socket.socket, source: tuple[str, int] | None, timeout: float = TIMEOUT) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no datagram")
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(65535)
        except TimeoutError:
            raise TimeoutError("no datagram") from None
        if source is None or tuple(peer[:2]) == tuple(source):
            return data


def tcp_connect(env: Env) -> socket.socket:
    sock = socket.create_connection(env.addr, timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def tcp_raw(env: Env, wire: bytes) -> bytes:
    with tcp_connect(env) as sock:
        sock.sendall(frame(wire))
        return read_frame(sock)


@dataclass
class Stream:
    frames: list[bytes]
    messages: list[dns.message.Message | None]  # None: a frame dnspython cannot parse
    end: str  # "complete", "error-rcode", "eof", "reset", "timeout"

    def records(self) -> list[dns.rrset.RRset]:
        return [r for m in self.messages if m is not None for r in m.answer]


def read_xfr(sock: socket.socket, timeout: float = TIMEOUT) -> Stream:
    """Frames of a transfer until it ends (final SOA), an error rcode, EOF, reset or timeout."""
    frames: list[bytes] = []
    messages: list[dns.message.Message | None] = []
    soas: list[int] = []
    records = 0
    ixfr_form = None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return Stream(frames, messages, "timeout")
        sock.settimeout(left)
        try:
            wire = read_frame(sock)
        except EOFError:
            return Stream(frames, messages, "eof")
        except ConnectionResetError:
            return Stream(frames, messages, "reset")
        except TimeoutError:
            return Stream(frames, messages, "timeout")
        frames.append(wire)
        try:
            message = dns.message.from_wire(wire, xfr=True, one_rr_per_rrset=True)
        except dns.exception.DNSException:
            messages.append(None)
            continue
        messages.append(message)
        if message.rcode() != dns.rcode.NOERROR:
            return Stream(frames, messages, "error-rcode")
        for rrset in message.answer:
            records += 1
            if rrset.rdtype == dns.rdatatype.SOA:
                soas.append(rrset[0].serial)
                if records == 2:
                    ixfr_form = soas[0] != soas[1]
            elif records == 2:
                ixfr_form = False
        if len(frames) == 1 and records == 1 and soas and _is_ixfr(message):
            return Stream(frames, messages, "complete")  # a lone SOA: the client is up to date
        if soas and len(soas) >= 2 and ixfr_form is False and message.answer \
                and message.answer[-1].rdtype == dns.rdatatype.SOA:
            # AXFR form: the second SOA ends the transfer (RFC 5936); a different serial is a broken one
            return Stream(frames, messages, "complete" if soas[-1] == soas[0] else "soa-mismatch")
        if len(soas) >= 2 and message.answer and message.answer[-1].rdtype == dns.rdatatype.SOA \
                and soas[-1] == soas[0] and soas.count(soas[0]) >= (3 if ixfr_form else 2):
            return Stream(frames, messages, "complete")


def _is_ixfr(message: dns.message.Message) -> bool:
    return bool(message.question) and message.question[0].rdtype == dns.rdatatype.IXFR


def tcp_xfr(env: Env, q: dns.message.Message, timeout: float = TIMEOUT) -> Stream:
    with tcp_connect(env) as sock:
        sock.sendall(frame(q.to_wire()))
        return read_xfr(sock, timeout)


def entry_for(env: Env, msg_id: int, after: int | None = None) -> fakens.LogEntry:
    """Wait until the server has logged the query with this ID (among the entries from
    index *after*, default: this test's); the newest such entry."""
    start = env.mark if after is None else after

    def find() -> fakens.LogEntry | None:
        for entry in reversed(env.server.log.entries()[start:]):
            if entry.id == msg_id:
                return entry
        return None
    entry: fakens.LogEntry = poll(find, what=f"log entry for id {msg_id}")
    return entry


def pending(sock: socket.socket) -> list[bytes]:
    """Datagrams (or stream bytes) already waiting on *sock*."""
    sock.setblocking(False)
    out: list[bytes] = []
    try:
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return out
            if not data:
                out.append(b"<EOF>")
                return out
            out.append(data)
    finally:
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)


def barrier(env: Env, src: str = "127.0.0.1", qname: str = "barrier.example.test.", msg_id: int = 0x0BA0) -> None:
    """A UDP query the fault does not touch; its reply means every earlier datagram
    (and TCP frame already logged) has been dealt with by the server's single loop."""
    reply = dns.message.from_wire(udp_raw(env, make_query(qname, "A", msg_id=msg_id, edns=-1).to_wire(), src=src))
    assert reply.id == msg_id


def expect_udp_silence(env: Env, q: dns.message.Message, barrier_qname: str = "barrier.example.test.",
                       barrier_src: str = "127.0.0.1") -> fakens.LogEntry:
    """*q* over UDP gets no reply: the server logs it, answers a later barrier query, and
    nothing for *q* has arrived."""
    with udp_socket() as sock:
        mark = len(env.server.log.entries())
        sock.sendto(q.to_wire(), env.addr)
        entry = entry_for(env, q.id, after=mark)
        barrier(env, barrier_src, barrier_qname)
        assert pending(sock) == [], "a reply arrived for a query that should get none"
    assert entry.rcode is None
    return entry


def rrset_of(section: list[dns.rrset.RRset], name: str | dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
    name = dns.name.from_text(name) if isinstance(name, str) else name
    return next((r for r in section if r.name == name and r.rdtype == rdtype), None)


def addresses(rrset: dns.rrset.RRset | None) -> set[str]:
    return set() if rrset is None else {r.to_text() for r in rrset}


def glue_of(reply: dns.message.Message) -> set[tuple[dns.name.Name, int]]:
    return {(r.name, r.rdtype) for r in reply.additional if r.rdtype in (A, AAAA)}


def ns_targets(reply: dns.message.Message, section: str = "authority") -> set[str]:
    return {r.target.to_text() for rrset in getattr(reply, section) if rrset.rdtype == dns.rdatatype.NS for r in rrset}


def soa_of(reply: dns.message.Message, section: str = "authority") -> dns.rrset.RRset:
    found: list[dns.rrset.RRset] = [r for r in getattr(reply, section) if r.rdtype == dns.rdatatype.SOA]
    assert len(found) == 1, f"expected one SOA in {section}: {reply}"
    return found[0]


def ask_udp(env: Env, qname: str, qtype: str = "A", msg_id: int = FIXED_ID, **kw: Any) -> dns.message.Message:
    return ask(env.addr, make_query(qname, qtype, msg_id=msg_id, **kw))


# --------------------------------------------------------------------------------------------
# the case table
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One (type, mode): the spec text, the query, and what a client must observe.

    ``check(env, case)`` sends the case's queries and asserts; it returns the log entry of
    the query the fault acted on, or None to use ``server.log.entries()[-1]``.
    ``probe`` (for the not-matching test) defaults to sending the case's query raw with
    FIXED_ID over its transport and returning the reply bytes (every frame of a transfer).
    """

    spec: str
    check: Callable[[Env, Case], fakens.LogEntry | None]
    qname: str = "www.example.test."
    qtype: str = "A"
    transport: str = "udp"
    edns: int = 0
    options: tuple[dns.edns.Option, ...] = ()
    ednsflags: int = 0
    payload: int = 1232
    ixfr_serial: int | None = None
    env: str = "main"
    nomatch: str = "qname=nomatch.example.test."
    repeat: int = 1  # the probe sends the query this many times (rate-limit)
    log: str = "query"  # "query", "notify" (NotifyRecord.note), "none" (nothing reaches the server)

    def query(self, msg_id: int = FIXED_ID, **overrides: Any) -> dns.message.Message:
        kw: dict[str, Any] = {"qname": self.qname, "qtype": self.qtype, "edns": self.edns, "options": self.options,
                                  "ednsflags": self.ednsflags, "payload": self.payload, "ixfr_serial": self.ixfr_serial}
        kw.update(overrides)
        name = kw.pop("qname")
        qtype = kw.pop("qtype")
        return make_query(name, qtype, msg_id=msg_id, **kw)


# ---- answers that lie ---------------------------------------------------------------------


def check_nxdomain(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.flags & dns.flags.AA
    assert reply.answer == []
    soa = soa_of(reply)
    assert soa.name == EXAMPLE
    assert soa[0].serial == NEW_SERIAL
    assert soa.ttl == min(3600, 300)  # RFC 2308: min(SOA TTL, SOA minimum)
    # or a given zone's SOA (the parent's, as a TLD server would send)
    env.server.faults.update(FAULT_NAME, soa_zone="parent.test.")
    reply = ask(env.addr, case.query(msg_id=FIXED_ID + 1))
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.AA and reply.answer == []
    soa = soa_of(reply)
    assert soa.name == dns.name.from_text("parent.test.") and soa[0].serial == 5
    assert soa.ttl == min(3600, 60)


def check_nodata(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert reply.answer == []
    soa = soa_of(reply)
    assert soa.name == EXAMPLE and soa.ttl == 300


def check_rcode(env: Env, case: Case) -> None:
    q = case.query()
    reply = ask(env.addr, q)
    assert reply.rcode() == dns.rcode.NOTIMP
    assert not reply.flags & dns.flags.AA
    assert [(r.name, r.rdtype) for r in reply.question] == [(q.question[0].name, A)]
    assert reply.answer == [] and reply.authority == [] and reply.additional == []
    # optionally without the question
    env.server.faults.update(FAULT_NAME, question="false")
    wire = udp_raw(env, case.query(msg_id=FIXED_ID + 1).to_wire())
    reply = dns.message.from_wire(wire)
    assert reply.id == FIXED_ID + 1
    assert reply.rcode() == dns.rcode.NOTIMP
    assert struct.unpack_from("!H", wire, 4)[0] == 0 and reply.question == []


def check_stale_data_version(env: Env, case: Case) -> None:
    reply = ask(env.addr, make_query("new.example.test.", msg_id=FIXED_ID + 1))
    assert reply.rcode() == dns.rcode.NXDOMAIN  # "new" did not exist in the old version
    assert soa_of(reply)[0].serial == OLD_SERIAL
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.10"}


def check_stale_data_records(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    rrset = rrset_of(reply.answer, "mail.example.test.", A)
    assert addresses(rrset) == {"192.0.2.250"}
    assert rrset is not None and rrset.ttl == 300


def check_ttl(env: Env, case: Case) -> fakens.LogEntry:
    neg = ask(env.addr, make_query("nonexistent.example.test.", msg_id=FIXED_ID + 1))
    assert neg.rcode() == dns.rcode.NXDOMAIN
    soa = soa_of(neg)
    assert soa.ttl == 42 and soa[0].minimum == 42
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR
    www = rrset_of(reply.answer, "www.example.test.", A)
    assert www is not None and www.ttl == 86400 and addresses(www) == {"192.0.2.11"}
    return entry_for(env, FIXED_ID)


def check_flags(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.flags & dns.flags.RA and reply.flags & dns.flags.AD
    assert not reply.flags & dns.flags.AA
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}


def check_verbatim(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert [r.to_text() for r in reply.answer] == ["other.test. 60 IN NS ns.other.test."]
    assert [r.to_text() for r in reply.authority] == ['elsewhere.test. 9 CH TXT "x"'] and not reply.additional


# ---- delegation faults --------------------------------------------------------------------


def _lame_rcode(rcode: int) -> Callable[[Env, Case], None]:
    def check(env: Env, case: Case) -> None:
        q = case.query()
        reply = ask(env.addr, q)
        assert reply.rcode() == rcode
        assert not reply.flags & dns.flags.AA
        assert reply.question[0].name == q.question[0].name
        assert reply.answer == [] and reply.authority == []
    return check


def check_lame_noaa(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}


def check_lame_upward(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA
    assert reply.answer == []
    ns = [r for r in reply.authority if r.rdtype == dns.rdatatype.NS]
    assert len(ns) == 1 and ns[0].name == dns.name.root
    assert ns_targets(reply) == {"a.root-servers.test."}
    assert not any(r.rdtype == dns.rdatatype.SOA for r in reply.authority)


def referral(env: Env, case: Case, msg_id: int = FIXED_ID) -> dns.message.Message:
    reply = ask(env.addr, case.query(msg_id=msg_id))
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA and reply.answer == []
    assert [r.name for r in reply.authority if r.rdtype == dns.rdatatype.NS] == [CHILD]
    return reply


def _missing_glue(expected: set[tuple[dns.name.Name, int]]) -> Callable[[Env, Case], None]:
    def check(env: Env, case: Case) -> None:
        # only referrals lose glue: an authoritative answer keeps its additional addresses
        www = ask_udp(env, "www.example.test.", msg_id=FIXED_ID + 1)
        assert {(r.name.to_text(), r.rdtype) for r in www.additional} == {
            ("ns1.example.test.", A), ("ns1.example.test.", AAAA), ("ns2.example.test.", A), ("ns2.example.test.", AAAA)}
        reply = referral(env, case)
        assert glue_of(reply) == expected
        assert ns_targets(reply) == {"ns1.child.parent.test.", "ns2.child.parent.test.",
                                     "ns.sibling.parent.test.", "ns.example.net."}
    return check


def check_stale_glue(env: Env, case: Case) -> None:
    reply = referral(env, case)
    assert glue_of(reply) == FULL_GLUE
    assert addresses(rrset_of(reply.additional, NS1C, A)) == {"192.0.2.201"}
    assert addresses(rrset_of(reply.additional, NS1C, AAAA)) == {"2001:db8::201"}
    assert addresses(rrset_of(reply.additional, NS2C, A)) == {"127.0.0.22"}  # others untouched
    assert addresses(rrset_of(reply.additional, NSSIB, AAAA)) == {"2001:db8::23"}


def check_ns_mismatch_add(env: Env, case: Case) -> None:
    reply = referral(env, case)
    assert ns_targets(reply) == {"ns1.child.parent.test.", "ns2.child.parent.test.", "ns.sibling.parent.test.",
                                 "ns.example.net.", "ns3.child.parent.test."}
    assert glue_of(reply) == FULL_GLUE


def check_ns_mismatch_remove(env: Env, case: Case) -> fakens.LogEntry:
    reply = referral(env, case)
    assert ns_targets(reply) == {"ns1.child.parent.test.", "ns.sibling.parent.test.", "ns.example.net."}
    assert glue_of(reply) == FULL_GLUE - {(NS2C, A), (NS2C, AAAA)}
    entry = entry_for(env, FIXED_ID)
    # on the child's server: the apex NS answer and the AUTHORITY of answers
    env.server.faults.update(FAULT_NAME, hosts="ns2.example.test.", qname="**.example.test.")
    apex = ask_udp(env, "example.test.", "NS", msg_id=FIXED_ID + 1)
    assert ns_targets(apex, "answer") == {"ns1.example.test."}
    assert {r.name.to_text() for r in apex.additional} == {"ns1.example.test."}
    www = ask_udp(env, "www.example.test.", msg_id=FIXED_ID + 2)
    assert ns_targets(www) == {"ns1.example.test."}
    assert addresses(rrset_of(www.answer, "www.example.test.", A)) == {"192.0.2.11"}
    return entry


def check_ns_mismatch_rename(env: Env, case: Case) -> None:
    reply = referral(env, case)
    assert ns_targets(reply) == {"ns9.child.parent.test.", "ns2.child.parent.test.", "ns.sibling.parent.test.",
                                 "ns.example.net."}
    assert glue_of(reply) == FULL_GLUE - {(NS1C, A), (NS1C, AAAA)}


def _ns_no_address(rcode: int) -> Callable[[Env, Case], fakens.LogEntry]:
    def check(env: Env, case: Case) -> fakens.LogEntry:
        for i, qtype in enumerate(("A", "AAAA")):
            reply = ask(env.addr, make_query("ns2.example.test.", qtype, msg_id=FIXED_ID + 1 + i))
            assert reply.rcode() == rcode
            assert reply.flags & dns.flags.AA and reply.answer == []
            assert soa_of(reply).name == EXAMPLE
        # no addresses for ns2 in any ADDITIONAL section; ns1's stay
        reply = ask(env.addr, make_query("example.test.", "NS", msg_id=FIXED_ID + 5))
        assert ns_targets(reply, "answer") == {"ns1.example.test.", "ns2.example.test."}
        names = {(r.name.to_text(), r.rdtype) for r in reply.additional if r.rdtype in (A, AAAA)}
        assert names == {("ns1.example.test.", A), ("ns1.example.test.", AAAA)}
        reply = ask(env.addr, case.query())
        assert reply.rcode() == rcode
        return entry_for(env, FIXED_ID)
    return check


# ---- EDNS ---------------------------------------------------------------------------------


def _no_edns_unaffected(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query(msg_id=FIXED_ID + 1, edns=-1, options=()))
    assert reply.rcode() == dns.rcode.NOERROR and reply.edns == -1
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}


def check_edns_formerr(env: Env, case: Case) -> fakens.LogEntry:
    _no_edns_unaffected(env, case)
    q = case.query()
    reply = ask(env.addr, q)
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.edns == -1, "FORMERR for EDNS must come without OPT"
    assert reply.question[0].name == q.question[0].name
    assert reply.answer == []
    entry = entry_for(env, FIXED_ID)
    # when=version / option / flag: only queries with that EDNS feature get FORMERR
    triggers: dict[str, dict[str, Any]] = {
        "version": {"edns": 1},
        "option": {"options": (unknown_option(b"x"),)},
        "flag": {"ednsflags": 0x4000},
    }
    for i, (when, trigger) in enumerate(triggers.items()):
        env.server.faults.update(FAULT_NAME, when=when)
        plain = ask(env.addr, case.query(msg_id=FIXED_ID + 10 + i))
        assert plain.rcode() == dns.rcode.NOERROR and plain.edns == 0, f"when={when}: plain EDNS0 query hit"
        raw = udp_raw(env, case.query(msg_id=FIXED_ID + 20 + i, **trigger).to_wire())
        hit = dns.message.from_wire(raw)
        assert hit.rcode() == dns.rcode.FORMERR and hit.edns == -1, f"when={when}: {hit}"
    return entry


def check_edns_drop(env: Env, case: Case) -> fakens.LogEntry:
    _no_edns_unaffected(env, case)
    return expect_udp_silence(env, case.query())


def check_edns_no_opt(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR and reply.edns == -1
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}


def check_edns_echo(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.rcode() == dns.rcode.NOERROR and reply.edns == 0
    echoed = [(int(o.otype), o.to_wire()) for o in reply.options]
    assert (UNKNOWN_OPTION, b"fakens") in echoed
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}


def check_edns_badvers(env: Env, case: Case) -> None:
    reply = ask(env.addr, case.query())
    assert reply.edns == 0, "BADVERS is carried in OPT"
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.answer == []


# ---- broken bytes -------------------------------------------------------------------------


def check_wrong_id(env: Env, case: Case) -> None:
    q = case.query()
    wire = udp_raw(env, q.to_wire())
    assert struct.unpack_from("!H", wire)[0] == (FIXED_ID + 1) % 65536
    reply = dns.message.from_wire(wire)
    assert not q.is_response(reply)
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}
    # dnspython's client does not take it: the reply is not for its query
    with pytest.raises((dns.query.BadResponse, dns.exception.Timeout)):
        dns.query.udp(case.query(msg_id=FIXED_ID + 7), env.addr[0], port=env.addr[1], timeout=1.0)


def check_wrong_question_case(env: Env, case: Case) -> None:
    q = case.query()
    wire = udp_raw(env, q.to_wire())
    sent = q.to_wire()
    assert wire[:2] == sent[:2]
    # the question's name bytes differ from those sent only in case (0x20 lost)
    qlen = len(cast(bytes, dns.name.from_text(case.qname).to_wire()))
    assert wire[12:12 + qlen] != sent[12:12 + qlen]
    assert wire[12:12 + qlen].lower() == sent[12:12 + qlen].lower()
    reply = dns.message.from_wire(wire)
    assert reply.question[0].name.to_text() != case.qname  # case-sensitive comparison of the text


def check_wrong_question_name(env: Env, case: Case) -> None:
    q = case.query()
    reply = dns.message.from_wire(udp_raw(env, q.to_wire()))
    assert reply.id == q.id
    assert reply.question[0].name == dns.name.from_text("other.example.test.")
    assert not q.is_response(reply)


def check_wrong_question_type(env: Env, case: Case) -> None:
    q = case.query()
    reply = dns.message.from_wire(udp_raw(env, q.to_wire()))
    assert reply.id == q.id
    assert reply.question[0].rdtype == dns.rdatatype.TXT
    assert not q.is_response(reply)


def _malformed(env: Env, case: Case) -> bytes:
    q = case.query()
    wire = udp_raw(env, q.to_wire())  # the raw reply arrives ...
    assert struct.unpack_from("!H", wire)[0] == FIXED_ID
    with pytest.raises(dns.exception.DNSException):  # ... and dnspython refuses it
        dns.message.from_wire(wire)
    with pytest.raises(dns.exception.DNSException):  # the client library too
        dns.query.udp(case.query(msg_id=FIXED_ID + 1), env.addr[0], port=env.addr[1], timeout=1.0)
    return wire


def check_malformed_loop(env: Env, case: Case) -> fakens.LogEntry:
    wire = _malformed(env, case)
    assert struct.unpack_from("!H", wire, 4)[0] == 1
    assert wire[12:14] == b"\xc0\x0c", "question name must be a pointer to itself"
    return entry_for(env, FIXED_ID)


def check_malformed_counts(env: Env, case: Case) -> fakens.LogEntry:
    wire = _malformed(env, case)
    assert struct.unpack_from("!H", wire, 6)[0] == 2  # one A record present, ANCOUNT says 2
    return entry_for(env, FIXED_ID)


def check_malformed_short(env: Env, case: Case) -> fakens.LogEntry:
    wire = _malformed(env, case)
    full = tcp_raw(env, case.query(msg_id=FIXED_ID + 2).to_wire())  # the fault selects UDP only
    assert len(wire) < len(full)
    return entry_for(env, FIXED_ID)


def check_malformed_garbage(env: Env, case: Case) -> fakens.LogEntry:
    _malformed(env, case)
    return entry_for(env, FIXED_ID)


# ---- serial and transfer faults -------------------------------------------------------------


def soa_serial(env: Env, msg_id: int = FIXED_ID) -> int:
    reply = ask(env.addr, make_query("example.test.", "SOA", msg_id=msg_id))
    assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA
    return int(soa_of(reply, "answer")[0].serial)


def axfr(env: Env, zone: str = "example.test.", msg_id: int = FIXED_ID + 10) -> Stream:
    stream = tcp_xfr(env, make_query(zone, "AXFR", msg_id=msg_id, edns=-1))
    assert stream.end == "complete", stream.end
    return stream


def xfr_names(stream: Stream) -> dict[tuple[str, int], set[str]]:
    out: dict[tuple[str, int], set[str]] = {}
    for r in stream.records():
        out.setdefault((r.name.to_text(), r.rdtype), set()).update(x.to_text() for x in r)
    return out


def check_stale_serial_version(env: Env, case: Case) -> fakens.LogEntry:
    www = ask_udp(env, "www.example.test.", msg_id=FIXED_ID + 1)
    assert addresses(rrset_of(www.answer, "www.example.test.", A)) == {"192.0.2.11"}  # others unchanged
    stream = axfr(env)
    soas = [r[0].serial for r in stream.records() if r.rdtype == dns.rdatatype.SOA]
    assert soas == [OLD_SERIAL, OLD_SERIAL]
    data = xfr_names(stream)
    assert data[("www.example.test.", A)] == {"192.0.2.10"}
    assert ("new.example.test.", A) not in data
    # an IXFR client at the old serial is told it is up to date
    ixfr = tcp_xfr(env, make_query("example.test.", "IXFR", msg_id=FIXED_ID + 11, edns=-1, ixfr_serial=OLD_SERIAL))
    assert [(r.rdtype, r[0].serial) for r in ixfr.records()] == [(dns.rdatatype.SOA, OLD_SERIAL)]
    assert soa_serial(env) == OLD_SERIAL
    return entry_for(env, FIXED_ID)


def check_stale_serial_unchanged(env: Env, case: Case) -> fakens.LogEntry:
    www = ask_udp(env, "www.example.test.", msg_id=FIXED_ID + 1)
    assert addresses(rrset_of(www.answer, "www.example.test.", A)) == {"192.0.2.11"}
    stream = axfr(env)
    soas = [r[0].serial for r in stream.records() if r.rdtype == dns.rdatatype.SOA]
    assert soas == [OLD_SERIAL, OLD_SERIAL]
    data = xfr_names(stream)
    assert data[("www.example.test.", A)] == {"192.0.2.11"}  # current data ...
    assert data[("new.example.test.", A)] == {"192.0.2.99"}  # ... under the old serial
    ixfr = tcp_xfr(env, make_query("example.test.", "IXFR", msg_id=FIXED_ID + 11, edns=-1, ixfr_serial=OLD_SERIAL))
    assert [(r.rdtype, r[0].serial) for r in ixfr.records()] == [(dns.rdatatype.SOA, OLD_SERIAL)]
    assert soa_serial(env) == OLD_SERIAL
    return entry_for(env, FIXED_ID)


def check_stale_serial_lower(env: Env, case: Case) -> fakens.LogEntry:
    stream = axfr(env)
    soas = [r[0].serial for r in stream.records() if r.rdtype == dns.rdatatype.SOA]
    assert soas == [NEW_SERIAL - 1, NEW_SERIAL - 1]
    assert soa_serial(env, FIXED_ID + 2) == NEW_SERIAL - 1
    env.server.faults.update(FAULT_NAME, serial=7)
    assert soa_serial(env) == 7
    return entry_for(env, FIXED_ID)


def _refuse_rcode(rcode: int) -> Callable[[Env, Case], fakens.LogEntry]:
    def check(env: Env, case: Case) -> fakens.LogEntry:
        # SOA queries are not selected
        assert soa_serial(env, FIXED_ID + 3) == NEW_SERIAL
        ixfr = tcp_xfr(env, make_query("example.test.", "IXFR", msg_id=FIXED_ID + 4, edns=-1, ixfr_serial=OLD_SERIAL))
        assert ixfr.end == "error-rcode" and ixfr.messages[0] is not None and ixfr.messages[0].rcode() == rcode
        with pytest.raises(dns.exception.DNSException):  # dnspython's transfer client gives up
            dns.query.inbound_xfr(env.addr[0], dns.zone.Zone("example.test."), port=env.addr[1], timeout=TIMEOUT)
        q = case.query()
        stream = tcp_xfr(env, q)
        assert stream.end == "error-rcode"
        reply = stream.messages[0]
        assert reply is not None and reply.rcode() == rcode
        assert reply.question[0].name == EXAMPLE and reply.question[0].rdtype == dns.rdatatype.AXFR
        assert reply.answer == []
        return entry_for(env, FIXED_ID)
    return check


def check_refuse_close(env: Env, case: Case) -> fakens.LogEntry:
    stream = tcp_xfr(env, case.query())
    assert stream.frames == [] and stream.end == "eof"
    return entry_for(env, FIXED_ID)


def check_refuse_reset(env: Env, case: Case) -> fakens.LogEntry:
    stream = tcp_xfr(env, case.query())
    assert stream.frames == [] and stream.end == "reset"
    return entry_for(env, FIXED_ID)


def check_refuse_stall(env: Env, case: Case) -> fakens.LogEntry:
    with tcp_connect(env) as sock:
        sock.sendall(frame(case.query().to_wire()))
        entry = entry_for(env, FIXED_ID)
        barrier(env)
        assert pending(sock) == [], "a stalled transfer must send nothing and keep the connection open"
        # the connection is still served by nobody: a second query on it gets no answer either
        sock.sendall(frame(make_query("www.example.test.", msg_id=FIXED_ID + 1, edns=-1).to_wire()))
        barrier(env, msg_id=0x0BA1)
        assert pending(sock) == []
    return entry


def check_broken_cut(env: Env, case: Case) -> fakens.LogEntry:
    stream = tcp_xfr(env, case.query())
    assert stream.end == "eof", "the connection must close after the cut"
    records = stream.records()
    assert records and records[0].rdtype == dns.rdatatype.SOA
    assert records[-1].rdtype != dns.rdatatype.SOA or len([r for r in records if r.rdtype == dns.rdatatype.SOA]) < 2
    entry = entry_for(env, FIXED_ID)
    with pytest.raises((dns.exception.DNSException, EOFError)):  # dnspython's client: the stream ended early
        dns.query.inbound_xfr(env.addr[0], dns.zone.Zone("example.test."), port=env.addr[1], timeout=TIMEOUT)
    return entry


def check_broken_soa_mismatch(env: Env, case: Case) -> None:
    stream = tcp_xfr(env, case.query())
    records = stream.records()
    soas = [r[0].serial for r in records if r.rdtype == dns.rdatatype.SOA]
    assert records[0].rdtype == dns.rdatatype.SOA and records[-1].rdtype == dns.rdatatype.SOA
    assert soas[0] == NEW_SERIAL and soas[-1] == NEW_SERIAL + 1
    assert stream.end == "soa-mismatch"
    with pytest.raises((dns.exception.DNSException, EOFError)):  # dnspython's client rejects it
        dns.query.inbound_xfr(env.addr[0], dns.zone.Zone("example.test."), port=env.addr[1], timeout=TIMEOUT)


def check_broken_damaged(env: Env, case: Case) -> fakens.LogEntry:
    stream = tcp_xfr(env, case.query())
    assert len(stream.frames) >= 3, "bulk.test. must need several messages"
    assert stream.messages[0] is not None, "the stream starts intact"
    bad = [i for i, m in enumerate(stream.messages) if m is None]
    assert len(bad) == 1 and 0 < bad[0] < len(stream.frames) - 1, f"damaged message index {bad}"
    with pytest.raises(dns.exception.DNSException):
        dns.query.inbound_xfr(env.addr[0], dns.zone.Zone("bulk.test."), port=env.addr[1], timeout=TIMEOUT)
    return entry_for(env, FIXED_ID)


def check_broken_wrong_deltas(env: Env, case: Case) -> fakens.LogEntry:
    stream = tcp_xfr(env, case.query())
    assert stream.end == "complete", stream.end
    records = stream.records()
    kinds = [(r.rdtype, r[0].serial if r.rdtype == dns.rdatatype.SOA else r.name.to_text()) for r in records]
    soa_at = [i for i, r in enumerate(records) if r.rdtype == dns.rdatatype.SOA]
    assert len(soa_at) == 4 and soa_at[1] == 1, kinds
    deleted = records[2:soa_at[2]]
    added = records[soa_at[2] + 1:soa_at[3]]
    del_set = {(r.name.to_text(), x.to_text()) for r in deleted for x in r}
    add_set = {(r.name.to_text(), x.to_text()) for r in added for x in r}
    # correct deltas: delete www .10; add www .11 and new .99 -- swapped on the wire
    assert del_set == {("www.example.test.", "192.0.2.11"), ("new.example.test.", "192.0.2.99")}
    assert add_set == {("www.example.test.", "192.0.2.10")}
    return entry_for(env, FIXED_ID)


# ---- NOTIFY -------------------------------------------------------------------------------


def recv_notify(sock: socket.socket, timeout: float = TIMEOUT) -> tuple[dns.message.Message, bytes]:
    wire = recv_from(sock, None, timeout)
    message = dns.message.from_wire(wire)
    assert message.opcode() == dns.opcode.NOTIFY
    return message, wire


def _drain(env: Env) -> None:
    for sock in env.sockets:
        pending(sock)


def check_no_notify_none(env: Env, case: Case) -> None:
    _drain(env)
    env.server.zone("example.test.").edit(add=["none-edit 60 TXT x"])
    env.server.zone("parent.test.").edit(add=["none-edit 60 TXT x"])
    first, _ = recv_notify(env.sockets[0])  # the barrier: parent.test.'s NOTIFY
    assert first.question[0].name == dns.name.from_text("parent.test."), "example.test. was NOTIFYed"
    assert [dns.message.from_wire(w).question[0].name.to_text() for w in pending(env.sockets[0])] == []
    assert pending(env.sockets[1]) == []


def check_no_notify_late(env: Env, case: Case) -> None:
    # the late NOTIFY waits on the server's (manual) clock: none while the clock is before
    # the 60 s delay, sent once it has passed (advance returns after the send)
    clock = env.clock
    assert clock is not None
    _drain(env)
    env.server.zone("example.test.").edit(add=["late-edit 60 TXT x"])
    env.server.zone("parent.test.").edit(add=["late-edit 60 TXT x"])
    first, _ = recv_notify(env.sockets[0])
    assert first.question[0].name == dns.name.from_text("parent.test."), "example.test.'s NOTIFY was not late"
    clock.advance(59.999)
    assert pending(env.sockets[0]) == [], "example.test.'s NOTIFY came before the 60 s delay"
    clock.advance(0.001)
    late, _ = recv_notify(env.sockets[0])
    assert late.question[0].name == EXAMPLE
    assert soa_of(late, "answer")[0].serial == env.server.zone("example.test.").serial


def check_no_notify_wrong_address(env: Env, case: Case) -> None:
    _drain(env)
    env.server.zone("example.test.").edit(add=["wrong-edit 60 TXT x"])
    env.server.zone("parent.test.").edit(add=["wrong-edit 60 TXT x"])
    wrong, _ = recv_notify(env.sockets[1])
    assert wrong.question[0].name == EXAMPLE
    first, _ = recv_notify(env.sockets[0])  # the barrier
    assert first.question[0].name == dns.name.from_text("parent.test.")
    assert pending(env.sockets[0]) == [], "example.test.'s NOTIFY also went to the right address"


def probe_notify(env: Env, case: Case) -> list[bytes]:
    _drain(env)
    env.server.send_notify("example.test.")
    _, wire = recv_notify(env.sockets[0])
    assert pending(env.sockets[1]) == []
    return [b"\x00\x00" + wire[2:]]  # the NOTIFY's ID is random: compare the rest


# ---- transport faults ---------------------------------------------------------------------


def check_drop(env: Env, case: Case) -> fakens.LogEntry:
    entry = expect_udp_silence(env, case.query())
    # over TCP (default tcp=stall): accepted, never answered, left open
    with tcp_connect(env) as sock:
        sock.sendall(frame(case.query(msg_id=FIXED_ID + 1).to_wire()))
        entry_for(env, FIXED_ID + 1)
        barrier(env)
        assert pending(sock) == []
    env.server.faults.update(FAULT_NAME, tcp="close")
    stream = tcp_xfr(env, case.query(msg_id=FIXED_ID + 2))
    assert stream.frames == [] and stream.end == "eof"
    env.server.faults.update(FAULT_NAME, tcp="reset")
    stream = tcp_xfr(env, case.query(msg_id=FIXED_ID + 3))
    assert stream.frames == [] and stream.end == "reset"
    return entry


def _timer_set(env: Env, msg_id: int, mark: int) -> fakens.LogEntry:
    """The query *msg_id* is logged and its reply's timer set: a barrier query answered after
    it means the server's loop has finished with it."""
    entry = entry_for(env, msg_id, after=mark)
    barrier(env)
    return entry


def check_delay(env: Env, case: Case) -> fakens.LogEntry:
    # the delay waits on the server's (manual) clock: no reply while the clock is before it,
    # the reply once it has passed (advance returns after the delayed send). Delays of
    # tens of seconds: real time never lets them pass within the test.
    clock = env.clock
    assert clock is not None
    with udp_socket() as sock:
        mark = len(env.server.log.entries())
        sock.sendto(case.query().to_wire(), env.addr)
        entry = _timer_set(env, FIXED_ID, mark)
        clock.advance(29.999)
        assert pending(sock) == [], "a reply before the 30 s delay had passed"
        clock.advance(0.001)
        reply = dns.message.from_wire(recv_from(sock, env.addr))
    assert reply.id == FIXED_ID
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}
    # a delayed query does not hold up another one on the same TCP connection
    env.server.faults.update(FAULT_NAME, ms=60_000)
    with tcp_connect(env) as sock:
        mark = len(env.server.log.entries())
        sock.sendall(frame(case.query(msg_id=FIXED_ID + 1).to_wire())
                     + frame(make_query("mail.example.test.", msg_id=FIXED_ID + 2).to_wire()))
        first = dns.message.from_wire(read_frame(sock))
        assert first.id == FIXED_ID + 2, "the undelayed reply must come first"
        _timer_set(env, FIXED_ID + 1, mark)
        clock.advance(59.999)
        assert pending(sock) == [], "the delayed reply came before its 60 s delay"
        clock.advance(0.001)
        second = dns.message.from_wire(read_frame(sock))
    assert second.id == FIXED_ID + 1
    # nor over UDP: an undelayed query sent after a delayed one is answered first
    with udp_socket() as slow, udp_socket() as fast:
        mark = len(env.server.log.entries())
        slow.sendto(case.query(msg_id=FIXED_ID + 4).to_wire(), env.addr)
        fast.sendto(make_query("mail.example.test.", msg_id=FIXED_ID + 5).to_wire(), env.addr)
        assert dns.message.from_wire(recv_from(fast, env.addr)).id == FIXED_ID + 5
        _timer_set(env, FIXED_ID + 4, mark)
        assert pending(slow) == [], "the delayed reply came before the undelayed one"
        clock.advance(59.999)
        assert pending(slow) == [], "the delayed reply came before its 60 s delay"
        clock.advance(0.001)
        assert dns.message.from_wire(recv_from(slow, env.addr)).id == FIXED_ID + 4
    # with jitter: ms .. ms + jitter
    env.server.faults.update(FAULT_NAME, ms=20_000, jitter=20_000, seed=3)
    with udp_socket() as sock:
        mark = len(env.server.log.entries())
        sock.sendto(case.query(msg_id=FIXED_ID + 3).to_wire(), env.addr)
        _timer_set(env, FIXED_ID + 3, mark)
        clock.advance(19.999)
        assert pending(sock) == [], "a reply before the 20 s delay had passed"
        clock.advance(20.001)
        assert dns.message.from_wire(recv_from(sock, env.addr)).id == FIXED_ID + 3
    return entry


def check_truncate(env: Env, case: Case) -> fakens.LogEntry:
    q = case.query()
    wire = udp_raw(env, q.to_wire())
    reply = dns.message.from_wire(wire)
    assert reply.flags & dns.flags.TC
    assert reply.question[0].name == q.question[0].name
    assert reply.answer == [] and reply.authority == [] and reply.additional == []
    assert reply.edns == 0
    entry = entry_for(env, FIXED_ID)
    # the retry over TCP gets the whole answer
    full = ask(env.addr, case.query(msg_id=FIXED_ID + 1), transport="tcp")
    assert not full.flags & dns.flags.TC
    assert addresses(rrset_of(full.answer, "www.example.test.", A)) == {"192.0.2.11"}
    return entry


def check_oversize(env: Env, case: Case) -> fakens.LogEntry:
    wire = udp_raw(env, case.query().to_wire())
    reply = dns.message.from_wire(wire)
    assert len(wire) > 512, f"{len(wire)} bytes: not larger than the 512 the client can take"
    assert not reply.flags & dns.flags.TC
    txt = rrset_of(reply.answer, "big.example.test.", dns.rdatatype.TXT)
    assert txt is not None and len(txt) == 8
    entry = entry_for(env, FIXED_ID)
    # size=1400: padded beyond the 1232 the client advertised
    env.server.faults.update(FAULT_NAME, size=1400)
    q = make_query("www.example.test.", msg_id=FIXED_ID + 1, edns=0, payload=1232)
    wire = udp_raw(env, q.to_wire())
    reply = dns.message.from_wire(wire)
    assert len(wire) >= 1400 and not reply.flags & dns.flags.TC
    return entry


def _rate_limit(slip: bool) -> Callable[[Env, Case], fakens.LogEntry]:
    def check(env: Env, case: Case) -> fakens.LogEntry:
        assert env.clock is not None
        env.clock.advance(1)  # a fresh second
        for i in range(2):
            reply = ask(env.addr, case.query(msg_id=FIXED_ID + i))
            assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}
        third = case.query(msg_id=FIXED_ID + 2)
        if slip:
            wire = udp_raw(env, third.to_wire())
            reply = dns.message.from_wire(wire)
            assert reply.id == third.id and reply.flags & dns.flags.TC
            assert reply.question[0].name == third.question[0].name
            assert reply.answer == [] and reply.authority == [] and reply.additional == []
            entry = entry_for(env, third.id)
        else:
            entry = expect_udp_silence(env, third, barrier_src="127.0.0.2")  # another client is not limited
        env.clock.advance(1)
        reply = ask(env.addr, case.query(msg_id=FIXED_ID + 3))
        assert not reply.flags & dns.flags.TC
        assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}
        return entry
    return check


def check_tcp_refused_closed(env: Env, case: Case) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(env.addr, timeout=TIMEOUT).close()
    reply = ask(env.addr, make_query("www.example.test."))
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}
    env.server.faults.remove(FAULT_NAME)
    reply = poll(lambda: _try_tcp(env), what="TCP answering again after removal")
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}


def _try_tcp(env: Env) -> dns.message.Message | None:
    try:
        return ask(env.addr, make_query("www.example.test.", msg_id=FIXED_ID + 9), transport="tcp")
    except (ConnectionRefusedError, ConnectionResetError, EOFError):
        return None


def check_tcp_refused_reset(env: Env, case: Case) -> fakens.LogEntry:
    q = case.query()
    # the reset may surface in connect already
    with pytest.raises((ConnectionResetError, BrokenPipeError)), tcp_connect(env) as sock:
        sock.sendall(frame(q.to_wire()))
        read_frame(sock)
    entry: fakens.LogEntry = poll(lambda: next((e for e in reversed(env.server.log.entries())
                               if e.transport == "tcp" and e.qname is None and e.faults), None),
                 what="log entry of the reset connection")
    reply = ask(env.addr, make_query("www.example.test.", msg_id=FIXED_ID + 1))
    assert addresses(rrset_of(reply.answer, "www.example.test.", A)) == {"192.0.2.11"}
    return entry


# ---- the table ----------------------------------------------------------------------------

OPT_UNKNOWN = (unknown_option(b"fakens"),)

CASES: dict[tuple[str, str], Case] = {
    ("nxdomain", ""): Case("nxdomain", check_nxdomain),
    ("nodata", ""): Case("nodata", check_nodata, qtype="AAAA"),
    ("rcode", ""): Case("rcode rcode=NOTIMP", check_rcode),
    ("stale-data", "version"): Case("stale-data mode=version", check_stale_data_version),
    ("stale-data", "records"): Case('stale-data mode=records records="mail 300 A 192.0.2.250"',
                                    check_stale_data_records, qname="mail.example.test."),
    ("ttl", ""): Case("ttl ttl=86400 negative=42", check_ttl),
    ("flags", ""): Case("flags set=RA,AD clear=AA", check_flags),
    ("verbatim", ""): Case('verbatim rcode=NXDOMAIN flags=RA answer="other.test. 60 NS ns.other.test." '
                           'authority="elsewhere.test. 9 CH TXT x"', check_verbatim),
    ("lame", "refused"): Case("lame mode=refused", _lame_rcode(dns.rcode.REFUSED)),
    ("lame", "servfail"): Case("lame mode=servfail", _lame_rcode(dns.rcode.SERVFAIL)),
    ("lame", "noaa"): Case("lame mode=noaa", check_lame_noaa),
    ("lame", "upward"): Case("lame mode=upward ns=a.root-servers.test.", check_lame_upward),
    ("missing-glue", "all"): Case("missing-glue mode=all", _missing_glue(set()), qname=REFERRAL_QNAME),
    ("missing-glue", "hosts"): Case("missing-glue mode=hosts hosts=ns2.child.parent.test.",
                                    _missing_glue(FULL_GLUE - {(NS2C, A), (NS2C, AAAA)}), qname=REFERRAL_QNAME),
    ("missing-glue", "a"): Case("missing-glue mode=a", _missing_glue({g for g in FULL_GLUE if g[1] == AAAA}),
                                qname=REFERRAL_QNAME),
    ("missing-glue", "aaaa"): Case("missing-glue mode=aaaa", _missing_glue({g for g in FULL_GLUE if g[1] == A}),
                                   qname=REFERRAL_QNAME),
    ("stale-glue", ""): Case("stale-glue host=ns1.child.parent.test. addresses=192.0.2.201,2001:db8::201",
                             check_stale_glue, qname=REFERRAL_QNAME),
    ("ns-mismatch", "add"): Case("ns-mismatch mode=add hosts=ns3.child.parent.test.", check_ns_mismatch_add,
                                 qname=REFERRAL_QNAME),
    ("ns-mismatch", "remove"): Case("ns-mismatch mode=remove hosts=ns2.child.parent.test.",
                                    check_ns_mismatch_remove, qname=REFERRAL_QNAME),
    ("ns-mismatch", "rename"): Case("ns-mismatch mode=rename old=ns1.child.parent.test. new=ns9.child.parent.test.",
                                    check_ns_mismatch_rename, qname=REFERRAL_QNAME),
    ("ns-no-address", "nxdomain"): Case("ns-no-address mode=nxdomain hosts=ns2.example.test.",
                                        _ns_no_address(dns.rcode.NXDOMAIN), qname="ns2.example.test."),
    ("ns-no-address", "nodata"): Case("ns-no-address mode=nodata hosts=ns2.example.test.",
                                      _ns_no_address(dns.rcode.NOERROR), qname="ns2.example.test."),
    ("edns", "formerr"): Case("edns mode=formerr", check_edns_formerr),
    ("edns", "drop"): Case("edns mode=drop", check_edns_drop),
    ("edns", "no-opt"): Case("edns mode=no-opt", check_edns_no_opt),
    ("edns", "echo-options"): Case("edns mode=echo-options", check_edns_echo, options=OPT_UNKNOWN),
    ("edns", "badvers"): Case("edns mode=badvers", check_edns_badvers),
    ("wrong-id", ""): Case("wrong-id", check_wrong_id),
    ("wrong-question", "case"): Case("wrong-question mode=case", check_wrong_question_case,
                                     qname="WwW.ExAmPlE.tEsT."),
    ("wrong-question", "name"): Case("wrong-question mode=name to=other.example.test.", check_wrong_question_name),
    ("wrong-question", "type"): Case("wrong-question mode=type", check_wrong_question_type),
    ("malformed", "compression-loop"): Case("malformed mode=compression-loop", check_malformed_loop),
    ("malformed", "counts"): Case("malformed mode=counts", check_malformed_counts, edns=-1),
    ("malformed", "short"): Case("malformed mode=short transport=udp", check_malformed_short),
    ("malformed", "garbage"): Case("malformed mode=garbage seed=1", check_malformed_garbage),
    ("stale-serial", "version"): Case("stale-serial mode=version", check_stale_serial_version,
                                      qname="example.test.", qtype="SOA"),
    ("stale-serial", "unchanged"): Case("stale-serial mode=unchanged", check_stale_serial_unchanged,
                                        qname="example.test.", qtype="SOA"),
    ("stale-serial", "lower"): Case("stale-serial mode=lower", check_stale_serial_lower,
                                    qname="example.test.", qtype="SOA"),
    ("refuse-transfer", "refused"): Case("refuse-transfer mode=refused", _refuse_rcode(dns.rcode.REFUSED),
                                         qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("refuse-transfer", "notauth"): Case("refuse-transfer mode=notauth", _refuse_rcode(dns.rcode.NOTAUTH),
                                         qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("refuse-transfer", "close"): Case("refuse-transfer mode=close", check_refuse_close,
                                       qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("refuse-transfer", "reset"): Case("refuse-transfer mode=reset", check_refuse_reset,
                                       qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("refuse-transfer", "stall"): Case("refuse-transfer mode=stall", check_refuse_stall,
                                       qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("broken-transfer", "cut"): Case("broken-transfer mode=cut", check_broken_cut,
                                     qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("broken-transfer", "soa-mismatch"): Case("broken-transfer mode=soa-mismatch", check_broken_soa_mismatch,
                                              qname="example.test.", qtype="AXFR", transport="tcp", edns=-1),
    ("broken-transfer", "damaged"): Case("broken-transfer mode=damaged", check_broken_damaged,
                                         qname="bulk.test.", qtype="AXFR", transport="tcp", edns=-1,
                                         nomatch="qname=nomatch.bulk.test."),
    ("broken-transfer", "wrong-deltas"): Case("broken-transfer mode=wrong-deltas", check_broken_wrong_deltas,
                                              qname="example.test.", qtype="IXFR", transport="tcp", edns=-1,
                                              ixfr_serial=OLD_SERIAL),
    ("no-notify", "none"): Case("no-notify mode=none qname=example.test.", check_no_notify_none,
                                env="notify", log="notify"),
    ("no-notify", "late"): Case("no-notify mode=late delay=60 qname=example.test.", check_no_notify_late,
                                env="notify", log="notify"),
    ("no-notify", "wrong-address"): Case("no-notify mode=wrong-address to=127.0.0.1:{port1} qname=example.test.",
                                         check_no_notify_wrong_address, env="notify", log="notify"),
    ("drop", ""): Case("drop qname=www.example.test.", check_drop),
    ("delay", ""): Case("delay ms=30000 qname=www.example.test.", check_delay),
    ("truncate", ""): Case("truncate", check_truncate),
    ("oversize", ""): Case("oversize", check_oversize, qname="big.example.test.", qtype="TXT", edns=-1),
    ("rate-limit", "drop"): Case("rate-limit mode=drop qps=2", _rate_limit(False), repeat=3),
    ("rate-limit", "slip"): Case("rate-limit mode=slip qps=2", _rate_limit(True), repeat=3),
    # a closed listener refuses everyone: the only selector it can honour is the server's name
    ("tcp-refused", "closed"): Case("tcp-refused mode=closed", check_tcp_refused_closed, transport="tcp",
                                    nomatch="server=some-other-server", log="none"),
    ("tcp-refused", "reset"): Case("tcp-refused mode=reset", check_tcp_refused_reset, transport="tcp",
                                   nomatch="client=127.0.0.99"),
}

# the faults of signed zones have their table in tests/dnssec/test_fault_cases.py
REGISTERED = [(t, m) for t, cls in REGISTRY.items() if not cls.signed_only for m in (cls.modes or ("",))]


def test_every_case_is_registered() -> None:
    """The table has no stale entries (a renamed mode must be renamed here too)."""
    assert sorted(set(CASES) - set(REGISTERED)) == []


# --------------------------------------------------------------------------------------------
# the tests
# --------------------------------------------------------------------------------------------


def _env(request: pytest.FixtureRequest, case: Case) -> Env:
    env: Env = request.getfixturevalue("notify_env" if case.env == "notify" else "main_env")
    env.server.faults.reset()
    env.mark = len(env.server.log.entries())
    return env


def _spec(env: Env, case: Case, extra: str = "") -> str:
    spec = case.spec
    if env.sockets:
        spec = spec.replace("{port1}", str(env.sockets[1].getsockname()[1]))
    return f"{spec} name={FAULT_NAME} {extra}".strip()


@pytest.fixture
def cleanup(request: pytest.FixtureRequest) -> Iterator[list[Env]]:
    envs: list[Env] = []
    yield envs
    for env in envs:
        env.server.faults.reset()


@pytest.mark.parametrize(("type_name", "mode"), REGISTERED, ids=[f"{t}-{m}" if m else t for t, m in REGISTERED])
def test_fault_on_the_wire(type_name: str, mode: str, request: pytest.FixtureRequest,
                           cleanup: list[Env]) -> None:
    case = CASES.get((type_name, mode))
    if case is None:
        pytest.fail(f"no wire test case for fault {type_name!r} mode {mode!r}: add one to CASES")
    env = _env(request, case)
    cleanup.append(env)
    fault = env.server.faults.add(_spec(env, case))
    assert fault.type_name == type_name and (fault.mode or "") == mode
    entry = case.check(env, case)
    if case.log == "none":
        return  # nothing reached the server: the kernel refused the connection
    if case.log == "notify":
        records = [r for r in env.server.notifies if r.zone == EXAMPLE]
        assert records and records[-1].note, "the NOTIFY record must say what the fault did"
        return
    if entry is None:
        entries = env.server.log.entries()
        assert len(entries) > env.mark, "nothing logged"
        entry = entries[-1]
    mine = [f for f in entry.faults if f["name"] == FAULT_NAME]
    assert len(mine) == 1, f"log entry does not name the fault: {entry.faults}"
    record = mine[0]
    assert record["type"] == type_name
    assert (record["mode"] or "") == mode
    assert record["actions"], record
    assert not any(m["name"] == FAULT_NAME for m in entry.matched), f"logged as matched, no change: {entry.matched}"


def probe_default(env: Env, case: Case) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(case.repeat):
        wire = case.query().to_wire()
        if case.transport == "udp":
            out.append(udp_raw(env, wire))
        elif case.qtype in ("AXFR", "IXFR"):
            with tcp_connect(env) as sock:
                sock.sendall(frame(wire))
                stream = read_xfr(sock)
            assert stream.end in ("complete", "error-rcode"), stream.end
            out.extend(stream.frames)
        else:
            out.append(tcp_raw(env, wire))
    return out


@pytest.mark.parametrize(("type_name", "mode"), REGISTERED, ids=[f"{t}-{m}" if m else t for t, m in REGISTERED])
def test_fault_not_matching_is_invisible(type_name: str, mode: str, request: pytest.FixtureRequest,
                                         cleanup: list[Env]) -> None:
    case = CASES.get((type_name, mode))
    if case is None:
        pytest.fail(f"no wire test case for fault {type_name!r} mode {mode!r}: add one to CASES")
    env = _env(request, case)
    cleanup.append(env)
    probe = probe_notify if case.env == "notify" else probe_default
    if env.clock is not None:
        env.clock.advance(1)
    clean = probe(env, case)
    env.server.faults.add(_spec(env, case, case.nomatch))
    if env.clock is not None:
        env.clock.advance(1)
    faulty = probe(env, case)
    assert faulty == clean, _explain(clean, faulty)
    if case.env == "notify":
        assert [r for r in env.server.notifies if r.zone == EXAMPLE][-1].note == ""
    else:
        assert env.server.log.entries()[-1].faults == []


def _explain(clean: list[bytes], faulty: list[bytes]) -> str:
    """Say how the raw replies differ (record order only, or more)."""
    if len(clean) != len(faulty):
        return f"{len(faulty)} messages with the fault, {len(clean)} without"
    for a, b in zip(clean, faulty):
        if a == b:
            continue
        try:
            ma, mb = dns.message.from_wire(a), dns.message.from_wire(b)
        except dns.exception.DNSException:
            return f"bytes differ: {a.hex()} vs {b.hex()}"
        same_sets = all(
            sorted((r.name, r.rdtype, sorted(x.to_text() for x in r)) for r in getattr(ma, s))
            == sorted((r.name, r.rdtype, sorted(x.to_text() for x in r)) for r in getattr(mb, s))
            for s in ("answer", "authority", "additional"))
        if same_sets and len(a) == len(b):
            return "same records, but their order inside an RRset differs (the encoder shuffles RRsets)"
        return f"replies differ:\n{ma}\n---\n{mb}"
    return "equal"


def test_referral_baseline(main_env: Env) -> None:
    """What the delegation cases take for granted: the fault-free referral and its glue."""
    main_env.server.faults.reset()
    reply = ask(main_env.addr, make_query(REFERRAL_QNAME))
    assert glue_of(reply) == FULL_GLUE
    assert ns_targets(reply) == {"ns1.child.parent.test.", "ns2.child.parent.test.", "ns.sibling.parent.test.",
                                 "ns.example.net."}
    assert soa_serial(main_env) == NEW_SERIAL
