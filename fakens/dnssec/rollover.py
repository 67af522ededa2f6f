"""Key rollovers of a signed zone, state by state (RFC 7583 timelines), and the ways they stick.

A :class:`Rollover` replaces one key of a zone (``kind``: the KSK, the ZSK, or every key
for a new ``algorithm``) through the states of RFC 7583: the new key ``published`` in the
DNSKEY set, ``ready`` (its DNSKEY has reached the caches; the DS is submitted), ``active``
(it signs; for a KSK or an algorithm the parent's DS is the new one), ``retired`` (the old
key no longer signs) and ``removed`` (the old key gone from the DNSKEY set). The parent's
DS follows the rollover (``ds_follows=True``) or stays the old one: a rollover stuck with
its DS never updated, the stale-DS outage when the old key is removed::

    roll = Rollover(zone, parents=[parent_zone], kind="ksk", ds_follows=False)
    roll.move("published")      # DNSKEY: old KSK, new KSK, ZSK; both KSKs sign it; DS: old
    roll.move("removed")        # DNSKEY: new KSK, ZSK; DS: still the old KSK's -> bogus

Methods (RFC 7583): KSK double-KSK (both KSKs sign the DNSKEY set while both are
published), ZSK pre-publication, algorithm rollover as RFC 6781 4.1.4 (the zone signed
with both algorithms from ``published`` on, so that every algorithm of the DNSKEY set
signs everything, RFC 4035 2.2). Each move edits the zone (serial bumped) and the parents'
DS; signatures are made again for the new key set.
"""

from __future__ import annotations

import dns.rdatatype

from fakens.dnssec.keys import SigningKey, generate_key
from fakens.dnssec.signer import ZoneSigner
from fakens.errors import ConfigError
from fakens.zones import Zone

KINDS = ("ksk", "zsk", "algorithm")
STATES = ("start", "published", "ready", "active", "retired", "removed")
"""The states in order; ``start``: before the rollover (the old keys only)."""
_APEX_TYPES = ("DNSKEY", "CDS", "CDNSKEY")


class Rollover:
    """A rollover of *zone*'s keys (*kind*: ksk, zsk or algorithm, to *algorithm*), its
    parents' DS following it or not (*ds_follows*)."""

    def __init__(self, zone: Zone, parents: list[Zone] | None = None, kind: str = "ksk", algorithm: int | None = None,
                 ds_follows: bool = True, ds_ttl: int = 3600) -> None:
        if kind not in KINDS:
            raise ConfigError(f"rollover kind {kind!r}: one of {', '.join(KINDS)}")
        signer = zone.signer
        if signer is None:
            raise ConfigError(f"rollover of {zone.origin}: the zone is not signed (dnssec = true)")
        self.zone, self.signer, self.kind = zone, signer, kind
        self.parents = list(parents or [])
        self.ds_follows, self.ds_ttl = ds_follows, ds_ttl
        self.old_ksks, self.old_zsks = list(signer.ksks), [k for k in signer.keys if not k.is_ksk]
        bits = signer.policy.rsa_bits
        if kind == "algorithm":
            if algorithm is None or algorithm == signer.policy.algorithm:
                raise ConfigError(f"rollover of {zone.origin}: an algorithm rollover needs algorithm = a new "
                                  f"algorithm (the zone's is {signer.policy.algorithm})")
            self.new_ksks = [generate_key(algorithm, True, bits)]
            self.new_zsks = [generate_key(algorithm, False, bits)] if self.old_zsks else []
        elif kind == "ksk":
            self.new_ksks, self.new_zsks = [generate_key(signer.policy.algorithm, True, bits)], []
        else:
            if not self.old_zsks:
                raise ConfigError(f"rollover of {zone.origin}: kind = \"zsk\" needs a ZSK (the zone has a CSK)")
            self.new_ksks, self.new_zsks = [], [generate_key(signer.policy.algorithm, False, bits)]
        self.state = "start"

    def plan(self, state: str) -> tuple[list[SigningKey], list[SigningKey], list[SigningKey], list[SigningKey]]:
        """(published keys, KSKs that sign the key set, ZSKs that sign the rest, keys of the DS) in *state*."""
        if state not in STATES:
            raise ConfigError(f"rollover state {state!r}: one of {', '.join(STATES)} (RFC 7583)")
        step = STATES.index(state)
        old_k, old_z, new_k, new_z = self.old_ksks, self.old_zsks, self.new_ksks, self.new_zsks
        gone = step >= STATES.index("removed")
        retired = step >= STATES.index("retired")
        active = step >= STATES.index("active")
        published = step >= STATES.index("published")
        if self.kind == "ksk":
            keys = ([] if gone else old_k) + (new_k if published else []) + old_z
            ksks = ([] if retired else old_k) + (new_k if published else [])
            zsks = old_z or ksks
            ds = new_k if active and self.ds_follows else old_k
        elif self.kind == "zsk":
            keys = old_k + ([] if gone else old_z) + (new_z if published else [])
            ksks = old_k
            zsks = new_z if active else old_z
            ds = old_k
        else:  # algorithm: both algorithms sign from published on, until the old one retires
            keys = ([] if gone else old_k + old_z) + (new_k + new_z if published else [])
            ksks = ([] if retired else old_k) + (new_k if published else [])
            zsks = ([] if retired else (old_z or old_k)) + ((new_z or new_k) if published else [])
            ds = new_k if active and self.ds_follows else old_k
        return keys, ksks, zsks, ds

    def move(self, state: str) -> str:
        """Put the zone and its parents in *state*; what it is now, for a timeline's log."""
        keys, ksks, zsks, ds = self.plan(state)
        self.signer.use_keys(keys, ksks, zsks)
        version = self.zone.current
        ttl = self.signer.policy.dnskey_ttl if self.signer.policy.dnskey_ttl is not None else version.soa.ttl
        remove = [f"@ {t}" for t in _APEX_TYPES if version.get(version.origin, dns.rdatatype.from_text(t)) is not None]
        self.zone.edit(remove=remove, add=[r for r in self.signer.apex_rrsets(ttl) if r.rdtype != dns.rdatatype.NSEC3PARAM])
        ds_rrset = ZoneSigner.ds_of(self.zone.origin, ds, self.signer.policy.ds_digest, self.ds_ttl)
        for parent in self.parents:
            if parent.current.get(self.zone.origin, dns.rdatatype.NS) is not None:
                parent.edit(replace=[ds_rrset])
        self.state = state
        tags = ", ".join(str(k.key_tag) for k in ds)
        return (f"{self.kind} rollover of {self.zone.origin}: {state}; DNSKEY {', '.join(str(k.key_tag) for k in keys)}; "
                f"DS at the parent: {tags}{'' if self.ds_follows else ' (the DS never updated)'}")


def start_rollover(zone: Zone, parents: list[Zone], kind: str, algorithm: int | None, ds_follows: bool) -> Rollover:
    """The rollover of *zone* a timeline moves: made at its first event (kept by the zone's
    signer), later events of the same kind go on with it."""
    signer = zone.signer
    found = signer.rollover if signer is not None else None
    if not isinstance(found, Rollover) or found.kind != kind:
        found = Rollover(zone, parents, kind, algorithm, ds_follows)
        found.signer.rollover = found
    found.ds_follows = ds_follows
    return found


def tags(keys: list[SigningKey]) -> list[int]:
    """The key tags of *keys* (for tests and logs)."""
    return [k.key_tag for k in keys]
