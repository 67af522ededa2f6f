"""Names that are cheap to look up: a ``dns.name.Name`` with its hash kept and a quick equality.

dnspython hashes a name with a loop over its characters in Python and compares names
with ``fullcompare`` (about 1.3 and 1.2 µs each for ``h12345.big.test.``); answering one
query looks its names up a dozen times (the zone, the node, the additional hosts), so
that was half of the engine's time. A :class:`FastName` is a ``dns.name.Name`` in every
other way: equal names of either class are equal and hash alike, so dicts keyed by one
find the other::

    name = fast_name((b"www", b"example", b"test", b""))
    hash(name) == hash(dns.name.from_text("www.example.test."))   # True, computed once
    name == dns.name.from_text("WWW.example.test.")                # True: case-insensitive
    name.parent()                                                   # a FastName too

The zone readers make owner and target names as FastNames, and the exchange makes
the question's name so (:mod:`fakens.zonelines`, :mod:`fakens.exchange`).
"""

from __future__ import annotations

import dns.name

__all__ = ["FastName", "fast_name", "forget_hash", "hashed_name", "joined_name", "suffix_hash"]

_Name = dns.name.Name
_fullcompare = _Name.fullcompare
_set = object.__setattr__
_SSIZE_MAX = 2**63 - 1
_new = object.__new__


class FastName(dns.name.Name):
    """A ``dns.name.Name`` whose hash is computed once and whose equality tries the
    labels as written before dnspython's case-insensitive comparison."""

    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:
        try:
            h = self._hash  # -1 (never a hash) until computed
        except AttributeError:  # unpickled: the slot is not state
            h = -1
        if h != -1:
            return h
        h = _hash_of(self.labels)
        if h > _SSIZE_MAX:
            h = hash(h)  # what hash() makes of Name.__hash__'s number past a machine word
        _set(self, "_hash", h)
        return h

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, _Name):
            return False
        mine, theirs = self.labels, other.labels
        if mine == theirs:
            return True
        if len(mine) != len(theirs):
            return False
        if mine[0].lower() != theirs[0].lower():
            return False  # most names with equal hashes differ here (dnspython's hash collides often)
        return _fullcompare(self, other)[1] == 0

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def is_subdomain(self, other: dns.name.Name) -> bool:
        """Is this name *other* or below it? (dnspython's answer; the labels as written first.)"""
        theirs = other.labels
        mine = self.labels
        count = len(theirs)
        if count and count <= len(mine) and mine[len(mine) - count:] == theirs:
            return True  # same last label: both absolute or both relative, as dnspython requires
        return _Name.is_subdomain(self, other)

    def parent(self) -> FastName:
        """The parent name, a FastName (``dns.name.NoParent`` for the root or the empty name)."""
        labels = self.labels
        if labels == (b"",) or not labels:
            raise dns.name.NoParent
        return fast_name(labels[1:])


def _hash_of(labels: tuple[bytes, ...]) -> int:
    """``Name.__hash__``, the same number (``h = 9*h + byte`` over the bytes of the labels in
    lower case), with the part after the first label (the origin, mostly) computed once:
    h(first + rest) = h(first) * 9**len(rest) + h(rest)."""
    if len(labels) < 2:
        h = 0
        for label in labels:
            for c in label.lower():
                h += (h << 3) + c
        return h
    rest = labels[1:]
    known = _REST_HASHES.get(rest)
    if known is None:
        known = _rest_hash(rest)
    h = 0
    for c in labels[0].lower():
        h += (h << 3) + c
    return h * known[1] + known[0]


_REST_HASHES: dict[tuple[bytes, ...], tuple[int, int]] = {}
"""For the labels after a name's first: their part of the name's hash, and 9 to the number of their bytes."""


def suffix_hash(rest: tuple[bytes, ...]) -> tuple[int, int]:
    """What the labels *rest* add to the hash of a name they end (for :func:`joined_name`):
    their part of it, and 9 to the number of their bytes."""
    h = 0
    for label in rest:
        for c in label.lower():
            h += (h << 3) + c
    return h, 9 ** sum(len(label) for label in rest)


def joined_name(first: bytes, rest: tuple[bytes, ...], rest_hash: int, power: int) -> FastName:
    """``hashed_name((first,) + rest)``, *rest*'s part of the hash given (``suffix_hash(rest)``:
    a caller that sees the same suffix often keeps it, and its labels, shared by the names)."""
    h = 0
    for c in first.lower():
        h += (h << 3) + c
    h = h * power + rest_hash
    name = _new(FastName)
    _set(name, "labels", (first, *rest))
    _set(name, "_hash", h if h <= _SSIZE_MAX else hash(h))
    return name


def _rest_hash(rest: tuple[bytes, ...]) -> tuple[int, int]:
    known = suffix_hash(rest)
    if len(_REST_HASHES) >= 10_000:
        _REST_HASHES.clear()
    _REST_HASHES[rest] = known
    return known


def fast_name(labels: tuple[bytes, ...]) -> FastName:
    """A FastName of *labels* as they are, unchecked: the caller has made them valid
    (each label 1-63 octets but a last empty one, at most 255 octets in all)."""
    name = _new(FastName)
    _set(name, "labels", labels)  # how dnspython's immutable Name is filled
    _set(name, "_hash", -1)  # (-1: not computed; a small int, shared: no memory of its own)
    return name


def hashed_name(labels: tuple[bytes, ...]) -> FastName:
    """:func:`fast_name` with its hash computed at once (a name that is looked up as soon
    as made: the query's)."""
    name = _new(FastName)
    _set(name, "labels", labels)
    h = _hash_of(labels)
    _set(name, "_hash", h if h <= _SSIZE_MAX else hash(h))
    return name


def forget_hash(name: FastName) -> None:
    """Drop *name*'s cached hash (an int of 36 bytes; computed again when next asked): the
    zone file reader does so for owners once they are keys of the zone's dict, which keeps it."""
    _set(name, "_hash", -1)


def as_fast(name: dns.name.Name) -> FastName:
    """*name* as a FastName (itself when it is one)."""
    if isinstance(name, FastName):
        return name
    return fast_name(name.labels)
