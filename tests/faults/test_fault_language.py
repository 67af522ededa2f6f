"""The fault language's last gaps (issue 9): negated selectors, selectors on EDNS option
codes, the verbatim answer fault. Over real loopback sockets with dnspython as the client.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
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


# -- the verbatim answer -----------------------------------------------------------------------


def rrsets(section: list[dns.rrset.RRset]) -> list[str]:
    return [line for r in section for line in r.to_text().splitlines()]


def test_verbatim_ns_answer_owned_by_another_name(server: Server) -> None:
    """A broken server answering an A query with an NS RRset of another owner, no AA."""
    server.faults.add('verbatim qname=www.example.test. answer="other.test. 300 IN NS ns.other.test." flags=none')
    reply = ask(server, WWW)
    assert rrsets(reply.answer) == ["other.test. 300 IN NS ns.other.test."]
    assert reply.rcode() == dns.rcode.NOERROR
    assert not reply.flags & dns.flags.AA and reply.flags & dns.flags.QR and reply.flags & dns.flags.RD
    assert reply.question[0].name == dns.name.from_text(WWW)
    assert ask(server, "ns1.example.test.").answer[0].rdtype == dns.rdatatype.A  # the selector holds


def test_verbatim_in_txt_to_a_chaos_query(server: Server) -> None:
    server.faults.add('verbatim qclass=CH qname=version.bind. answer="version.bind. 0 IN TXT \\"9.9.9\\""')
    reply = ask(server, "version.bind.", "TXT", rdclass="CH")
    assert reply.question[0].rdclass == dns.rdataclass.CH
    (txt,) = reply.answer
    assert txt.rdclass == dns.rdataclass.IN and txt.ttl == 0 and txt[0].strings == (b"9.9.9",)
    assert reply.flags & dns.flags.AA


def test_verbatim_authority_from_elsewhere_and_nxdomain_with_answers(server: Server) -> None:
    server.faults.add("verbatim", qname="www.example.test.", rcode="NXDOMAIN",
                      answer=["@ A 192.0.2.99", "@ 60 A 192.0.2.98"],
                      authority=["elsewhere.test. 7200 IN SOA ns.elsewhere.test. h.elsewhere.test. 1 2 3 4 5",
                                 "elsewhere.test. 7200 NS ns.elsewhere.test."],
                      additional="ns.elsewhere.test. 10 A 203.0.113.1; ns.elsewhere.test. 10 AAAA 2001:db8::53",
                      ttl=42)
    reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.NXDOMAIN
    (a,) = reply.answer  # two lines of one owner and type: one RRset, the first TTL written wins
    assert a.name == dns.name.from_text(WWW) and sorted(r.address for r in a) == ["192.0.2.98", "192.0.2.99"]
    assert [(str(r.name), dns.rdatatype.to_text(r.rdtype), r.ttl) for r in reply.authority] == [
        ("elsewhere.test.", "SOA", 7200), ("elsewhere.test.", "NS", 7200)]
    assert [dns.rdatatype.to_text(r.rdtype) for r in reply.additional] == ["A", "AAAA"]
    entry = server.log.entries()[-1]
    assert entry.faults[0]["type"] == "verbatim" and entry.rcode == dns.rcode.NXDOMAIN


def test_verbatim_over_tcp_with_given_flags_and_any_name(server: Server) -> None:
    """Computed from nothing: also for a name no zone serves (the engine would refuse it)."""
    server.faults.add('verbatim qname=**.nowhere.test. answer="@ TXT \\"a;b\\"; x.nowhere.test. 1 CH TXT y" '
                      'flags=RA,AD,TC name=v')
    reply = ask(server, "q.nowhere.test.", "TXT", transport="tcp")
    assert reply.rcode() == dns.rcode.NOERROR
    assert rrsets(reply.answer) == ['q.nowhere.test. 300 IN TXT "a;b"', 'x.nowhere.test. 1 CH TXT "y"']
    for bit in (dns.flags.RA, dns.flags.AD, dns.flags.TC):
        assert reply.flags & bit
    assert not reply.flags & dns.flags.AA
    fault = server.faults.get("v")
    assert fault is not None and build(str(fault)).values == fault.values  # round-trips through text


def test_verbatim_from_rrsets_and_a_fault_file(server: Server, tmp_path: pathlib.Path) -> None:
    import dns.rrset

    from fakens.faults.spec import load_fault_file

    ns = dns.rrset.from_text("other.test.", 300, "IN", "NS", "ns.other.test.")
    server.faults.add("verbatim", qname=WWW, answer=[ns])
    assert rrsets(ask(server, WWW).answer) == ["other.test. 300 IN NS ns.other.test."]
    server.faults.reset()
    path = tmp_path / "faults.toml"
    path.write_text('[[faults]]\ntype = "verbatim"\nqname = "www.example.test."\nrcode = "REFUSED"\n'
                    'flags = ["RA"]\nauthority = ["example.test. 5 IN NS a.test.", "example.test. 5 IN NS b.test."]\n')
    (fault,) = load_fault_file(str(path))
    server.faults.add(fault)
    reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.REFUSED and reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert [len(r) for r in reply.authority] == [2]


@pytest.mark.parametrize(("spec", "message"), [
    ('verbatim answer="www A not-an-address"', "fault verbatim: answer='www A not-an-address'"),
    ("verbatim rcode=BADVERS", "extended RCODE; use the rcode fault"),
    ("verbatim flags=AA,XX", "unknown flag 'XX'"),
])
def test_verbatim_bad_input_is_a_clear_error(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        build(spec)


def test_verbatim_as_a_scenario_table(tmp_path: pathlib.Path) -> None:
    """The structured form in a scenario: lists of record lines, flags as a list."""
    from fakens.scenario import load_scenario

    (tmp_path / "lab.toml").write_text(f'''
[[zones]]
origin = "example.test."
text = """{ZONE}"""

[[servers]]
name = "ns1.example.test."

[[servers.faults]]
type = "verbatim"
qname = "www.example.test."
flags = ["RA"]
rcode = "NXDOMAIN"
answer = ["other.test. 300 IN NS ns.other.test.", "other.test. 300 IN NS ns2.other.test."]
''')
    scenario = load_scenario(str(tmp_path / "lab.toml"))
    (fault,) = scenario.servers[0].faults
    with Server([ZONE], listen=["127.0.0.1:0"]) as server:
        server.faults.add(fault)
        reply = ask(server, WWW)
    assert reply.rcode() == dns.rcode.NXDOMAIN and reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert sorted(r.target.to_text() for r in reply.answer[0]) == ["ns.other.test.", "ns2.other.test."]
    bad = tmp_path / "bad.toml"
    bad.write_text(bad_text := (tmp_path / "lab.toml").read_text().replace('"NXDOMAIN"', '"BADVERS"'))
    assert "BADVERS" in bad_text
    with pytest.raises(ConfigError, match=r"servers\[0\]\.faults\[0\].*extended RCODE"):
        load_scenario(str(bad))
