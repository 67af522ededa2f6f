"""fakens' own reader of plain queries sees what dnspython sees, and leaves the rest to it."""

import random

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rrset
import pytest

from fakens.exchange import Exchange

CLIENT = ("127.0.0.1", 4000)
LOCAL = ("127.0.0.1", 53)


def exchange(wire: bytes) -> Exchange:
    x = Exchange.receive(wire, CLIENT, LOCAL, "udp", "ns1", 0.0)
    assert x is not None
    return x


def by_dnspython(wire: bytes) -> Exchange:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Exchange, "read_plain", lambda self: False)
        x = exchange(wire)
        assert x.parse(keyring=None) is not None
    return x


COOKIE = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, bytes(range(8)))
FULL_COOKIE = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, bytes(range(24)))
PRIVATE = dns.edns.GenericOption(65001, b"\x01\x02")
EMPTY_PRIVATE = dns.edns.GenericOption(65002, b"")

PLAIN = [
    dict(),
    dict(use_edns=0),
    dict(use_edns=0, want_dnssec=True, payload=4096),
    dict(use_edns=0, payload=512, options=[COOKIE]),
    dict(use_edns=0, options=[FULL_COOKIE, PRIVATE, EMPTY_PRIVATE]),
    dict(use_edns=1),  # BADVERS is the pipeline's to answer: the reader still reads it
    dict(use_edns=0, ednsflags=0x4000),  # an unknown EDNS flag bit
]


@pytest.mark.parametrize("kw", PLAIN, ids=[",".join(sorted(k)) or "no-edns" for k in PLAIN])
def test_plain_queries_are_read_without_dnspython_to_the_same_facts(kw: dict[str, object]) -> None:
    query = dns.message.make_query("WwW.Example.TEST.", "AAAA", **kw)  # type: ignore[arg-type]
    query.flags |= dns.flags.CD
    wire = query.to_wire()
    ours = exchange(wire)
    assert ours.parse(keyring=None) is None  # read by fakens' reader: no dnspython message
    reference = by_dnspython(wire)
    assert ours.question == reference.question and ours.question is not None
    assert ours.question.name.to_text() == "WwW.Example.TEST."  # the case as written
    assert ours.edns == reference.edns
    assert ours.facts() == reference.facts()
    assert ours.entry(None).edns == reference.entry(None).edns


def test_everything_else_goes_to_dnspython() -> None:
    base = dns.message.make_query("www.example.test.", "A", use_edns=0).to_wire()
    ecs = dns.message.make_query("www.example.test.", "A", use_edns=0,
                                 options=[dns.edns.ECSOption("192.0.2.0", 24)]).to_wire()
    bad_cookie = dns.message.make_query("www.example.test.", "A", use_edns=0,
                                        options=[dns.edns.GenericOption(10, b"short")]).to_wire()
    notify = dns.message.make_query("example.test.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    ixfr = dns.message.make_query("example.test.", "IXFR")
    ixfr.authority.append(dns.rrset.from_text("example.test.", 0, "IN", "SOA", ". . 1 0 0 0 0"))
    others = {
        "trailing junk": base + b"\x00",
        "OPT cut short": base[:-2],
        "an option overrunning the OPT": base[:-2] + b"\x00\x04" + b"\x00\x08\x00\x08",
        "ECS (dnspython checks it)": ecs,
        "a malformed COOKIE": bad_cookie,
        "NOTIFY": notify.to_wire(),
        "IXFR with a SOA": ixfr.to_wire(),
        "a response": dns.message.make_response(dns.message.make_query("x.test.", "A")).to_wire(),
    }
    for what, wire in others.items():
        assert not exchange(wire).read_plain(), what


def _read_as_dnspython(labels: list[bytes]) -> Exchange | None:
    """A query for *labels*, its question read: None when dnspython refuses the name as too
    long (and the plain reader refused it too), else the exchange, its name checked against
    dnspython's: the same labels (case and any byte kept), equal, the same hash and text."""
    wire = (b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            + b"".join(bytes([len(label)]) + label for label in labels) + b"\x00\x00\x01\x00\x01")
    x = Exchange.receive(wire, CLIENT, LOCAL, "udp", "ns1", 0.0)
    assert x is not None
    try:
        expected, _ = dns.name.from_wire(wire, 12)
    except dns.name.NameTooLong:
        assert not x.read_question()
        return None
    assert x.read_question() and x.question is not None
    name = x.question.name
    assert (name.labels, name, hash(name), name.to_text()) == \
        (expected.labels, expected, hash(expected), expected.to_text())
    return x


def test_the_question_name_reads_as_dnspython_reads_it() -> None:
    """The plain reader's own label walk gives the Name dns.name.from_wire gives; 255 octets
    still read, longer names refused as dnspython refuses them."""
    rng = random.Random(7)
    checked = 0
    for _ in range(5000):
        labels = [bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 5, 20, 63])))
                  for _ in range(rng.randrange(0, 6))]
        checked += _read_as_dnspython(labels) is not None
    assert checked > 3000


def test_names_ending_in_a_suffix_read_before_read_as_dnspython_reads_them() -> None:
    """What follows the first label is read once and kept by its bytes: names sharing it
    (first labels of every length, either case, the suffix itself in another case) still read
    to dnspython's name, the label starts are where the labels start, and the parent and the
    wildcard below it made with the suffix are dnspython's names."""
    rng = random.Random(11)
    suffixes = [[b"big", b"test"], [b"BIG", b"Test"], [b"test"], [], [b"a" * 63, b"b" * 63, b"c" * 60]]
    checked = 0
    for _ in range(3000):
        first = bytes(rng.choice(b"aZ09-_*\xff") for _ in range(rng.choice([1, 2, 7, 63])))
        labels = [first, *rng.choice(suffixes)]
        x = _read_as_dnspython(labels)
        if x is None:
            continue
        starts, at = [], 0
        for label in labels:
            starts.append(at)
            at += 1 + len(label)
        assert x.label_starts == tuple(starts)
        parent, wildcard = dns.name.Name(labels[1:] + [b""]), dns.name.Name([b"*", *labels[1:], b""])
        assert x.suffix is not None and x.suffix.name.labels == parent.labels and hash(x.suffix.name) == hash(parent)
        assert x.suffix.wildcard.labels == wildcard.labels and hash(x.suffix.wildcard) == hash(wildcard)
        checked += 1
    assert checked > 2000
