"""Authenticated denial of existence: the NSEC (RFC 4034) or NSEC3 (RFC 5155) chain of a
zone version, and the records that prove a negative or wildcard answer (RFC 4035 3.1.3,
RFC 5155 7.2)::

    chain = NsecChain(version)
    chain.covering(name("nope.example.test."))   # the NSEC whose owner < name < next
    proof_rrsets(chain, version, Proof(version, qname, Kind.NXDOMAIN))

The chain holds the zone's authoritative names in canonical order (RFC 4034 6.1): names with
data, delegation points included, glue below them left out; NSEC3 adds the empty
non-terminals and, with opt-out, leaves out delegations without DS.
"""

from __future__ import annotations

import base64
import bisect
import io
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.NSEC
import dns.rdtypes.ANY.NSEC3
import dns.rrset

from fakens.answer import Kind, Proof
from fakens.dnssec.policy import Nsec3Params
from fakens.zones import Name, ZoneVersion

_NSEC, _NSEC3, _RRSIG = dns.rdatatype.NSEC, dns.rdatatype.NSEC3, dns.rdatatype.RRSIG
_NS, _DS = dns.rdatatype.NS, dns.rdatatype.DS
_NONE = dns.rdatatype.NONE
_WILD = b"*"
Bitmap = dns.rdtypes.ANY.NSEC.Bitmap
Bitmap3 = dns.rdtypes.ANY.NSEC3.Bitmap


def occluded(version: ZoneVersion, name: Name, rdtype: int) -> bool:
    """Is the RRset at *name* not authoritative data: below a cut (glue), or at a cut and not
    its DS (the delegation's NS is the child's, unsigned in the parent)?"""
    cuts = version.cuts
    if not cuts:
        return False
    if name in cuts:
        return rdtype != _DS
    depth = len(version.origin)
    while len(name) > depth:
        if name in cuts:
            return True
        name = name.parent()
    return False


def _below_cut(version: ZoneVersion, name: Name) -> bool:
    return bool(version.cuts) and name not in version.cuts and occluded(version, name, _NS)


def _types(version: ZoneVersion, name: Name) -> list[dns.rdatatype.RdataType]:
    """The types of the RRsets at *name* a denial record lists (a cut: NS and DS only)."""
    node = version.nodes.get(name) or {}
    types = {rdtype for (rdtype, covers) in node if covers == _NONE}
    if version.cuts and name in version.cuts:
        types &= {_NS, _DS}
    return sorted(types)


def closest_encloser(names: AbstractSet[Name], qname: Name, origin: Name) -> Name:
    """The longest ancestor of *qname* (itself excluded) in *names* (at worst *origin*)."""
    name = qname
    while name != origin and len(name) > len(origin):
        name = name.parent()
        if name in names:
            return name
    return origin


def _wildcard(encloser: Name) -> Name:
    return dns.name.Name((_WILD,) + encloser.labels)


def canonical_key(name: Name) -> tuple[bytes, ...]:
    """The sort key of *name* in canonical order (RFC 4034 6.1): its labels lower-cased,
    from the root down (compared as tuples of bytes, far cheaper than ``Name.__lt__``)."""
    return tuple(label.lower() for label in reversed(name.labels))


def bitmap_wire(types: tuple[int, ...]) -> bytes:
    """The type bitmap of NSEC/NSEC3 records listing *types* (sorted), in wire form (cached)."""
    found = _BITMAPS.get(types)
    if found is None:
        out = io.BytesIO()
        Bitmap.from_rdtypes([dns.rdatatype.RdataType.make(t) for t in types]).to_wire(out)
        found = _BITMAPS[types] = out.getvalue()
    return found


_BITMAPS: dict[tuple[int, ...], bytes] = {}
_REBUILD_ABOVE = 0.05  # an edit that adds or removes more than this share of the names: the chain made anew


class NsecChain:
    """The NSEC records of one zone version, made as they are asked for.

    Made from the chain of another version of the zone (*previous*), only the names the
    edit added, removed or changed the types of are placed again; :attr:`dirty` then holds
    the owners whose NSEC differs from *previous*'s (their types, or their next name
    changed), so that a signer re-signs those alone::

        chain = NsecChain(zone.current, previous=old_chain)
        chain.dirty              # {www.example.test., ...}, or None: made from scratch
    """

    def __init__(self, version: ZoneVersion, previous: NsecChain | None = None) -> None:
        self.version = version
        self.ttl = version.negative_ttl()  # RFC 9077: min(SOA TTL, SOA minimum)
        self.base: int | None = None
        """The number of the version whose chain this one was updated from (None: made from scratch)."""
        self.dirty: set[Name] | None = None
        """The owners whose NSEC differs from the one in the base version's chain (None: all)."""
        if previous is None or not self._update(previous):
            decorated = sorted((canonical_key(name), name) for name, node in version.nodes.items()
                               if node and not _below_cut(version, name))
            self.keys: list[tuple[bytes, ...]] = [key for key, _ in decorated]
            self.names: list[Name] = [name for _, name in decorated]
        self._made: dict[int, dns.rrset.RRset] = {}

    def _update(self, previous: NsecChain) -> bool:
        """Place the names of this version from *previous*'s chain; False when an edit this
        large (or a change of cuts or negative TTL) is cheaper made from scratch."""
        old, new = previous.version, self.version
        if old.cuts != new.cuts or previous.ttl != self.ttl or old.origin != new.origin:
            return False
        old_nodes, new_nodes = old.nodes, new.nodes
        added: list[Name] = []
        removed: list[Name] = []
        dirty: set[Name] = set()
        kept = 0
        for name, node in new_nodes.items():
            before = old_nodes.get(name)
            if before is not None:
                kept += 1
                if before.keys() == node.keys():
                    continue
            if _below_cut(new, name):
                continue
            if before and node:
                dirty.add(name)  # its types changed
            elif node:
                added.append(name)
            elif before:
                removed.append(name)
        if kept != len(old_nodes):
            removed += [n for n, node in old_nodes.items() if node and n not in new_nodes and not _below_cut(old, n)]
        if len(added) + len(removed) + len(dirty) > _REBUILD_ABOVE * len(previous.names) + 16:
            return False
        keys, names = list(previous.keys), list(previous.names)
        gone = set()
        for name in removed:
            key = canonical_key(name)
            i = bisect.bisect_left(keys, key)
            if i < len(keys) and keys[i] == key:
                del keys[i], names[i]
                gone.add(name)
                dirty.add(names[(i - 1) % len(names)])  # its predecessor's next name changed
        for name in added:
            key = canonical_key(name)
            i = bisect.bisect_left(keys, key)
            keys.insert(i, key)
            names.insert(i, name)
            dirty.update((name, names[(i - 1) % len(names)]))
        self.keys, self.names = keys, names
        self.dirty = dirty - gone
        self.base = old.number
        return True

    def _find(self, name: Name) -> int | None:
        key = canonical_key(name)
        i = bisect.bisect_left(self.keys, key)
        return i if i < len(self.keys) and self.keys[i] == key else None

    def _record(self, index: int) -> dns.rrset.RRset:
        found = self._made.get(index)
        if found is None:
            owner = self.names[index]
            following = self.names[(index + 1) % len(self.names)]
            rdata = dns.rdtypes.ANY.NSEC.NSEC(dns.rdataclass.IN, _NSEC, following, Bitmap.from_rdtypes(self._types(owner)))
            found = dns.rrset.from_rdata_list(owner, self.ttl, [rdata])
            self._made[index] = found
        return found

    def _types(self, owner: Name) -> list[dns.rdatatype.RdataType]:
        return [*_types(self.version, owner), _NSEC, _RRSIG]

    def digestable(self, owner: Name) -> bytes:
        """The canonical wire form (RFC 4034 6.2, RFC 6840 5.1: the next name as it is) of
        the NSEC owned by *owner*, made without the record: what its signature signs."""
        i = self._find(owner)
        if i is None:
            raise KeyError(owner)
        return self._digestable(i)

    def _digestable(self, index: int) -> bytes:
        owner, following = self.names[index], self.names[(index + 1) % len(self.names)]
        wire = following.to_wire()
        assert wire is not None
        return wire + bitmap_wire(tuple(sorted(self._types(owner))))

    def material(self, owners: Iterable[Name] | None = None) -> Iterator[tuple[Name, bytes]]:
        """(owner, canonical wire form) of each NSEC (or those owned by *owners*), for signing."""
        if owners is None:
            return ((self.names[i], self._digestable(i)) for i in range(len(self.names)))
        found = (self._find(o) for o in owners)
        return ((self.names[i], self._digestable(i)) for i in found if i is not None)

    def matching(self, name: Name) -> dns.rrset.RRset | None:
        """The NSEC owned by *name*, or None."""
        i = self._find(name)
        return self._record(i) if i is not None else None

    def covering(self, name: Name) -> dns.rrset.RRset:
        """The NSEC whose span holds *name* (owner < name < next, wrapping at the end)."""
        return self._record((bisect.bisect_right(self.keys, canonical_key(name)) - 1) % len(self.names))

    def rrsets(self) -> Iterator[dns.rrset.RRset]:
        """Every NSEC of the chain, in canonical order."""
        return (self._record(i) for i in range(len(self.names)))

    def at(self, owner: Name) -> dns.rrset.RRset | None:
        """The NSEC owned by *owner* (the same as :meth:`matching`)."""
        return self.matching(owner)

    def after(self, owner: Name) -> dns.rrset.RRset | None:
        """The NSEC that follows the one owned by *owner* in the chain, or None (no such owner)."""
        i = self._find(owner)
        return self._record((i + 1) % len(self.names)) if i is not None else None

    def proof(self, proof: Proof) -> list[dns.rrset.RRset]:
        """The NSEC records proving *proof* (RFC 4035 3.1.3)."""
        version, name = self.version, proof.name
        if proof.kind is Kind.DELEGATION:
            found = self.matching(name)
            return [found] if found is not None else []
        if proof.kind is Kind.ANSWER:  # a wildcard answer: the query name does not exist
            return [self.covering(name)]
        if proof.wildcard is not None:  # wildcard NODATA: no such name, and the wildcard lacks the type
            wild = self.matching(proof.wildcard)
            return [self.covering(name)] + ([wild] if wild is not None else [])
        if proof.kind is Kind.NODATA:
            found = self.matching(name)
            return [found if found is not None else self.covering(name)]  # an empty non-terminal: covered
        encloser = closest_encloser(version.names, name, version.origin)
        return [self.covering(name), self.covering(_wildcard(encloser))]


class Nsec3Chain:
    """The NSEC3 records of one zone version (SHA-1, the policy's iterations and salt)."""

    def __init__(self, version: ZoneVersion, params: Nsec3Params, previous: Nsec3Chain | None = None) -> None:
        self.version = version
        self.params = params
        self.ttl = version.negative_ttl()
        self.origin = version.origin
        self.base: int | None = None
        self.dirty: set[Name] | None = None  # NSEC3 chains are made from scratch (the hashes kept: below)
        secure_cut = {c for c in version.cuts if version.get(c, _DS) is not None}
        names = [name for name in version.names if not _below_cut(version, name)
                 and not (params.opt_out and name in version.cuts and name not in secure_cut)]
        known = previous._hash_of if previous is not None and previous.params == params else {}
        self._hash_of: dict[Name, str] = {name: known.get(name) or self.hash(name) for name in names}
        self.hashed: dict[str, Name] = {hashed: name for name, hashed in self._hash_of.items()}
        self.names = frozenset(self.hashed.values())
        self.hashes = sorted(self.hashed)
        self._made: dict[int, dns.rrset.RRset] = {}

    def hash(self, name: Name) -> str:
        """The NSEC3 hash of *name*, base32hex as the owner's first label (upper case)."""
        import dns.dnssec  # cryptography: loaded for signed zones only

        return dns.dnssec.nsec3_hash(name, self.params.salt, self.params.iterations, 1)

    def owner(self, hashed: str) -> Name:
        return dns.name.Name((hashed.lower().encode(),) + self.origin.labels)

    def _rdata(self, index: int) -> dns.rdtypes.ANY.NSEC3.NSEC3:
        name = self.hashed[self.hashes[index]]
        following = base64.b32hexdecode(self.hashes[(index + 1) % len(self.hashes)])
        types = _types(self.version, name)
        if types and (name not in self.version.cuts or _DS in types):
            types.append(_RRSIG)
        flags = 1 if self.params.opt_out else 0
        return dns.rdtypes.ANY.NSEC3.NSEC3(dns.rdataclass.IN, _NSEC3, 1, flags, self.params.iterations,
                                           self.params.salt, following, Bitmap3.from_rdtypes(sorted(types)))

    def _record(self, index: int) -> dns.rrset.RRset:
        found = self._made.get(index)
        if found is None:
            found = dns.rrset.from_rdata_list(self.owner(self.hashes[index]), self.ttl, [self._rdata(index)])
            self._made[index] = found
        return found

    def material(self, owners: Iterable[Name] | None = None) -> Iterator[tuple[Name, bytes]]:
        """(owner, canonical wire form) of each NSEC3 (or those owned by *owners*, hashed
        names), for signing."""
        found: Iterable[int | None] = range(len(self.hashes)) if owners is None else (self._index(o) for o in owners)
        return ((self.owner(self.hashes[i]), self._rdata(i).to_digestable()) for i in found if i is not None)

    def matching(self, name: Name) -> dns.rrset.RRset | None:
        """The NSEC3 of *name* (its hash is an owner of the chain), or None."""
        hashed = self.hash(name)
        i = bisect.bisect_left(self.hashes, hashed)
        if i < len(self.hashes) and self.hashes[i] == hashed:
            return self._record(i)
        return None

    def covering(self, name: Name) -> dns.rrset.RRset:
        """The NSEC3 whose span holds the hash of *name*."""
        return self._record((bisect.bisect_right(self.hashes, self.hash(name)) - 1) % len(self.hashes))

    def rrsets(self) -> Iterator[dns.rrset.RRset]:
        """Every NSEC3 of the chain, in hash order."""
        return (self._record(i) for i in range(len(self.hashes)))

    def _index(self, owner: Name) -> int | None:
        if len(owner) <= len(self.origin) or owner.parent() != self.origin:
            return None
        hashed = owner.labels[0].decode("ascii", "replace").upper()
        i = bisect.bisect_left(self.hashes, hashed)
        return i if i < len(self.hashes) and self.hashes[i] == hashed else None

    def at(self, owner: Name) -> dns.rrset.RRset | None:
        """The NSEC3 owned by *owner* (a hashed name), or None."""
        i = self._index(owner)
        return self._record(i) if i is not None else None

    def after(self, owner: Name) -> dns.rrset.RRset | None:
        """The NSEC3 that follows the one owned by *owner* in hash order, or None."""
        i = self._index(owner)
        return self._record((i + 1) % len(self.hashes)) if i is not None else None

    def _encloser_proof(self, name: Name) -> tuple[Name, list[dns.rrset.RRset]]:
        """The closest encloser proof (RFC 5155 7.2.1): its NSEC3, and the one covering the next closer name."""
        encloser = closest_encloser(self.names, name, self.origin)
        next_closer = name.split(len(encloser) + 1)[1]
        matching = self.matching(encloser)
        return encloser, [r for r in (matching, self.covering(next_closer)) if r is not None]

    def proof(self, proof: Proof) -> list[dns.rrset.RRset]:
        """The NSEC3 records proving *proof* (RFC 5155 7.2)."""
        name = proof.name
        if proof.kind is Kind.ANSWER:  # 7.2.6: the next closer name is covered
            encloser = proof.wildcard.parent() if proof.wildcard is not None else self.origin
            return [self.covering(name.split(len(encloser) + 1)[1])]
        if proof.kind in (Kind.NODATA, Kind.DELEGATION) and proof.wildcard is None:
            found = self.matching(name)
            if found is not None:
                return [found]
            if proof.kind is Kind.NODATA and name in self.version.names and name not in self.version.cuts:
                return []  # cannot happen: every existing name has an NSEC3
            return self._encloser_proof(name)[1]  # 7.2.4 / 7.2.7: an opt-out span covers it
        if proof.wildcard is not None:  # 7.2.5: wildcard NODATA
            _, records = self._encloser_proof(name)
            wild = self.matching(proof.wildcard)
            return records + ([wild] if wild is not None else [])
        encloser, records = self._encloser_proof(name)  # 7.2.2: NXDOMAIN
        return records + [self.covering(_wildcard(encloser))]


Chain = NsecChain | Nsec3Chain
"""Either chain: ``matching``, ``covering``, ``rrsets`` and ``proof`` alike."""
