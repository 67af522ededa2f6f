"""Trust anchors for validators: the DS records of signed zones, written the way each
resolver reads them::

    ds = trust_anchor_records([root_zone])        # DS RRsets (zone-file text: str(rrset))
    ds_text([root_zone])        # ". 3600 IN DS 12345 13 2 ..." for unbound's trust-anchor-file
    bind_text([root_zone])      # trust-anchors { "." static-ds 12345 13 2 "..."; };  (named.conf, delv -a)
    write_trust_anchors([root_zone], "run/")   # {"ds": "run/root.ds", "bind": "run/trust-anchors.conf"}
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import dns.rdtypes.dsbase
import dns.rrset

from fakens.errors import ConfigError
from fakens.zones import Zone

DS_FILE = "root.ds"
BIND_FILE = "trust-anchors.conf"


def trust_anchor_records(zones: Iterable[Zone], ttl: int = 3600) -> list[dns.rrset.RRset]:
    """The DS RRset of each signed zone of *zones* (unsigned ones are left out)."""
    return [zone.signer.ds_rrset(ttl) for zone in zones if zone.signer is not None]


def ds_text(zones: Iterable[Zone]) -> str:
    """DS records in zone-file form: unbound's ``trust-anchor-file``, ``dig``/``kdig`` anchors."""
    records = trust_anchor_records(zones)
    if not records:
        raise ConfigError("no signed zone to make a trust anchor of: sign them first (dnssec=True, --dnssec)")
    return "".join(rrset.to_text() + "\n" for rrset in records)


def bind_text(zones: Iterable[Zone]) -> str:
    """A ``trust-anchors`` clause with ``static-ds`` entries: for named.conf and ``delv -a``."""
    records = trust_anchor_records(zones)
    if not records:
        raise ConfigError("no signed zone to make a trust anchor of: sign them first (dnssec=True, --dnssec)")
    lines = ["trust-anchors {"]
    for rrset in records:
        for rdata in rrset:
            ds = rdata
            assert isinstance(ds, dns.rdtypes.dsbase.DSBase)
            lines.append(f'  "{rrset.name.to_text()}" static-ds {ds.key_tag} {int(ds.algorithm)} {int(ds.digest_type)} '
                         f'"{ds.digest.hex().upper()}";')
    lines.append("};")
    return "\n".join(lines) + "\n"


def write_trust_anchor(path: str | os.PathLike[str], zones: Iterable[Zone]) -> str:
    """Write the DS records of the signed *zones* to *path*: a ``trust-anchors`` clause when
    the name ends in ``.conf`` (BIND, delv), else DS records in zone-file form (unbound)."""
    path = os.fspath(path)
    text = bind_text(zones) if path.endswith(".conf") else ds_text(zones)
    with open(path, "w", encoding="ascii") as f:
        f.write(text)
    return path


def write_trust_anchors(zones: Iterable[Zone], directory: str | os.PathLike[str]) -> dict[str, str]:
    """Both forms in *directory*: ``root.ds`` (DS records) and ``trust-anchors.conf``; their paths."""
    zones = list(zones)
    directory = os.fspath(directory)
    return {"ds": write_trust_anchor(os.path.join(directory, DS_FILE), zones),
            "bind": write_trust_anchor(os.path.join(directory, BIND_FILE), zones)}
