"""Internal errors: the client gets SERVFAIL, stderr gets a line naming the error and the
query, server.errors keeps the exception, and the server goes on serving."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dns.rcode
import pytest

import fakens
from fakens import internalerrors

from .conftest import ask_wire


def _break_engine(server: fakens.Server, monkeypatch: pytest.MonkeyPatch) -> None:
    real = server.engine.answer

    def answer(qname: Any, *args: Any, **kwargs: Any) -> Any:
        if str(qname).startswith("boom."):
            raise RuntimeError("engine exploded")
        return real(qname, *args, **kwargs)

    monkeypatch.setattr(server.engine, "answer", answer)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_internal_error_is_servfail_printed_and_kept(make_server: Callable[..., fakens.Server],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capfd: pytest.CaptureFixture[str], transport: str) -> None:
    server = make_server(name="broken-ns")
    _break_engine(server, monkeypatch)
    reply, _ = ask_wire(server, "boom.example.test.", "TXT", transport=transport)
    assert reply.rcode() == dns.rcode.SERVFAIL
    err = capfd.readouterr().err
    line = next(line for line in err.splitlines() if "internal error" in line)
    assert "server broken-ns" in line and "RuntimeError: engine exploded" in line
    assert f"{transport} query id {reply.id}" in line and "boom.example.test. TXT" in line
    frame = err.splitlines()[err.splitlines().index(line) + 1]
    assert frame.startswith("  at ") and "test_internal_errors.py:" in frame and frame.endswith(" in answer")
    assert len(server.errors) == 1 and str(server.errors[0]) == "engine exploded"
    again, _ = ask_wire(server, "www.example.test.", "A", transport=transport)
    assert again.rcode() == dns.rcode.NOERROR and again.answer
    server.errors.clear()


def test_full_traceback_when_asked(make_server: Callable[..., fakens.Server], monkeypatch: pytest.MonkeyPatch,
                                   capfd: pytest.CaptureFixture[str]) -> None:
    server = make_server()
    _break_engine(server, monkeypatch)
    monkeypatch.setattr(internalerrors, "full_tracebacks", True)
    reply, _ = ask_wire(server, "boom.example.test.", "A")
    assert reply.rcode() == dns.rcode.SERVFAIL
    err = capfd.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: engine exploded" in err
    server.errors.clear()


def test_broken_fault_hook_is_printed(make_server: Callable[..., fakens.Server], monkeypatch: pytest.MonkeyPatch,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    server = make_server()
    server.faults.add("nxdomain qname=www.example.test.")
    fault = next(iter(server.faults))

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("fault hook broke")

    for hook in ("before", "after"):
        if hasattr(fault, hook):
            monkeypatch.setattr(fault, hook, broken)
    reply, _ = ask_wire(server, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert "ValueError: fault hook broke" in capfd.readouterr().err
    assert [type(e) for e in server.errors] == [ValueError]
    server.errors.clear()
