"""The log file: written by a child process, every entry there after a clean stop,
rotated to FILE.1 at the size cap; the in-memory bound configurable."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

import fakens
from fakens.cli import _make_server, _parser
from fakens.log import LogEntry, QueryLog
from fakens.logwriter import LogWriter

from .conftest import check_wire, example_zone, recv_reply, udp_socket


def _entry(i: int) -> LogEntry:
    return LogEntry(float(i), "ns", ("127.0.0.1", 40000), ("127.0.0.1", 53), "udp", i, None, None, None)


def _ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def test_the_writer_thread_writes_without_a_flush(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    log = QueryLog(path=str(path))
    try:
        for i in range(5):
            log.append(_entry(i))
        deadline = time.monotonic() + 30
        while _ids(path) != list(range(5)):  # written by the thread, nobody flushed
            assert time.monotonic() < deadline, f"not written: {_ids(path)}"
            time.sleep(0.01)
    finally:
        log.close()


def test_nothing_lost_when_entries_come_from_threads_during_close(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = LogWriter(str(path))
    go = threading.Event()

    def produce(base: int) -> None:
        go.wait()
        for i in range(5000):
            writer.put(_entry(base + i))

    threads = [threading.Thread(target=produce, args=(n * 10_000,)) for n in range(4)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    writer.close()
    ids = _ids(path)
    assert len(ids) == 20_000 and set(ids) == {n * 10_000 + i for n in range(4) for i in range(5000)}
    writer.put(_entry(1))  # closed: dropped, no error
    assert writer.pending == 0


def test_rotation_at_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    line = len(json.dumps(_entry(0).to_dict())) + 1
    cap = line * 10 + line // 2  # ten lines fit
    writer = LogWriter(str(path), max_bytes=cap)
    for i in range(25):
        writer.put(_entry(1000 + i))
        if i % 7 == 0:
            writer.flush()  # batches of every size
    writer.close()
    rotated = Path(str(path) + ".1")
    assert path.stat().st_size <= cap and rotated.stat().st_size <= cap
    assert writer.rotations == 2
    assert _ids(rotated) == [1000 + i for i in range(10, 20)] and _ids(path) == [1000 + i for i in range(20, 25)]


def test_bad_cap_and_limit_say_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(fakens.ConfigError, match="log max_bytes -1: give 0"):
        LogWriter(str(tmp_path / "q"), max_bytes=-1)
    with pytest.raises(fakens.ConfigError, match="log limit -5"):
        QueryLog(limit=-5)


def test_server_log_file_complete_after_stop_and_capped(tmp_path: Path) -> None:
    path = tmp_path / "served.jsonl"
    server = fakens.Server([example_zone()], listen=["127.0.0.1:0"], log_file=str(path), log_max_bytes=200_000,
                           log_limit=10)
    server.start()
    try:
        host, port = server.addresses[0]
        with udp_socket() as sock:
            for i in range(1500):
                sock.sendto(dns.message.make_query(f"n{i}.example.test.", "A", id=i).to_wire(), (host, port))
                check_wire(recv_reply(sock, i))
    finally:
        server.stop()
    rotated = Path(str(path) + ".1")
    ids = _ids(rotated) + _ids(path)
    assert path.stat().st_size <= 200_000 and rotated.stat().st_size <= 200_000
    assert ids == list(range(1500 - len(ids), 1500))  # the newest, in order, none missing at the end
    assert len(server.log) == 10 and server.log.total == 1500


def test_serve_flags_reach_the_log(tmp_path: Path) -> None:
    args = _parser().parse_args(["serve", "zones/example.test.zone", "--log", str(tmp_path / "q.jsonl"),
                                 "--log-max-bytes", "1000000", "--log-keep", "50"])
    server = _make_server([example_zone()], args)
    try:
        assert server.log.limit == 50
        assert server.log.writer is not None and server.log.writer.max_bytes == 1_000_000
    finally:
        server.log.close()


def test_lab_log_flag() -> None:
    args = _parser().parse_args(["lab", "run", "--log", "f", "--log-max-bytes", "7", "x.toml"])
    assert args.log == "f" and args.log_max_bytes == 7


def test_the_file_gets_the_entry_as_it_was_when_put(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = LogWriter(str(path))
    entry = LogEntry(1.0, "ns", ("127.0.0.1", 40000), ("127.0.0.1", 53), "udp", 7,
                     dns.name.from_text("www.Example.test."), dns.rdatatype.AAAA, dns.rdataclass.IN,
                     rcode=dns.rcode.NXDOMAIN, flags=dns.flags.QR | dns.flags.AA, counts=(1, 0, 1, 0),
                     faults=[{"name": "f", "type": "nxdomain", "detail": "qname www.example.test."}])
    writer.put(entry)
    entry.rcode = dns.rcode.NOERROR  # changed after it was put: the file keeps what was put
    writer.close()
    [line] = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert record == {**entry.to_dict(), "rcode": "NXDOMAIN"}
    assert (record["qname"], record["qtype"], record["flags"], record["faults"][0]["type"]) == \
        ("www.Example.test.", "AAAA", "QR AA", "nxdomain")


def test_an_entry_holding_objects_marshal_does_not_know_is_written_too(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    writer = LogWriter(str(path))
    entry = _entry(3)
    entry.faults = [{"name": "f", "type": "delay", "seconds": 0.5, "extra": _Texty()}]
    writer.put(entry)
    writer.close()
    assert json.loads(path.read_text(encoding="utf-8"))["faults"][0]["extra"] == {"text": "as text"}


class _Texty(dict[str, str]):
    """A dict subclass: JSON writes it as a dict, marshal refuses it (the line is made in the serving process)."""

    def __init__(self) -> None:
        super().__init__(text="as text")


def test_a_file_that_cannot_be_written_is_reported_and_serving_goes_on(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    writer = LogWriter("/dev/full")  # opens fine, every write fails with ENOSPC
    for i in range(3):
        writer.put(_entry(i))
    with pytest.raises(OSError, match="/dev/full: cannot write: .*No space left on device"):
        writer.flush()
    writer.put(_entry(4))  # no error for the caller that logs
    assert "fakens: log file /dev/full: cannot write" in capfd.readouterr().err
    writer.close()  # reported already: stopping a server does not fail for it
