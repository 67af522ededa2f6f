"""TcpListener.pause()/resume(): refused while paused, the same address again after, bind errors raised."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import dns.message
import pytest

import fakens
from fakens.errors import ServerError
from fakens.transport import TcpLimits, TcpListener
from fakens.transport.bind import bind_tcp

from .conftest import TIMEOUT, ask_wire, check_wire, frame, poll, read_frame


def _refused(addr: tuple[str, int]) -> bool:
    try:
        socket.create_connection(addr, timeout=TIMEOUT).close()
    except ConnectionRefusedError:
        return True
    return False


def test_pause_refuses_and_aborts_resume_serves_the_same_port() -> None:
    async def main() -> None:
        handled: list[bytes] = []

        def handler(wire: bytes, client: tuple[str, int], local: tuple[str, int], transport: str) -> fakens.Outcome:
            handled.append(wire)
            return fakens.Reply([wire[:2] + b"\x80" + wire[3:]])  # the query echoed back as a "reply"

        listener = await TcpListener.start(bind_tcp("127.0.0.1", 0), handler, TcpLimits())
        addr = listener.local
        try:
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(frame(b"\x12\x34" + bytes(10)))
            assert (await reader.readexactly(14))[2:4] == b"\x12\x34"
            listener.pause()
            assert listener.paused
            with pytest.raises(ConnectionResetError):  # an open connection is aborted by pause()
                await reader.read()
            writer.close()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*addr)
            listener.resume()  # bound and listening when it returns
            assert not listener.paused and listener.local == addr
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(frame(b"\x56\x78" + bytes(10)))
            assert (await reader.readexactly(14))[2:4] == b"\x56\x78"
            writer.close()
            # paused and resumed again before the loop could set the listener up: still serves
            listener.pause()
            listener.resume()
            listener.pause()
            listener.resume()
            reader, writer = await asyncio.open_connection(*addr)
            writer.write(frame(b"\x9a\xbc" + bytes(10)))
            assert (await reader.readexactly(14))[2:4] == b"\x9a\xbc"
            writer.close()
        finally:
            await listener.close()
        assert len(handled) == 3

    asyncio.run(main())


def test_resume_raises_server_error_when_the_port_is_taken() -> None:
    async def main() -> None:
        listener = await TcpListener.start(bind_tcp("127.0.0.1", 0), lambda *a: fakens.Drop(), TcpLimits())
        host, port = listener.local
        try:
            listener.pause()
            squatter = bind_tcp(host, port)
            squatter.listen(1)
            try:
                with pytest.raises(ServerError, match=rf"cannot bind 127\.0\.0\.1:{port}: address already in use"):
                    listener.resume()
                assert listener.paused, "a failed resume leaves the listener paused"
            finally:
                squatter.close()
            listener.resume()
            assert not listener.paused
            _, writer = await asyncio.open_connection(host, port)
            writer.close()
        finally:
            await listener.close()

    asyncio.run(main())


def test_tcp_refused_closed_bind_error_reaches_the_caller(make_server: Callable[..., fakens.Server]) -> None:
    """Removing ``tcp-refused mode=closed`` while another socket holds the port raises the
    bind error in the thread that removed it (it used to be lost in a loop callback)."""
    server = make_server()
    addr = server.addresses[0]
    server.faults.add("tcp-refused mode=closed name=closed")
    assert _refused(addr)
    squatter = bind_tcp(*addr)
    squatter.listen(1)
    try:
        with pytest.raises(ServerError, match="address already in use"):
            server.faults.remove("closed")
    finally:
        squatter.close()
    reply, _ = ask_wire(server, "www.example.test.", "A")  # UDP never stopped
    assert reply.answer
    server.faults.add("tcp-refused mode=closed name=again")  # already paused: nothing to do
    server.faults.remove("again")  # the port is free now: TCP serves again

    def tcp_answer() -> dns.message.Message | None:
        try:
            with socket.create_connection(addr, timeout=TIMEOUT) as sock:
                sock.sendall(frame(dns.message.make_query("www.example.test.", "A").to_wire()))
                return check_wire(read_frame(sock))
        except (ConnectionRefusedError, ConnectionResetError, EOFError):
            return None

    assert poll(tcp_answer, what="TCP answering again").answer


def test_tcp_refused_closed_given_before_the_start_refuses_from_the_first_connection() -> None:
    """A ``tcp-refused mode=closed`` installed before the server starts (a scenario's fault,
    ``fakens serve --fault``) refuses TCP as soon as the server is up; UDP answers."""
    server = fakens.Server(["zones/example.test.zone"], listen=["127.0.0.1:0"])
    server.faults.add("tcp-refused mode=closed")
    with server:
        addr = server.addresses[0]
        assert _refused(addr)
        reply, _ = ask_wire(addr, "www.example.test.", "A")
        assert reply.answer
        server.faults.reset()  # removed: the same port listens again
        socket.create_connection(addr, timeout=TIMEOUT).close()
