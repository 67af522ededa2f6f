"""One zone-file naming rule for searching directories and guessing origins
(``fakens serve DIR``, ``fakens zone check DIR``, load_zones, Zone.from_file)."""

from __future__ import annotations

import re
from pathlib import Path

import dns.name
import pytest

from fakens.cli import main
from fakens.errors import ZoneError
from fakens.zonenames import ZONE_FILE_PATTERNS, ZONE_FILE_SUFFIXES, is_zone_file_name, origin_from_filename, zone_files
from fakens.zones import Zone, load_zones

SOA_AND_NS = "$TTL 300\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 A 192.0.2.2\n"
ZONE_NAMES = ["a.test.zone", "b.test.db", "db.c.test", "root.zone"]
ZONE_FILE_NAMES_AND_ORIGINS = {
    "a.test.zone": "a.test.",
    "b.test.db": "b.test.",
    "db.c.test": "c.test.",
    "root.zone": ".",
    "db.root": ".",
}
OTHER_NAMES = ["d.test.txt", "notes.md", "README", "e.test.zone~", "f.test.zone.orig"]


def test_the_rule() -> None:
    assert ZONE_FILE_SUFFIXES == (".zone", ".db")
    assert ZONE_FILE_PATTERNS == "*.zone, *.db, db.*"
    assert all(is_zone_file_name(n) for n in ZONE_FILE_NAMES_AND_ORIGINS)
    assert not any(is_zone_file_name(n) for n in OTHER_NAMES)


@pytest.mark.parametrize(("filename", "origin"), sorted(ZONE_FILE_NAMES_AND_ORIGINS.items()))
def test_origin_from_a_zone_file_name(filename: str, origin: str) -> None:
    assert origin_from_filename(f"zones/{filename}") == dns.name.from_text(origin)


def test_a_name_outside_the_rule_is_the_origin_whole() -> None:
    """``.txt`` is not a zone file suffix: ``x.test.txt`` is the zone ``x.test.txt.``, as a
    directory search would not list it."""
    assert origin_from_filename("x.test.txt") == dns.name.from_text("x.test.txt.")
    assert origin_from_filename("example.test") == dns.name.from_text("example.test.")


def test_a_directory_search_finds_what_the_rule_names(tmp_path: Path) -> None:
    for name in ZONE_NAMES + OTHER_NAMES:
        (tmp_path / name).write_text(SOA_AND_NS)
    (tmp_path / "db.sub").mkdir()  # a directory is not a zone file
    assert [p.name for p in zone_files(tmp_path)] == sorted(ZONE_NAMES)
    zones = load_zones([tmp_path])
    assert sorted(z.origin.to_text() for z in zones) == [".", "a.test.", "b.test.", "c.test."]
    # each file found loads under the origin its name gives
    for zone in zones:
        assert zone.origin == origin_from_filename(zone.source)
        assert zone.origin == Zone.from_file(zone.source).origin


def test_an_empty_directory_names_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d.test.txt").write_text(SOA_AND_NS)
    with pytest.raises(ZoneError, match=re.escape(f"no zone files ({ZONE_FILE_PATTERNS}) in this directory")):
        load_zones([tmp_path])
    assert main(["zone", "check", str(tmp_path)]) == 1
    assert capsys.readouterr().out == f"error: {tmp_path}: no zone files ({ZONE_FILE_PATTERNS}) in this directory\n"


def test_zone_check_of_a_directory_checks_the_files_the_rule_names(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ZONE_NAMES + OTHER_NAMES:
        (tmp_path / name).write_text(SOA_AND_NS)
    assert main(["zone", "check", str(tmp_path)]) == 0
    checked = [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if ": zone " in line]
    assert checked == [str(tmp_path / n) for n in sorted(ZONE_NAMES)]
