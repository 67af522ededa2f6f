"""Zones a resolver answers itself by default, which a lab that serves them must switch off.

unbound answers special-use names (RFC 6761: ``test.``, ``invalid.``, ``localhost.``,
``onion.``, ``home.arpa.``) and the RFC 6303 / RFC 6598 reverse zones (private, link-local,
documentation and loopback ranges) locally unless told ``local-zone: "NAME" nodefault``;
BIND's built-in empty zones (``empty-zones-enable no``) are the same idea::

    default_local_zones()   # ["localhost.", "test.", ..., "2.0.192.in-addr.arpa.", ...]

The list is unbound 1.17's (``unbound.conf(5)``, *local-zone*: default zones).
"""

from __future__ import annotations

_IP6_LOOPBACK = ".".join(["1"] + ["0"] * 31) + ".ip6.arpa."
_IP6_UNSPECIFIED = ".".join(["0"] * 32) + ".ip6.arpa."

_DEFAULTS = (
    ["localhost.", "test.", "invalid.", "onion.", "home.arpa.",
     "127.in-addr.arpa.", _IP6_LOOPBACK, _IP6_UNSPECIFIED,
     "10.in-addr.arpa.", *(f"{n}.172.in-addr.arpa." for n in range(16, 32)), "168.192.in-addr.arpa.",
     *(f"{n}.100.in-addr.arpa." for n in range(64, 128)),
     "0.in-addr.arpa.", "254.169.in-addr.arpa.", "2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.",
     "113.0.203.in-addr.arpa.", "255.255.255.255.in-addr.arpa.",
     "d.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa.",
     "8.b.d.0.1.0.0.2.ip6.arpa."]
)


def default_local_zones() -> list[str]:
    """unbound's default local zones, as absolute names."""
    return list(_DEFAULTS)
