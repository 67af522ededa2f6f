"""DNSSEC for fakens: zones signed as they are served (docs/dnssec.md).

- :mod:`fakens.dnssec.policy`: :class:`DnssecPolicy`, how a zone is signed;
- :mod:`fakens.dnssec.keys`: keys generated, or read from BIND key files;
- :mod:`fakens.dnssec.signer`: :class:`ZoneSigner`, a zone's keys and cached signatures;
  :func:`sign_zone`, :func:`sign_zones` (with the DS records in served parents);
- :mod:`fakens.dnssec.denial`: the NSEC and NSEC3 chains and proofs;
- :mod:`fakens.dnssec.answers`: RRSIGs and proofs added to DO=1 answers;
- :mod:`fakens.dnssec.anchors`: trust anchors for unbound, BIND and delv.

::

    zone = Zone.from_file("zones/example.test.zone")
    sign_zone(zone, DnssecPolicy(algorithm=13, nsec3=Nsec3Params()))
    with Server([zone]) as server: ...

The names are imported when first used (``from fakens.dnssec import sign_zone``):
the keys need ``cryptography``, which a server of unsigned zones never loads.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fakens.dnssec.keys import SigningKey, generate_key, generate_keys, load_keys
    from fakens.dnssec.policy import ALGORITHMS, DnssecPolicy, Nsec3Params
    from fakens.dnssec.signer import ZoneSigner, add_ds_records, sign_zone, sign_zones

_HOMES = {
    "SigningKey": "keys", "generate_key": "keys", "generate_keys": "keys", "load_keys": "keys",
    "ALGORITHMS": "policy", "DnssecPolicy": "policy", "Nsec3Params": "policy",
    "ZoneSigner": "signer", "add_ds_records": "signer", "sign_zone": "signer", "sign_zones": "signer",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALGORITHMS",
    "DnssecPolicy",
    "Nsec3Params",
    "SigningKey",
    "ZoneSigner",
    "add_ds_records",
    "generate_key",
    "generate_keys",
    "load_keys",
    "sign_zone",
    "sign_zones",
]
