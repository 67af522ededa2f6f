"""The fast reader of plain lines (fakens.zonelines) gives exactly what the reference reader
(dnspython's tokenizer, every line) gives: records with their TTLs and file:line places,
warnings and errors, node for node, over every zone file of the repository, the zones of the
shipped labs, and lines made to sit on the edge of what is plain."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import fakens.zonefile
import fakens.zones
from fakens.errors import ZoneError
from fakens.scenario import load_scenario
from fakens.zonefile import ZoneLimits, read_file, read_text

REPO = Path(__file__).resolve().parents[2]


def _zone_files() -> list[Path]:
    found: set[Path] = set()
    for pattern in ("tests/**/*.zone", "tests/zones/corpus/**/*", "zones/*", "tests/**/zones/*"):
        found.update(p for p in REPO.glob(pattern) if p.is_file() and p.suffix not in (".py", ".md", ".toml"))
    return sorted(found)


def _lab_zones() -> list[tuple[str, str, Any]]:
    """(text, filename, origin) of every zone the shipped labs read from text."""
    seen: list[tuple[str, str, Any]] = []
    real = fakens.zones.read_text

    def record(text: str, filename: str = "<text>", origin: Any = None, limits: Any = None) -> Any:
        seen.append((text, filename, origin))
        return real(text, filename, origin, limits)

    fakens.zones.read_text = record  # type: ignore[assignment]
    try:
        for lab in sorted((REPO / "fakens" / "labs").glob("*.toml")):
            load_scenario(str(lab))
    finally:
        fakens.zones.read_text = real
    return seen


def _outcome(read: Callable[[], Any]) -> Any:
    """What a reader made: every node's RRsets (TTL, records and their places) and the
    warnings, or the error's text."""
    try:
        version, warnings = read()
    except ZoneError as e:
        return ("error", str(e))
    nodes = {}
    for name, node in version.nodes.items():
        nodes[name.to_text()] = sorted(
            (int(key[0]), int(key[1]), rrset.ttl, sorted(
                (rd.to_text(), rd.to_wire(), hash(rd), str(version.record_where.get((name, key[0], rd))))
                for rd in rrset))
            for key, rrset in node.items())
    labels = [tuple(name.labels) for name in version.nodes]  # the case as written, too
    return ("zone", version.origin.to_text(), int(version.rdclass), nodes, sorted(labels),
            [(str(w.where), w.code, w.message) for w in warnings])


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[], Any]], Any]]:
    """``reference(read)``: what *read* gives with every line read by the tokenizer."""

    def run(read: Callable[[], Any]) -> Any:
        with monkeypatch.context() as m:
            m.setattr(fakens.zonefile, "plain_record", lambda *args: None)
            return _outcome(read)

    yield run


FILES = _zone_files()


def test_the_corpora_are_found() -> None:
    assert len(FILES) >= 20, FILES


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_every_zone_file_reads_the_same(path: Path, reference: Callable[[Callable[[], Any]], Any],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(path.parent)  # $INCLUDE of a text is relative to the working directory
    fast = _outcome(lambda: read_file(path))
    assert fast == reference(lambda: read_file(path))


def test_every_lab_zone_reads_the_same(reference: Callable[[Callable[[], Any]], Any]) -> None:
    zones = _lab_zones()
    assert len(zones) >= 10
    for text, filename, origin in zones:
        assert _outcome(lambda: read_text(text, filename, origin)) == reference(  # noqa: B023
            lambda: read_text(text, filename, origin))  # noqa: B023


HEAD = "$ORIGIN edge.test.\n@ 3600 SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
EDGE_LINES = [
    "a A 192.0.2.2", "a 300 IN A 192.0.2.3", "a IN 300 A 192.0.2.4", "  A 192.0.2.5", "\tAAAA 2001:DB8::1",
    "b 300 IN A 192.0.2.3 ; comment", "b A 192.0.2.999", "b A 192.0.2.1 192.0.2.2", "b A", "b", "b 300",
    "b 3000000000 A 192.0.2.1", "b 1h A 192.0.2.1", "b 300 300 A 192.0.2.1", "b CH A 192.0.2.1",
    "b IN IN A 192.0.2.1", "B.Edge.Test. A 192.0.2.6", "other.test. A 192.0.2.7", "@ MX 10 mail",
    "c MX 65536 mail", "c MX 10", "c MX ten mail", "c MX 10 mail.other.test.", "c CNAME x", "c NS ns1",
    "d PTR host.", "d SRV 0 5 5060 sip", "d SRV 0 5 sip", "d SRV 0 5 70000 sip", 'e TXT "v=spf1 -all"',
    'e TXT "a" "b"', 'e TXT "a""b"', 'e TXT word "q"', "e TXT bare words", 'e TXT ""', "e TXT",
    'e TXT "unterminated', 'e TXT "semi;colon" ; c', 'e TXT "' + "x" * 256 + '"', 'e TXT "' + "x" * 255 + '"',
    'e TXT "esc\\"aped"', 'e TXT "(paren)"', "e TXT (multi\n line)", 'e A "192.0.2.1"', "f TYPE65280 \\# 2 abcd",
    "f HINFO PC Linux", "f.\\046 A 192.0.2.1", "g..h A 192.0.2.1", "x" * 64 + " A 192.0.2.1", "; only a comment",
    "   ; indented comment", "", "   ", "$TTL 60", "i A 192.0.2.8", "$ORIGIN sub.edge.test.", "j A 192.0.2.9",
    "@ A 192.0.2.10", "k NS ns1", "caf\u00e9 A 192.0.2.11", "l A\t192.0.2.12", "m\x0bA 192.0.2.13",
    "n\x0cA 192.0.2.1", "p CNAME @", "$GENERATE 1-3 g$ A 192.0.2.$", "q AAAA ::ffff:192.0.2.1",
    # the commonest line's own path (zonelines._A_LINE)
    "r A 192.0.2.1;c", "r 0300 A 192.0.2.1", "r A 0.0.0.0", "r A 255.255.255.255", "r A 192.0.2.01",
    "r A 192.0.2.256", "r A 192.0.2.1 ; (paren", "r A 192.0.2.1 ; back\\slash", "r A 192.0.2.1 ; caf\u00e9",
    "r a 192.0.2.1", "r in A 192.0.2.1", "*.s A 192.0.2.1", "t.u. A 192.0.2.1", "-x A 192.0.2.1",
    ("y" * 63 + ".") * 3 + "z A 192.0.2.1", ("y" * 63 + ".") * 4 + " A 192.0.2.1", "r 2147483647 A 192.0.2.1",
    "r 2147483648 A 192.0.2.1", "r.. A 192.0.2.1", "r A 192.0.2.1\t", "r A 192.0.2.1 x", "r IN A 192.0.2.1.",
]


EDGE_LINES += [
    # each type with a fast constructor (zonelines.Fast*): forms, bounds, names relative and absolute
    "a AAAA ::", "a AAAA ::1", "a AAAA 2001:db8::", "a AAAA 2001:0DB8:0000:0000:0000:0000:0000:0001",
    "a AAAA 2001:db8:0:0:1:0:0:1", "a AAAA 1:0:1:1:1:1:1:1", "a AAAA 0:0:0:0:0:ffff:c000:201", "a AAAA ::c000:201",
    "a AAAA ::ffff:192.0.2.1", "a AAAA 1:2:3:4:5:6:7:8", "a AAAA 1:2:3:4:5:6:7:8:9", "a AAAA 1::2::3",
    "a AAAA :1:2:3:4:5:6:7", "a AAAA 1:2:3:4:5:6:7:", "a AAAA 12345::", "a AAAA 1:2:3:4:5:6::7:8", "a AAAA ::g",
    "a AAAA 192.0.2.1", "a AAAA", "a AAAA ::1 ::2", "a 300 AAAA ::1 ; comment", "  AAAA fe80::1",
    "b MX 0 @", "b MX 65535 mail.other.test.", "b MX 10 Mail.Edge.Test.", "b MX 10 mail", "b MX 10 mail",
    "b MX 20 mail", "b MX 010 mail", "b MX -1 mail", "b MX 10 mail ; c", "b MX 10 .", "b MX 10 a..b",
    "b MX 10 " + "m" * 64, "  MX 5 @",
    "c NS ns1.other.test.", "c NS @", "c NS .", "c NS ns1 ns2", "c NS", "  NS ns2", "ns1 NS ns1",
    "d CNAME other.test.", "d CNAME x.", "d 60 IN CNAME y",
    "e PTR @", "e PTR Host.Other.Test.", "e PTR h ; c",
    "f SRV 0 0 0 .", "f SRV 65535 65535 65535 target.other.test.", "f SRV 10 20 65536 t", "f SRV 1 2 3 t extra",
    "f SRV 1 2 3", "f SRV 01 2 3 t", "  SRV 1 2 3 @",
    'g TXT "a" "b" "c"', 'g TXT a b c', 'g TXT "" ""', 'g TXT "" a ""', 'g TXT a"b"', 'g TXT "a" b "c" ; d',
    'g TXT "' + "x" * 255 + '" "' + "y" * 255 + '"', 'g TXT ";"', 'g TXT "a;b" c', "g TXT ;", 'g TXT "tab\there"',
    'g TXT "v=spf1 ip4:192.0.2.0/24 -all"', '  TXT "cont"', 'g 0 TXT "zero"',
    # the lines of words and of one quoted TXT string (zonelines._TYPED_LINE, _TXT_LINE)
    'i 300 IN TXT "x"', '@ TXT "apex"', "@ 60 IN MX 0 @", 'i IN 300 TXT "x"', "i IN 300 MX 10 mail",
    "i MX 10 mail ; comment (paren", 'i TXT "x" ; c', 'i TXT "x";c', 'i TXT "a\tb"', 'i TXT "x" extra',
    "in MX 10 mail", 'txt TXT "x"', "mx MX 10 mx", "i 1h MX 10 m", 'i txt "lower"', "i mx 10 mail",
    "i IN MX 10 mail", "i 300 in mx 10 mail", "i TYPE15 10 mail", "i MX 10 mail\t", "i\tMX\t10\tmail",
    "i 2147483648 MX 10 mail", 'i 2147483648 TXT "x"', "i 0300 SRV 1 2 3 t", "i CH MX 10 mail",
    "i IN IN MX 10 mail", "i MX 10 m/a", "i MX 10 m@il", 'i TXT "' + "z" * 256 + '"', "@ NS ns1 ; ; two",
    "i CNAME \\@", "0/25 CNAME x", "i AAAA ::1 ; c", "i SRV 1 2 3 @", 'i TXT "a" ; "q"', "i MX 10 mail;c",
]

DUPLICATES = [  # an RRset written in several lines, duplicates (the same data written differently) among them
    "h MX 10 mail\nh MX 10 MAIL\nh MX 10 mail.edge.test.\nh MX 20 mail",
    "h AAAA 2001:db8::1\nh AAAA 2001:DB8:0::1\nh AAAA 2001:db8::2",
    'h TXT "a" "b"\nh TXT a b\nh TXT "ab"\nh TXT "a"',
    "h NS ns1\nh NS NS1.edge.test.\nh NS ns2",
    "h SRV 1 2 3 t\nh SRV 1 2 3 T\nh SRV 1 2 4 t",
    "h PTR p\nh PTR P.edge.test.",
    "h A 192.0.2.1\nh A 192.0.2.1\nh A 192.0.2.2",
]


@pytest.mark.parametrize("line", EDGE_LINES + DUPLICATES)
def test_edge_lines_read_the_same(line: str, reference: Callable[[Callable[[], Any]], Any],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for text in (HEAD + line + "\n", HEAD + line, HEAD + line + "\nz A 192.0.2.99\n  A 192.0.2.98\n"):
        assert _outcome(lambda: read_text(text)) == reference(lambda: read_text(text))  # noqa: B023
        try:
            fast = read_text(text)[0]
        except ZoneError:
            continue
        with monkeypatch.context() as m:
            m.setattr(fakens.zonefile, "plain_record", lambda *args: None)
            slow = read_text(text)[0]
        # the records themselves: equal to the reference reader's, in sets mixing both (hashes agree)
        assert fast.records() == slow.records() and len(fast.records() | slow.records()) == len(slow.records())
        for name, node in fast.nodes.items():
            for key, rrset in node.items():
                other = slow.nodes[name][key]
                assert rrset == other and list(rrset) == list(other)
                assert [rd.to_wire() for rd in rrset] == [rd.to_wire() for rd in other]
                assert [rd.to_text() for rd in rrset] == [rd.to_text() for rd in other]


def test_lines_without_a_ttl_before_any_inherit_or_fail_the_same(reference: Callable[[Callable[[], Any]], Any]) -> None:
    for text in ("$ORIGIN e.test.\na A 192.0.2.1\n@ SOA ns1 h 1 2 3 4 5\n",
                 "$ORIGIN e.test.\n@ SOA ns1 h 1 2 3 4 5\na A 192.0.2.1\nb 60 A 192.0.2.2\nc A 192.0.2.3\n",
                 "$ORIGIN e.test.\n@ 70 CH SOA ns1 h 1 2 3 4 5\na A 192.0.2.1\n"):
        assert _outcome(lambda: read_text(text)) == reference(lambda: read_text(text))  # noqa: B023


def test_the_record_limit_is_met_at_the_same_line(reference: Callable[[Callable[[], Any]], Any]) -> None:
    lines = "".join(f"h{i} A 192.0.2.{i % 250}\n" for i in range(50))
    text = "$ORIGIN e.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n" + lines
    for limit in (1, 10, 51, 52):
        limits = ZoneLimits(max_records=limit)
        assert _outcome(lambda: read_text(text, limits=limits)) == reference(  # noqa: B023
            lambda: read_text(text, limits=limits))  # noqa: B023


def test_plain_lines_are_read_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = itertools.count()
    real = fakens.zonefile.plain_record

    def counted(*args: Any) -> Any:
        found = real(*args)
        if found is not None:
            next(calls)
        return found

    monkeypatch.setattr(fakens.zonefile, "plain_record", counted)
    read_text("$ORIGIN e.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n" + "".join(f"h{i} A 192.0.2.1\n" for i in range(9)))
    assert next(calls) == 9


def test_fast_objects_are_dnspythons_own() -> None:
    """The names, A records and RRsets the fast path makes without dnspython's constructors
    equal the ones those constructors make, slot for slot, hash for hash."""
    import copy
    import pickle

    import dns.name
    import dns.rdataclass
    import dns.rdatatype
    import dns.rdtypes.IN.A
    import dns.rrset

    from fakens.zonelines import _address, owner_name
    from fakens.zoneversion import OneRdata, SoleRRset, editable_items, sole_rrset

    origin = dns.name.from_text("Big.Test.")
    for text in ["h1", "a.B", "x.y.", "*", "_s.x", "a" * 63, "a" * 64, "a..b", ".", ".a", "@",
                 ("a" * 60 + ".") * 4 + "x", ("a" * 60 + ".") * 4]:
        try:
            expected: Any = dns.name.from_text(text, origin)
        except Exception as e:
            expected = type(e)
        try:
            made: Any = owner_name(text, origin)
        except Exception as e:
            made = type(e)
        assert made == expected and (isinstance(made, type) or (made.labels == expected.labels
                                                                and hash(made) == hash(expected))), text
    for text in ["1.2.3.4", "0.0.0.0", "255.255.255.255", "10.0.255.9", "01.2.3.4", "256.1.1.1", "1.2.3", "1.2.3.4.5"]:
        try:
            expected = dns.rdtypes.IN.A.A(dns.rdataclass.IN, dns.rdatatype.A, text)
        except Exception as e:
            expected = type(e)
        try:
            made = _address(text)
        except Exception as e:
            made = type(e)
        if isinstance(expected, type):
            assert made is expected, text
        else:
            assert [getattr(made, s) for s in ("rdclass", "rdtype", "rdcomment", "address")] == [
                getattr(expected, s) for s in ("rdclass", "rdtype", "rdcomment", "address")]
            assert made == expected and hash(made) == hash(expected) and made.to_wire() == expected.to_wire()
            assert isinstance(made, dns.rdtypes.IN.A.A) and made.replace(address="192.0.2.9") == expected.replace(
                address="192.0.2.9")
            assert pickle.loads(pickle.dumps(made)) == made and copy.copy(made) == made
    name = dns.name.from_text("www.example.test.")
    rrsig = dns.rdata.from_text("IN", "RRSIG", "A 13 3 300 20300101000000 20200101000000 1 example.test. AAAA")
    made = sole_rrset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.A, 300, rrsig)
    expected = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.A)
    expected.update_ttl(300)
    expected.add(rrsig)
    slots = [s for cls in type(expected).__mro__ for s in getattr(cls, "__slots__", ())]
    assert set(slots) == {"items", "rdclass", "rdtype", "covers", "ttl", "name", "deleting"}
    assert [getattr(made, s) for s in slots] == [getattr(expected, s) for s in slots]  # (OneRdata == its dict)
    assert type(made) is SoleRRset and type(made.items) is OneRdata and made == expected and list(made) == [rrsig]
    editable_items(made)  # what the reader does before a second record
    assert type(made) is dns.rrset.RRset and type(made.items) is type(expected.items) and made == expected
    made.add(dns.rdata.from_text("IN", "RRSIG", "A 13 3 300 20300101000000 20200101000000 2 example.test. AAAA"))
    assert len(made) == 2


FAST_LINES = {  # a line of each type the fast reader makes itself, and the class it makes
    "a 300 IN A 192.0.2.1": "FastA", "b AAAA 2001:DB8::0:1": "FastAAAA", "c MX 10 mail": "FastMX",
    "d NS ns1.other.test.": "FastNS", "e CNAME @": "FastCNAME", "f PTR host": "FastPTR",
    "g SRV 1 2 5060 sip": "FastSRV", 'h TXT "a" b ""': "FastTXT",
}


def test_each_type_is_read_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = fakens.zonefile.plain_record

    def counted(*args: Any) -> Any:
        found = real(*args)
        if found is not None:
            made.append(type(found[2]).__name__)
        return found

    monkeypatch.setattr(fakens.zonefile, "plain_record", counted)
    read_text("$ORIGIN e.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n" + "".join(line + "\n" for line in FAST_LINES))
    assert made == list(FAST_LINES.values())


_NOTHING_ADDED = {"__module__", "__doc__", "__dict__", "__weakref__", "__slotnames__",
                  "__init__", "__setstate__"}  # (the base's, wrapped again by dnspython's immutable decorator)


def test_fast_records_are_dnspythons_own() -> None:
    """Each fast class's record equals the one dnspython's parser makes of the same text, in a set
    with it (the same hash), and pickles, copies and replaces as it."""
    import copy
    import pickle

    import dns.name
    import dns.rdata

    from fakens.zonelines import plain_record

    origin = dns.name.from_text("e.test.")
    for line, cls in FAST_LINES.items():
        found = plain_record(line + "\n", origin, None)
        assert found is not None and type(found[2]).__name__ == cls
        made = found[2]
        text = line.split(maxsplit=2 if line.split()[1].isalpha() else 4)[-1]
        expected = dns.rdata.from_text("IN", made.rdtype, text, origin, relativize=False)
        # dnspython's class or, where that class adds nothing but a dict to each instance (MX, NS,
        # CNAME, PTR, TXT), the base it adds nothing to: no __dict__ in either case
        assert isinstance(made, type(expected)) or not set(vars(type(expected))) - _NOTHING_ADDED, cls
        assert isinstance(made, type(expected).__mro__[1]) and not hasattr(made, "__dict__"), cls
        assert made == expected and expected == made
        assert hash(made) == hash(expected) and len({made, expected}) == 1
        assert made.to_wire() == expected.to_wire() and made.to_text() == expected.to_text()
        assert made.to_digestable() == expected.to_digestable() and not made < expected and not made > expected
        slots = sorted({s for c in type(expected).__mro__ for s in getattr(c, "__slots__", ())})
        assert [getattr(made, s) for s in slots if s != "rdcomment"] == [
            getattr(expected, s) for s in slots if s != "rdcomment"]
        assert pickle.loads(pickle.dumps(made)) == made and copy.copy(made) == made and copy.deepcopy(made) == made
        assert made.replace() == expected.replace()
        with pytest.raises(TypeError):
            made.rdclass = 3  # type: ignore[misc]  # immutable, as dnspython's


def test_ipv6_text_is_dnspythons() -> None:
    """The C library's inet_ntop writes every pattern of zero groups as dnspython does; an address
    inet_pton reads (hexadecimal and colons) is read the same by dnspython."""
    import random
    import socket

    import dns.exception
    import dns.ipv6

    for pattern in range(256):
        for value in (1, 0xABC, 0xFFFF):
            wire = b"".join((value if pattern >> i & 1 else 0).to_bytes(2, "big") for i in range(8))
            assert socket.inet_ntop(socket.AF_INET6, wire) == dns.ipv6.inet_ntoa(wire), wire.hex()
    rng = random.Random(11)
    for _ in range(20_000):
        text = "".join(rng.choice("0:1f:A::") for _ in range(rng.randint(2, 24)))
        try:
            wire = socket.inet_pton(socket.AF_INET6, text)
        except OSError:
            continue
        try:
            assert dns.ipv6.inet_aton(text) == wire, text
        except dns.exception.SyntaxError:
            raise AssertionError(f"{text!r}: read by inet_pton, refused by dnspython") from None


def test_fast_names_compare_as_dnspythons() -> None:
    """The owners the fast reader makes (zonelines.FastName) are equal to a name, or not, exactly
    when dnspython's Name says so, either way round, with the same hash; they order, pickle and
    copy as Names."""
    import copy
    import itertools
    import pickle
    import random

    import dns.name

    from fakens.names import FastName
    from fakens.zonelines import owner_name

    origin = dns.name.from_text("Big.Test.")
    texts = ["h19", "h20", "H19", "h19.", "h19.big.test.", "h19.BIG.test.", "h19.big", "@", "big.test.", "x.h19",
             "big", "test.", "."]
    names = [dns.name.from_text(t, origin) for t in texts] + [dns.name.from_text(t, None) for t in texts]
    names += [dns.name.Name([b"h19"]), dns.name.Name([b"H19", b"big"]), dns.name.empty]
    fast = [name for name in (owner_name(t, origin) for t in texts) if type(name) is FastName]
    assert len(fast) >= 10
    for a, b in itertools.product(fast, names + fast):
        plain = dns.name.Name(a.labels)
        assert (a == b) is (plain == b) and (b == a) is (b == plain) and (a != b) is (plain != b), (a, b)
        assert (a < b) is (plain < b) and (a <= b) is (plain <= b)
        if a == b:
            assert hash(a) == hash(b)
    rng = random.Random(5)
    for _ in range(3000):  # the hash is Name's own number, for any labels, case and origin
        text = ".".join("".join(rng.choice("aZ09_-*") for _ in range(rng.randint(1, 9)))
                        for _ in range(rng.randint(1, 4))) + rng.choice(["", "."])
        made = owner_name(text, rng.choice([origin, dns.name.root, dns.name.from_text("A.b.C.d.")]))
        assert hash(made) == hash(dns.name.Name(made.labels)), text
        assert hash(made) == hash(dns.name.Name(made.labels)) == hash(dns.name.from_text(made.to_text())), text
    for a in fast:
        assert pickle.loads(pickle.dumps(a)) == a and copy.copy(a) == a and copy.deepcopy(a) == a
        assert a != "h19" and a.__eq__(3) is False and a.to_text() == dns.name.Name(a.labels).to_text()
