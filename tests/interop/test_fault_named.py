"""BIND named as a secondary of a faulty fakens primary: refuse-transfer and stale-serial.

named polls often: the zone's SOA asks for a 3 s refresh and a 2 s retry, and the
named.conf of helpers.procs clamps both to 2..10 s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import dns.flags
import dns.rdatatype
import pytest
from helpers import ask, poll
from helpers.procs import (
    Proc,
    ProcessSet,
    free_port,
    start_named_secondary,
)

from fakens import Server, Zone
from fakens.log import LogEntry

ZONE_FILE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"
ORIGIN = "example.test."
OLD_SERIAL = 2024010101
NAMED = "127.0.0.1"  # named's queries to fakens come from here


def fast_zone() -> Zone:
    """zones/example.test.zone with SOA refresh 3 s and retry 2 s."""
    text = ZONE_FILE.read_text()
    text, n = re.subn(r"\b7200(\s*; refresh)", r"3\1", text)
    assert n == 1, "zones/example.test.zone: SOA refresh not found"
    text, n = re.subn(r"\b900(\s*; retry)", r"2\1", text)
    assert n == 1, "zones/example.test.zone: SOA retry not found"
    zone = Zone.from_text(text, origin=ORIGIN)
    soa = zone.current.soa_rdata
    assert (soa.serial, soa.refresh, soa.retry) == (OLD_SERIAL, 3, 2), soa
    return zone


def addresses(port: int, name: str = "www.example.test.") -> set[str] | None:
    """`name` A from named, only from an authoritative answer."""
    r = ask(("127.0.0.1", port), name, "A", timeout=0.5, flags=0)
    if not r.flags & dns.flags.AA:
        return None
    return {rd.address for rrset in r.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset}


def named_serial(port: int) -> int:
    r = ask(("127.0.0.1", port), ORIGIN, "SOA", timeout=0.5, flags=0)
    assert r.flags & dns.flags.AA, f"named is not authoritative for {ORIGIN}:\n{r}"
    (soa,) = [rrset for rrset in r.answer if rrset.rdtype == dns.rdatatype.SOA]
    return int(soa[0].serial)


def transfers(server: Server) -> list[LogEntry]:
    return [e for e in server.log.entries(client=NAMED)
            if e.qtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR)]


def entries_text(entries: list[LogEntry]) -> str:
    return "\n".join(f"    {e} faults={e.faults} note={e.note!r}" for e in entries)


class Setup:
    """A fakens primary for example.test. and named as its secondary, the zone loaded."""

    def __init__(self, server: Server, named: Proc, port: int) -> None:
        self.server, self.named, self.port = server, named, port
        self.zone = server.zone(ORIGIN)

    def log(self) -> str:
        return self.named.stderr()

    def describe(self) -> str:
        return (f"{self.named.describe(60)}\nfakens log (from {NAMED}):\n"
                f"{entries_text(self.server.log.entries(client=NAMED)[-30:])}")


@pytest.fixture
def setup(tmp_path: Path, procs: ProcessSet,
          require_tool: Callable[[str], str]) -> Iterator[Setup]:
    require_tool("named")
    port = free_port("127.0.0.1")
    server = Server(zones=[fast_zone()], listen=["127.0.0.1:0"], notify=[f"127.0.0.1:{port}"])
    with server:
        phost, pport = server.addresses[0]
        named = procs.add(start_named_secondary(tmp_path / "named", primary=(phost, pport),
                                                zone=ORIGIN, listen=("127.0.0.1", port)))
        got = poll(lambda: addresses(port), deadline=20,
                   what="named to load example.test. by AXFR", procs=[named])
        assert got == {"192.0.2.10"}, named.describe()
        assert named_serial(port) == OLD_SERIAL
        yield Setup(server, named, port)


REFUSED_LINE = re.compile(r"transfer of 'example\.test/IN' from 127\.0\.0\.1#\d+: "
                          r"failed while receiving responses: REFUSED")
# named prints "Transfer completed: 0 messages ..." after a failed transfer too.
TRANSFERRED = re.compile(r"zone example\.test/IN: transferred serial (\d+)")


def test_refuse_transfer_keeps_old_copy(setup: Setup) -> None:
    s = setup
    assert not REFUSED_LINE.search(s.log()), s.describe()
    xfr_before = len(transfers(s.server))
    s.server.faults.add("refuse-transfer")  # mode refused: AXFR and IXFR answered REFUSED
    s.zone.edit(add=["www 300 A 192.0.2.99"], remove=["www A"])  # serial + 1, NOTIFY sent
    assert s.zone.serial == OLD_SERIAL + 1

    # The NOTIFY makes named ask for the new serial, then for the transfer: refused, and
    # refused again at each retry (every ~2 s). Wait for two refusals.
    poll(lambda: len(REFUSED_LINE.findall(s.log())) >= 2, deadline=15,
         what="named to log two refused transfers", procs=[s.named])
    assert re.search(r"received notify for zone 'example\.test'", s.log()), s.describe()
    refused = transfers(s.server)[xfr_before:]
    assert len(refused) >= 2, s.describe()
    for e in refused:
        assert e.rcode_text == "REFUSED", s.describe()
        assert [f["type"] for f in e.faults] == ["refuse-transfer"], s.describe()
        assert e.transport == "tcp", s.describe()
    # named keeps serving its old copy.
    assert addresses(s.port) == {"192.0.2.10"}, s.describe()
    assert named_serial(s.port) == OLD_SERIAL, s.describe()
    assert TRANSFERRED.findall(s.log()) == [str(OLD_SERIAL)], s.describe()

    s.server.faults.reset()
    s.server.send_notify(ORIGIN)
    poll(lambda: addresses(s.port) == {"192.0.2.99"}, deadline=15,
         what="named to transfer the new data once the fault is gone", procs=[s.named])
    assert named_serial(s.port) == OLD_SERIAL + 1, s.describe()
    assert TRANSFERRED.findall(s.log()) == [str(OLD_SERIAL), str(OLD_SERIAL + 1)], s.describe()
    last = transfers(s.server)[-1]
    assert (last.rcode_text, last.faults) == ("NOERROR", []), s.describe()


@pytest.mark.parametrize("mode", ["unchanged", "version"])
def test_stale_serial_hides_edit(setup: Setup, mode: str) -> None:
    s = setup
    s.server.faults.add(f"stale-serial mode={mode}")
    soa_before = len(s.server.log.entries(qtype="SOA", client=NAMED))
    xfr_before = len(transfers(s.server))
    s.zone.edit(add=["www 300 A 192.0.2.99"], remove=["www A"])  # serial + 1, NOTIFY sent
    assert s.zone.serial == OLD_SERIAL + 1

    def soa_queries_after_edit() -> list[LogEntry]:
        return s.server.log.entries(qtype="SOA", client=NAMED)[soa_before:]

    # Two SOA queries: the one the NOTIFY triggers, and the next refresh poll (~3 s later).
    poll(lambda: len(soa_queries_after_edit()) >= 2, deadline=15,
         what="named to query the SOA twice after the edit", procs=[s.named])
    assert re.search(r"received notify for zone 'example\.test'", s.log()), s.describe()
    for e in soa_queries_after_edit():
        assert e.rcode_text == "NOERROR" and [f["type"] for f in e.faults] == ["stale-serial"], (
            f"SOA query after the edit not answered through the fault:\n{s.describe()}")
    assert transfers(s.server)[xfr_before:] == [], s.describe()
    # named does not pick up the edit: it still serves the old data and serial.
    assert addresses(s.port) == {"192.0.2.10"}, s.describe()
    assert named_serial(s.port) == OLD_SERIAL, s.describe()

    # The fault gone and a real serial bump: named takes the change (NOTIFY).
    s.server.faults.reset()
    s.zone.edit(add=["new 300 A 192.0.2.77"])
    assert s.zone.serial == OLD_SERIAL + 2
    poll(lambda: addresses(s.port) == {"192.0.2.99"}, deadline=5,
         what="named to transfer the edited zone after the real bump", procs=[s.named])
    assert addresses(s.port, "new.example.test.") == {"192.0.2.77"}, s.describe()
    assert named_serial(s.port) == OLD_SERIAL + 2, s.describe()
    assert TRANSFERRED.findall(s.log()) == [str(OLD_SERIAL), str(OLD_SERIAL + 2)], s.describe()
    assert [e.faults for e in transfers(s.server)[xfr_before:]] in ([[]], [[], []]), s.describe()
