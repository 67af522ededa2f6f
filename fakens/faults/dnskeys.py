"""Broken links of the chain of trust: stale-ds (the child's keys moved on), bad-ds (the
parent's DS is wrong).

Both change records, not only signatures: a DO=0 client sees the changed DNSKEY or DS set
too (without RRSIGs). What they change is signed again with the zone's own keys, so the
only fault a validator finds is the broken link::

    child_server.faults.add("stale-ds")                  # DNSKEY set: a new KSK, the DS'd one gone
    parent_server.faults.add("bad-ds mode=digest-type")  # DS of an unknown digest type: insecure
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.name
import dns.rdata
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.dsbase
import dns.rrset

from fakens.answer import Answer
from fakens.dnssec.forge import SECTIONS, replace_rrset, rrsig_of, rrsig_set
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register

if TYPE_CHECKING:
    from fakens.dnssec.keys import SigningKey
    from fakens.dnssec.signer import ZoneSigner
    from fakens.faults.view import View

_KEY_TYPES = (dns.rdatatype.DNSKEY, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY)
_DIGESTS = {1: "SHA1", 2: "SHA256", 4: "SHA384"}
DNSKEY_ZONE = Param("name", None, "only this zone's DNSKEY set (default: every signed zone's)")
"""The ``zone`` parameter of the faults that change a zone's DNSKEY set."""


def _signed(signer: ZoneSigner, rrset: dns.rrset.RRset, had: dns.rrset.RRset | None,
            keys: list[SigningKey]) -> list[dns.rrset.RRset]:
    """*rrset*, and its RRSIG RRset made by *keys* when it had one (*had*)."""
    if had is None or not keys:
        return [rrset]
    rdataset = dns.rdataset.Rdataset(rrset.rdclass, rrset.rdtype)
    rdataset.update(rrset)
    rdataset.ttl = rrset.ttl
    return [rrset, rrsig_set(rrset.name, rrset.rdtype, had.ttl, signer.sign_rrset(rrset.name, rdataset, keys=keys))]


class _RecordFault(Fault):
    """A fault that replaces some RRsets of an answer (with their RRSIGs) by :meth:`edit`."""

    signed_only = True
    rdtypes: tuple[int, ...] = ()

    def _mine(self, view: View, rrset: dns.rrset.RRset) -> bool:
        return rrset.rdtype in self.rdtypes and (self.zone is None or rrset.name == self.zone)

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return isinstance(arg, Answer) and any(self._mine(view, r) for s in SECTIONS for r in getattr(arg, s))

    def after(self, view: View, answer: Answer) -> str | None:
        done: list[str] = []
        for section in SECTIONS:
            rrsets = getattr(answer, section)
            for rrset in [r for r in rrsets if self._mine(view, r)]:
                new = self.edit(view, rrset, rrsig_of(rrsets, rrset))
                if new is not None:
                    rrsets = replace_rrset(rrsets, rrset, new)
                    done.append(f"{rrset.name} {dns.rdatatype.to_text(rrset.rdtype)}")
            setattr(answer, section, rrsets)
        return f"{self.type_name}: {', '.join(done)}" if done else None

    def edit(self, view: View, rrset: dns.rrset.RRset, rrsig: dns.rrset.RRset | None) -> list[dns.rrset.RRset] | None:
        """What to serve instead of *rrset* and its *rrsig* (None: leave them)."""
        raise NotImplementedError


@register
class StaleDs(_RecordFault):
    """Name: stale-ds

    Imitates: a KSK rollover botched at the child: the new KSK is in use and the old one
    retired, but the parent still holds the DS of the old one (the DS never updated,
    or updated at the wrong registrar) -- the stale-DS outage. Put it on the child's servers.

    Modes: ``rolled`` (default): the DNSKEY set holds a new KSK (one per fault and zone)
    instead of the one the DS points at, and that key signs DNSKEY, CDS and CDNSKEY
    (which announce it, as a child waiting for its parent would); ``removed``: the
    KSK is gone from the DNSKEY set, which the ZSK signs, and CDS/CDNSKEY are left out.

    Parameters: ``zone``: only this zone's DNSKEY set (default: every signed zone's).

    Client sees: DNSKEY answers (any DO bit) in which no key matches the parent's DS;
    every other answer of the zone signed as before (by the ZSK).

    Validator sees: bogus: SERVFAIL for every name of the zone (unbound: "no DNSKEY
    matches the DS" / "DS that matches"; EDE 9 DNSKEY Missing or 6 DNSSEC Bogus).

    Checker shows: DNSViz NO_SEP (no key of the DNSKEY set matches a DS) on the
    delegation; a zone checker sees CDS differing from the parent's DS (mode rolled).

    Example: ``stale-ds zone=example.test.``
    """

    type_name = "stale-ds"
    summary = "DNSKEY set without the key the parent's DS points at (a botched KSK rollover)"
    modes = ("rolled", "removed")
    params = {"zone": DNSKEY_ZONE}
    rdtypes = _KEY_TYPES

    def validate(self) -> None:
        self._new: dict[dns.name.Name, SigningKey] = {}

    def _new_ksk(self, signer: ZoneSigner) -> SigningKey:
        with self.lock:
            key = self._new.get(signer.origin)
            if key is None:
                old = signer.ksks[0]
                from fakens.dnssec.keys import generate_key  # cryptography: only when it acts

                key = self._new[signer.origin] = generate_key(old.algorithm, True, signer.policy.rsa_bits)
            return key

    def edit(self, view: View, rrset: dns.rrset.RRset, rrsig: dns.rrset.RRset | None) -> list[dns.rrset.RRset] | None:
        zone = view.zones.get(rrset.name)
        signer = zone.signer if zone is not None else None
        if signer is None or not signer.ksks:
            return None
        others = [k for k in signer.keys if not k.is_ksk]
        new = self._new_ksk(signer) if self.mode == "rolled" else None
        import dns.dnssec  # cryptography: only when it acts

        origin, rdtype = signer.origin, rrset.rdtype
        rdatas: list[dns.rdata.Rdata]
        if rdtype == dns.rdatatype.DNSKEY:
            rdatas = [k.dnskey for k in others + ([new] if new is not None else [])]
        elif new is None:
            rdatas = []
        elif rdtype == dns.rdatatype.CDS:
            rdatas = [dns.dnssec.make_cds(origin, new.dnskey, _DIGESTS[signer.policy.ds_digest])]
        else:
            rdatas = [dns.dnssec.make_cdnskey(new.private.public_key(), new.algorithm, flags=new.dnskey.flags)]
        if not rdatas:
            return []
        edited = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, rdatas)
        return _signed(signer, edited, rrsig, [new] if new is not None else others)


@register
class BadDs(_RecordFault):
    """Name: bad-ds

    Imitates: a DS at the parent that does not lead to the child's keys: a digest
    mistyped at the registrar, a DS of a digest type nobody implements, a DS for an
    algorithm the zone does not use (an algorithm rollover half done), or the DS of a
    KSK the child has retired (the stale-DS outage seen from the parent). Put it on
    the parent's servers; it changes DS answers and the DS of signed referrals.

    Modes: ``digest`` (default): the digest's first byte changed; ``digest-type``: the
    digest type replaced by ``digest_type`` (default 200: unknown); ``algorithm``: the
    algorithm field replaced by ``algorithm`` (default 8, or 13 for a zone of algorithm 8);
    ``retired``: the DS of another key (one per fault and zone, in no DNSKEY set).

    Parameters: ``digest_type``, ``algorithm``; ``add`` (default false): serve the broken
    DS beside the right ones instead of in their place; ``zone``: only the DS of this
    child (default: every DS).

    Client sees: DS RRsets (any DO bit) with the broken records, signed by the parent as usual.

    Validator sees: bogus (SERVFAIL) for ``digest``, ``retired`` and ``algorithm`` with an
    algorithm the validator implements (unbound: "no DNSKEY matches the DS"; EDE 6 DNSSEC
    Bogus or 9 DNSKEY Missing); insecure (answers without AD) when no DS is usable: only
    unknown digest types (``digest-type``), or ``algorithm`` with an unknown number (RFC 4035
    5.2, RFC 6840 5.2); with ``add=true`` the right DS still validates (SECURE).

    Checker shows: DNSViz DIGEST_INVALID (digest), DIGEST_ALGORITHM_NOT_SUPPORTED
    (digest-type), NO_SEP (retired, algorithm).

    Example: ``bad-ds mode=digest-type zone=example.test.``
    """

    type_name = "bad-ds"
    summary = "DS with a wrong digest, an unknown digest type, an unused algorithm or a retired key"
    modes = ("digest", "digest-type", "algorithm", "retired")
    params = {
        "digest_type": Param("int", 200, "the digest type (mode digest-type)"),
        "algorithm": Param("int", None, "the algorithm number (mode algorithm; default 8, or 13 for a zone of 8)"),
        "add": Param("bool", False, "serve the broken DS beside the right ones"),
        "zone": Param("name", None, "only the DS of this child zone (default: every DS)"),
    }
    rdtypes = (dns.rdatatype.DS,)

    def validate(self) -> None:
        for key in ("digest_type", "algorithm"):
            value = getattr(self, key)
            if value is not None and not 0 <= value <= 255:
                raise ConfigError(f"fault bad-ds: {key}={value}: must be 0..255")
        self._retired: dict[dns.name.Name, SigningKey] = {}

    def _broken(self, owner: dns.name.Name, ds: dns.rdtypes.dsbase.DSBase) -> dns.rdata.Rdata:
        if self.mode == "digest":
            return ds.replace(digest=bytes([ds.digest[0] ^ 0xFF]) + ds.digest[1:])
        if self.mode == "digest-type":
            return ds.replace(digest_type=self.digest_type)
        if self.mode == "algorithm":
            algorithm = self.algorithm if self.algorithm is not None else (13 if ds.algorithm == 8 else 8)
            return ds.replace(algorithm=algorithm)
        with self.lock:
            key = self._retired.get(owner)
            if key is None:
                from fakens.dnssec.keys import generate_key

                key = self._retired[owner] = generate_key(int(ds.algorithm), True)
        import dns.dnssec

        return dns.dnssec.make_ds(owner, key.dnskey, _DIGESTS.get(int(ds.digest_type), "SHA256"))

    def edit(self, view: View, rrset: dns.rrset.RRset, rrsig: dns.rrset.RRset | None) -> list[dns.rrset.RRset] | None:
        broken = [self._broken(rrset.name, ds) for ds in rrset if isinstance(ds, dns.rdtypes.dsbase.DSBase)]
        rdatas = list(rrset) + broken if self.add else broken
        edited = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, rdatas)
        parent = view.zones.find(rrset.name.parent()) if len(rrset.name) > 1 else None
        signer = parent.signer if parent is not None else None
        if signer is None:
            return [edited]
        return _signed(signer, edited, rrsig, signer.keys_for(dns.rdatatype.DS))
