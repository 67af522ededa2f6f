"""Schedules: when a fault fires among the queries its selector matches.

Unit tests go through ``build(spec).schedule.fires(now, client)``, the call the fault
chain makes once per matching query. Boundaries are tested on both sides: CoreDNS's
``erratic`` plugin shipped an every-Nth schedule written with ``&`` for ``%`` (STYLE.md 5).
The last tests run through a real server over UDP and read the query log.
"""

from __future__ import annotations

import dns.rcode
import pytest
from helpers import ask

import fakens
from fakens.faults import build

from .conftest import SHORT, fired, rcode_of

NOW = 1_700_000_000.0
A = "127.0.0.1"


def run(spec: str, n: int, now: float = NOW, client: str | None = A) -> list[bool]:
    """Fire decisions for n consecutive matching queries of one fault built from *spec*."""
    schedule = build(spec).schedule
    return [schedule.fires(now, client) for _ in range(n)]


def positions(decisions: list[bool]) -> list[int]:
    """1-based numbers of the queries that fired."""
    return [k for k, fire in enumerate(decisions, start=1) if fire]


# -- no schedule -----------------------------------------------------------------------------


def test_without_a_schedule_every_matching_query_fires():
    assert run("nxdomain", 50) == [True] * 50


# -- first=N ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_first_n_fires_exactly_the_first_n(n):
    decisions = run(f"nxdomain first={n}", n + 5)
    assert decisions[:n] == [True] * n, "queries 1..N fire"
    assert decisions[n] is False, "query N+1 does not fire"
    assert positions(decisions) == list(range(1, n + 1))


# -- after=N ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5])
def test_after_n_skips_n_then_fires(n):
    decisions = run(f"nxdomain after={n}", n + 5)
    assert decisions[n - 1] is False, "query N does not fire"
    assert decisions[n] is True, "query N+1 fires"
    assert positions(decisions) == list(range(n + 1, n + 6))


def test_after_0_fires_from_the_first():
    assert run("nxdomain after=0", 5) == [True] * 5


def test_first_and_after_together_make_a_range():
    # after=2 first=5: queries 3, 4, 5
    assert positions(run("nxdomain after=2 first=5", 10)) == [3, 4, 5]


# -- every=N ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 7, 10])
def test_every_n_fires_on_multiples_of_n_only(n):
    decisions = run(f"nxdomain every={n}", 3 * n + 1)
    assert decisions[n - 2] is False, "query N-1 does not fire"
    assert decisions[n - 1] is True, "query N fires"
    assert decisions[n] is False, "query N+1 does not fire"
    assert decisions[2 * n - 1] is True, "query 2N fires"
    assert decisions[2 * n] is False, "query 2N+1 does not fire"
    assert positions(decisions) == [n, 2 * n, 3 * n]


def test_every_1_fires_on_every_query():
    assert run("nxdomain every=1", 20) == [True] * 20


@pytest.mark.parametrize("n", [3, 5, 6, 12])
def test_every_n_is_a_modulo_not_a_bitmask(n):
    """erratic's bug: ``k & n == 0`` instead of ``k % n == 0``; non powers of two show it."""
    decisions = run(f"nxdomain every={n}", 100)
    assert positions(decisions) == [k for k in range(1, 101) if k % n == 0]


def test_every_with_after_counts_absolute_query_numbers():
    assert positions(run("nxdomain every=2 after=3", 10)) == [4, 6, 8, 10]


# -- times=N ------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3])
def test_times_n_fires_at_most_n_times(n):
    decisions = run(f"nxdomain times={n}", n + 10)
    assert positions(decisions) == list(range(1, n + 1))


def test_times_counts_fires_not_queries():
    # every=3 times=2: fires at 3 and 6, then never again
    assert positions(run("nxdomain every=3 times=2", 30)) == [3, 6]


def test_times_with_probability_keeps_the_first_n_fires_of_the_same_draws():
    base = run("nxdomain probability=0.4 seed=5", 200)
    limited = run("nxdomain probability=0.4 seed=5 times=4", 200)
    assert sum(limited) == 4
    assert positions(limited) == positions(base)[:4]


# -- from / until ---------------------------------------------------------------------------


def test_window_from_is_inclusive_until_is_exclusive():
    start, end = 1000.0, 1060.0
    spec = f"nxdomain from={start} until={end}"
    s = build(spec).schedule
    assert s.fires(start - 0.001, A) is False, "just before from"
    assert s.fires(start, A) is True, "now == from fires"
    assert s.fires(start + 30, A) is True
    assert s.fires(end - 0.001, A) is True, "just before until"
    assert s.fires(end, A) is False, "now == until does not fire"
    assert s.fires(end + 100, A) is False


def test_from_alone_and_until_alone():
    s = build("nxdomain from=50").schedule
    assert [s.fires(t, A) for t in (0, 49.999, 50, 1e9)] == [False, False, True, True]
    s = build("nxdomain until=50").schedule
    assert [s.fires(t, A) for t in (0, 49.999, 50, 1e9)] == [True, True, False, False]


def test_window_on_a_servers_manual_clock(make_server):
    """The window reads the server's clock: moving a ManualClock opens and closes it."""
    clock = fakens.ManualClock(999.5)
    server = make_server(clock=clock)
    server.faults.add("nxdomain qname=www.example.test. from=1000 until=1060 name=w")
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    clock.advance(0.5)  # now == from
    assert rcode_of(server, "www.example.test.") == "NXDOMAIN"
    clock.set(1059.999)
    assert rcode_of(server, "www.example.test.") == "NXDOMAIN"
    clock.set(1060)  # now == until
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    clock.advance(3600)
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    assert [fired(e) for e in server.log] == [[], ["w"], ["w"], [], []]
    assert [e.time for e in server.log] == [999.5, 1000, 1059.999, 1060, 4660]


# -- per_client ---------------------------------------------------------------------------


def test_per_client_fires_on_the_first_query_of_each_client():
    s = build("nxdomain per_client=true").schedule
    assert s.fires(NOW, "127.0.0.2") is True, "first query from a client fires"
    assert s.fires(NOW, "127.0.0.2") is False, "its second query does not"
    assert s.fires(NOW, "127.0.0.3") is True, "a new client fires"
    assert s.fires(NOW, "2001:db8::1") is True
    assert s.fires(NOW, "127.0.0.3") is False
    assert s.fires(NOW, "127.0.0.2") is False
    assert s.fires(NOW, "2001:db8::1") is False


def test_per_client_false_is_no_condition():
    assert run("nxdomain per_client=false", 5) == [True] * 5


def test_per_client_through_a_server(make_server):
    server = make_server()
    server.faults.add("nxdomain qname=www.example.test. per_client=true name=pc")
    seen = [rcode_of(server, "www.example.test.", source=src)
            for src in ("127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.3", "127.0.0.4")]
    assert seen == ["NXDOMAIN", "NOERROR", "NXDOMAIN", "NOERROR", "NOERROR", "NXDOMAIN"]


# -- probability and seed -------------------------------------------------------------------


def test_same_seed_same_sequence_over_1000_draws():
    spec = "nxdomain probability=0.3 seed=7"
    first, second = build(spec), build(spec)
    a = [first.schedule.fires(NOW, A) for _ in range(1000)]
    b = [second.schedule.fires(NOW, A) for _ in range(1000)]
    assert a == b
    assert 0 < sum(a) < 1000


def test_a_different_seed_gives_another_sequence():
    assert run("nxdomain probability=0.5 seed=1", 200) != run("nxdomain probability=0.5 seed=2", 200)


def test_same_sequence_from_text_table_and_keywords():
    text = run("nxdomain probability=0.3 seed=7", 500)
    s = build({"type": "nxdomain", "probability": 0.3, "seed": 7}).schedule
    table = [s.fires(NOW, A) for _ in range(500)]
    s = build("nxdomain", probability=0.3, seed=7).schedule
    keywords = [s.fires(NOW, A) for _ in range(500)]
    assert text == table == keywords


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_fraction_fired_is_near_p(p):
    n = 10_000
    share = sum(run(f"nxdomain probability={p} seed=12345", n)) / n
    assert abs(share - p) < 0.03, f"fired {share:.4f} of queries, expected about {p}"


def test_probability_0_never_fires():
    assert not any(run("nxdomain probability=0 seed=3", 1000))
    assert not any(run("nxdomain probability=0", 1000))


def test_probability_1_always_fires():
    assert all(run("nxdomain probability=1 seed=3", 1000))
    assert all(run("nxdomain probability=1", 1000))


@pytest.mark.parametrize("condition, keep", [
    ("first=10", lambda k, now, c: k <= 10),
    ("after=7", lambda k, now, c: k > 7),
    ("every=3", lambda k, now, c: k % 3 == 0),
    ("from=1000 until=2000", lambda k, now, c: 1000 <= now < 2000),
    ("per_client=true", None),
])
def test_every_matching_query_consumes_one_draw(condition, keep):
    """The k-th matching query gets the k-th draw even when another condition says no.

    So adding first/after/every/a window does not shift which queries the
    probability picks: the result is the base sequence with the condition applied.
    """
    n = 300
    nows = [500.0 + 10 * k for k in range(n)]  # crosses the window 1000..2000
    clients = [f"127.0.0.{k % 7 + 1}" for k in range(n)]
    base = build("nxdomain probability=0.5 seed=99").schedule
    both = build(f"nxdomain probability=0.5 seed=99 {condition}").schedule
    base_seq = [base.fires(nows[i], clients[i]) for i in range(n)]
    both_seq = [both.fires(nows[i], clients[i]) for i in range(n)]
    if keep is None:  # per_client: the first query of each client, if its draw says yes
        firsts = {clients.index(c) for c in set(clients)}
        expected = [base_seq[i] and i in firsts for i in range(n)]
    else:
        expected = [base_seq[i] and keep(i + 1, nows[i], clients[i]) for i in range(n)]
    assert both_seq == expected


# -- through a server: the k-th matching query gets the k-th draw ------------------------------


A_SPEC = "nxdomain qname=www.example.test. qtype=A probability=0.5 seed=11 name=A"
QUERIES = 30


def a_fires(server: fakens.Server) -> list[bool]:
    """For each www A query in the log, whether fault A fired (per the log's ``faults``)."""
    return ["A" in fired(e) for e in server.log
            if e.qname is not None and e.qname.to_text().lower() == "www.example.test." and e.qtype_text == "A"]


def test_fault_sequence_does_not_depend_on_other_faults_or_other_queries(make_server):
    # the sequence fault A alone gives, which is also what its schedule gives without a server
    alone = make_server()
    alone.faults.add(A_SPEC)
    replies = [rcode_of(alone, "www.example.test.") for _ in range(QUERIES)]
    reference = a_fires(alone)
    assert len(reference) == QUERIES
    assert replies == ["NXDOMAIN" if f else "NOERROR" for f in reference]
    assert 0 < sum(reference) < QUERIES
    assert reference == run(A_SPEC, QUERIES)

    # fault B before A in the chain (matching every query, drawing from its own generator),
    # and queries A's selector does not match interleaved: A's sequence is the same
    mixed = make_server()
    mixed.faults.add("ttl ttl=5 probability=0.5 seed=3 name=B")
    mixed.faults.add(A_SPEC)
    for _ in range(QUERIES):
        rcode_of(mixed, "mail.example.test.")
        rcode_of(mixed, "www.example.test.", "AAAA")
        rcode_of(mixed, "www.example.test.")
        rcode_of(mixed, "nonexistent.example.test.")
    assert a_fires(mixed) == reference
    assert any("B" in fired(e) for e in mixed.log), "fault B fired on some queries"
    assert not any("A" in fired(e) for e in mixed.log if e.qtype_text != "A"
                   or e.qname.to_text() != "www.example.test.")

    # A first and B after it, other non-matching queries: still the same sequence
    reordered = make_server()
    reordered.faults.add(A_SPEC)
    reordered.faults.add("flags set=RA probability=0.5 seed=4 name=B")
    for _ in range(QUERIES):
        rcode_of(reordered, "sip.example.test.")
        rcode_of(reordered, "www.example.test.")
    assert a_fires(reordered) == reference


def test_queries_dropped_by_an_earlier_fault_take_no_draw_of_a_later_answer_fault(make_server):
    """Issue 7: a fault sees a query only where its hook can act. A (nxdomain, acting after
    the engine) never sees the queries D (drop, before the engine) ended, so A's k-th draw goes
    to the k-th query that reached it: its sequence over those is the reference sequence."""
    server = make_server()
    server.faults.add("drop qname=www.example.test. every=3 name=D")
    server.faults.add(A_SPEC)
    for k in range(1, QUERIES + 1):
        rcode_of(server, "www.example.test.", timeout=SHORT if k % 3 == 0 else 3.0)
    dropped = [k for k, e in enumerate(server.log, start=1) if "D" in fired(e)]
    assert dropped == list(range(3, QUERIES + 1, 3))
    reached = [e for k, e in enumerate(server.log, start=1) if k not in dropped]
    assert ["A" in fired(e) for e in reached] == run(A_SPEC, len(reached))
    assert not any("A" in fired(e) for k, e in enumerate(server.log, start=1) if k in dropped)


def test_a_query_ended_by_an_earlier_fault_is_not_seen_by_later_answer_faults(make_server):
    """FAULTS.md, Schedule: "the k-th query it sees gets the k-th draw whatever else happens";
    issue 7: a fault sees a query where its hook can act. A query an earlier fault already
    ended before the engine (here dropped) never reaches an ``after`` fault: with ``drop
    first=1`` then ``nxdomain every=2``, query 1 is dropped, query 2 is the nxdomain fault's
    1st (NOERROR) and query 3 its 2nd (NXDOMAIN)."""
    server = make_server()
    server.faults.add("drop qname=www.example.test. first=1 name=d")
    server.faults.add("nxdomain qname=www.example.test. every=2 name=n")
    got = [rcode_of(server, "www.example.test.", timeout=SHORT),
           rcode_of(server, "www.example.test."),
           rcode_of(server, "www.example.test."),
           rcode_of(server, "www.example.test.")]
    assert got == ["no reply", "NOERROR", "NXDOMAIN", "NOERROR"]
    assert [fired(e) for e in server.log] == [["d"], [], ["n"], []]
    assert server.log.entries()[0].rcode is None  # dropped: no reply
    assert server.log.entries()[2].rcode == dns.rcode.NXDOMAIN


def test_schedule_counts_only_queries_the_selector_matches(make_server):
    server = make_server()
    server.faults.add("nxdomain qname=www.example.test. every=2 name=n")
    got = []
    for _ in range(3):
        got.append(rcode_of(server, "mail.example.test."))
        got.append(rcode_of(server, "www.example.test."))
    assert got == ["NOERROR", "NOERROR", "NOERROR", "NXDOMAIN", "NOERROR", "NOERROR"]


def test_schedule_counts_udp_and_tcp_queries_alike(make_server):
    server = make_server()
    server.faults.add("nxdomain qname=www.example.test. every=2 name=n")
    got = [rcode_of(server, "www.example.test."), rcode_of(server, "www.example.test.", transport="tcp"),
           rcode_of(server, "www.example.test.", transport="tcp"), rcode_of(server, "www.example.test.")]
    assert got == ["NOERROR", "NXDOMAIN", "NOERROR", "NXDOMAIN"]


def test_reply_of_a_fired_fault_is_seen_by_the_client(make_server):
    server = make_server()
    server.faults.add("nxdomain qname=www.example.test. first=1")
    reply = ask(server, "www.example.test.")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.answer == []
    assert ask(server, "www.example.test.").rcode() == dns.rcode.NOERROR
