"""Reading zone files: TTL rules, $INCLUDE, $GENERATE, names, limits, lenient forms and errors.

Every error must be a ZoneError naming file:line with a hint, and load nothing; everything
here loads real files (tmp_path) unless the case is about text.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dns.name
import dns.rdatatype
import pytest

from fakens.errors import ConfigError, ZoneError
from fakens.zonefile import LENIENT_FORMS, LENIENT_TABLE, ZoneLimits
from fakens.zones import Zone, load_zones

from ._common import HEAD, ttl_in_include, write

ROOT = Path(__file__).resolve().parents[2]


def ttls(zone: Zone) -> dict[str, int]:
    """Owner (relative) and type -> TTL, e.g. {"www A": 300}."""
    out = {}
    for name, node in zone.current.nodes.items():
        for (rdtype, _), rdataset in node.items():
            out[f"{name.relativize(zone.origin)} {dns.rdatatype.to_text(rdtype)}"] = rdataset.ttl
    return out


def texts(zone: Zone, owner: str, rdtype: str) -> list[str]:
    rdataset = zone.current.get(dns.name.from_text(owner, zone.origin), dns.rdatatype.from_text(rdtype))
    return sorted(r.to_text() for r in rdataset) if rdataset is not None else []


def error_of(path_or_text: Path | str, **kwargs: object) -> str:
    with pytest.raises(ZoneError) as info:
        if isinstance(path_or_text, Path):
            Zone.from_file(path_or_text, **kwargs)  # type: ignore[arg-type]
        else:
            Zone.from_text(path_or_text, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.endswith("nothing from this zone was loaded"), message
    return message


def codes(zone: Zone) -> list[tuple[int, str]]:
    return [(w.where.line if w.where else 0, w.code) for w in zone.warnings]


# -- TTLs: BIND's rules ---------------------------------------------------------------------

def test_ttl_without_dollar_ttl_takes_the_last_ttl_written() -> None:
    zone = Zone.from_text("$ORIGIN zone.test.\n@ 3600 SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\n"
                          "ns1 A 192.0.2.1\nx 60 A 192.0.2.2\ny A 192.0.2.3\n")
    assert ttls(zone) == {"@ SOA": 3600, "@ NS": 3600, "ns1 A": 3600, "x A": 60, "y A": 60}


def test_soa_without_ttl_takes_its_minimum_which_becomes_the_default() -> None:
    """BIND: 'no TTL specified; using SOA MINTTL instead', and that default holds after an
    explicit TTL (dnspython would give y the last TTL, 60)."""
    zone = Zone.from_text("$ORIGIN zone.test.\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n@ NS ns1\n"
                          "ns1 A 192.0.2.1\nx 60 A 192.0.2.2\ny A 192.0.2.3\n")
    assert ttls(zone) == {"@ SOA": 300, "@ NS": 300, "ns1 A": 300, "x A": 60, "y A": 300}


def test_a_record_without_any_ttl_is_an_error_at_its_line() -> None:
    message = error_of("$ORIGIN zone.test.\nns1 A 192.0.2.1\n@ SOA ns1 hostmaster 1 7200 900 1209600 300\n")
    assert message.startswith("<text>:2: the record has no TTL") and "$TTL 3600" in message


def test_class_before_ttl() -> None:
    zone = Zone.from_text(HEAD + "a IN 60 A 192.0.2.9\nb 70 IN A 192.0.2.9\n")
    assert (ttls(zone)["a A"], ttls(zone)["b A"]) == (60, 70)


def test_ttl_above_2_31_is_served_as_0_with_a_warning() -> None:
    zone = Zone.from_text(HEAD + "big 2147483648 A 192.0.2.9\n$TTL 4294967295\nbigger A 192.0.2.9\n")
    assert (ttls(zone)["big A"], ttls(zone)["bigger A"]) == (0, 0)
    assert (8, "ttl-over-max") in codes(zone) and (9, "ttl-over-max") in codes(zone)
    assert "<text>:8:" in error_of(HEAD + "x 4294967296 A 192.0.2.9\n")


def test_differing_ttls_in_an_rrset_take_the_first_as_bind() -> None:
    zone = Zone.from_text(HEAD + "x 600 A 192.0.2.1\nx 60 A 192.0.2.2\n")
    assert ttls(zone)["x A"] == 600 and (9, "ttl-mismatch") in codes(zone)


# -- $TTL and $INCLUDE (issue 9) -------------------------------------------------------------

def test_ttl_set_in_an_include_without_an_earlier_ttl_is_kept(tmp_path: Path) -> None:
    """On HEAD: 'Missing default TTL value; nothing from this zone was loaded'."""
    write(tmp_path / "settings.inc", "$TTL 3600\n")
    path = write(tmp_path / "t.test.zone", """\
        $ORIGIN t.test.
        $INCLUDE settings.inc
        ns1 A 192.0.2.1
        @ SOA ns1 hostmaster 1 7200 900 1209600 300
        @ NS ns1
        """)
    assert ttls(Zone.from_file(path)) == {"ns1 A": 3600, "@ SOA": 3600, "@ NS": 3600}


def test_ttl_set_in_an_include_applies_after_it_despite_an_explicit_soa_ttl(tmp_path: Path) -> None:
    """On HEAD the records after the include silently got the SOA's TTL, 86400."""
    path = ttl_in_include(tmp_path, 300)
    assert ttls(Zone.from_file(path)) == {"@ SOA": 86400, "@ NS": 86400, "ns1 A": 86400,
                                          "www A": 86400, "after A": 300}


def test_ttl_set_in_an_include_overrides_the_files_own_after_it(tmp_path: Path) -> None:
    write(tmp_path / "inner.inc", "$TTL 60\ninner A 192.0.2.5\n")
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE inner.inc\nafter A 192.0.2.6\n")
    assert (ttls(Zone.from_file(path))["inner A"], ttls(Zone.from_file(path))["after A"]) == (60, 60)


def test_origin_and_owner_are_the_including_files_after_an_include(tmp_path: Path) -> None:
    write(tmp_path / "sub.inc", "inner A 192.0.2.5\n$ORIGIN other.zone.test.\no A 192.0.2.6\n")
    path = write(tmp_path / "zone.test.zone", HEAD + textwrap.dedent("""\
        before A 192.0.2.2
        $INCLUDE sub.inc sub.zone.test.
          TXT "blank owner after the include"
        x A 192.0.2.7
        """))
    zone = Zone.from_file(path)
    assert texts(zone, "inner.sub", "A") == ["192.0.2.5"] and texts(zone, "o.other", "A") == ["192.0.2.6"]
    assert texts(zone, "before", "TXT") == ['"blank owner after the include"']
    assert texts(zone, "x", "A") == ["192.0.2.7"]


def test_an_included_file_starts_with_the_current_owner(tmp_path: Path) -> None:
    (tmp_path / "blank.inc").write_text('  TXT "owned by ns2, the owner before the $INCLUDE"\n')
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE blank.inc\n")
    assert texts(Zone.from_file(path), "ns2", "TXT") == ['"owned by ns2, the owner before the $INCLUDE"']
    assert error_of("  TXT \"x\"\n" + HEAD).startswith("<text>:1: the line starts with a blank")


# -- $INCLUDE of what is not a file, loops, depth (issue 10) ---------------------------------

@pytest.mark.parametrize(("target", "kind"), [("/dev/zero", "a character device"), ("/dev/null", "a character device")])
def test_include_of_a_device_is_refused_at_once(tmp_path: Path, target: str, kind: str) -> None:
    path = write(tmp_path / "zone.test.zone", HEAD + f"$INCLUDE {target}\n")
    started = time.monotonic()
    message = error_of(path)
    assert time.monotonic() - started < 5
    assert message.startswith(f"{path}:8: $INCLUDE {target}: cannot read it: it is {kind}; only regular files")


def test_include_of_a_fifo_or_a_directory_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE pipe\n")
    assert "it is a named pipe (FIFO)" in error_of(path)
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE dir\n")
    assert "it is a directory" in error_of(path)
    os.symlink("/dev/zero", tmp_path / "zero.inc")
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE zero.inc\n")
    assert "a character device" in error_of(path)


def test_zone_file_itself_must_be_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(ZoneError, match=r"^/dev/zero: cannot read the zone file: it is a character device"):
        Zone.from_file("/dev/zero", origin="zone.test.")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_include_of_itself_is_a_loop_naming_the_file(tmp_path: Path) -> None:
    before = open_fds()
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE zone.test.zone\n")
    message = error_of(path)
    assert message.startswith(f"{path}:8: $INCLUDE zone.test.zone")
    assert f"an include loop, {path} is already being read: {path}:8 -> {path}" in message
    assert open_fds() == before  # every file opened was closed


def test_two_file_include_loop_names_the_chain(tmp_path: Path) -> None:
    write(tmp_path / "b.inc", "x A 192.0.2.5\n$INCLUDE zone.test.zone\n")
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE b.inc\n")
    message = error_of(path)
    b = tmp_path / "b.inc"
    assert message.startswith(f"{b}:2: $INCLUDE zone.test.zone")
    assert f"{path}:8 -> {b}:2 -> {path}" in message


def test_a_file_included_twice_but_not_in_itself_is_no_loop(tmp_path: Path) -> None:
    write(tmp_path / "txt.inc", '@ TXT "shared"\n')
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE txt.inc a.zone.test.\n$INCLUDE txt.inc b.zone.test.\n")
    zone = Zone.from_file(path)
    assert texts(zone, "a", "TXT") == texts(zone, "b", "TXT") == ['"shared"']


def chain_of_includes(tmp_path: Path, depth: int) -> Path:
    for i in range(depth):
        write(tmp_path / f"i{i}.inc", f"h{i} A 192.0.2.1\n" + (f"$INCLUDE i{i + 1}.inc\n" if i + 1 < depth else ""))
    return write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE i0.inc\n")


def test_include_depth_is_limited(tmp_path: Path) -> None:
    path = chain_of_includes(tmp_path, 25)
    message = error_of(path)
    assert message.startswith(f"{tmp_path / 'i19.inc'}:2: $INCLUDE i20.inc")
    assert "nested deeper than 20 (max_include_depth)" in message
    assert f"{path}:8 -> {tmp_path / 'i0.inc'}:2 -> " in message
    zone = Zone.from_file(path, limits=ZoneLimits(max_include_depth=25))
    assert texts(zone, "h24", "A") == ["192.0.2.1"]
    assert "nested deeper than 0" in error_of(path, limits=ZoneLimits(max_include_depth=0))


def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    path = write(tmp_path / "zone.test.zone", HEAD + "$INCLUDE nothere.inc\n")
    message = error_of(path)
    assert message.startswith(f"{path}:8: $INCLUDE nothere.inc ({tmp_path / 'nothere.inc'}): cannot read it: "
                              f"No such file or directory")


# -- $GENERATE --------------------------------------------------------------------------------

def test_generate_forms_as_bind() -> None:
    zone = Zone.from_text(HEAD + textwrap.dedent("""\
        $GENERATE 1-3 h$ 60 IN A 10.0.0.$
        $GENERATE 1-2 c$ IN 70 CNAME h$
        $GENERATE 1-2 m$ MX "10 h$"
        $GENERATE 1-2 t$ TXT "a b $"
        $GENERATE 10-14/2 p${0,3,d} PTR h${-9,2,x}
        $GENERATE 1-1 r$ TXT "$$ is a dollar"
        $GENERATE 255-255 n${0,0,n} A 10.0.0.1
        """))
    assert texts(zone, "h3", "A") == ["10.0.0.3"] and ttls(zone)["h3 A"] == 60
    assert ttls(zone)["c2 CNAME"] == 70
    assert texts(zone, "m2", "MX") == ["10 h2.zone.test."]
    assert texts(zone, "t1", "TXT") == ['"a" "b" "1"']
    assert texts(zone, "p012", "PTR") == ["h03.zone.test."] and texts(zone, "p011", "PTR") == []
    assert texts(zone, "r1", "TXT") == ['"$" "is" "a" "dollar"']
    assert texts(zone, "nf.f", "A") == ["10.0.0.1"]


@pytest.mark.parametrize(("range_", "hint"), [
    ("5-1", "runs backwards: the start 5 is above the stop 1; write it lowest first (1-5)"),
    ("1-5/0", "a step of 0 never moves on; the step is 1 or more"),
    ("-1-5", "the numbers cannot be negative"),
    ("1-5/-1", "the numbers cannot be negative"),
    ("7", "a range is two numbers joined by '-'"),
    ("a-b", "a range is START-STOP or START-STOP/STEP"),
    ("0-2147483648", "the stop 2147483648 is above 2147483647"),
])
def test_generate_range_errors_say_what_is_wrong(range_: str, hint: str) -> None:
    message = error_of(HEAD + f"$GENERATE {range_} h$ A 10.0.0.1\n")
    assert message.startswith(f"<text>:8: $GENERATE range '{range_}'") and hint in message, message
    assert "does not fit its type" not in message


@pytest.mark.parametrize(("line", "hint"), [
    ("$GENERATE 1-2 h$ MX 10 mail$", "one token and 'mail$' is extra; quote data that has blanks"),
    ("$GENERATE 1-2 h${0,3,q} A 10.0.0.1", "$GENERATE modifier '${0,3,q}'"),
    ("$GENERATE 250-260 h$ A 10.0.0.$", "$GENERATE at 256 (h256 A 10.0.0.256): the A record's data does not parse"),
    ("$GENERATE 1-2 h$ A 10.0.0.$$", "the A record's data does not parse"),
    ("$GENERATE 1-2", "$GENERATE needs an owner name after the range"),
    ("$GENERATE 1-2 h$ BOGUS x", "unknown record type 'BOGUS'"),
])
def test_generate_errors(line: str, hint: str) -> None:
    message = error_of(HEAD + line + "\n")
    assert message.startswith("<text>:8: ") and hint in message, message


def test_generate_without_any_ttl_is_an_error() -> None:
    message = error_of("$ORIGIN zone.test.\n$GENERATE 1-2 h$ A 10.0.0.1\n")
    assert message.startswith("<text>:2: the $GENERATE has no TTL")


def test_generate_cap_refuses_before_generating() -> None:
    started = time.monotonic()
    message = error_of(HEAD + "$GENERATE 0-2147483647 h$ A 10.0.0.1\n")  # the default cap
    assert time.monotonic() - started < 2
    assert "makes 2,147,483,648 records, more than 10,000,000 (max_generate)" in message
    message = error_of(HEAD + "$GENERATE 1-11 h$ A 10.0.0.1\n", limits=ZoneLimits(max_generate=10))
    assert message.startswith("<text>:8: $GENERATE 1-11 makes 11 records, more than 10 (max_generate)")
    Zone.from_text(HEAD + "$GENERATE 1-10 h$ A 10.0.0.1\n", limits=ZoneLimits(max_generate=10))


def test_record_cap_counts_every_record_and_generate() -> None:
    limits = ZoneLimits(max_records=10)  # HEAD has 5
    Zone.from_text(HEAD + "".join(f"h{i} A 10.0.0.1\n" for i in range(5)), limits=limits)
    message = error_of(HEAD + "".join(f"h{i} A 10.0.0.1\n" for i in range(6)), limits=limits)
    assert message.startswith("<text>:13: more than 10 records in the zone (max_records)")
    message = error_of(HEAD + "$GENERATE 1-6 h$ A 10.0.0.1\n", limits=limits)
    assert message.startswith("<text>:8: $GENERATE 1-6 makes 6 records: more than 10 records in the zone (5 read so far)")


def test_limits_reach_load_zones_and_directories(tmp_path: Path) -> None:
    write(tmp_path / "zones" / "zone.test.zone", HEAD + "$GENERATE 1-20 h$ A 10.0.0.1\n")
    with pytest.raises(ZoneError, match=r"zone\.test\.zone:8: \$GENERATE 1-20 makes 20 records, more than 5"):
        load_zones([tmp_path / "zones"], limits=ZoneLimits(max_generate=5))
    assert len(load_zones([tmp_path / "zones"])[0].current.records()) == 25


@pytest.mark.parametrize("bad", [{"max_records": 0}, {"max_generate": -1}, {"max_include_depth": -1},
                                 {"max_records": 1.5}])
def test_limits_are_checked(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="ZoneLimits"):
        ZoneLimits(**bad)  # type: ignore[arg-type]


def test_running_out_of_memory_is_a_zone_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import fakens.zonefile

    real = fakens.zonefile._Reader._add

    def add(self: fakens.zonefile._Reader, *args: object) -> None:
        if len(self.loaded) >= 100:
            raise MemoryError
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fakens.zonefile._Reader, "_add", add)
    message = error_of(HEAD + "$GENERATE 1-1000 h$ A 10.0.0.1\n")
    assert message.startswith("<text>:8: out of memory after 100 records") and "--max-records" in message


# -- names over 255 octets (issue 10): an error at file:line, never a traceback ----------------

LONG = ".".join(["a" * 63] * 4)  # 4 * 64 = 256 octets with the root: too long


@pytest.mark.parametrize(("line", "where", "what"), [
    (f"{LONG}. A 192.0.2.1", 8, "the owner name"),
    (f"{'x.' * 125}x A 192.0.2.1", 8, "the owner name"),  # too long once the origin is appended
    (f"$ORIGIN {LONG}.", 8, "the $ORIGIN"),
    (f"$GENERATE 1-2 {'x' * 60}.{'y' * 60}.{'z' * 60}.{'w' * 60}$ A 10.0.0.1", 8, "$GENERATE at 1"),
    ("$ORIGIN a\n" * 200, 130, "the $ORIGIN 'a'"),  # zone.test. (11 octets) and 123 times a.
    (f"x CNAME {LONG}.", 8, "CNAME"),
])
def test_names_over_255_octets_are_errors_at_their_line(line: str, where: int, what: str) -> None:
    message = error_of(HEAD + line + "\n")
    assert message.startswith(f"<text>:{where}: ") and what in message, message
    assert "a name longer than 255 octets (RFC 1035 2.3.4)" in message


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "fakens", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.mark.parametrize("body", [f"{LONG}. A 192.0.2.1\n", "$ORIGIN a\n" * 200, "$INCLUDE /dev/zero\n",
                                  "$INCLUDE zone.test.zone\n", "$GENERATE 0-2147483647 h$ A 10.0.0.1\n",
                                  "$GENERATE 1-5/0 h$ A 10.0.0.1\n"])
def test_zone_check_and_serve_report_file_and_line_without_a_traceback(tmp_path: Path, body: str) -> None:
    path = write(tmp_path / "zone.test.zone", HEAD + body)
    check = run_cli("zone", "check", str(path), timeout=30)
    assert check.returncode == 1 and re.match(rf"error: {re.escape(str(path))}:\d+: ", check.stdout), check
    serve = run_cli("serve", str(path), "--listen", "127.0.0.1:0", "--quiet", timeout=30)
    assert serve.returncode == 2 and "Traceback" not in serve.stderr, serve
    assert re.match(rf"fakens: error: {re.escape(str(path))}:\d+: ", serve.stderr), serve.stderr


def test_cli_limits(tmp_path: Path) -> None:
    path = write(tmp_path / "zone.test.zone", HEAD + "$GENERATE 1-20 h$ A 10.0.0.1\n")
    assert run_cli("zone", "check", str(path)).returncode == 0
    check = run_cli("zone", "check", "--max-generate", "5", str(path))
    assert check.returncode == 1 and "more than 5 (max_generate)" in check.stdout
    check = run_cli("zone", "check", "--max-records", "10", str(path))
    assert check.returncode == 1 and "more than 10 records in the zone" in check.stdout
    bad = run_cli("zone", "check", "--max-records", "0", str(path))
    assert bad.returncode == 2 and "--max-records 0: must be at least 1" in bad.stderr
    serve = run_cli("serve", str(path), "--max-records", "10", "--quiet")
    assert serve.returncode == 2 and "more than 10 records" in serve.stderr


# -- RRsets too big for any message (issue 10) -----------------------------------------------

def test_rrset_too_big_for_any_message_is_refused_at_its_first_record() -> None:
    lines = "".join(f'big TXT "{i:04d}{"a" * 250}"\n' for i in range(300))
    message = error_of(HEAD + "ok A 192.0.2.9\n" + lines)
    assert message.startswith("<text>:9: big.zone.test. TXT: the RRset is 80,131 octets (300 records)")
    assert "more than any DNS message holds (65,535 octets over TCP)" in message


def test_record_too_big_for_its_length_field_is_refused_at_its_line() -> None:
    message = error_of(HEAD + "ok A 192.0.2.9\nbig TXT " + " ".join(['"' + "a" * 255 + '"'] * 300) + "\n")
    assert message.startswith("<text>:9: big.zone.test. TXT: the record's data is 76,800 octets")


def test_rrset_that_fits_once_compressed_loads() -> None:
    # 3000 NS records: 87,000 octets written out, about 60,000 with the names compressed
    zone = Zone.from_text(HEAD + "".join(f"deleg NS n{i:04d}.zone.test.\n" for i in range(3000)))
    assert len(texts(zone, "deleg", "NS")) == 3000


# -- lenient forms, after CoreDNS (issue 9) ----------------------------------------------------

@pytest.mark.parametrize(("data", "served"), [
    ('"VPS OS"', '"VPS" "OS"'),
    ('"Intel Xeon Linux"', '"Intel" "Xeon Linux"'),
    ("Linux", '"Linux" ""'),
    ('"PC" "Debian" "12"', '"PC" "Debian 12"'),
])
def test_hinfo_as_coredns_reads_it(tmp_path: Path, data: str, served: str) -> None:
    path = write(tmp_path / "zone.test.zone", HEAD + f"h HINFO {data}\n")
    zone = Zone.from_file(path)
    assert texts(zone, "h", "HINFO") == [served]
    [warning] = [w for w in zone.warnings if w.code == "lenient-hinfo"]
    assert str(warning).startswith(f"{path}:8: warning: HINFO ") and "as CoreDNS does" in warning.message


def test_long_txt_string_is_split_as_coredns_does() -> None:
    zone = Zone.from_text(HEAD + f'dkim TXT "{"k" * 300}" "end"\nspf SPF {"s" * 256}\n')
    [rdata] = list(zone.current.get(dns.name.from_text("dkim.zone.test."), dns.rdatatype.TXT))  # type: ignore[arg-type]
    assert rdata.strings == (b"k" * 255, b"k" * 45, b"end")
    assert [c for c in codes(zone) if c[1].startswith("lenient")] == [(8, "lenient-long-string"), (9, "lenient-long-string")]


@pytest.mark.parametrize(("line", "hint"), [
    ("h HINFO", "the HINFO record's data does not parse"),
    ('h HINFO "a" "' + "b" * 300 + '"', "the HINFO record's data does not parse"),
    ("t TXT", "the TXT record's data does not parse"),
    ('c CAA 0 "" "x"', "the CAA record's data does not parse"),
    ("a A 192.0.2.01", "A data is an IPv4 address"),
    ('t TXT "open', "a quoted string runs past the end of the line"),
])
def test_data_no_server_accepts_is_an_error(line: str, hint: str) -> None:
    message = error_of(HEAD + line + "\nafter A 192.0.2.9\n")
    assert message.startswith("<text>:8: ") and hint in message, message


def test_lenient_forms_are_the_table_in_the_docs() -> None:
    docs = (ROOT / "docs" / "zones.md").read_text()
    for case in LENIENT_TABLE:
        row = f"| {case.rdtypes} | {case.written} | {case.served} | {case.after} | {case.refused_by} |"
        assert row in docs, f"docs/zones.md lacks the row\n{row}"
    table = [line for line in docs.splitlines() if line.startswith("| ") and "CoreDNS (miekg/dns)" in line]
    assert len(table) == len(LENIENT_TABLE)
    for case in LENIENT_TABLE:
        for text in case.rdtypes.split(", "):
            assert dns.rdatatype.from_text(text) in LENIENT_FORMS


# -- the origin, bytes, and what dnspython would have let through ------------------------------

def test_soa_owner_not_the_given_origin_is_served_as_written() -> None:
    zone = Zone.from_text(HEAD.replace("zone.test.", "other.test."), origin="zone.test.")
    assert zone.origin == dns.name.from_text("other.test.")
    assert [c for c in codes(zone) if c[1] == "origin-mismatch"] == [(3, "origin-mismatch")]


def test_bytes_that_are_not_utf8_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "zone.test.zone"
    path.write_bytes(HEAD.encode() + b'; M\xfcller\nlatin TXT "M\xfcller"\nm\xc3\xbcller A 192.0.2.9\n')
    zone = Zone.from_file(path)
    assert texts(zone, "latin", "TXT") == ['"M\\252ller"']
    assert zone.current.get(dns.name.from_text("m\\195\\188ller.zone.test."), dns.rdatatype.A) is not None
    assert (9, "not-utf8") in codes(zone) and (10, "bad-hostname") in codes(zone)
    assert (8, "not-utf8") not in codes(zone)  # a comment is nobody's business


def test_byte_order_mark_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "zone.test.zone"
    path.write_bytes(b"\xef\xbb\xbf" + HEAD.encode())
    assert error_of(path).startswith(f"{path}:1: the file starts with a byte-order mark")


def test_absolute_names_need_no_origin() -> None:
    zone = Zone.from_text("zone.test. 300 SOA ns1.zone.test. h.zone.test. 1 7200 900 1209600 300\n"
                          "zone.test. 300 NS ns1.zone.test.\n")
    assert zone.origin == dns.name.from_text("zone.test.")
    message = error_of("zone.test. 300 SOA ns1 h.zone.test. 1 7200 900 1209600 300\n")
    assert message.startswith("<text>:1: relative name in the record's data but no origin is known")


@pytest.mark.parametrize(("line", "hint"), [
    ("x CH TXT \"chaos\"", "class CH in a zone of class IN (its first record's): a zone holds one class"),
    ("$UNICODE 2008", "unknown directive '$UNICODE'"),
    ("x ANY A 192.0.2.1", "class ANY"),
    ("x 300 AXFR 1", "AXFR is not a type a zone can hold"),
    ("x..y A 192.0.2.1", "an empty label"),
    (f"{'l' * 64} A 192.0.2.1", "a label longer than 63 octets"),
    ("x A", "the A record's data does not parse"),
    ("x", "its type and data are missing"),
    ("$TTL soon", "$TTL 'soon' is not a TTL"),
    ("$TTL 300 600", "$TTL takes one value"),
    (" A 192.0.2.1\n( x", "a parenthesis is left open"),
])
def test_more_errors_with_hints(line: str, hint: str) -> None:
    message = error_of(HEAD + line + "\n")
    assert message.startswith("<text>:") and hint in message, message


# -- whatever the input, a ZoneError or a zone -------------------------------------------------

SNIPPETS = ['"', "(", ")", "\\", "\\#", "\\# 2 abcd", "\\999", "$", "$ORIGIN", "$TTL", "$INCLUDE", "$GENERATE",
            "1-2", "${0,3,z}", "@", ".", "..", "*", "IN", "CH", "A", "AAAA", "MX", "SOA", "TXT", "HINFO", "CAA",
            "SRV", "NAPTR", "LOC", "DS", "RRSIG", "NSEC", "HTTPS", "TYPE0", "TYPE65535", "CLASS3", "0", "-1",
            "4294967296", "2147483648", "1w2d", "192.0.2.1", "::1", "ffff::ffff::1", "x" * 64, "y." * 130,
            "\t", ";", "é", "\udcfc", "\u200b", "\n", " ", "issue_wild", '"a b"', "=", "alpn=h2", "key65535"]


def test_random_input_gives_a_zone_error_or_a_zone() -> None:
    """Every dnspython exception (and any other) becomes a ZoneError naming <text>:line."""
    rng = random.Random(20240601)
    base = HEAD.splitlines() + ["www A 192.0.2.80", "txt TXT \"x\"", "mx MX 10 www", "$GENERATE 1-3 g$ A 10.0.0.$"]
    for _ in range(1500):
        lines = list(base)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(lines))
            words = lines[i].split(" ")
            words[rng.randrange(len(words))] = rng.choice(SNIPPETS)
            if rng.random() < 0.3:
                words.insert(rng.randrange(len(words) + 1), rng.choice(SNIPPETS))
            lines[i] = " ".join(words)
        text = "\n".join(lines) + "\n"
        try:
            Zone.from_text(text, origin="zone.test.")
        except ZoneError as e:
            assert re.match(r"<text>:\d+: ", str(e)) and "nothing from this zone was loaded" in str(e), (text, e)


def test_record_places_give_types_back_as_rdatatypes_and_keep_lines_past_2_31() -> None:
    """RecordPlaces keeps each RRset's type as a 2-byte number and its line as a 4-byte one:
    what it gives back is an RdataType (an unknown type's too), and a line past 2**31 (a file
    that long) is kept as it is, by new_rrset and by the loader's set_firsts alike."""
    import array

    import dns.rdata

    from fakens.zoneversion import RecordPlaces, Where

    zone = Zone.from_text("$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
                          "x TYPE65280 \\# 1 00\nx RRSIG A 13 3 300 20300101000000 20200101000000 1 t.test. AAAA\n",
                          origin="t.test.")
    types = [rdtype for _, rdtype in zone.current.where]
    assert [dns.rdatatype.to_text(t) for t in types] == ["SOA", "NS", "A", "TYPE65280", "RRSIG"]
    assert all(type(t) is dns.rdatatype.RdataType for t in types)
    assert [type(t) for _, t, _ in zone.current.record_where] == [dns.rdatatype.RdataType] * 5
    assert str(zone.current.where[(dns.name.from_text("x.t.test."), dns.rdatatype.from_text("TYPE65280"))]) == "<text>:5"
    a, aaaa = dns.rdata.from_text("IN", "A", "192.0.2.1"), dns.rdata.from_text("IN", "AAAA", "2001:db8::1")
    owner = dns.name.from_text("a.test.")
    places = RecordPlaces("big.zone")
    places.new_rrset(owner, dns.rdatatype.A, a, 5)
    places.new_rrset(owner, dns.rdatatype.AAAA, aaaa, 2**33)
    assert places[(owner, dns.rdatatype.A, a)] == Where("big.zone", 5)
    assert places[(owner, dns.rdatatype.AAAA, aaaa)] == Where("big.zone", 2**33)
    for lines in ([7, 9], [7, 2**40]):
        places.set_firsts([owner, owner], array.array("H", [1, 28]), [a, aaaa], array.array("q", lines), [])
        assert [places[(owner, t, r)].line for t, r in ((dns.rdatatype.A, a), (dns.rdatatype.AAAA, aaaa))] == lines
        assert [type(t) for _, t, _ in places.firsts()] == [dns.rdatatype.RdataType] * 2
        # (the columns as compact as their values allow: what the memory bounds of test_zones count on)
        assert places._types.typecode == "H" and places._lines.typecode == ("i" if max(lines) < 2**31 else "q")


def test_every_record_is_placed_at_its_line_when_an_rrset_is_written_in_pieces(tmp_path: Path) -> None:
    """An RRset whose records are spread over the file (another type between, another name
    between, an included file) keeps each record's own file:line, in file order."""
    (tmp_path / "more.inc").write_text("www A 192.0.2.6\n")
    path = tmp_path / "late.test.zone"
    path.write_text("$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
                    "www A 192.0.2.1\nwww AAAA ::1\nwww A 192.0.2.2\nmail A 192.0.2.3\nwww A 192.0.2.4\n"
                    "www 0 A 192.0.2.9\nmail A 192.0.2.5\n$INCLUDE more.inc\nwww A 192.0.2.7\n")
    zone = Zone.from_file(path)
    version = zone.current
    www = dns.name.from_text("www.late.test.")
    places = {rdata.to_text(): str(version.record_where[(www, dns.rdatatype.A, rdata)])
              for rdata in version.get(www, dns.rdatatype.A) or ()}
    assert places == {"192.0.2.1": f"{path}:5", "192.0.2.2": f"{path}:7", "192.0.2.4": f"{path}:9",
                      "192.0.2.9": f"{path}:10", "192.0.2.6": f"{tmp_path / 'more.inc'}:1",
                      "192.0.2.7": f"{path}:13"}
    assert list(version.record_where)[:2] == [(dns.name.from_text("late.test."), dns.rdatatype.SOA, version.soa[0]),
                                               (dns.name.from_text("late.test."), dns.rdatatype.NS,
                                                version.get(dns.name.from_text("late.test."), dns.rdatatype.NS)[0])]
    assert str(version.where[(dns.name.from_text("MAIL.late.test."), dns.rdatatype.A)]) == f"{path}:8"
    assert [str(w) for w in zone.warnings if w.code == "ttl-mismatch"] == [
        f"{path}:10: warning: www.late.test. A: TTL 0 differs from 300 earlier in the RRset (RFC 2181 5.2); "
        f"the RRset is served with TTL 300, the first, as BIND does [ttl-mismatch]"]
