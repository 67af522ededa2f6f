"""RFC 1982 serial number arithmetic with SERIAL_BITS 32, as SOA serials use it."""

from __future__ import annotations

_HALF = 2**31
_MODULUS = 2**32


def serial_gt(a: int, b: int) -> bool:
    """Is serial *a* newer than serial *b* under RFC 1982 arithmetic (SERIAL_BITS 32)?

    >>> serial_gt(1, 4294967295)
    True
    >>> serial_gt(5, 5)
    False
    """
    return a != b and ((a < b and b - a > _HALF) or (a > b and a - b < _HALF))


def serial_add(serial: int, n: int = 1) -> int:
    """The serial *n* steps after *serial*, wrapping at 2**32 (RFC 1982 addition)."""
    if not 0 <= n <= _HALF - 1:
        raise ValueError(f"RFC 1982 allows adding 0 .. 2**31-1 to a serial, not {n}")
    return (serial + n) % _MODULUS
