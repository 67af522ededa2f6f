"""Every fault of signed zones (``signed_only``) and every mode, over real sockets with
dnspython as the client, and checked with dnspython's own validation (``dns.dnssec.validate``)
against the DNSKEY sets the server serves.

``CASES`` must cover every ``signed_only`` fault type and mode (the other faults have their
table in tests/faults/test_fault_wire.py). Per case three tests: the fault on the wire (what
its docstring says a client sees, and the log naming it), the same fault with a selector
that does not match (the bytes of the fault-free server, ``faults == []``), and a DO=0 query
(no DNSSEC records to break: the fault does not even count it).

One module-scoped server serves test. (signed; the DS of its two children), example.test.
(signed with NSEC, edited once so it has a history) and n3.test. (signed with NSEC3).
"""

from __future__ import annotations

import base64
import select
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.DNSKEY
import dns.rdtypes.ANY.DS
import dns.rdtypes.ANY.NSEC
import dns.rdtypes.ANY.NSEC3
import dns.rdtypes.ANY.RRSIG
import dns.rdtypes.dsbase
import dns.rrset
import pytest
from helpers import frame, poll

import fakens
from fakens.dnssec import DnssecPolicy, Nsec3Params, add_ds_records, sign_zone
from fakens.faults import REGISTRY

from .conftest import ZONE

TEST = dns.name.from_text("test.")
EXAMPLE = dns.name.from_text("example.test.")
N3 = dns.name.from_text("n3.test.")
FAULT = "dnssec-fault"
RRSIG, NSEC, NSEC3, DS, DNSKEY = (dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3, dns.rdatatype.DS,
                                  dns.rdatatype.DNSKEY)
N3_PARAMS = Nsec3Params(iterations=0, salt=b"")

TEST_ZONE = """$ORIGIN test.
$TTL 3600
@           SOA   ns1.test. hostmaster.test. 1 3600 600 86400 300
@           NS    ns1.test.
ns1         A     127.0.0.40
example     NS    ns1.example.test.
ns1.example A     127.0.0.12
n3          NS    ns1.n3.test.
ns1.n3      A     127.0.0.41
"""

N3_ZONE = """$ORIGIN n3.test.
$TTL 3600
@           SOA   ns1.n3.test. hostmaster.n3.test. 1 3600 600 86400 300
@           NS    ns1.n3.test.
ns1         A     127.0.0.41
www         A     192.0.2.1
mail        A     192.0.2.2
mail        MX    10 mail.n3.test.
"""


@dataclass
class Env:
    server: fakens.Server
    keyring: dict[dns.name.Name, dns.rrset.RRset]
    mark: int = 0

    @property
    def addr(self) -> tuple[str, int]:
        return self.server.addresses[0]


def _keys(addr: tuple[str, int], origin: dns.name.Name) -> dns.rrset.RRset:
    reply = dns.query.tcp(dns.message.make_query(origin, "DNSKEY", want_dnssec=True), addr[0], port=addr[1], timeout=3)
    keys = reply.find_rrset(reply.answer, origin, dns.rdataclass.IN, DNSKEY)
    dns.dnssec.validate(keys, reply.find_rrset(reply.answer, origin, dns.rdataclass.IN, RRSIG, DNSKEY), {origin: keys})
    return keys


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    example = fakens.Zone.from_file(ZONE)
    example.edit(replace=["www 300 A 192.0.2.11"])
    zones = [fakens.Zone.from_text(TEST_ZONE), example, fakens.Zone.from_text(N3_ZONE)]
    sign_zone(zones[0])
    sign_zone(zones[1])
    sign_zone(zones[2], DnssecPolicy(nsec3=N3_PARAMS))
    add_ds_records(zones)
    server = fakens.Server(zones, listen=["127.0.0.1:0"])
    server.start()
    try:
        addr = server.addresses[0]
        yield Env(server, {origin: _keys(addr, origin) for origin in (TEST, EXAMPLE, N3)})
    finally:
        server.stop()


def query(qname: str, qtype: str, do: bool = True) -> dns.message.Message:
    q = dns.message.make_query(qname, qtype, use_edns=0, want_dnssec=do, payload=1232)
    q.id = 0x4242
    return q


def ask(env: Env, qname: str, qtype: str = "A", do: bool = True) -> dns.message.Message:
    return dns.query.tcp(query(qname, qtype, do), env.addr[0], port=env.addr[1], timeout=3)


def rrset(section: list[dns.rrset.RRset], name: str | dns.name.Name, rdtype: int,
          covers: int = dns.rdatatype.NONE) -> dns.rrset.RRset:
    owner = dns.name.from_text(name) if isinstance(name, str) else name
    found = [r for r in section if r.name == owner and r.rdtype == rdtype and r.covers == covers]
    assert found, f"no {owner} {dns.rdatatype.to_text(rdtype)} in {[r.to_text() for r in section]}"
    return found[0]


def sig(section: list[dns.rrset.RRset], name: str | dns.name.Name, covers: int) -> dns.rrset.RRset:
    return rrset(section, name, RRSIG, covers)


def validates(env: Env, data: dns.rrset.RRset, rrsig: dns.rrset.RRset, now: float | None = None) -> bool:
    try:
        dns.dnssec.validate(data, rrsig, env.keyring, now=now)
    except dns.dnssec.ValidationFailure:
        return False
    return True


def first(rrsig: dns.rrset.RRset) -> dns.rdtypes.ANY.RRSIG.RRSIG:
    rdata = rrsig[0]
    assert isinstance(rdata, dns.rdtypes.ANY.RRSIG.RRSIG)
    return rdata


def all_valid(env: Env, message: dns.message.Message) -> bool:
    """Does every signed RRset of *message* validate?"""
    for section in (message.answer, message.authority, message.additional):
        for r in section:
            if r.rdtype == RRSIG:
                data = rrset(section, r.name, r.covers)
                if not validates(env, data, r):
                    return False
    return True


# -- the checks ----------------------------------------------------------------------------------


def check_expired(env: Env) -> None:
    now = time.time()
    reply = ask(env, "www.example.test.")
    a = rrset(reply.answer, "www.example.test.", dns.rdatatype.A)
    broken = first(sig(reply.answer, a.name, a.rdtype))
    assert now - 604800 - 60 < broken.expiration < now - 604800 + 60
    assert not validates(env, a, sig(reply.answer, a.name, a.rdtype))
    assert validates(env, a, sig(reply.answer, a.name, a.rdtype), now=broken.expiration - 10)  # only the time is wrong
    txt = ask(env, "example.test.", "TXT").answer  # types=A: other signatures untouched
    assert validates(env, rrset(txt, EXAMPLE, dns.rdatatype.TXT), sig(txt, EXAMPLE, dns.rdatatype.TXT))


def check_not_yet_valid(env: Env) -> None:
    now = time.time()
    reply = ask(env, "www.example.test.")
    a = rrset(reply.answer, "www.example.test.", dns.rdatatype.A)
    broken = first(sig(reply.answer, a.name, a.rdtype))
    assert now + 604800 - 60 < broken.inception < now + 604800 + 60
    assert not validates(env, a, sig(reply.answer, a.name, a.rdtype))
    assert validates(env, a, sig(reply.answer, a.name, a.rdtype), now=broken.inception + 10)


def _check_bad(env: Env) -> None:
    reply = ask(env, "www.example.test.")
    a = rrset(reply.answer, "www.example.test.", dns.rdatatype.A)
    broken = first(sig(reply.answer, a.name, a.rdtype))
    tags = {dns.dnssec.key_id(k) for k in env.keyring[EXAMPLE]}
    assert broken.key_tag in tags and broken.signer == EXAMPLE and broken.expiration > time.time()
    assert not validates(env, a, sig(reply.answer, a.name, a.rdtype))
    aaaa = ask(env, "www.example.test.", "AAAA").answer  # types=A
    assert validates(env, rrset(aaaa, a.name, dns.rdatatype.AAAA), sig(aaaa, a.name, dns.rdatatype.AAAA))


def _check_unknown_key(env: Env) -> None:
    reply = ask(env, "www.example.test.")
    a = rrset(reply.answer, "www.example.test.", dns.rdatatype.A)
    broken = first(sig(reply.answer, a.name, a.rdtype))
    assert broken.key_tag not in {dns.dnssec.key_id(k) for k in env.keyring[EXAMPLE]}
    assert broken.signer == EXAMPLE and broken.algorithm == 13
    assert not validates(env, a, sig(reply.answer, a.name, a.rdtype))


def check_missing(env: Env) -> None:
    reply = ask(env, "nope.example.test.")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    soa = rrset(reply.authority, EXAMPLE, dns.rdatatype.SOA)
    assert not [r for r in reply.authority if r.rdtype == RRSIG and r.covers == dns.rdatatype.SOA]
    nsecs = [r for r in reply.authority if r.rdtype == NSEC]
    assert nsecs and all(validates(env, n, sig(reply.authority, n.name, NSEC)) for n in nsecs)
    assert soa


def _ds_matches(ds: dns.rrset.RRset, keys: dns.rrset.RRset) -> bool:
    """Does a DS record of *ds* match a key of *keys* (digest type 2)?"""
    made = {(d.key_tag, d.algorithm, d.digest_type, d.digest) for d in (dns.dnssec.make_ds(keys.name, k, "SHA256") for k in keys)}
    return any((d.key_tag, d.algorithm, d.digest_type, d.digest) in made for d in ds)


def check_stale_ds(env: Env, removed: bool = False) -> None:
    reply = ask(env, "example.test.", "DNSKEY")
    keys = rrset(reply.answer, EXAMPLE, DNSKEY)
    ds = ask(env, "example.test.", "DS")
    parent_ds = rrset(ds.answer, EXAMPLE, DS)
    assert not _ds_matches(parent_ds, keys), "a key still matches the parent's DS"
    assert _ds_matches(parent_ds, env.keyring[EXAMPLE])  # the parent is unchanged
    dns.dnssec.validate(keys, sig(reply.answer, EXAMPLE, DNSKEY), {EXAMPLE: keys})  # self-consistent
    www = ask(env, "www.example.test.")  # the ZSK, still in the set, signs the rest
    assert validates(env, rrset(www.answer, "www.example.test.", dns.rdatatype.A), sig(www.answer, "www.example.test.", dns.rdatatype.A))
    cds = ask(env, "example.test.", "CDS")
    if removed:
        assert len(keys) == 1 and not keys[0].flags & 1
        assert not [r for r in cds.answer if r.rdtype == dns.rdatatype.CDS]
    else:
        assert len(keys) == 2 and sum(1 for k in keys if k.flags & 1) == 1
        assert _ds_matches(rrset(cds.answer, EXAMPLE, dns.rdatatype.CDS), keys)  # CDS announces the new KSK


def _check_bad_ds(change: Callable[[dns.rdtypes.dsbase.DSBase, dns.rdtypes.dsbase.DSBase], bool]) -> Callable[[Env], None]:
    def check(env: Env) -> None:
        reply = ask(env, "example.test.", "DS")
        ds = rrset(reply.answer, EXAMPLE, DS)
        assert validates(env, ds, sig(reply.answer, EXAMPLE, DS)), "the parent signs the DS it serves"
        assert not _ds_matches(ds, env.keyring[EXAMPLE])
        right = dns.dnssec.make_ds(EXAMPLE, next(k for k in env.keyring[EXAMPLE] if k.flags & 1), "SHA256")
        assert len(ds) == 1 and change(ds[0], right), ds
    return check


def _covers(rrset_: dns.rrset.RRset, name: dns.name.Name) -> bool:
    """Does the NSEC *rrset_* cover *name* (owner < name < next, the last one wrapping)?"""
    owner, following = rrset_.name, rrset_[0].next
    return owner < name < following if owner < following else (name > owner or name < following)


def _types(rrset_: dns.rrset.RRset) -> set[int]:
    from fakens.faults.proofs import bitmap_types
    return set(bitmap_types(rrset_[0]))


def _denial_valid(env: Env, reply: dns.message.Message, rdtype: int = NSEC) -> list[dns.rrset.RRset]:
    records = [r for r in reply.authority if r.rdtype == rdtype]
    assert records, f"no {dns.rdatatype.to_text(rdtype)} in {reply}"
    for r in records:
        assert validates(env, r, sig(reply.authority, r.name, rdtype)), f"{r} does not validate"
    return records


def check_bitmap(env: Env) -> None:
    www = dns.name.from_text("www.example.test.")
    reply = ask(env, "www.example.test.", "MX")
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer
    nsec = rrset(_denial_valid(env, reply), www, NSEC)
    assert dns.rdatatype.A not in _types(nsec) and dns.rdatatype.AAAA in _types(nsec)
    assert ask(env, "www.example.test.", "A").answer  # the data itself is still served


def check_deny_name(env: Env) -> None:
    www = dns.name.from_text("www.example.test.")
    reply = ask(env, "www.example.test.")
    assert reply.rcode() == dns.rcode.NXDOMAIN and not reply.answer
    assert any(_covers(n, www) for n in _denial_valid(env, reply))
    assert validates(env, rrset(reply.authority, EXAMPLE, dns.rdatatype.SOA), sig(reply.authority, EXAMPLE, dns.rdatatype.SOA))


def check_deny_type(env: Env) -> None:
    www = dns.name.from_text("www.example.test.")
    reply = ask(env, "www.example.test.")
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer
    nsec = rrset(_denial_valid(env, reply), www, NSEC)
    assert dns.rdatatype.A not in _types(nsec) and dns.rdatatype.AAAA in _types(nsec)
    assert ask(env, "www.example.test.", "AAAA").answer


def check_uncovered(env: Env) -> None:
    nope = dns.name.from_text("nope.example.test.")
    reply = ask(env, "nope.example.test.")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    records = _denial_valid(env, reply)
    assert not any(_covers(n, nope) for n in records)


def check_denial_missing(env: Env) -> None:
    reply = ask(env, "nope.example.test.")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert not [r for r in reply.authority if r.rdtype in (NSEC, NSEC3) or (r.rdtype == RRSIG and r.covers == NSEC)]


def _nsec3_check(iterations: int, salt: bytes, param_iterations: int, param_salt: bytes) -> Callable[[Env], None]:
    def check(env: Env) -> None:
        reply = ask(env, "nope.n3.test.")
        assert reply.rcode() == dns.rcode.NXDOMAIN
        records = _denial_valid(env, reply, NSEC3)
        for r in records:
            assert (r[0].iterations, r[0].salt) == (iterations, salt)
            hashed = dns.dnssec.nsec3_hash(r.name.parent(), salt, iterations, 1)  # the apex or another owner
            assert hashed  # the hashes are those of the records' own parameters (owners are base32hex)
        apex = dns.dnssec.nsec3_hash(N3, salt, iterations, 1).lower()
        assert any(r.name.labels[0].decode() == apex for r in records), "the closest encloser's NSEC3 is hashed with them"
        param = ask(env, "n3.test.", "NSEC3PARAM")
        p = rrset(param.answer, N3, dns.rdatatype.NSEC3PARAM)
        assert (p[0].iterations, p[0].salt) == (param_iterations, param_salt)
        assert validates(env, p, sig(param.answer, N3, dns.rdatatype.NSEC3PARAM))
    return check


def _dnskey_oversize(mode: str) -> Callable[[Env], None]:
    """UDP: TC=1 and empty sections for DNSKEY (any DO bit, any EDNS size); TCP: as *mode* says."""

    def check(env: Env) -> None:
        for do, payload in ((True, 1232), (False, 1232), (True, 4096)):
            q = dns.message.make_query(EXAMPLE, "DNSKEY", use_edns=0, want_dnssec=do, payload=payload)
            reply = dns.query.udp(q, env.addr[0], port=env.addr[1], timeout=3)
            assert reply.flags & dns.flags.TC and reply.answer == [] and reply.rcode() == dns.rcode.NOERROR, (do, payload, reply)
        q = query("example.test.", "DNSKEY")
        if mode == "ok":
            reply = ask(env, "example.test.", "DNSKEY")
            keys = rrset(reply.answer, EXAMPLE, DNSKEY)
            assert set(env.keyring[EXAMPLE]) < set(keys) and len(reply.to_wire()) > env.server.options.udp_size
            dns.dnssec.validate(keys, sig(reply.answer, EXAMPLE, DNSKEY), {EXAMPLE: keys})  # the KSK signs the padded set
            assert {k.algorithm for k in keys} == {13} and all(k.flags == 256 for k in set(keys) - set(env.keyring[EXAMPLE]))
        else:
            with socket.create_connection(env.addr, timeout=3) as sock:
                sock.sendall(frame(q.to_wire()))
                if mode == "reset":
                    with pytest.raises(ConnectionResetError):
                        sock.recv(2)
                elif mode == "close":
                    assert sock.recv(2) == b""
                else:  # stall: the query is logged, the connection stays open and silent
                    poll(lambda: any(e.transport == "tcp" and e.faults for e in env.server.log.entries()[env.mark:]),
                         what="the stalled TCP query logged")
                    assert select.select([sock], [], [], 0)[0] == []
        www = ask(env, "www.example.test.")  # the rest of the zone over TCP, unchanged
        assert all_valid(env, www) and www.answer

    return check


@dataclass
class Case:
    spec: str
    check: Callable[[Env], None]
    qname: str = "www.example.test."
    qtype: str = "A"
    nomatch: str = "qname=nomatch.example.test."
    records: bool = False  # the fault changes records (DNSKEY, DS), seen with DO=0 too
    udp_do0: bool = False  # the DO=0 query goes over UDP (TCP is what the fault breaks) and gets TC=1


CASES: dict[tuple[str, str], Case] = {
    ("rrsig-expired", "expired"): Case("rrsig-expired types=A", check_expired),
    ("rrsig-expired", "not-yet-valid"): Case("rrsig-expired mode=not-yet-valid", check_not_yet_valid),
    ("rrsig-bad", "data"): Case("rrsig-bad types=A", _check_bad),
    ("rrsig-bad", "flipped"): Case("rrsig-bad mode=flipped types=A", _check_bad),
    ("rrsig-unknown-key", "other-key"): Case("rrsig-unknown-key", _check_unknown_key),
    ("rrsig-unknown-key", "wrong-tag"): Case("rrsig-unknown-key mode=wrong-tag", _check_unknown_key),
    ("rrsig-missing", ""): Case("rrsig-missing types=SOA", check_missing, qname="nope.example.test."),
    ("bad-denial", "bitmap"): Case("bad-denial types=A", check_bitmap, qtype="MX"),
    ("bad-denial", "deny-name"): Case("bad-denial mode=deny-name qname=www.example.test.", check_deny_name, records=True),
    ("bad-denial", "deny-type"): Case("bad-denial mode=deny-type types=A qname=www.example.test.", check_deny_type,
                                      records=True),
    ("bad-denial", "uncovered"): Case("bad-denial mode=uncovered", check_uncovered, qname="nope.example.test."),
    ("bad-denial", "nsec3-params"): Case("bad-denial mode=nsec3-params", _nsec3_check(0, b"\xbe\xef", 0, b""),
                                         qname="nope.n3.test.", nomatch="qname=nomatch.n3.test."),
    ("bad-denial", "missing"): Case("bad-denial mode=missing", check_denial_missing, qname="nope.example.test."),
    ("nsec3-iterations", ""): Case("nsec3-iterations", _nsec3_check(200, b"", 200, b""), qname="nope.n3.test.",
                                   nomatch="qname=nomatch.n3.test."),
    ("stale-ds", "rolled"): Case("stale-ds", check_stale_ds, qname="example.test.", qtype="DNSKEY", records=True),
    ("stale-ds", "removed"): Case("stale-ds mode=removed", lambda env: check_stale_ds(env, removed=True),
                                  qname="example.test.", qtype="DNSKEY", records=True),
    ("bad-ds", "digest"): Case("bad-ds", _check_bad_ds(lambda d, r: d.digest != r.digest and d.key_tag == r.key_tag),
                               qname="example.test.", qtype="DS", records=True),
    ("bad-ds", "digest-type"): Case("bad-ds mode=digest-type", _check_bad_ds(lambda d, r: d.digest_type == 200),
                                    qname="example.test.", qtype="DS", records=True),
    ("bad-ds", "algorithm"): Case("bad-ds mode=algorithm", _check_bad_ds(lambda d, r: d.algorithm == 8),
                                  qname="example.test.", qtype="DS", records=True),
    **{("dnskey-oversize", mode): Case(f"dnskey-oversize mode={mode} zone=example.test.", _dnskey_oversize(mode),
                                       qname="example.test.", qtype="DNSKEY", records=True, udp_do0=mode != "ok")
       for mode in ("reset", "close", "stall", "ok")},
    ("bad-ds", "retired"): Case("bad-ds mode=retired zone=example.test.", _check_bad_ds(lambda d, r: d.key_tag != r.key_tag),
                                qname="example.test.", qtype="DS", records=True),
}

REGISTERED = [(t, m) for t, cls in REGISTRY.items() if cls.signed_only for m in (cls.modes or ("",))]
IDS = [f"{t}-{m}" if m else t for t, m in REGISTERED]


def test_every_case_is_registered() -> None:
    assert sorted(set(CASES) - set(REGISTERED)) == []


def _case(type_name: str, mode: str, env: Env) -> Case:
    case = CASES.get((type_name, mode))
    if case is None:
        pytest.fail(f"no test case for fault {type_name!r} mode {mode!r}: add one to CASES")
    env.server.faults.reset()
    env.mark = len(env.server.log.entries())
    return case


@pytest.mark.parametrize(("type_name", "mode"), REGISTERED, ids=IDS)
def test_fault_on_the_wire(type_name: str, mode: str, env: Env) -> None:
    case = _case(type_name, mode, env)
    assert all_valid(env, ask(env, case.qname, case.qtype)), "the clean answer must validate"
    try:
        env.server.faults.add(f"{case.spec} name={FAULT}")
        case.check(env)
        entries = env.server.log.entries()[env.mark:]
        mine = [f for e in entries for f in e.faults if f["name"] == FAULT]
        assert mine and all(f["type"] == type_name and (f["mode"] or "") == mode and f["actions"] for f in mine), mine
    finally:
        env.server.faults.reset()


@pytest.mark.parametrize(("type_name", "mode"), REGISTERED, ids=IDS)
def test_fault_not_matching_is_invisible(type_name: str, mode: str, env: Env) -> None:
    case = _case(type_name, mode, env)
    clean = ask(env, case.qname, case.qtype)
    try:
        env.server.faults.add(f"{case.spec} name={FAULT} {case.nomatch}")
        faulty = ask(env, case.qname, case.qtype)
        # the same records and signatures (the order of records inside an RRset may vary)
        assert (faulty.flags, faulty.rcode(), faulty.answer, faulty.authority, faulty.additional) == (
            clean.flags, clean.rcode(), clean.answer, clean.authority, clean.additional)
        assert env.server.log.entries()[-1].faults == []
    finally:
        env.server.faults.reset()


@pytest.mark.parametrize(("type_name", "mode"), REGISTERED, ids=IDS)
def test_fault_ignores_do0(type_name: str, mode: str, env: Env) -> None:
    """Without DO there are no DNSSEC records to break: the answer is the clean one and the
    fault is neither in ``faults`` nor in ``matched`` (not counted)."""
    case = _case(type_name, mode, env)
    clean = ask(env, case.qname, case.qtype, do=False)
    try:
        env.server.faults.add(f"{case.spec} name={FAULT}")
        if case.udp_do0:
            reply = dns.query.udp(query(case.qname, case.qtype, do=False), env.addr[0], port=env.addr[1], timeout=3)
            assert reply.flags & dns.flags.TC and not reply.answer
        else:
            reply = ask(env, case.qname, case.qtype, do=False)
        if case.records:  # the records change for every client, with no RRSIG to a DO=0 one
            assert not [r for s in (reply.answer, reply.authority) for r in s if r.rdtype == RRSIG]
            assert [f for f in env.server.log.entries()[-1].faults if f["name"] == FAULT]
            return
        assert reply.answer == clean.answer and reply.authority == clean.authority and reply.rcode() == clean.rcode()
        entry = env.server.log.entries()[-1]
        assert entry.faults == [] and entry.matched == []
    finally:
        env.server.faults.reset()


_ = (base64, dns.flags, dns.rdtypes.ANY.DNSKEY, dns.rdtypes.ANY.DS, dns.rdtypes.ANY.NSEC, dns.rdtypes.ANY.NSEC3, DS,
     NSEC3, N3_PARAMS)


# -- the answer-editing faults on a signed zone: lies without a valid signature, or re-signed ----------


def _www_a(env: Env) -> tuple[dns.rrset.RRset, dns.rrset.RRset]:
    reply = ask(env, "www.example.test.")
    a = rrset(reply.answer, "www.example.test.", dns.rdatatype.A)
    return a, sig(reply.answer, a.name, a.rdtype)


@pytest.mark.parametrize("resign", [False, True])
def test_stale_data_lie_is_unsigned_unless_resigned(env: Env, resign: bool) -> None:
    env.server.faults.reset()
    with env.server.faults.scoped(f"stale-data serial=2024010101 resign={str(resign).lower()}"):
        a, rrsig = _www_a(env)
        assert [r.to_text() for r in a] == ["192.0.2.10"]  # the version before the edit
        assert validates(env, a, rrsig) is resign
        aaaa = ask(env, "www.example.test.", "AAAA").answer  # unchanged data still validates
        assert validates(env, rrset(aaaa, a.name, dns.rdatatype.AAAA), sig(aaaa, a.name, dns.rdatatype.AAAA))


@pytest.mark.parametrize("kind", ["nxdomain", "nodata"])
def test_negative_lie_unsigned_by_default_signed_on_request(env: Env, kind: str) -> None:
    env.server.faults.reset()
    www = dns.name.from_text("www.example.test.")
    with env.server.faults.scoped(f"{kind} qname=www.example.test."):
        reply = ask(env, "www.example.test.")
        assert not [r for r in reply.authority if r.rdtype in (RRSIG, NSEC)]
    with env.server.faults.scoped(f"{kind} qname=www.example.test. resign=true"):
        reply = ask(env, "www.example.test.")
        assert reply.rcode() == (dns.rcode.NXDOMAIN if kind == "nxdomain" else dns.rcode.NOERROR) and not reply.answer
        records = _denial_valid(env, reply)
        soa = rrset(reply.authority, EXAMPLE, dns.rdatatype.SOA)
        assert validates(env, soa, sig(reply.authority, EXAMPLE, dns.rdatatype.SOA))
        if kind == "nxdomain":
            assert any(_covers(n, www) for n in records)
        else:
            assert dns.rdatatype.A not in _types(rrset(records, www, NSEC))


@pytest.mark.parametrize("spec", ["stale-serial mode=unchanged back=2", "stale-serial mode=lower",
                                  "ns-mismatch mode=remove hosts=ns2.example.test."])
def test_edited_apex_data_keeps_the_true_signature(env: Env, spec: str) -> None:
    env.server.faults.reset()
    qtype = "NS" if spec.startswith("ns-") else "SOA"
    rdtype = dns.rdatatype.from_text(qtype)
    for resign in (False, True):
        with env.server.faults.scoped(f"{spec} resign={str(resign).lower()}"):
            reply = ask(env, "example.test.", qtype)
            data = rrset(reply.answer, EXAMPLE, rdtype)
            clean = ask(env, "example.test.", qtype, do=False)  # DO=0 sees the same lie
            assert rrset(clean.answer, EXAMPLE, rdtype) == data
            assert validates(env, data, sig(reply.answer, EXAMPLE, rdtype)) is resign, reply


def test_published_algorithm_is_in_dnskey_rrsig_and_ds(make_server: Callable[..., fakens.Server]) -> None:
    """A zone "signed with an algorithm nobody knows": the number is in every record; the
    signature is the real algorithm's (a validator that knew 253 as 13 would accept it)."""
    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone, DnssecPolicy.from_value({"published_algorithm": 253}))
    assert {int(d.algorithm) for d in signer.ds_rdatas()} == {253}
    server = make_server([zone])
    host, port = server.addresses[0]
    keys = dns.query.tcp(query("example.test.", "DNSKEY"), host, port=port, timeout=3)
    assert {k.algorithm for k in rrset(keys.answer, EXAMPLE, DNSKEY)} == {253}
    reply = dns.query.tcp(query("www.example.test.", "A"), host, port=port, timeout=3)
    assert first(sig(reply.answer, "www.example.test.", dns.rdatatype.A)).algorithm == 253
    cdnskey = rrset(keys.answer, EXAMPLE, DNSKEY)
    assert cdnskey


def test_published_algorithm_out_of_range() -> None:
    with pytest.raises(fakens.ConfigError, match="published_algorithm"):
        DnssecPolicy.from_value({"published_algorithm": 300})
