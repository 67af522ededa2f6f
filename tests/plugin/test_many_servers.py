"""Many short-lived servers leak no file descriptors and no threads.

The baseline is measured after one server has started and stopped, so the
shared background runner thread (started on first use, then kept) and
anything imported on first use are already there.
"""

from __future__ import annotations

import asyncio
import os
import threading

import dns.asyncquery
import dns.message
import dns.query
import dns.rcode
import pytest
from helpers import ask, served_by_this_loop

from fakens import Server

from .userproject import ZONE_TEXT

N = 200


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def resources() -> tuple[int, int]:
    return fd_count(), threading.active_count()


def check_answer(reply: dns.message.Message) -> None:
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.answer[0][0].address == "192.0.2.10"


def test_200_sync_servers_in_a_row() -> None:
    with Server([ZONE_TEXT]) as first:
        check_answer(ask(first, "www.example.test."))
        check_answer(ask(first, "www.example.test.", transport="tcp"))
    baseline = resources()
    for i in range(N):
        server = Server([ZONE_TEXT], name=f"s{i}")
        server.start()
        try:
            check_answer(ask(server, "www.example.test.", transport="tcp" if i % 10 == 0 else "udp"))  # every tenth over TCP
            assert server.log.count(qname="www.example.test.") == 1
        finally:
            server.stop()
        assert not server.running
    assert resources() == baseline


def test_200_servers_through_the_factory_fixture(pytester: pytest.Pytester) -> None:
    """200 function-scoped tests, each with its own server from the plugin's fixtures."""
    pytester.makepyfile(test_many=f'''
        import os
        import threading

        import dns.message
        import dns.query
        import pytest

        ZONE_TEXT = {ZONE_TEXT!r}
        counts = {{}}


        def resources():
            return len(os.listdir("/proc/self/fd")), threading.active_count()


        def ask(server):
            host, port = server.addresses[0]
            reply = dns.query.udp(dns.message.make_query("www.example.test.", "A"), host, port=port, timeout=2)
            assert reply.answer[0][0].address == "192.0.2.10"


        def test_0_warm_up(fakens_servers):
            ask(fakens_servers([ZONE_TEXT]))


        def test_1_baseline():
            counts["baseline"] = resources()


        @pytest.mark.parametrize("i", range({N // 2}))
        def test_2_factory(fakens_servers, i):
            ask(fakens_servers([ZONE_TEXT]))


        @pytest.mark.fakens(zones=[ZONE_TEXT])
        @pytest.mark.parametrize("i", range({N // 2}))
        def test_3_server(fakens_server, fakens_resolver, i):
            assert fakens_resolver.resolve("www.example.test.", "A")[0].address == "192.0.2.10"


        def test_4_back_to_the_baseline():
            assert resources() == counts["baseline"]
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist",
                                           timeout=300)
    result.assert_outcomes(passed=N + 3)


async def test_200_async_servers_in_one_loop() -> None:
    async def one(name: str, checked: bool) -> None:
        server = Server([ZONE_TEXT], name=name)
        await server.astart()
        try:
            if checked:  # a sample: each check blocks the loop for a moment
                assert await served_by_this_loop(server, "www.example.test.")
            host, port = server.addresses[0]
            reply = await dns.asyncquery.udp(dns.message.make_query("www.example.test.", "A"), host,
                                             port=port, timeout=2)
            check_answer(reply)
        finally:
            await server.astop()
        assert not server.running

    await one("warm-up", True)
    baseline = resources()
    for i in range(N):
        await one(f"a{i}", i % 25 == 0)
    assert resources() == baseline


async def test_200_async_servers_at_once() -> None:
    """All 200 running together in one loop, queried concurrently, then stopped."""
    await_one = Server([ZONE_TEXT], name="warm-up")
    await await_one.astart()
    await await_one.astop()
    baseline = resources()
    servers = [Server([ZONE_TEXT], name=f"b{i}") for i in range(N)]
    try:
        for server in servers:
            await server.astart()
        assert len({s.addresses[0] for s in servers}) == N

        async def ask(server: Server) -> None:
            host, port = server.addresses[0]
            check_answer(await dns.asyncquery.udp(dns.message.make_query("www.example.test.", "A"), host,
                                                  port=port, timeout=5))

        await asyncio.gather(*(ask(s) for s in servers))
        assert all(len(s.log) == 1 for s in servers)
    finally:
        for server in servers:
            await server.astop()
    assert resources() == baseline
