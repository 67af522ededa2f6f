"""BIND named as a secondary of a fakens primary: AXFR, then NOTIFY after a live edit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.rdatatype
from helpers import ask, poll
from helpers.procs import (
    ProcessSet,
    free_port,
    start_named_secondary,
)

from fakens import Server, Zone

ZONE_FILE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"


def www_addresses(host: str, port: int) -> set[str] | None:
    """www.example.test A from named, only from an authoritative answer."""
    r = ask((host, port), "www.example.test.", "A", timeout=0.5, flags=0)
    if not r.flags & dns.flags.AA:
        return None
    return {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset}


def test_named_transfers_and_follows_notify(tmp_path: Path, procs: ProcessSet,
                                            require_tool: Callable[[str], str]) -> None:
    require_tool("named")
    # named listens only on addresses configured on an interface: 127.0.0.1 outside a
    # namespace where more were added, so both sides use 127.0.0.1 with their own ports.
    named_port = free_port("127.0.0.1")
    server = Server(zones=[Zone.from_file(str(ZONE_FILE))], listen=["127.0.0.1:0"],
                    notify=[f"127.0.0.1:{named_port}"])
    with server:
        phost, pport = server.addresses[0]
        named = procs.add(start_named_secondary(tmp_path / "named", primary=(phost, pport),
                                                zone="example.test.",
                                                listen=("127.0.0.1", named_port)))

        got = poll(lambda: www_addresses("127.0.0.1", named_port), deadline=20,
                   what="named to load example.test. by AXFR", procs=[named])
        assert got == {"192.0.2.10"}

        server.zone("example.test.").edit(add=["www 300 A 192.0.2.99"], remove=["www A"])
        # Well before named's refresh timer (SOA refresh clamped by max-refresh-time to
        # 10 s, minus up to 25% jitter): only the NOTIFY brings the new data this fast.
        poll(lambda: www_addresses("127.0.0.1", named_port) == {"192.0.2.99"},
             deadline=3.0, what="named to transfer the edited zone after NOTIFY",
             procs=[named])

        log = named.stderr()
        assert re.search(r"received notify for zone 'example\.test'", log), named.describe()
        done = re.findall(rf"transfer of 'example\.test/IN' from {re.escape(phost)}#{pport}: "
                          r"Transfer completed", log)
        assert len(done) >= 2, named.describe(80)
