"""Differential test: fakens against BIND named serving the same zones as a primary.

Both servers load zones/example.test.zone, zones/test.zone and this directory's zones
(wildcards, CNAME/DNAME chains in and across zones, delegations, DS at a cut, ...). The same
battery of queries (every owner name x common types, missing names, names below ENTs and cuts,
mixed case, EDNS sizes, DO, NSID, TCP; RD=0 and RD=1) goes to both, and each reply is compared
field by field: rcode, AA, TC, RA, AD, the three sections as sets of (name, type, TTL, rdata),
and the OPT record (presence, payload, version, DO, options).

Two runs: BIND `minimal-responses no` against fakens' default, and `minimal-responses yes`
against `minimal_responses=True`; `minimal-any no` in both.

Every difference must be listed in ALLOWED below, for the queries that show it, with a one-line
reason; anything else fails.
named missing: skipped locally, failed under CI=true (helpers.require_tool).

Run by hand with `-s` and DIFF_REPORT=1 to print every difference, allowed or not.

Known fakens bugs this test finds (it fails until they are fixed; never add them to ALLOWED):
- DS in referrals when the query has DO=0 (or no EDNS): RFC 3225 3 says DNSSEC RRs MUST NOT be
  returned then unless asked for; BIND sends NS (+ glue) only.
- A CNAME synthesized from a DNAME is followed even when QTYPE is CNAME or ANY (RFC 1034 4.3.2
  3a, RFC 6672 3.2: the CNAME answers those); BIND stops after the synthesized CNAME.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone
import pytest
from helpers import ask, poll, require_tool
from helpers.procs import Proc, free_port

import fakens

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ZONE_FILES = {
    "example.test.": ROOT / "zones" / "example.test.zone",
    "test.": ROOT / "zones" / "test.zone",
    "diff.example.": HERE / "zones" / "diff.example.zone",
    "child.diff.example.": HERE / "zones" / "child.diff.example.zone",
}
NSID = "ns-diff"
TYPES = ("A", "AAAA", "MX", "NS", "SOA", "TXT", "CNAME", "DS", "ANY")

# Names that own no records (or are asked in unusual ways), beyond every owner name of the zones.
EXTRA_NAMES = (
    # missing names, and below empty non-terminals
    "nothere.example.test.", "x.nothere.example.test.", "ent.example.test.", "b.ent.example.test.",
    "z.b.ent.example.test.", "c.diff.example.", "b.c.diff.example.", "q.b.c.diff.example.",
    "zz.c.diff.example.", "nothere.diff.example.", "nothere.test.", "nothere.child.diff.example.",
    # wildcards: matches, a name below an existing wildcard child, ENT blocking, wildcard ENT
    "foo.wild.example.test.", "a.b.wild.example.test.", "foo.w.diff.example.",
    "a.b.w.diff.example.", "y.w.diff.example.", "z.y.w.diff.example.", "x.x.w.diff.example.",
    "foo.e1.ent2.diff.example.", "e1.ent2.diff.example.", "ent2.diff.example.",
    "a.b.e1.ent2.diff.example.", "foo.wc.diff.example.", "foo.wx.diff.example.",
    "foo.wo.diff.example.", "*.w.diff.example.",
    # below delegations (and at the NS hosts)
    "www.sub.example.test.", "a.b.del1.diff.example.", "host.del1.diff.example.",
    "x.del3.diff.example.", "x.del4.diff.example.",
    # DNAME rewrites
    "www.legacy.example.test.", "nothere.legacy.example.test.", "ftp.legacy.example.test.",
    "sub.legacy.example.test.", "www.dn.diff.example.", "mail.dn.diff.example.",
    "www.sub.dn.diff.example.", "foo.dnw.diff.example.", "x.dnw.diff.example.",
    "a.dnout.diff.example.",
    # outside every served zone
    "www.example.com.", "invalid.", "example.",
)
MIXED_CASE = (
    "WwW.ExAmPlE.TeSt.", "FOO.WILD.EXAMPLE.TEST.", "Ftp.Example.Test.", "WWW.Legacy.Example.Test.",
    "a.B.Del1.DIFF.example.", "Foo.W.Diff.Example.", "C1.diff.EXAMPLE.", "NotHere.Diff.Example.",
    "_HTTPS._Tcp.Diff.Example.",
)


@dataclass(frozen=True)
class Q:
    """One query of the battery."""

    qname: str
    qtype: str
    rd: bool = False
    edns: int | None = 1232  # EDNS UDP size; None: no EDNS
    do: bool = False
    nsid: bool = False
    tcp: bool = False

    @property
    def id(self) -> str:
        edns = "noedns" if self.edns is None else f"edns{self.edns}"
        flags = "".join(f" {f}" for f, on in (("do", self.do), ("nsid", self.nsid)) if on)
        return (f"{'tcp' if self.tcp else 'udp'} rd{int(self.rd)} {edns}{flags} "
                f"{self.qname} {self.qtype}")


def owner_names() -> list[str]:
    names: set[str] = set()
    for origin, path in ZONE_FILES.items():
        zone = dns.zone.from_file(str(path), origin=origin, relativize=False, check_origin=False)
        names.update(n.to_text() for n in zone.nodes)
    return sorted(names)


def battery() -> list[Q]:
    names = owner_names() + list(EXTRA_NAMES)
    queries = [Q(n, t, rd=rd) for rd in (False, True) for n in names for t in TYPES]
    queries += [Q(n, t) for n in MIXED_CASE for t in ("A", "MX", "TXT", "NS")]
    # sizes: the big TXT (~800 bytes) and a big referral / apex answer
    for name, qtype in (("big.example.test.", "TXT"), ("diff.example.", "NS"),
                        ("diff.example.", "ANY"), ("diff.example.", "MX"),
                        ("a.del1.diff.example.", "A"), ("www.example.test.", "A")):
        for edns in (None, 512, 1232, 4096):
            queries.append(Q(name, qtype, edns=edns))
        queries.append(Q(name, qtype, edns=None, tcp=True))
        queries.append(Q(name, qtype, edns=1232, tcp=True, do=True))
    # DO and NSID
    for name, qtype in (("www.example.test.", "A"), ("nothere.example.test.", "A"),
                        ("a.del1.diff.example.", "A"), ("del1.diff.example.", "DS"),
                        ("child.diff.example.", "DS"), ("foo.w.diff.example.", "A"),
                        ("www.example.com.", "A"), ("example.test.", "DNSKEY")):
        queries.append(Q(name, qtype, do=True))
        queries.append(Q(name, qtype, rd=True, do=True, nsid=True))
    queries += [Q("www.example.test.", "A", nsid=True), Q("nothere.diff.example.", "TXT", nsid=True, tcp=True)]
    # TCP for a sample of the plain battery
    queries += [Q(n, t, tcp=True) for n in ("c1.diff.example.", "foo.w.diff.example.",
                                            "a.b.del1.diff.example.", "www.dn.diff.example.")
                for t in ("A", "ANY")]
    return queries


# --- servers ---------------------------------------------------------------------------------

def named_conf(workdir: Path, port: int, minimal: bool) -> Path:
    zones = "".join(f'zone "{origin}" {{ type primary; file "{path.name}"; }};\n'
                    for origin, path in ZONE_FILES.items())
    conf = f"""\
options {{
  directory "{workdir}"; pid-file "{workdir}/named.pid"; session-keyfile "{workdir}/session.key";
  managed-keys-directory "{workdir}";
  listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};
  recursion no; dnssec-validation no; notify no; allow-transfer {{ none; }};
  minimal-responses {"yes" if minimal else "no"}; minimal-any no;
  server-id "{NSID}"; answer-cookie no;
  rate-limit {{ responses-per-second 0; }};
}};
controls {{ }};
{zones}"""
    path = workdir / "named.conf"
    path.write_text(conf)
    return path


def start_named(workdir: Path, minimal: bool) -> tuple[Proc, tuple[str, int]]:
    named = require_tool("named")
    workdir.mkdir(parents=True, exist_ok=True)
    for path in ZONE_FILES.values():
        shutil.copy(path, workdir / path.name)
    port = free_port()
    conf = named_conf(workdir, port, minimal)
    proc = Proc("named", [named, "-g", "-4", "-c", str(conf)], workdir)

    def ready() -> bool:
        reply = send(("127.0.0.1", port), Q("child.diff.example.", "SOA"), timeout=0.3)
        return reply.rcode() == 0 and bool(reply.answer)

    try:
        poll(ready, 20, what=f"named on 127.0.0.1#{port}", procs=[proc])
    except BaseException:
        proc.stop()
        raise
    return proc, ("127.0.0.1", port)


def send(addr: tuple[str, int], q: Q, timeout: float = 2.0) -> dns.message.Message:
    """The reply to query *q* (truncated UDP replies as they are)."""
    options: list[dns.edns.Option] = [dns.edns.GenericOption(dns.edns.NSID, b"")] if q.nsid else []
    return ask(addr, q.qname, q.qtype, transport="tcp" if q.tcp else "udp", timeout=timeout,
               ignore_trailing=True, flags=dns.flags.RD if q.rd else 0, use_edns=q.edns is not None,
               payload=q.edns or 1232, want_dnssec=q.do, options=options)


@pytest.fixture(scope="module", params=[False, True], ids=["full", "minimal"])
def servers(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[str, tuple[str, int], tuple[str, int]]]:
    minimal: bool = request.param
    proc, bind_addr = start_named(tmp_path_factory.mktemp("named"), minimal)
    try:
        with fakens.Server([str(p) for p in ZONE_FILES.values()], listen=["127.0.0.1:0"],
                           nsid=NSID, minimal_responses=minimal) as server:
            yield ("minimal" if minimal else "full"), bind_addr, server.addresses[0]
    finally:
        proc.stop()


# --- comparison ------------------------------------------------------------------------------

def _rrs(section: list[dns.rrset.RRset]) -> frozenset[str]:
    out = set()
    for rrset in section:
        for rd in rrset:
            out.add(f"{rrset.name.to_text().lower()} {rrset.ttl} "
                    f"{dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text().lower()}")
    return frozenset(out)


def fields(msg: dns.message.Message) -> dict[str, object]:
    opt = None
    if msg.edns >= 0:
        opt = (f"payload={msg.payload} version={msg.edns} do={bool(msg.ednsflags & dns.flags.DO)} "
               f"options={sorted((o.otype, o.to_wire()) for o in msg.options)}")
    return {
        "rcode": dns.rcode.to_text(msg.rcode()),
        "aa": bool(msg.flags & dns.flags.AA), "tc": bool(msg.flags & dns.flags.TC),
        "ra": bool(msg.flags & dns.flags.RA), "ad": bool(msg.flags & dns.flags.AD),
        "answer": _rrs(msg.answer), "authority": _rrs(msg.authority),
        "additional": _rrs(msg.additional), "opt": opt,
        # the owner of the first answer RRset keeps the query's case (docs/answers.md)
        "answer-case": msg.answer[0].name.to_text() if msg.answer else None,
    }


def differences(bind: dict[str, object], fake: dict[str, object]) -> dict[str, list[str]]:
    """Per field, what differs: for sections, each record only one side has, prefixed with
    `bind:` or `fakens:`; for other fields one item `bind X; fakens Y`."""
    out: dict[str, list[str]] = {}
    for key, b in bind.items():
        f = fake[key]
        if b == f:
            continue
        if isinstance(b, frozenset) and isinstance(f, frozenset):
            out[key] = [f"bind: {r}" for r in sorted(b - f)] + [f"fakens: {r}" for r in sorted(f - b)]
        else:
            out[key] = [f"bind {b!r}; fakens {f!r}"]
    return out


# --- the table of justified differences --------------------------------------------------------
# (mode "full"/"minimal"/"*", regex over the whole Q.id, field, regex over each differing item)
# -> one-line reason. A field's difference is allowed when every item is matched by a row for
# that query. Class: (b) a documented fakens choice (docs/answers.md), (c) a BIND 9.18
# peculiarity. fakens bugs (a) are never listed here: they fail the test until fakens is fixed.
# Every row names the queries it is for; no row waives a whole field or section.

_FLAGS = r"\S+ \S+ \S+(?: do)?(?: nsid)? "  # transport, RD, EDNS size and flags: any


def _q(qname: str, qtypes: str = r"\S+", flags: str = _FLAGS) -> str:
    """The Q.id regex for *qname* (exactly) asked with a type matching *qtypes*."""
    return f"{flags}{re.escape(qname)} (?:{qtypes})"


_TYPES = "A|AAAA|MX|NS|SOA|TXT|DS"  # the types whose replies differ there (ANY and CNAME do not)


def _rows(queries: tuple[str, ...], field: str, item: str, reason: str
          ) -> dict[tuple[str, str, str, str], str]:
    return {("*", _q(qname, _TYPES), field, item): reason for qname in queries}


# CNAME/DNAME chains that leave their zone for another zone fakens also serves: fakens follows
# them (RFC 1034 4.3.2 3a), BIND 9.18 stops at the zone's edge. Per target zone: the queries,
# and the owner names of the target zone's records fakens adds.
_TO_EXAMPLE_TEST = ("cx.diff.example.", "cdn.diff.example.", "*.wx.diff.example.", "foo.wx.diff.example.",
                    "www.dn.diff.example.", "mail.dn.diff.example.")  # and cnx, to a missing name
_FOLLOWED = "(b) fakens follows CNAME/DNAME into its other zones (RFC 1034 4.3.2 3a); BIND stops at the zone's edge"
_TARGET_AUTHORITY = "(b) same: fakens sends the target zone's NS (or negative SOA); BIND, stopping, sends none"
_TARGET_ADDITIONAL = "(b) same: addresses of the target zone's NS hosts"
_CROSS_ZONE: dict[tuple[str, str, str, str], str] = {
    **_rows(_TO_EXAMPLE_TEST, "answer", r"fakens: (?:ftp|www|mail)\.example\.test\. .*", _FOLLOWED),
    **_rows((*_TO_EXAMPLE_TEST, "cnx.diff.example."), "authority", r"fakens: example\.test\. \d+ (?:NS|SOA) .*",
            _TARGET_AUTHORITY),
    **_rows(_TO_EXAMPLE_TEST, "additional", r"fakens: ns[12]\.example\.test\. \d+ (?:A|AAAA) .*",
            _TARGET_ADDITIONAL),
    ("*", _q("cnx.diff.example.", _TYPES), "rcode", "bind 'NOERROR'; fakens 'NXDOMAIN'"):
        "(b) same: NXDOMAIN for the missing target nothere.example.test. (RFC 6604); BIND NOERROR",
    # DNAME dn -> example.test.: www.sub.example.test. is below the cut sub.example.test.
    ("*", _q("www.sub.dn.diff.example.", _TYPES), "authority", r"fakens: sub\.example\.test\. \d+ NS .*"):
        "(b) fakens follows the DNAME into example.test. and sends its referral for sub.example.test.",
    ("*", _q("www.sub.dn.diff.example.", _TYPES), "additional", r"fakens: ns1\.sub\.example\.test\. \d+ A .*"):
        "(b) same: the referral's glue",
    # CNAME ct -> ns1.test.
    ("*", _q("ct.diff.example.", _TYPES), "answer", r"fakens: ns1\.test\. \d+ A .*"): _FOLLOWED,
    ("*", _q("ct.diff.example.", _TYPES), "authority", r"fakens: test\. \d+ (?:NS|SOA) .*"): _TARGET_AUTHORITY,
    # CNAME alias.child.diff.example. -> web.diff.example. (the parent zone)
    ("*", _q("alias.child.diff.example.", _TYPES), "answer", r"fakens: web\.diff\.example\. .*"): _FOLLOWED,
    ("*", _q("alias.child.diff.example.", _TYPES), "authority", r"fakens: diff\.example\. \d+ (?:NS|SOA) .*"):
        _TARGET_AUTHORITY,
    ("*", _q("alias.child.diff.example.", _TYPES), "additional",
     r"fakens: ns\d\.(?:diff\.example|example\.test)\. \d+ (?:A|AAAA) .*"): _TARGET_ADDITIONAL,
}

# CNAME loop l1 -> l2 -> l1
_LOOP: dict[tuple[str, str, str, str], str] = {
    **_rows(("l1.diff.example.", "l2.diff.example."), "rcode", "bind 'SERVFAIL'; fakens 'NOERROR'",
            "(b) CNAME loop: fakens NOERROR with the CNAMEs; BIND 9.18 SERVFAIL"),
    **_rows(("l1.diff.example.", "l2.diff.example."), "opt",
            r"""bind "payload=(\d+) version=0 do=(\w+) options=\[\(<OptionType\.EDE: 15>, """
            r"""b'\\\\x00\\\\x00max\. restarts reached'\)\]"; fakens 'payload=\1 version=0 do=\2 options=\[\]'""",
            "(b) CNAME loop: BIND adds EDE 0 'max. restarts reached'; fakens sends no EDE"),
}

# The owner of the first answer RRset, for the mixed-case queries whose answer differs in case.
_PLAIN = r"udp rd0 edns1232 "
_KEEPS_CASE = "(b) fakens keeps the query's case in answer owner names (docs/answers.md); BIND 9.18 the zone's"
_ANSWER_CASE: dict[tuple[str, str, str, str], str] = {
    ("*", _q(qname, qtypes, _PLAIN), "answer-case", re.escape(f"bind {owner.lower()!r}; fakens {owner!r}")):
        f"{_KEEPS_CASE} ({what})"
    for qname, qtypes, owner, what in (
        ("WwW.ExAmPlE.TeSt.", "A", "WwW.ExAmPlE.TeSt.", "an A record"),
        ("FOO.WILD.EXAMPLE.TEST.", "A|TXT", "FOO.WILD.EXAMPLE.TEST.", "synthesized from a wildcard"),
        ("Foo.W.Diff.Example.", "A|MX|TXT", "Foo.W.Diff.Example.", "synthesized from a wildcard"),
        ("Ftp.Example.Test.", "A|MX|NS|TXT", "Ftp.Example.Test.", "a CNAME"),
        ("C1.diff.EXAMPLE.", "A|MX|NS|TXT", "C1.diff.EXAMPLE.", "a CNAME chain"),
        ("WWW.Legacy.Example.Test.", "A|MX|NS|TXT", "Legacy.Example.Test.",
         "the DNAME's owner as spelled in the query"),
    )
}

_EXAMPLE_TEST_HOSTS = r"fakens: (?:ns1|ns2|mail|sip)\.example\.test\. .*"
ALLOWED: dict[tuple[str, str, str, str], str] = {
    # (b) documented fakens choices
    **_CROSS_ZONE,
    **_LOOP,
    **_ANSWER_CASE,
    ("full", r".*diff\.example\. \S+", "additional", _EXAMPLE_TEST_HOSTS):
        "(b) fakens adds target addresses from its other zones; BIND only from the answering zone",
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
    ("full", r".* (?:DS|DNSKEY)", "authority", r"fakens: .*"):
        "(c) BIND answers DS/DNSKEY queries minimally whatever minimal-responses says",
    ("full", r".* (?:DS|DNSKEY)", "additional", r"fakens: .*"):
        "(c) same: no ADDITIONAL for DS/DNSKEY queries",
    ("full", r"udp \S+ edns512 .*", "authority", r"fakens: .*"):
        "(c) BIND answers minimally to EDNS UDP size 512 over UDP",
    ("full", r"udp \S+ edns512 .*", "additional", r"fakens: .*"):
        "(c) same: no optional ADDITIONAL at EDNS size 512",
    ("*", r".*del4\.diff\.example\. \S+", "additional", r"fakens: (?:web|mx1)\.diff\.example\. .*"):
        "(c) BIND's referral sends only glue, not addresses of NS hosts that are zone data (RFC 1034 step 6 allows them)",
    ("*", r"\S+ \S+ \S+ do(?: nsid)? .*", "authority", r"fakens: \S+ \d+ DS .*"):
        "(c) DO=1 referral: fakens adds the DS (RFC 4035 3.1.4); BIND only from signed zones",
}


def allowed(mode: str, qid: str, field: str, items: list[str]) -> str | None:
    reasons = []
    for item in items:
        for (m, id_re, f, item_re), reason in ALLOWED.items():
            if (m in ("*", mode) and f == field and re.fullmatch(id_re, qid, re.IGNORECASE)
                    and re.fullmatch(item_re, item)):
                reasons.append(reason)
                break
        else:
            return None
    return "; ".join(sorted(set(reasons)))


QUERIES = battery()


@pytest.mark.parametrize("origin", sorted(ZONE_FILES))
def test_bind_loads_the_zones(origin: str) -> None:
    """named-checkzone accepts every zone both servers serve (so differences are not load errors)."""
    checkzone = require_tool("named-checkzone")
    res = subprocess.run([checkzone, origin, str(ZONE_FILES[origin])], capture_output=True,
                         text=True, timeout=30, check=False, stdin=subprocess.DEVNULL)
    assert res.returncode == 0 and res.stdout.rstrip().endswith("OK"), res.stdout + res.stderr


def test_fakens_answers_as_bind(servers: tuple[str, tuple[str, int], tuple[str, int]]) -> None:
    mode, bind_addr, fake_addr = servers
    unexpected: list[str] = []
    report = os.environ.get("DIFF_REPORT")
    for q in QUERIES:
        bind = fields(send(bind_addr, q))
        fake = fields(send(fake_addr, q))
        for field, items in differences(bind, fake).items():
            reason = allowed(mode, q.id, field, items)
            text = " | ".join(items)
            if reason is None:
                unexpected.append(f"{q.id} [{field}]: {text}")
            if report:
                print(f"{mode} {'ALLOWED' if reason else 'UNEXPECTED'} {q.id} [{field}]: {text}")
    shown = [line[:400] for line in unexpected[:80]]
    more = f"\n... and {len(unexpected) - 80} more" if len(unexpected) > 80 else ""
    assert not unexpected, (f"{len(unexpected)} differences from BIND ({mode} responses, "
                            f"{len(QUERIES)} queries) not in ALLOWED:\n" + "\n".join(shown) + more)
