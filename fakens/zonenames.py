"""Which files are zone files, and the origin a zone file's name gives.

One naming rule, used everywhere a directory is searched or an origin guessed
(``fakens serve DIR``, ``fakens zone check DIR``, :func:`fakens.zones.load_zones`,
:meth:`fakens.zones.Zone.from_file`): a zone file is named ``ORIGIN.zone``,
``ORIGIN.db`` or ``db.ORIGIN``; ``root.zone`` is the root zone.
"""

from __future__ import annotations

import os
from pathlib import Path

import dns.exception
import dns.name

ZONE_FILE_SUFFIXES = (".zone", ".db")
"""Names ending so are zone files, the rest of the name being the origin."""
ZONE_FILE_PREFIX = "db."
"""Names starting so are zone files too (BIND's ``db.example.test``)."""
ZONE_FILE_PATTERNS = ", ".join([*(f"*{s}" for s in ZONE_FILE_SUFFIXES), f"{ZONE_FILE_PREFIX}*"])
"""The rule as glob patterns, for messages: ``*.zone, *.db, db.*``."""


def origin_text(filename: str) -> str | None:
    """The origin part of a zone file's name (``example.test.zone`` -> ``example.test``),
    or None when the name does not follow the rule."""
    base = os.path.basename(filename)
    for suffix in ZONE_FILE_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    if base.startswith(ZONE_FILE_PREFIX):
        return base[len(ZONE_FILE_PREFIX):]
    return None


def is_zone_file_name(filename: str) -> bool:
    """Does the file's name follow the rule?"""
    return origin_text(filename) is not None


def origin_from_filename(path: str) -> dns.name.Name | None:
    """``zones/example.test.zone`` and ``db.example.test`` -> ``example.test.``;
    a name outside the rule is taken whole (``example.test`` -> ``example.test.``);
    None when it is no domain name."""
    base = origin_text(path)
    if base is None:
        base = os.path.basename(path)
    if base in ("root", "", "."):
        return dns.name.root
    try:
        return dns.name.from_text(base)
    except dns.exception.DNSException:
        return None


def zone_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The zone files in a directory (``*.zone``, ``*.db``, ``db.*``), sorted."""
    return [path for path in sorted(Path(directory).iterdir()) if path.is_file() and is_zone_file_name(path.name)]


def no_zone_files(directory: str | os.PathLike[str]) -> str:
    """The message for a directory without zone files."""
    return f"{os.fspath(directory)}: no zone files ({ZONE_FILE_PATTERNS}) in this directory"
