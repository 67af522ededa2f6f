"""The runtime control API (STYLE.md 5: named, addressable, removable faults) on a running
server, the query log's ``faults`` field, and the CLI's ``--fault`` option."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from helpers import ask

from fakens.errors import ConfigError
from fakens.faults import REGISTRY, Fault
from fakens.testing import free_port

from .conftest import EXAMPLE_ZONE, REPO, fired, rcode_of

WWW = "www.example.test."


# -- add / list / get / update / remove / reset / scoped -----------------------------------------


def test_add_returns_the_fault_and_list_keeps_the_order(server):
    a = server.faults.add("nxdomain qname=www.example.test. name=a")
    b = server.faults.add({"type": "ttl", "ttl": 5, "name": "b"})
    c = server.faults.add("flags", set="RA", name="c")
    assert isinstance(a, Fault) and (a.name, a.type_name) == ("a", "nxdomain")
    assert [f.name for f in server.faults.list()] == ["a", "b", "c"]
    assert server.faults.list() == [a, b, c]
    assert len(server.faults) == 3


def test_add_a_built_fault(server):
    from fakens.faults import build

    fault = build("nxdomain qname=www.example.test. name=built")
    assert server.faults.add(fault) is fault
    assert rcode_of(server, WWW) == "NXDOMAIN"


def test_get_returns_the_fault_or_none_and_find_raises(server):
    a = server.faults.add("nxdomain name=a")
    assert server.faults.get("a") is a
    assert server.faults.get("nope") is None
    assert server.faults.find("a") is a
    with pytest.raises(ConfigError) as e:
        server.faults.find("nope")
    assert "nope" in str(e.value) and "a" in str(e.value)


def test_add_takes_effect_on_the_very_next_query(server):
    assert rcode_of(server, WWW) == "NOERROR"
    server.faults.add("nxdomain qname=www.example.test. name=n")
    assert rcode_of(server, WWW) == "NXDOMAIN"


def test_the_same_query_before_add_is_not_served_from_a_stale_cache(server):
    # the reply cache (fast path) must not answer once a fault exists
    for _ in range(3):
        assert rcode_of(server, WWW) == "NOERROR"
    server.faults.add("nxdomain qname=www.example.test.")
    assert rcode_of(server, WWW) == "NXDOMAIN"
    server.faults.reset()
    assert rcode_of(server, WWW) == "NOERROR"


def test_update_takes_effect_on_the_very_next_query(server):
    server.faults.add("rcode rcode=REFUSED qname=www.example.test. name=r")
    assert rcode_of(server, WWW) == "REFUSED"
    updated = server.faults.update("r", rcode="SERVFAIL")
    assert updated.name == "r" and server.faults.get("r") is updated
    assert rcode_of(server, WWW) == "SERVFAIL"
    server.faults.update("r", qname="mail.example.test.")
    assert rcode_of(server, WWW) == "NOERROR"
    assert rcode_of(server, "mail.example.test.") == "SERVFAIL"
    assert [f.name for f in server.faults] == ["r"]


def test_update_keeps_the_position_in_the_chain(server):
    server.faults.add("nxdomain name=a qname=nothing.example.")
    server.faults.add("ttl ttl=5 name=b")
    server.faults.add("flags set=RA name=c")
    server.faults.update("b", ttl=7)
    assert [f.name for f in server.faults] == ["a", "b", "c"]
    assert server.faults.get("b").values["ttl"] == 7


def test_update_schedule_and_selector(server):
    server.faults.add("nxdomain qname=www.example.test. name=n")
    server.faults.update("n", every=2)
    assert [rcode_of(server, WWW) for _ in range(4)] == ["NOERROR", "NXDOMAIN", "NOERROR", "NXDOMAIN"]
    server.faults.update("n", transport="tcp")
    assert rcode_of(server, WWW) == "NOERROR"


def test_update_with_a_bad_value_is_an_error_and_keeps_the_old_fault(server):
    old = server.faults.add("nxdomain qname=www.example.test. name=n")
    with pytest.raises(ConfigError) as e:
        server.faults.update("n", probability=2)
    assert "probability" in str(e.value)
    assert server.faults.get("n") is old
    assert rcode_of(server, WWW) == "NXDOMAIN"


def test_update_unknown_name_is_an_error_naming_the_existing_ones(server):
    server.faults.add("nxdomain name=first-one")
    with pytest.raises(ConfigError) as e:
        server.faults.update("missing", probability=0.5)
    assert "missing" in str(e.value) and "first-one" in str(e.value)


def test_remove_takes_effect_on_the_very_next_query(server):
    server.faults.add("nxdomain qname=www.example.test. name=n")
    assert rcode_of(server, WWW) == "NXDOMAIN"
    removed = server.faults.remove("n")
    assert removed.name == "n"
    assert rcode_of(server, WWW) == "NOERROR"
    assert server.faults.list() == []


def test_remove_unknown_name_is_an_error_naming_the_existing_ones(server):
    server.faults.add("nxdomain qname=a.example.test. name=alpha")
    server.faults.add("nodata qname=b.example.test. name=beta")
    with pytest.raises(ConfigError) as e:
        server.faults.remove("gamma")
    text = str(e.value)
    assert "gamma" in text and "alpha" in text and "beta" in text
    assert [f.name for f in server.faults] == ["alpha", "beta"]


def test_remove_on_an_empty_chain_says_so(server):
    with pytest.raises(ConfigError) as e:
        server.faults.remove("x")
    assert "x" in str(e.value)


def test_reset_removes_everything(server):
    server.faults.add("nxdomain qname=www.example.test.")
    server.faults.add("rcode qname=mail.example.test.")
    assert rcode_of(server, WWW) == "NXDOMAIN"
    server.faults.reset()
    assert server.faults.list() == [] and not server.faults
    assert rcode_of(server, WWW) == "NOERROR"
    assert rcode_of(server, "mail.example.test.") == "NOERROR"


def test_adding_a_fault_with_an_existing_name_is_an_error(server):
    first = server.faults.add("nxdomain qname=www.example.test. name=dup")
    with pytest.raises(ConfigError) as e:
        server.faults.add("nodata name=dup")
    assert "dup" in str(e.value)
    assert server.faults.list() == [first]
    assert rcode_of(server, WWW) == "NXDOMAIN"


def test_scoped_fault_exists_only_inside_the_block(server):
    with server.faults.scoped("nxdomain qname=www.example.test.") as fault:
        assert server.faults.list() == [fault]
        assert rcode_of(server, WWW) == "NXDOMAIN"
    assert server.faults.list() == []
    assert rcode_of(server, WWW) == "NOERROR"


def test_scoped_with_keywords_and_an_exception_in_the_block(server):
    with pytest.raises(RuntimeError):
        with server.faults.scoped("rcode", rcode="REFUSED", qname=WWW, name="s"):
            assert rcode_of(server, WWW) == "REFUSED"
            raise RuntimeError("boom")
    assert server.faults.get("s") is None
    assert rcode_of(server, WWW) == "NOERROR"


def test_scoped_tolerates_removal_inside_the_block(server):
    with server.faults.scoped("nxdomain name=s"):
        server.faults.remove("s")
    with server.faults.scoped("nxdomain name=s2"):
        server.faults.reset()
    assert server.faults.list() == []


def test_scoped_removes_only_its_own_fault(server):
    """If the block removed the scoped fault and added another under the same name, the
    block's end must not remove that other fault."""
    with server.faults.scoped("nxdomain qname=www.example.test. name=s"):
        server.faults.remove("s")
        other = server.faults.add("nodata qname=mail.example.test. name=s")
    assert server.faults.list() == [other]


def test_scoped_keeps_other_faults(server):
    server.faults.add("nodata qname=mail.example.test. name=keep")
    with server.faults.scoped("nxdomain qname=www.example.test."):
        assert rcode_of(server, WWW) == "NXDOMAIN"
    assert [f.name for f in server.faults] == ["keep"]
    reply = ask(server, "mail.example.test.")
    assert reply.rcode() == dns.rcode.NOERROR and reply.answer == []


# -- changes from another thread while queries flow ------------------------------------------------


# What each query gets when the faults that fired for it (from the query log) act on it; the
# churned faults are chosen so that no two of them decide the same question's rcode.
_CHURN_ANSWERS = {(WWW, "A"): (300, "192.0.2.10"), (WWW, "AAAA"): (300, "2001:db8::10"),
                  ("mail.example.test.", "A"): (3600, "192.0.2.25"),
                  ("mail.example.test.", "AAAA"): (3600, "2001:db8::25")}
_CHURN_RCODE = {(WWW, "A"): ("nxdomain", "NXDOMAIN"), (WWW, "AAAA"): ("nodata", "NOERROR"),
                ("mail.example.test.", "A"): ("rcode", "REFUSED"),
                ("mail.example.test.", "AAAA"): ("nxdomain", "NXDOMAIN")}


def test_add_and_remove_from_another_thread_while_udp_queries_flow(server):
    """Faults added, updated, scoped and removed from another thread: every reply is exactly
    the one the faults its log entry names would make (no torn state), and the server
    answers cleanly once they are gone."""
    stop = threading.Event()
    problems: list[BaseException] = []
    changes = 0

    def churn() -> None:
        nonlocal changes
        specs = [f"nxdomain qname={WWW} qtype=A", "ttl ttl=5", "flags set=RA",
                 f"nodata qname={WWW} qtype=AAAA", "rcode rcode=REFUSED qname=mail.example.test. qtype=A",
                 "delay ms=0"]
        try:
            while not stop.is_set():
                for i, spec in enumerate(specs):
                    server.faults.add(f"{spec} name=f{i}")
                    changes += 1
                server.faults.update("f1", ttl=9)
                with server.faults.scoped("nxdomain qname=mail.example.test. qtype=AAAA "
                                          "probability=0.5 seed=1 name=s"):
                    changes += 1
                for i in range(len(specs)):
                    server.faults.remove(f"f{i}")
                    changes += 1
                if changes % 20 == 0:
                    server.faults.reset()
        except BaseException as e:  # noqa: BLE001 - reported in the test thread
            problems.append(e)

    worker = threading.Thread(target=churn, name="fault-churn")
    worker.start()
    asked: list[tuple[str, str, dns.message.Message]] = []
    try:
        deadline = time.monotonic() + 30
        for i in range(400):
            name, qtype = (WWW if i % 2 else "mail.example.test."), ("A" if i % 3 else "AAAA")
            asked.append((name, qtype, ask(server, name, qtype, timeout=3)))
            if time.monotonic() > deadline:
                break
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    assert problems == []
    assert server.errors == []
    assert changes > 0
    entries = server.log.entries()
    assert len(entries) == len(asked)
    for (name, qtype, reply), entry in zip(asked, entries, strict=True):
        assert entry.id == reply.id and entry.qname.to_text() == name and entry.qtype_text == qtype
        actions = {f["type"]: f["actions"] for f in entry.faults}
        deciding, rcode = _CHURN_RCODE[(name, qtype)]
        what = f"{name} {qtype} with {entry.faults}: {reply}"
        if deciding in actions:
            assert dns.rcode.to_text(reply.rcode()) == rcode and reply.answer == [], what
        else:
            assert reply.rcode() == dns.rcode.NOERROR, what
            ttl, address = _CHURN_ANSWERS[(name, qtype)]
            assert [r.to_text() for r in reply.answer[0]] == [address], what
            if "ttl" in actions:
                assert actions["ttl"][0] in ("answer TTL 5", "answer TTL 9"), what
                ttl = int(actions["ttl"][0].rsplit(" ", 1)[1])
            assert reply.answer[0].ttl == ttl, what
        assert bool(reply.flags & dns.flags.RA) == ("flags" in actions), what
        assert set(actions) <= {deciding, "ttl", "flags", "delay"}, what
    server.faults.reset()
    assert rcode_of(server, WWW) == "NOERROR"


def test_query_log_holds_every_query_while_faults_change(server):
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            with server.faults.scoped("ttl ttl=5 name=t"):
                pass

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(200):
            ask(server, WWW)
    finally:
        stop.set()
        worker.join(30)
    assert len(server.log) == 200
    assert all(e.rcode == dns.rcode.NOERROR for e in server.log)
    assert all(fired(e) in ([], ["t"]) for e in server.log)
    assert server.errors == []


# -- composition in the order added ------------------------------------------------------------


SUB = "www.sub.example.test."  # a referral to sub.example.test. with glue for ns1.sub


def glue(reply: dns.message.Message, rdtype: int) -> dict[str, list[str]]:
    return {r.name.to_text(): sorted(x.to_text() for x in r) for r in reply.additional if r.rdtype == rdtype}


def test_referral_without_faults_has_the_glue(server):
    reply = ask(server, SUB)
    assert glue(reply, dns.rdatatype.A) == {"ns1.sub.example.test.": ["127.0.0.14"]}


def test_stale_glue_then_missing_glue_a_leaves_no_a_glue(server):
    server.faults.add("stale-glue host=ns1.sub.example.test. addresses=127.0.0.99 name=stale")
    server.faults.add("missing-glue mode=a name=missing")
    reply = ask(server, SUB)
    assert glue(reply, dns.rdatatype.A) == {}
    (entry,) = server.log.entries()
    assert fired(entry) == ["stale", "missing"]


def test_missing_glue_a_then_stale_glue_has_the_stale_a_glue(server):
    server.faults.add("missing-glue mode=a name=missing")
    server.faults.add("stale-glue host=ns1.sub.example.test. addresses=127.0.0.99 name=stale")
    reply = ask(server, SUB)
    assert glue(reply, dns.rdatatype.A) == {"ns1.sub.example.test.": ["127.0.0.99"]}
    (entry,) = server.log.entries()
    assert fired(entry) == ["missing", "stale"]


def negative_ttl(reply: dns.message.Message) -> int:
    (soa,) = [r for r in reply.authority if r.rdtype == dns.rdatatype.SOA]
    return soa.ttl


def test_ttl_negative_then_nxdomain_still_overrides_the_negative_ttl(server):
    # ttl acts when the reply is encoded, after every fault has edited the answer, so it also
    # sets the negative TTL of an NXDOMAIN that a fault added after it made (order-independent)
    server.faults.add("ttl negative=5 ttl=5 name=t")
    server.faults.add("nxdomain qname=www.example.test. name=n")
    reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert negative_ttl(reply) == 5


def test_nxdomain_then_ttl_negative_gives_the_overridden_negative_ttl(server):
    server.faults.add("nxdomain qname=www.example.test. name=n")
    server.faults.add("ttl negative=5 name=t")
    reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert negative_ttl(reply) == 5


# -- the query log's faults field --------------------------------------------------------------


def test_log_names_the_faults_that_fired_and_what_each_changed(server):
    server.faults.add("nxdomain qname=www.example.test. name=nx")
    server.faults.add("flags set=RA name=ra")
    server.faults.add("nodata qname=nothing.example. name=idle")
    reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.RA
    (entry,) = server.log.entries()
    assert fired(entry) == ["nx", "ra"]
    nx, ra = entry.faults
    assert nx["type"] == "nxdomain" and ra["type"] == "flags"
    assert nx["actions"] and all(isinstance(a, str) and a for a in nx["actions"])
    assert "NXDOMAIN" in " ".join(nx["actions"]).upper()
    assert "RA" in " ".join(ra["actions"])
    assert entry.to_dict()["faults"] == entry.faults


@pytest.mark.parametrize("spec, rcode", [
    ("rcode rcode=NOTAUTH", dns.rcode.NOTAUTH),
    ("rcode rcode=REFUSED", dns.rcode.REFUSED),
    ("rcode", dns.rcode.SERVFAIL),
    ("lame", dns.rcode.REFUSED),
    ("lame mode=servfail", dns.rcode.SERVFAIL),
])
def test_rcode_replies_made_by_faults_echo_the_question(server, spec, rcode):
    """FAULTS.md: ``rcode`` answers "with the question echoed; optionally without"."""
    server.faults.add(spec)
    q = dns.message.make_query(WWW, "A")
    host, port = server.addresses[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.sendto(q.to_wire(), (host, port))
        wire = sock.recv(65535)
    reply = dns.message.from_wire(wire)
    assert reply.rcode() == rcode
    assert [(r.name.to_text(), r.rdtype) for r in reply.question] == [(WWW, dns.rdatatype.A)], \
        f"QDCOUNT {int.from_bytes(wire[4:6], 'big')}: the question is not echoed"
    assert q.is_response(reply)


def test_rcode_fault_without_the_question(server):
    server.faults.add("rcode rcode=REFUSED question=false")
    reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.REFUSED and reply.question == []


def test_log_mode_of_a_fault_with_modes(server):
    server.faults.add("lame mode=servfail name=l")
    assert rcode_of(server, WWW) == "SERVFAIL"
    (entry,) = server.log.entries()
    assert entry.faults[0]["name"] == "l" and entry.faults[0]["mode"] == "servfail"


def test_a_fault_that_fires_but_changes_nothing_appears_as_matched(server):
    server.faults.add("stale-data name=sd first=1")  # fires, but the zone has no older version
    assert rcode_of(server, WWW) == "NOERROR"
    (entry,) = server.log.entries()
    assert fired(entry) == [], "a fault that changed nothing is not among the faults that fired"
    assert entry.matched == [{"name": "sd", "type": "stale-data", "mode": "version",
                              "reason": "no older version of example.test. kept"}]
    assert entry.to_dict()["matched"] == entry.matched and entry.to_dict()["faults"] == []
    assert "sd" not in str(entry)
    assert server.log.entries(fault="sd") == [] and server.log.entries(fault="stale-data") == []
    assert server.faults.find("sd").schedule.fired == 0, "a match that changed nothing uses up nothing"


def test_a_fault_that_cannot_act_is_not_logged(server):
    """Issue 7: a fault counts and is logged only where its hook can act: missing-glue on an
    answer without glue neither appears in the log nor uses up first=1."""
    server.faults.add("missing-glue name=mg first=1")
    assert rcode_of(server, WWW) == "NOERROR"
    (entry,) = server.log.entries()
    assert fired(entry) == []
    assert server.faults.find("mg").schedule.seen == 0


def test_real_nxdomain_has_no_faults_and_a_fault_nxdomain_lists_it(server):
    # no faults at all (the fast path)
    assert rcode_of(server, "absent.example.test.") == "NXDOMAIN"
    # a fault installed, not matching this name
    server.faults.add("nxdomain qname=www.example.test. name=fake")
    assert rcode_of(server, "absent.example.test.") == "NXDOMAIN"
    # the fault's NXDOMAIN
    assert rcode_of(server, WWW) == "NXDOMAIN"
    real1, real2, faked = server.log.entries()
    assert real1.rcode == real2.rcode == faked.rcode == dns.rcode.NXDOMAIN
    assert real1.faults == [] and real2.faults == []
    assert fired(faked) == ["fake"]


def test_dropped_query_lists_the_drop(server):
    server.faults.add("drop qname=www.example.test. name=d")
    assert rcode_of(server, WWW, timeout=0.4) == "no reply"
    (entry,) = server.log.entries()
    assert entry.rcode is None and fired(entry) == ["d"]
    assert entry.faults[0]["actions"] == ["dropped"]


# -- the CLI's --fault option ----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Serving:
    """``python -m fakens serve ...`` with its output read by a thread, line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "fakens", "serve", *args], cwd=REPO, env=_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.stderr = ""
        self._out = threading.Thread(target=self._read, daemon=True)
        self._out.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_ready(self, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no 'fakens: ready' within {timeout}s; output: {self.seen}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                return False  # exited
            self.seen.append(line)
            if line.startswith("fakens: ready"):
                return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        self.proc.stderr.close()
        self._out.join(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def test_cli_fault_option_answers_nxdomain_for_www():
    zone = os.path.relpath(EXAMPLE_ZONE, REPO)
    for _attempt in range(5):  # another process may take the free port first: retry on another
        port = free_port()
        serving = Serving(zone, "--listen", f"127.0.0.1:{port}", "--fault", "nxdomain qname=www.example.test.")
        try:
            ready = serving.wait_ready()
            if not ready:
                serving.stop()
                if "in use" in serving.stderr.lower():
                    continue
                raise AssertionError(f"fakens serve exited with {serving.proc.returncode}: "
                                     f"{''.join(serving.seen)}{serving.stderr}")
            www = dns.query.udp(dns.message.make_query(WWW, "A"), "127.0.0.1", port=port, timeout=5)
            mail = dns.query.udp(dns.message.make_query("mail.example.test.", "A"), "127.0.0.1", port=port, timeout=5)
            www_tcp = dns.query.tcp(dns.message.make_query(WWW, "A"), "127.0.0.1", port=port, timeout=5)
        finally:
            serving.stop()
        assert www.rcode() == dns.rcode.NXDOMAIN
        assert www.flags & dns.flags.AA and www.answer == []
        assert www_tcp.rcode() == dns.rcode.NXDOMAIN
        assert mail.rcode() == dns.rcode.NOERROR and mail.answer
        return
    pytest.fail("no free port for fakens serve after 5 attempts")


def test_cli_bad_fault_exits_non_zero_listing_the_valid_types():
    zone = os.path.relpath(EXAMPLE_ZONE, REPO)
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "fakens", "serve", zone, "--listen", f"127.0.0.1:{port}",
                             "--fault", "bogus"], cwd=REPO, env=_env(), stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "fakens: ready" not in result.stdout
    assert "bogus" in result.stderr
    for name in REGISTRY:
        assert name in result.stderr, f"valid type {name} not listed in: {result.stderr}"


def test_cli_bad_fault_parameter_names_it():
    zone = os.path.relpath(EXAMPLE_ZONE, REPO)
    port = free_port()
    result = subprocess.run([sys.executable, "-m", "fakens", "serve", zone, "--listen", f"127.0.0.1:{port}",
                             "--fault", "nxdomain probability=2"], cwd=REPO, env=_env(),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert "probability" in result.stderr and "2" in result.stderr
