"""What keeps a server bound to a public address from being an open amplifier.

Used only for a server started with ``allow_public=True`` on an address that is
not loopback (:func:`fakens.transport.counts_as_loopback`), and only for UDP
clients that are not loopback: a token bucket per client network (IPv4 /24,
IPv6 /56) limits the replies a second, and a reply larger than the size cap
(``public_udp_size``, and ``public_reply_ratio`` times the query, 512 bytes
always allowed) is replaced by a truncated one (TC: the client asks again over
TCP, which cannot be spoofed)::

    guard = PublicGuard(rate=20, burst=40, udp_size=1232, ratio=4.0)
    guard.allow("192.0.2.7", now)            # False once the /24 spent its tokens
    guard.cap(len(query))                    # the largest reply sent whole
    truncated(reply, query)                  # the same header with TC, the question, no records
"""

from __future__ import annotations

import ipaddress
import struct

MIN_REPLY = 512
MAX_NETWORKS = 65536  # buckets kept; the oldest are forgotten beyond it


class PublicGuard:
    """Rate limit and reply size cap for non-loopback UDP clients (0 turns each part off)."""

    def __init__(self, rate: float, burst: int, udp_size: int, ratio: float) -> None:
        self.rate = rate
        self.burst = burst
        self.udp_size = udp_size
        self.ratio = ratio
        self.buckets: dict[bytes, tuple[float, float]] = {}  # network -> (tokens, when)
        self.limited = 0  # replies not sent
        self.truncated = 0  # replies sent truncated

    def allow(self, client: str, now: float) -> bool:
        """May *client* get one more reply at *now* (seconds)? Spends a token when it may."""
        if not self.rate:
            return True
        key = _network(client)
        tokens, when = self.buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - when) * self.rate)
        allowed = tokens >= 1.0
        self.buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # re-inserted: the newest
        if len(self.buckets) > MAX_NETWORKS:
            del self.buckets[next(iter(self.buckets))]
        if not allowed:
            self.limited += 1
        return allowed

    def cap(self, query_size: int) -> int | None:
        """The largest UDP reply sent whole for a query of *query_size* bytes (None: no cap)."""
        caps = []
        if self.udp_size:
            caps.append(self.udp_size)
        if self.ratio:
            caps.append(max(MIN_REPLY, int(self.ratio * query_size)))
        return min(caps) if caps else None


def _network(client: str) -> bytes:
    address = ipaddress.ip_address(client)
    packed = address.packed
    return packed[:3] if address.version == 4 else packed[:7]


def truncated(reply: bytes, query: bytes) -> bytes:
    """*reply*'s header with TC set, the question of *query*, and an OPT (1232) when the
    query had additional records: a reply that sends the client to TCP."""
    end = _question_end(query)
    if len(reply) < 12 or end is None:
        return reply[:12]
    msg_id, flags = struct.unpack_from("!HH", reply)
    has_opt = len(query) >= 12 and struct.unpack_from("!H", query, 10)[0] > 0
    header = struct.pack("!HHHHHH", msg_id, flags | 0x0200, 1, 0, 0, 1 if has_opt else 0)
    opt = b"\x00\x00\x29" + struct.pack("!HIH", 1232, 0, 0) if has_opt else b""
    return header + query[12:end] + opt


def _question_end(query: bytes) -> int | None:
    """Where the first question of *query* ends (None: no whole question)."""
    if len(query) < 12 or struct.unpack_from("!H", query, 4)[0] < 1:
        return None
    at = 12
    while at < len(query):
        length = query[at]
        if length == 0:
            at += 1
            break
        if length & 0xC0:
            at += 2
            break
        at += 1 + length
    else:
        return None
    return at + 4 if at + 4 <= len(query) else None
