"""The reply cache: used only where no fault could act, and never changing what a client sees."""

import dns.message
import dns.rcode

from fakens import Server, Zone

ZONE = """
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
ns1  A   127.0.0.1
www  A   192.0.2.80
mail A   192.0.2.25
"""


def ask(server: Server, name: str, rdtype: str = "A", **kw: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **kw)  # type: ignore[arg-type]
    outcome = server.handle(query.to_wire(), ("127.0.0.1", 4000), ("127.0.0.1", 53), "udp")
    reply = dns.message.from_wire(outcome.messages[0])  # type: ignore[union-attr]
    assert reply.id == query.id
    return reply


def test_a_repeated_question_is_answered_from_the_cache_with_the_same_records() -> None:
    server = Server([Zone.from_text(ZONE)])
    first = ask(server, "www.example.test.")
    second = ask(server, "www.example.test.")
    assert server._cache.hits == 1
    assert first.answer == second.answer and first.authority == second.authority
    assert len(server.log) == 2 and server.log.entries()[-1].rcode == dns.rcode.NOERROR


def test_queries_no_fault_could_touch_use_the_cache_and_the_others_never_do() -> None:
    server = Server([Zone.from_text(ZONE)])
    server.faults.add("nxdomain qname=www.example.test. every=2 name=w")
    for _ in range(4):
        assert ask(server, "mail.example.test.").rcode() == dns.rcode.NOERROR
    assert server._cache.hits == 3  # mail: the fault's selector cannot match it
    rcodes = [ask(server, "www.example.test.").rcode() for _ in range(4)]
    assert rcodes == [dns.rcode.NOERROR, dns.rcode.NXDOMAIN] * 2  # every 2nd, never a cached reply
    assert server._cache.hits == 3


def test_a_selector_the_header_cannot_decide_keeps_every_query_off_the_cache() -> None:
    server = Server([Zone.from_text(ZONE)])
    server.faults.add("nodata edns=true name=e")  # EDNS is only known after parsing the query
    for _ in range(3):
        assert ask(server, "mail.example.test.").answer
    assert server._cache.hits == 0
    assert not ask(server, "mail.example.test.", use_edns=0).answer  # the fault acts on EDNS queries


def test_an_edit_empties_the_cache() -> None:
    zone = Zone.from_text(ZONE)
    server = Server([zone])
    ask(server, "www.example.test.")
    zone.edit(replace=["www 300 A 192.0.2.99"])
    assert ask(server, "www.example.test.").answer[0][0].address == "192.0.2.99"
