"""One fault selection (issue 7): a fault counts only where its hook can act, and the
control API keeps track of a fault through update() and scoped().

Each of these failed on the pipeline before issue 7: ``select`` counted every fault whose
selector matched a query, whatever its hooks, and ``scoped`` removed its fault by identity.
"""

from __future__ import annotations

import json
import pathlib
import socket
import sys
import threading
from collections.abc import Callable

import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.zone
import pytest
from helpers import ask, poll

import fakens
from fakens.faults import build

TIMEOUT = 3.0  # for the NOTIFY listener
PARENT_ZONE = """\
$ORIGIN parent.test.
$TTL 300
@       SOA ns1 hostmaster 1 3600 900 604800 300
@       NS  ns1
ns1     A   127.0.0.1
child   NS  ns1.child
ns1.child A 192.0.2.53
www     A   192.0.2.80
"""


def tcp_exchange(server: fakens.Server, qname: str) -> dns.message.Message:
    """One query over a fresh TCP connection (raises OSError/EOFError when it is reset or closed)."""
    return ask(server, qname, "A", transport="tcp")


def test_a_connection_fault_is_not_used_up_by_a_udp_query(server: fakens.Server) -> None:
    server.faults.add("tcp-refused mode=reset first=1 name=tr")
    assert ask(server, "www.example.test.").rcode() == dns.rcode.NOERROR
    (entry,) = server.log.entries()
    assert entry.faults == [], "a UDP query is no connection: the fault neither fired nor counted"
    with pytest.raises((ConnectionError, EOFError)):
        tcp_exchange(server, "www.example.test.")  # the first connection: reset
    assert tcp_exchange(server, "www.example.test.").rcode() == dns.rcode.NOERROR  # first=1 is used up
    resets = server.log.entries(fault="tr")
    assert len(resets) == 1 and resets[0].note == "TCP connection reset before any query"


def test_a_notify_fault_is_not_used_up_by_an_soa_query(make_server: Callable[..., fakens.Server]) -> None:
    secondary = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    secondary.bind(("127.0.0.1", 0))
    secondary.settimeout(TIMEOUT)
    try:
        server = make_server(notify=[f"127.0.0.1:{secondary.getsockname()[1]}"])
        server.faults.add("no-notify mode=none times=1 name=nn")
        assert ask(server, "example.test.", "SOA").rcode() == dns.rcode.NOERROR
        assert server.log.entries()[-1].faults == []
        server.zone("example.test.").edit(add=["first 60 TXT one"])   # NOTIFY withheld: times=1 left for it
        server.zone("example.test.").edit(add=["second 60 TXT two"])  # times=1 used up: this one goes out
        wire, _ = secondary.recvfrom(65535)
        notify = dns.message.from_wire(wire)
        assert notify.opcode() == dns.opcode.NOTIFY
        assert notify.answer[0][0].serial == server.zone("example.test.").serial
        withheld = [r for r in server.notifies if r.note]
        assert [r.serial for r in withheld] == [server.zone("example.test.").history[-2].serial]
        assert "NOTIFY not sent" in withheld[0].note
    finally:
        secondary.close()


def test_missing_glue_first_is_not_used_up_by_an_answer_without_glue(make_server: Callable[..., fakens.Server]
                                                                      ) -> None:
    server = make_server([fakens.Zone.from_text(PARENT_ZONE, origin="parent.test.")])
    server.faults.add("missing-glue first=1 name=mg")
    assert ask(server, "www.parent.test.").rcode() == dns.rcode.NOERROR  # no glue here: not counted
    referral = ask(server, "www.child.parent.test.")
    assert referral.authority and not referral.additional, "the first referral lost its glue"
    again = ask(server, "www.child.parent.test.")
    assert [r.name.to_text() for r in again.additional] == ["ns1.child.parent.test."], "first=1 used up"
    assert [[f["name"] for f in e.faults] for e in server.log] == [[], ["mg"], []]


def test_scoped_removes_its_fault_after_an_update_inside_the_block(server: fakens.Server) -> None:
    with server.faults.scoped("nxdomain qname=www.example.test.", name="x"):
        assert ask(server, "www.example.test.").rcode() == dns.rcode.NXDOMAIN
        server.faults.update("x", qname="mail.example.test.")
        assert ask(server, "mail.example.test.").rcode() == dns.rcode.NXDOMAIN
    assert server.faults.list() == []
    assert ask(server, "mail.example.test.").rcode() == dns.rcode.NOERROR


def test_default_fault_names_are_unique_across_threads() -> None:
    names: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        built = [build("drop").name for _ in range(500)]
        with lock:
            names.extend(built)

    threads = [threading.Thread(target=make) for _ in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: an unlocked counter shows
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(names) == 4000 and len(set(names)) == 4000


def test_a_match_that_changes_nothing_uses_up_nothing(server: fakens.Server) -> None:
    """stale-data fires but the zone has no older version: logged in ``matched`` (not in
    ``faults``), not counted; after an edit, the one allowed firing (times=1) is still there."""
    server.faults.add("stale-data times=1 name=sd qname=www.example.test.")
    assert ask(server, "www.example.test.").answer[0][0].address == "192.0.2.10"
    (entry,) = server.log.entries()
    assert entry.faults == []
    assert entry.matched == [{"name": "sd", "type": "stale-data", "mode": "version",
                              "reason": "no older version of example.test. kept"}]
    server.zone("example.test.").edit(replace=["www 300 A 192.0.2.111"])
    assert ask(server, "www.example.test.").answer[0][0].address == "192.0.2.10"  # the old version, once
    assert ask(server, "www.example.test.").answer[0][0].address == "192.0.2.111"  # times=1 used up


def test_an_outcome_not_applied_uses_up_nothing(server: fakens.Server) -> None:
    """A later fault whose outcome is not used (an earlier one ended the query) is logged as
    not applied and keeps its one firing (times=1) for a query where it does act."""
    server.faults.add("rcode rcode=REFUSED name=a")
    server.faults.add("rcode rcode=SERVFAIL times=1 name=b")
    assert ask(server, "www.example.test.").rcode() == dns.rcode.REFUSED
    (entry,) = server.log.entries()
    assert [f["name"] for f in entry.faults] == ["a"]
    assert entry.matched == [{"name": "b", "type": "rcode", "mode": None,
                              "reason": "not applied: a already ended the query"}]
    server.faults.remove("a")
    assert ask(server, "www.example.test.").rcode() == dns.rcode.SERVFAIL
    assert ask(server, "www.example.test.").rcode() == dns.rcode.NOERROR


def test_a_transfer_reaches_the_log_file_complete(tmp_path: pathlib.Path,
                                                   make_server: Callable[..., fakens.Server]) -> None:
    """A TCP transfer's log entry is filled in as its messages are sent: it goes to the log file
    once the stream has ended, with its rcode, size and message count."""
    path = tmp_path / "queries.jsonl"
    server = make_server(log_file=str(path))
    host, port = server.addresses[0]
    zone = dns.zone.from_xfr(dns.query.xfr(host, "example.test.", port=port, timeout=TIMEOUT))
    assert zone.origin.to_text() == "example.test."
    entry = server.log.entries(qtype="AXFR")[0]

    def written() -> list[dict[str, object]]:
        server.log.flush()  # the stream queues its entry for the file once it has ended
        return [json.loads(text) for text in path.read_text().splitlines() if '"AXFR"' in text]

    (line,) = poll(written, what="the AXFR's line in the log file")
    assert line["rcode"] == "NOERROR" and line["messages"] == entry.messages >= 1
    assert line["size"] == entry.size > 0
