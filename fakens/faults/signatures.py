"""Broken signatures on signed zones: rrsig-expired, rrsig-bad, rrsig-unknown-key, rrsig-missing.

Each acts after the engine on the RRSIG RRsets of a DO=1 answer (an unsigned zone or a
DO=0 query has none, so the fault does not even count it). ``types`` limits it to the
signatures covering some types, ``zone`` to the signatures of one zone (the RRSIG's signer)::

    server.faults.add("rrsig-expired types=A,AAAA by=86400")
    server.faults.add("rrsig-missing types=SOA zone=example.test.")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dns.rdata
import dns.rdatatype
import dns.rdtypes.ANY.RRSIG
import dns.rrset

from fakens.answer import Answer
from fakens.dnssec.forge import SECTIONS, edit_rrsigs, rrsig_set, signed_owner, signed_rdataset, signer_of
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register

if TYPE_CHECKING:
    from fakens.dnssec.keys import SigningKey
    from fakens.dnssec.signer import ZoneSigner
    from fakens.faults.view import View

RRSIG = dns.rdtypes.ANY.RRSIG.RRSIG


def parse_types(fault: str, values: tuple[str, ...]) -> frozenset[int]:
    """Type names (``A,AAAA``) as numbers; a ConfigError names the one that is not a type."""
    out = set()
    for value in values:
        try:
            out.add(int(dns.rdatatype.from_text(value.upper())))
        except Exception:
            raise ConfigError(f"fault {fault}: types={value!r} is not a record type (e.g. types=A,AAAA,SOA)") from None
    return frozenset(out)


_PICK = {
    "types": Param("list", (), "only the signatures covering these types (default: all)"),
    "zone": Param("name", None, "only the signatures made by this zone (default: every signed zone)"),
}


class SignatureFault(Fault):
    """A fault that changes the RRSIG RRsets of an answer, one by one (:meth:`change`)."""

    verb: str = "changed"
    signed_only = True

    def validate(self) -> None:
        self._types = parse_types(self.type_name, self.types)

    def picks(self, rrsig: dns.rrset.RRset) -> bool:
        if self._types and rrsig.covers not in self._types:
            return False
        if self.zone is not None:
            first = rrsig[0]
            assert isinstance(first, RRSIG)
            return bool(first.signer == self.zone)
        return True

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return isinstance(arg, Answer) and any(r.rdtype == dns.rdatatype.RRSIG and len(r) and self.picks(r)
                                               for s in SECTIONS for r in getattr(arg, s))

    def after(self, view: View, answer: Answer) -> str | None:
        names: list[str] = []

        def edit(data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
            if not len(rrsig) or not self.picks(rrsig):
                return rrsig
            signer = signer_of(view.zones, rrsig)
            if signer is None:
                return rrsig
            new = self.change(signer, data, rrsig)
            if new is not rrsig:
                names.append(f"{data.name} {dns.rdatatype.to_text(data.rdtype)}")
            return new

        edit_rrsigs(answer, edit)
        return f"RRSIG {self.verb}: {', '.join(names)}" if names else None

    def change(self, signer: ZoneSigner, data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        """The RRSIG RRset to serve with *data* instead of *rrsig* (None: none)."""
        raise NotImplementedError

    def resign(self, signer: ZoneSigner, data: dns.rrset.RRset, rrsig: dns.rrset.RRset, **how: Any) -> dns.rrset.RRset:
        """*data* signed again by *signer* (keys, inception, expiration as *how* says)."""
        owner = signed_owner(data.name, rrsig)
        rdatas = signer.sign_rrset(owner, signed_rdataset(data, rrsig), **how)
        return rrsig_set(rrsig.name, rrsig.covers, rrsig.ttl, rdatas)


@register
class RrsigExpired(SignatureFault):
    """Name: rrsig-expired

    Imitates: a signer that stopped re-signing (a cron job gone, a full disk, an
    HSM down): the signatures ran out, the classic TLD outage; or a signer whose
    clock runs ahead, so its signatures are not valid yet.

    Modes: ``expired`` (default): signatures whose validity ended ``by`` seconds ago;
    ``not-yet-valid``: signatures whose validity starts ``by`` seconds from now. Both
    are made afresh with the zone's keys over the served data, against real time
    (validators check them with their own clocks), for the policy's lifetime.

    Parameters: ``by`` (seconds, default 604800: a week); ``types``, ``zone``: which
    signatures. Validators allow for clock skew (unbound: 10% of the signature's
    lifetime, at most ``val-sig-skew-max``, 24 h by default), so a ``by`` below a day
    may still validate: the case of a signature that has only just expired.

    Client sees: the same records and RRSIGs, whose expiration (or inception) field is
    in the past (or the future).

    Validator sees: bogus: SERVFAIL (unbound logs "signature expired" or "signature
    before inception date"; EDE 7 Signature Expired / 8 Signature Not Yet Valid when
    the resolver sends extended errors).

    Checker shows: DNSViz EXPIRATION_IN_PAST or INCEPTION_IN_FUTURE.

    Example: ``rrsig-expired by=172800 qname=**.test.``
    """

    type_name = "rrsig-expired"
    summary = "signatures expired (or not valid yet) by a given time, against real time"
    modes = ("expired", "not-yet-valid")
    params = {"by": Param("int", 604800, "seconds since expiry (or until inception)"), **_PICK}
    verb = "expired"

    def validate(self) -> None:
        super().validate()
        if self.by < 1:
            raise ConfigError(f"fault rrsig-expired: by={self.by}: must be at least 1 second")
        if self.mode == "not-yet-valid":
            self.verb = "not valid yet"

    def change(self, signer: ZoneSigner, data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        now, lifetime = int(signer.now()), signer.policy.lifetime
        if self.mode == "expired":
            expiration = now - self.by
            inception = expiration - lifetime
        else:
            inception = now + self.by
            expiration = inception + lifetime
        return self.resign(signer, data, rrsig, inception=inception, expiration=expiration)


@register
class RrsigBad(SignatureFault):
    """Name: rrsig-bad

    Imitates: signatures that do not verify: data edited after the zone was signed
    (a hand edit of a signed zone file, a hidden primary and its signer out of step),
    or bytes damaged on the way (a broken middlebox, a bad disk).

    Modes: ``data`` (default): signatures made over other data than what is served
    (one record's last byte differs, as if the record changed after signing);
    ``flipped``: the served signatures with one byte of each flipped.

    Parameters: ``types``, ``zone``: which signatures.

    Client sees: the same records, RRSIGs with valid fields (times, key tag, signer)
    whose cryptographic signature does not verify.

    Validator sees: bogus: SERVFAIL (unbound: "signature crypto failed"; EDE 6 DNSSEC Bogus).

    Checker shows: DNSViz SIGNATURE_INVALID.

    Example: ``rrsig-bad mode=flipped types=A qname=www.example.test.``
    """

    type_name = "rrsig-bad"
    summary = "signatures that do not verify: data changed after signing, or a flipped byte"
    modes = ("data", "flipped")
    params = dict(_PICK)
    verb = "broken"

    def change(self, signer: ZoneSigner, data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        if self.mode == "flipped":
            flipped = []
            for rdata in rrsig:
                assert isinstance(rdata, RRSIG)
                signature = bytearray(rdata.signature)
                signature[len(signature) // 2] ^= 0xFF
                flipped.append(rdata.replace(signature=bytes(signature)))
            return rrsig_set(rrsig.name, rrsig.covers, rrsig.ttl, flipped)
        other = dns.rrset.RRset(data.name, data.rdclass, data.rdtype, data.covers)
        records = list(data)
        for i, rdata in enumerate(records):
            wire = bytearray(rdata.to_digestable(signer.origin))
            if i == 0 and wire:
                wire[-1] ^= 0x01
            other.add(dns.rdata.GenericRdata(data.rdclass, data.rdtype, bytes(wire)))
        other.ttl = data.ttl
        return self.resign(signer, other, rrsig)


@register
class RrsigUnknownKey(SignatureFault):
    """Name: rrsig-unknown-key

    Imitates: signatures by a key that is not in the zone's DNSKEY set: a ZSK rolled
    in the signer but never published, keys mixed up between zones or signers (a
    multi-signer setup without the other signer's keys).

    Modes: ``other-key`` (default): made by another key of the zone's algorithm (one
    per fault and algorithm, not published anywhere); ``wrong-tag``: the zone's own
    signatures with a key tag that no DNSKEY has.

    Parameters: ``types``, ``zone``: which signatures.

    Client sees: RRSIGs whose key tag matches no record of the zone's DNSKEY set.

    Validator sees: bogus: SERVFAIL (unbound: "no keys have a DS" / "no signatures
    from known keys"; EDE 6 DNSSEC Bogus or 9 DNSKEY Missing).

    Checker shows: DNSViz reports RRSIGs without a matching DNSKEY (MISSING_RRSIG for the key set).

    Example: ``rrsig-unknown-key types=A,AAAA``
    """

    type_name = "rrsig-unknown-key"
    summary = "signatures by a key that is not in the DNSKEY set"
    modes = ("other-key", "wrong-tag")
    params = dict(_PICK)
    verb = "by an unknown key"

    def validate(self) -> None:
        super().validate()
        self._strangers: dict[int, SigningKey] = {}

    def stranger(self, signer: ZoneSigner, like: int) -> SigningKey:
        """This fault's own key of *like*'s algorithm (made once), never in any DNSKEY set."""
        with self.lock:
            key = self._strangers.get(like)
            if key is None:
                from fakens.dnssec.keys import generate_key  # cryptography: only when it acts

                key = self._strangers[like] = generate_key(like, False, signer.policy.rsa_bits)
            return key

    def change(self, signer: ZoneSigner, data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        if self.mode == "other-key":
            algorithm = signer.keys_for(data.rdtype)[0].algorithm
            return self.resign(signer, data, rrsig, keys=[self.stranger(signer, algorithm)])
        tags = {k.key_tag for k in signer.keys}
        moved = []
        for rdata in rrsig:
            assert isinstance(rdata, RRSIG)
            tag = (rdata.key_tag + 1) & 0xFFFF
            while tag in tags:
                tag = (tag + 1) & 0xFFFF
            moved.append(rdata.replace(key_tag=tag))
        return rrsig_set(rrsig.name, rrsig.covers, rrsig.ttl, moved)


@register
class RrsigMissing(SignatureFault):
    """Name: rrsig-missing

    Imitates: a zone served unsigned in part: a secondary that transferred the zone
    without its signatures, a signer that skipped a type (new record types added after
    signing), a server that drops RRSIGs.

    Parameters: ``types``: only the signatures covering these types (default all, so
    the zone looks unsigned but for its DS); ``zone``: only this zone's.

    Client sees: the records without their RRSIG RRsets (denial records too, unless
    ``types`` leaves NSEC/NSEC3 out).

    Validator sees: bogus: SERVFAIL, as the parent's DS says the zone is signed
    (unbound: "no signatures"; EDE 10 RRSIGs Missing).

    Checker shows: DNSViz MISSING_RRSIG.

    Example: ``rrsig-missing types=SOA,NS``
    """

    type_name = "rrsig-missing"
    summary = "RRSIGs left out: all, or those covering some types"
    params = dict(_PICK)
    verb = "removed"

    def change(self, signer: ZoneSigner, data: dns.rrset.RRset, rrsig: dns.rrset.RRset) -> dns.rrset.RRset | None:
        return None

