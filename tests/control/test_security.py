"""What the control endpoint refuses: a bind off loopback, a foreign Host (DNS rebinding), any
Origin (a browser), a missing or wrong token, a body that is not JSON. Each refusal is JSON
and changes nothing."""

from __future__ import annotations

import json
import socket

import pytest
from helpers import require_ipv6_loopback

import fakens
from fakens.control import ControlServer, ServeTarget
from fakens.errors import ConfigError

from .conftest import TIMEOUT, call


@pytest.mark.parametrize(("listen", "named"), [("0.0.0.0:0", "0.0.0.0:0"), ("192.0.2.1:0", "192.0.2.1:0"),
                                             ("[::]:0", "[::]:0"), ("[2001:db8::1]:8080", "[2001:db8::1]:8080"),
                                             ("10.0.0.1", "10.0.0.1:0")])
def test_only_loopback_is_bound(server: fakens.Server, listen: str, named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        ControlServer(ServeTarget(server), listen)
    assert str(refused.value).startswith(f"control address {named}: the control endpoint listens on loopback only")


def test_a_name_is_not_an_address(server: fakens.Server) -> None:
    with pytest.raises(ConfigError, match="localhost"):
        ControlServer(ServeTarget(server), "localhost:0")


def test_any_loopback_address_binds(server: fakens.Server) -> None:
    with ControlServer(ServeTarget(server), "127.0.0.2:0") as control:
        assert control.address[0] == "127.0.0.2" and control.url == f"http://127.0.0.2:{control.address[1]}"
        assert call(control, "GET", "/v1").status == 200


def test_ipv6_loopback_binds_and_its_host_is_accepted(server: fakens.Server) -> None:
    require_ipv6_loopback()
    with ControlServer(ServeTarget(server), "[::1]:0") as control:
        port = control.address[1]
        assert control.url == f"http://[::1]:{port}"
        assert call(control, "GET", "/v1").status == 200  # http.client sends Host: [::1]:PORT
        assert call(control, "GET", "/v1", headers={"Host": f"localhost:{port}"}).status == 200
        assert call(control, "GET", "/v1", headers={"Host": f"127.0.0.1:{port}"}).status == 403


def test_the_token_is_random_and_long(server: fakens.Server) -> None:
    tokens = {ControlServer(ServeTarget(server)).token for _ in range(3)}
    assert len(tokens) == 3 and all(len(t) >= 40 for t in tokens)


def test_host_must_be_the_bound_address_or_localhost_with_the_port(control: ControlServer) -> None:
    host, port = control.address
    for good in (f"{host}:{port}", f"localhost:{port}", f"LOCALHOST:{port}"):
        assert call(control, "GET", "/v1", headers={"Host": good}).status == 200, good
    for bad in ("evil.test", f"evil.test:{port}", host, "localhost", f"{host}:{port + 1}", f"127.0.0.2:{port}",
                f"{host}:{port}.evil.test"):
        reply = call(control, "GET", "/v1", headers={"Host": bad})
        assert reply.status == 403, bad
        assert reply.headers["Content-Type"] == "application/json"
        assert "Host" in reply.error and repr(bad) in reply.error


def test_a_request_without_host_is_refused(control: ControlServer) -> None:
    with socket.create_connection(control.address, timeout=TIMEOUT) as sock:
        sock.sendall(f"GET /v1 HTTP/1.1\r\nAuthorization: Bearer {control.token}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 403 ") and b"Host None is refused" in answer


@pytest.mark.parametrize("origin", ["http://evil.test", "null", "http://127.0.0.1", "http://localhost"])
def test_any_origin_is_refused(server: fakens.Server, control: ControlServer, origin: str) -> None:
    reply = call(control, "POST", "/v1/faults", {"spec": "drop"}, headers={"Origin": origin})
    assert reply.status == 403 and "Origin" in reply.error
    assert call(control, "GET", "/v1/servers", headers={"Origin": origin}).status == 403
    assert not server.faults


def test_the_token_is_required_on_every_request(server: fakens.Server, control: ControlServer) -> None:
    for method, path, body in (("GET", "/v1", None), ("GET", "/v1/log", None), ("POST", "/v1/faults", {"spec": "drop"}),
                               ("DELETE", "/v1/faults/x", None), ("GET", "/v1/nothing", None)):
        missing = call(control, method, path, body, token=None)
        assert missing.status == 401, path
        assert "no Authorization header" in missing.error
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = call(control, method, path, body, token=control.token[:-1] + "x")
        assert wrong.status == 401 and "wrong token" in wrong.error
    basic = call(control, "GET", "/v1", token=None, headers={"Authorization": f"Basic {control.token}"})
    assert basic.status == 401
    assert not server.faults


def test_another_endpoints_token_is_wrong(server: fakens.Server, control: ControlServer) -> None:
    other = ControlServer(ServeTarget(server))
    assert call(control, "GET", "/v1", token=other.token).status == 401


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/jsonp"])
def test_a_write_body_must_be_json(server: fakens.Server, control: ControlServer, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in (("POST", "/v1/faults"), ("PATCH", "/v1/faults/x"), ("DELETE", "/v1/faults/x"),
                         ("PUT", "/v1/faults")):
        reply = call(control, method, path, raw=b'{"spec": "drop"}', headers=headers)
        assert reply.status == 415, (method, content_type)
        assert "application/json" in reply.error
    assert not server.faults


def test_json_with_a_charset_is_json(server: fakens.Server, control: ControlServer) -> None:
    reply = call(control, "POST", "/v1/faults", raw=b'{"spec": "drop"}',
                 headers={"Content-Type": "application/json; charset=utf-8"})
    assert reply.status == 201 and [f.type_name for f in server.faults] == ["drop"]


def test_a_write_without_a_body_needs_no_content_type(server: fakens.Server, control: ControlServer) -> None:
    server.faults.add("drop", name="d")
    assert call(control, "DELETE", "/v1/faults/d").status == 200
    assert not server.faults


def test_a_huge_body_is_refused(control: ControlServer) -> None:
    host, port = control.address
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        sock.sendall((f"POST /v1/faults HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {control.token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {10 ** 9}\r\n\r\n").encode())
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 ")


def test_a_preflight_and_a_malformed_request_get_json_errors(control: ControlServer) -> None:
    preflight = call(control, "OPTIONS", "/v1/faults", headers={"Origin": "http://evil.test",
                                                                "Access-Control-Request-Method": "POST"})
    assert preflight.status == 403 and "Origin" in preflight.error
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert call(control, "OPTIONS", "/v1/faults").status == 405
    unknown = call(control, "BREW", "/v1/faults")
    assert unknown.status == 501 and "BREW" in unknown.error
    with socket.create_connection(control.address, timeout=TIMEOUT) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = sock.recv(65536)
    assert json.loads(answer) == {"error": "Bad request version ('ALL')"}  # no version: no status line (HTTP/0.9)
