"""The answer engine, table-driven (in the style of CoreDNS's plugin tests).

Each case is one question to an in-memory :class:`Engine` and what a client
would see: rcode, kind, AA, and the records of each section. Expected records
are written in master-file form relative to ``example.test.`` and compared as
sorted record lines, so a record sent twice is a failure.

RFC references: 1034 4.3.2 (the algorithm), 2181 (AA, glue, CNAME targets),
2308 (negative answers), 4592 (wildcards), 6604 (xNAME rcodes), 6672 (DNAME),
8482 (ANY), 4035 3.1.4.1 (DS from the parent side).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from fakens.answer import Answer, Kind
from fakens.engine import Engine, EngineOptions
from fakens.zones import Zone

ORIGIN = dns.name.from_text("example.test.")

# SOA TTL 3600, minimum 300: the negative TTL is the minimum (RFC 2308 5).
PARENT = """
$ORIGIN example.test.
$TTL 3600
@          3600 SOA ns1 hostmaster 2024010101 7200 900 1209600 300
@               NS  ns1
@               NS  ns2
@               MX  10 mail
@               MX  20 mail.elsewhere.test.
ns1             A    192.0.2.1
ns1             AAAA 2001:db8::1
ns2             A    192.0.2.2
mail            A    192.0.2.25
www             A    192.0.2.80
multi           A    192.0.2.81
multi           TXT  "two types"
_sip._udp       SRV  0 5 5060 sip
sip             A    192.0.2.50
mx2             MX   10 ns1.child
; CNAMEs
alias           CNAME www
chain           CNAME alias
ext             CNAME www.elsewhere.test.
dangling        CNAME nothere
loop1           CNAME loop2
loop2           CNAME loop1
toother         CNAME www.other.test.
toothermissing  CNAME nope.other.test.
todeleg         CNAME host.child
; DNAME (RFC 6672)
legacy          DNAME other.test.
; wildcards (RFC 4592)
*.wild          A    192.0.2.99
*.wild          TXT  "wild"
exists.wild     A    192.0.2.100
deep.ent.wild   A    192.0.2.101
*.cn            CNAME www
; a delegation: in-domain glue, sibling glue (below another cut and
; authoritative), and an out-of-domain NS
child           NS   ns1.child
child           NS   ns.sib
child           NS   ns2
child           NS   ns.elsewhere.test.
ns1.child       A    192.0.2.53
sib             NS   ns.sib
ns.sib          A    192.0.2.77
; a signed delegation: DS at the cut
secure          NS   ns1
secure          DS   12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
; a delegation to a child this engine also serves
sub             NS   ns1.sub
sub             DS   54321 13 2 FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210
ns1.sub         A    192.0.2.60
"""

CHILD = """
$ORIGIN sub.example.test.
$TTL 600
@      600 SOA ns1 hostmaster 7 7200 900 1209600 120
@          NS  ns1
@          NS  ns1.example.test.
ns1        A   192.0.2.60
www        A   192.0.2.61
"""

# SOA TTL 60, minimum 600: the negative TTL is the SOA's TTL (RFC 2308 5).
OTHER = """
$ORIGIN other.test.
$TTL 3600
@      60 SOA ns1.example.test. hostmaster.example.test. 1 7200 900 1209600 600
@         NS  ns1.example.test.
@         NS  ns2.example.test.
www       A   192.0.2.200
"""

ZONES = [Zone.from_text(PARENT), Zone.from_text(CHILD), Zone.from_text(OTHER)]
ENGINE = Engine(ZONES)
MINIMAL = Engine(ZONES, EngineOptions(minimal_responses=True))
RFC8482 = Engine(ZONES, EngineOptions(any_mode="rfc8482"))

# Sections that recur.
SOA_NEG = "@ 300 SOA ns1 hostmaster 2024010101 7200 900 1209600 300"
OTHER_SOA_NEG = "other.test. 60 SOA ns1.example.test. hostmaster.example.test. 1 7200 900 1209600 600"
CHILD_SOA_NEG = "sub 120 SOA ns1.sub hostmaster.sub 7 7200 900 1209600 120"
APEX_NS = ["@ 3600 NS ns1", "@ 3600 NS ns2"]
OTHER_NS = ["other.test. 3600 NS ns1", "other.test. 3600 NS ns2"]
NS_ADDRESSES = ["ns1 3600 A 192.0.2.1", "ns1 3600 AAAA 2001:db8::1", "ns2 3600 A 192.0.2.2"]
CHILD_REFERRAL_NS = [
    "child 3600 NS ns1.child", "child 3600 NS ns.sib", "child 3600 NS ns2", "child 3600 NS ns.elsewhere.test.",
]


@dataclass
class Case:
    """One question and what the client must see."""

    qname: str
    qtype: str
    rcode: str
    kind: Kind
    aa: bool
    answer: list[str] = field(default_factory=list)
    authority: list[str] = field(default_factory=list)
    glue: list[str] = field(default_factory=list)
    additional: list[str] = field(default_factory=list)
    why: str = ""
    dnssec_ok: bool = False  # the query's DO bit

    def __str__(self) -> str:
        return f"{self.qname}/{self.qtype}: {self.why}"


def records(rrsets: list[dns.rrset.RRset]) -> list[str]:
    """A section as sorted 'owner ttl class type rdata' lines (owner lowercased)."""
    out = []
    for rrset in rrsets:
        for rdata in rrset:
            out.append(f"{rrset.name.to_text().lower()} {rrset.ttl} {dns.rdataclass.to_text(rrset.rdclass)} "
                       f"{dns.rdatatype.to_text(rrset.rdtype)} {rdata.to_text()}")
    return sorted(out)


def expected(lines: list[str], origin: dns.name.Name = ORIGIN) -> list[str]:
    """'owner ttl type rdata' lines (names relative to *origin*) as sorted record lines."""
    rrsets: list[dns.rrset.RRset] = []
    for line in lines:
        owner, ttl, rdtype, rdata = line.split(None, 3)
        rrsets.append(dns.rrset.from_rdata(dns.name.from_text(owner, origin), int(ttl),
                                           dns.rdata.from_text("IN", rdtype, rdata, origin, relativize=False)))
    return records(rrsets)


def lookup(engine: Engine, qname: str, qtype: str, qclass: str = "IN", dnssec_ok: bool = False) -> Answer:
    return engine.answer(dns.name.from_text(qname, ORIGIN), dns.rdatatype.from_text(qtype),
                         dns.rdataclass.from_text(qclass), dnssec_ok=dnssec_ok)


def check(engine: Engine, case: Case) -> None:
    answer = lookup(engine, case.qname, case.qtype, dnssec_ok=case.dnssec_ok)
    assert dns.rcode.to_text(answer.rcode) == case.rcode
    assert answer.kind is case.kind
    assert answer.aa is case.aa
    assert records(answer.answer) == expected(case.answer), "ANSWER"
    assert records(answer.authority) == expected(case.authority), "AUTHORITY"
    assert records(answer.glue) == expected(case.glue), "required glue"
    assert records(answer.additional) == expected(case.additional), "optional ADDITIONAL"


CASES = [
    # -- RFC 1034 4.3.2: authoritative data, zone choice -----------------------------------
    Case("www", "A", "NOERROR", Kind.ANSWER, True,
         answer=["www 3600 A 192.0.2.80"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="authoritative answer with AA, zone NS in AUTHORITY, their addresses in ADDITIONAL"),
    Case("www.nowhere.invalid.", "A", "REFUSED", Kind.REFUSED, False, why="outside every zone"),
    Case("example.", "SOA", "REFUSED", Kind.REFUSED, False, why="the parent of a served zone is not served"),
    Case("www.sub", "A", "NOERROR", Kind.ANSWER, True,
         answer=["www.sub 600 A 192.0.2.61"], authority=["sub 600 NS ns1.sub", "sub 600 NS ns1"],
         additional=["ns1.sub 600 A 192.0.2.60"],
         why="the closest enclosing zone (the child) answers, authoritatively; ADDITIONAL only from "
             "the child: ns1.example.test. is the parent's data (BIND, NSD, Knot)"),
    Case("sub", "NS", "NOERROR", Kind.ANSWER, True,
         answer=["sub 600 NS ns1.sub", "sub 600 NS ns1"],
         additional=["ns1.sub 600 A 192.0.2.60"],
         why="NS at a served child's apex comes from the child, with no NS repeated in AUTHORITY, "
             "and the addresses the child holds"),
    Case("@", "NS", "NOERROR", Kind.ANSWER, True, answer=APEX_NS, additional=NS_ADDRESSES,
         why="apex NS: not repeated in AUTHORITY"),
    Case("ns1", "A", "NOERROR", Kind.ANSWER, True,
         answer=["ns1 3600 A 192.0.2.1"], authority=APEX_NS,
         additional=["ns1 3600 AAAA 2001:db8::1", "ns2 3600 A 192.0.2.2"],
         why="an address already in ANSWER is not repeated in ADDITIONAL"),
    Case("nothing", "A", "NXDOMAIN", Kind.NXDOMAIN, True, authority=[SOA_NEG],
         why="NXDOMAIN: SOA with TTL = SOA minimum (smaller than the SOA TTL)"),
    Case("www", "AAAA", "NOERROR", Kind.NODATA, True, authority=[SOA_NEG],
         why="NODATA: SOA in AUTHORITY, no ANSWER"),
    Case("nope.other.test.", "A", "NXDOMAIN", Kind.NXDOMAIN, True, authority=[OTHER_SOA_NEG],
         why="NXDOMAIN: SOA with TTL = the SOA's own TTL (smaller than the minimum)"),
    Case("www.other.test.", "MX", "NOERROR", Kind.NODATA, True, authority=[OTHER_SOA_NEG],
         why="NODATA in a zone whose SOA TTL is below its minimum"),
    # -- referrals (RFC 1034 4.3.2 3b, RFC 2181 6.1, RFC 9471 glue) ----------------------
    Case("host.child", "A", "NOERROR", Kind.DELEGATION, False,
         authority=CHILD_REFERRAL_NS, glue=["ns1.child 3600 A 192.0.2.53"],
         additional=["ns.sib 3600 A 192.0.2.77", "ns2 3600 A 192.0.2.2"],
         why="referral: NS, no AA, in-domain glue required, sibling glue optional, none for out-of-domain"),
    Case("child", "NS", "NOERROR", Kind.DELEGATION, False,
         authority=CHILD_REFERRAL_NS, glue=["ns1.child 3600 A 192.0.2.53"],
         additional=["ns.sib 3600 A 192.0.2.77", "ns2 3600 A 192.0.2.2"],
         why="NS at a cut is a referral, not an authoritative answer"),
    Case("child", "A", "NOERROR", Kind.DELEGATION, False,
         authority=CHILD_REFERRAL_NS, glue=["ns1.child 3600 A 192.0.2.53"],
         additional=["ns.sib 3600 A 192.0.2.77", "ns2 3600 A 192.0.2.2"],
         why="any type at the cut itself refers"),
    Case("ns1.child", "A", "NOERROR", Kind.DELEGATION, False,
         authority=CHILD_REFERRAL_NS, glue=["ns1.child 3600 A 192.0.2.53"],
         additional=["ns.sib 3600 A 192.0.2.77", "ns2 3600 A 192.0.2.2"],
         why="glue is not authoritative data: asking for it gets the referral"),
    Case("child", "DS", "NOERROR", Kind.NODATA, True, authority=[SOA_NEG],
         why="DS at an unsigned cut: NODATA from the parent with the parent's SOA"),
    Case("secure", "DS", "NOERROR", Kind.ANSWER, True,
         answer=["secure 3600 DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"],
         why="DS at a cut: answered from the parent side with AA, the DS alone (no NS, no addresses: "
             "BIND, NSD, Knot)"),
    Case("sub", "DS", "NOERROR", Kind.ANSWER, True,
         answer=["sub 3600 DS 54321 13 2 FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210"],
         why="DS for a served child's apex goes to the served parent, and comes alone"),
    Case("www.secure", "DS", "NOERROR", Kind.DELEGATION, False,
         authority=["secure 3600 NS ns1"],
         additional=["ns1 3600 A 192.0.2.1", "ns1 3600 AAAA 2001:db8::1"],
         dnssec_ok=True, why="DS below a cut, DO=1, from an unsigned zone: referral without DS (NSD, Knot, BIND)"),
    Case("www.secure", "DS", "NOERROR", Kind.DELEGATION, False,
         authority=["secure 3600 NS ns1"],
         additional=["ns1 3600 A 192.0.2.1", "ns1 3600 AAAA 2001:db8::1"],
         why="DS below a cut, DO=0: referral without DS (RFC 3225 3)"),
    # -- CNAME (RFC 1034 4.3.2 3a, RFC 6604) ---------------------------------------------
    Case("alias", "A", "NOERROR", Kind.ANSWER, True,
         answer=["alias 3600 CNAME www", "www 3600 A 192.0.2.80"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="CNAME followed in the zone"),
    Case("chain", "A", "NOERROR", Kind.ANSWER, True,
         answer=["chain 3600 CNAME alias", "alias 3600 CNAME www", "www 3600 A 192.0.2.80"],
         authority=APEX_NS, additional=NS_ADDRESSES, why="a CNAME chain followed to the end"),
    Case("toother", "A", "NOERROR", Kind.ANSWER, True,
         answer=["toother 3600 CNAME www.other.test.", "www.other.test. 3600 A 192.0.2.200"],
         authority=OTHER_NS,
         why="CNAME followed into another zone the server holds; other.test.'s NS hosts are "
             "example.test.'s data: no addresses"),
    Case("ext", "A", "NOERROR", Kind.CNAME, True, answer=["ext 3600 CNAME www.elsewhere.test."],
         why="CNAME out of the server's data: just the CNAME, NOERROR"),
    Case("dangling", "A", "NXDOMAIN", Kind.NXDOMAIN, True,
         answer=["dangling 3600 CNAME nothere"], authority=[SOA_NEG],
         why="CNAME to a missing in-zone name: NXDOMAIN with the CNAME (RFC 6604)"),
    Case("toothermissing", "A", "NXDOMAIN", Kind.NXDOMAIN, True,
         answer=["toothermissing 3600 CNAME nope.other.test."], authority=[OTHER_SOA_NEG],
         why="the rcode and SOA are the last name's, in the target's zone (RFC 6604 3)"),
    Case("alias", "AAAA", "NOERROR", Kind.NODATA, True,
         answer=["alias 3600 CNAME www"], authority=[SOA_NEG], why="CNAME to a name without the type: NODATA"),
    Case("loop1", "A", "NOERROR", Kind.CNAME, True,
         answer=["loop1 3600 CNAME loop2", "loop2 3600 CNAME loop1"], why="a loop stops: the CNAMEs, no hang"),
    Case("alias", "CNAME", "NOERROR", Kind.ANSWER, True,
         answer=["alias 3600 CNAME www"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="qtype CNAME gets the CNAME itself, not followed"),
    Case("todeleg", "A", "NOERROR", Kind.DELEGATION, True,
         answer=["todeleg 3600 CNAME host.child"], authority=CHILD_REFERRAL_NS,
         glue=["ns1.child 3600 A 192.0.2.53"], additional=["ns.sib 3600 A 192.0.2.77", "ns2 3600 A 192.0.2.2"],
         why="a chain into a delegation: the (authoritative) CNAME plus the referral"),
    # -- DNAME (RFC 6672) -----------------------------------------------------------------
    Case("www.legacy", "A", "NOERROR", Kind.ANSWER, True,
         answer=["legacy 3600 DNAME other.test.", "www.legacy 3600 CNAME www.other.test.",
                 "www.other.test. 3600 A 192.0.2.200"],
         authority=OTHER_NS,
         why="DNAME, a CNAME synthesized for the qname with the DNAME's TTL, the target resolved"),
    Case("www.legacy", "CNAME", "NOERROR", Kind.ANSWER, True,
         answer=["legacy 3600 DNAME other.test.", "www.legacy 3600 CNAME www.other.test."],
         why="qtype CNAME below a DNAME: the DNAME and the synthesized CNAME answer it, alone "
             "(RFC 6672 3.2; no NS, no addresses, as NSD and Knot)"),
    Case("www.legacy", "ANY", "NOERROR", Kind.ANSWER, True,
         answer=["legacy 3600 DNAME other.test.", "www.legacy 3600 CNAME www.other.test."],
         authority=APEX_NS, additional=NS_ADDRESSES,
         why="ANY below a DNAME: the synthesized CNAME answers it (RFC 1034 4.3.2 3a), with the zone's NS"),
    Case("a.b.legacy", "A", "NXDOMAIN", Kind.NXDOMAIN, True,
         answer=["legacy 3600 DNAME other.test.", "a.b.legacy 3600 CNAME a.b.other.test."],
         authority=[OTHER_SOA_NEG], why="DNAME rewrites every name below its owner; the target does not exist"),
    Case("legacy", "DNAME", "NOERROR", Kind.ANSWER, True,
         answer=["legacy 3600 DNAME other.test."], authority=APEX_NS, additional=NS_ADDRESSES,
         why="the DNAME owner itself is not rewritten"),
    Case("legacy", "A", "NOERROR", Kind.NODATA, True, authority=[SOA_NEG],
         why="the DNAME owner has no A: NODATA, not a rewrite"),
    # -- wildcards (RFC 4592) -------------------------------------------------------------
    Case("host.wild", "A", "NOERROR", Kind.ANSWER, True,
         answer=["host.wild 3600 A 192.0.2.99"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="synthesized from *.wild, owned by the query name"),
    Case("a.b.wild", "TXT", "NOERROR", Kind.ANSWER, True,
         answer=['a.b.wild 3600 TXT "wild"'], authority=APEX_NS, additional=NS_ADDRESSES,
         why="the closest encloser is wild: *.wild matches several labels"),
    Case("host.wild", "MX", "NOERROR", Kind.NODATA, True, authority=[SOA_NEG],
         why="wildcard NODATA: the type is absent at the source of synthesis"),
    Case("exists.wild", "TXT", "NOERROR", Kind.NODATA, True, authority=[SOA_NEG],
         why="an existing name is not covered by the wildcard"),
    Case("x.exists.wild", "A", "NXDOMAIN", Kind.NXDOMAIN, True, authority=[SOA_NEG],
         why="the closest encloser is exists.wild, which has no *: NXDOMAIN"),
    Case("ent.wild", "A", "NOERROR", Kind.NODATA, True, authority=[SOA_NEG],
         why="an empty non-terminal exists: NODATA, not NXDOMAIN, not the wildcard"),
    Case("x.ent.wild", "A", "NXDOMAIN", Kind.NXDOMAIN, True, authority=[SOA_NEG],
         why="an ENT is a closest encloser: no *.ent.wild, so NXDOMAIN"),
    Case("*.wild", "A", "NOERROR", Kind.ANSWER, True,
         answer=["*.wild 3600 A 192.0.2.99"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="asking for the wildcard owner itself"),
    Case("x.cn", "A", "NOERROR", Kind.ANSWER, True,
         answer=["x.cn 3600 CNAME www", "www 3600 A 192.0.2.80"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="a wildcard CNAME is synthesized for the qname and followed"),
    # -- ADDITIONAL section processing ----------------------------------------------------
    Case("@", "MX", "NOERROR", Kind.ANSWER, True,
         answer=["@ 3600 MX 10 mail", "@ 3600 MX 20 mail.elsewhere.test."], authority=APEX_NS,
         additional=["mail 3600 A 192.0.2.25", *NS_ADDRESSES],
         why="MX targets' addresses from served zones; nothing for an unserved target"),
    Case("_sip._udp", "SRV", "NOERROR", Kind.ANSWER, True,
         answer=["_sip._udp 3600 SRV 0 5 5060 sip"], authority=APEX_NS,
         additional=["sip 3600 A 192.0.2.50", *NS_ADDRESSES], why="SRV target address in ADDITIONAL"),
    Case("mx2", "MX", "NOERROR", Kind.ANSWER, True,
         answer=["mx2 3600 MX 10 ns1.child"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="glue below a cut is not authoritative: never ADDITIONAL of a positive answer"),
    # -- ANY ------------------------------------------------------------------------------
    Case("multi", "ANY", "NOERROR", Kind.ANSWER, True,
         answer=["multi 3600 A 192.0.2.81", 'multi 3600 TXT "two types"'], authority=APEX_NS,
         additional=NS_ADDRESSES, why="ANY gets every RRset at the name"),
    Case("nothing", "ANY", "NXDOMAIN", Kind.NXDOMAIN, True, authority=[SOA_NEG], why="ANY for no name"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_engine(case: Case) -> None:
    check(ENGINE, case)


MINIMAL_CASES = [
    Case("www", "A", "NOERROR", Kind.ANSWER, True, answer=["www 3600 A 192.0.2.80"],
         why="minimal responses: no NS in AUTHORITY, no ADDITIONAL"),
    Case("@", "MX", "NOERROR", Kind.ANSWER, True,
         answer=["@ 3600 MX 10 mail", "@ 3600 MX 20 mail.elsewhere.test."], why="no MX target addresses"),
    Case("host.child", "A", "NOERROR", Kind.DELEGATION, False,
         authority=CHILD_REFERRAL_NS, glue=["ns1.child 3600 A 192.0.2.53"],
         additional=["ns.sib 3600 A 192.0.2.77", "ns2 3600 A 192.0.2.2"],
         why="a referral still carries its glue"),
    Case("nothing", "A", "NXDOMAIN", Kind.NXDOMAIN, True, authority=[SOA_NEG], why="negative answers keep the SOA"),
]


@pytest.mark.parametrize("case", MINIMAL_CASES, ids=str)
def test_minimal_responses(case: Case) -> None:
    check(MINIMAL, case)


# additional_from="server": addresses from any zone the server holds (the default before it was "zone")
ANY_ZONE = Engine(ZONES, EngineOptions(additional_from="server"))
ANY_ZONE_CASES = [
    Case("www.sub", "A", "NOERROR", Kind.ANSWER, True,
         answer=["www.sub 600 A 192.0.2.61"], authority=["sub 600 NS ns1.sub", "sub 600 NS ns1"],
         additional=["ns1.sub 600 A 192.0.2.60", "ns1 3600 A 192.0.2.1", "ns1 3600 AAAA 2001:db8::1"],
         why="the child's NS host ns1.example.test. is looked up in the parent zone"),
    Case("toother", "A", "NOERROR", Kind.ANSWER, True,
         answer=["toother 3600 CNAME www.other.test.", "www.other.test. 3600 A 192.0.2.200"],
         authority=OTHER_NS, additional=NS_ADDRESSES,
         why="other.test.'s NS hosts looked up in example.test."),
    Case("mx2", "MX", "NOERROR", Kind.ANSWER, True,
         answer=["mx2 3600 MX 10 ns1.child"], authority=APEX_NS, additional=NS_ADDRESSES,
         why="still no glue below a cut for an MX target"),
]


@pytest.mark.parametrize("case", ANY_ZONE_CASES, ids=str)
def test_additional_from_any_zone(case: Case) -> None:
    check(ANY_ZONE, case)


def test_additional_from_is_checked() -> None:
    from fakens.errors import ConfigError

    with pytest.raises(ConfigError, match="additional_from"):
        EngineOptions(additional_from="anywhere")


def test_additional_addresses_are_every_a_then_every_aaaa() -> None:
    """The wire order: when a reply runs out of room, the IPv4 address of every host goes first
    (BIND and NSD order them so), in the order the hosts are named."""
    answer = lookup(ENGINE, "www", "A")
    assert [(r.name.to_text(), dns.rdatatype.to_text(r.rdtype)) for r in answer.additional] == [
        ("ns1.example.test.", "A"), ("ns2.example.test.", "A"), ("ns1.example.test.", "AAAA")]


SIGNED = Engine([Zone.from_text(PARENT + "@ DNSKEY 257 3 13 "
                                "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==\n"),
                 Zone.from_text(CHILD)])


@pytest.mark.parametrize("dnssec_ok", [True, False], ids=["do1", "do0"])
def test_referral_from_a_signed_zone_carries_the_ds_with_do(dnssec_ok: bool) -> None:
    """RFC 4035 3.1.4: a signed zone's referral carries the cut's DS when the query has DO=1;
    never with DO=0 (RFC 3225 3)."""
    ds = ["secure 3600 DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"]
    check(SIGNED, Case("www.secure", "A", "NOERROR", Kind.DELEGATION, False,
                       authority=["secure 3600 NS ns1", *(ds if dnssec_ok else [])],
                       additional=["ns1 3600 A 192.0.2.1", "ns1 3600 AAAA 2001:db8::1"], dnssec_ok=dnssec_ok))
    check(SIGNED, Case("secure", "DS", "NOERROR", Kind.ANSWER, True, answer=ds, dnssec_ok=dnssec_ok,
                       why="the DS query gets the DS, alone, with DO or without"))


def test_ds_at_an_apex_without_the_parent_is_nodata_from_the_child() -> None:
    """RFC 4035 3.1.4.1 and its Appendix B.8: a server for the child only answers NODATA (AA)."""
    check(Engine([Zone.from_text(CHILD)]),
          Case("sub", "DS", "NOERROR", Kind.NODATA, True, authority=[CHILD_SOA_NEG]))


def test_query_case_is_preserved_in_the_owner() -> None:
    exact = lookup(ENGINE, "WwW.Example.TEST.", "A")
    wild = lookup(ENGINE, "HoSt.WiLd.example.test.", "A")
    assert exact.answer[0].name.to_text() == "WwW.Example.TEST."
    assert wild.answer[0].name.to_text() == "HoSt.WiLd.example.test."


def test_any_rfc8482_gives_one_hinfo() -> None:
    answer = lookup(RFC8482, "multi", "ANY")
    assert answer.rcode == dns.rcode.NOERROR and answer.aa
    [rrset] = answer.answer
    assert rrset.name == dns.name.from_text("multi.example.test.")
    assert rrset.rdtype == dns.rdatatype.HINFO
    assert [(r.cpu, r.os) for r in rrset] == [(b"RFC8482", b"")]


def test_dname_at_the_apex() -> None:
    """RFC 6672 2.3: a DNAME may sit at a zone apex beside SOA and NS."""
    renamed = Zone.from_text("""
$ORIGIN old.test.
$TTL 300
@   SOA ns1.example.test. hostmaster.example.test. 1 7200 900 1209600 300
@   NS  ns1.example.test.
@   NS  ns2.example.test.
@   DNAME example.test.
""")
    engine = Engine([*ZONES, renamed])
    answer = engine.answer(dns.name.from_text("www.old.test."), dns.rdatatype.A)
    assert answer.kind is Kind.ANSWER and answer.aa
    assert records(answer.answer) == expected([
        "old.test. 300 DNAME example.test.", "www.old.test. 300 CNAME www", "www 3600 A 192.0.2.80"])
    apex = engine.answer(dns.name.from_text("old.test."), dns.rdatatype.SOA)
    assert apex.kind is Kind.ANSWER and apex.answer[0].rdtype == dns.rdatatype.SOA


def test_dname_substitution_too_long_is_yxdomain() -> None:
    """RFC 6672 2.2: a synthesized name longer than 255 octets gets YXDOMAIN."""
    long_target = ".".join(["t" * 60] * 3) + ".target.test."
    zone = Zone.from_text(f"""
$ORIGIN d.test.
$TTL 300
@   SOA ns1.example.test. hostmaster.example.test. 1 7200 900 1209600 300
@   NS  ns1.example.test.
@   NS  ns2.example.test.
far DNAME {long_target}
""")
    qname = dns.name.from_text(".".join(["q" * 30] * 2) + ".far.d.test.")
    answer = Engine([zone]).answer(qname, dns.rdatatype.A)
    assert answer.rcode == dns.rcode.YXDOMAIN and answer.aa
    assert [r.rdtype for r in answer.answer] == [dns.rdatatype.DNAME]


# -- CHAOS ------------------------------------------------------------------------------

@pytest.mark.parametrize("qname", ["id.server.", "hostname.bind."])
def test_chaos_identity(qname: str) -> None:
    engine = Engine(ZONES, EngineOptions(identity="ns-a.lab"))
    answer = lookup(engine, qname, "TXT", "CH")
    assert answer.rcode == dns.rcode.NOERROR and answer.aa
    assert records(answer.answer) == [f"{qname} 0 CH TXT \"ns-a.lab\""]


def test_chaos_version() -> None:
    answer = lookup(Engine(ZONES, EngineOptions(version="9.18-fake")), "version.bind.", "TXT", "CH")
    assert records(answer.answer) == ['version.bind. 0 CH TXT "9.18-fake"']
    hidden = lookup(Engine(ZONES, EngineOptions(version=None)), "version.bind.", "TXT", "CH")
    assert hidden.rcode == dns.rcode.REFUSED and hidden.answer == []


@pytest.mark.parametrize(("qname", "qtype", "qclass"), [
    ("nothing.bind.", "TXT", "CH"),
    ("www.example.test.", "A", "CH"),
    ("www.example.test.", "A", "HS"),
    ("www.example.test.", "A", "NONE"),
])
def test_other_classes_and_chaos_names_are_refused(qname: str, qtype: str, qclass: str) -> None:
    answer = lookup(ENGINE, qname, qtype, qclass)
    assert answer.rcode == dns.rcode.REFUSED and answer.kind is Kind.REFUSED and answer.answer == []


# -- zones that are wrong on purpose (FAULTS.md, last section) ---------------------------

HEAD = """
$ORIGIN bad.test.
$TTL 300
@    SOA ns1 hostmaster 1 7200 900 1209600 300
"""
TWO_NS = """
@    NS  ns1
@    NS  ns2
ns1  A   192.0.2.1
ns2  A   192.0.2.2
"""


@dataclass
class Broken:
    """A deliberately wrong zone: the warning it loads with and how it is served."""

    name: str
    body: str
    code: str
    cases: list[tuple[str, str, str, list[str]]]  # qname, qtype, rcode, answer (relative to bad.test.)

    def __str__(self) -> str:
        return self.name


BROKEN = [
    Broken("cname-and-other-data", TWO_NS + "www CNAME ns1\nwww TXT \"also\"\n", "cname-and-other-data", [
        ("www", "TXT", "NOERROR", ['www 300 TXT "also"']),
        ("www", "A", "NOERROR", ["www 300 CNAME ns1", "ns1 300 A 192.0.2.1"]),
    ]),
    Broken("cname-at-apex", TWO_NS + "@ CNAME other.test.\n", "cname-at-apex", [
        ("@", "SOA", "NOERROR", ["@ 300 SOA ns1 hostmaster 1 7200 900 1209600 300"]),
        ("@", "NS", "NOERROR", ["@ 300 NS ns1", "@ 300 NS ns2"]),
        ("@", "A", "NOERROR", ["@ 300 CNAME other.test."]),
    ]),
    Broken("mx-to-cname", TWO_NS + "@ MX 10 mx\nmx CNAME ns1\n", "target-is-cname", [
        ("@", "MX", "NOERROR", ["@ 300 MX 10 mx"]),
        ("mx", "A", "NOERROR", ["mx 300 CNAME ns1", "ns1 300 A 192.0.2.1"]),
    ]),
    Broken("ns-to-cname", "@ NS ns1\n@ NS nsalias\nns1 A 192.0.2.1\nnsalias CNAME ns1\n", "target-is-cname", [
        ("@", "NS", "NOERROR", ["@ 300 NS ns1", "@ 300 NS nsalias"]),
        ("nsalias", "A", "NOERROR", ["nsalias 300 CNAME ns1", "ns1 300 A 192.0.2.1"]),
    ]),
    Broken("ptr-to-cname", TWO_NS + "ptr PTR alias\nalias CNAME ns1\n", "target-is-cname", [
        ("ptr", "PTR", "NOERROR", ["ptr 300 PTR alias"]),
    ]),
    Broken("cname-chain", TWO_NS + "a CNAME b\nb CNAME c\nc CNAME ns1\n", "cname-chain", [
        ("a", "A", "NOERROR", ["a 300 CNAME b", "b 300 CNAME c", "c 300 CNAME ns1", "ns1 300 A 192.0.2.1"]),
    ]),
    Broken("cname-loop", TWO_NS + "a CNAME b\nb CNAME a\n", "cname-loop", [
        ("a", "A", "NOERROR", ["a 300 CNAME b", "b 300 CNAME a"]),
        ("b", "AAAA", "NOERROR", ["b 300 CNAME a", "a 300 CNAME b"]),
    ]),
    Broken("cname-self-loop", TWO_NS + "a CNAME a\n", "cname-loop", [
        ("a", "A", "NOERROR", ["a 300 CNAME a"]),
    ]),
    Broken("ns-no-address", "@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\n", "ns-no-address", [
        ("ns2", "A", "NXDOMAIN", []),
        ("@", "NS", "NOERROR", ["@ 300 NS ns1", "@ 300 NS ns2"]),
    ]),
    Broken("too-few-ns", "@ NS ns1\nns1 A 192.0.2.1\n", "too-few-ns", [
        ("@", "NS", "NOERROR", ["@ 300 NS ns1"]),
    ]),
    Broken("too-many-ns", "".join(f"@ NS ns{i}\nns{i} A 192.0.2.{i}\n" for i in range(1, 9)), "too-many-ns", [
        ("@", "NS", "NOERROR", [f"@ 300 NS ns{i}" for i in range(1, 9)]),
    ]),
    Broken("ttl-zero", TWO_NS + "www 0 A 192.0.2.80\n", "ttl-zero", [
        ("www", "A", "NOERROR", ["www 0 A 192.0.2.80"]),
    ]),
    Broken("underscore-label", TWO_NS + "my_host A 192.0.2.9\n", "bad-hostname", [
        ("my_host", "A", "NOERROR", ["my_host 300 A 192.0.2.9"]),
    ]),
    Broken("all-digit-label", TWO_NS + "123 A 192.0.2.123\n", "bad-hostname", [
        ("123", "A", "NOERROR", ["123 300 A 192.0.2.123"]),
    ]),
    Broken("no-ns", "www A 192.0.2.80\n", "no-ns", [
        ("www", "A", "NOERROR", ["www 300 A 192.0.2.80"]),
        ("@", "NS", "NOERROR", []),
    ]),
]


def bad_expected(lines: list[str]) -> list[str]:
    return expected(lines, dns.name.from_text("bad.test."))


@pytest.mark.parametrize("broken", BROKEN, ids=str)
def test_broken_zone_loads_with_a_warning_and_is_served(broken: Broken) -> None:
    zone = Zone.from_text(HEAD + broken.body)
    assert broken.code in {w.code for w in zone.warnings}
    engine = Engine([zone])
    for qname, qtype, rcode, answer in broken.cases:
        got = engine.answer(dns.name.from_text(qname, zone.origin), dns.rdatatype.from_text(qtype))
        assert (qname, qtype, dns.rcode.to_text(got.rcode)) == (qname, qtype, rcode)
        assert got.aa
        assert records(got.answer) == bad_expected(answer), f"{qname}/{qtype}"


def test_broken_soa_rname() -> None:
    zone = Zone.from_text("$ORIGIN bad.test.\n@ 300 SOA ns1 hostmaster. 1 7200 900 1209600 300\n" + TWO_NS)
    assert "soa-rname" in {w.code for w in zone.warnings}
    answer = Engine([zone]).answer(zone.origin, dns.rdatatype.SOA)
    assert answer.aa and records(answer.answer) == bad_expected(["@ 300 SOA ns1 hostmaster. 1 7200 900 1209600 300"])


def test_no_ns_zone_answers_without_authority_ns() -> None:
    zone = Zone.from_text(HEAD + "www A 192.0.2.80\n")
    answer = Engine([zone]).answer(dns.name.from_text("www.bad.test."), dns.rdatatype.A)
    assert answer.authority == [] and answer.additional == []


def test_remembered_additional_is_each_engines_own() -> None:
    """The additional addresses an answer's version remembers are those additional_from="zone"
    finds: an engine of the same zones with "server" (or minimal responses) gets its own,
    whichever engine answered first, and a second answer is the same as the first."""
    zone_case = next(c for c in CASES if c.qname == "www.sub" and c.qtype == "A")
    server_case = next(c for c in ANY_ZONE_CASES if c.qname == "www.sub")
    minimal_case = Case("www.sub", "A", "NOERROR", Kind.ANSWER, True, answer=["www.sub 600 A 192.0.2.61"])
    for order in ([ENGINE, ANY_ZONE, MINIMAL], [ANY_ZONE, MINIMAL, ENGINE], [MINIMAL, ENGINE, ANY_ZONE]):
        for engine in order + order:
            check(engine, {ENGINE: zone_case, ANY_ZONE: server_case, MINIMAL: minimal_case}[engine])
