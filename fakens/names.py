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

__all__ = ["FastName", "fast_name"]

_Name = dns.name.Name
_name_hash = _Name.__hash__
_fullcompare = _Name.fullcompare
_set = object.__setattr__
_new = object.__new__


class FastName(dns.name.Name):
    """A ``dns.name.Name`` whose hash is computed once and whose equality tries the
    labels as written before dnspython's case-insensitive comparison."""

    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:  # not yet computed (or unpickled: the slot is not state)
            h = _name_hash(self)
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


def fast_name(labels: tuple[bytes, ...]) -> FastName:
    """A FastName of *labels* as they are, unchecked: the caller has made them valid
    (each label 1-63 octets but a last empty one, at most 255 octets in all)."""
    name = _new(FastName)
    _set(name, "labels", labels)  # how dnspython's immutable Name is filled
    return name


def as_fast(name: dns.name.Name) -> FastName:
    """*name* as a FastName (itself when it is one)."""
    if isinstance(name, FastName):
        return name
    return fast_name(name.labels)
