"""What the differential tests share: the zones, the battery of queries, the comparison, and the
reference servers (BIND named, NSD, Knot DNS) started from configs written in tmp dirs.

Every reference loads the same zone files as fakens (zones/example.test.zone, zones/test.zone and
this directory's zones: wildcards, CNAME/DNAME chains in and across zones, a long CNAME chain,
delegations of every kind, a delegation with 12 name servers, DS at a cut, a parent and its child,
a 30-address RRset, a reverse zone with an RFC 2317 delegation). The same battery goes to fakens
and to the reference; each reply pair is compared as `fields`: rcode, AA, TC, RA, AD, the three
sections as sets of (name, TTL, type, rdata), the OPT record, and the case of the first answer
owner. Differences must be listed, per reference, in its table of allowed differences (`Allowed`),
for the queries that show them, with a one-line reason; anything else fails and the message shows
both replies.

A reference is started on 127.0.0.1 on a free port, and polled (queried until it answers every
zone's SOA, with a deadline) before use; it is stopped at the end of the module. A missing tool
skips locally and fails under CI=true (helpers.require_tool).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.zone
from helpers import ask, poll, require_tool
from helpers.procs import Proc, free_port

import fakens
from fakens.answer import Kind

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ZONE_FILES = {
    "example.test.": ROOT / "zones" / "example.test.zone",
    "test.": ROOT / "zones" / "test.zone",
    "diff.example.": HERE / "zones" / "diff.example.zone",
    "child.diff.example.": HERE / "zones" / "child.diff.example.zone",
    "s.example.": HERE / "zones" / "s.example.zone",
    "2.0.192.in-addr.arpa.": HERE / "zones" / "2.0.192.in-addr.arpa.zone",
}
NSID = "ns-diff"
TYPES = ("A", "AAAA", "MX", "NS", "SOA", "TXT", "CNAME", "DS", "ANY")
REVERSE_TYPES = ("PTR", "NS", "SOA", "CNAME", "DS")

# Names that own no records (or are asked in unusual ways), beyond every owner name of the zones.
EXTRA_NAMES = (
    # missing names, and below empty non-terminals
    "nothere.example.test.", "x.nothere.example.test.", "ent.example.test.", "b.ent.example.test.",
    "z.b.ent.example.test.", "c.diff.example.", "b.c.diff.example.", "q.b.c.diff.example.",
    "zz.c.diff.example.", "nothere.diff.example.", "nothere.test.", "nothere.child.diff.example.",
    "nothere.s.example.",
    # wildcards: matches, a name below an existing wildcard child, ENT blocking, wildcard ENT
    "foo.wild.example.test.", "a.b.wild.example.test.", "foo.w.diff.example.",
    "a.b.w.diff.example.", "y.w.diff.example.", "z.y.w.diff.example.", "x.x.w.diff.example.",
    "foo.e1.ent2.diff.example.", "e1.ent2.diff.example.", "ent2.diff.example.",
    "a.b.e1.ent2.diff.example.", "foo.wc.diff.example.", "foo.wx.diff.example.",
    "foo.wo.diff.example.", "*.w.diff.example.",
    # below delegations (and at the NS hosts)
    "www.sub.example.test.", "a.b.del1.diff.example.", "host.del1.diff.example.",
    "x.del3.diff.example.", "x.del4.diff.example.", "x.d12.s.example.",
    # DNAME rewrites
    "www.legacy.example.test.", "nothere.legacy.example.test.", "ftp.legacy.example.test.",
    "sub.legacy.example.test.", "www.dn.diff.example.", "mail.dn.diff.example.",
    "www.sub.dn.diff.example.", "foo.dnw.diff.example.", "x.dnw.diff.example.",
    "a.dnout.diff.example.",
    # outside every served zone
    "www.example.com.", "invalid.", "example.",
)
# Reverse names beyond the reverse zone's owners: missing, inside the RFC 2317 delegation.
EXTRA_REVERSE = ("2.2.0.192.in-addr.arpa.", "65.64/26.2.0.192.in-addr.arpa.", "0.192.in-addr.arpa.")
MIXED_CASE = (
    "WwW.ExAmPlE.TeSt.", "FOO.WILD.EXAMPLE.TEST.", "Ftp.Example.Test.", "WWW.Legacy.Example.Test.",
    "a.B.Del1.DIFF.example.", "Foo.W.Diff.Example.", "C1.diff.EXAMPLE.", "NotHere.Diff.Example.",
    "_HTTPS._Tcp.Diff.Example.", "M.S.Example.", "K1.s.EXAMPLE.",
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


def battery(rd_both: bool = True) -> list[Q]:
    """The queries: every name x TYPES (with RD=0, and with RD=1 when *rd_both*), mixed case,
    EDNS sizes and TCP for big answers, DO and NSID."""
    reverse = dns.name.from_text("2.0.192.in-addr.arpa.")
    names = owner_names() + list(EXTRA_NAMES) + list(EXTRA_REVERSE)
    rds = (False, True) if rd_both else (False,)
    queries = [Q(n, t, rd=rd) for rd in rds for n in names
               for t in (REVERSE_TYPES if dns.name.from_text(n).is_subdomain(reverse) else TYPES)]
    queries += [Q(n, t) for n in MIXED_CASE for t in ("A", "MX", "TXT", "NS")]
    # sizes: the big TXT (~800 bytes), big referrals, the apex with 8 NS, the 30-address RRset
    # (fits in 512 bytes only without AUTHORITY), an MX whose target has those 30 addresses
    for name, qtype in (("big.example.test.", "TXT"), ("diff.example.", "NS"),
                        ("diff.example.", "ANY"), ("diff.example.", "MX"),
                        ("a.del1.diff.example.", "A"), ("www.example.test.", "A"),
                        ("m.s.example.", "A"), ("mx.s.example.", "MX"), ("x.d12.s.example.", "A"),
                        ("k1.s.example.", "A"), ("65.2.0.192.in-addr.arpa.", "PTR")):
        for edns in (None, 512, 1232, 4096):
            queries.append(Q(name, qtype, edns=edns))
        queries.append(Q(name, qtype, edns=None, tcp=True))
        queries.append(Q(name, qtype, edns=1232, tcp=True, do=True))
    # DO and NSID
    for name, qtype in (("www.example.test.", "A"), ("nothere.example.test.", "A"),
                        ("a.del1.diff.example.", "A"), ("del1.diff.example.", "DS"),
                        ("child.diff.example.", "DS"), ("foo.w.diff.example.", "A"),
                        ("www.example.com.", "A"), ("example.test.", "DNSKEY"),
                        ("x.d12.s.example.", "A"), ("d12.s.example.", "DS"), ("d12.s.example.", "NS"),
                        ("www.dn.diff.example.", "CNAME"), ("65.2.0.192.in-addr.arpa.", "PTR")):
        queries.append(Q(name, qtype, do=True))
        queries.append(Q(name, qtype, rd=True, do=True, nsid=True))
    queries += [Q("www.example.test.", "A", nsid=True), Q("nothere.diff.example.", "TXT", nsid=True, tcp=True)]
    # TCP for a sample of the plain battery
    queries += [Q(n, t, tcp=True) for n in ("c1.diff.example.", "foo.w.diff.example.",
                                            "a.b.del1.diff.example.", "www.dn.diff.example.")
                for t in ("A", "ANY")]
    return queries


def send(addr: tuple[str, int], q: Q, timeout: float = 2.0) -> dns.message.Message:
    """The reply to query *q* (truncated UDP replies as they are)."""
    options: list[dns.edns.Option] = [dns.edns.GenericOption(dns.edns.NSID, b"")] if q.nsid else []
    return ask(addr, q.qname, q.qtype, transport="tcp" if q.tcp else "udp", timeout=timeout,
               ignore_trailing=True, flags=dns.flags.RD if q.rd else 0, use_edns=q.edns is not None,
               payload=q.edns or 1232, want_dnssec=q.do, options=options)


# --- fakens ----------------------------------------------------------------------------------

class Fake:
    """A fakens server over the zones, its replies kept per query (they are deterministic, and
    several references compare against the same ones)."""

    def __init__(self, server: fakens.Server) -> None:
        self.server = server
        self.addr = server.addresses[0]
        self._fields: dict[Q, tuple[dict[str, object], dns.message.Message]] = {}

    def reply(self, q: Q) -> tuple[dict[str, object], dns.message.Message]:
        found = self._fields.get(q)
        if found is None:
            msg = send(self.addr, q)
            found = self._fields[q] = (fields(msg), msg)
        return found

    def kind(self, q: Q) -> Kind:
        """What the engine makes of the question (ANSWER, DELEGATION, NODATA ...)."""
        return self.server.engine.answer(dns.name.from_text(q.qname), dns.rdatatype.from_text(q.qtype)).kind


@dataclass(frozen=True)
class Reference:
    """A running reference server: what it is, where it listens."""

    name: str
    addr: tuple[str, int]


def _prepare(tool: str, workdir: Path) -> tuple[str, int]:
    """The path of *tool* (skip or fail when missing), the zone files copied into *workdir*, and
    a free port on 127.0.0.1."""
    binary = require_tool(tool)
    workdir.mkdir(parents=True, exist_ok=True)
    for path in ZONE_FILES.values():
        shutil.copy(path, workdir / path.name)
    return binary, free_port()


def _wait(proc: Proc, addr: tuple[str, int], timeout: float = 20.0) -> None:
    """Poll until *addr* answers every zone's SOA authoritatively (a server may load zones one by
    one after it opens its sockets); fail, showing the process's output, when it does not."""
    pending = set(ZONE_FILES)

    def ready() -> bool:
        for origin in sorted(pending):
            reply = send(addr, Q(origin, "SOA"), timeout=0.3)
            if reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AA and reply.answer:
                pending.discard(origin)
        return not pending

    poll(ready, timeout, what=f"{proc.name} on {addr[0]}#{addr[1]} to serve every zone", procs=[proc])


@contextlib.contextmanager
def _serving(ref_name: str, argv: list[str], workdir: Path, port: int) -> Iterator[Reference]:
    """Run *argv* in *workdir* until the block ends, once it serves every zone on *port*."""
    proc = Proc(argv[0].rsplit("/", 1)[-1], argv, workdir)
    addr = ("127.0.0.1", port)
    try:
        _wait(proc, addr)
        yield Reference(ref_name, addr)
    finally:
        proc.stop()


def named(workdir: Path, minimal: bool) -> contextlib.AbstractContextManager[Reference]:
    """BIND named, primary for every zone (`minimal-responses` yes or no, `minimal-any no`)."""
    binary, port = _prepare("named", workdir)
    zones = "".join(f'zone "{origin}" {{ type primary; file "{path.name}"; }};\n'
                    for origin, path in ZONE_FILES.items())
    conf = workdir / "named.conf"
    conf.write_text(f"""\
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
{zones}""")
    return _serving("bind", [binary, "-g", "-4", "-c", str(conf)], workdir, port)


def nsd(workdir: Path) -> contextlib.AbstractContextManager[Reference]:
    """NSD in its default shape (no rate limiting, no remote control, no database file)."""
    binary, port = _prepare("nsd", workdir)
    zones = "".join(f"zone:\n  name: \"{origin}\"\n  zonefile: \"{path.name}\"\n"
                    for origin, path in ZONE_FILES.items())
    conf = workdir / "nsd.conf"
    conf.write_text(f"""\
server:
  ip-address: 127.0.0.1@{port}
  do-ip6: no
  port: {port}
  username: ""
  chroot: ""
  zonesdir: "{workdir}"
  database: ""
  zonelistfile: "{workdir}/zone.list"
  xfrdfile: "{workdir}/xfrd.state"
  xfrdir: "{workdir}"
  pidfile: "{workdir}/nsd.pid"
  logfile: "{workdir}/nsd.log"
  verbosity: 1
  server-count: 1
  reuseport: no
  rrl-ratelimit: 0
  nsid: "ascii_{NSID}"
remote-control:
  control-enable: no
{zones}""")
    return _serving("nsd", [binary, "-d", "-c", str(conf)], workdir, port)


def knot(workdir: Path) -> contextlib.AbstractContextManager[Reference]:
    """Knot DNS (knotd), semantic checks off, its control socket and databases in *workdir*."""
    binary, port = _prepare("knotd", workdir)
    (workdir / "db").mkdir()
    zones = "".join(f"  - domain: \"{origin}\"\n    file: \"{workdir / path.name}\"\n"
                    for origin, path in ZONE_FILES.items())
    conf = workdir / "knot.conf"
    conf.write_text(f"""\
server:
    rundir: "{workdir}"
    pidfile: "{workdir}/knot.pid"
    listen: 127.0.0.1@{port}
    nsid: "{NSID}"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: info
database:
    storage: "{workdir}/db"
control:
    listen: "{workdir}/knot.sock"
template:
  - id: default
    storage: "{workdir}"
    semantic-checks: off
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
{zones}""")
    return _serving("knot", [binary, "-c", str(conf)], workdir, port)


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


def differences(ref_name: str, ref: dict[str, object], fake: dict[str, object]) -> dict[str, list[str]]:
    """Per field, what differs: for sections, each record only one side has, prefixed with
    `<ref>:` (bind, nsd, knot) or `fakens:`; for other fields one item `<ref> X; fakens Y`."""
    out: dict[str, list[str]] = {}
    for key, b in ref.items():
        f = fake[key]
        if b == f:
            continue
        if isinstance(b, frozenset) and isinstance(f, frozenset):
            out[key] = [f"{ref_name}: {r}" for r in sorted(b - f)] + [f"fakens: {r}" for r in sorted(f - b)]
        else:
            out[key] = [f"{ref_name} {b!r}; fakens {f!r}"]
    return out


# A table of allowed differences: (mode "full"/"minimal"/"*", regex over the whole Q.id, field,
# regex over each differing item) -> one-line reason. A field's difference is allowed when every
# item is matched by a row for that query. Every row names the queries it is for.
Allowed = dict[tuple[str, str, str, str], str]

FLAGS_ANY = r"\S+ \S+ \S+(?: do)?(?: nsid)? "  # transport, RD, EDNS size and flags: any


def q_re(qname: str, qtypes: str = r"\S+", flags: str = FLAGS_ANY) -> str:
    """The Q.id regex for *qname* (exactly) asked with a type matching *qtypes*."""
    return f"{flags}{re.escape(qname)} (?:{qtypes})"


def rows(queries: Iterable[str], qtypes: str, field: str, item: str, reason: str, mode: str = "*") -> Allowed:
    return {(mode, q_re(qname, qtypes), field, item): reason for qname in queries}


Key = tuple[str, str, str, str]


def allowed(table: Allowed, mode: str, qid: str, field: str, items: list[str]) -> list[Key] | None:
    """The rows of *table* that allow each of *items* (one per item), or None when one is not."""
    keys = []
    for item in items:
        for key in table:
            m, id_re, f, item_re = key
            if (m in ("*", mode) and f == field and re.fullmatch(id_re, qid, re.IGNORECASE)
                    and re.fullmatch(item_re, item)):
                keys.append(key)
                break
        else:
            return None
    return keys


@dataclass
class Finding:
    """One differing field of one query, and the rows that allow it (None: it is not allowed)."""

    q: Q
    field: str
    items: list[str]
    rows: list[Key] | None


Shape = Callable[[Q, dict[str, object], dict[str, object]], tuple[dict[str, object], dict[str, object]]]
SHOWN_REPLIES = 5  # queries whose two replies a failure prints in full


def compare(ref: Reference, fake: Fake, mode: str, table: Allowed, queries: Iterable[Q],
            shape: Shape | None = None, used: set[Key] | None = None) -> None:
    """Ask every query of both servers and fail, showing both replies, on any difference that
    *table* does not allow. *shape* may first remove from both sides what is not compared; the
    rows that allowed something are added to *used*. With DIFF_REPORT=1 in the environment
    (and pytest's -s), every difference is printed, allowed or not."""
    report = bool(os.environ.get("DIFF_REPORT"))
    unexpected: list[tuple[Finding, dns.message.Message, dns.message.Message]] = []
    count = 0
    for q in queries:
        count += 1
        ref_msg = send(ref.addr, q)
        ref_fields = fields(ref_msg)
        fake_fields, fake_msg = fake.reply(q)
        if shape is not None:
            ref_fields, fake_fields = shape(q, ref_fields, fake_fields)
        for field, items in differences(ref.name, ref_fields, fake_fields).items():
            finding = Finding(q, field, items, allowed(table, mode, q.id, field, items))
            if finding.rows is None:
                unexpected.append((finding, ref_msg, fake_msg))
            elif used is not None:
                used.update(finding.rows)
            if report:
                reason = "; ".join(sorted({table[k] for k in finding.rows})) if finding.rows else "UNEXPECTED"
                print(f"{ref.name} {mode} {'ALLOWED' if finding.rows else 'UNEXPECTED'} "
                      f"{q.id} [{field}]: {' | '.join(items)}" + (f"  <- {reason}" if finding.rows else ""))
    if not unexpected:
        return
    shown = [f"{f.q.id} [{f.field}]: {' | '.join(f.items)[:600]}" for f, _, _ in unexpected[:40]]
    more = f"\n... and {len(unexpected) - 40} more" if len(unexpected) > 40 else ""
    replies: list[str] = []
    seen: set[Q] = set()
    for finding, ref_msg, fake_msg in unexpected:
        if finding.q in seen:
            continue
        seen.add(finding.q)
        replies.append(f"\n=== {finding.q.id}\n--- {ref.name} replied:\n{ref_msg.to_text()}\n"
                       f"--- fakens replied:\n{fake_msg.to_text()}")
        if len(seen) == SHOWN_REPLIES:
            break
    raise AssertionError(
        f"{len(unexpected)} differences from {ref.name} ({mode} responses, {count} queries) not allowed:\n"
        + "\n".join(shown) + more + "\n\nboth replies, for the first queries:" + "".join(replies))


def unused_rows(table: Allowed, used: set[Key]) -> list[str]:
    """The rows of *table* that allowed nothing (a fakens change made them stale): for a test
    that keeps the tables exact."""
    return [f"{key} -> {reason}" for key, reason in table.items() if key not in used]

# --- rows more than one reference needs --------------------------------------------------------

TYPES_RE = "A|AAAA|MX|NS|SOA|TXT|DS"  # the types whose replies differ below (ANY and CNAME do not)
REF = r"(?:bind|nsd|knot)"  # the reference's name, where an item names it

# CNAME/DNAME chains that leave their zone for another zone fakens also serves: fakens follows
# them (RFC 1034 4.3.2 3a, as NSD does), BIND 9.18 and Knot 3.2 stop at the zone's edge. Per
# target zone: the queries, and the owner names of the target zone's records fakens adds.
_TO_EXAMPLE_TEST = ("cx.diff.example.", "cdn.diff.example.", "*.wx.diff.example.", "foo.wx.diff.example.",
                    "www.dn.diff.example.", "mail.dn.diff.example.")  # and cnx, to a missing name
_FOLLOWED = "(b) fakens follows CNAME/DNAME into its other zones (RFC 1034 4.3.2 3a); {ref} stops at the zone's edge"
_TARGET_AUTHORITY = "(b) same: fakens sends the target zone's NS (or negative SOA); {ref}, stopping, sends none"
_TARGET_ADDITIONAL = "(b) same: addresses of the target zone's NS hosts, from the target zone"


def cross_zone(ref: str, positive_extras: bool = True) -> Allowed:
    """The rows for a reference that stops CNAME and DNAME chains at the zone's edge. Without
    *positive_extras*, none for the AUTHORITY NS and ADDITIONAL of positive answers (a comparison
    that leaves those out)."""
    followed, authority, additional = (r.format(ref=ref) for r in (_FOLLOWED, _TARGET_AUTHORITY, _TARGET_ADDITIONAL))
    table: Allowed = {
        **rows(_TO_EXAMPLE_TEST, TYPES_RE, "answer", r"fakens: (?:ftp|www|mail)\.example\.test\. .*", followed),
        **rows((*_TO_EXAMPLE_TEST, "cnx.diff.example."), TYPES_RE, "authority",
               r"fakens: example\.test\. \d+ (?:NS|SOA) .*", authority),
        **rows(_TO_EXAMPLE_TEST, TYPES_RE, "additional", r"fakens: ns[12]\.example\.test\. \d+ (?:A|AAAA) .*",
               additional),
        ("*", q_re("cnx.diff.example.", TYPES_RE), "rcode", rf"{REF} 'NOERROR'; fakens 'NXDOMAIN'"):
            f"(b) same: NXDOMAIN for the missing target nothere.example.test. (RFC 6604); {ref} NOERROR",
        # DNAME dn -> example.test.: www.sub.example.test. is below the cut sub.example.test.
        ("*", q_re("www.sub.dn.diff.example.", TYPES_RE), "authority", r"fakens: sub\.example\.test\. \d+ NS .*"):
            "(b) fakens follows the DNAME into example.test. and sends its referral for sub.example.test.",
        ("*", q_re("www.sub.dn.diff.example.", TYPES_RE), "additional", r"fakens: ns1\.sub\.example\.test\. \d+ A .*"):
            "(b) same: the referral's glue",
        # CNAME ct -> ns1.test.
        ("*", q_re("ct.diff.example.", TYPES_RE), "answer", r"fakens: ns1\.test\. \d+ A .*"): followed,
        ("*", q_re("ct.diff.example.", TYPES_RE), "authority", r"fakens: test\. \d+ (?:NS|SOA) .*"): authority,
        # CNAME alias.child.diff.example. -> web.diff.example. (the parent zone)
        ("*", q_re("alias.child.diff.example.", TYPES_RE), "answer", r"fakens: web\.diff\.example\. .*"): followed,
        ("*", q_re("alias.child.diff.example.", TYPES_RE), "authority", r"fakens: diff\.example\. \d+ (?:NS|SOA) .*"):
            authority,
        ("*", q_re("alias.child.diff.example.", TYPES_RE), "additional",
         r"fakens: ns\d\.diff\.example\. \d+ (?:A|AAAA) .*"): additional,
    }
    if not positive_extras:
        table = {key: reason for key, reason in table.items()  # the referral's glue stays
                 if (key[2] != "additional" or "sub" in key[3]) and "NS|SOA" not in key[3]}
        table.update(rows((*_TO_EXAMPLE_TEST, "cnx.diff.example."), TYPES_RE, "authority",
                          r"fakens: example\.test\. \d+ SOA .*", authority))
        for qname, zone in (("ct.diff.example.", r"test\."), ("alias.child.diff.example.", r"diff\.example\.")):
            table.update(rows((qname,), TYPES_RE, "authority", rf"fakens: {zone} \d+ SOA .*", authority))
    return table


# NSD and Knot answer ANY with one RRset of the name (RFC 8482 4.1), alone; fakens with every
# RRset, the zone's NS and the addresses (docs/answers.md, `any_mode="all"`).
_ONE_RRSET = "(b) ANY: fakens sends every RRset at the name (docs/answers.md); {ref} one RRset, alone (RFC 8482 4.1)"
# Below a DNAME, fakens answers ANY with the DNAME and the synthesized CNAME (RFC 1034 4.3.2 3a:
# ANY matches the CNAME); NSD and Knot follow the CNAME and answer ANY at its target: in the
# zone (legacy -> example.test., dnw -> w.diff.example.), and NSD into another zone too (dn ->
# example.test.).
_DNAME_ANY_REASON = ("(b) ANY below a DNAME: fakens stops at the synthesized CNAME, which matches ANY "
                     "(RFC 1034 4.3.2 3a, as BIND); {ref} follows it and answers ANY at the target")


def one_rrset_any(ref: str, other_zones: bool, positive_extras: bool = True) -> Allowed:
    """The rows for a reference that answers ANY with one RRset and follows DNAMEs for ANY (into
    the server's other zones too when *other_zones*). Without *positive_extras*, none for the
    AUTHORITY and ADDITIONAL of positive answers (a comparison that leaves those out)."""
    one, dname = _ONE_RRSET.format(ref=ref), _DNAME_ANY_REASON.format(ref=ref)
    # without AUTHORITY, ADDITIONAL still holds the addresses of the NS and MX in the answer
    sections = ("answer", "authority", "additional") if positive_extras else ("answer", "additional")
    table: Allowed = {("*", r".* ANY", section, r"fakens: .*"): one for section in sections}
    followed = ["www.legacy.example.test.", "ftp.legacy.example.test.", "foo.dnw.diff.example.", "x.dnw.diff.example."]
    referred = ["sub.legacy.example.test."]  # the target is below the cut sub.example.test.
    if other_zones:
        followed += ["www.dn.diff.example.", "mail.dn.diff.example."]
        referred += ["www.sub.dn.diff.example."]
    table.update(rows(followed, "ANY", "answer", rf"{ref}: .*", dname))
    table[("*", q_re("nothere.legacy.example.test.", "ANY"), "rcode", rf"{ref} 'NXDOMAIN'; fakens 'NOERROR'")] = dname
    if positive_extras:
        table.update(rows([*referred, "nothere.legacy.example.test."], "ANY", "authority", rf"{ref}: .*", dname))
        table.update(rows(referred, "ANY", "additional", rf"{ref}: .*", dname))
    return table


# NSD and Knot add EDE 20 (Not Authoritative, RFC 8914) to REFUSED for names in no served zone;
# fakens (as BIND) adds none.
_OUTSIDE = ("www.example.com.", "invalid.", "example.", "0.192.in-addr.arpa.")
_EDE_REASON = "(b) REFUSED: {ref} adds EDE 20 (Not Authoritative); fakens, as BIND, no EDE (docs/answers.md)"
_EDE20 = r"\(<OptionType\.EDE: 15>, b'\\\\x00\\\\x14'\)"
_NSID = r"\(<OptionType\.NSID: 3>, b'ns-diff'\)"


def refused_ede(ref: str) -> Allowed:
    reason = _EDE_REASON.format(ref=ref)
    plain = rf"""{ref} "payload=(\d+) version=0 do=(\w+) options=\[{_EDE20}\]"; fakens 'payload=\1 version=0 do=\2 options=\[\]'"""
    nsid = (rf"""{ref} "payload=(\d+) version=0 do=(\w+) options=\[{_NSID}, {_EDE20}\]"; """
            rf'fakens "payload=\1 version=0 do=\2 options=\[{_NSID}\]"')
    table = rows(_OUTSIDE, r"\S+", "opt", plain, reason)
    table.update(rows(_OUTSIDE[:1], r"\S+", "opt", nsid, reason))  # the battery asks NSID there only
    return table


# --- the shapes fakens once got wrong, where NSD and Knot agree --------------------------------

def _types(section: object) -> list[str]:
    assert isinstance(section, frozenset)
    return sorted(record.split()[2] for record in section)


def _owners(section: object) -> set[str]:
    assert isinstance(section, frozenset)
    return {record.split()[0] for record in section}


@dataclass(frozen=True)
class ShapeCase:
    """One question and what every server's reply must show (a list of problems, empty when the
    reply is right); *bind* says whether BIND 9.18 agrees (ALLOWED in test_vs_bind lists it
    otherwise)."""

    id: str
    q: Q
    problems: Callable[[dict[str, object]], list[str]]
    bind: bool


def _problems(**checks: tuple[bool, str]) -> list[str]:
    return [f"{name}: {text}" for name, (ok, text) in checks.items() if not ok]


SHAPE_CASES = [
    ShapeCase("no-tc-for-optional-authority", Q("m.s.example.", "A", edns=None), lambda f: _problems(
        tc=(f["tc"] is False, "TC set although the 30 addresses fit (RFC 2181 9)"),
        answer=(_types(f["answer"]) == ["A"] * 30, "the 30 addresses"),
        authority=(f["authority"] == frozenset(), "the zone's NS left out, it does not fit"),
    ), bind=False),
    ShapeCase("ds-at-a-cut-alone", Q("del1.diff.example.", "DS"), lambda f: _problems(
        answer=(_types(f["answer"]) == ["DS"], "the DS"),
        authority=(f["authority"] == frozenset(), "no NS"),
        additional=(f["additional"] == frozenset(), "no addresses"),
    ), bind=True),
    ShapeCase("dname-and-cname-alone-for-qtype-cname", Q("www.dn.diff.example.", "CNAME"), lambda f: _problems(
        answer=(_types(f["answer"]) == ["CNAME", "DNAME"], "the DNAME and the synthesized CNAME"),
        authority=(f["authority"] == frozenset(), "no NS"),
        additional=(f["additional"] == frozenset(), "no addresses"),
    ), bind=False),
    ShapeCase("no-ds-in-referral-of-unsigned-zone", Q("a.del1.diff.example.", "A", do=True), lambda f: _problems(
        authority=(_types(f["authority"]) == ["NS", "NS"], "the cut's NS and no DS: diff.example. is unsigned"),
    ), bind=True),
    ShapeCase("additional-from-the-child-only", Q("www.child.diff.example.", "A"), lambda f: _problems(
        additional=(_owners(f["additional"]) <= {"ns1.child.diff.example."},
                    "no address of ns1.diff.example.: the parent zone's data"),
    ), bind=True),
    ShapeCase("additional-from-the-zone-only", Q("diff.example.", "MX"), lambda f: _problems(
        additional=(not any(o.endswith(".example.test.") for o in _owners(f["additional"])),
                    "no address of mail.example.test. or ns1.example.test.: another zone's data"),
    ), bind=True),
    ShapeCase("additional-of-a-reverse-zone", Q("2.0.192.in-addr.arpa.", "NS"), lambda f: _problems(
        additional=(f["additional"] == frozenset(), "no address of ns1.s.example.: another zone's data"),
    ), bind=True),
]


def check_shape(ref: Reference, fake: Fake, case: ShapeCase) -> None:
    """*case* holds for the reference's reply and for fakens' (both replies shown otherwise)."""
    ref_msg = send(ref.addr, case.q)
    fake_fields, fake_msg = fake.reply(case.q)
    failures = [f"{ref.name}: {p}" for p in case.problems(fields(ref_msg))]
    failures += [f"fakens: {p}" for p in case.problems(fake_fields)]
    assert not failures, (f"{case.id} ({case.q.id}):\n" + "\n".join(failures)
                          + f"\n--- {ref.name} replied:\n{ref_msg.to_text()}\n--- fakens replied:\n{fake_msg.to_text()}")
