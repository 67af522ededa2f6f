"""README, "Testing with pytest": async tests (pytest-asyncio)."""

import pytest

from .test_readme_basic import ZONE

import dns.asyncquery
import dns.message


@pytest.mark.asyncio                          # not needed with asyncio_mode = "auto"
@pytest.mark.fakens(zones=[ZONE])
async def test_async(async_fakens_server):
    host, port = async_fakens_server.addresses[0]
    query = dns.message.make_query("www.example.test.", "A")
    reply = await dns.asyncquery.udp(query, host, port=port, timeout=2)
    assert reply.answer[0][0].address == "192.0.2.10"


@pytest.mark.asyncio
async def test_the_async_factory(async_fakens_servers):
    server = await async_fakens_servers([ZONE], name="async-1")
    host, port = server.addresses[0]
    reply = await dns.asyncquery.udp(dns.message.make_query("mail.example.test.", "A"), host, port=port, timeout=2)
    assert reply.answer[0][0].address == "192.0.2.25"
    server.log.assert_received(qname="mail.example.test.", qtype="A", times=1)
