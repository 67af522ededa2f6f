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
"""

from fakens.dnssec.keys import SigningKey, generate_key, generate_keys, load_keys
from fakens.dnssec.policy import ALGORITHMS, DnssecPolicy, Nsec3Params
from fakens.dnssec.signer import ZoneSigner, add_ds_records, sign_zone, sign_zones

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
