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

from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_BYTES = 32 * 1024 * 1024
"""What the cached replies may take (keys, replies and a log template each, estimated):
past it the oldest are forgotten first, so a big zone's distinct questions do not empty
the cache of the repeated ones all at once."""

ENTRY_OVERHEAD = 1250
"""The bytes of one entry beyond its key and reply: the dict slot, the tuple and the log
template (a LogEntry with its query bytes and EDNS record), about 1.4 KB in all for a small
reply, measured with tracemalloc."""

SHARED_OVERHEAD = 200
"""The bytes of one entry beyond its key and reply when its value is shared by many entries
(an express reply's log template, :class:`fakens.exchange.BytesTemplate`): the dict slot,
the tuple and the bytes objects' own headers, 170-204 bytes measured with tracemalloc."""


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

    def __init__(self, limit_bytes: int = MAX_BYTES, shared: type | None = None) -> None:
        """*shared*: the class of values that many entries share (their cost is SHARED_OVERHEAD)."""
        self.limit_bytes = limit_bytes
        self._shared = shared
        # oldest first; an OrderedDict, as a dict emptied from its front makes each next(iter())
        # step over every slot deleted since its last resize (tens of microseconds a put when full)
        self._entries: OrderedDict[bytes, tuple[bytes, T]] = OrderedDict()
        self.size = 0  # estimated bytes held
        self.hits = 0

    @staticmethod
    def key(wire: bytes, transport: str, end: int | None = -1) -> bytes | None:
        """The cache key of a query, or None when it must take the slow path (*end*: its
        :func:`question_end`, when the caller knows it)."""
        if wire[4:6] != b"\x00\x01":
            return None  # not exactly one question
        if end == -1:
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
        entries = self._entries
        old = entries.pop(key, None)
        shared = self._shared
        if old is not None:
            self.size -= _cost(key, old[0], shared is not None and isinstance(old[1], shared))
        entries[key] = (reply, value)
        self.size += _cost(key, reply, shared is not None and isinstance(value, shared))
        while self.size > self.limit_bytes and entries:
            oldest, (old_reply, old_value) = entries.popitem(last=False)
            self.size -= _cost(oldest, old_reply, shared is not None and isinstance(old_value, shared))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every reply (a zone changed)."""
        self._entries.clear()
        self.size = 0


def _cost(key: bytes, reply: bytes, shared: bool) -> int:
    return len(key) + len(reply) + (SHARED_OVERHEAD if shared else ENTRY_OVERHEAD)
