"""The fault language's last gaps (issue 9): negated selectors, selectors on EDNS option
codes, the verbatim answer fault. Over real loopback sockets with dnspython as the client.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.edns
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
