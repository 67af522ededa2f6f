"""Differential test: fakens against BIND named serving the same zones as a primary.

The zones, the battery and the comparison are `_common`'s (the same for NSD and Knot): every
reply is compared field by field: rcode, AA, TC, RA, AD, the three sections as sets of (name,
type, TTL, rdata), and the OPT record (presence, payload, version, DO, options).

Two runs: BIND `minimal-responses no` against fakens' default, and `minimal-responses yes`
against `minimal_responses=True`; `minimal-any no` in both.

Every difference must be listed in ALLOWED below, for the queries that show it, with a one-line
reason; anything else fails, showing both replies. (b) is a documented fakens choice
(docs/answers.md), (c) a BIND 9.18 peculiarity, where NSD and Knot side with fakens unless said.
named missing: skipped locally, failed under CI=true (helpers.require_tool).

Run by hand with `-s` and DIFF_REPORT=1 to print every difference, allowed or not.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator

import pytest
from helpers import require_tool

from ._common import (
    FLAGS_ANY,
    SHAPE_CASES,
    TYPES_RE,
    ZONE_FILES,
    Allowed,
    Fake,
    Key,
    Reference,
    ShapeCase,
    battery,
    check_shape,
    compare,
    cross_zone,
    named,
    q_re,
    rows,
    unused_rows,
)

# --- the table of justified differences --------------------------------------------------------
# (mode "full"/"minimal"/"*", regex over the whole Q.id, field, regex over each differing item)
# -> one-line reason (_common.Allowed). fakens bugs are never listed here: they fail the test
# until fakens is fixed. Every row names the queries it is for; no row waives a whole field or
# section of every query.


def _bind_rows(queries: tuple[str, ...], field: str, item: str, reason: str) -> Allowed:
    return rows(queries, TYPES_RE, field, item, reason)


# CNAME loop l1 -> l2 -> l1, and the 12-step chain k1 -> ... -> k12 -> t (BIND gives up after
# 11 restarts; NSD follows it, as fakens)
_RESTARTS_EDE = (r"""bind "payload=(\d+) version=0 do=(\w+) options=\[\(<OptionType\.EDE: 15>, """
                 r"""b'\\\\x00\\\\x00max\. restarts reached'\)\]"; fakens 'payload=\1 version=0 do=\2 options=\[\]'""")
_LONG_CHAIN = ("k1.s.example.",)  # mixed case too: queries match rows whatever the case
_CHAIN_REASON = "(c) a chain of 12 CNAMEs: BIND 9.18 stops after 11 (SERVFAIL, EDE 0); fakens and NSD follow it"
_LOOP: Allowed = {
    **_bind_rows(("l1.diff.example.", "l2.diff.example."), "rcode", "bind 'SERVFAIL'; fakens 'NOERROR'",
                 "(b) CNAME loop: fakens NOERROR with the CNAMEs (as NSD and Knot); BIND 9.18 SERVFAIL"),
    **_bind_rows(("l1.diff.example.", "l2.diff.example."), "opt", _RESTARTS_EDE,
                 "(b) CNAME loop: BIND adds EDE 0 'max. restarts reached'; fakens sends no EDE"),
    **_bind_rows(_LONG_CHAIN, "rcode", "bind 'SERVFAIL'; fakens 'NOERROR'", _CHAIN_REASON),
    **_bind_rows(_LONG_CHAIN, "opt", _RESTARTS_EDE, _CHAIN_REASON),
    **_bind_rows(_LONG_CHAIN, "answer", r"fakens: t\.s\.example\. .*", _CHAIN_REASON),
    **_bind_rows(_LONG_CHAIN, "authority", r"fakens: s\.example\. \d+ (?:NS|SOA) .*", _CHAIN_REASON),
    **_bind_rows(_LONG_CHAIN, "additional", r"fakens: ns\d\.s\.example\. .*", _CHAIN_REASON),
}

# The owner of the first answer RRset, for the mixed-case queries whose answer differs in case.
_PLAIN = r"udp rd0 edns1232 "
_KEEPS_CASE = "(b) fakens keeps the query's case in answer owner names (docs/answers.md); BIND 9.18 the zone's"
_ANSWER_CASE: Allowed = {
    ("*", q_re(qname, qtypes, _PLAIN), "answer-case", re.escape(f"bind {owner.lower()!r}; fakens {owner!r}")):
        f"{_KEEPS_CASE} ({what})"
    for qname, qtypes, owner, what in (
        ("WwW.ExAmPlE.TeSt.", "A", "WwW.ExAmPlE.TeSt.", "an A record"),
        ("FOO.WILD.EXAMPLE.TEST.", "A|TXT", "FOO.WILD.EXAMPLE.TEST.", "synthesized from a wildcard"),
        ("Foo.W.Diff.Example.", "A|MX|TXT", "Foo.W.Diff.Example.", "synthesized from a wildcard"),
        ("Ftp.Example.Test.", "A|MX|NS|TXT", "Ftp.Example.Test.", "a CNAME"),
        ("C1.diff.EXAMPLE.", "A|MX|NS|TXT", "C1.diff.EXAMPLE.", "a CNAME chain"),
        ("WWW.Legacy.Example.Test.", "A|MX|NS|TXT", "Legacy.Example.Test.",
         "the DNAME's owner as spelled in the query"),
        ("M.S.Example.", "A", "M.S.Example.", "an A RRset"),
        ("K1.s.EXAMPLE.", "A|MX|NS|TXT", "K1.s.EXAMPLE.", "a CNAME chain"),
    )
}

# Below a DNAME, asked for type CNAME: the DNAME and the synthesized CNAME answer it; fakens, NSD
# and Knot send them alone, BIND adds the zone's NS and their addresses.
_DNAME_CNAME = ("www.legacy.example.test.", "nothere.legacy.example.test.", "ftp.legacy.example.test.",
                "sub.legacy.example.test.", "www.dn.diff.example.",
                "mail.dn.diff.example.", "www.sub.dn.diff.example.", "foo.dnw.diff.example.",
                "x.dnw.diff.example.", "a.dnout.diff.example.")
_DNAME_CNAME_REASON = ("(c) CNAME asked below a DNAME: BIND adds the zone's NS and addresses to the DNAME and "
                       "the CNAME; fakens, NSD and Knot send those alone")

# A 30-address RRset asked without EDNS: it fits in 512 bytes, the zone's NS RRset beside it does not.
_TC_REASON = ("(c) the answer fits in 512 bytes, the optional AUTHORITY NS does not: BIND sets TC (keeping "
              "the answer); fakens, NSD and Knot leave the NS out without TC (RFC 2181 9)")

ALLOWED: Allowed = {
    # (b) documented fakens choices
    **cross_zone("BIND"),
    **_LOOP,
    **_ANSWER_CASE,
    ("minimal", r".* NS", "additional", r"bind: .*"):
        "(b) minimal_responses sends no NS addresses; BIND always adds them to NS answers",
    ("*", r"udp \S+ noedns big\.example\.test\. TXT", "answer", r"bind: .*"):
        "(b) truncated: fakens sends only the question (docs), BIND the records that fit (RFC 2181 9 allows both)",
    ("*", r"udp \S+ noedns big\.example\.test\. TXT", "answer-case", "bind 'big.example.test.'; fakens None"):
        "(b) same: the truncated reply has no answer RRset whose owner could be compared",
    # (c) BIND 9.18 peculiarities
    ("*", r".* SOA", "authority", r"bind: \S+ 0 SOA .*|fakens: \S+ \d+ SOA .*"):
        "(c) BIND sends the negative-answer SOA with TTL 0 when the question is SOA",
    ("full", r".* ANY", "additional", r"fakens: .*"):
        "(c) BIND adds no ADDITIONAL to ANY answers (RFC 1034 4.3.2 step 6 makes it optional)",
    ("full", r"udp \S+ edns512 .*", "authority", r"fakens: .*"):
        "(c) BIND answers minimally to EDNS UDP size 512 over UDP",
    ("full", r"udp \S+ edns512 .*", "additional", r"fakens: .*"):
        "(c) same: no optional ADDITIONAL at EDNS size 512",
    ("*", r".*del4\.diff\.example\. \S+", "additional", r"fakens: (?:web|mx1)\.diff\.example\. .*"):
        "(c) BIND's referral sends only glue, not addresses of NS hosts that are zone data (RFC 1034 step 6 allows them)",
    ("*", rf"{FLAGS_ANY}(?:\S+\.)?(?:64/26|6[56])\.2\.0\.192\.in-addr\.arpa\. \S+", "additional",
     r"fakens: ns-64\.2\.0\.192\.in-addr\.arpa\. .*"):
        "(c) same, for the RFC 2317 delegation's sibling name server (referrals at, below and via CNAME to 64/26)",
    ("full", q_re("mx.s.example.", "MX", r"udp \S+ noedns "), "additional", r"fakens: ns\d\.s\.example\. .*"):
        "(c) BIND adds no ADDITIONAL once the first target's addresses (the MX target's 30) do not fit; "
        "fakens, as NSD, goes on with the NS hosts' addresses",
    ("full", q_re("m.s.example.", "A", r"udp \S+ noedns "), "tc", "bind True; fakens False"): _TC_REASON,
    **{("full", q_re(qname, "CNAME"), section, r"bind: .*"): _DNAME_CNAME_REASON
       for qname in _DNAME_CNAME for section in ("authority", "additional")},
    **{("*", q_re("x.d12.s.example.", "A", rf"udp \S+ {edns} "), field, item): reason
       for edns in ("noedns", "edns512") for field, item, reason in (
           ("tc", "bind False; fakens True",
            "(c) 12 NS whose glue does not all fit: BIND leaves glue out without TC; fakens sets TC (RFC 9471, as Knot)"),
           ("additional", r"(?:bind|fakens): ns\d\d\.d12\.s\.example\. \d+ AAAA .*",
            "(c) same: BIND sends its glue's AAAA in its own (rotated) order, so other AAAA records fit"))},
}


QUERIES = battery()


@pytest.mark.parametrize("origin", sorted(ZONE_FILES))
def test_bind_loads_the_zones(origin: str) -> None:
    """named-checkzone accepts every zone both servers serve (so differences are not load errors)."""
    checkzone = require_tool("named-checkzone")
    res = subprocess.run([checkzone, origin, str(ZONE_FILES[origin])], capture_output=True,
                         text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and res.stdout.rstrip().endswith("OK"), res.stdout + res.stderr


@pytest.fixture(scope="module", params=[False, True], ids=["full", "minimal"])
def servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, Reference, Fake]]:
    minimal: bool = request.param
    fake: Fake = request.getfixturevalue("fake_minimal" if minimal else "fake_full")
    with named(tmp_path_factory.mktemp("named"), minimal) as ref:
        yield ("minimal" if minimal else "full"), ref, fake


_USED: dict[str, set[Key]] = {}  # mode -> the rows of ALLOWED that allowed something


def test_fakens_answers_as_bind(servers: tuple[str, Reference, Fake]) -> None:
    mode, ref, fake = servers
    compare(ref, fake, mode, ALLOWED, QUERIES, used=_USED.setdefault(mode, set()))


def test_every_allowed_row_is_used() -> None:
    """A row that allowed nothing in either run is stale (fakens or BIND changed): remove it."""
    if set(_USED) != {"full", "minimal"}:
        pytest.skip("needs both comparisons to have run in this session")
    unused = unused_rows(ALLOWED, _USED["full"] | _USED["minimal"])
    assert not unused, "rows of ALLOWED that allowed nothing:\n" + "\n".join(unused)


@pytest.mark.parametrize("case", [c for c in SHAPE_CASES if c.bind], ids=lambda case: case.id)
def test_shapes_as_bind(servers: tuple[str, Reference, Fake], case: ShapeCase) -> None:
    """The shapes where BIND agrees with NSD, Knot and fakens (for the others, see ALLOWED)."""
    _mode, ref, fake = servers
    check_shape(ref, fake, case)
