"""The express answer (fakens.express) sends exactly what the engine and dnspython's renderer send.

Each query is handled twice: by a server as it is (express answers, then the reply cache,
then the engine with the fast encoder) and by a server on the same zones whose express path
and fast encoder are switched off (the engine's Answer rendered by dnspython alone). The
replies must be the same bytes, over every record type fakens loads, names that exist, do
not exist, are wildcards, empty non-terminals, at and below delegations and DNAMEs, in any
case, with and without EDNS and DO, over UDP and TCP, small and large payloads; and the
express path must have answered most of them (else the test would prove nothing).
"""

from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from helpers.every_type import EVERY_TYPE_ZONE as ZONE

from fakens import LogEntry, Server, Zone
from fakens.dnssec import DnssecPolicy, Nsec3Params, sign_zones
from fakens.engine import Engine
from fakens.exchange import Exchange
from fakens.outcome import Reply

SIBLING = r"""
$ORIGIN sub.wire.test.
$TTL 60
@      SOA ns1.sub.wire.test. h.sub.wire.test. 7 3600 600 86400 30
@      NS  ns1
ns1    A   192.0.2.99
host   A   192.0.2.100
kid    NS  ns1.kid
kid    NS  ns1
ns1.kid A  192.0.2.101
away   NS  ns.elsewhere.test.
"""

QTYPES = ["A", "AAAA", "TXT", "MX", "NS", "SOA", "CNAME", "DS", "DNSKEY", "CAA", "TLSA", "SSHFP", "HTTPS",
          "SVCB", "NAPTR", "LOC", "TYPE65534", "HINFO", "SPF", "URI", "ANY", "RRSIG", "NSEC", "PTR", "WKS",
          "SRV", "KX", "AFSDB", "RT", "PX", "RP", "NSAP-PTR", "AMTRELAY", "IPSECKEY"]
CLIENT = ("127.0.0.1", 40000)
LOCAL = ("127.0.0.1", 53)


def servers(**options: object) -> tuple[Server, Server]:
    """(fakens as it serves, the reference: express path and fast encoder off)."""
    zones = [Zone.from_text(ZONE), Zone.from_text(SIBLING)]
    served = Server(zones=zones, **options)  # type: ignore[arg-type]
    reference = Server(zones=[Zone.from_text(ZONE), Zone.from_text(SIBLING)], **options)  # type: ignore[arg-type]
    return served, without_express(reference)


def without_express(server: Server) -> Server:
    """*server* with its express path off: the Exchange's and the bytes' way in."""
    server.pipeline.express.reply = lambda x: None  # type: ignore[method-assign]
    server.pipeline.express.reply_to = lambda wire, transport: None  # type: ignore[method-assign]
    return server


def questions() -> list[str]:
    names = {r.name.to_text() for r in Zone.from_text(ZONE).current.rrsets()}
    names |= {"nx.wire.test.", "deep.nx.wire.test.", "x.wild.wire.test.", "y.z.wild.wire.test.", "wild.wire.test.",
              "a.dname.wire.test.", "below.ds.wire.test.", "host.sub.wire.test.", "nx.sub.wire.test.",
              "kid.sub.wire.test.", "x.kid.sub.wire.test.", "ns1.kid.sub.wire.test.", "y.away.sub.wire.test.",
              "sub.wire.test.", "elsewhere.test.", "."}
    return sorted(names)


def spellings(text: str) -> list[str]:
    return [text, text.upper(), text.swapcase()] if text != "." else [text]


def queries() -> list[tuple[bytes, str]]:
    made: list[tuple[bytes, str]] = []
    for name in questions():
        for spelled in spellings(name):
            for qtype in QTYPES:
                for edns in ({"use_edns": False}, {"use_edns": 0, "payload": 1232},
                             {"use_edns": 0, "payload": 512, "want_dnssec": True}):
                    query = dns.message.make_query(spelled, qtype, **edns)  # type: ignore[arg-type]
                    query.id = len(made) & 0xFFFF
                    made.append((query.to_wire(), "udp"))
                made.append((made[-2][0], "tcp"))
                odd = dns.message.make_query(spelled, qtype, use_edns=0)
                odd.flags = dns.flags.CD | dns.flags.AD  # no RD; CD is echoed, AD is not
                made.append((odd.to_wire(), "udp"))
    return made


def reply_of(server: Server, wire: bytes, transport: str) -> bytes:
    outcome = server.handle(wire, CLIENT, LOCAL, transport)
    assert isinstance(outcome, Reply) and len(outcome.messages) == 1
    return outcome.messages[0]


@pytest.mark.parametrize("fault", [None, "nxdomain qname=never.invalid."], ids=["no-fault", "unmatched-fault"])
@pytest.mark.parametrize("options", [{}, {"minimal_responses": True}, {"additional_from": "server"},
                                     {"udp_size": 512}], ids=["default", "minimal", "additional-from-server",
                                                              "udp-512"])
def test_express_replies_are_the_engines_rendered_by_dnspython(options: dict[str, object], fault: str | None,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With no fault set, the express path reads the query's bytes alone; with a fault that
    cannot match, it reads the Exchange's: both must send the reference's bytes."""
    served, reference = servers(**options)
    if fault is not None:
        for server in (served, reference):
            server.faults.add(fault)
    asked = queries()
    express_before = served.pipeline.express.answered
    mine = [reply_of(served, wire, transport) for wire, transport in asked]
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)  # the reference: dnspython renders
    theirs = [reply_of(reference, wire, transport) for wire, transport in asked]
    differ = [(dns.message.from_wire(wire).question[0], transport)
              for (wire, transport), a, b in zip(asked, mine, theirs, strict=True) if a != b]
    assert differ == []
    answered = served.pipeline.express.answered - express_before
    assert answered > len(asked) // 4, f"express answered only {answered} of {len(asked)}"
    assert reference.pipeline.express.answered == 0
    assert not any(e.faults for e in served.log.entries())


SIGNED_POLICIES = {
    "nsec": DnssecPolicy(),
    "nsec3": DnssecPolicy(nsec3=Nsec3Params(iterations=0, salt=b"")),
    "nsec3-salt-optout-csk-15": DnssecPolicy(algorithm=15, csk=True,
                                             nsec3=Nsec3Params(iterations=2, salt=b"\xaa\xbb", opt_out=True)),
}


def signed_servers(policy: DnssecPolicy, **options: object) -> tuple[Server, Server]:
    """:func:`servers` with the zones signed with *policy*: both serve the same signed Zone
    objects, so that the signatures (made once, cached by content) are the same."""
    zones = [Zone.from_text(ZONE), Zone.from_text(SIBLING)]
    sign_zones(zones, policy)
    served = Server(zones=zones, **options)  # type: ignore[arg-type]
    return served, without_express(Server(zones=zones, **options))  # type: ignore[arg-type]


def signed_queries() -> list[tuple[bytes, str]]:
    """Every name and type asked with DO=1 (a validating resolver's queries), as written and
    in mixed case, over UDP (payload 1232, 512 for every other name: more not fitting) and TCP."""
    made: list[tuple[bytes, str]] = []
    for n, name in enumerate(questions()):
        for spelled in spellings(name)[::2]:
            for qtype in QTYPES:
                query = dns.message.make_query(spelled, qtype, use_edns=0, payload=512 if n % 2 else 1232,
                                               want_dnssec=True)
                query.id = len(made) & 0xFFFF
                made.append((query.to_wire(), "udp"))
                made.append((made[-1][0], "tcp"))
    return made


@pytest.mark.parametrize(("policy", "options"), [
    (SIGNED_POLICIES["nsec"], {}), (SIGNED_POLICIES["nsec3"], {}), (SIGNED_POLICIES["nsec3-salt-optout-csk-15"], {}),
    (SIGNED_POLICIES["nsec"], {"minimal_responses": True}), (SIGNED_POLICIES["nsec3"], {"additional_from": "server"}),
    (SIGNED_POLICIES["nsec"], {"negative_soa": "wire.test. 120 SOA ns1.wire.test. other.wire.test. 99 1 2 3 4"}),
], ids=["nsec", "nsec3", "nsec3-salt-optout-csk-15", "nsec-minimal", "nsec3-additional-from-server",
        "nsec-negative-soa-given"])
def test_signed_zones_express_replies_are_the_engines(policy: DnssecPolicy, options: dict[str, object],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """DO=1 answers of signed zones (NSEC, NSEC3, NSEC3 opt-out with salt and iterations): the
    records with their RRSIGs (a wildcard's for a synthesized name), the NS, SOA and addresses
    signed, and the NSEC or NSEC3 proofs of NXDOMAIN, NODATA, empty non-terminals, wildcard
    answers and wildcard NODATA, signed: the reference's bytes, the first time, from the reply
    cache and again from the sections the express path kept."""
    served, reference = signed_servers(policy, **options)
    asked = signed_queries()
    before = served.pipeline.express.answered
    mine = [reply_of(served, wire, transport) for wire, transport in asked]
    answered = served.pipeline.express.answered - before
    again = [reply_of(served, wire, transport) for wire, transport in asked]  # from the reply cache
    served.pipeline.cache.clear()
    third = [reply_of(served, wire, transport) for wire, transport in asked]  # the express path's kept sections
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)  # the reference: dnspython renders
    theirs = [reply_of(reference, wire, transport) for wire, transport in asked]
    for got in (mine, again, third):
        differ = [(dns.message.from_wire(wire).question[0], transport)
                  for (wire, transport), a, b in zip(asked, got, theirs, strict=True) if a != b]
        assert differ == []
    assert answered > len(asked) // 3, f"express answered only {answered} of {len(asked)}"
    signed = sum(1 for wire in theirs if any(r.rdtype == dns.rdatatype.RRSIG
                                             for r in dns.message.from_wire(wire).authority))
    assert signed > len(asked) // 2  # (the replies are signed: else the test would prove nothing of them)
    assert reference.pipeline.express.answered == 0


def test_signed_answers_the_express_path_takes_and_leaves() -> None:
    """DO=1 questions of a signed zone the express path answers (the differential test above
    holds their bytes), and those it leaves to the engine."""
    served, _ = signed_servers(SIGNED_POLICIES["nsec"])
    express = served.pipeline.express

    def took(name: str, qtype: str) -> bool:
        before = express.answered
        reply_of(served, dns.message.make_query(name, qtype, use_edns=0, want_dnssec=True).to_wire(), "tcp")
        served.pipeline.cache.clear()
        return express.answered > before

    for name, qtype in [("web.wire.test.", "A"), ("x.wild.wire.test.", "A"), ("nx.wire.test.", "A"),
                        ("web.wire.test.", "TXT"), ("wire.test.", "DNSKEY"), ("wire.test.", "NS"),
                        ("mail.wire.test.", "MX"), ("x.wild.wire.test.", "MX"), ("srv.wire.test.", "SRV"),
                        ("host.sub.wire.test.", "A"), ("below.ds.wire.test.", "A"),  # (a referral, its DS signed)
                        ("www.wire.test.", "A"), ("www.wire.test.", "CNAME")]:  # a CNAME chain, the CNAME itself
        assert took(name, qtype), (name, qtype)
    for name, qtype in [("a.dname.wire.test.", "A"),
                        ("ds.wire.test.", "DS"), ("wire.test.", "ANY")]:
        assert not took(name, qtype), (name, qtype)


WILDCARD_CUT = r"""
$ORIGIN w.test.
$TTL 60
@       SOA ns1 h 1 3600 600 86400 30
@       NS  ns1
ns1     A   192.0.2.1
*.wild  NS  ns1.w.test.
*.wild  A   192.0.2.5
wild    TXT "x"
"""


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_wildcard_owning_ns_is_answered_as_the_engine_answers(signed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wildcard that owns NS records (a cut at ``*.wild``): the NS synthesized for a name
    below it is not the apex's, so the engine adds the zone's NS in AUTHORITY (and a signed
    zone's NSEC proof, with no signature of the NS: not authoritative data). The express path
    answered it once as the apex NS answer (no AUTHORITY): found by comparing with the engine."""
    zone = Zone.from_text(WILDCARD_CUT)
    if signed:
        sign_zones([zone], DnssecPolicy())
    served = Server(zones=[zone])
    reference = without_express(Server(zones=[zone]))
    asked = [(dns.message.make_query(name, qtype, use_edns=0, want_dnssec=do).to_wire(), "udp")
             for name in ("x.wild.w.test.", "A.b.wild.w.test.") for qtype in ("NS", "A", "TXT") for do in (False, True)]
    mine = [reply_of(served, wire, transport) for wire, transport in asked]
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)
    theirs = [reply_of(reference, wire, transport) for wire, transport in asked]
    assert [dns.message.from_wire(a) for a in mine] == [dns.message.from_wire(b) for b in theirs]
    assert mine == theirs
    ns = dns.message.from_wire(mine[0])
    assert [r.rdtype for r in ns.authority] == [dns.rdatatype.NS]
    assert served.pipeline.express.answered >= 4  # (the A and TXT questions)


def test_the_bytes_and_the_exchange_make_the_same_express_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Express.reply_to`` (a query's bytes, no fault set) answers exactly the queries
    ``Express.reply`` (an Exchange, faults that cannot match) answers, with the same bytes, and
    leaves the same ones to the engine: every query of the corpus, and messages read_plain
    refuses or the express path leaves (a response, NOTIFY, two questions, a compressed name,
    trailing bytes, EDNS version 1, an option, a truncated OPT, class CH, an OPT not owned by the
    root or not of type OPT, ARCOUNT 256); and either way alike an extended rcode in the OPT,
    names of 253-256 octets and the edge types and classes."""
    served, reference = servers()
    express = served.pipeline.express
    odd: list[tuple[bytes, str]] = []
    plain = dns.message.make_query("web.wire.test.", "A", use_edns=0).to_wire()
    bare = dns.message.make_query("web.wire.test.", "A").to_wire()
    odd.append((bare[:2] + bytes([bare[2] | 0x80]) + bare[3:], "udp"))  # QR set
    odd.append((bare[:2] + bytes([bare[2] | 0x20]) + bare[3:], "udp"))  # opcode NOTIFY
    odd.append((bare[:4] + b"\x00\x02" + bare[6:] + bare[12:], "udp"))  # two questions
    odd.append((bare[:4] + b"\x00\x01\x00\x01" + bare[8:], "udp"))  # an answer count
    odd.append((bare[:12] + b"\x03web\xc0\x0c" + bare[-4:], "udp"))  # compression
    odd.append((bare + b"\x00", "udp"))  # a trailing byte
    odd.append((plain[:-5] + b"\x01" + plain[-4:], "udp"))  # EDNS version 1
    odd.append((plain[:-2] + b"\x00\x04\x00\x0a\x00\x00", "udp"))  # an empty COOKIE option
    odd.append((plain[:-1], "udp"))  # the OPT record cut short
    odd.append((dns.message.make_query("web.wire.test.", "A", rdclass="CH").to_wire(), "tcp"))
    odd.append((dns.message.make_query(".", "NS").to_wire(), "udp"))  # the root
    odd.append((b"\x00" * 11, "udp"))  # no header
    odd.append((plain[:-11] + b"\x03www\x00" + plain[-10:], "udp"))  # an OPT record not owned by the root
    odd.append((plain[:-10] + b"\x00\x10" + plain[-8:], "udp"))  # a TXT record where the OPT goes
    odd.append((plain[:10] + b"\x01\x00" + plain[12:], "udp"))  # ARCOUNT 256
    # answered or not, the same either way: an extended rcode in the query's OPT, names of 253 to
    # 256 octets, the edge types and classes
    edge = [(plain[:-7] + b"\x05" + plain[-6:], "udp")]
    for size in (253, 254, 255, 256):
        labels = [b"a" * 63] * ((size - 11) // 64) + [b"b" * ((size - 11) % 64 - 1 or 1)]
        name = b"".join(bytes([len(label)]) + label for label in labels) + b"\x04wire\x04test\x00"
        edge.append((bare[:12] + name + bare[-4:], "udp"))
    for qtype in (0, 128, 255, 65535):
        edge.append((bare[:-4] + qtype.to_bytes(2, "big") + bare[-2:], "udp"))
    for qclass in (0, 255):
        edge.append((plain[:-13] + qclass.to_bytes(2, "big") + plain[-11:], "udp"))
    made = 0
    for wire, transport in queries() + odd + edge:
        x = Exchange.receive(wire, CLIENT, LOCAL, transport, "fakens", 0.0)
        by_exchange = express.reply(x) if x is not None else None
        by_bytes = express.reply_to(wire, transport)
        assert by_bytes == by_exchange, (wire, transport)
        made += by_bytes is not None
    assert made > len(queries()) // 4
    assert all(express.reply_to(wire, transport) is None for wire, transport in odd)
    assert sum(express.reply_to(wire, transport) is not None for wire, transport in edge) >= 5
    mine = [reply_of(served, wire, transport) for wire, transport in edge]
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)
    assert mine == [reply_of(reference, wire, transport) for wire, transport in edge]


def test_express_answers_the_common_cases_and_leaves_the_rest() -> None:
    served, _ = servers()
    express = served.pipeline.express

    def took(name: str, qtype: str, **edns: object) -> bool:
        before = express.answered
        query = dns.message.make_query(name, qtype, **edns)  # type: ignore[arg-type]
        reply_of(served, query.to_wire(), "udp")
        served.pipeline.cache.clear()
        return express.answered > before

    assert took("web.wire.test.", "A")
    assert took("TXT.wire.test.", "TXT")
    assert took("x.wild.wire.test.", "A")  # a wildcard answer
    assert took("nx.wire.test.", "A")  # NXDOMAIN
    assert took("web.wire.test.", "TXT")  # NODATA
    assert took("host.sub.wire.test.", "A", use_edns=0, want_dnssec=True)  # DO=1, unsigned zone
    assert not took("ns1.wire.test.", "AAAA")  # in the answer and the additional section: the engine's
    assert took("mail.wire.test.", "MX")  # names to compress and hosts to add
    assert took("mail2.wire.test.", "MX")
    assert took("x.wild.wire.test.", "MX")
    assert took("srv.wire.test.", "SRV")
    assert took("wire.test.", "NS")  # the apex: no AUTHORITY
    assert took("wire.test.", "SOA")
    assert took("ptr.wire.test.", "PTR")
    assert took("www.wire.test.", "A")  # a CNAME followed (test_cname_chains_the_express_path_takes_and_leaves)
    assert took("below.ds.wire.test.", "A")  # a referral
    assert took("ds.wire.test.", "TXT")  # a referral at the cut itself
    assert not took("ds.wire.test.", "DS")  # the parent's answer: the engine's
    assert not took("a.dname.wire.test.", "A")  # a DNAME rewrite
    assert not took("web.wire.test.", "A", use_edns=0, options=[dns.edns.GenericOption(10, b"12345678")])
    assert not took("web.wire.test.", "TXT", rdclass="CH")  # class CH


def test_an_edit_is_answered_at_once_and_a_fault_acts_on_the_next_query() -> None:
    served, _ = servers()
    express = served.pipeline.express

    def addresses(name: str) -> set[str]:
        served.pipeline.cache.clear()  # each query to the express path, not the reply cache
        before = express.answered
        reply = dns.message.from_wire(reply_of(served, dns.message.make_query(name, "A").to_wire(), "udp"))
        assert express.answered == before + 1
        return {r.to_text() for rrset in reply.answer for r in rrset} if reply.rcode() == 0 else {"NXDOMAIN"}

    assert addresses("web.wire.test.") == {"192.0.2.80", "192.0.2.81"}
    served.zone("wire.test.").edit(replace=["web 300 A 192.0.2.7"], add=["new 300 A 192.0.2.8"])
    assert addresses("web.wire.test.") == {"192.0.2.7"}
    assert addresses("new.wire.test.") == {"192.0.2.8"}
    served.faults.add("nxdomain qname=web.wire.test. name=n")
    before = express.answered
    reply = dns.message.from_wire(reply_of(served, dns.message.make_query("web.wire.test.", "A").to_wire(), "udp"))
    assert reply.rcode() == dns.rcode.NXDOMAIN and express.answered == before
    assert addresses("new.wire.test.") == {"192.0.2.8"}  # a query the fault cannot match still goes express
    assert [e.faults[0]["name"] for e in served.log.entries() if e.faults] == ["n"]


PARENT = """
$ORIGIN p.test.
$TTL 60
@      SOA ns1 h 1 3600 600 86400 30
@      NS  ns1
ns1    A   192.0.2.1
www    A   192.0.2.3
other  NS  ns.elsewhere.
x.kid  A   192.0.2.10
x.deep A   192.0.2.11
"""
KID = """
$ORIGIN kid.p.test.
$TTL 60
@      SOA ns1 h 1 3600 600 86400 30
@      NS  ns1
ns1    A   192.0.2.2
y      A   192.0.2.20
"""


def test_what_the_express_path_found_for_a_suffix_follows_zones_and_delegations() -> None:
    """The express path finds a question's zone, and whether a delegation or a DNAME stops the
    walk above it, once per suffix (what follows the first label): a zone added or removed, or
    an edit that delegates or adds a DNAME, must act on the very next query of that suffix.
    Every reply is the reference's (express path off), and the ones the express path may make
    are its own. (A delegation elsewhere is there from the start: what was found for a suffix
    in a version with cuts must not be what a later version's answers go by.)"""
    served = Server(zones=[Zone.from_text(PARENT)])
    reference = without_express(Server(zones=[Zone.from_text(PARENT)]))
    express = served.pipeline.express

    def ask(name: str, by_express: bool) -> dns.message.Message:
        served.pipeline.cache.clear()
        before = express.answered
        wire = dns.message.make_query(name, "A").to_wire()
        got = reply_of(served, wire, "udp")
        assert got == reply_of(reference, wire, "udp"), name
        assert express.answered == before + by_express, name
        return dns.message.from_wire(got)

    def addresses(reply: dns.message.Message) -> list[str]:
        return [r.to_text() for rrset in reply.answer for r in rrset]

    assert addresses(ask("x.kid.p.test.", True)) == ["192.0.2.10"]
    assert ask("y.kid.p.test.", True).rcode() == dns.rcode.NXDOMAIN  # the same suffix, its zone kept
    for server in (served, reference):
        server.add_zone(Zone.from_text(KID))
    assert addresses(ask("y.kid.p.test.", True)) == ["192.0.2.20"]  # the child zone's now
    assert ask("x.kid.p.test.", True).rcode() == dns.rcode.NXDOMAIN
    for server in (served, reference):
        server.engine.remove_zone(dns.name.from_text("kid.p.test."))
        server.pipeline.zones_changed()
    assert addresses(ask("x.kid.p.test.", True)) == ["192.0.2.10"]  # the parent's again
    for server in (served, reference):
        server.zone("p.test.").edit(add=["kid 60 NS ns.elsewhere.", "deep 60 DNAME target.test."])
    referral = ask("x.kid.p.test.", True)  # below a cut now: a referral, as the engine gives it
    assert not referral.flags & dns.flags.AA and [r.rdtype for r in referral.authority] == [dns.rdatatype.NS]
    assert ask("x.deep.p.test.", False).answer[0].rdtype == dns.rdatatype.DNAME  # below a DNAME: rewritten
    assert ask("kid.p.test.", True).authority[0].rdtype == dns.rdatatype.NS  # the cut itself: a referral
    for server in (served, reference):  # a cut below a cut: the walk stops at the highest
        server.zone("p.test.").edit(add=["x.kid 60 NS ns.elsewhere."])
    assert [r.rdtype for r in ask("y.x.kid.p.test.", True).authority] == [dns.rdatatype.NS]  # the highest cut
    assert ask("y.x.kid.p.test.", True).authority[0].name == dns.name.from_text("kid.p.test.")
    for server in (served, reference):
        server.zone("p.test.").edit(remove=["x.kid NS"], add=["x.deep 60 NS ns.elsewhere."])  # a DNAME above a cut
    assert ask("y.x.deep.p.test.", False).answer[0].rdtype == dns.rdatatype.DNAME  # the DNAME above the cut
    for server in (served, reference):
        server.zone("p.test.").edit(remove=["x.deep NS"])
    no_a = ask("deep.p.test.", True)  # the DNAME's owner has no A: NODATA, from the zone
    assert no_a.rcode() == dns.rcode.NOERROR and not no_a.answer and no_a.authority[0].rdtype == dns.rdatatype.SOA
    assert addresses(ask("www.p.test.", True)) == ["192.0.2.3"]  # the rest of the zone as before
    for server in (served, reference):
        server.zone("p.test.").edit(remove=["kid NS", "deep DNAME"])
    assert addresses(ask("x.kid.p.test.", True)) == ["192.0.2.10"]
    assert addresses(ask("x.deep.p.test.", True)) == ["192.0.2.11"]


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed-do1"])
def test_express_log_entries_are_the_engines(signed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """An express reply's log entry is made from the query's and the reply's bytes when the
    log is read (fakens.exchange.BytesTemplate): it must be the entry the engine's way records
    as it answers, field for field (but when and how long), for every query of the corpus (and
    for DO=1 queries of signed zones); and one made for a watcher at once is the same as one
    made later."""
    served, reference = signed_servers(SIGNED_POLICIES["nsec3"]) if signed else servers()
    asked = signed_queries() if signed else queries()
    told: list[LogEntry] = []
    for wire, transport in asked[:40]:
        reply_of(served, wire, transport)
    served.log.watch(told.append)
    for wire, transport in asked[40:]:
        reply_of(served, wire, transport)
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)
    for wire, transport in asked:
        reply_of(reference, wire, transport)
    mine, theirs = list(served.log), list(reference.log)
    assert len(mine) == len(theirs) == len(asked)
    compared = [f.name for f in dataclasses.fields(LogEntry) if f.name not in ("time", "duration")]
    differ = [(e.qname, e.qtype_text, e.transport, name) for e, r in zip(mine, theirs, strict=True)
              for name in compared if getattr(e, name) != getattr(r, name)]
    assert differ == []
    assert [str(e.qname) for e in mine] == [str(r.qname) for r in theirs]  # the case asked
    assert all(e.duration > 0 and e.time > 0 for e in mine)
    assert told == mine[40:] and all(a is b for a, b in zip(told, mine[40:], strict=True))
    assert all(a is b for a, b in zip(mine, served.log, strict=True))  # made once
    assert served.pipeline.express.answered > len(asked) // 4
    assert reference.pipeline.express.answered == 0


def test_an_express_reply_leaves_few_objects_for_the_collector() -> None:
    """What an express reply keeps (its log entry, its cache entry) is a list and a tuple, not
    a LogEntry with its lists, name and tuples: once the log is full, the collector's young
    generation grows by what each query keeps, unseen by its count (CPython 3.11 counts the
    evicted entries against it), so each kept object lengthens its pauses."""
    served = Server(zones=[Zone.from_text(ZONE)])
    wires = []
    for i in range(3000):
        query = dns.message.make_query(f"n{i}.wild.wire.test.", "A")
        query.id = i
        wires.append(query.to_wire())
    for wire in wires[:1000]:
        served.handle(wire, ("127.0.0.1", 40000), LOCAL, "udp")
    answered = served.pipeline.express.answered
    gc.collect()
    before = len(gc.get_objects())
    for i, wire in enumerate(wires[1000:]):
        served.handle(wire, ("127.0.0.1", 40000 + i), LOCAL, "udp")  # a new address each, as recvfrom makes
    kept = (len(gc.get_objects()) - before) / 2000
    assert served.pipeline.express.answered - answered == 2000
    assert kept <= 3.5, f"{kept} objects tracked by the collector a query"


@pytest.mark.parametrize("fault", [None, "nxdomain qname=never.invalid."], ids=["no-fault", "unmatched-fault"])
def test_a_bug_of_the_express_path_is_reported_once_and_the_engine_answers(
        fault: str | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An exception in the express path (read from the bytes or from the Exchange) is kept on
    ``server.errors`` and printed once with the query it came from, and the engine's way
    answers: the reply is the reference's, and the server answers the next query too."""
    served, reference = servers()
    if fault is not None:
        for server in (served, reference):
            server.faults.add(fault)

    def broken(*args: object) -> None:
        raise RuntimeError("express broke")

    monkeypatch.setattr(served.pipeline.express, "_answer", broken)
    for name in ("web.wire.test.", "mail.wire.test."):
        query = dns.message.make_query(name, "A", use_edns=0)
        query.id = 4242
        assert reply_of(served, query.to_wire(), "udp") == reply_of(reference, query.to_wire(), "udp")
    assert [str(e) for e in served.errors] == ["express broke", "express broke"]
    printed = capsys.readouterr().err.splitlines()
    said = [line for line in printed if "internal error" in line]
    assert len(said) == 2, printed
    assert "RuntimeError: express broke" in said[0] and "udp query id 4242 from 127.0.0.1#40000: web.wire.test. A" in said[0]
    assert served.pipeline.express.answered == 0


def test_the_random_zone_campaign_finds_no_difference() -> None:
    """A short run of scripts/express_campaign.py (random zones and questions, the express path
    against the engine; long runs are the campaign's): it exits 0 and says what it compared."""
    script = Path(__file__).resolve().parents[2] / "scripts" / "express_campaign.py"
    run = subprocess.run([sys.executable, str(script), "--zones", "40", "--questions", "100", "--seed", "7"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    done = run.stdout.strip().splitlines()[-1]
    assert done.startswith("done: 40 zones (seed 7), 4000 questions,") and "no reply differed" in done
    answered = int(done.split(", ")[2].split()[0])
    assert answered > 1000, done


def test_a_tail_made_while_the_express_path_is_cleared_is_not_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The express path asks the engine for a version's sections; if another thread clears it
    meanwhile (a signer's new round, an edit), what was made may hold the old round's RRSIGs and
    must not be kept for the answers to come (only this one answer is made from it)."""
    served, _ = signed_servers(SIGNED_POLICIES["nsec"])
    express = served.pipeline.express
    engine_answer = Engine.answer
    cleared: list[bool] = []

    def answer(self: Engine, *args: object, **kwargs: object) -> object:
        made = engine_answer(self, *args, **kwargs)  # type: ignore[arg-type]
        if not cleared:
            cleared.append(True)
            express.clear()  # what another thread's message does at that moment
        return made

    monkeypatch.setattr(Engine, "answer", answer)  # (on the class: the express path answers)
    query = dns.message.make_query("web.wire.test.", "A", use_edns=0, want_dnssec=True).to_wire()
    before = express.answered
    first = reply_of(served, query, "udp")
    assert express.answered == before + 1 and cleared
    assert express._tails == {}  # made across a clear: not kept
    served.pipeline.cache.clear()
    assert reply_of(served, query, "udp") == first  # made again (this time kept)
    assert len(express._tails) == 1 and express.answered == before + 2


CHAINS = """
$ORIGIN c.test.
$TTL 60
@       SOA ns1 h 1 3600 600 86400 30
@       NS  ns1
@       MX  10 mail
ns1     A   192.0.2.1
ns1     AAAA 2001:db8::1
mail    A   192.0.2.25
web     A   192.0.2.80
web     A   192.0.2.81
www     CNAME web
WWW2    CNAME Web.C.Test.
two     CNAME www
apex    CNAME @
mx      CNAME mail
mailer  MX  5 mail
mx2     CNAME mailer
nx      CNAME missing
ent     CNAME a.b
x.a.b   A   192.0.2.9
wild    CNAME q.w
*.w     TXT "wild"
*.cw    CNAME web
out     CNAME target.elsewhere.test.
cut     CNAME host.sub
sub     NS  ns1.sub
ns1.sub A   192.0.2.53
dn      DNAME kid.c.test.
viadn   CNAME www.dn
kidcn   CNAME www.kid
kidnx   CNAME nx.kid
loop1   CNAME loop2
loop2   CNAME loop1
back    CNAME fwd
fwd     CNAME back
both    CNAME web
both    TXT "and data"
case1   CNAME Foo.dn.c.test.
case2   CNAME foo.dn.c.test.
yx      CNAME {a}.{a}.{a}.dnlong.c.test.
dnlong  DNAME {b}.{b}.{b}.c.test.
""".format(a="a" * 60, b="b" * 60)
CHAINS_KID = """
$ORIGIN kid.c.test.
$TTL 120
@       SOA ns1 h 5 3600 600 86400 30
@       NS  ns1
ns1     A   192.0.2.77
www     A   192.0.2.78
www     MX  1 ns1
"""
LONG = "".join(f"long{i} CNAME long{i + 1}\n" for i in range(17)) + "long17 A 192.0.2.17\n"


def chain_servers(policy: DnssecPolicy | None = None, kid_only: bool = False, **options: object) -> tuple[Server, Server]:
    """Servers of the chains' zones (:func:`servers`), both signed with *policy*, or the child alone."""
    zones = [Zone.from_text(CHAINS + LONG), Zone.from_text(CHAINS_KID)]
    if policy is not None:
        sign_zones(zones[1:] if kid_only else zones, policy)
    served = Server(zones=zones, **options)  # type: ignore[arg-type]
    return served, without_express(Server(zones=zones, **options))  # type: ignore[arg-type]


def chain_queries() -> list[tuple[bytes, str]]:
    names = {r.name.to_text() for r in Zone.from_text(CHAINS + LONG).current.rrsets()}
    names |= {"a.cw.c.test.", "b.c.cw.c.test.", "Q.CW.c.test."}
    made: list[tuple[bytes, str]] = []
    for name in sorted(names):
        for spelled in spellings(name)[:2]:
            for qtype in ("A", "AAAA", "MX", "TXT", "NS", "SOA", "CNAME", "DS", "ANY"):
                for edns in ({"use_edns": False}, {"use_edns": 0, "payload": 1232, "want_dnssec": True}):
                    query = dns.message.make_query(spelled, qtype, **edns)  # type: ignore[arg-type]
                    query.id = len(made) & 0xFFFF
                    made.append((query.to_wire(), "udp"))
                made.append((made[-1][0], "tcp"))
    return made


@pytest.mark.parametrize(("policy", "options"), [
    (None, {}), (None, {"minimal_responses": True}), (None, {"additional_from": "server"}), (None, {"udp_size": 512}),
    (SIGNED_POLICIES["nsec"], {}), (SIGNED_POLICIES["nsec3"], {}), (SIGNED_POLICIES["nsec"], {"kid_only": True}),
], ids=["unsigned", "minimal", "additional-from-server", "udp-512", "nsec", "nsec3", "nsec-child-only"])
def test_cname_chains_on_the_express_path_are_the_engines(policy: DnssecPolicy | None, options: dict[str, object],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A name owning a CNAME (and not the type asked) is answered with the CNAME and what the
    engine gives after it, kept by the target: chains in the zone, into a served child, through
    a DNAME, to a cut, out of the server's data, to NXDOMAIN, NODATA and wildcards, loops, a
    chain longer than the engine follows, one target spelled in two cases through a DNAME, a
    DNAME's rewrite too long (YXDOMAIN, unsigned by the engine), unsigned and signed (DO=1: every RRset with its RRSIGs,
    the proofs of the last name); the same bytes as the engine's rendered by dnspython."""
    served, reference = chain_servers(policy, **options)
    asked = chain_queries()
    before = served.pipeline.express.answered
    mine = [reply_of(served, wire, transport) for wire, transport in asked]
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)
    theirs = [reply_of(reference, wire, transport) for wire, transport in asked]
    differ = [(dns.message.from_wire(wire).question[0], transport)
              for (wire, transport), a, b in zip(asked, mine, theirs, strict=True) if a != b]
    assert differ == []
    assert served.pipeline.express.answered - before > len(asked) // 4


def test_cname_chains_the_express_path_takes_and_leaves() -> None:
    served, _ = chain_servers()
    express = served.pipeline.express

    def took(name: str, qtype: str = "A", **edns: object) -> dns.message.Message | None:
        before = express.answered
        reply = dns.message.from_wire(reply_of(served, dns.message.make_query(name, qtype, **edns).to_wire(),  # type: ignore[arg-type]
                                               "udp"))
        served.pipeline.cache.clear()
        return reply if express.answered > before else None

    def owners(reply: dns.message.Message | None) -> list[str]:
        assert reply is not None
        return [rrset.name.to_text() for rrset in reply.answer]

    assert owners(took("www.c.test.")) == ["www.c.test.", "web.c.test."]
    assert owners(took("two.c.test.")) == ["two.c.test.", "www.c.test.", "web.c.test."]
    assert owners(took("kidcn.c.test.", "MX")) == ["kidcn.c.test.", "www.kid.c.test."]  # into the child zone
    reply = took("kidnx.c.test.")
    assert reply is not None and reply.rcode() == dns.rcode.NXDOMAIN  # RFC 6604: the last name's rcode
    assert reply.authority[0].name == dns.name.from_text("kid.c.test.")  # the child's SOA
    reply = took("cut.c.test.")
    assert reply is not None and reply.flags & dns.flags.AA and reply.authority[0].rdtype == dns.rdatatype.NS
    reply = took("out.c.test.")
    assert reply is not None and owners(reply) == ["out.c.test."] and not reply.authority
    assert owners(took("viadn.c.test.")) == ["viadn.c.test.", "dn.c.test.", "www.dn.c.test.", "www.kid.c.test."]
    assert owners(took("both.c.test.", "TXT")) == ["both.c.test."]  # the type asked: no chain
    assert owners(took("both.c.test.")) == ["both.c.test.", "web.c.test."]
    assert took("loop1.c.test.") is None  # the rest comes back to the question: the engine stops it
    assert took("long0.c.test.") is None  # longer than the engine follows from here
    assert owners(took("long3.c.test."))[-1] == "long17.c.test."  # 15 CNAMEs: the whole chain
    assert owners(took("www.c.test.", "CNAME")) == ["www.c.test."]  # asked for the CNAME itself: no chain
    # the names of a wildcard CNAME share the rest of their chain, with www's (one target)
    chains = len(express._chains)
    for name in ("a.cw.c.test.", "b.cw.c.test.", "c.d.cw.c.test."):
        assert owners(took(name)) == [name, "web.c.test."]
    assert len(express._chains) == chains and (dns.name.from_text("web.c.test.").labels, dns.rdatatype.A, False) in express._chains
    # an edit of the target, in this zone or in another, is answered at once
    served.zone("c.test.").edit(replace=["web 60 A 192.0.2.99"])
    reply = took("a.cw.c.test.")
    assert reply is not None and reply.answer[1][0].to_text() == "192.0.2.99"
    served.zone("kid.c.test.").edit(replace=["www 120 A 192.0.2.98"])
    reply = took("kidcn.c.test.")
    assert reply is not None and reply.answer[1][0].to_text() == "192.0.2.98"


def test_a_signed_zones_cname_chain_with_do_is_signed_and_a_wildcards_is_the_engines() -> None:
    served, _ = chain_servers(SIGNED_POLICIES["nsec"])
    express = served.pipeline.express

    def ask(name: str, do: bool) -> tuple[bool, dns.message.Message]:
        before = express.answered
        reply = dns.message.from_wire(reply_of(served, dns.message.make_query(
            name, "A", use_edns=0, want_dnssec=do).to_wire(), "udp"))
        return express.answered > before, reply

    for do in (False, True):
        took, reply = ask("two.c.test.", do)
        assert took
        signed = [rrset.covers for rrset in reply.answer if rrset.rdtype == dns.rdatatype.RRSIG]
        assert signed == ([dns.rdatatype.CNAME, dns.rdatatype.CNAME, dns.rdatatype.A] if do else [])
    took, reply = ask("a.cw.c.test.", True)  # a wildcard's CNAME: the proof of no a.cw first, the engine's
    assert not took and [r.rdtype for r in reply.authority][-2:] == [dns.rdatatype.NSEC, dns.rdatatype.RRSIG]
    assert ask("a.cw.c.test.", False)[0]


def test_a_chains_rrsets_in_answer_do_not_change_what_another_reply_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rest of a chain to the apex asked for NS holds the zone's NS in ANSWER; an ANY answer
    holds the same RRsets with the NS in AUTHORITY. The encoder's templates of written sections
    (kept by their RRsets) must keep them apart: the same bytes, not the same counts."""
    served, reference = chain_servers()
    asked = [dns.message.make_query(name, qtype).to_wire() for name, qtype in
             (("apex.c.test.", "NS"), ("web.c.test.", "ANY"), ("www.c.test.", "A"), ("apex.c.test.", "NS"))]
    mine = [reply_of(served, wire, "udp") for wire in asked]
    monkeypatch.setattr("fakens.wire.encode_fast", lambda *args: None)
    assert mine == [reply_of(reference, wire, "udp") for wire in asked]
    counts = [(len(m.answer), len(m.authority)) for m in map(dns.message.from_wire, mine)]
    assert counts == [(2, 0), (1, 1), (2, 1), (2, 0)]
