"""Selectors: which queries a fault applies to (and, STYLE.md 7, which log entries a test means).

``Selector.parse`` / ``matches`` as tables of cases, then the same selectors on a
real server: the fault fires exactly on the queries the selector names.
"""

from __future__ import annotations

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from helpers import ask, require_ipv6_loopback

from fakens.errors import ConfigError
from fakens.selectors import SELECTOR_KEYS, Facts, Selector

from .conftest import fired, rcode_of

N = dns.name.from_text
T = dns.rdatatype
C = dns.rdataclass
OP = dns.opcode


def sel(**values) -> Selector:
    return Selector.parse(values)


def m(selector: Selector, qname: str | None = "www.example.test.", qtype: int = T.A, qclass: int = C.IN,
      opcode: int = OP.QUERY, transport: str = "udp", client: str | None = "127.0.0.1",
      edns: bool = False, do: bool = False, server: str | None = "fakens") -> bool:
    return selector.matches(Facts(N(qname) if qname is not None else None, qtype, qclass, opcode, transport,
                                  client, edns, do, server))


# -- query names ------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern, qname, expected", [
    # exact
    ("www.example.test.", "www.example.test.", True),
    ("www.example.test.", "WWW.Example.TEST.", True),
    ("WWW.EXAMPLE.test.", "www.example.test.", True),
    ("www.example.test.", "a.www.example.test.", False),
    ("www.example.test.", "example.test.", False),
    ("www.example.test.", "www.example.test.example.", False),
    # *. : strictly below, not the name itself
    ("*.example.test.", "www.example.test.", True),
    ("*.example.test.", "a.b.c.example.test.", True),
    ("*.example.test.", "example.test.", False),
    ("*.example.test.", "EXAMPLE.test.", False),
    ("*.example.test.", "test.", False),
    ("*.example.test.", "badexample.test.", False),
    ("*.example.test.", "www.example.net.", False),
    ("*.Example.TEST.", "Www.EXAMPLE.test.", True),
    # **. : the name and everything below
    ("**.example.test.", "example.test.", True),
    ("**.example.test.", "Example.Test.", True),
    ("**.example.test.", "www.example.test.", True),
    ("**.example.test.", "a.b.c.example.test.", True),
    ("**.example.test.", "test.", False),
    ("**.example.test.", "badexample.test.", False),
    ("**.io.", "nic.io.", True),
    ("**.io.", "io.", True),
    ("**.io.", "radio.", False),
    # everything
    ("**", "example.test.", True),
    ("**", ".", True),
])
def test_qname_patterns(pattern, qname, expected):
    assert m(sel(qname=pattern), qname) is expected


def test_qname_below_root_matches_every_name_but_the_root():
    s = sel(qname="*.")
    assert m(s, "www.example.test.") is True
    assert m(s, ".") is False


def test_qname_comma_list_is_any_of():
    s = sel(qname="www.example.test., *.wild.example.test., **.io.")
    assert m(s, "www.example.test.")
    assert m(s, "x.wild.example.test.")
    assert not m(s, "wild.example.test.")
    assert m(s, "io.") and m(s, "nic.io.")
    assert not m(s, "mail.example.test.")


def test_qname_list_from_a_table_array():
    s = sel(qname=["www.example.test.", "*.io."])
    assert m(s, "www.example.test.") and m(s, "nic.io.") and not m(s, "io.")


def test_qname_selector_does_not_match_a_query_without_question():
    assert not sel(qname="**").matches(Facts())


def test_bad_qname_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="qname"):
        sel(qname="a..b.")


# -- types, classes, opcodes ---------------------------------------------------------------------


@pytest.mark.parametrize("value, qtype, expected", [
    ("A", T.A, True),
    ("A", T.AAAA, False),
    ("a,aaaa", T.AAAA, True),
    ("A, AAAA", T.MX, False),
    ("AXFR,IXFR", T.AXFR, True),
    ("AXFR,IXFR", T.IXFR, True),
    ("AXFR,IXFR", T.SOA, False),
    ("AXFR", T.IXFR, False),
    ("IXFR", T.IXFR, True),
    ("ANY", T.ANY, True),
    ("TYPE65", 65, True),
    ("CAA", T.CAA, True),
])
def test_qtype_lists(value, qtype, expected):
    assert m(sel(qtype=value), qtype=qtype) is expected


def test_qtype_list_from_a_table_array():
    s = sel(qtype=["A", "AAAA"])
    assert m(s, qtype=T.A) and m(s, qtype=T.AAAA) and not m(s, qtype=T.TXT)


def test_unknown_qtype_is_an_error_naming_key_and_value():
    with pytest.raises(ConfigError) as e:
        sel(qtype="A,BOGUS")
    assert "qtype" in str(e.value) and "BOGUS" in str(e.value)


@pytest.mark.parametrize("value, qclass, expected", [
    ("IN", C.IN, True), ("IN", C.CH, False), ("CH", C.CH, True), ("ch,hs", C.HS, True), ("CH", C.IN, False),
])
def test_qclass(value, qclass, expected):
    assert m(sel(qclass=value), qclass=qclass) is expected


@pytest.mark.parametrize("value, opcode, expected", [
    ("QUERY", OP.QUERY, True),
    ("QUERY", OP.NOTIFY, False),
    ("NOTIFY", OP.NOTIFY, True),
    ("notify", OP.NOTIFY, True),
    ("NOTIFY", OP.QUERY, False),
    ("UPDATE", OP.UPDATE, True),
    ("UPDATE", OP.NOTIFY, False),
    ("NOTIFY,UPDATE", OP.UPDATE, True),
    ("NOTIFY,UPDATE", OP.QUERY, False),
])
def test_opcode(value, opcode, expected):
    assert m(sel(opcode=value), opcode=opcode) is expected


def test_unknown_opcode_and_class_are_errors():
    with pytest.raises(ConfigError, match="opcode"):
        sel(opcode="BOGUS")
    with pytest.raises(ConfigError, match="qclass"):
        sel(qclass="BOGUS")


# -- transport, client, edns, do, server ------------------------------------------------------------


@pytest.mark.parametrize("value, transport, expected", [
    ("udp", "udp", True), ("udp", "tcp", False), ("tcp", "tcp", True), ("TCP", "tcp", True),
    ("tcp", "udp", False), ("udp,tcp", "tcp", True),
])
def test_transport(value, transport, expected):
    assert m(sel(transport=value), transport=transport) is expected


def test_bad_transport_is_an_error():
    with pytest.raises(ConfigError, match="transport"):
        sel(transport="quic")


@pytest.mark.parametrize("value, client, expected", [
    ("127.0.0.2", "127.0.0.2", True),
    ("127.0.0.2", "127.0.0.1", False),
    ("127.0.0.0/8", "127.1.2.3", True),
    ("127.0.0.0/8", "10.0.0.1", False),
    ("10.0.0.0/8,192.0.2.0/24", "192.0.2.77", True),
    ("10.0.0.0/8,192.0.2.0/24", "198.51.100.1", False),
    ("::1", "::1", True),
    ("::1", "127.0.0.1", False),
    ("2001:db8::/32", "2001:db8:1::53", True),
    ("2001:db8::/32", "2001:db9::53", False),
    ("2001:DB8::1", "2001:db8::1", True),
    ("127.0.0.0/8,::1", "::1", True),
    ("127.0.0.1/8", "127.9.9.9", True),  # host bits allowed, as ip_network(strict=False)
])
def test_client_address_and_network(value, client, expected):
    assert m(sel(client=value), client=client) is expected


def test_client_selector_does_not_match_an_unknown_client():
    assert m(sel(client="127.0.0.0/8"), client=None) is False


def test_bad_client_is_an_error_naming_the_value():
    with pytest.raises(ConfigError) as e:
        sel(client="not-an-address")
    assert "client" in str(e.value) and "not-an-address" in str(e.value)


@pytest.mark.parametrize("key", ["edns", "do"])
@pytest.mark.parametrize("value, present, expected", [
    ("true", True, True), ("true", False, False), ("false", False, True), ("false", True, False),
    (True, True, True), (False, True, False), ("yes", True, True), ("no", False, True),
    ("1", True, True), ("0", True, False),
])
def test_edns_and_do_booleans(key, value, present, expected):
    assert m(sel(**{key: value}), **{key: present}) is expected


def test_edns_and_do_together():
    s = sel(edns="true", do="false")
    assert m(s, edns=True, do=False)
    assert not m(s, edns=True, do=True)
    assert not m(s, edns=False, do=False)


@pytest.mark.parametrize("key", ["edns", "do"])
def test_bad_boolean_is_an_error(key):
    with pytest.raises(ConfigError) as e:
        sel(**{key: "maybe"})
    assert key in str(e.value) and "maybe" in str(e.value)


def test_server():
    s = sel(server="ns1,ns2")
    assert m(s, server="ns1") and m(s, server="ns2")
    assert not m(s, server="ns3")
    assert not m(s, server=None)


# -- combination, empty, round trip ------------------------------------------------------------


def test_empty_selector_matches_everything():
    s = Selector.parse({})
    assert s.empty
    assert m(s) and m(s, "anything.example.", T.TXT, C.CH, OP.UPDATE, "tcp", "::1", True, True, "x")
    assert s.matches(Facts())


def test_every_criterion_must_hold():
    s = sel(qname="*.example.test.", qtype="A", transport="udp", client="127.0.0.0/8", edns="true")
    assert m(s, edns=True)
    assert not m(s, "example.test.", edns=True)
    assert not m(s, qtype=T.AAAA, edns=True)
    assert not m(s, transport="tcp", edns=True)
    assert not m(s, client="10.0.0.1", edns=True)
    assert not m(s, edns=False)


def test_unknown_key_is_refused_with_the_valid_ones():
    with pytest.raises(ConfigError) as e:
        Selector.parse({"qname": "x.", "color": "red"})
    assert "color" in str(e.value)
    for key in SELECTOR_KEYS:
        assert key in str(e.value)


def test_a_restricted_selector_names_the_allowed_keys():
    with pytest.raises(ConfigError) as e:
        Selector.parse({"qname": "x."}, allowed=("client", "server"), context="fault tcp-refused")
    text = str(e.value)
    assert "qname" in text and "client" in text and "server" in text and "tcp-refused" in text


@pytest.mark.parametrize("values", [
    {"qname": "www.example.test."},
    {"qname": "*.example.test.,**.io."},
    {"qname": "**"},
    {"qtype": "AXFR,IXFR", "qclass": "IN"},
    {"opcode": "NOTIFY,UPDATE", "transport": "tcp"},
    {"client": "127.0.0.2,2001:db8::/32", "edns": "true", "do": "false"},
    {"server": "ns1,ns2"},
])
def test_to_spec_round_trips(values):
    s = Selector.parse(values)
    assert Selector.parse(s.to_spec()) == s


def test_to_spec_round_trips_a_wildcard_below_the_root():
    """``*.`` (every name strictly below the root) must not come back as ``**`` (the root too)."""
    s = Selector.parse({"qname": "*."})
    again = Selector.parse(s.to_spec())
    assert again == s
    assert m(again, ".") is False


# -- through a real server ---------------------------------------------------------------------


def test_transport_tcp_fires_only_on_tcp(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED transport=tcp name=t")
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    assert rcode_of(server, "www.example.test.", transport="tcp") == "REFUSED"
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    assert [(e.transport, fired(e)) for e in server.log] == [("udp", []), ("tcp", ["t"]), ("udp", [])]


def test_transport_udp_fires_only_on_udp(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED transport=udp")
    assert rcode_of(server, "www.example.test.") == "REFUSED"
    assert rcode_of(server, "www.example.test.", transport="tcp") == "NOERROR"


def test_edns_false_fires_only_without_opt(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED edns=false name=e")
    assert rcode_of(server, "www.example.test.", use_edns=False) == "REFUSED"
    assert rcode_of(server, "www.example.test.", use_edns=0) == "NOERROR"
    assert rcode_of(server, "www.example.test.", use_edns=0, want_dnssec=True) == "NOERROR"
    assert [fired(e) for e in server.log] == [["e"], [], []]


def test_edns_true_fires_only_with_opt(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED edns=true")
    assert rcode_of(server, "www.example.test.", use_edns=False) == "NOERROR"
    assert rcode_of(server, "www.example.test.", use_edns=0) == "REFUSED"


def test_do_true_fires_only_with_the_do_bit(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED do=true name=d")
    assert rcode_of(server, "www.example.test.", use_edns=0, want_dnssec=True) == "REFUSED"
    assert rcode_of(server, "www.example.test.", use_edns=0) == "NOERROR"
    assert rcode_of(server, "www.example.test.", use_edns=False) == "NOERROR"
    assert [fired(e) for e in server.log] == [["d"], [], []]


def test_client_address_fires_only_from_that_source(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED client=127.0.0.2 name=c")
    assert rcode_of(server, "www.example.test.", source="127.0.0.2") == "REFUSED"
    assert rcode_of(server, "www.example.test.", source="127.0.0.1") == "NOERROR"
    assert rcode_of(server, "www.example.test.", source="127.0.0.3") == "NOERROR"
    assert rcode_of(server, "www.example.test.", source="127.0.0.2", transport="tcp") == "REFUSED"
    assert [(e.client[0], fired(e)) for e in server.log] == [
        ("127.0.0.2", ["c"]), ("127.0.0.1", []), ("127.0.0.3", []), ("127.0.0.2", ["c"])]


def test_client_network_through_a_server(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED client=127.0.0.2/31")  # .2 and .3
    got = [rcode_of(server, "www.example.test.", source=f"127.0.0.{i}") for i in (1, 2, 3, 4)]
    assert got == ["NOERROR", "REFUSED", "REFUSED", "NOERROR"]


def test_ipv6_client_through_a_server(make_server):
    require_ipv6_loopback()  # a host without ::1 skips (locally) or fails (CI=true) here
    server = make_server(listen=["[::1]:0"])  # with ::1 present the server must start
    assert server.addresses[0][0] == "::1"
    server.faults.add("rcode rcode=REFUSED client=::1 name=v6")
    assert rcode_of(server, "www.example.test.") == "REFUSED"
    server.faults.update("v6", client="2001:db8::/32")
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    server.faults.update("v6", client="::/0")
    assert rcode_of(server, "www.example.test.", transport="tcp") == "REFUSED"


def notify_message(zone: str) -> dns.message.Message:
    """A NOTIFY for *zone*'s SOA (AA set, RD clear), as a primary sends it."""
    message = dns.message.make_query(zone, "SOA", flags=dns.flags.AA)
    message.set_opcode(OP.NOTIFY)
    return message


def test_opcode_notify_fires_on_an_incoming_notify(make_server):
    server = make_server()
    notify = ask(server, notify_message("example.test."))
    assert notify.opcode() == OP.NOTIFY and notify.rcode() == dns.rcode.NOERROR  # without the fault
    server.faults.add("rcode rcode=REFUSED opcode=NOTIFY name=n")
    notify = ask(server, notify_message("example.test."))
    assert notify.opcode() == OP.NOTIFY
    assert notify.rcode() == dns.rcode.REFUSED
    assert ask(server, "example.test.", "SOA").rcode() == dns.rcode.NOERROR
    assert [(e.opcode, fired(e)) for e in server.log] == [(OP.NOTIFY, []), (OP.NOTIFY, ["n"]), (OP.QUERY, [])]


def test_qname_and_qtype_through_a_server(make_server):
    server = make_server()
    server.faults.add("nxdomain qname=*.example.test. qtype=A,MX")
    assert rcode_of(server, "www.example.test.") == "NXDOMAIN"
    assert rcode_of(server, "WWW.EXAMPLE.TEST.") == "NXDOMAIN"
    assert rcode_of(server, "www.example.test.", "AAAA") == "NOERROR"
    assert rcode_of(server, "example.test.", "MX") == "NOERROR"  # not strictly below
    assert rcode_of(server, "mail.example.test.", "MX") == "NXDOMAIN"


def test_qclass_through_a_server(make_server):
    server = make_server()
    server.faults.add("rcode rcode=REFUSED qclass=CH")
    assert rcode_of(server, "www.example.test.") == "NOERROR"
    assert rcode_of(server, "id.server.", "TXT", rdclass="CH") == "REFUSED"


def test_server_selector_through_servers(make_server):
    ns1 = make_server(name="ns1")
    ns2 = make_server(name="ns2")
    for srv in (ns1, ns2):
        srv.faults.add("rcode rcode=REFUSED server=ns1")
    assert rcode_of(ns1, "www.example.test.") == "REFUSED"
    assert rcode_of(ns2, "www.example.test.") == "NOERROR"


def test_the_query_log_filters_with_the_same_selector(make_server):
    """STYLE.md 7: the selector that scopes a fault also filters the query log, so a
    wildcard, a type list or a client network means the same thing in both."""
    server = make_server()
    for name, qtype, src in [("www.example.test.", "A", "127.0.0.2"), ("example.test.", "SOA", "127.0.0.1"),
                             ("mail.example.test.", "AAAA", "127.0.0.3"), ("www.example.test.", "MX", "127.0.0.1")]:
        rcode_of(server, name, qtype, source=src)
    spec = {"qname": "*.example.test.", "qtype": "A,AAAA", "client": "127.0.0.0/30"}
    selector = Selector.parse(spec)
    expected = [e for e in server.log if selector.matches(Facts(
        e.qname, e.qtype, e.qclass, e.opcode, e.transport, e.client[0], e.edns is not None,
        bool(e.edns and e.edns["do"]), e.server))]
    assert [(e.qname.to_text(), e.qtype_text) for e in expected] == [
        ("www.example.test.", "A"), ("mail.example.test.", "AAAA")]
    assert server.log.entries(**spec) == expected



def test_tcp_refused_reset_honours_client_and_schedule(make_server):
    """tcp-refused acts before any query is read: client selector and schedule still apply."""
    server = make_server()
    server.faults.add("tcp-refused mode=reset client=127.0.0.2 first=1 name=r")
    assert rcode_of(server, "www.example.test.", transport="tcp", source="127.0.0.1") == "NOERROR"
    with pytest.raises((ConnectionError, EOFError, dns.exception.DNSException, OSError)):
        ask(server, "www.example.test.", transport="tcp", source="127.0.0.2")
    assert rcode_of(server, "www.example.test.", transport="tcp", source="127.0.0.2") == "NOERROR"  # first=1 spent
    assert rcode_of(server, "www.example.test.", source="127.0.0.2") == "NOERROR"  # UDP untouched
    resets = [e for e in server.log if "r" in fired(e)]
    assert len(resets) == 1 and resets[0].client[0] == "127.0.0.2"
