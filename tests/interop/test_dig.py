"""dig and kdig against a fakens server started through the Python API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.procs import run_tool

from fakens import Server, Zone

ZONE_FILE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
WWW_A = re.compile(r"^www\.example\.test\.\s+300\s+IN\s+A\s+192\.0\.2\.10\s*$", re.MULTILINE)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(zones=[Zone.from_file(str(ZONE_FILE))], listen=["127.0.0.1:0"]) as s:
        yield s


@pytest.fixture
def at(server: Server) -> list[str]:
    host, port = server.addresses[0]
    return [f"@{host}", "-p", str(port)]


def header(out: str) -> tuple[str, set[str]]:
    """(status, flags) from dig or kdig output."""
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r"^;; flags: ([a-z ]*);", out, re.MULTILINE | re.IGNORECASE)
    assert status and flags, f"no header in output:\n{out}"
    return status.group(1), set(flags.group(1).split())


def records(out: str) -> list[list[str]]:
    """Resource records from dig output (all non-comment lines), split into fields."""
    return [line.split() for line in out.splitlines() if line.strip() and not line.startswith(";")]


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_udp_query(tool: str, at: list[str], require_tool: Callable[[str], str]) -> None:
    out = run_tool([require_tool(tool), *at, "www.example.test", "A", "+norec"])
    status, flags = header(out)
    assert status == "NOERROR", out
    assert flags == {"qr", "aa"}, out  # authoritative; neither rd (not asked) nor ra
    assert WWW_A.search(out), out
    assert "(UDP)" in out, out


def test_tcp_query(at: list[str], require_tool: Callable[[str], str]) -> None:
    out = run_tool([require_tool("dig"), *at, "www.example.test", "A", "+norec", "+tcp"])
    status, flags = header(out)
    assert (status, flags) == ("NOERROR", {"qr", "aa"}), out
    assert WWW_A.search(out), out
    assert "(TCP)" in out, out


def test_axfr(at: list[str], require_tool: Callable[[str], str]) -> None:
    out = run_tool([require_tool("dig"), *at, "example.test", "AXFR"])
    rrs = records(out)
    assert "Transfer failed" not in out, out
    assert len(rrs) > 10, out
    assert rrs[0][0] == rrs[-1][0] == "example.test.", out
    assert rrs[0][3] == rrs[-1][3] == "SOA", out
    assert rrs[0] == rrs[-1], out
    assert sum(1 for rr in rrs if rr[3] == "SOA") == 2, out
    assert WWW_A.search(out), out
    assert ["big.example.test.", "3600", "IN", "TXT"] in [rr[:4] for rr in rrs], out


def test_truncation_and_tcp_retry(server: Server, at: list[str],
                                  require_tool: Callable[[str], str]) -> None:
    dig = require_tool("dig")
    query = [dig, *at, "big.example.test", "TXT", "+norec", "+bufsize=512"]

    out = run_tool([*query, "+ignore"])
    status, flags = header(out)
    assert status == "NOERROR", out
    assert "tc" in flags, out

    out = run_tool(query)  # dig retries over TCP by itself
    assert "Truncated, retrying in TCP mode" in out, out
    status, flags = header(out)
    assert (status, "tc" in flags) == ("NOERROR", False), out
    big = ["big.example.test.", "3600", "IN", "TXT"]
    assert sum(1 for rr in records(out) if rr[:4] == big) == 8, out
    assert "(TCP)" in out, out

    transports = {str(e.transport).lower() for e in server.log.entries()
                  if str(e.qname).lower().rstrip(".") == "big.example.test"}
    assert any("udp" in t for t in transports) and any("tcp" in t for t in transports), transports
