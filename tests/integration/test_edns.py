"""EDNS(0) over real sockets: the server's own OPT, DO, options, NSID, BADVERS."""

from __future__ import annotations

import struct
from collections.abc import Callable

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest

import fakens

from .conftest import ask_wire, dnslib_parse, exchange, make_query

TRANSPORTS = ["udp", "tcp"]
UNKNOWN_OPTION = dns.edns.OptionType.make(65001)


def _opt_header(wire: bytes) -> tuple[int, int, int, int]:
    """(payload, extended rcode, version, flags) of the reply's OPT, read by dnslib."""
    record = dnslib_parse(wire)
    opts = [rr for rr in record.ar if rr.rtype == 41]
    assert len(opts) == 1, f"expected one OPT, dnslib sees {len(opts)}"
    opt = opts[0]
    ext_rcode = (opt.ttl >> 24) & 0xFF
    version = (opt.ttl >> 16) & 0xFF
    flags = opt.ttl & 0xFFFF
    return int(opt.rclass), ext_rcode, version, flags


@pytest.mark.parametrize("payload", [512, 1232, 4096])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_reply_opt_is_version_0_with_the_servers_size(server: fakens.Server, transport: str, payload: int) -> None:
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0, payload=payload)
    assert reply.edns == 0
    assert reply.payload == 1232
    assert reply.rcode() == dns.rcode.NOERROR
    size, ext, version, flags = _opt_header(wire)
    assert (size, ext, version, flags) == (1232, 0, 0, 0)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_do_bit_copied(server: fakens.Server, transport: str) -> None:
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport, want_dnssec=True)
    assert reply.ednsflags & dns.flags.DO
    assert _opt_header(wire)[3] == 0x8000
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0)
    assert not reply.ednsflags & dns.flags.DO
    assert _opt_header(wire)[3] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_edns_flags_are_zero_in_the_reply(server: fakens.Server, transport: str) -> None:
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0,
                      ednsflags=dns.flags.DO | 0x4000 | 0x0001)
    assert reply.ednsflags == dns.flags.DO
    assert _opt_header(wire)[3] == 0x8000
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0, ednsflags=0x7FFF)
    assert reply.ednsflags == 0
    assert _opt_header(wire)[3] == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_option_not_echoed(server: fakens.Server, transport: str) -> None:
    option = dns.edns.GenericOption(UNKNOWN_OPTION, b"\x01\x02\x03")
    reply, _wire = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0, options=[option])
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.edns == 0
    assert [o.otype for o in reply.options] == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_cookie_not_echoed_alone(server: fakens.Server, transport: str) -> None:
    client_cookie = bytes.fromhex("0123456789abcdef")
    option = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, client_cookie)
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0, options=[option])
    assert reply.rcode() == dns.rcode.NOERROR
    for o in reply.options:
        if o.otype == dns.edns.OptionType.COOKIE:
            data = o.to_wire()
            # RFC 7873: a server cookie is 8 to 32 bytes after the client's 8
            assert 16 <= len(data) <= 40 and data[:8] == client_cookie, f"bad COOKIE echoed: {data.hex()}"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nsid_answered_when_asked_and_configured(make_server: Callable[..., fakens.Server], transport: str) -> None:
    server = make_server(nsid="fakens-nsid-1")
    asked = dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0, options=[asked])
    nsids = [o for o in reply.options if o.otype == dns.edns.OptionType.NSID]
    assert len(nsids) == 1
    assert nsids[0].to_wire() == b"fakens-nsid-1"
    # not asked: not sent
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0)
    assert not [o for o in reply.options if o.otype == dns.edns.OptionType.NSID]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nsid_absent_when_not_configured(server: fakens.Server, transport: str) -> None:
    asked = dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")
    reply, _ = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=0, options=[asked])
    assert reply.rcode() == dns.rcode.NOERROR
    assert not [o for o in reply.options if o.otype == dns.edns.OptionType.NSID]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_edns_version_1_gets_badvers(server: fakens.Server, transport: str) -> None:
    reply, wire = ask_wire(server, "www.example.test.", "A", transport=transport, use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.edns == 0  # the reply says which version the server speaks
    assert not reply.answer and not reply.authority
    size, ext, version, _ = _opt_header(wire)
    assert (ext, version) == (1, 0)
    assert struct.unpack_from("!H", wire, 2)[0] & 0xF == 0  # 16 = extended 1, header 0
    assert size == 1232


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_no_opt_in_reply_when_query_has_none(server: fakens.Server, transport: str) -> None:
    for qname, rdtype in [("www.example.test.", "A"), ("nope.example.test.", "A"), ("www.example.org.", "A")]:
        reply, wire = ask_wire(server, qname, rdtype, transport=transport)
        assert reply.edns == -1
        assert not [rr for rr in dnslib_parse(wire).ar if rr.rtype == 41]


def test_opt_on_error_replies_too(server: fakens.Server) -> None:
    query = make_query("www.example.org.", "A", use_edns=0, payload=4096)
    reply, _wire = exchange(server, query)
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.edns == 0 and reply.payload == 1232


def test_query_with_edns_and_nsid_together_with_unknown_option(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(nsid=b"\x00\xffbin")
    options = [dns.edns.GenericOption(UNKNOWN_OPTION, b""), dns.edns.GenericOption(dns.edns.OptionType.NSID, b"")]
    reply, _ = ask_wire(server, "www.example.test.", "A", use_edns=0, options=options)
    assert [(int(o.otype), o.to_wire()) for o in reply.options] == [(3, b"\x00\xffbin")]
