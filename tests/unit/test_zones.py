"""Zone loading (RFC 1035 master files via dnspython), versions, edits, RFC 1982 serials."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import pytest

from fakens.errors import ZoneError
from fakens.zones import HISTORY_LIMIT, Where, Zone, ZoneVersion, load_zones, serial_add, serial_gt

SOA = "@ SOA ns1 hostmaster 1 7200 900 1209600 300"
BASIC = f"""\
$ORIGIN example.test.
$TTL 300
{SOA}
@    NS  ns1
@    NS  ns2
ns1  A   192.0.2.1
ns2  A   192.0.2.2
www  A   192.0.2.80
"""


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text, dns.name.from_text("example.test."))


def texts(version: ZoneVersion, owner: str, rdtype: str) -> list[str]:
    """The records of one RRset as sorted rdata texts (absolute names); [] when absent."""
    rdataset = version.get(name(owner), dns.rdatatype.from_text(rdtype))
    return sorted(r.to_text() for r in rdataset) if rdataset is not None else []


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# -- loading ------------------------------------------------------------------------------

def test_from_text() -> None:
    zone = Zone.from_text(BASIC)
    assert zone.origin == name("@")
    assert zone.serial == 1
    assert texts(zone.current, "www", "A") == ["192.0.2.80"]
    assert zone.current.get(name("www"), dns.rdatatype.A).ttl == 300  # type: ignore[union-attr]


def test_from_file(tmp_path: Path) -> None:
    path = write(tmp_path / "anything.zone", BASIC)
    zone = Zone.from_file(path)
    assert zone.origin == name("@") and zone.source == str(path)
    assert texts(zone.current, "ns2", "A") == ["192.0.2.2"]


def test_origin_and_ttl_directives() -> None:
    zone = Zone.from_text("""\
$ORIGIN example.test.
$TTL 1h
@          SOA ns1 hostmaster 1 7200 900 1209600 300
@          NS  ns1
ns1        A   192.0.2.1
$ORIGIN lab
host       A   192.0.2.10
$TTL 60
fast       A   192.0.2.11
slow 2d    A   192.0.2.12
""")
    version = zone.current
    assert version.get(name("host.lab"), dns.rdatatype.A).ttl == 3600  # type: ignore[union-attr]
    assert version.get(name("fast.lab"), dns.rdatatype.A).ttl == 60  # type: ignore[union-attr]
    assert version.get(name("slow.lab"), dns.rdatatype.A).ttl == 172800  # type: ignore[union-attr]


def test_origin_given_for_relative_text() -> None:
    zone = Zone.from_text(f"{SOA}\n@ NS ns1\nns1 A 192.0.2.1\n", origin="given.test.")
    assert zone.origin == dns.name.from_text("given.test.")
    assert zone.current.get(dns.name.from_text("ns1.given.test."), dns.rdatatype.A) is not None


@pytest.mark.parametrize(("filename", "origin"), [
    ("example.test.zone", "example.test."),
    ("example.test.db", "example.test."),
    ("db.example.test", "example.test."),
    ("root.zone", "."),
])
def test_origin_guessed_from_the_file_name(tmp_path: Path, filename: str, origin: str) -> None:
    path = write(tmp_path / filename, f"{SOA}\n@ NS ns1.example.test.\n")
    assert Zone.from_file(path).origin == dns.name.from_text(origin)


def test_relative_names_without_origin_are_an_error() -> None:
    with pytest.raises(ZoneError, match=r"<text>:1: relative name but no origin"):
        Zone.from_text(f"{SOA}\n")


def test_include_is_relative_to_the_including_file_not_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone_dir = tmp_path / "zones"
    write(zone_dir / "example.test.zone", f"""\
        $ORIGIN example.test.
        $TTL 300
        {SOA}
        @ NS ns1
        @ NS ns2
        $INCLUDE parts/hosts.inc
        $INCLUDE parts/lab.inc lab.example.test.
        after A 192.0.2.99
        """)
    write(zone_dir / "parts" / "hosts.inc", """\
        ns1 A 192.0.2.1
        ns2 A 192.0.2.2
        $INCLUDE more.inc
        """)
    write(zone_dir / "parts" / "more.inc", "www A 192.0.2.80\n")  # nested: next to hosts.inc
    write(zone_dir / "parts" / "lab.inc", "box A 192.0.2.20\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    zone = Zone.from_file(zone_dir / "example.test.zone")
    version = zone.current
    assert texts(version, "ns1", "A") == ["192.0.2.1"]
    assert texts(version, "www", "A") == ["192.0.2.80"]
    assert texts(version, "box.lab", "A") == ["192.0.2.20"]  # $INCLUDE's origin argument
    assert texts(version, "after", "A") == ["192.0.2.99"]  # the origin is restored after the include


def test_include_of_a_missing_file_names_the_including_line(tmp_path: Path) -> None:
    path = write(tmp_path / "example.test.zone", f"{SOA}\n@ NS ns1\n$INCLUDE nothere.inc\n")
    with pytest.raises(ZoneError, match=r"example\.test\.zone:3: .*nothere\.inc"):
        Zone.from_file(path)


def test_generate() -> None:
    zone = Zone.from_text(BASIC + "$GENERATE 1-3 host$ A 192.0.2.$\n$GENERATE 10-11 ${0,3,d} CNAME www\n")
    version = zone.current
    assert [texts(version, f"host{i}", "A") for i in (1, 2, 3)] == [["192.0.2.1"], ["192.0.2.2"], ["192.0.2.3"]]
    assert texts(version, "010", "CNAME") == ["www.example.test."]
    assert texts(version, "011", "CNAME") == ["www.example.test."]
    assert version.get(name("host4"), dns.rdatatype.A) is None


ROUND_TRIP = [
    ("A", "192.0.2.1"),
    ("AAAA", "2001:db8::1"),
    ("MX", "10 mail.example.test."),
    ("SRV", "0 5 5060 sip.example.test."),
    ("SRV", "10 0 0 ."),
    ("HTTPS", '1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1'),
    ("SVCB", "1 svc.example.test. port=53"),
    ("CAA", '0 issue "letsencrypt.org"'),
    ("CAA", '128 iodef "mailto:security@example.test"'),
    ("TXT", r'"v=spf1 -all" "second \"quoted\" string" "semi;colon" "\065\066"'),
    ("NAPTR", r'100 10 "u" "E2U+sip" "!^.*$!sip:info@example.test!" .'),
    ("TLSA", "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("SSHFP", "4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    ("PTR", "host.example.test."),
    ("HINFO", '"PC" "Linux"'),
    ("LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"),
    ("DS", "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"),
    ("DNSKEY", "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="),
    ("CDS", "0 0 0 00"),
    ("URI", '10 1 "https://example.test/"'),
    ("CERT", "PGP 0 0 dGVzdA=="),
    ("TYPE65534", r"\# 3 010203"),
]


@pytest.mark.parametrize(("rdtype", "rdata"), ROUND_TRIP, ids=[f"{t}:{d[:20]}" for t, d in ROUND_TRIP])
def test_every_type_round_trips(rdtype: str, rdata: str) -> None:
    zone = Zone.from_text(BASIC + f"rr 300 {rdtype} {rdata}\n")
    stored = zone.current.get(name("rr"), dns.rdatatype.from_text(rdtype))
    assert stored is not None
    expected = dns.rdata.from_text(dns.rdataclass.IN, rdtype, rdata, name("@"), relativize=False)
    assert list(stored) == [expected]
    # and what fakens would write out reads back to the same record
    again = dns.rdata.from_text(dns.rdataclass.IN, rdtype, next(iter(stored)).to_text())
    assert again == expected


def test_txt_escapes_keep_their_bytes() -> None:
    zone = Zone.from_text(BASIC + r'rr TXT "a \"q\" b" "semi;colon" "\065\066" "back\\slash"' + "\n")
    [rdata] = list(zone.current.get(name("rr"), dns.rdatatype.TXT))  # type: ignore[arg-type]
    assert rdata.strings == (b'a "q" b', b"semi;colon", b"AB", b"back\\slash")


# -- errors: file:line, nothing loaded ---------------------------------------------------

@pytest.mark.parametrize(("bad", "line"), [
    ("www A 192.0.2", 6),  # the address is checked after the end of the line was read
    ("www A 192.0.2.1 extra", 6),
    ("www BOGUS 1", 6),
    ("www MX mail", 6),
    ("$TTL bogus", 6),
    ("$ORIGIN", 6),
    ("www 300 IN A 192.0.2.1 (", 6),  # an unclosed parenthesis: placed where the record starts
])
def test_syntax_errors_name_file_and_line(tmp_path: Path, bad: str, line: int) -> None:
    text = BASIC.splitlines()[:5]  # $ORIGIN, $TTL, SOA, NS, NS
    path = write(tmp_path / "file.zone", "\n".join(text + [bad, "ok A 192.0.2.9", ""]))
    with pytest.raises(ZoneError) as info:
        Zone.from_file(path)
    assert f"file.zone:{line}:" in str(info.value)
    assert "nothing" in str(info.value)


def test_error_inside_an_include_names_the_included_file(tmp_path: Path) -> None:
    write(tmp_path / "part.inc", "ok A 192.0.2.1\nbad A 300.0.0.1\n")
    path = write(tmp_path / "example.test.zone", BASIC + "$INCLUDE part.inc\n")
    with pytest.raises(ZoneError, match=r"part\.inc:2:"):
        Zone.from_file(path)


def test_missing_soa_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "nosoa.test.zone", "$TTL 300\n@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\n")
    with pytest.raises(ZoneError, match=r"nosoa\.test\.zone:2: the zone has no SOA record"):
        Zone.from_file(path)


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ZoneError, match="cannot read"):
        Zone.from_file(tmp_path / "missing.zone")


# -- zone check warnings carry the offending record's place ------------------------------

def test_warnings_name_file_and_line_of_the_record(tmp_path: Path) -> None:
    path = write(tmp_path / "example.test.zone", BASIC + "alias CNAME www\nalias TXT \"beside\"\nnever 0 A 192.0.2.7\n")
    zone = Zone.from_file(path)
    places = {w.code: w.where for w in zone.warnings}
    assert places["cname-and-other-data"] == Where(str(path), 9)
    assert places["ttl-zero"] == Where(str(path), 11)
    assert f"{path}:9: warning:" in str(next(w for w in zone.warnings if w.code == "cname-and-other-data"))


def test_warnings_about_one_record_of_an_rrset_name_that_record(tmp_path: Path) -> None:
    path = write(tmp_path / "example.test.zone", """\
        $ORIGIN example.test.
        $TTL 300
        @ SOA ns1 hostmaster 1 7200 900 1209600 300
        @ NS ns1
        @ NS ns2
        @ MX 10 ns1
        @ MX 20 mx
        ns1 A 192.0.2.1
        mx CNAME ns1
        """)
    places = {w.code: w.where for w in Zone.from_file(path).warnings}
    assert places["ns-no-address"] == Where(str(path), 5)  # the NS ns2 line, not the RRset's first
    assert places["target-is-cname"] == Where(str(path), 7)  # the MX 20 mx line


def test_warnings_from_an_included_file_name_that_file(tmp_path: Path) -> None:
    write(tmp_path / "hosts.inc", "\n\nmy_host A 192.0.2.5\n")
    path = write(tmp_path / "example.test.zone", BASIC + "$INCLUDE hosts.inc\n")
    [warning] = [w for w in Zone.from_file(path).warnings if w.code == "bad-hostname"]
    assert warning.where == Where(str(tmp_path / "hosts.inc"), 3)


def test_multi_line_record_is_placed_at_its_first_line() -> None:
    zone = Zone.from_text(BASIC + "big 0 TXT ( \"one\"\n   \"two\" )\n")
    [warning] = [w for w in zone.warnings if w.code == "ttl-zero"]
    assert warning.where == Where("<text>", 9)


def test_a_name_met_again_after_others_keeps_every_record_and_its_place() -> None:
    """Records of one name apart, a new type between old ones: every record served and placed
    at its own line (this raised a KeyError in the loader before)."""
    zone = Zone.from_text(BASIC + "again A 192.0.2.1\nother A 192.0.2.2\nagain TXT \"x\"\n"
                          "again A 192.0.2.3\nagain TXT \"y\"\n")
    version = zone.current
    name = dns.name.from_text("again.example.test.")
    assert texts(version, "again", "A") == ["192.0.2.1", "192.0.2.3"]
    assert texts(version, "again", "TXT") == ['"x"', '"y"']
    first = len(BASIC.splitlines()) + 1
    lines = {r.to_text(): version.record_where[(name, r.rdtype, r)].line
             for rdtype in ("A", "TXT") for r in version.get(name, dns.rdatatype.from_text(rdtype)) or ()}
    assert lines == {"192.0.2.1": first, '"x"': first + 2, "192.0.2.3": first + 3, '"y"': first + 4}
    assert texts(version, "other", "A") == ["192.0.2.2"]


def test_stored_rrsets_of_one_record_behave_as_dnspython_s_and_refuse_change() -> None:
    """The reader keeps an RRset of one record as a SoleRRset, its record where dnspython keeps
    the dict of 224 bytes: it must compare, iterate, index, copy, pickle, render and combine as
    an RRset made by dnspython does, and refuse a change in place."""
    import copy
    import io
    import pickle

    import dns.rrset

    from fakens.zoneversion import OneRdata, SoleRRset

    zone = Zone.from_text(BASIC + "multi A 192.0.2.7\nmulti TXT \"t\"\n")
    version = zone.current
    checked = 0
    for owner, node in version.nodes.items():
        for rrset in node.values():
            if len(rrset) != 1:
                continue
            assert type(rrset) is SoleRRset and type(rrset.items) is OneRdata, (owner, rrset)
            assert isinstance(rrset, dns.rrset.RRset) and len(rrset) == 1 and len(rrset.items) == 1
            (rdata,) = list(rrset)
            reference = dns.rrset.from_rdata_list(owner, rrset.ttl, [rdata])
            assert rrset == reference and reference == rrset and rrset.items == reference.items
            frozen = dns.rdataset.ImmutableRdataset(reference)  # (a dns.versioned zone's records)
            assert rrset == frozen and frozen == rrset and rrset.items == frozen.items
            again = pickle.loads(pickle.dumps(rrset))  # (a zone version pickled keeps its RRsets' form)
            assert type(again) is SoleRRset and again == reference and list(again) == [rdata]
            deep = copy.deepcopy(rrset)  # made to be changed, as copy.copy's
            assert type(deep) is dns.rrset.RRset and deep == reference and deep.ttl == rrset.ttl
            assert list(deep) == [rdata] and deep[0] is not rdata and deep.name is not rrset.name
            with pytest.raises(IndexError):
                rrset[1]
            assert (rrset != reference) is False  # (Set.__ne__ as well as __eq__)
            assert rrset[0] is rdata and rrset[-1] is rdata and rrset[0:1] == [rdata] and rdata in rrset
            wires = [io.BytesIO(), io.BytesIO()]
            rrset.to_wire(wires[0], {})
            reference.to_wire(wires[1], {})
            assert wires[0].getvalue() == wires[1].getvalue() and rrset.to_text() == reference.to_text()
            other = dns.rdata.from_text(rdata.rdclass, dns.rdatatype.TXT, '"other"') \
                if rdata.rdtype == dns.rdatatype.TXT else None
            copied = copy.copy(rrset)
            assert copied == rrset and type(copied) is dns.rrset.RRset and type(copied.items) is dict
            if other is not None:
                copied.add(other)
                assert len(copied) == 2 and len(rrset) == 1
                assert len(rrset.union(copied)) == 2 and len(rrset) == 1
                with pytest.raises(TypeError, match="read-only"):
                    rrset.add(other)
                with pytest.raises(TypeError, match="read-only"):
                    rrset.add(other, ttl=rrset.ttl - 1)  # (refused before the TTL is lowered)
                deep.add(other)
                assert len(deep) == 2 and list(rrset) == [rdata]
            ttl = rrset.ttl
            lower = reference.copy()
            lower.ttl = ttl - 1
            for method, argument in ((rrset.add, rdata), (rrset.update, lower), (rrset.update_ttl, ttl - 1)):
                with pytest.raises(TypeError, match="read-only"):  # (a lower TTL: dnspython would take it)
                    method(argument, **({"ttl": ttl - 1} if method == rrset.add else {}))
                assert rrset.ttl == ttl and list(rrset) == [rdata]
            if not dns.rdatatype.is_singleton(rdata.rdtype):  # (dnspython's add empties an SOA's first)
                rrset.add(rdata, ttl=ttl + 1)  # what dnspython's add leaves as it was is allowed
            with pytest.raises(TypeError, match="read-only"):
                rrset.items = {}  # type: ignore[assignment]  # (not turned into an empty, editable RRset)
            assert type(rrset) is SoleRRset and list(rrset) == [rdata] and rrset.ttl == ttl
            checked += 1
    assert checked >= 6
    with pytest.raises(TypeError, match="read-only"):
        version.get(name("www"), dns.rdatatype.A).add(dns.rdata.from_text("IN", "A", "192.0.2.99"))  # type: ignore[union-attr]
    new = zone.edit(add=["www 300 A 192.0.2.81"])  # an edit copies: the old version keeps its record
    assert texts(new, "www", "A") == ["192.0.2.80", "192.0.2.81"] and texts(version, "www", "A") == ["192.0.2.80"]


def _held_by(text: str) -> tuple[int, int]:
    """The bytes a zone of *text* holds once loaded (tracemalloc: allocations, not timing) and its records."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        zone = Zone.from_text(text)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return held, sum(len(rrset) for node in zone.current.nodes.values() for rrset in node.values())


def test_a_big_zone_of_one_record_names_takes_under_500_bytes_a_record() -> None:
    """Memory, counted (tracemalloc: allocations, not timing): a zone of 20,000 A records at
    names of their own; 482 bytes a record when this bound was set, 522 while each RRset of
    one record held a OneRdata, 558 while owners kept their cached hash, 765 with dnspython's
    dict of one record."""
    text = BASIC + "".join(f"h{i} A 10.0.{i >> 8 & 255}.{i & 255}\n" for i in range(20_000))
    held, records = _held_by(text)
    assert records == 20_006
    assert held / records < 500, held / records


def test_a_big_zone_of_mixed_records_takes_under_535_bytes_a_record() -> None:
    """Memory, counted as above: 20,000 records at names of their own, A, AAAA, MX and TXT in
    turn (the MX exchanges names of their own too); 520 bytes a record when this bound was set,
    560 while each RRset of one record held a OneRdata, 580 while the MX and TXT records
    carried the dict of dnspython's concrete classes."""
    kinds = ("A 10.0.{a}.{b}", "AAAA 2001:db8::{a:x}:{b:x}", "MX 10 mail{i}", 'TXT "v=spf1 -all {i}"')
    text = BASIC + "".join(f"h{i} " + kinds[i % 4].format(i=i, a=i >> 8 & 255, b=i & 255) + "\n"
                           for i in range(20_000))
    held, records = _held_by(text)
    assert records == 20_006
    assert held / records < 535, held / records


# -- edits and versions -------------------------------------------------------------------

def test_edit_makes_a_new_version_and_bumps_the_serial() -> None:
    zone = Zone.from_text(BASIC)
    first = zone.current
    new = zone.edit(add=["mail 300 A 192.0.2.25"])
    assert new is zone.current and new.number > first.number
    assert (first.serial, new.serial) == (1, 2)
    assert texts(new, "mail", "A") == ["192.0.2.25"]
    newer = zone.edit(add=["mail 300 A 192.0.2.26"])
    assert newer.number > new.number and newer.serial == 3
    assert texts(newer, "mail", "A") == ["192.0.2.25", "192.0.2.26"]  # add joins the RRset


@pytest.mark.parametrize(("record", "message"), [
    ("new 300 A 192.0.2.300", "the A record's data does not parse: a value is not of the form the type takes; "
                              "A data is an IPv4 address, e.g. 192.0.2.1"),
    ("new 300 IN MX x", "the MX record's data does not parse: <input>:1: expecting an integer; "
                        "MX data is a preference and a host, e.g. 10 mail.example.test."),
])
def test_an_edit_record_that_does_not_parse_says_what_the_data_looks_like(record: str, message: str) -> None:
    """The same hint as a zone file's record (fakens ctl zone edit, timeline edits); nothing changes."""
    zone = Zone.from_text(BASIC)
    before = zone.current
    with pytest.raises(ZoneError) as raised:
        zone.edit(add=[record])
    assert str(raised.value) == f"zone {zone.origin}: cannot parse record {record!r}: {message}"
    assert zone.current is before


def test_edit_remove_and_replace() -> None:
    zone = Zone.from_text(BASIC + "www AAAA 2001:db8::80\nwww TXT \"x\"\nmulti A 192.0.2.1\nmulti A 192.0.2.2\n")
    v = zone.edit(remove=["www AAAA", "multi A 192.0.2.1"], replace=["ns1 300 A 198.51.100.1"])
    assert texts(v, "www", "AAAA") == [] and texts(v, "www", "A") == ["192.0.2.80"]
    assert texts(v, "multi", "A") == ["192.0.2.2"]
    assert texts(v, "ns1", "A") == ["198.51.100.1"]
    v = zone.edit(remove=["www"])
    assert name("www") not in v.nodes and name("www") not in v.names


def test_edit_serial_wraps_at_2_32() -> None:
    zone = Zone.from_text(BASIC.replace("hostmaster 1 ", "hostmaster 4294967295 "))
    assert zone.edit(add=["a A 192.0.2.1"]).serial == 0  # RFC 1982: (2**32-1) + 1 = 0


def test_edit_without_bump_and_with_a_lower_serial() -> None:
    zone = Zone.from_text(BASIC.replace("hostmaster 1 ", "hostmaster 100 "))
    assert zone.edit(add=["a A 192.0.2.1"], bump_serial=False).serial == 100
    assert zone.edit(add=["b A 192.0.2.2"], serial=50).serial == 50  # a deliberate decrease
    assert zone.edit(replace=["@ 300 SOA ns1 hostmaster 7 7200 900 1209600 300"]).serial == 7  # as written


def test_history_and_version_with_serial() -> None:
    zone = Zone.from_text(BASIC)
    zone.edit(add=["a A 192.0.2.1"])
    zone.edit(add=["b A 192.0.2.2"], bump_serial=False)
    assert [v.serial for v in zone.history] == [1, 2, 2]
    assert zone.version_with_serial(1) is zone.history[0]
    assert zone.version_with_serial(2) is zone.current  # the newest with that serial
    assert zone.version_with_serial(99) is None


def test_history_is_bounded() -> None:
    zone = Zone.from_text(BASIC)
    for i in range(HISTORY_LIMIT + 5):
        zone.edit(replace=[f"counter TXT \"{i}\""])
    assert len(zone.history) == HISTORY_LIMIT and zone.history[-1] is zone.current


def test_a_reader_holding_the_old_version_sees_old_data() -> None:
    zone = Zone.from_text(BASIC)
    held = zone.current
    zone.edit(replace=["www 300 A 198.51.100.80"], remove=["ns2"])
    assert texts(held, "www", "A") == ["192.0.2.80"] and held.serial == 1
    assert texts(held, "ns2", "A") == ["192.0.2.2"]
    assert texts(zone.current, "www", "A") == ["198.51.100.80"]


def test_an_edit_shares_the_nodes_it_leaves_alone_and_changes_none_of_the_old_version() -> None:
    """A kept version costs its dict of names: the untouched nodes are the old version's own
    objects, and every kind of change (add, replace, a type, a record, a whole name, the SOA
    serial) leaves the old version's data as it was."""
    zone = Zone.from_text(BASIC + "multi A 192.0.2.9\nmulti AAAA 2001:db8::9\nmulti TXT \"t\"\n"
                          "two A 192.0.2.10\ntwo A 192.0.2.11\n")
    old = zone.current

    def snapshot(version: ZoneVersion) -> dict[str, list[str]]:
        return {f"{owner} {key}": sorted(r.to_text() for r in rrset)
                for owner, node in version.nodes.items() for key, rrset in node.items()}

    before = snapshot(old)
    new = zone.edit(add=["multi MX 10 ns1", "www A 192.0.2.81"], replace=["ns1 A 198.51.100.1"],
                    remove=["multi TXT", "two A 192.0.2.10", "ns2"])
    assert snapshot(old) == before and old.serial == 1
    assert new.serial == 2 and texts(new, "multi", "MX") == ["10 ns1.example.test."]
    assert texts(new, "multi", "TXT") == [] and texts(new, "multi", "AAAA") == ["2001:db8::9"]
    assert texts(new, "www", "A") == ["192.0.2.80", "192.0.2.81"] and texts(new, "ns1", "A") == ["198.51.100.1"]
    assert texts(new, "two", "A") == ["192.0.2.11"] and name("ns2") not in new.nodes and name("ns2") not in new.names
    changed = {name(n) for n in ("@", "multi", "www", "ns1", "two", "ns2")}
    assert [owner for owner in old.nodes if owner not in changed and new.nodes[owner] is not old.nodes[owner]] == []
    assert all(new.nodes[owner] is not old.nodes[owner] for owner in changed - {name("ns2")})
    for owner, node in new.nodes.items():  # every RRset owned by its name as the zone spells it
        assert all(rrset.name.labels == owner.labels for rrset in node.values())
    assert new.get(name("multi"), dns.rdatatype.AAAA) is old.get(name("multi"), dns.rdatatype.AAAA)
    assert zone.edit(remove=["multi"]).get(name("multi"), dns.rdatatype.A) is None
    assert texts(new, "multi", "A") == ["192.0.2.9"] and snapshot(old) == before


def test_an_edit_spelling_a_name_in_another_case_keeps_the_zones_spelling_and_shares_the_rest() -> None:
    zone = Zone.from_text(BASIC + "www AAAA 2001:db8::80\n")
    old = zone.current
    new = zone.edit(add=["WWW A 192.0.2.81"], bump_serial=False)
    www = name("www")
    assert [r.name.labels for r in new.nodes[www].values()] == [(b"www", b"example", b"test", b"")] * 2
    assert new.get(www, dns.rdatatype.AAAA) is old.get(www, dns.rdatatype.AAAA)
    assert new.nodes[name("@")] is old.nodes[name("@")]  # the serial kept: the apex shared too
    assert texts(new, "www", "A") == ["192.0.2.80", "192.0.2.81"] and texts(old, "www", "A") == ["192.0.2.80"]


def test_zones_of_the_same_text_share_a_first_version_that_edits_of_either_leave_alone() -> None:
    one, two = Zone.from_text(BASIC), Zone.from_text(BASIC)
    for i in range(3):
        one.edit(add=[f"www A 192.0.2.{90 + i}"], remove=["ns2 A"])
    with pytest.raises(ZoneError):
        one.edit(add=["www A 192.0.2.99"], remove=["@ SOA"])
    assert texts(one.current, "www", "A") == ["192.0.2.80", "192.0.2.90", "192.0.2.91", "192.0.2.92"]
    for version in (one.history[0], two.current):
        assert texts(version, "www", "A") == ["192.0.2.80"] and texts(version, "ns2", "A") == ["192.0.2.2"]


def test_an_edit_of_a_version_with_empty_nodes_drops_them_as_before() -> None:
    zone = Zone.from_text(BASIC)
    emptied = ZoneVersion(zone.origin, {**zone.current.nodes, name("gone"): {}}, copy=False)
    assert name("gone") in emptied.nodes and name("gone") not in emptied.names
    edited = Zone(emptied).edit(add=["www TXT \"x\""])
    assert name("gone") not in edited.nodes and name("gone") not in edited.names


def test_the_owners_changed_between_any_two_versions_cover_every_record_that_differs() -> None:
    """IXFR compares records only at the owners whose nodes are not shared: over random edits
    (names re-added after removal, other cases, whole names gone), for every pair of versions,
    newer or older, and versions of another zone, the difference equals the full comparison."""
    rng = random.Random(20261207)
    zone = Zone.from_text(BASIC + "".join(f"h{i} A 192.0.2.{i}\nh{i} TXT \"{i}\"\n" for i in range(30)))
    for _ in range(40):
        i = rng.randrange(40)
        owner = rng.choice([f"h{i}", f"H{i}"])
        change = rng.choice(["add", "remove", "remove type", "replace"])
        if change == "add":
            zone.edit(add=[f"{owner} A 198.51.100.{rng.randrange(256)}"])
        elif change == "replace":
            zone.edit(replace=[f"{owner} 60 TXT \"r{rng.randrange(9)}\""])
        else:
            zone.edit(remove=[owner if change == "remove" else f"{owner} TXT"])
    versions = [*zone.history, Zone.from_text(BASIC).current]
    for old in versions:
        for new in versions:
            owners = new.owners_changed_since(old)
            assert old.records(owners) - new.records(owners) == old.records() - new.records()
            assert new.records(owners) - old.records(owners) == new.records() - old.records()
    first, last = zone.history[0], zone.history[-1]
    assert len(last.owners_changed_since(last)) == 0
    assert len(last.owners_changed_since(first)) < len(last.nodes)  # the shared ones are not compared


def test_listeners_are_called_with_old_and_new() -> None:
    zone = Zone.from_text(BASIC)
    seen: list[tuple[int, int]] = []

    def listener(z: Zone, old: ZoneVersion, new: ZoneVersion) -> None:
        assert z is zone and new is zone.current
        seen.append((old.serial, new.serial))

    zone.on_change(listener)
    zone.edit(add=["a A 192.0.2.1"])
    zone.remove_listener(listener)
    zone.edit(add=["b A 192.0.2.2"])
    assert seen == [(1, 2)]


def test_edit_errors_leave_the_zone_alone() -> None:
    zone = Zone.from_text(BASIC)
    before = zone.current
    with pytest.raises(ZoneError, match="SOA"):
        zone.edit(remove=["@ SOA"])
    with pytest.raises(ZoneError, match="outside the zone"):
        zone.edit(add=["www.other.test. 300 A 192.0.2.1"])
    with pytest.raises(ZoneError, match="cannot parse"):
        zone.edit(add=["www A not-an-address"])
    assert zone.current is before and len(zone.history) == 1


# -- RFC 1982 serial arithmetic -----------------------------------------------------------

@pytest.mark.parametrize(("a", "b", "a_newer"), [
    (2, 1, True),
    (1, 2, False),
    (5, 5, False),
    (0, 2**32 - 1, True),  # wrapped: 0 comes after 4294967295
    (2**32 - 1, 0, False),
    (100, 2**32 - 100, True),
    (2**31 - 1, 0, True),  # the largest step forward
    (0, 2**31 - 1, False),
    (2**31 + 1, 0, False),  # more than half way round: 0 is the newer one
    (0, 2**31 + 1, True),
])
def test_serial_gt(a: int, b: int, a_newer: bool) -> None:
    assert serial_gt(a, b) is a_newer


def test_serial_gt_half_way_is_undefined_and_answers_false_both_ways() -> None:
    """RFC 1982 3.2 leaves a difference of exactly 2**31 undefined: fakens says neither is newer."""
    assert serial_gt(0, 2**31) is False
    assert serial_gt(2**31, 0) is False
    assert serial_gt(12345, 12345 + 2**31) is False


def test_serial_add() -> None:
    assert serial_add(1) == 2
    assert serial_add(2**32 - 1) == 0
    assert serial_add(2**32 - 10, 20) == 10
    with pytest.raises(ValueError):
        serial_add(1, 2**31)


# -- load_zones ---------------------------------------------------------------------------

def test_load_zones_from_a_directory(tmp_path: Path) -> None:
    write(tmp_path / "a.test.zone", f"{SOA}\n@ NS ns1.b.test.\n")
    write(tmp_path / "db.b.test", f"{SOA}\n@ NS ns1\nns1 A 192.0.2.1\n")
    write(tmp_path / "notes.md", "not a zone")
    zones = load_zones([tmp_path])
    assert sorted(z.origin.to_text() for z in zones) == ["a.test.", "b.test."]


def test_load_zones_mixes_files_and_zone_objects(tmp_path: Path) -> None:
    path = write(tmp_path / "a.test.zone", f"{SOA}\n@ NS ns1.b.test.\n")
    zones = load_zones([path, Zone.from_text(BASIC)])
    assert [z.origin.to_text() for z in zones] == ["a.test.", "example.test."]


def test_load_zones_rejects_duplicate_origins(tmp_path: Path) -> None:
    write(tmp_path / "one" / "example.test.zone", BASIC)
    write(tmp_path / "two" / "db.example.test", BASIC)
    with pytest.raises(ZoneError, match=r"example\.test\. is loaded twice"):
        load_zones([tmp_path / "one", tmp_path / "two"])


def test_load_zones_on_an_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ZoneError, match="no zone files"):
        load_zones([tmp_path])


def test_a_text_read_again_starts_from_the_same_version_and_zones_stay_apart() -> None:
    """Zone.from_text remembers the version a text made (tests build zones from the same text
    over and over): a second zone of the text shares its first version and its warnings, and
    an edit of one zone is not seen by the other, nor by a third made afterwards."""
    text = "$TTL 300\n@ SOA ns1 hostmaster 7 3600 600 86400 300\n@ NS ns1\nwww A 192.0.2.1\nwww 600 A 192.0.2.2\n"
    first = Zone.from_text(text, origin="remember.test.")
    second = Zone.from_text(text, origin="remember.test.")
    assert second.current is first.current
    assert [w.code for w in second.warnings] == [w.code for w in first.warnings] and first.warnings
    first.edit(add=["new A 192.0.2.9"])
    third = Zone.from_text(text, origin="remember.test.")
    for zone in (second, third):
        assert zone.serial == 7
        assert zone.current.get(dns.name.from_text("new.remember.test."), dns.rdatatype.A) is None
    assert first.serial == 8
    other = Zone.from_text(text, origin="other.test.")
    assert other.origin == dns.name.from_text("other.test.") or other.current is not first.current
