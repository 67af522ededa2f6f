"""Zone transfers over real sockets: AXFR, IXFR, access lists, TSIG."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

import fakens

from .conftest import (
    EXAMPLE_ZONE,
    check_wire,
    dnslib_parse,
    example_zone,
    raw_exchange,
    tcp_stream,
)

ORIGIN = "example.test."
OLD_SERIAL = 2024010101
KEY_NAME = "xfr-key."
SECRET = base64.b64encode(b"fakens integration tsig secret!!").decode()
OTHER_SECRET = base64.b64encode(b"a completely different secret...").decode()


def generated_zone(count: int = 3000) -> fakens.Zone:
    text = f"""$ORIGIN gen.test.
$TTL 300
@ SOA ns1 hostmaster 7 7200 900 1209600 300
@ NS ns1
ns1 A 127.0.0.1
$GENERATE 1-{count} host-$ AAAA 2001:db8::$
"""
    return fakens.Zone.from_text(text)


def file_zone() -> dns.zone.Zone:
    return dns.zone.from_file(EXAMPLE_ZONE, origin=ORIGIN, relativize=False)


def axfr_zone(server: fakens.Server, origin: str = ORIGIN, **kwargs: Any) -> dns.zone.Zone:
    host, port = server.addresses[0]
    return dns.zone.from_xfr(dns.query.xfr(host, origin, port=port, timeout=5, relativize=False, **kwargs),
                             relativize=False)


def ixfr_query(origin: str, serial: int) -> dns.message.Message:
    query = dns.message.make_query(origin, "IXFR")
    rrset = query.find_rrset(query.authority, dns.name.from_text(origin), dns.rdataclass.IN, dns.rdatatype.SOA,
                             create=True, force_unique=True)
    rrset.add(dns.rdata.from_text("IN", "SOA", f". . {serial} 0 0 0 0"), 0)
    return query


def records(stream: list[tuple[dns.message.Message, bytes]]) -> list[tuple[str, str, int | None]]:
    """(owner, type, serial of an SOA) for every record of a transfer, in order."""
    out = []
    for message, _ in stream:
        for rrset in message.answer:
            for rdata in rrset:
                out.append((rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype),
                            rdata.serial if rrset.rdtype == dns.rdatatype.SOA else None))
    return out


def keyring(secret: str = SECRET, name: str = KEY_NAME) -> dict[dns.name.Name, dns.tsig.Key]:
    ring: dict[dns.name.Name, dns.tsig.Key] = dns.tsigkeyring.from_text({name: secret})
    return ring


def signed(query: dns.message.Message, secret: str = SECRET, name: str = KEY_NAME) -> dns.message.Message:
    query.use_tsig(keyring(secret, name), keyname=name)
    return query


# -- AXFR --------------------------------------------------------------------------------------


def test_axfr_equals_the_zone(server: fakens.Server) -> None:
    assert axfr_zone(server) == file_zone()


def test_axfr_raw_soa_first_and_last(server: fakens.Server) -> None:
    stream = tcp_stream(server, dns.message.make_query(ORIGIN, "AXFR"))
    recs = records(stream)
    assert recs[0] == (ORIGIN, "SOA", OLD_SERIAL)
    assert recs[-1] == (ORIGIN, "SOA", OLD_SERIAL)
    assert [r for r in recs[1:-1] if r[1] == "SOA"] == []
    assert len(recs) == sum(len(rds) for _, rds in _zone_rdatasets(file_zone())) + 1
    first, _wire = stream[0]
    assert first.flags & dns.flags.AA and first.flags & dns.flags.QR
    assert first.rcode() == dns.rcode.NOERROR
    assert first.question[0].name == dns.name.from_text(ORIGIN)
    assert first.question[0].rdtype == dns.rdatatype.AXFR


def _rdatas(zone: dns.zone.Zone, name: str, rdtype: str) -> list[str]:
    rdataset = zone.get_rdataset(name, rdtype)
    assert rdataset is not None, f"no {name} {rdtype}"
    return [r.to_text() for r in rdataset]


def _zone_rdatasets(zone: dns.zone.Zone) -> Iterator[tuple[dns.name.Name, dns.rdataset.Rdataset]]:
    for name, node in zone.nodes.items():
        for rdataset in node.rdatasets:
            yield name, rdataset


def test_axfr_of_a_big_zone_is_several_messages(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(zones=[generated_zone(3000)])
    stream = tcp_stream(server, dns.message.make_query("gen.test.", "AXFR"))
    assert len(stream) > 1
    recs = records(stream)
    assert recs[0][1] == "SOA" and recs[-1][1] == "SOA"
    assert len(recs) == 3000 + 4  # SOA, NS, ns1 A, 3000 AAAA, SOA
    for i, (message, wire) in enumerate(stream):
        assert len(wire) <= 65535
        assert message.rcode() == dns.rcode.NOERROR
        assert message.id == stream[0][0].id
        record = dnslib_parse(wire)
        assert record.header.qr == 1
        if i > 0:  # RFC 5936 2.2: the question only in the first message (or in all); dnspython accepts both
            assert len(message.question) in (0, 1)
    # and dnspython's own transfer code agrees
    zone = axfr_zone(server, "gen.test.")
    assert len(zone.nodes) == 3000 + 2
    assert _rdatas(zone, "host-2999.gen.test.", "AAAA") == ["2001:db8::2999"]


def test_axfr_over_udp_is_formerr(server: fakens.Server) -> None:
    query = dns.message.make_query(ORIGIN, "AXFR")
    reply = check_wire(raw_exchange(server, query.to_wire(), "udp"))
    assert reply.rcode() == dns.rcode.FORMERR
    assert reply.id == query.id


def test_axfr_of_a_non_apex_name_is_notauth(server: fakens.Server) -> None:
    stream = tcp_stream(server, dns.message.make_query("www.example.test.", "AXFR"))
    assert len(stream) == 1
    assert stream[0][0].rcode() == dns.rcode.NOTAUTH
    assert not stream[0][0].answer


def test_axfr_of_an_unserved_zone_is_notauth(server: fakens.Server) -> None:
    stream = tcp_stream(server, dns.message.make_query("example.org.", "AXFR"))
    assert stream[0][0].rcode() == dns.rcode.NOTAUTH


# -- IXFR --------------------------------------------------------------------------------------


def test_ixfr_after_an_edit_gets_the_delta(server: fakens.Server) -> None:
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    assert server.zone(ORIGIN).serial == OLD_SERIAL + 1
    stream = tcp_stream(server, ixfr_query(ORIGIN, OLD_SERIAL))
    assert records(stream) == [
        (ORIGIN, "SOA", OLD_SERIAL + 1),
        (ORIGIN, "SOA", OLD_SERIAL),
        (ORIGIN, "SOA", OLD_SERIAL + 1),
        ("new.example.test.", "A", None),
        (ORIGIN, "SOA", OLD_SERIAL + 1),
    ]


def test_ixfr_inbound_xfr_applies_the_delta(server: fakens.Server) -> None:
    zone = server.zone(ORIGIN)
    zone.edit(add=["new 300 A 192.0.2.99"], remove=["www AAAA"])
    zone.edit(replace=["mail 3600 A 192.0.2.26"])
    host, port = server.addresses[0]
    local = file_zone()
    query, serial = dns.xfr.make_query(local)
    assert serial == OLD_SERIAL and query.question[0].rdtype == dns.rdatatype.IXFR
    dns.query.inbound_xfr(host, local, query, port=port, timeout=5)
    assert local == axfr_zone(server)
    assert _rdatas(local, "new.example.test.", "A") == ["192.0.2.99"]
    assert local.get_rdataset("www.example.test.", "AAAA") is None
    assert _rdatas(local, "mail.example.test.", "A") == ["192.0.2.26"]
    assert _rdatas(local, ORIGIN, "SOA")[0].split()[2] == str(OLD_SERIAL + 2)


def test_ixfr_with_dnspython_xfr_and_serial(server: fakens.Server) -> None:
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    host, port = server.addresses[0]
    messages = list(dns.query.xfr(host, ORIGIN, rdtype=dns.rdatatype.IXFR, serial=OLD_SERIAL, port=port,
                                  timeout=5, relativize=False))
    rrsets = [r for m in messages for r in m.answer]
    soas = [r[0].serial for r in rrsets if r.rdtype == dns.rdatatype.SOA]
    assert soas[:2] == [OLD_SERIAL + 1, OLD_SERIAL] and soas[-1] == OLD_SERIAL + 1
    added = [r for r in rrsets if r.rdtype == dns.rdatatype.A]
    assert [(r.name.to_text(), r[0].address) for r in added] == [("new.example.test.", "192.0.2.99")]


def test_ixfr_with_the_current_serial_is_a_single_soa(server: fakens.Server) -> None:
    stream = tcp_stream(server, ixfr_query(ORIGIN, OLD_SERIAL))
    assert records(stream) == [(ORIGIN, "SOA", OLD_SERIAL)]
    assert stream[0][0].rcode() == dns.rcode.NOERROR
    assert stream[0][0].flags & dns.flags.AA


def test_ixfr_with_a_serial_older_than_the_history_is_the_whole_zone(server: fakens.Server) -> None:
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    stream = tcp_stream(server, ixfr_query(ORIGIN, 5))
    recs = records(stream)
    assert recs[0] == (ORIGIN, "SOA", OLD_SERIAL + 1)
    assert recs[1][1] != "SOA"  # AXFR form, not a difference sequence
    assert recs[-1] == (ORIGIN, "SOA", OLD_SERIAL + 1)
    axfr = records(tcp_stream(server, dns.message.make_query(ORIGIN, "AXFR")))
    assert sorted(recs) == sorted(axfr)
    # dnspython applies it as a full zone
    host, port = server.addresses[0]
    local = dns.zone.Zone(ORIGIN, relativize=False)
    dns.query.inbound_xfr(host, local, ixfr_query(ORIGIN, 5), port=port, timeout=5)
    assert local == axfr_zone(server)


def test_ixfr_over_udp_with_an_old_serial_is_a_single_soa(server: fakens.Server) -> None:
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    query = ixfr_query(ORIGIN, OLD_SERIAL)
    reply = check_wire(raw_exchange(server, query.to_wire(), "udp"))
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.flags & dns.flags.AA
    assert len(reply.answer) == 1 and reply.answer[0].rdtype == dns.rdatatype.SOA
    assert len(reply.answer[0]) == 1 and reply.answer[0][0].serial == OLD_SERIAL + 1


def test_ixfr_over_udp_with_the_current_serial_is_a_single_soa(server: fakens.Server) -> None:
    reply = check_wire(raw_exchange(server, ixfr_query(ORIGIN, OLD_SERIAL).to_wire(), "udp"))
    assert reply.rcode() == dns.rcode.NOERROR
    assert [(r.rdtype, r[0].serial) for r in reply.answer] == [(dns.rdatatype.SOA, OLD_SERIAL)]


def test_inbound_xfr_udp_first_falls_back_to_tcp(server: fakens.Server) -> None:
    server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    host, port = server.addresses[0]
    local = file_zone()
    query, _ = dns.xfr.make_query(local)
    dns.query.inbound_xfr(host, local, query, port=port, timeout=5, udp_mode=dns.query.UDPMode.TRY_FIRST)
    assert local == axfr_zone(server)


def test_ixfr_without_soa_in_authority_is_formerr(server: fakens.Server) -> None:
    stream = tcp_stream(server, dns.message.make_query(ORIGIN, "IXFR"))
    assert stream[0][0].rcode() == dns.rcode.FORMERR


# -- access ------------------------------------------------------------------------------------


def test_allow_transfer_refuses_other_clients(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(allow_transfer=["127.0.0.2"])
    for query in [dns.message.make_query(ORIGIN, "AXFR"), ixfr_query(ORIGIN, 1)]:
        stream = tcp_stream(server, query)
        assert len(stream) == 1
        assert stream[0][0].rcode() == dns.rcode.REFUSED
        assert not stream[0][0].answer
    # ordinary queries are not affected
    reply = check_wire(raw_exchange(server, dns.message.make_query("www.example.test.", "A").to_wire()))
    assert reply.answer


def test_allow_transfer_network_allows(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(allow_transfer=["127.0.0.0/8"])
    assert axfr_zone(server) == file_zone()


# -- TSIG --------------------------------------------------------------------------------------


@pytest.fixture
def tsig_server(make_server: Callable[..., fakens.Server]) -> fakens.Server:
    return make_server(zones=[example_zone(), generated_zone(3000)], tsig_keys={KEY_NAME: SECRET},
                       transfer_requires_tsig=True)


def test_tsig_unsigned_axfr_refused(tsig_server: fakens.Server) -> None:
    stream = tcp_stream(tsig_server, dns.message.make_query(ORIGIN, "AXFR"))
    assert len(stream) == 1 and stream[0][0].rcode() == dns.rcode.REFUSED


def test_tsig_signed_axfr_every_message_verified(tsig_server: fakens.Server) -> None:
    stream = tcp_stream(tsig_server, signed(dns.message.make_query("gen.test.", "AXFR")))
    assert len(stream) > 1
    for message, wire in stream:
        assert message.had_tsig, "every message of the transfer is signed"
        assert message.tsig_error == 0
        assert dnslib_parse(wire).ar[-1].rtype == 250  # TSIG last in ADDITIONAL
    assert len(records(stream)) == 3000 + 4


def test_tsig_signed_axfr_with_dnspython(tsig_server: fakens.Server) -> None:
    zone = axfr_zone(tsig_server, keyring=keyring(), keyname=KEY_NAME)
    assert zone == file_zone()
    gen = axfr_zone(tsig_server, "gen.test.", keyring=keyring(), keyname=KEY_NAME)
    assert len(gen.nodes) == 3002


def test_tsig_signed_ixfr(tsig_server: fakens.Server) -> None:
    tsig_server.zone(ORIGIN).edit(add=["new 300 A 192.0.2.99"])
    stream = tcp_stream(tsig_server, signed(ixfr_query(ORIGIN, OLD_SERIAL)))
    assert all(m.had_tsig for m, _ in stream)
    assert ("new.example.test.", "A", None) in records(stream)


def test_tsig_signed_ordinary_query_gets_a_signed_reply(tsig_server: fakens.Server) -> None:
    query = signed(dns.message.make_query("www.example.test.", "A"))
    for transport in ("udp", "tcp"):
        reply = check_wire(raw_exchange(tsig_server, query.to_wire(), transport), query)
        assert reply.had_tsig and reply.answer


@pytest.mark.parametrize("secret,name", [(OTHER_SECRET, KEY_NAME), (SECRET, "unknown-key.")],
                         ids=["wrong-secret", "unknown-key-name"])
def test_tsig_wrong_key_is_notauth(tsig_server: fakens.Server, secret: str, name: str) -> None:
    query = signed(dns.message.make_query(ORIGIN, "AXFR"), secret, name)
    reply = check_wire(raw_exchange(tsig_server, query.to_wire(), "tcp"), keyring=False)  # unsigned error TSIG
    assert reply.rcode() == dns.rcode.NOTAUTH
    assert reply.id == query.id
    assert not reply.answer


@pytest.mark.parametrize("secret,name,error", [(OTHER_SECRET, KEY_NAME, dns.rcode.BADSIG),
                                               (SECRET, "unknown-key.", dns.rcode.BADKEY)],
                         ids=["BADSIG", "BADKEY"])
def test_tsig_error_reply_carries_tsig_error_rfc8945(tsig_server: fakens.Server, secret: str, name: str, error: int) -> None:
    """RFC 8945 5.2.1/5.2.2: NOTAUTH with an (unsigned) TSIG RR whose error is BADSIG / BADKEY."""
    query = signed(dns.message.make_query(ORIGIN, "AXFR"), secret, name)
    reply = check_wire(raw_exchange(tsig_server, query.to_wire(), "tcp"), keyring=False)
    assert reply.rcode() == dns.rcode.NOTAUTH
    assert reply.had_tsig, "the error reply has no TSIG record"
    assert reply.tsig_error == error
    assert reply.keyname == dns.name.from_text(name)


def test_axfr_question_keeps_the_clients_case(server: fakens.Server) -> None:
    stream = tcp_stream(server, dns.message.make_query("ExAmPlE.TeSt.", "AXFR"))
    assert stream[0][0].question[0].name.to_text() == "ExAmPlE.TeSt."
    assert records(stream)[0][1] == "SOA" and len(records(stream)) > 2


def test_ixfr_with_a_newer_serial_than_the_servers_is_a_single_soa(server: fakens.Server) -> None:
    stream = tcp_stream(server, ixfr_query(ORIGIN, OLD_SERIAL + 10))
    assert records(stream) == [(ORIGIN, "SOA", OLD_SERIAL)]


def test_a_record_bigger_than_a_transfer_message_goes_in_a_message_of_its_own(
        make_server: Callable[..., fakens.Server]) -> None:
    """A 30 KB TXT record (it loads and answers over TCP) does not fit the 16 KiB messages a
    transfer is cut into: it gets a message of its own, up to 65535 bytes, and the AXFR completes."""
    strings = " ".join('"' + "x" * 250 + '"' for _ in range(120))
    server = make_server([f"""
$ORIGIN big.test.
$TTL 300
@  SOA ns hostmaster 1 3600 600 86400 300
@  NS  ns
ns A   127.0.0.1
a  TXT {strings}
b  A   192.0.2.1
"""])
    host, port = server.addresses[0]
    messages = list(dns.query.xfr(host, "big.test.", port=port, lifetime=10, relativize=False))
    sizes = [len(m.to_wire()) for m in messages]
    assert max(sizes) > 16384 and all(size <= 65535 for size in sizes), sizes
    received = dns.zone.from_xfr(iter(messages), relativize=False, check_origin=False)
    txt = received.get_rdataset("a.big.test.", "TXT")
    assert txt is not None and sum(len(s) for s in txt[0].strings) == 250 * 120
    assert received.get_rdataset("b.big.test.", "A") is not None
