"""The reply cache: used only where no fault could act, and never changing what a client sees.

What a client sees is checked on the reply (the same bytes as the first reply but for the ID,
the same records, faults still acting); whether a reply came from the cache is read from the
cache's hit counter, not from timings (a shared machine makes any timing bound flaky: CI once
saw an engine answer within 4x of a cached one).
"""

import dns.message
import dns.rcode

from fakens import Server, Zone
from fakens.fastpath import ENTRY_OVERHEAD, SHARED_OVERHEAD, ReplyCache

ZONE = """
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
ns1  A   127.0.0.1
www  A   192.0.2.80
mail A   192.0.2.25
"""


REPEATS = 15


def handled_wire(server: Server, name: str, rdtype: str = "A", **kw: object) -> tuple[dns.message.Message, bytes]:
    """A query passed straight to server.handle (no socket: timings are the server's own); the
    reply and its bytes."""
    query = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    outcome = server.handle(query.to_wire(), ("127.0.0.1", 4000), ("127.0.0.1", 53), "udp")
    wire: bytes = outcome.messages[0]  # type: ignore[union-attr]
    reply = dns.message.from_wire(wire)
    assert reply.id == query.id
    return reply, wire


def handled(server: Server, name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    return handled_wire(server, name, rdtype, **kw)[0]


def hits(server: Server) -> int:
    """Replies served from the cache so far."""
    return server.pipeline.cache.hits


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_records() -> None:
    server = Server([Zone.from_text(ZONE)])
    first, first_wire = handled_wire(server, "www.example.test.")
    repeats = [handled_wire(server, "www.example.test.") for _ in range(REPEATS)]
    for reply, wire in repeats:
        assert wire[2:] == first_wire[2:]  # byte for byte but the ID
        assert reply.answer == first.answer and reply.authority == first.authority
    assert len(server.log) == REPEATS + 1  # a cached reply is logged like any other
    assert all(e.rcode == dns.rcode.NOERROR and e.qname == first.question[0].name for e in server.log)
    assert hits(server) == REPEATS, "repeats not served from the cache"
    handled(server, "wWw.example.test.")  # another spelling is another question
    assert hits(server) == REPEATS


def test_queries_no_fault_could_touch_use_the_cache_and_the_others_never_do() -> None:
    server = Server([Zone.from_text(ZONE)])
    server.faults.add("nxdomain qname=www.example.test. every=2 name=w")
    for _ in range(REPEATS + 1):
        assert handled(server, "mail.example.test.").rcode() == dns.rcode.NOERROR
    assert hits(server) == REPEATS, "mail not served from the cache"  # the selector cannot match mail
    rcodes = [handled(server, "www.example.test.").rcode() for _ in range(2 * REPEATS)]
    assert rcodes == [dns.rcode.NOERROR, dns.rcode.NXDOMAIN] * REPEATS  # every 2nd, never a cached reply
    assert hits(server) == REPEATS, "a query the fault could match was served from the cache"


def test_a_selector_the_header_cannot_decide_keeps_every_query_off_the_cache() -> None:
    server = Server([Zone.from_text(ZONE)])
    server.faults.add("nodata edns=true name=e")  # EDNS is only known after parsing the query
    for _ in range(REPEATS):
        assert handled(server, "mail.example.test.").answer
    assert hits(server) == 0, "a query the fault might match was served from the cache"
    plain = Server([Zone.from_text(ZONE)])  # the same question where no fault could match: cached
    for _ in range(REPEATS):
        handled(plain, "mail.example.test.")
    assert hits(plain) == REPEATS - 1
    assert not handled(server, "mail.example.test.", use_edns=0).answer  # the fault acts on EDNS queries


def test_an_edit_empties_the_cache() -> None:
    zone = Zone.from_text(ZONE)
    server = Server([zone])
    handled(server, "www.example.test.")
    zone.edit(replace=["www 300 A 192.0.2.99"])
    assert handled(server, "www.example.test.").answer[0][0].address == "192.0.2.99"


def test_a_fault_added_at_runtime_acts_on_the_very_next_query_of_a_cached_question() -> None:
    server = Server([Zone.from_text(ZONE)])
    for _ in range(3):
        handled(server, "www.example.test.")
    assert hits(server) == 2
    server.faults.add("nxdomain qname=www.example.test. name=n")
    assert handled(server, "www.example.test.").rcode() == dns.rcode.NXDOMAIN
    server.faults.remove("n")
    assert handled(server, "www.example.test.").rcode() == dns.rcode.NOERROR


def test_the_cache_is_bounded_by_bytes_and_forgets_the_oldest_first() -> None:
    cache: ReplyCache[None] = ReplyCache(limit_bytes=10 * (ENTRY_OVERHEAD + 100))
    keys = [b"k%03d" % i + bytes(46) for i in range(30)]  # 50-byte keys, 50-byte replies
    for key in keys:
        cache.put(key, bytes(50), None)
        assert cache.size <= cache.limit_bytes
    assert len(cache) == 10
    assert cache.get(keys[0], bytes(12)) is None  # the oldest went first
    assert cache.get(keys[-1], b"\x12\x34" + bytes(10)) == (b"\x12\x34" + bytes(48), None)  # the ID patched in
    cache.clear()
    assert len(cache) == 0 and cache.size == 0


def test_a_negated_selector_keeps_only_the_queries_it_covers_off_the_cache() -> None:
    """``qtype=!SOA`` is decided from the question: SOA queries (not covered) use the cache,
    every other type is answered by the fault, never from the cache."""
    server = Server([Zone.from_text(ZONE)])
    server.faults.add("nodata qtype=!SOA name=n")
    for _ in range(REPEATS + 1):
        assert handled(server, "example.test.", "SOA").answer
    assert hits(server) == REPEATS, "SOA (outside !SOA) not served from the cache"
    for _ in range(REPEATS):
        assert not handled(server, "www.example.test.", "A").answer
    assert hits(server) == REPEATS, "a query the negated selector covers was served from the cache"


def test_an_edns_option_selector_keeps_every_query_off_the_cache() -> None:
    """The options are in the OPT record, read only after the question: a fault on
    ``edns_option=65001`` could match any query, so none is answered from the cache."""
    import dns.edns

    server = Server([Zone.from_text(ZONE)])
    server.faults.add("edns mode=no-opt edns_option=65001 name=o")
    for _ in range(REPEATS):
        assert handled(server, "mail.example.test.", use_edns=0).edns == 0
    assert hits(server) == 0, "a query the fault might match was served from the cache"
    option = dns.edns.GenericOption(dns.edns.OptionType.make(65001), b"x")
    assert handled(server, "mail.example.test.", use_edns=0, options=[option]).edns == -1


def test_entries_of_a_shared_value_are_counted_at_what_they_take() -> None:
    """An express reply's cache entry shares its log template with all the others: it is
    counted at SHARED_OVERHEAD beyond its key and reply, so the same bytes hold more of them;
    evicting one takes back what it was counted at, whichever kind the oldest is."""

    class Shared:
        pass

    shared = Shared()
    cache: ReplyCache[object] = ReplyCache(limit_bytes=10 * (SHARED_OVERHEAD + 100), shared=Shared)
    keys = [b"k%03d" % i + bytes(46) for i in range(30)]  # 50-byte keys, 50-byte replies
    for key in keys:
        cache.put(key, bytes(50), shared)
    assert len(cache) == 10 and cache.size == 10 * (SHARED_OVERHEAD + 100)
    cache.put(b"own" + bytes(47), bytes(50), [1])  # a value of its own: ENTRY_OVERHEAD
    evicted = -(-(ENTRY_OVERHEAD + 100) // (SHARED_OVERHEAD + 100))  # the oldest shared ones, to make room
    assert len(cache) == 10 + 1 - evicted
    assert cache.size == (10 - evicted) * (SHARED_OVERHEAD + 100) + ENTRY_OVERHEAD + 100
    for key in keys[:10]:  # the own-valued entry is the oldest at last: evicted, counted back in full
        cache.put(key, bytes(50), shared)
    assert cache.get(b"own" + bytes(47), bytes(12)) is None
    assert len(cache) == 10 and cache.size == 10 * (SHARED_OVERHEAD + 100)
