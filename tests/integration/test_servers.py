"""Servers as objects: many in one process, ports, stop and rebind, sync and async running."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import dns.asyncquery
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import pytest

import fakens

from .conftest import ask_wire, check_wire, example_zone, frame, read_frame


def small_zone(origin: str, address: str) -> fakens.Zone:
    return fakens.Zone.from_text(f"""$ORIGIN {origin}
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
ns1 A {address}
www A {address}
""")


def test_three_servers_same_port_different_addresses() -> None:
    names = ["a.test.", "b.test.", "c.test."]
    hosts = ["127.0.0.10", "127.0.0.20", "127.0.0.30"]
    first = fakens.Server([small_zone(names[0], hosts[0])], listen=[f"{hosts[0]}:0"], name="s1").start()
    servers = [first]
    try:
        port = first.addresses[0][1]
        for i in (1, 2):
            servers.append(fakens.Server([small_zone(names[i], hosts[i])], listen=[f"{hosts[i]}:{port}"],
                                         name=f"s{i + 1}").start())
        assert [s.addresses[0] for s in servers] == [(h, port) for h in hosts]
        for server, origin, host in zip(servers, names, hosts):
            for transport in ("udp", "tcp"):
                reply, _ = ask_wire((host, port), f"www.{origin}", "A", transport=transport)
                assert reply.rcode() == dns.rcode.NOERROR
                assert reply.answer[0][0].address == host
        for server, origin, host in zip(servers, names, hosts):
            entries = list(server.log)
            assert len(entries) == 2, f"{server.name} saw {[str(e) for e in entries]}"
            assert {str(e.qname) for e in entries} == {f"www.{origin}"}
            assert {e.server for e in entries} == {server.name}
            assert {e.local for e in entries} == {(host, port)}
        # a server answers only from its own zones
        reply, _ = ask_wire((hosts[0], port), f"www.{names[1]}", "A")
        assert reply.rcode() == dns.rcode.REFUSED
        assert len(servers[1].log) == 2
    finally:
        for server in servers:
            server.stop()


def test_port_0_gives_the_same_port_for_udp_and_tcp(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    assert port != 0
    assert str(server.endpoints[0]) == f"{host}:{port}"
    udp, _ = ask_wire((host, port), "www.example.test.", "A", transport="udp")
    tcp, _ = ask_wire((host, port), "www.example.test.", "A", transport="tcp")
    assert udp.answer == tcp.answer
    assert [e.transport for e in server.log] == ["udp", "tcp"]
    assert {e.local for e in server.log} == {(host, port)}


def test_two_listen_addresses_one_server(make_server: Callable[..., fakens.Server]) -> None:
    server = make_server(listen=["127.0.0.1:0", "127.0.0.2:0"])
    assert len(server.addresses) == 2
    for addr in server.addresses:
        reply, _ = ask_wire(addr, "www.example.test.", "A")
        assert reply.answer
    assert [e.local for e in server.log] == server.addresses


def test_stop_releases_the_address_at_once() -> None:
    for _ in range(20):
        first = fakens.Server([example_zone()], listen=["127.0.0.1:0"]).start()
        addr = first.addresses[0]
        ask_wire(first, "www.example.test.", "A", transport="tcp")  # an accepted connection too
        first.stop()
        assert not first.running
        second = fakens.Server([example_zone()], listen=[f"{addr[0]}:{addr[1]}"])
        second.start()  # binds UDP and TCP on the same addr:port immediately
        try:
            assert second.addresses[0] == addr
            for transport in ("udp", "tcp"):
                reply, _ = ask_wire(second, "www.example.test.", "A", transport=transport)
                assert reply.answer
        finally:
            second.stop()


def test_stop_releases_the_address_while_a_client_is_connected() -> None:
    first = fakens.Server([example_zone()], listen=["127.0.0.1:0"]).start()
    addr = first.addresses[0]
    client = socket.create_connection(addr, timeout=5)
    try:
        assert _tcp_answers(client)
        first.stop()
        second = fakens.Server([example_zone()], listen=[f"{addr[0]}:{addr[1]}"]).start()
        try:
            reply, _ = ask_wire(second, "www.example.test.", "A", transport="tcp")
            assert reply.answer
        finally:
            second.stop()
        assert _closed(client), "stop left an open connection"
    finally:
        client.close()


def _tcp_answers(sock: socket.socket) -> bool:
    query = dns.message.make_query("www.example.test.", "A")
    sock.sendall(frame(query.to_wire()))
    return bool(check_wire(read_frame(sock)).answer)


def _closed(sock: socket.socket, timeout: float = 3.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_stop_closes_connections_accepted_just_before() -> None:
    """A connection opened right before stop (accepted, no query yet) is closed by stop too,
    not left open until the idle timeout (10 s by default)."""
    still_open = 0
    for _ in range(10):
        server = fakens.Server([example_zone()], listen=["127.0.0.1:0"]).start()
        client = socket.create_connection(server.addresses[0], timeout=5)
        try:
            server.stop()
            if not _closed(client, 1.5):
                still_open += 1
        finally:
            client.close()
    assert still_open == 0, f"{still_open} of 10 connections stayed open after stop"


def test_start_on_a_busy_port_fails_clearly(server: fakens.Server) -> None:
    host, port = server.addresses[0]
    with pytest.raises(fakens.ServerError, match="in use"):
        fakens.Server([example_zone()], listen=[f"{host}:{port}"]).start()
    reply, _ = ask_wire(server, "www.example.test.", "A")  # the first server is unaffected
    assert reply.answer


def test_sync_context_manager() -> None:
    with fakens.Server(zones=[example_zone()], listen=["127.0.0.1:0"]) as server:
        assert server.running
        reply, _ = ask_wire(server, "www.example.test.", "A")
        assert reply.answer
        addr = server.addresses[0]
    assert not server.running
    with fakens.Server(zones=[example_zone()], listen=[f"{addr[0]}:{addr[1]}"]) as again:
        assert again.addresses[0] == addr


async def test_async_server_in_the_test_loop(aask_wire: Callable[..., Awaitable[tuple[dns.message.Message, bytes]]]) -> None:
    server = fakens.Server(zones=[example_zone()], listen=["127.0.0.1:0"])
    await server.astart()
    try:
        host, port = server.addresses[0]
        query = dns.message.make_query("www.example.test.", "A")
        # dnspython's asyncio client in the same loop as the server
        reply = await dns.asyncquery.udp(query, host, port=port, timeout=5)
        assert reply.answer[0][0].address == "192.0.2.10" and reply.flags & dns.flags.AA
        reply = await dns.asyncquery.tcp(query, host, port=port, timeout=5)
        assert reply.answer[0][0].address == "192.0.2.10"
        # and the dnslib-checked helper from a worker thread
        reply, _ = await aask_wire(server, "mail.example.test.", "AAAA")
        assert reply.answer
        reply, _ = await aask_wire(server, "big.example.test.", "TXT", transport="tcp")
        assert len(reply.answer[0]) == 8
    finally:
        await server.astop()
    assert not server.running


async def test_async_context_manager_and_rebind(aask_wire: Callable[..., Awaitable[tuple[dns.message.Message, bytes]]]) -> None:
    async with fakens.Server(zones=[example_zone()], listen=["127.0.0.1:0"]) as server:
        addr = server.addresses[0]
        reply, _ = await aask_wire(server, "www.example.test.", "A", transport="tcp")
        assert reply.answer
    async with fakens.Server(zones=[example_zone()], listen=[f"{addr[0]}:{addr[1]}"]) as again:
        reply, _ = await aask_wire(again, "www.example.test.", "A")
        assert reply.answer


async def test_many_async_servers_in_one_loop(aask_wire: Callable[..., Awaitable[tuple[dns.message.Message, bytes]]]) -> None:
    servers = [fakens.Server([small_zone(f"z{i}.test.", f"192.0.2.{i + 1}")], listen=["127.0.0.1:0"], name=f"z{i}")
               for i in range(10)]
    for server in servers:
        await server.astart()
    try:
        replies = await asyncio.gather(*(aask_wire(s, f"www.z{i}.test.", "A") for i, s in enumerate(servers)))
        for i, (reply, _) in enumerate(replies):
            assert reply.answer[0][0].address == f"192.0.2.{i + 1}"
        assert [len(s.log) for s in servers] == [1] * 10
    finally:
        for server in servers:
            await server.astop()


async def test_edit_and_notify_with_an_async_server() -> None:
    """A zone edit from the test's loop sends NOTIFY from the server on the same loop."""
    loop = asyncio.get_running_loop()
    received: asyncio.Future[tuple[bytes, tuple[str, int]]] = loop.create_future()

    class Secondary(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not received.done():
                received.set_result((data, addr))

    transport, _ = await loop.create_datagram_endpoint(Secondary, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    server = fakens.Server([example_zone()], listen=["127.0.0.1:0"], notify=[f"127.0.0.1:{port}"])
    await server.astart()
    try:
        server.zone("example.test.").edit(add=["new 300 A 192.0.2.99"])
        data, addr = await asyncio.wait_for(received, 5)
        notify = dns.message.from_wire(data)
        assert notify.opcode() == dns.opcode.NOTIFY
        assert tuple(addr[:2]) == server.addresses[0]
    finally:
        await server.astop()
        transport.close()
