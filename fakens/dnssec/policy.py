"""How a zone is signed: :class:`DnssecPolicy`, checked once, parsed the same way from
Python, a scenario file and the command line::

    DnssecPolicy()                                          # algorithm 13, KSK + ZSK, NSEC
    DnssecPolicy(algorithm=8, csk=True, nsec3=Nsec3Params(iterations=0, salt=b""))
    DnssecPolicy.from_value({"algorithm": 13, "nsec3": {"iterations": 0, "salt": ""}})
    DnssecPolicy.from_value(True)                           # the defaults; False and None: unsigned
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fakens.errors import ConfigError

ALGORITHMS = {5: "RSASHA1", 7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256", 10: "RSASHA512", 13: "ECDSAP256SHA256",
              14: "ECDSAP384SHA384", 15: "ED25519", 16: "ED448"}
"""The algorithms fakens signs with (5 and 7 for "deprecated algorithm" cases)."""
RSA_ALGORITHMS = frozenset({5, 7, 8, 10})
DEFAULT_LIFETIME = 14 * 86400
DEFAULT_INCEPTION_OFFSET = -3600


@dataclass(frozen=True)
class Nsec3Params:
    """NSEC3 (RFC 5155) instead of NSEC: *iterations* (RFC 9276 says 0), *salt* (bytes;
    RFC 9276 says none), *opt_out* (insecure delegations left out of the chain)."""

    iterations: int = 0
    salt: bytes = b""
    opt_out: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.iterations <= 65535:
            raise ConfigError(f"nsec3 iterations {self.iterations}: must be 0..65535 (RFC 9276 recommends 0)")
        if len(self.salt) > 255:
            raise ConfigError(f"nsec3 salt of {len(self.salt)} bytes: at most 255")

    @property
    def salt_text(self) -> str:
        """The salt as NSEC3PARAM writes it: hex, or ``-`` for none."""
        return self.salt.hex() if self.salt else "-"


@dataclass(frozen=True)
class DnssecPolicy:
    """How to sign one zone.

    - ``algorithm``: DNSSEC algorithm number: 8, 10, 13 (default), 14, 15, 16; 5 and 7
      (RSASHA1) for deprecated-algorithm cases.
    - ``csk``: one combined signing key (flags 257) instead of a KSK (257) and a ZSK (256).
    - ``nsec3``: :class:`Nsec3Params` for NSEC3 denial; None (default): NSEC.
    - ``inception_offset`` / ``lifetime``: signatures valid from now + offset (default -1 h)
      for *lifetime* seconds (default 14 days), in real time (validators use their own
      clocks); signatures are made again once half the lifetime has passed.
    - ``dnskey_ttl``: TTL of DNSKEY, CDS, CDNSKEY and NSEC3PARAM (default: the SOA's TTL).
    - ``rsa_bits``: RSA key size (default 2048).
    - ``key_dir``: a directory of BIND key files (``K<zone>+<alg>+<tag>.key`` and
      ``.private``) to sign with instead of generated keys.
    - ``cds``: publish CDS and CDNSKEY of the KSKs at the apex (default True).
    - ``ds_digest``: the digest type of the DS the parent gets (2, SHA-256; 4, SHA-384).
    - ``published_algorithm``: the algorithm number written in DNSKEY, RRSIG and DS
      instead of the real one (signing still uses ``algorithm``): a number validators do not
      implement, such as 253 (PRIVATEDNS) or 100, makes the zone insecure for them (RFC 4035
      5.2: no usable DS), the "unsupported algorithm" case.
    """

    algorithm: int = 13
    csk: bool = False
    nsec3: Nsec3Params | None = None
    inception_offset: int = DEFAULT_INCEPTION_OFFSET
    lifetime: int = DEFAULT_LIFETIME
    dnskey_ttl: int | None = None
    rsa_bits: int = 2048
    key_dir: str | None = None
    cds: bool = True
    ds_digest: int = 2
    published_algorithm: int | None = None

    def __post_init__(self) -> None:
        if self.published_algorithm is not None and not 1 <= self.published_algorithm <= 255:
            raise ConfigError(f"published_algorithm {self.published_algorithm}: must be 1..255 (e.g. 253, PRIVATEDNS)")
        if self.algorithm not in ALGORITHMS:
            known = ", ".join(f"{n} ({t})" for n, t in ALGORITHMS.items())
            raise ConfigError(f"DNSSEC algorithm {self.algorithm}: fakens signs with {known}")
        if self.nsec3 is not None and self.algorithm == 5:
            raise ConfigError("DNSSEC algorithm 5 (RSASHA1) cannot be used with NSEC3: use 7 (RSASHA1-NSEC3-SHA1)")
        if self.lifetime <= 0:
            raise ConfigError(f"signature lifetime {self.lifetime}: must be above 0 seconds")
        if self.ds_digest not in (1, 2, 4):
            raise ConfigError(f"DS digest type {self.ds_digest}: 1 (SHA-1), 2 (SHA-256) or 4 (SHA-384)")
        if self.algorithm in RSA_ALGORITHMS and not 1024 <= self.rsa_bits <= 4096:
            raise ConfigError(f"rsa_bits {self.rsa_bits}: 1024..4096")

    @classmethod
    def from_value(cls, value: object, where: str = "dnssec") -> DnssecPolicy | None:
        """A policy from ``True`` (the defaults), ``False``/``None`` (unsigned), a policy, or a
        table (scenario files, JSON): ``{algorithm = 13, csk = true, nsec3 = {iterations = 0,
        salt = "", opt_out = false}, lifetime = "14d", inception_offset = "-1h", key_dir = "keys"}``.
        Errors name the key (``dnssec.nsec3.iterations``); the scenario reader adds file:line."""
        policy: DnssecPolicy | None = _from_table(cls, value, where, "{algorithm = 13}", _POLICY_KEYS)
        return policy


def _from_table(cls: type[Any], value: object, where: str, example: str, parsers: Mapping[str, _Parser]) -> Any:
    """An instance of *cls* from True (defaults), False/None (None), itself, or a table whose
    keys *parsers* read; errors name the key path *where*.KEY."""
    if value is None or value is False:
        return None
    if value is True:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected true, false or a table such as {example}, not {value!r}")
    args: dict[str, Any] = {}
    for key, item in value.items():
        parser = parsers.get(key)
        if parser is None:
            raise ConfigError(f"{where}.{key}: unknown key (known: {', '.join(sorted(parsers))})")
        args[key] = parser(item, f"{where}.{key}")
    try:
        return cls(**args)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _nsec3(value: object, where: str) -> Nsec3Params | None:
    result: Nsec3Params | None = _from_table(Nsec3Params, value, where, '{iterations = 0, salt = ""}', _NSEC3_KEYS)
    return result


def _key_dir(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a directory name, not {value!r}")
    return value


def _salt(value: object, where: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected hex text such as \"aabbccdd\" (or \"\" / \"-\" for none), not {value!r}")
    if value in ("", "-"):
        return b""
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not hex (e.g. \"aabbccdd\")") from None


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, not {value!r}")
    return value


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{where}: expected a whole number, not {value!r}")
    return value


def _algorithm(value: object, where: str) -> int:
    if isinstance(value, str):
        by_name = {t: n for n, t in ALGORITHMS.items()}
        found = by_name.get(value.upper()) or (int(value) if value.isdigit() else None)
        if found is None:
            raise ConfigError(f"{where}: unknown algorithm {value!r} (e.g. 13 or ECDSAP256SHA256)")
        return found
    return _int(value, where)


def _seconds(value: object, where: str) -> int:
    """Seconds from a number or a TTL-style text ("14d", "-1h")."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected seconds or a duration such as \"14d\", not {value!r}")
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        import dns.exception
        import dns.ttl

        text = value.strip()
        sign = -1 if text.startswith("-") else 1
        try:
            return sign * int(dns.ttl.from_text(text.lstrip("+-")))
        except dns.exception.DNSException:
            pass
    raise ConfigError(f"{where}: expected seconds or a duration such as \"14d\" or \"-1h\", not {value!r}")


_Parser = Callable[[object, str], Any]
_NSEC3_KEYS: dict[str, _Parser] = {"iterations": _int, "salt": _salt, "opt_out": _bool}
_POLICY_KEYS: dict[str, _Parser] = {
    "algorithm": _algorithm, "csk": _bool, "nsec3": _nsec3, "inception_offset": _seconds, "lifetime": _seconds,
    "dnskey_ttl": _seconds, "rsa_bits": _int, "key_dir": _key_dir, "cds": _bool, "ds_digest": _int,
    "published_algorithm": _int,
}
