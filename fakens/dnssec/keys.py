"""Signing keys: generated per zone, or read from BIND key files.

A :class:`SigningKey` is a private key (dnspython's ``dns.dnssecalgs`` wrapper over the
``cryptography`` package) with its DNSKEY record::

    ksk, zsk = generate_keys(DnssecPolicy(algorithm=13))
    ksk.key_tag, ksk.is_ksk          # (12345, True)
    keys = load_keys("keys/", dns.name.from_text("example.test."))   # Kexample.test.+013+12345.key/.private

Key files are the ones ``dnssec-keygen`` writes (Private-key-format v1.2/v1.3): the
``.key`` file holds the DNSKEY record, the ``.private`` file the private numbers.
"""

from __future__ import annotations

import base64
import glob
import os
from dataclasses import dataclass
from typing import Any

import dns.dnssec
import dns.dnssecalgs
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from dns.dnssecalgs.base import GenericPrivateKey

from fakens.dnssec.policy import RSA_ALGORITHMS, DnssecPolicy
from fakens.errors import ConfigError

DNSKEY = dns.rdtypes.ANY.DNSKEY.DNSKEY
ZONE_FLAG = 256
SEP_FLAG = 1


@dataclass(frozen=True)
class SigningKey:
    """A private key and its DNSKEY record."""

    private: GenericPrivateKey
    dnskey: DNSKEY

    @property
    def algorithm(self) -> int:
        return int(self.dnskey.algorithm)

    @property
    def is_ksk(self) -> bool:
        """Does it sign the DNSKEY set (the SEP flag: a KSK or a CSK)?"""
        return bool(self.dnskey.flags & SEP_FLAG)

    @property
    def key_tag(self) -> int:
        return dns.dnssec.key_id(self.dnskey)

    def __repr__(self) -> str:
        kind = "KSK" if self.is_ksk else "ZSK"
        return f"<SigningKey {kind} alg {self.algorithm} tag {self.key_tag}>"


def generate_key(algorithm: int, ksk: bool, rsa_bits: int = 2048) -> SigningKey:
    """A new key of *algorithm*: flags 257 when *ksk* (a KSK or CSK), else 256."""
    cls: Any = dns.dnssecalgs.get_algorithm_cls(algorithm)  # each algorithm's class has generate()
    private: GenericPrivateKey = cls.generate(key_size=rsa_bits) if algorithm in RSA_ALGORITHMS else cls.generate()
    flags = ZONE_FLAG | (SEP_FLAG if ksk else 0)
    dnskey = dns.dnssec.make_dnskey(private.public_key(), algorithm, flags=flags)
    return SigningKey(private, dnskey)


def published_as(key: SigningKey, algorithm: int) -> SigningKey:
    """*key* with its DNSKEY saying *algorithm* (its signatures and DS then say it too)."""
    dnskey = key.dnskey.replace(algorithm=algorithm)
    assert isinstance(dnskey, DNSKEY)
    return SigningKey(key.private, dnskey)


def generate_keys(policy: DnssecPolicy) -> list[SigningKey]:
    """A KSK and a ZSK, or one CSK (``policy.csk``)."""
    if policy.csk:
        return [generate_key(policy.algorithm, True, policy.rsa_bits)]
    return [generate_key(policy.algorithm, True, policy.rsa_bits), generate_key(policy.algorithm, False, policy.rsa_bits)]


def load_keys(directory: str | os.PathLike[str], origin: dns.name.Name) -> list[SigningKey]:
    """Every key of *origin* in *directory* (``K<origin>+<alg>+<tag>.key`` with its
    ``.private``), KSKs first. Raises ConfigError when there is none or a file does not parse."""
    directory = os.fspath(directory)
    label = origin.to_text().lower()
    label = label if label == "." else label.rstrip(".") + "."
    pattern = os.path.join(glob.escape(directory), f"K{glob.escape(label)}+*.key")
    paths = sorted(glob.glob(pattern))
    if not paths:
        raise ConfigError(f"no key files for {origin} in {directory} (expected K{label}+ALG+TAG.key and .private, "
                          f"as dnssec-keygen writes them)")
    keys = [load_key(path, origin) for path in paths]
    return sorted(keys, key=lambda k: not k.is_ksk)


def load_key(path: str, origin: dns.name.Name) -> SigningKey:
    """One BIND key: *path* is the ``.key`` file; the ``.private`` file sits beside it."""
    dnskey = _read_dnskey(path, origin)
    private_path = path[: -len(".key")] + ".private"
    try:
        with open(private_path, encoding="ascii") as f:
            fields = _private_fields(f.read())
    except OSError as e:
        raise ConfigError(f"{private_path}: cannot read the private key: {e.strerror}") from None
    algorithm = int(dnskey.algorithm)
    try:
        key = _private_key(algorithm, fields)
    except (KeyError, ValueError) as e:
        raise ConfigError(f"{private_path}: not a private key of algorithm {algorithm} ({e})") from None
    private = dns.dnssecalgs.get_algorithm_cls(algorithm)(key)
    if dns.dnssec.make_dnskey(private.public_key(), algorithm, flags=dnskey.flags).key != dnskey.key:
        raise ConfigError(f"{private_path}: the private key does not match the public key in {path}")
    return SigningKey(private, dnskey)


def _read_dnskey(path: str, origin: dns.name.Name) -> DNSKEY:
    try:
        with open(path, encoding="ascii") as f:
            lines = [line.split(";", 1)[0].strip() for line in f]
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the key file: {e.strerror}") from None
    for number, line in enumerate(lines, 1):
        words = line.split()
        if "DNSKEY" not in (w.upper() for w in words):
            continue
        at = [w.upper() for w in words].index("DNSKEY")
        try:
            rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, " ".join(words[at + 1:]), origin)
        except Exception as e:
            raise ConfigError(f"{path}:{number}: the DNSKEY does not parse: {e}") from None
        return rdata  # type: ignore[return-value]
    raise ConfigError(f"{path}: no DNSKEY record in the key file")


def _private_fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def _b64int(value: str) -> int:
    return int.from_bytes(base64.b64decode(value), "big")


def _private_key(algorithm: int, fields: dict[str, str]) -> object:
    if algorithm in RSA_ALGORITHMS:
        n, e = _b64int(fields["Modulus"]), _b64int(fields["PublicExponent"])
        numbers = rsa.RSAPrivateNumbers(
            p=_b64int(fields["Prime1"]), q=_b64int(fields["Prime2"]), d=_b64int(fields["PrivateExponent"]),
            dmp1=_b64int(fields["Exponent1"]), dmq1=_b64int(fields["Exponent2"]), iqmp=_b64int(fields["Coefficient"]),
            public_numbers=rsa.RSAPublicNumbers(e, n))
        return numbers.private_key()
    raw = base64.b64decode(fields["PrivateKey"])
    if algorithm == 13:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    if algorithm == 14:
        return ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP384R1())
    if algorithm == 15:
        return ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    if algorithm == 16:
        return ed448.Ed448PrivateKey.from_private_bytes(raw)
    raise ValueError(f"algorithm {algorithm} key files are not read")
