"""The fast path: replies to repeated questions served from a cache of wire bytes.

The engine is deterministic (same zones + same question = same answer), so a
reply can be kept, keyed by everything in the query that could change it
(transport, header flags and counts, the question as written, the OPT record),
and reused with only the ID patched in. The question's case is part of the key:
names synthesized from the query name (DNAME, wildcards) keep the client's case. The
cache is emptied whenever a zone of the server changes; the server uses it
only for queries no installed fault could act on (``FaultChain.could_match``)
and keeps only replies no fault touched and no TSIG signed::

    cache = ReplyCache()
    key = cache.key(wire, "udp")        # None: not a plain query, take the slow path
    reply = cache.get(key, wire)        # None on a miss
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

MAX_ENTRIES = 10_000


def question_end(wire: bytes) -> int | None:
    """The offset after the first question's class, or None when the name uses
    compression or the message is too short."""
    i = 12
    size = len(wire)
    while i < size:
        length = wire[i]
        if length == 0:
            end = i + 5
            return end if end <= size else None
        if length & 0xC0:
            return None
        i += length + 1
    return None


class ReplyCache(Generic[T]):
    """Reply bytes (and a value of the caller's, e.g. a log template) by query key."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self.limit = limit
        self._entries: dict[bytes, tuple[bytes, T]] = {}
        self.hits = 0

    @staticmethod
    def key(wire: bytes, transport: str) -> bytes | None:
        """The cache key of a query, or None when it must take the slow path."""
        if wire[4:6] != b"\x00\x01":
            return None  # not exactly one question
        end = question_end(wire)
        if end is None:
            return None
        return (b"t" if transport == "tcp" else b"u") + wire[2:]

    def get(self, key: bytes, wire: bytes) -> tuple[bytes, T] | None:
        """The cached reply with *wire*'s ID, or None."""
        found = self._entries.get(key)
        if found is None:
            return None
        reply, value = found
        self.hits += 1
        return wire[:2] + reply[2:], value

    def put(self, key: bytes, reply: bytes, value: T) -> None:
        """Keep a reply whose question is the one in *key*."""
        if len(self._entries) >= self.limit:
            self._entries.clear()
        self._entries[key] = (reply, value)

    def clear(self) -> None:
        """Forget every reply (a zone changed)."""
        self._entries.clear()
