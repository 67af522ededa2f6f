"""Signing a zone: a :class:`ZoneSigner` per zone, holding its keys and its signatures.

Signatures are made when first needed (a DO=1 answer, a transfer, :meth:`ZoneSigner.sign_all`)
and cached by (owner, type, TTL, records), so an edit of the zone re-signs only the RRsets
it changed; the NSEC/NSEC3 chain is made once per zone version. Signatures are valid in real
time (validators check them against their own clocks): from now + ``inception_offset`` to
now + ``lifetime``, and made again once half the lifetime has passed::

    zone = Zone.from_file("zones/example.test.zone")
    signer = sign_zone(zone, DnssecPolicy(algorithm=13))   # DNSKEY, CDS, CDNSKEY added to the apex
    signer.ds_rrset()                                      # what the parent holds
    signer.sign_all(zone.current)                          # every signature now, not lazily
"""

from __future__ import annotations

import itertools
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence

import dns.dnssec
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.CDNSKEY
import dns.rdtypes.ANY.NSEC3PARAM
import dns.rdtypes.ANY.RRSIG
import dns.rrset

from fakens.dnssec import bulk, rounds
from fakens.dnssec.denial import Chain, Nsec3Chain, NsecChain, occluded
from fakens.dnssec.keys import SigningKey, generate_keys, load_keys, published_as
from fakens.dnssec.policy import DnssecPolicy
from fakens.zones import Name, Zone, ZoneVersion

RRSIG = dns.rdtypes.ANY.RRSIG.RRSIG
_KSK_TYPES = frozenset({dns.rdatatype.DNSKEY, dns.rdatatype.CDS, dns.rdatatype.CDNSKEY})
_APEX_TYPES = ("DNSKEY", "CDS", "CDNSKEY", "NSEC3PARAM")
_DIGEST_NAMES = {1: "SHA1", 2: "SHA256", 4: "SHA384"}
_CHAINS_KEPT = 4
_RRSIG_HEAD = struct.Struct("!HBBIIIH")  # type covered, algorithm, labels, original TTL, expiration, inception, tag
_RR_FIXED = struct.Struct("!HHI")
_LENGTH = struct.Struct("!H")
_SigKey = tuple[bytes, int, int, int, tuple[bytes, ...]]  # owner (canonical wire), type, covers, TTL, the records' canonical forms
_RRSIG_TYPE, _NSEC_TYPE, _NSEC3_TYPE = dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3


class ZoneSigner:
    """The keys and signatures of one zone (shared by every server that serves it)."""

    def __init__(self, origin: Name, policy: DnssecPolicy | None = None, keys: Sequence[SigningKey] | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.origin = origin
        self.policy = policy or DnssecPolicy()
        if keys is None:
            keys = load_keys(self.policy.key_dir, origin) if self.policy.key_dir else generate_keys(self.policy)
        if self.policy.published_algorithm is not None:
            keys = [published_as(k, self.policy.published_algorithm) for k in keys]
        self.keys: list[SigningKey] = list(keys)
        self.ksks = [k for k in self.keys if k.is_ksk]
        self.zsks = [k for k in self.keys if not k.is_ksk] or self.ksks  # a CSK signs everything
        self._now = now
        self._lock = threading.Lock()
        self._signatures: dict[_SigKey, _Made] = {}
        self._chains_signed: set[int] = set()  # the versions whose chain is signed in this window
        # the same by the RRset object (the zones' stored RRsets are read-only and shared by
        # versions): no hashing of its records, and the RRSIG RRset made once
        self._by_identity: dict[int, _Signed] = {}
        self._chains: OrderedDict[int, Chain] = OrderedDict()
        self._window: tuple[int, int] = (0, 0)
        self._window_made = -1.0
        self._round = 0  # counts the times the signatures were made anew (a new window, new keys)
        self.signed = 0
        """How many RRsets this signer has signed (cache misses), for tests and benchmarks."""
        self._facts: dict[int, tuple[SigningKey, int, bytes]] = {}  # id(key) -> (key, its tag, signer name's wire form)
        self.rollover: object | None = None
        """The :class:`~fakens.dnssec.rollover.Rollover` a lab's timeline moves this zone through, if any."""

    # -- what the zone and its parent publish ------------------------------------------------

    def apex_rrsets(self, ttl: int) -> list[dns.rrset.RRset]:
        """DNSKEY (every key), CDS and CDNSKEY (the KSKs, unless ``cds=False``) and NSEC3PARAM."""
        out = [dns.rrset.from_rdata_list(self.origin, ttl, [k.dnskey for k in self.keys])]
        if self.policy.cds:
            cds = [dns.dnssec.make_cds(self.origin, k.dnskey, _DIGEST_NAMES[self.policy.ds_digest]) for k in self.ksks]
            cdnskey = [dns.rdtypes.ANY.CDNSKEY.CDNSKEY(k.dnskey.rdclass, dns.rdatatype.CDNSKEY, k.dnskey.flags,
                                                      k.dnskey.protocol, k.dnskey.algorithm, k.dnskey.key)
                       for k in self.ksks]
            out += [dns.rrset.from_rdata_list(self.origin, ttl, cds), dns.rrset.from_rdata_list(self.origin, ttl, cdnskey)]
        nsec3 = self.policy.nsec3
        if nsec3 is not None:
            param = dns.rdtypes.ANY.NSEC3PARAM.NSEC3PARAM(dns.rdataclass.IN, dns.rdatatype.NSEC3PARAM, 1, 0,
                                                          nsec3.iterations, nsec3.salt)
            out.append(dns.rrset.from_rdata_list(self.origin, ttl, [param]))
        return out

    def ds_rdatas(self, digest: int | None = None) -> list[dns.rdata.Rdata]:
        """The DS records of the KSKs (digest type *digest*, default the policy's)."""
        name = _DIGEST_NAMES[digest or self.policy.ds_digest]
        return [dns.dnssec.make_ds(self.origin, k.dnskey, name) for k in self.ksks]

    @staticmethod
    def ds_of(origin: Name, keys: Iterable[SigningKey], digest: int = 2, ttl: int = 3600) -> dns.rrset.RRset:
        """The DS RRset of *keys* of the zone *origin* (a rollover's parent holds the old or the new)."""
        return dns.rrset.from_rdata_list(origin, ttl, [dns.dnssec.make_ds(origin, k.dnskey, _DIGEST_NAMES[digest])
                                                       for k in keys])

    def use_keys(self, keys: Sequence[SigningKey], ksks: Sequence[SigningKey], zsks: Sequence[SigningKey]) -> None:
        """Publish *keys* in the DNSKEY set, sign it with *ksks* and the rest with *zsks* (a
        rollover's state); the signatures made so far are forgotten. Publish the new set
        with :meth:`apex_rrsets` (``Rollover.move`` does)."""
        with self._lock:
            self.keys, self.ksks, self.zsks = list(keys), list(ksks), list(zsks) or list(ksks)
            self._round += 1
            rounds.begin()
            self._signatures.clear()
            self._by_identity.clear()
            self._chains_signed.clear()

    def ds_rrset(self, ttl: int = 3600, digest: int | None = None) -> dns.rrset.RRset:
        """The DS RRset a parent holds for this zone."""
        return dns.rrset.from_rdata_list(self.origin, ttl, self.ds_rdatas(digest))

    def install(self, zone: Zone) -> None:
        """Publish the keys in *zone* (DNSKEY, CDS, CDNSKEY, NSEC3PARAM at the apex, the serial
        kept) and attach this signer to it; a zone just loaded keeps that as its baseline."""
        version = zone.current
        ttl = self.policy.dnskey_ttl if self.policy.dnskey_ttl is not None else version.soa.ttl
        fresh = len(zone.history) == 1
        remove = [f"@ {t}" for t in _APEX_TYPES if version.get(version.origin, dns.rdatatype.from_text(t)) is not None]
        zone.signer = self  # (first: a server told of the edit finds the zone signed)
        zone.edit(remove=remove, add=self.apex_rrsets(ttl), bump_serial=False)
        if fresh:
            zone.set_baseline()

    # -- signatures -----------------------------------------------------------------------------

    def window(self) -> tuple[int, int]:
        """(inception, expiration) of the signatures made now, in seconds since the epoch."""
        now = self.now()
        if now - self._window_made > self.policy.lifetime / 2:
            with self._lock:
                self._window_made = now
                self._window = (int(now) + self.policy.inception_offset, int(now) + self.policy.lifetime)
                self._round += 1
                rounds.begin()
                self._signatures.clear()
                self._by_identity.clear()
                self._chains_signed.clear()
        return self._window

    def signing_round(self) -> int:
        """Which signatures this signer makes now: a number that changes when they are made anew
        (the window renewed, as :meth:`window` does once half the lifetime has passed, or new
        keys). A reply kept with signatures of an older round must be made again::

            kept = signer.signing_round()
            ...
            if signer.signing_round() != kept:   # the window moved on: what was kept is stale
        """
        self.window()
        return self._round

    @property
    def now(self) -> Callable[[], float]:
        """The signer's clock, seconds since the epoch (``time.time`` by default: validators
        check signatures against their own clocks). Given another (a test moving time), the
        watches of kept replies look again (:func:`fakens.dnssec.rounds.begin`)::

            signer.now = lambda: moved[0]
        """
        return self._now

    @now.setter
    def now(self, clock: Callable[[], float]) -> None:
        self._now = clock
        rounds.begin()

    def renews_at(self) -> float:
        """When (on :attr:`now`'s clock) the window is next made anew: once half the lifetime
        has passed since it was made (:class:`fakens.dnssec.rounds.Watch` looks then)."""
        return self._window_made + self.policy.lifetime / 2

    def keys_for(self, rdtype: int) -> list[SigningKey]:
        """The keys that sign an RRset of *rdtype*: the KSKs for DNSKEY, CDS and CDNSKEY, else the ZSKs."""
        return self.ksks if rdtype in _KSK_TYPES else self.zsks

    def sign_rrset(self, owner: Name, rdataset: dns.rdataset.Rdataset, *, inception: int | None = None,
                   expiration: int | None = None, keys: Iterable[SigningKey] | None = None) -> list[RRSIG]:
        """Signatures of one RRset, not cached: the keys and validity given, or the zone's
        (the tool of faults that sign on purpose with a wrong key or time)."""
        start, end = self.window()
        start = start if inception is None else inception
        end = end if expiration is None else expiration
        records = _digestables(rdataset, self.origin)
        out = []
        for key in keys if keys is not None else self.keys_for(rdataset.rdtype):
            labels, data = self._signed_data(owner, _owner_wire(owner), rdataset.rdtype, rdataset.rdclass,
                                             rdataset.ttl, records, key, start, end)
            out.append(_rrsig(rdataset.rdclass, rdataset.rdtype, key, labels, rdataset.ttl, start, end, self.origin,
                              key.private.sign(data, verify=False)))
        return out

    def _signed_data(self, owner: Name, owner_wire: bytes, rdtype: int, rdclass: int, ttl: int,
                     records: tuple[bytes, ...], key: SigningKey, inception: int, expiration: int) -> tuple[int, bytes]:
        """(labels, the data an RRSIG signs), as ``dns.dnssec.sign`` makes them (the tests compare
        the RRSIGs byte for byte): RFC 4034 3.1.8.1, built once per RRset and key from its
        records' canonical forms (*records*, sorted), the key tag and the signer's wire form
        once per key; the key's own ``sign`` does the cryptography."""
        labels = len(owner) - 1 - (1 if owner.is_wild() else 0)
        tag, signer_wire = self._key_facts(key)
        head = _RRSIG_HEAD.pack(rdtype, key.algorithm, labels, ttl, expiration, inception, tag)
        fixed = owner_wire + _RR_FIXED.pack(rdtype, rdclass, ttl)
        return labels, b"".join([head, signer_wire, *(fixed + _LENGTH.pack(len(r)) + r for r in records)])

    def _key_facts(self, key: SigningKey) -> tuple[int, bytes]:
        """*key*'s tag and the signer name's wire form, found once per key (the key kept with
        them: a key dropped by a rollover may be freed, and another made at its address)."""
        found = self._facts.get(id(key))
        if found is None or found[0] is not key:
            wire = self.origin.canonicalize().to_wire()
            assert wire is not None
            found = self._facts[id(key)] = (key, key.key_tag, wire)
        return found[1], found[2]

    def signatures(self, owner: Name, rdataset: dns.rdataset.Rdataset) -> list[RRSIG]:
        """The signatures of the RRset *rdataset* owned by *owner* (cached by its content)."""
        return self._signed(owner, rdataset).made.rrsigs()

    def _signed(self, owner: Name, rdataset: dns.rdataset.Rdataset) -> _Signed:
        self.window()
        known = self._by_identity.get(id(rdataset))
        if (known is not None and known.rdataset is rdataset and known.ttl == rdataset.ttl
                and len(known.rdataset) == known.count and (known.owner is owner or known.owner == owner)):
            return known
        records = _digestables(rdataset, self.origin)
        key = (_owner_wire(owner), rdataset.rdtype, rdataset.covers, rdataset.ttl, records)
        found = self._signatures.get(key)
        if found is None:
            found = self._sign_batch([(key, rdataset.rdclass, owner)], workers=1)[0]
        return self._remember(rdataset, owner, found)

    def _remember(self, rdataset: dns.rdataset.Rdataset, owner: Name, made: _Made) -> _Signed:
        signed = _Signed(rdataset, owner, rdataset.ttl, len(rdataset), made)
        if len(self._by_identity) >= _IDENTITIES_KEPT:
            self._by_identity.clear()
        self._by_identity[id(rdataset)] = signed
        return signed

    def _sign_batch(self, todo: Sequence[tuple[_SigKey, int, Name]], workers: int | None = None) -> list[_Made]:
        """Sign the RRsets *todo* describes ((cache key, class, owner) each) with the zone's keys and
        window, cache and return their signatures; a big batch in worker processes (bulk)."""
        start, end = self._window
        round_ = self._round
        keys = list({id(k): k for k in self.ksks + self.zsks}.values())  # the signing keys (published or not)
        index = {id(k): i for i, k in enumerate(keys)}
        plans = [(owner, wire, rdtype, ttl, rdclass, records, self.keys_for(rdtype))
                 for (wire, rdtype, _, ttl, records), rdclass, owner in todo]
        labels: list[int] = []

        def chunks() -> Iterator[bulk.Chunk]:
            chunk: bulk.Chunk = []
            for owner, wire, rdtype, ttl, rdclass, records, signing in plans:
                for key in signing:
                    count, data = self._signed_data(owner, wire, rdtype, rdclass, ttl, records, key, start, end)
                    chunk.append((index[id(key)], data))
                labels.append(count)
                if len(chunk) >= bulk.CHUNK:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk

        total = sum(len(plan[6]) for plan in plans)
        signatures = iter(itertools.chain.from_iterable(bulk.sign_chunks(keys, chunks(), total, workers)))
        out = []
        with self._lock:
            for ((key, rdclass, _), plan, count) in zip(todo, plans, labels, strict=True):
                _, _, rdtype, ttl, _, _, signing = plan
                made = _Made(rdclass, rdtype, count, ttl, start, end, self.origin,
                             [(k, next(signatures)) for k in signing])
                if self._round == round_:  # (else made in the round before: not kept in this one's cache)
                    self._signatures[key] = made
                out.append(made)
            self.signed += len(out)
        return out

    def rrsig_rrset(self, owner: Name, rdataset: dns.rdataset.Rdataset, served_as: Name | None = None,
                    ttl: int | None = None) -> dns.rrset.RRset:
        """The RRSIG RRset of *rdataset* at *owner*, as served: owned by *served_as* (a name
        synthesized from a wildcard), with *ttl* (the served RRset's). A new RRset each time
        (the caller may change it), copied from one made once per signed RRset."""
        template = self.shared_rrsig_rrset(owner, rdataset)
        rrset: dns.rrset.RRset = template.copy()  # the records' hashes copied, not computed again
        rrset.name = served_as or owner
        rrset.ttl = rdataset.ttl if ttl is None else ttl
        return rrset

    def shared_rrsig_rrset(self, owner: Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
        """The RRSIG RRset of *rdataset* at *owner* that :meth:`rrsig_rrset` copies, made once
        per signed RRset: shared, so read-only, and its owner and TTL are its first asker's
        (what reads its records alone, as :mod:`fakens.express` writes them, needs no copy)."""
        signed = self._signed(owner, rdataset)
        template = signed.rrset
        if template is None:
            template = dns.rrset.RRset(owner, rdataset.rdclass, dns.rdatatype.RRSIG, rdataset.rdtype)
            for rrsig in signed.made.rrsigs():
                template.add(rrsig)
            signed.rrset = template
        return template

    # -- denial of existence ----------------------------------------------------------------

    def chain(self, version: ZoneVersion) -> Chain:
        """The NSEC or NSEC3 chain of *version* (made once per version)."""
        with self._lock:
            found = self._chains.get(version.number)
            if found is not None:
                self._chains.move_to_end(version.number)
                return found
        nsec3 = self.policy.nsec3
        with self._lock:
            last = next(reversed(self._chains.values()), None)  # the newest: updated, not made anew
        if nsec3 is not None:
            chain: Chain = Nsec3Chain(version, nsec3, last if isinstance(last, Nsec3Chain) else None)
        else:
            chain = NsecChain(version, last if isinstance(last, NsecChain) else None)
        with self._lock:
            self._chains[version.number] = chain
            while len(self._chains) > _CHAINS_KEPT:
                self._chains.popitem(last=False)
        return chain

    def signed_rrsets(self, version: ZoneVersion) -> list[dns.rrset.RRset]:
        """Every RRset of *version* with its signatures, and the NSEC/NSEC3 chain signed: a
        signed zone's transfer content, in a stable order (the SOA first)."""
        self.sign_all(version)
        out: list[dns.rrset.RRset] = []
        for rrset in version.rrsets():
            out.append(rrset)
            if not occluded(version, rrset.name, rrset.rdtype):
                out.append(self.rrsig_rrset(rrset.name, rrset))
        for rrset in self.chain(version).rrsets():
            out.append(rrset)
            out.append(self.rrsig_rrset(rrset.name, rrset))
        return out

    def sign_all(self, version: ZoneVersion, workers: int | None = None) -> int:
        """Sign every authoritative RRset of *version* and its chain now (not when first
        asked); how many RRsets were signed (those whose content was signed before are not).

        A batch of :data:`fakens.dnssec.bulk.PARALLEL_FROM` signatures or more is signed in
        one worker process per CPU (*workers*: how many; 1 for none). After an edit, only the
        changed RRsets and the NSEC records whose next name or types changed are signed
        (the chain is updated from the previous version's, :class:`NsecChain`)."""
        self.window()
        todo: list[tuple[_SigKey, int, Name]] = []  # each content once: keys differ by owner and type
        fresh: list[tuple[dns.rdataset.Rdataset, Name, _SigKey]] = []  # RRset objects not known by identity yet
        known = self._by_identity
        for owner, node in version.nodes.items():
            for (rdtype, covers), rdataset in node.items():
                if rdtype == _RRSIG_TYPE or occluded(version, owner, rdtype):
                    continue
                hit = known.get(id(rdataset))
                if hit is not None and hit.rdataset is rdataset and hit.ttl == rdataset.ttl:
                    continue
                key: _SigKey = (_owner_wire(owner), rdtype, covers, rdataset.ttl, _digestables(rdataset, self.origin))
                fresh.append((rdataset, owner, key))
                if key not in self._signatures:
                    todo.append((key, rdataset.rdclass, owner))
        chain = self.chain(version)
        with self._lock:
            owners = chain.dirty if chain.base is not None and chain.base in self._chains_signed else None
        denial = _NSEC3_TYPE if isinstance(chain, Nsec3Chain) else _NSEC_TYPE
        for owner, wire in chain.material(owners):
            key = (_owner_wire(owner), denial, dns.rdatatype.NONE, chain.ttl, (wire,))
            if key not in self._signatures:
                todo.append((key, dns.rdataclass.IN, owner))
        if todo:
            self._sign_batch(todo, workers)
        for rdataset, owner, key in fresh:  # the next pass (an edit) knows them without their records
            self._remember(rdataset, owner, self._signatures[key])
        with self._lock:
            self._chains_signed.add(version.number)
        return len(todo)  # the RRSIG records and RRsets are made from these when first served

    def __repr__(self) -> str:
        return f"<ZoneSigner {self.origin} {self.keys}>"


_IDENTITIES_KEPT = 2_000_000


def _owner_wire(owner: Name) -> bytes:
    """*owner* in canonical wire form (lower-cased, RFC 4034 6.2)."""
    wire = owner.to_wire()
    assert wire is not None
    return wire.lower()


def _digestables(rdataset: dns.rdataset.Rdataset, origin: Name) -> tuple[bytes, ...]:
    """The canonical wire forms of *rdataset*'s records, sorted (RFC 4034 6.3): what is
    signed, and the key of the signature cache."""
    return tuple(sorted(rdata.to_digestable(origin) for rdata in rdataset))


def _rrsig(rdclass: int, rdtype: int, key: SigningKey, labels: int, ttl: int, inception: int, expiration: int,
           signer: Name, signature: bytes) -> RRSIG:
    return RRSIG(rdclass, dns.rdatatype.RRSIG, rdtype, key.algorithm, labels, ttl, expiration, inception,
                 key.key_tag, signer, signature)


class _Made:
    """The signatures of one RRset content; the RRSIG records made when first asked (a
    zone signed in bulk pays for its records as it is served)."""

    __slots__ = ("_rrsigs", "expiration", "inception", "labels", "rdclass", "rdtype", "signatures", "signer", "ttl")

    def __init__(self, rdclass: int, rdtype: int, labels: int, ttl: int, inception: int, expiration: int,
                 signer: Name, signatures: list[tuple[SigningKey, bytes]]) -> None:
        self.rdclass, self.rdtype, self.labels, self.ttl = rdclass, rdtype, labels, ttl
        self.inception, self.expiration, self.signer = inception, expiration, signer
        self.signatures = signatures
        self._rrsigs: list[RRSIG] | None = None

    def rrsigs(self) -> list[RRSIG]:
        found = self._rrsigs
        if found is None:
            found = self._rrsigs = [_rrsig(self.rdclass, self.rdtype, key, self.labels, self.ttl, self.inception,
                                           self.expiration, self.signer, signature)
                                    for key, signature in self.signatures]
        return found


class _Signed:
    """One RRset object's signatures, and its RRSIG RRset once made."""

    __slots__ = ("count", "made", "owner", "rdataset", "rrset", "ttl")

    def __init__(self, rdataset: dns.rdataset.Rdataset, owner: Name, ttl: int, count: int, made: _Made) -> None:
        self.rdataset = rdataset  # kept alive, so that its id is not reused while cached
        self.owner = owner
        self.ttl = ttl
        self.count = count
        self.made = made
        self.rrset: dns.rrset.RRset | None = None


def sign_zone(zone: Zone, policy: DnssecPolicy | None = None, keys: Sequence[SigningKey] | None = None) -> ZoneSigner:
    """Sign *zone* with *policy* (default: algorithm 13, KSK + ZSK, NSEC): keys generated (or
    read from ``policy.key_dir``) and published at the apex; answers to DO=1 queries then
    carry signatures and proofs."""
    signer = ZoneSigner(zone.origin, policy, keys)
    signer.install(zone)
    return signer


def sign_zones(zones: Iterable[Zone], policy: DnssecPolicy | None = None, ds_ttl: int = 3600) -> list[ZoneSigner]:
    """Sign every zone of *zones* not signed yet, and give each served parent the DS of its
    signed children (a chain of trust inside one server, or one lab)."""
    zones = list(zones)
    signers = [z.signer if z.signer is not None else sign_zone(z, policy) for z in zones]
    add_ds_records(zones, ds_ttl)
    return signers


def add_ds_records(zones: Iterable[Zone], ttl: int = 3600) -> None:
    """For each signed zone whose parent zone is among *zones* and delegates to it, put the
    child's DS at the cut in the parent (the serial kept; a fresh parent keeps that as its
    baseline)."""
    by_origin: dict[Name, list[Zone]] = {}
    for zone in zones:
        by_origin.setdefault(zone.origin, []).append(zone)
    for origin, children in by_origin.items():
        signer = next((z.signer for z in children if z.signer is not None), None)
        if signer is None or origin == dns.name.root:
            continue
        parent = origin.parent()
        while parent not in by_origin and len(parent) > 1:
            parent = parent.parent()
        for zone in by_origin.get(parent, []):
            if zone.current.get(origin, dns.rdatatype.NS) is None:
                continue
            fresh = len(zone.history) == 1
            zone.edit(replace=[signer.ds_rrset(ttl)], bump_serial=False)
            if fresh:
                zone.set_baseline()
