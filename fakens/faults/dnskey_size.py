"""dnskey-oversize: a DNSKEY set too large for UDP, and TCP broken for it.

The DNSKEY RRset of a signed zone is padded with extra (published, unused) keys of the
zone's algorithm until its answer does not fit the server's UDP size, so every UDP reply
to a DNSKEY query has TC=1 (the encoder truncates it, as for any answer that does not fit);
the retry over TCP is reset, closed or never answered. The padded set is signed by the
zone's KSKs, so with TCP working (``mode=ok``) it validates::

    server.faults.add("dnskey-oversize")              # UDP: TC=1; TCP: reset
    server.faults.add("dnskey-oversize mode=ok")      # UDP: TC=1; TCP: the padded set, valid
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.name
import dns.rdataset
import dns.rdatatype
import dns.rrset

from fakens.answer import Answer
from fakens.dnssec.forge import replace_rrset, rrsig_of
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register
from fakens.faults.dnskeys import DNSKEY_ZONE
from fakens.faults.view import Act
from fakens.outcome import Close, Reset, Stall

if TYPE_CHECKING:
    from fakens.dnssec.keys import SigningKey
    from fakens.dnssec.signer import ZoneSigner
    from fakens.faults.view import View
    from fakens.outcome import Outcome

_DNSKEY = dns.rdatatype.DNSKEY
_HEADER = 12 + 4 + 11  # the message header, the question's type and class, an OPT record
_RR_FIXED = 2 + 10  # a compressed owner, type, class, TTL, length
_MAX_KEYS = 400


@register
class DnskeyOversize(Fault):
    """Name: dnskey-oversize

    Imitates: a zone whose DNSKEY answer is too large for UDP (many keys during a rollover,
    big RSA keys, pre-published keys of an algorithm rollover) served where TCP does not
    work: a firewall or a load balancer that passes only UDP/53, a TCP listener that
    resets, a middlebox that drops the fragments and the TCP retry alike.

    Modes: ``reset`` (default): a TCP DNSKEY query is answered by a reset; ``close``: the
    connection is closed unanswered; ``stall``: it stays open, never answered; ``ok``: TCP
    works and carries the padded set (the control case: a validator falls back to TCP).

    Parameters: ``size`` (default 0: the server's UDP size): the DNSKEY set is padded with
    extra keys (flags 256, the zone's algorithm, in no signature) until its answer with
    RRSIGs is larger than this many bytes; ``zone``: only this zone's DNSKEY set (default:
    every signed zone's).

    Selectors: DNSKEY queries unless ``qtype`` is given.

    Client sees: over UDP, TC=1 with empty sections for every DNSKEY query of the zone
    (any DO bit, any EDNS size); over TCP a reset, EOF or silence (``ok``: the padded
    DNSKEY set, signed by the KSKs). Every other answer of the zone is unchanged.

    Validator sees: bogus: SERVFAIL for every name of the zone, as it cannot get the keys
    (unbound 1.17: EDE 9 DNSKEY Missing, "No DNSKEY record for key example.test. while
    building chain of trust"); ``mode=ok``: SECURE, after the TCP retry.

    Checker shows: DNSViz SERVER_UNRESPONSIVE_TCP (or NETWORK_ERROR) for the DNSKEY query
    and the zone's DNSKEY set as not retrieved; a checker that asks over UDP only sees
    truncated DNSKEY answers.

    Example: ``dnskey-oversize mode=close zone=example.test.``
    """

    type_name = "dnskey-oversize"
    summary = "DNSKEY answers too large for UDP (TC=1), and TCP reset, closed or stalled for them"
    modes = ("reset", "close", "stall", "ok")
    params = {
        "size": Param("int", 0, "pad the DNSKEY answer above this many bytes (0: the server's UDP size)"),
        "zone": DNSKEY_ZONE,
    }
    default_selector = {"qtype": "DNSKEY"}
    signed_only = True

    def validate(self) -> None:
        if not 0 <= self.size <= 60000:
            raise ConfigError(f"fault dnskey-oversize: size={self.size}: must be 0..60000 (0: the server's UDP size)")
        self._padding: dict[dns.name.Name, list[SigningKey]] = {}
        self._padded: dict[tuple[dns.name.Name, int, bool, frozenset[object]], dns.rrset.RRset] = {}

    def _signer(self, view: View, origin: dns.name.Name) -> ZoneSigner | None:
        if self.zone is not None and origin != self.zone:
            return None
        zone = view.zones.get(origin)
        return zone.signer if zone is not None else None

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        if hook == "before":
            return (view.transport == "tcp" and self.mode != "ok" and view.question is not None
                    and view.qtype == _DNSKEY and self._signer(view, view.qname) is not None)
        return isinstance(arg, Answer) and any(r.rdtype == _DNSKEY and self._signer(view, r.name) is not None
                                               for r in arg.answer)

    def before(self, view: View) -> Act | None:
        outcomes: dict[str, Outcome] = {"reset": Reset(), "close": Close(), "stall": Stall()}
        return Act(f"DNSKEY over TCP: {self.mode}", outcomes[self.mode])

    def after(self, view: View, answer: Answer) -> str | None:
        done = []
        for rrset in [r for r in answer.answer if r.rdtype == _DNSKEY]:
            signer = self._signer(view, rrset.name)
            if signer is None:
                continue
            signed = rrsig_of(answer.answer, rrset) is not None
            padded = self._pad(signer, rrset, self.size or view.udp_size, signed)
            new = [padded]
            if signed:
                new.append(signer.rrsig_rrset(rrset.name, padded, ttl=rrset.ttl))
            answer.answer = replace_rrset(answer.answer, rrset, new)
            done.append(f"{rrset.name} DNSKEY padded to {len(padded)} keys")
        return "; ".join(done) or None

    def _pad(self, signer: ZoneSigner, rrset: dns.rrset.RRset, size: int, signed: bool) -> dns.rrset.RRset:
        """*rrset* with as many extra keys as make its answer (with the KSKs' RRSIGs when
        *signed*) larger than *size* bytes (made once)."""
        key = (rrset.name, size, signed, frozenset(rrset))
        with self.lock:
            found = self._padded.get(key)
        if found is not None:
            return found
        owner_wire = rrset.name.to_wire()
        assert owner_wire is not None
        signatures = sum(_RR_FIXED + 18 + len(owner_wire) + len(k.private.sign(b"x", verify=False))
                         for k in signer.ksks) if signed else 0  # the KSKs' RRSIGs: fixed part, signer, signature
        total = _HEADER + len(owner_wire) + signatures + sum(_RR_FIXED + len(r.to_digestable()) for r in rrset)
        padding = self._keys(signer)
        rdatas = list(rrset)
        while total <= size:
            if len(padding) >= _MAX_KEYS:
                raise ConfigError(f"fault dnskey-oversize: size={size} needs more than {_MAX_KEYS} extra keys")
            if len(rdatas) - len(rrset) >= len(padding):
                from fakens.dnssec.keys import generate_key  # cryptography: only when it acts

                padding.append(generate_key(signer.policy.algorithm, False, signer.policy.rsa_bits))
            extra = padding[len(rdatas) - len(rrset)].dnskey
            rdatas.append(extra)
            total += _RR_FIXED + len(extra.to_digestable())
        padded = dns.rrset.from_rdata_list(rrset.name, rrset.ttl, rdatas)
        with self.lock:
            self._padded[key] = padded
        return padded

    def _keys(self, signer: ZoneSigner) -> list[SigningKey]:
        with self.lock:
            return self._padding.setdefault(signer.origin, [])
