"""The fast encoder writes exactly the bytes dnspython's renderer writes, or steps aside.

Every reply fakens sends goes through :func:`fakens.wire.encode`, which uses the fast
encoder when it can; here each case is encoded both ways and compared byte for byte
(names compressed at the same offsets), over every record type fakens loads, in every
section, with and without OPT, and where the reply does not fit.
"""

import random

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from helpers.every_type import EVERY_TYPE_ZONE

from fakens import Zone
from fakens.answer import Answer, Kind
from fakens.fastwire import encode_fast
from fakens.wire import Opt, Question, encode, encode_reference

ZONE = EVERY_TYPE_ZONE

NOT_MIRRORED = {dns.rdatatype.AMTRELAY, dns.rdatatype.IPSECKEY}


def every_rrset() -> list[dns.rrset.RRset]:
    return Zone.from_text(ZONE).current.rrsets()


def spellings(name: dns.name.Name) -> list[dns.name.Name]:
    """The name as stored, and with its case changed (compression is case-blind, the bytes are not)."""
    text = name.to_text()
    return [name, dns.name.from_text(text.upper()), dns.name.from_text(text.swapcase())]


def opts() -> list[Opt | None]:
    cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, bytes(range(24)))
    return [None, Opt(1232), Opt(4096, do=True), Opt(1232, options=[cookie])]


def both(question: Question | None, answer: Answer | None, limit: int, opt: Opt | None,
         rcode: int = dns.rcode.NOERROR, flags: int = dns.flags.QR | dns.flags.AA) -> tuple[bytes, bytes]:
    """(what encode sends, what dnspython's renderer alone makes)."""
    copy = Opt(opt.payload, opt.do, list(opt.options)) if opt is not None else None
    return (encode(4242, flags, rcode, question, answer, limit, opt),
            encode_reference(4242, flags, rcode, question, answer, limit, copy))


@pytest.mark.parametrize("rrset", every_rrset(), ids=lambda r: f"{r.name}/{dns.rdatatype.to_text(r.rdtype)}")
def test_every_record_type_in_every_section_is_written_as_dnspython_writes_it(rrset: dns.rrset.RRset) -> None:
    rrsets = every_rrset()
    apex_ns = next(r for r in rrsets if r.rdtype == dns.rdatatype.NS and r.name == rrsets[0].name)
    soa = rrsets[0]
    mirrored = rrset.rdtype not in NOT_MIRRORED
    for qname in spellings(rrset.name):
        question = Question(qname, dns.rdatatype.RdataType.make(rrset.rdtype), dns.rdataclass.IN)
        shapes = [
            Answer(Kind.ANSWER, aa=True, answer=[rrset], authority=[apex_ns]),
            Answer(Kind.ANSWER, aa=True, answer=[soa], authority=[rrset]),
            Answer(Kind.ANSWER, aa=True, answer=[apex_ns], glue=[rrset], additional=[rrset]),
        ]
        for answer in shapes:
            for opt in opts():
                sent, reference = both(question, answer, 65535, opt)
                assert sent == reference
                fast = encode_fast(4242, dns.flags.QR | dns.flags.AA, dns.rcode.NOERROR, question, answer, 65535,
                                   Opt(opt.payload, opt.do, list(opt.options)) if opt else None)
                assert (fast is not None) == mirrored, "the fast encoder stepped aside for a type it mirrors"
                assert dns.message.from_wire(sent).answer == answer.answer


@pytest.mark.parametrize("data", ['""', '"' + "x" * 255 + '"', '"a" "" "b c"', '"\\000\\255" x', '"v=spf1 -all"'])
@pytest.mark.parametrize("rdtype", ["TXT", "SPF"])
def test_text_strings_of_every_length_are_written_as_dnspython_writes_them(rdtype: str, data: str) -> None:
    """TXT-like data is written by the fast encoder itself (each string after its length byte)."""
    rrset = dns.rrset.from_text("t.example.", 300, "IN", rdtype, data)
    question = Question(rrset.name, dns.rdatatype.RdataType.make(rrset.rdtype), dns.rdataclass.IN)
    answer = Answer(Kind.ANSWER, aa=True, answer=[rrset])
    for opt in opts():
        sent, reference = both(question, answer, 65535, opt)
        assert sent == reference
        assert encode_fast(4242, dns.flags.QR | dns.flags.AA, dns.rcode.NOERROR, question, answer, 65535,
                           Opt(opt.payload, opt.do, list(opt.options)) if opt else None) is not None


def test_random_mixes_compress_at_the_same_offsets() -> None:
    rrsets = [r for r in every_rrset() if r.rdtype not in NOT_MIRRORED]
    chooser = random.Random(1035)
    for _ in range(400):
        picked = chooser.sample(rrsets, 8)
        answer = Answer(Kind.ANSWER, aa=True, answer=picked[:3], authority=picked[3:5], additional=picked[5:])
        qname = chooser.choice(spellings(picked[0].name))
        question = Question(qname, dns.rdatatype.RdataType.make(picked[0].rdtype), dns.rdataclass.IN)
        sent, reference = both(question, answer, 65535, chooser.choice(opts()))
        assert sent == reference


@pytest.mark.parametrize("rcode", [dns.rcode.NXDOMAIN, dns.rcode.REFUSED, dns.rcode.BADVERS])
def test_errors_and_extended_rcodes(rcode: int) -> None:
    question = Question(dns.name.from_text("nowhere.wire.test."), dns.rdatatype.A, dns.rdataclass.IN)
    soa = every_rrset()[0]
    for opt in opts():
        if rcode > 15 and opt is None:
            continue
        sent, reference = both(question, Answer(Kind.NXDOMAIN, authority=[soa]), 1232, opt, rcode=rcode)
        assert sent == reference
    sent, reference = both(None, None, 512, Opt(1232), rcode=dns.rcode.FORMERR)  # no question at all
    assert sent == reference


def test_what_does_not_fit_is_left_to_the_reference_encoder() -> None:
    owner = dns.name.from_text("big.wire.test.")
    big = dns.rrset.from_text_list(owner, 300, "IN", "A", [f"198.51.100.{i}" for i in range(60)])
    ns = every_rrset()[1]
    question = Question(owner, dns.rdatatype.A, dns.rdataclass.IN)
    answer = Answer(Kind.ANSWER, aa=True, answer=[big], authority=[ns])
    assert encode_fast(1, dns.flags.QR, 0, question, answer, 512, None) is None
    sent, reference = both(question, answer, 512, None)
    assert sent == reference
    reply = dns.message.from_wire(sent)
    assert reply.flags & dns.flags.TC  # 60 addresses do not fit in 512 octets
    sent, reference = both(question, answer, 1232, Opt(1232))
    assert sent == reference and not dns.message.from_wire(sent).flags & dns.flags.TC


def test_a_reply_past_16_kib_stops_adding_compression_targets_where_dnspython_does() -> None:
    rrsets = []
    for i in range(700):
        owner = dns.name.from_text(f"host{i}.sub{i % 7}.wire.test.")
        rrsets.append(dns.rrset.from_text_list(owner, 300, "IN", "MX", [f"10 mx{i}.sub{i % 5}.wire.test."]))
    question = Question(rrsets[0].name, dns.rdatatype.MX, dns.rdataclass.IN)
    answer = Answer(Kind.ANSWER, aa=True, answer=rrsets)
    sent, reference = both(question, answer, 65535, None)
    assert len(sent) > 0x4000 and sent == reference
    assert len(dns.message.from_wire(sent).answer[0]) == 1  # each RRset its own owner


def test_tails_written_from_templates_are_dnspythons_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AUTHORITY and ADDITIONAL sections written again from a template (pointers moved) are
    the bytes dnspython writes, after questions and answers that hold the tail's names or
    parts of them (in any case) and after those that do not; the template is used, not just made,
    and its bytes placed with their pointers set are kept and written again."""
    from fakens import fastwire

    used = []
    placed_again = []  # written from a placement kept
    placements = []  # how many placements the template keeps after each write
    write = fastwire.TailTemplate.write

    def counted(self: fastwire.TailTemplate, out: bytearray, compress: dict[bytes, int]) -> bool:
        kept = len(self.moved)
        done = write(self, out, compress)
        used.append(done)
        placed_again.append(done and len(self.moved) == kept)
        placements.append(len(self.moved))
        return done

    monkeypatch.setattr(fastwire.TailTemplate, "write", counted)
    fastwire._tails.clear()
    zone = Zone.from_text(ZONE)
    version = zone.current
    rrsets = [r for r in version.rrsets() if r.rdtype not in NOT_MIRRORED]
    origin = zone.origin
    apex_ns = version.get(origin, dns.rdatatype.NS)
    ns1_a = version.get(dns.name.from_text("ns1.wire.test."), dns.rdatatype.A)
    ns1_aaaa = version.get(dns.name.from_text("ns1.wire.test."), dns.rdatatype.AAAA)
    tails = [([apex_ns], [ns1_a, ns1_aaaa]), ([rrsets[0]], []), ([apex_ns], [])]
    names = ["www.wire.test.", "NS1.wire.test.", "ns1.WIRE.test.", "x.ns1.wire.test.", "elsewhere.test.",
             "ns2.elsewhere.test.", "a.b.c.d.e.f.wire.test.", "test.", "wire.test.", "Wire.Test."]
    chooser = random.Random(1034)
    for _ in range(300):
        authority, additional = chooser.choice(tails)
        answer_rrsets = chooser.sample(rrsets, chooser.choice([0, 1, 2]))
        answer = Answer(Kind.ANSWER, aa=True, answer=answer_rrsets, authority=list(authority),
                        additional=list(additional))
        question = Question(dns.name.from_text(chooser.choice(names)), dns.rdatatype.A, dns.rdataclass.IN)
        sent, reference = both(question, answer, 65535, chooser.choice(opts()))
        assert sent == reference, (question, answer_rrsets)
    assert used.count(True) >= 50, "the templates were not used"
    assert used.count(False) > 0, "no question held a name that makes a template unfit"
    assert max(placements) > 1, "no template was written at two places"
    assert placed_again.count(True) > 0, "no placement was written again from what was kept"


def test_signed_answers_are_dnspythons_bytes_each_time_their_signatures_are_copied() -> None:
    """A DO=1 answer of a signed zone carries RRSIG RRsets copied for it (``rrsig_rrset``),
    owned by the name served (a wildcard's expansion) with the served TTL; the fast encoder
    keeps each signature record's bytes and writes them again for the next copy. Every answer,
    asked twice (the second written from the kept bytes) and in another case, is the bytes
    dnspython writes: positive, wildcard, NXDOMAIN, NODATA, referral-free apex answers and
    the DNSKEY set."""
    from fakens import fastwire
    from fakens.dnssec import sign_zone
    from fakens.engine import Engine

    zone = Zone.from_text(ZONE)
    sign_zone(zone)
    engine = Engine([zone])
    fastwire._signatures.clear()
    asked = [("web.wire.test.", "A"), ("x.wild.wire.test.", "A"), ("y.z.wild.wire.test.", "MX"),
             ("nx.wire.test.", "A"), ("web.wire.test.", "TXT"), ("wire.test.", "NS"), ("wire.test.", "DNSKEY"),
             ("wire.test.", "SOA"), ("mail.wire.test.", "MX"), ("srv.wire.test.", "SRV")]
    signed_answers = 0
    for name, qtype in asked * 2:
        for spelled in (name, name.upper()):
            qname = dns.name.from_text(spelled)
            rdtype = dns.rdatatype.from_text(qtype)
            answer = engine.answer(qname, rdtype, dnssec_ok=True)
            sections = answer.answer + answer.authority + answer.additional
            signed_answers += any(r.rdtype == dns.rdatatype.RRSIG for r in sections)
            sent, reference = both(Question(qname, rdtype, dns.rdataclass.IN), answer, 65535, Opt(1232, do=True))
            assert sent == reference, (spelled, qtype)
            assert dns.message.from_wire(sent).flags & dns.flags.QR
    assert signed_answers == len(asked) * 4
    assert fastwire._signatures, "no signature's bytes were kept"


def test_rrsets_made_for_one_answer_do_not_push_out_the_zones_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream of distinct wildcard DO=1 answers (each expansion a new RRset, each RRSIG RRset
    a copy) fills only the parts of RRsets written once: the zone's own RRsets written again and
    again (the apex NS) stay kept, and what is kept stays bounded; every reply is dnspython's."""
    from fakens import fastwire
    from fakens.dnssec import sign_zone
    from fakens.engine import Engine

    monkeypatch.setattr(fastwire, "MAX_CACHED_RRSETS", 16)
    fastwire._parts.clear()
    fastwire._new_parts.clear()
    zone = Zone.from_text(ZONE)
    sign_zone(zone)
    engine = Engine([zone])
    apex_ns = zone.current.get(zone.origin, dns.rdatatype.NS)
    for i in range(200):
        qname = dns.name.from_text(f"n{i}.wild.wire.test.")
        answer = engine.answer(qname, dns.rdatatype.A, dnssec_ok=True)
        assert any(r is apex_ns for r in answer.authority)
        sent, reference = both(Question(qname, dns.rdatatype.A, dns.rdataclass.IN), answer, 65535, Opt(1232, do=True))
        assert sent == reference
        if i == 1:
            kept = fastwire._parts[id(apex_ns)]
    assert fastwire._parts[id(apex_ns)] is kept  # (the same parts since the second answer)
    assert len(fastwire._parts) <= 16 and len(fastwire._new_parts) <= 16
