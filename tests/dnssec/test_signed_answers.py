"""Answers of a signed zone over real sockets, checked with dnspython's validation code:
RRSIGs only for DO=1, DNSKEY at the apex, CDS/CDNSKEY, signed DS or the proof of no DS in
referrals, NSEC and NSEC3 proofs for NXDOMAIN, NODATA and wildcards (the hashes cover)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import dns.dnssec
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.NSEC
import dns.rdtypes.ANY.NSEC3
import pytest

import fakens
from fakens.dnssec import DnssecPolicy, Nsec3Params, sign_zone

from .conftest import ORIGIN, ZONE, ask, dnskeys, rrsigs, validate_section

NSEC, NSEC3 = dns.rdatatype.NSEC, dns.rdatatype.NSEC3
POLICIES = {
    "nsec-13": DnssecPolicy(),
    "nsec3-13": DnssecPolicy(nsec3=Nsec3Params(iterations=0, salt=b"")),
    "nsec3-salt-15-csk": DnssecPolicy(algorithm=15, csk=True, nsec3=Nsec3Params(iterations=2, salt=bytes.fromhex("aabb"))),
}
Make = Callable[..., fakens.Server]


def _name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def _covers(owner: dns.name.Name, following: dns.name.Name, name: dns.name.Name) -> bool:
    """NSEC span: owner < name < next in canonical order (the last wraps to the apex)."""
    if owner < following:
        return owner < name < following
    return name > owner or name < following


def _nsec3_covers(rrset: dns.rrset.RRset, name: dns.name.Name, params: Nsec3Params) -> bool:
    rdata = rrset[0]
    assert isinstance(rdata, dns.rdtypes.ANY.NSEC3.NSEC3)
    owner = rrset.name.labels[0].decode().upper()
    following = base64.b32hexencode(rdata.next).decode()
    hashed = dns.dnssec.nsec3_hash(name, params.salt, params.iterations, 1)
    if owner < following:
        return owner < hashed < following
    return hashed > owner or hashed < following


def _nsec3_matches(rrset: dns.rrset.RRset, name: dns.name.Name, params: Nsec3Params) -> bool:
    return rrset.name.labels[0].decode().upper() == dns.dnssec.nsec3_hash(name, params.salt, params.iterations, 1)


def _denial(message: dns.message.Message, rdtype: int) -> list[dns.rrset.RRset]:
    return [r for r in message.authority if r.rdtype == rdtype]


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_positive_answer_validates_and_do0_has_no_rrsig(signed_server: Make, policy: DnssecPolicy) -> None:
    server = signed_server(policy)
    keyring = dnskeys(server)
    reply = ask(server, "www.example.test.", "A")
    assert [r.rdtype for r in reply.answer] == [dns.rdatatype.A, dns.rdatatype.RRSIG]
    assert len(validate_section(reply.answer, keyring)) == 1
    validate_section(reply.authority, keyring)
    validate_section(reply.additional, keyring)
    plain = ask(server, "www.example.test.", "A", do=False)
    assert not rrsigs(plain)
    assert [r.rdtype for r in plain.answer] == [dns.rdatatype.A]
    again = ask(server, "www.example.test.", "A")  # the fast path keeps DO=1 and DO=0 apart
    assert rrsigs(again) and again.answer == reply.answer


def test_dnskey_cds_cdnskey_at_the_apex(signed_server: Make) -> None:
    server = signed_server()
    zone = server.engine.zones[ORIGIN]
    assert zone.signer is not None
    keyring = dnskeys(server)
    assert {k.flags for k in keyring[ORIGIN]} == {256, 257}
    for rdtype in ("CDS", "CDNSKEY"):
        reply = ask(server, "example.test.", rdtype)
        validate_section(reply.answer, keyring)
        sig = next(r for r in reply.answer if r.rdtype == dns.rdatatype.RRSIG)
        assert sig[0].key_tag == zone.signer.ksks[0].key_tag  # signed by the KSK
    cds = ask(server, "example.test.", "CDS").answer[0]
    assert cds[0].to_text() == dns.dnssec.make_ds(ORIGIN, zone.signer.ksks[0].dnskey, "SHA256").to_text()


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_nxdomain_proof(signed_server: Make, policy: DnssecPolicy) -> None:
    server = signed_server(policy)
    keyring = dnskeys(server)
    reply = ask(server, "nope.example.test.", "A")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    validated = validate_section(reply.authority, keyring)
    qname = _name("nope.example.test.")
    if policy.nsec3 is None:
        nsecs = _denial(reply, NSEC)
        assert any(_covers(r.name, r[0].next, qname) for r in nsecs)
        assert any(_covers(r.name, r[0].next, _name("*.example.test.")) for r in nsecs)
    else:
        params = policy.nsec3
        nsec3s = _denial(reply, NSEC3)
        assert any(_nsec3_matches(r, ORIGIN, params) for r in nsec3s)  # the closest encloser
        assert any(_nsec3_covers(r, qname, params) for r in nsec3s)  # the next closer name
        assert any(_nsec3_covers(r, _name("*.example.test."), params) for r in nsec3s)  # no wildcard
        assert all(r[0].iterations == params.iterations and r[0].salt == params.salt for r in nsec3s)
    assert {r.rdtype for r in validated} >= {dns.rdatatype.SOA}


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_nodata_proof(signed_server: Make, policy: DnssecPolicy) -> None:
    server = signed_server(policy)
    keyring = dnskeys(server)
    for qname, asked in (("www.example.test.", "MX"), ("b.ent.example.test.", "A")):
        reply = ask(server, qname, asked)
        assert reply.rcode() == dns.rcode.NOERROR and not reply.answer
        validate_section(reply.authority, keyring)
        name = _name(qname)
        if policy.nsec3 is None:
            nsec = _denial(reply, NSEC)[0]
            if nsec.name == name:
                assert not nsec[0].windows or dns.rdatatype.MX not in _types(nsec[0])
                assert dns.rdatatype.A in _types(nsec[0])
            else:  # an empty non-terminal: covered, the next name below it
                assert _covers(nsec.name, nsec[0].next, name) and nsec[0].next.is_subdomain(name)
        else:
            nsec3 = _denial(reply, NSEC3)
            assert len(nsec3) == 1 and _nsec3_matches(nsec3[0], name, policy.nsec3)
            assert dns.rdatatype.from_text(asked) not in _types(nsec3[0][0])


def _types(rdata: dns.rdtypes.ANY.NSEC.NSEC | dns.rdtypes.ANY.NSEC3.NSEC3) -> set[int]:
    return {int(t) for t in dns.rdtypes.ANY.NSEC.Bitmap(rdata.windows).to_text().split() for t in [dns.rdatatype.from_text(t)]}


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_wildcard_answer_and_wildcard_nodata(signed_server: Make, policy: DnssecPolicy) -> None:
    server = signed_server(policy)
    keyring = dnskeys(server)
    qname = _name("anything.wild.example.test.")
    reply = ask(server, qname.to_text(), "A")
    validate_section(reply.answer, keyring)  # dnspython rebuilds the wildcard owner from the labels count
    sig = next(r for r in reply.answer if r.rdtype == dns.rdatatype.RRSIG)
    assert sig[0].labels == 3 and sig.name == qname
    validate_section(reply.authority, keyring)
    if policy.nsec3 is None:
        assert any(_covers(r.name, r[0].next, qname) for r in _denial(reply, NSEC))
    else:
        assert any(_nsec3_covers(r, qname, policy.nsec3) for r in _denial(reply, NSEC3))
    nodata = ask(server, qname.to_text(), "MX")
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    validate_section(nodata.authority, keyring)
    wild = _name("*.wild.example.test.")
    if policy.nsec3 is None:
        nsecs = _denial(nodata, NSEC)
        assert any(_covers(r.name, r[0].next, qname) for r in nsecs)
        assert any(r.name == wild and dns.rdatatype.MX not in _types(r[0]) for r in nsecs)
    else:
        nsec3s = _denial(nodata, NSEC3)
        assert any(_nsec3_matches(r, wild, policy.nsec3) for r in nsec3s)
        assert any(_nsec3_matches(r, _name("wild.example.test."), policy.nsec3) for r in nsec3s)
        assert any(_nsec3_covers(r, qname, policy.nsec3) for r in nsec3s)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_referral_without_ds_proves_it(signed_server: Make, policy: DnssecPolicy) -> None:
    server = signed_server(policy)
    keyring = dnskeys(server)
    reply = ask(server, "www.sub.example.test.", "A")
    assert not reply.answer
    assert dns.rdatatype.DS not in {r.rdtype for r in reply.authority}
    validate_section(reply.authority, keyring, unsigned=(dns.rdatatype.NS,))
    cut = _name("sub.example.test.")
    if policy.nsec3 is None:
        nsec = next(r for r in _denial(reply, NSEC) if r.name == cut)
        assert _types(nsec[0]) == {dns.rdatatype.NS, dns.rdatatype.RRSIG, NSEC}
    else:
        nsec3 = _denial(reply, NSEC3)
        assert _nsec3_matches(nsec3[0], cut, policy.nsec3) and _types(nsec3[0][0]) == {dns.rdatatype.NS}
    assert not [r for r in reply.additional if r.rdtype == dns.rdatatype.RRSIG]  # glue is not signed


def test_referral_with_ds_signed_and_ds_query(signed_server: Make) -> None:
    zone = fakens.Zone.from_file(ZONE)
    zone.edit(add=["sub 3600 DS 12345 13 2 " + "ab" * 32], bump_serial=False)
    server = signed_server(zone=zone)
    keyring = dnskeys(server)
    reply = ask(server, "www.sub.example.test.", "A")
    types = [r.rdtype for r in reply.authority]
    assert types == [dns.rdatatype.NS, dns.rdatatype.DS, dns.rdatatype.RRSIG]
    validate_section(reply.authority, keyring, unsigned=(dns.rdatatype.NS,))
    assert not _denial(reply, NSEC)
    ds = ask(server, "sub.example.test.", "DS")
    assert ds.flags & dns.flags.AA
    validate_section(ds.answer, keyring)
    unsigned_ds = ask(server, "sub.example.test.", "DS", do=False)
    assert not rrsigs(unsigned_ds)


def test_edit_resigns_only_what_changed(signed_server: Make) -> None:
    server = signed_server()
    zone = server.engine.zones[ORIGIN]
    signer = zone.signer
    assert signer is not None
    ask(server, "www.example.test.", "A")
    ask(server, "mail.example.test.", "A")
    made = signer.signed
    zone.edit(add=["new 300 A 192.0.2.99"])
    keyring = dnskeys(server)
    reply = ask(server, "new.example.test.", "A")
    validate_section(reply.answer, keyring)
    ask(server, "mail.example.test.", "A")  # unchanged: its signature is reused
    # made now: the new A, the new SOA (its serial), the DNSKEY set, and the zone's NS at most
    assert signer.signed - made <= 4
    signer.sign_all(zone.current)
    zone.edit(replace=["www 300 A 192.0.2.11"])
    assert signer.sign_all(zone.current) == 2  # the www A RRset and the SOA (new serial); NSEC chain unchanged


def test_server_dnssec_option_signs_and_links_parent(make_server: Make) -> None:
    parent = fakens.Zone.from_text("$ORIGIN test.\n@ 3600 SOA ns hm 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n"
                                   "example NS ns1.example\nns1.example A 127.0.0.12\n")
    child = fakens.Zone.from_file(ZONE)
    server = make_server([parent, child], dnssec=True)
    assert child.signer is not None and parent.signer is not None
    reply = ask(server, "example.test.", "DS")
    keyring = dnskeys(server, _name("test."))
    validate_section(reply.answer, keyring)
    assert reply.answer[0][0] == child.signer.ds_rdatas()[0]


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_kept_replies_never_outlive_the_signature_window(signed_server: Make, tcp: bool) -> None:
    # the signatures' window is real time (a validator's clock): the signer's clock is moved
    # here instead. A repeated DO=1 question is answered from the reply cache; once half the
    # lifetime has passed the engine signs anew, and the cache must not go on serving the old
    # signatures (which, past the lifetime, would have expired)
    lifetime = 1000
    server = signed_server(DnssecPolicy(lifetime=lifetime, inception_offset=-60))
    signer = server.engine.zones[ORIGIN].signer
    assert signer is not None
    now = [time.time()]
    signer.now = lambda: now[0]
    questions = [("www.example.test.", "A"), ("nothere.example.test.", "A"), ("www.example.test.", "TXT")]

    def windows(expected_start: float) -> None:
        for qname, rdtype in questions:
            for _ in range(2):  # the second from the cache
                reply = ask(server, qname, rdtype, tcp=tcp)
                sigs = rrsigs(reply)
                assert sigs, (qname, rdtype)
                for rrsig in (r for rrset in sigs for r in rrset):
                    assert (rrsig.inception, rrsig.expiration) == (int(expected_start) - 60, int(expected_start) + lifetime)
                keyring = dnskeys(server, now=now[0])
                for section in (reply.answer, reply.authority):
                    validate_section(section, keyring, now=now[0])

    start = now[0]
    windows(start)
    hits = server.pipeline.cache.hits
    assert hits >= len(questions)  # (the second asking of each was a kept reply)
    now[0] += lifetime * 0.4  # under half the lifetime: the same window, still from the cache
    windows(start)
    assert server.pipeline.cache.hits > hits
    now[0] += lifetime * 0.2  # past half: signed anew
    windows(now[0])
    now[0] += lifetime * 1.5  # past the first window's end (and the second's half)
    windows(now[0])
    hits = server.pipeline.cache.hits
    windows(now[0])  # the renewal is found once: the cache serves the new replies again
    assert server.pipeline.cache.hits >= hits + len(questions) * 2


def test_new_keys_without_an_edit_are_not_hidden_by_kept_replies(signed_server: Make) -> None:
    # a signer given other keys (ZoneSigner.use_keys) signs anew at once, edit or not: a
    # repeated question must not go on getting the old key's signatures from the reply cache
    server = signed_server(DnssecPolicy())
    signer = server.engine.zones[ORIGIN].signer
    assert signer is not None
    ksk, zsk = signer.ksks[0], signer.zsks[0]

    def tags() -> set[int]:
        reply = ask(server, "www.example.test.", "A")
        return {r.key_tag for rrset in rrsigs(reply) for r in rrset}

    assert tags() == tags() == {zsk.key_tag}  # (the second from the cache)
    signer.use_keys(signer.keys, [ksk], [ksk])  # the KSK signs everything now
    assert tags() == tags() == {ksk.key_tag}


def test_a_zone_signed_while_served_is_watched_from_the_first_message(make_server: Make) -> None:
    # sign_zone edits the zone (its keys published): a message the server answers while that
    # edit is told (here: a query sent by a listener of the edit) must already see the zone
    # signed, or the server would never look at its signer's window again
    zone = fakens.Zone.from_file(ZONE)
    server = make_server([zone])
    host, port = server.addresses[0]
    answered: list[int] = []
    zone.on_change(lambda z, old, new: answered.append(
        dns.query.udp(dns.message.make_query("example.test.", "SOA"), host, port=port, timeout=3).rcode()))
    lifetime = 1000
    signer = sign_zone(zone, DnssecPolicy(lifetime=lifetime, inception_offset=0))
    assert answered == [dns.rcode.NOERROR]
    now = [time.time()]
    signer.now = lambda: now[0]
    first = {r.expiration for rrset in rrsigs(ask(server, "www.example.test.", "A")) for r in rrset}
    now[0] += lifetime * 2  # past the first signatures' end
    later = {r.expiration for rrset in rrsigs(ask(server, "www.example.test.", "A")) for r in rrset}
    assert later != first and min(later) > now[0]


def test_a_signer_given_another_clock_after_answering_signs_anew_for_kept_replies(make_server: Make) -> None:
    # the watch of kept replies knows each signer's clock: a test that moves a signer's clock
    # once the server has answered (here: referrals to a signed cut, kept per cut, and a
    # repeated question, kept in the reply cache) must see new signatures past the lifetime,
    # for new names below the cut as for the repeated one
    zone = fakens.Zone.from_text("$ORIGIN p.test.\n$TTL 60\n@ SOA ns1 h 1 3600 600 86400 30\n@ NS ns1\n"
                                 "ns1 A 192.0.2.1\nwww A 192.0.2.2\nkid NS ns1.kid\nns1.kid A 192.0.2.3\n"
                                 "kid DS 12345 13 2 " + "ab" * 32 + "\n")
    lifetime = 1000
    signer = sign_zone(zone, DnssecPolicy(lifetime=lifetime, inception_offset=0))
    server = make_server([zone])
    for qname in ("p.test.", "a.kid.p.test.", "www.p.test.", "www.p.test."):
        ask(server, qname, "A")
    now = [time.time()]
    signer.now = lambda: now[0]
    now[0] += lifetime * 5
    for qname in ("n0.kid.p.test.", "n1.kid.p.test.", "www.p.test."):
        reply = ask(server, qname, "A")
        expirations = [r.expiration for rrset in rrsigs(reply) for r in rrset]
        assert expirations and min(expirations) > now[0], (qname, expirations, now[0])
