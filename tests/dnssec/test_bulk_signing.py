"""Signing a zone at once (ZoneSigner.sign_all): in worker processes and here, the same
signatures, each verified by dnspython's own validation; the NSEC chain updated after an
edit equals one made from scratch, and only the records that changed are signed again."""

from __future__ import annotations

import resource

import dns.dnssec
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

import fakens
from fakens.dnssec import DnssecPolicy, Nsec3Params, ZoneSigner, sign_zone
from fakens.dnssec.denial import NsecChain

ORIGIN = dns.name.from_text("big.test.")


def make_zone(names: int) -> fakens.Zone:
    lines = ["$ORIGIN big.test.", "$TTL 300", "@ SOA ns1 hostmaster 1 3600 600 86400 300", "@ NS ns1",
             "ns1 A 192.0.2.1", "sub NS ns.sub", "ns.sub A 192.0.2.9", "* TXT wild", "MiXeD AAAA 2001:db8::1"]
    lines += [f"h{i} A 198.51.100.{i % 256}" for i in range(names)]
    return fakens.Zone.from_text("\n".join(lines) + "\n")


def validate_all(zone: fakens.Zone, signer: ZoneSigner, now: float | None = None) -> int:
    """Validate every signed RRset of the zone's transfer content; how many."""
    keyring = {zone.origin: zone.current.rrset(zone.origin, dns.rdatatype.DNSKEY)}
    rrsets = signer.signed_rrsets(zone.current)
    checked = 0
    for data, rrsig in zip(rrsets, rrsets[1:], strict=False):
        if rrsig.rdtype == dns.rdatatype.RRSIG and data.rdtype != dns.rdatatype.RRSIG:
            dns.dnssec.validate(data, rrsig, keyring, now=now)
            checked += 1
    return checked


@pytest.mark.parametrize("policy", [DnssecPolicy(algorithm=13), DnssecPolicy(algorithm=15, nsec3=Nsec3Params()),
                                    DnssecPolicy(algorithm=8, rsa_bits=1024, csk=True)], ids=["13-nsec", "15-nsec3", "8-csk"])
def test_signed_in_workers_the_same_as_here_and_valid(policy: DnssecPolicy) -> None:
    here, there = make_zone(300), make_zone(300)
    signer = sign_zone(here, policy)
    workers = sign_zone(there, policy, keys=signer.keys)
    now = 1_800_000_000.0
    workers.now = signer.now = lambda: now  # one window for both
    made = signer.sign_all(here.current, workers=1)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    assert workers.sign_all(there.current, workers=2) == made > 600
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime > children  # signed in worker processes
    for rrset in here.current.rrsets():
        other = there.current.get(rrset.name, rrset.rdtype)
        assert other is not None
        assert signer.signatures(rrset.name, rrset) == workers.signatures(rrset.name, other), rrset.name
    assert validate_all(there, workers, now) == validate_all(here, signer, now) > 600


def test_signatures_of_sign_all_and_of_one_rrset_are_dnspythons() -> None:
    zone = make_zone(10)
    signer = sign_zone(zone, DnssecPolicy(algorithm=13))
    signer.sign_all(zone.current, workers=1)
    start, end = signer.window()
    owner = dns.name.from_text("mixed.big.test.")
    rdataset = zone.current.get(owner, dns.rdatatype.AAAA)
    assert rdataset is not None
    theirs = [dns.dnssec.sign((owner, rdataset), k.private, zone.origin, k.dnskey, inception=start, expiration=end)
              for k in signer.zsks]
    assert signer.signatures(owner, rdataset) == theirs


EDITS: list[dict[str, list[str]]] = [
    {"add": ["h5 TXT types changed"]},               # a bitmap changed
    {"add": ["new A 192.0.2.50"]},                     # a name inserted: its predecessor's next name changed
    {"remove": ["h3"]},                                # a name removed
    {"add": ["zzzzzz A 192.0.2.51"]},                  # the last name: the chain wraps to the apex
    {"remove": ["mixed"], "add": ["a.b.c A 192.0.2.52"]},  # removed, and a name below empty non-terminals
    {"remove": ["h7 A"], "add": ["h7 MX 10 h8"]},      # the same name, other types
]


@pytest.mark.parametrize("edit", EDITS, ids=[str(e) for e in EDITS])
def test_chain_updated_after_an_edit_is_the_chain_made_anew(edit: dict[str, list[str]]) -> None:
    zone = make_zone(50)
    old = NsecChain(zone.current)
    new_version = zone.edit(**edit)
    updated, anew = NsecChain(new_version, previous=old), NsecChain(new_version)
    assert updated.base == old.version.number and updated.dirty is not None
    assert updated.names == anew.names and updated.keys == anew.keys
    assert [r.to_text() for r in updated.rrsets()] == [r.to_text() for r in anew.rrsets()]
    before = {r.name: r.to_text() for r in old.rrsets()}
    changed = {r.name for r in anew.rrsets() if before.get(r.name) != r.to_text()}
    assert changed and changed <= updated.dirty


def test_an_edit_signs_again_only_what_changed() -> None:
    zone = make_zone(200)
    signer = sign_zone(zone, DnssecPolicy(algorithm=13))
    signer.sign_all(zone.current, workers=1)
    zone.edit(add=["h10 TXT new"])  # the TXT RRset, the SOA (serial), the NSEC of h10 (its types)
    assert signer.sign_all(zone.current, workers=1) == 3
    zone.edit(add=["h100a A 192.0.2.1"])  # the A, the SOA, the new name's NSEC and its predecessor's
    assert signer.sign_all(zone.current, workers=1) == 4
    zone.edit(remove=["h100a"])  # the SOA; the predecessor's NSEC is as it was at first: its signature is cached
    assert signer.sign_all(zone.current, workers=1) == 1
    assert validate_all(zone, signer) > 400


def test_nsec_digestable_is_the_records() -> None:
    zone = make_zone(5)
    chain = NsecChain(zone.current)
    for rrset in chain.rrsets():
        assert chain.digestable(rrset.name) == rrset[0].to_digestable(zone.origin)
    assert [(o, w) for o, w in chain.material()] == [(r.name, r[0].to_digestable()) for r in chain.rrsets()]


def test_a_zone_made_of_the_same_rrset_twice_is_signed_once() -> None:
    zone = make_zone(3)
    signer = sign_zone(zone)
    rrset = zone.current.get(dns.name.from_text("h1.big.test."), dns.rdatatype.A)
    assert isinstance(rrset, dns.rrset.RRset)
    made = signer.sign_all(zone.current)
    assert signer.sign_all(zone.current) == 0
    signer.signatures(rrset.name, rrset.copy())  # the same content, another object: from the cache
    assert signer.signed == made
