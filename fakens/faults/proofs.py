"""Broken denial of existence on signed zones: bad-denial (NSEC/NSEC3 that lie, do not
cover, or are missing) and nsec3-iterations (an NSEC3 chain hashed too often, RFC 9276).

What they serve is signed with the zone's own keys: a validator that rejects it does so
for the proof itself, not for a signature::

    server.faults.add("bad-denial mode=bitmap types=AAAA")        # the bitmap outage
    server.faults.add("bad-denial mode=deny-name qname=www.example.test.")
    server.faults.add("nsec3-iterations iterations=200")
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

import dns.name
import dns.rdatatype
import dns.rdtypes.ANY.NSEC
import dns.rdtypes.ANY.NSEC3
import dns.rdtypes.ANY.NSEC3PARAM
import dns.rrset

from fakens.answer import Answer, Kind
from fakens.dnssec.answers import proof_rrsets
from fakens.dnssec.denial import Chain, Nsec3Chain
from fakens.dnssec.forge import DENIAL_TYPES, RRSIG, SignedLies, replace_rrset, rrsig_of, signer_of
from fakens.dnssec.policy import Nsec3Params
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register
from fakens.faults.signatures import parse_types
from fakens.faults.view import Replaced, Unchanged
from fakens.zones import ZoneVersion

if TYPE_CHECKING:
    from fakens.dnssec.signer import ZoneSigner
    from fakens.faults.view import View, ZoneHistory

_KEPT = 16
_NSEC3PARAM = dns.rdatatype.NSEC3PARAM


def bitmap_types(rdata: dns.rdtypes.ANY.NSEC.NSEC | dns.rdtypes.ANY.NSEC3.NSEC3) -> list[int]:
    """The types an NSEC or NSEC3 record's bitmap lists."""
    types = []
    for window, bits in rdata.windows:
        for i, byte in enumerate(bits):
            types += [window * 256 + i * 8 + bit for bit in range(8) if byte & (0x80 >> bit)]
    return types


def _signed_zone(view: View, answer: Answer) -> tuple[ZoneHistory, ZoneSigner] | None:
    zone = view.zones.get(answer.zone) if answer.zone is not None else None
    if zone is None or zone.signer is None:
        return None
    return zone, zone.signer


class _Rechained(Fault):
    """A fault whose NSEC3 proofs come from another chain of the zone (other parameters)."""

    signed_only = True
    edit_param = False  # NSEC3PARAM answers say the other parameters too

    def validate(self) -> None:
        self._chains: OrderedDict[tuple[int, Nsec3Params], Nsec3Chain] = OrderedDict()

    def other_params(self, params: Nsec3Params) -> Nsec3Params:
        raise NotImplementedError

    def chain(self, version: ZoneVersion, params: Nsec3Params) -> Nsec3Chain:
        key = (version.number, params)
        with self.lock:
            found = self._chains.get(key)
        if found is None:
            found = Nsec3Chain(version, params)
            with self.lock:
                self._chains[key] = found
                while len(self._chains) > _KEPT:
                    self._chains.popitem(last=False)
        return found

    def nsec3_zone(self, view: View, answer: Answer) -> tuple[ZoneHistory, ZoneSigner, Nsec3Params] | None:
        found = _signed_zone(view, answer)
        if found is None or found[1].policy.nsec3 is None:
            return None
        zone, signer = found
        assert signer.policy.nsec3 is not None
        params = self.other_params(signer.policy.nsec3)
        return (zone, signer, params) if params != signer.policy.nsec3 else None

    def rechain(self, view: View, answer: Answer) -> str | None:
        """Replace the NSEC3 proofs of *answer* by those of the other chain; edit NSEC3PARAM
        when :attr:`edit_param`. What changed, or None."""
        found = self.nsec3_zone(view, answer)
        if found is None:
            return None
        zone, signer, params = found

        def chain_of(signer: ZoneSigner, version: ZoneVersion) -> Chain:
            return self.chain(version, params)

        changed = []
        if any(r.rdtype == dns.rdatatype.NSEC3 for r in answer.authority):
            kept = [r for r in answer.authority if r.rdtype != dns.rdatatype.NSEC3
                    and not (r.rdtype == RRSIG and r.covers == dns.rdatatype.NSEC3)]
            answer.authority = kept + proof_rrsets(answer.proofs, {zone.origin: zone}, chain_of)
            changed.append(f"NSEC3 with {params.iterations} iterations, salt {params.salt_text}")
        if self.edit_param:
            for rrset in [r for r in answer.answer if r.rdtype == _NSEC3PARAM]:
                edited = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [
                    r.replace(iterations=params.iterations, salt=params.salt) for r in rrset])
                had = rrsig_of(answer.answer, rrset)
                new = [edited] + ([signer.rrsig_rrset(rrset.name, edited)] if had is not None else [])
                answer.answer = replace_rrset(answer.answer, rrset, new)
                changed.append(f"NSEC3PARAM {params.iterations} iterations")
        return "; ".join(changed) or None

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return (isinstance(arg, Answer) and self.nsec3_zone(view, arg) is not None
                and any(r.rdtype == dns.rdatatype.NSEC3 or (self.edit_param and r.rdtype == _NSEC3PARAM)
                        for r in arg.answer + arg.authority))


@register
class BadDenial(_Rechained):
    """Name: bad-denial

    Imitates: denial of existence that lies or proves nothing: a signer bug that left
    types out of NSEC/NSEC3 bitmaps (the bitmap outage class: aggressive-NSEC resolvers
    then deny types that exist), a zone signed from data that lacked a name or a type,
    records served from the wrong place of the chain, a chain re-salted while
    NSEC3PARAM still announces the old parameters, or proofs left out.

    Modes: ``bitmap`` (default): every NSEC/NSEC3 served lacks ``types`` in its bitmap,
    answers with the data itself unchanged; ``deny-name``: names that exist answered
    NXDOMAIN, with the proof of a chain signed without them; ``deny-type``: data that
    exists (``types``, default the query type) answered NODATA, with the NSEC/NSEC3
    of a chain signed without it; ``uncovered``: each denial record replaced by the
    next one of the chain, which neither covers nor matches the name; ``nsec3-params``:
    NSEC3 proofs from a chain with other parameters (``salt`` and/or ``iterations``)
    than the NSEC3PARAM the zone serves; ``missing``: the NSEC/NSEC3 records and
    their RRSIGs left out.

    Parameters: ``types`` (bitmap: required; deny-type); ``salt`` (hex; default another
    than the zone's), ``iterations`` (default the zone's) for nsec3-params.

    Client sees: NXDOMAIN, NODATA and wildcard answers whose NSEC/NSEC3 records are
    validly signed but say what the mode says.

    Validator sees: ``bitmap``, ``deny-name``, ``deny-type``: SECURE lies (AD set: the
    proof is valid), NODATA or NXDOMAIN for data that exists, cached and, with
    aggressive NSEC (RFC 8198), used for other names and types; ``uncovered`` and
    ``missing``: bogus (SERVFAIL; unbound "nxdomain proof failed"); ``nsec3-params``:
    validators use the NSEC3 records' own parameters, so the proof still validates.

    Checker shows: DNSViz SNAME_NOT_COVERED / NO_CLOSEST_ENCLOSER / WILDCARD_NOT_COVERED
    (uncovered, missing); the chain versus NSEC3PARAM mismatch (nsec3-params); data
    missing from the bitmap where the zone has it (bitmap: a zone walk or AXFR compare).

    Example: ``bad-denial mode=bitmap types=A,AAAA qname=**.example.test.``
    """

    type_name = "bad-denial"
    summary = "NSEC/NSEC3 that deny existing names or types, do not cover the name, or are missing"
    modes = ("bitmap", "deny-name", "deny-type", "uncovered", "nsec3-params", "missing")
    params = {
        "types": Param("list", (), "types left out (bitmap, deny-type)"),
        "salt": Param("str", None, "NSEC3 salt in hex, '-' for none (nsec3-params)"),
        "iterations": Param("int", None, "NSEC3 iterations (nsec3-params)"),
    }

    def validate(self) -> None:
        super().validate()
        self._types = parse_types(self.type_name, self.types)
        if self.mode == "bitmap" and not self._types:
            raise ConfigError("fault bad-denial mode=bitmap needs types=TYPE[,TYPE...] (the types the bitmaps leave out)")
        self._salt: bytes | None = None
        if self.salt is not None:
            try:
                self._salt = b"" if self.salt in ("", "-") else bytes.fromhex(self.salt)
            except ValueError:
                raise ConfigError(f"fault bad-denial: salt={self.salt!r} is not hex (e.g. salt=beef, or - for none)") from None
        self._lies = SignedLies()

    def other_params(self, params: Nsec3Params) -> Nsec3Params:
        salt = self._salt if self._salt is not None else (b"\xbe\xef" if params.salt != b"\xbe\xef" else b"\xca\xfe")
        iterations = self.iterations if self.iterations is not None else params.iterations
        return Nsec3Params(iterations=iterations, salt=salt, opt_out=params.opt_out)

    # -- which answers ---------------------------------------------------------------------

    def _denial(self, answer: Answer) -> list[dns.rrset.RRset]:
        return [r for r in answer.authority if r.rdtype in DENIAL_TYPES]

    def _denied_types(self, view: View, answer: Answer) -> frozenset[int]:
        return self._types or frozenset({int(view.qtype)})

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        if not isinstance(arg, Answer):
            return False
        if self.mode == "nsec3-params":
            return super().can_act(hook, view, arg)
        if self.mode in ("deny-name", "deny-type"):
            found = _signed_zone(view, arg)
            if found is None or view.question is None or arg.kind is not Kind.ANSWER:
                return False
            if self.mode == "deny-name":
                return bool(view.qname != found[0].origin)
            version = arg.version_of(found[0])
            return any(version.get(view.qname, dns.rdatatype.RdataType.make(t)) is not None
                       for t in self._denied_types(view, arg))
        return bool(self._denial(arg))

    # -- what they do -----------------------------------------------------------------------

    def after(self, view: View, answer: Answer) -> str | Replaced | None:
        if self.mode == "nsec3-params":
            return self.rechain(view, answer)
        if self.mode in ("deny-name", "deny-type"):
            return self._deny(view, answer)
        if self.mode == "missing":
            before = len(answer.authority)
            answer.authority = [r for r in answer.authority if r.rdtype not in DENIAL_TYPES
                                and not (r.rdtype == RRSIG and r.covers in DENIAL_TYPES)]
            return "NSEC/NSEC3 removed" if len(answer.authority) != before else None
        done = []
        for rrset in self._denial(answer):
            had = rrsig_of(answer.authority, rrset)
            signer = signer_of(view.zones, had) if had is not None else None
            if signer is None:
                continue
            new = self._bitmap(rrset) if self.mode == "bitmap" else self._uncovered(view, answer, signer, rrset)
            if new is None:
                continue
            present = {(r.name, r.rdtype) for r in answer.authority}
            if (new.name, new.rdtype) in present and new.name != rrset.name:
                answer.authority = replace_rrset(answer.authority, rrset, [])
            else:
                answer.authority = replace_rrset(answer.authority, rrset, [new, signer.rrsig_rrset(new.name, new)])
            done.append(f"{rrset.name} -> {new.name}" if self.mode == "uncovered" else str(rrset.name))
        if not done:
            return None
        label = "bitmap without " + ",".join(dns.rdatatype.to_text(dns.rdatatype.RdataType.make(t)) for t in sorted(self._types))
        return f"{label}: {', '.join(done)}" if self.mode == "bitmap" else f"uncovered: {', '.join(done)}"

    def _bitmap(self, rrset: dns.rrset.RRset) -> dns.rrset.RRset | None:
        rdata = rrset[0]
        assert isinstance(rdata, dns.rdtypes.ANY.NSEC.NSEC | dns.rdtypes.ANY.NSEC3.NSEC3)
        types = bitmap_types(rdata)
        kept = [t for t in types if t not in self._types]
        if len(kept) == len(types):
            return None
        bitmap = dns.rdtypes.ANY.NSEC.Bitmap.from_rdtypes([dns.rdatatype.RdataType.make(t) for t in kept])
        return dns.rrset.from_rdata_list(rrset.name, rrset.ttl, [rdata.replace(windows=bitmap)])

    def _uncovered(self, view: View, answer: Answer, signer: ZoneSigner, rrset: dns.rrset.RRset) -> dns.rrset.RRset | None:
        zone = view.zones.get(signer.origin)
        if zone is None:
            return None
        return signer.chain(answer.version_of(zone)).after(rrset.name)

    def _deny(self, view: View, answer: Answer) -> str | Replaced | None:
        found = _signed_zone(view, answer)
        if found is None or view.question is None:
            return None
        types = frozenset() if self.mode == "deny-name" else self._denied_types(view, answer)
        lie = self._lies.answer(view, answer, found[0], view.qname, types)
        if lie.kind is answer.kind and lie.rcode == answer.rcode and lie.answer == answer.answer:
            return Unchanged("the answer is the same without it")
        what = "name" if self.mode == "deny-name" else "type"
        return Replaced(f"{lie.kind.value} signed from a chain without the {what}", lie)


@register
class Nsec3Iterations(_Rechained):
    """Name: nsec3-iterations

    Imitates: a zone signed with NSEC3 iterations above what resolvers accept (RFC 9276
    asks for 0; validators treat counts above a limit, 150 in unbound 1.17 and BIND 9.18,
    lower in later versions, as insecure, and may answer SERVFAIL far above it). The
    policy option does the same for the whole zone (``nsec3 = {iterations = 200}``);
    this fault makes it switchable at run time.

    Parameters: ``iterations`` (default 200).

    Client sees: NSEC3 proofs and NSEC3PARAM with ``iterations``, the hashes computed
    with them, all validly signed (an NSEC zone: unchanged, the fault does not count it).

    Validator sees: insecure: NXDOMAIN and NODATA answers without AD (unbound: "nsec3
    iterations too high"; RFC 9276 gives EDE 27 Unsupported NSEC3 Iterations Value,
    which unbound 1.17 does not send); positive answers stay SECURE.

    Checker shows: Zonemaster warns about the iteration count (RFC 9276); DNSViz 0.9.4
    does not (the proofs are VALID, SECURE: measured in the dnssec-breakages lab).

    Example: ``nsec3-iterations iterations=500``
    """

    type_name = "nsec3-iterations"
    summary = "NSEC3 chain and NSEC3PARAM with more iterations than resolvers accept (RFC 9276)"
    params = {"iterations": Param("int", 200, "the NSEC3 iterations")}
    edit_param = True

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.iterations <= 65535:
            raise ConfigError(f"fault nsec3-iterations: iterations={self.iterations}: must be 0..65535")

    def other_params(self, params: Nsec3Params) -> Nsec3Params:
        return Nsec3Params(iterations=self.iterations, salt=params.salt, opt_out=params.opt_out)

    def after(self, view: View, answer: Answer) -> str | None:
        return self.rechain(view, answer)

