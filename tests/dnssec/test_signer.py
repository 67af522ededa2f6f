"""The signer in memory: its RRSIGs are dnspython's byte for byte, for every algorithm and
for wildcard owners; the signature cache; the validity window in real time."""

from __future__ import annotations

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

import fakens
from fakens.dnssec import ALGORITHMS, DnssecPolicy, ZoneSigner, sign_zone
from fakens.dnssec.rounds import Watch

from .conftest import ZONE

DETERMINISTIC = [8, 10, 13, 14, 15, 16]  # RSA PKCS#1 v1.5, RFC 6979 ECDSA and EdDSA: the same bytes each time


@pytest.mark.parametrize("algorithm", DETERMINISTIC)
def test_rrsig_same_as_dnspython_sign(algorithm: int) -> None:
    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone, DnssecPolicy(algorithm=algorithm, rsa_bits=1024))
    version = zone.current
    start, end = signer.window()
    for owner_text, rdtype in (("www.example.test.", "AAAA"), ("*.wild.example.test.", "TXT"), ("example.test.", "MX"),
                               ("example.test.", "DNSKEY"), ("ftp.example.test.", "CNAME"),
                               ("WWW.Example.TEST.", "AAAA")):  # an owner in capitals: signed lower-cased
        owner = dns.name.from_text(owner_text)
        rdataset = version.get(owner, dns.rdatatype.from_text(rdtype))
        assert rdataset is not None
        ours = signer.signatures(owner, rdataset)
        keys = signer.keys_for(rdataset.rdtype)
        theirs = [dns.dnssec.sign((owner, rdataset), k.private, zone.origin, k.dnskey, inception=start, expiration=end,
                                  policy=dns.dnssec.allow_all_policy) for k in keys]
        assert ours == theirs, owner_text


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_algorithm_validates(algorithm: int) -> None:
    zone = fakens.Zone.from_file(ZONE)
    policy = DnssecPolicy(algorithm=algorithm, rsa_bits=1024, nsec3=None)
    signer = sign_zone(zone, policy)
    keyring = {zone.origin: zone.current.rrset(zone.origin, dns.rdatatype.DNSKEY)}
    rrset = zone.current.rrset(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert rrset is not None
    dns.dnssec.validate(rrset, signer.rrsig_rrset(rrset.name, rrset), keyring, policy=dns.dnssec.allow_all_policy)


def test_window_follows_real_time_and_renews() -> None:
    now = [1_800_000_000.0]
    signer = ZoneSigner(dns.name.from_text("example.test."), DnssecPolicy(lifetime=1000, inception_offset=-60),
                        now=lambda: now[0])
    assert signer.window() == (1_800_000_000 - 60, 1_800_000_000 + 1000)
    now[0] += 400  # under half the lifetime: the same signatures
    assert signer.window() == (1_800_000_000 - 60, 1_800_000_000 + 1000)
    now[0] += 200
    assert signer.window() == (1_800_000_600 - 60, 1_800_000_600 + 1000)


def test_signatures_cached_by_content() -> None:
    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone)
    total = signer.sign_all(zone.current)
    assert total == signer.signed > 20
    assert signer.sign_all(zone.current) == 0
    zone.edit(add=["www 300 TXT changed"])  # a new RRset and the SOA's new serial; the NSEC at www now lists TXT
    assert signer.sign_all(zone.current) == 3


def test_rrsig_rrsets_are_made_once_per_rrset_and_handed_out_as_copies() -> None:
    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone, DnssecPolicy(algorithm=13))
    owner = dns.name.from_text("www.example.test.")
    rdataset = zone.current.get(owner, dns.rdatatype.AAAA)
    assert rdataset is not None
    first = signer.rrsig_rrset(owner, rdataset)
    signed = signer.signed
    first.ttl = 1  # what a caller does to its copy
    first.clear()
    served = signer.rrsig_rrset(owner, rdataset, served_as=dns.name.from_text("WwW.example.test."), ttl=60)
    assert signer.signed == signed  # no signing again
    assert len(served) == len(signer.keys_for(dns.rdatatype.AAAA)) and served.ttl == 60
    assert served.name.to_text() == "WwW.example.test." and served.covers == dns.rdatatype.AAAA
    again = signer.rrsig_rrset(owner, rdataset)
    assert again.ttl == rdataset.ttl and again.name == owner and list(again) == list(served)


def test_a_key_made_where_a_dropped_one_was_gets_its_own_tag() -> None:
    """The signer keeps each key's tag by the key's address: a key dropped by a rollover may be
    freed and a new one made at its address, whose RRSIGs must carry the new key's tag (found
    again, not the dropped key's), and validate."""
    from fakens.dnssec.keys import generate_key

    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone)
    old, new = signer.zsks[0], generate_key(13, ksk=False)
    assert old.key_tag != new.key_tag
    signer._key_facts(old)
    signer._facts[id(new)] = signer._facts.pop(id(old))  # what the dropped key left at the new one's address
    signer.use_keys(signer.keys + [new], signer.ksks, [new])
    rrset = zone.current.rrset(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert rrset is not None
    rrsigs = signer.rrsig_rrset(rrset.name, rrset)
    assert [r.key_tag for r in rrsigs] == [new.key_tag]
    keyring = {zone.origin: dns.rrset.from_rdata_list(zone.origin, 3600, [k.dnskey for k in signer.keys])}
    dns.dnssec.validate(rrset, rrsigs, keyring, policy=dns.dnssec.allow_all_policy)


def test_a_watch_sees_a_signers_new_round_and_only_that() -> None:
    policy = DnssecPolicy(lifetime=1000, inception_offset=-60)
    clocks = [[1_800_000_000.0], [1_800_000_000.0]]
    first, second, other = (ZoneSigner(dns.name.from_text(f"z{i}.test."), policy, now=lambda c=c: c[0])
                            for i, c in enumerate([clocks[0], clocks[1], clocks[1]]))
    watch = Watch([first, second])
    assert not watch.moved()
    clocks[0][0] += 400  # under half the lifetime on the first's clock
    assert not watch.moved()
    other.use_keys(other.keys, other.ksks, other.zsks)  # a signer not watched begins a round
    assert not watch.moved()
    clocks[0][0] += 200  # past half: the first's window is renewed as the watch looks
    window = first._window
    assert watch.moved()
    assert first._window != window and first.window() == (1_800_000_600 - 60, 1_800_000_600 + 1000)
    watch = Watch([first, second])
    assert not watch.moved()
    second.use_keys(second.keys, second.ksks, second.ksks)  # new keys, no time passed
    assert watch.moved()
    assert Watch([]).moved() is False
