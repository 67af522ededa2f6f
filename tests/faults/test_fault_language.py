"""The fault language's last gaps (issue 9): negated selectors, selectors on EDNS option
codes, the verbatim answer fault. Over real loopback sockets with dnspython as the client.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from helpers import ask

from fakens import Server
from fakens.errors import ConfigError
from fakens.faults import build
from fakens.selectors import Facts, Selector

ZONE = """$ORIGIN example.test.
$TTL 3600
@        SOA  ns1.example.test. hostmaster.example.test. 10 3600 600 604800 300
@        NS   ns1
ns1      A    192.0.2.1
www      A    192.0.2.80
www.sub  A    192.0.2.81
deep.www.sub A 192.0.2.82
"""


@pytest.fixture(scope="module")
def module_server() -> Iterator[Server]:
    with Server([ZONE], listen=["127.0.0.1:0"], name="ns1") as server:
        yield server


@pytest.fixture
def server(module_server: Server) -> Iterator[Server]:
    module_server.faults.reset()
    module_server.log.clear()
    yield module_server
    module_server.faults.reset()


# -- negated selectors ---------------------------------------------------------------------


def test_negated_qtype_covers_everything_but_soa(server: Server) -> None:
    """``qtype=!SOA``: a server that fails every type but SOA (the SOA still answers, so a
    monitoring check on the serial stays green while resolution is broken)."""
    server.faults.add("rcode rcode=SERVFAIL 'qtype=!SOA'")
    assert ask(server, "example.test.", "SOA").rcode() == dns.rcode.NOERROR
    assert ask(server, "example.test.", "SOA").answer[0].rdtype == dns.rdatatype.SOA
    for rdtype in ("A", "NS", "MX", "TXT"):
        assert ask(server, "www.example.test.", rdtype).rcode() == dns.rcode.SERVFAIL, rdtype


def test_negated_qtype_list_excludes_every_type_listed(server: Server) -> None:
    server.faults.add("nodata qtype=!A,NS")
    assert ask(server, "www.example.test.", "A").answer  # A untouched
    assert ask(server, "example.test.", "NS").answer  # NS untouched
    reply = ask(server, "example.test.", "SOA")
    assert reply.rcode() == dns.rcode.NOERROR and not reply.answer


def test_negated_subtree_covers_every_name_outside_it(server: Server) -> None:
    """``qname=!**.sub.example.test.``: NXDOMAIN for everything except one subtree."""
    server.faults.add("nxdomain qname=!**.sub.example.test.")
    assert ask(server, "www.example.test.").rcode() == dns.rcode.NXDOMAIN
    assert ask(server, "ns1.example.test.").rcode() == dns.rcode.NXDOMAIN
    for name in ("www.sub.example.test.", "deep.www.sub.example.test."):
        reply = ask(server, name)
        assert reply.rcode() == dns.rcode.NOERROR and reply.answer, name


def test_negated_transport_and_client(server: Server) -> None:
    server.faults.add("rcode rcode=REFUSED transport=!tcp")
    assert ask(server, "www.example.test.").rcode() == dns.rcode.REFUSED
    assert ask(server, "www.example.test.", transport="tcp").rcode() == dns.rcode.NOERROR
    server.faults.reset()
    server.faults.add("rcode rcode=REFUSED client=!127.0.0.0/8")
    assert ask(server, "www.example.test.").rcode() == dns.rcode.NOERROR


def test_negated_selectors_round_trip_through_the_spec(server: Server) -> None:
    fault = server.faults.add("nxdomain qname=!**.sub.example.test.,ns1.example.test. qtype=!SOA name=n")
    assert fault.spec()["qname"] == "!**.sub.example.test.,ns1.example.test."
    assert fault.spec()["qtype"] == "!SOA"
    rebuilt = build(str(fault))
    assert rebuilt.selector == fault.selector
    table = build({"type": "nxdomain", "qtype": ["!SOA", "!NS"]})
    assert table.selector == Selector(qtypes=frozenset({6, 2}), negated=frozenset({"qtype"}))


def test_negated_log_filters(server: Server) -> None:
    """The query log's filters read the same selectors: ``qtype="!SOA"``."""
    ask(server, "example.test.", "SOA")
    ask(server, "www.example.test.", "A")
    ask(server, "www.sub.example.test.", "AAAA")
    assert [e.qtype for e in server.log.entries(qtype="!SOA")] == [1, 28]
    assert [str(e.qname) for e in server.log.entries(qname="!**.sub.example.test.")] == [
        "example.test.", "www.example.test."]
    assert server.log.count(qtype="!SOA,A") == 1


@pytest.mark.parametrize(("values", "message"), [
    ({"edns": "!true"}, "edns is true or false, ! makes no sense there; write edns=false"),
    ({"do": "!false"}, "do is true or false"),
    ({"qtype": "SOA,!NS"}, "! negates the whole list, so it goes first (qtype=!SOA,NS"),
    ({"qtype": "!"}, "! without a value"),
])
def test_negation_where_it_makes_no_sense_is_a_clear_error(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("!", "!")):
        Selector.parse(values, context="fault rcode")
    with pytest.raises(ConfigError, match="fault rcode"):
        build("rcode", **values)


def test_a_negated_name_needs_a_question() -> None:
    """A connection has no question: ``qname=!x.`` is not met (the key reads a fact it lacks)."""
    selector = Selector.parse({"qname": "!www.example.test."})
    assert not selector.matches(Facts(transport="tcp"))
    assert selector.matches(Facts(qname=dns.name.from_text("ns1.example.test."), qtype=1))


# -- selectors on EDNS option codes ------------------------------------------------------------

PRIVATE = 65001  # a private-use option code (RFC 6891 section 9: 65001-65534)
WWW = "www.example.test."


def with_options(*codes: int, name: str = WWW, rdtype: str = "A") -> dns.message.Message:
    """A query with OPT carrying these option codes (data that parses where dnspython knows the code)."""
    data = {8: b"\x00\x01\x18\x00\xc0\x00\x02", 10: b"\x01" * 8, 15: b"\x00\x00"}  # ECS 192.0.2.0/24, COOKIE, EDE
    options = [dns.edns.GenericOption(dns.edns.OptionType.make(c), data.get(c, b"\x01")) for c in codes]
    return dns.message.make_query(name, rdtype, use_edns=0, options=options)


def test_edns_no_opt_only_when_the_query_carries_option_65001(server: Server) -> None:
    """``edns mode=no-opt edns_option=65001``: a server (or middlebox) that strips OPT from its
    replies only when the query carries one option; the same query without it keeps OPT."""
    server.faults.add(f"edns mode=no-opt edns_option={PRIVATE}")
    stripped = ask(server, with_options(PRIVATE))
    assert stripped.edns == -1 and stripped.answer  # the answer, without OPT
    assert ask(server, with_options(dns.edns.OptionType.COOKIE)).edns == 0
    assert ask(server, with_options()).edns == 0
    assert ask(server, with_options(dns.edns.OptionType.COOKIE, PRIVATE)).edns == -1  # one of the options is enough
    assert ask(server, with_options(PRIVATE), transport="tcp").edns == -1


@pytest.mark.parametrize("mode", ["formerr", "drop", "badvers"])
def test_edns_modes_that_end_the_query_select_on_an_option(server: Server, mode: str) -> None:
    server.faults.add(f"edns mode={mode} edns-option={PRIVATE}")  # - or _ in the key
    plain = ask(server, with_options(dns.edns.OptionType.NSID))
    assert plain.rcode() == dns.rcode.NOERROR and plain.answer
    if mode == "drop":
        with pytest.raises(dns.exception.Timeout):
            ask(server, with_options(PRIVATE), timeout=0.5)
        return
    reply = ask(server, with_options(PRIVATE))
    assert reply.rcode() == {"formerr": dns.rcode.FORMERR, "badvers": dns.rcode.BADVERS}[mode]
    assert not reply.answer


def test_edns_echo_options_selected_by_option(server: Server) -> None:
    server.faults.add(f"edns mode=echo-options edns_option={PRIVATE}")
    echoed = ask(server, with_options(PRIVATE))
    assert [int(o.otype) for o in echoed.options] == [PRIVATE]
    ecs = ask(server, dns.message.make_query(WWW, "A", use_edns=0, options=[
        dns.edns.ECSOption("192.0.2.0", 24)]))
    assert ecs.options == ()  # not selected: nothing echoed


def test_edns_option_unknown_means_any_code_fakens_does_not_know(server: Server) -> None:
    server.faults.add("rcode rcode=REFUSED edns_option=unknown")
    for known in (3, 8, 10, 12, 15, 19):  # NSID, ECS, COOKIE, PADDING, EDE, ZONEVERSION
        assert ask(server, with_options(known)).rcode() == dns.rcode.NOERROR, known
    for unknown in (PRIVATE, 4, 20, 65535):
        assert ask(server, with_options(unknown)).rcode() == dns.rcode.REFUSED, unknown
    assert ask(server, WWW).rcode() == dns.rcode.NOERROR  # no OPT: no option at all


def test_edns_option_by_name_negated_and_in_the_log(server: Server) -> None:
    fault = server.faults.add("nodata edns_option=!COOKIE,65001 name=n")
    assert fault.spec()["edns_option"] == "!10,65001"
    assert build(str(fault)).selector == fault.selector
    assert not ask(server, WWW).answer  # no OPT: carries neither
    assert not ask(server, with_options(dns.edns.OptionType.NSID)).answer
    assert ask(server, with_options(dns.edns.OptionType.COOKIE)).answer
    assert ask(server, with_options(PRIVATE)).answer
    assert server.log.count(edns_option=PRIVATE) == 1
    assert server.log.count(edns_option="cookie,unknown") == 2
    assert server.log.count(edns_option="!unknown") == 3
    with pytest.raises(ConfigError, match="edns_option='BOGUS': not an EDNS option"):
        server.faults.add("nodata edns_option=BOGUS")
    with pytest.raises(ConfigError, match="edns_option='70000'"):
        server.log.count(edns_option="70000")
