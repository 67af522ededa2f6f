"""QueryLog.watch: told of every complete entry (a transfer's when it ends), stopped by the
function it returns; a watcher that raises is dropped and the query goes on."""

from __future__ import annotations

import dns.name
import dns.query
import dns.zone
from helpers import ask, poll

import fakens
from fakens.log import LogEntry, QueryLog


def entry(qname: str = "www.example.test.") -> LogEntry:
    return LogEntry(0.0, "t", ("127.0.0.1", 1), ("127.0.0.1", 53), "udp", 1, dns.name.from_text(qname), 1, 1)


def test_watchers_see_entries_until_they_stop() -> None:
    log = QueryLog()
    seen: list[LogEntry] = []
    also: list[LogEntry] = []
    stop = log.watch(seen.append)
    log.watch(also.append)
    first = entry()
    log.append(first)
    stop()
    stop()  # idempotent
    log.append(entry("b.example.test."))
    assert seen == [first] and len(also) == 2


def test_an_entry_still_being_filled_in_is_told_when_complete() -> None:
    log = QueryLog()
    seen: list[LogEntry] = []
    log.watch(seen.append)
    streaming = entry()
    log.append(streaming, to_file=False)
    assert seen == []
    log.to_file(streaming)
    assert seen == [streaming]


def test_a_watcher_that_raises_is_dropped() -> None:
    log = QueryLog()
    seen: list[LogEntry] = []

    def broken(_: LogEntry) -> None:
        raise RuntimeError("boom")

    log.watch(broken)
    log.watch(seen.append)
    log.append(entry())
    log.append(entry())
    assert len(seen) == 2 and len(log._watchers) == 1


def test_a_served_query_and_transfer_reach_a_watcher(server: fakens.Server) -> None:
    seen: list[LogEntry] = []
    server.log.watch(seen.append)
    ask(server, "www.example.test.")
    host, port = server.addresses[0]
    dns.zone.from_xfr(dns.query.xfr(host, "example.test.", port=port, timeout=5))
    poll(lambda: len(seen) == 2, what="the transfer's entry, told once the stream has ended on the server")
    assert [e.qtype_text for e in seen] == ["A", "AXFR"]
    assert seen[1].messages >= 1 and seen[1].size > 0  # told once complete
