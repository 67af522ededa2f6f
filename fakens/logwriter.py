"""The query log's file: JSON lines written by a child process, with a size cap.

Turning an entry into a JSON line costs about 40 µs of Python; done in the serving
process, even by a thread, that holds the GIL the event loop needs, and at 12,000
queries a second it multiplied average latency by 14. So the serving process only
snapshots each entry in :mod:`marshal` form (about 4 µs, :meth:`fakens.log.LogEntry.snapshot`);
a thread sends those, in batches every 0.05 s, down a pipe to a child process
(``python -m fakens.logchild``)
that formats and writes the lines on another core::

    writer = LogWriter("queries.jsonl", max_bytes=100_000_000)  # rotated to queries.jsonl.1
    writer.put(entry)          # any thread; the entry as it is now is what the file gets
    writer.flush()             # everything put before is in the file when it returns
    writer.close()             # flush, then end the child process

With ``max_bytes`` (0: no cap) a line that would take the file past it first moves the
file to ``FILE.1`` (replacing an older one, as ``logging.handlers.RotatingFileHandler``
with one backup): the log takes at most twice ``max_bytes`` of disk. Nothing put is lost
on :meth:`flush` or :meth:`close`; when the serving process is killed outright the child
still writes everything that reached the pipe (all but the last 0.05 s at most). If the
child cannot write (disk full), the reason is printed on stderr once and on :meth:`flush`.
"""

from __future__ import annotations

import collections
import json
import os
import select
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Protocol

from fakens.errors import ConfigError

WRITE_INTERVAL = 0.05  # seconds between batches sent to the child (real time: housekeeping)
BATCH = 256  # frames joined into one pipe write
FRAME = struct.Struct(">cI")  # kind, payload length
_FLUSH = b"F"  # the one kind this module makes itself: "write everything, then answer"


class Snapshotting(Protocol):
    """What a log writer is given: something that makes one frame of itself as it is now
    (:meth:`fakens.log.LogEntry.snapshot`)."""

    def snapshot(self) -> bytes: ...


def frame(kind: bytes, payload: bytes) -> bytes:
    """One frame for the child: *kind* (one byte) and its payload."""
    return FRAME.pack(kind, len(payload)) + payload


class LogWriter:
    """One JSON-lines log file, written by a child process (see the module docstring)."""

    def __init__(self, path: str, max_bytes: int = 0) -> None:
        if max_bytes < 0:
            raise ConfigError(f"log max_bytes {max_bytes}: give 0 (no cap) or a size in bytes, e.g. 100000000")
        self.path = path
        self.max_bytes = max_bytes
        self.rotations = 0  # as of the last flush
        _open_log(path).close()  # a bad path is an error now, not in the child
        self._pending: collections.deque[bytes] = collections.deque()
        self._closed = False
        self._pipe_lock = threading.Lock()  # one writer of frames at a time; guards _child
        self._thread_lock = threading.Lock()  # starting and stopping the thread
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._failure: str | None = None

    @property
    def pending(self) -> int:
        """Entries put and not yet sent to the child process."""
        return len(self._pending)

    def put(self, entry: Snapshotting) -> None:
        """Queue the entry, as it is now, for the file (thread-safe; the per-query cost of a log file)."""
        if self._closed:
            return
        if self._thread is None:
            self._start()
        self._pending.append(entry.snapshot())

    def _start(self) -> None:
        with self._thread_lock:
            if self._thread is not None or self._closed:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name=f"fakens log {self.path}",
                                            daemon=True)
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(WRITE_INTERVAL):
            self._send()

    def _spawn(self) -> subprocess.Popen[bytes]:
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
        return subprocess.Popen([sys.executable, "-m", "fakens.logchild", self.path, str(self.max_bytes)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)

    def _send(self, extra: bytes = b"") -> subprocess.Popen[bytes] | None:
        """Send what is pending (and then *extra*) to the child; the child, or None when it is gone.

        At most :data:`BATCH` frames are joined at a time, so a backlog never holds the GIL
        for long; the pipe writes themselves release it."""
        with self._pipe_lock:
            if self._failure is not None:
                self._pending.clear()
                return None
            pending = self._pending
            if not pending and not extra:
                return self._child
            if self._child is None:
                self._child = self._spawn()
            child = self._child
            assert child.stdin is not None
            try:
                while pending:
                    frames = [pending.popleft() for _ in range(min(BATCH, len(pending)))]
                    child.stdin.write(b"".join(frames))
                if extra:
                    child.stdin.write(extra)
                child.stdin.flush()
            except (BrokenPipeError, OSError) as e:
                self._fail(f"its writer process ended ({e.__class__.__name__}); entries from now on are not written")
                return None
            return child

    def _fail(self, why: str) -> None:
        if self._failure is None:
            self._failure = why
            print(f"fakens: log file {self.path}: {why}", file=sys.stderr, flush=True)

    def flush(self) -> None:
        """Write everything put so far into the file, and return when it is there."""
        child = self._send(FRAME.pack(_FLUSH, 0))
        if child is None:
            if self._failure is not None:
                raise OSError(f"log file {self.path}: {self._failure}")
            return
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            self._fail("its writer process ended before writing everything")
            raise OSError(f"log file {self.path}: {self._failure}")
        answer = json.loads(line)
        self.rotations = answer["rotations"]
        if answer["error"]:
            self._fail(answer["error"])
            raise OSError(f"log file {self.path}: {answer['error']}")

    def close(self) -> None:
        """Flush and end the child process; entries put afterwards are dropped. A file that
        could not be written was reported on stderr already: closing does not raise for it."""
        with self._thread_lock:
            self._closed = True
            thread, self._thread = self._thread, None
            if thread is not None:
                self._stop.set()
                thread.join()
        try:
            self.flush()
        except OSError:
            pass  # printed on stderr when it happened
        finally:
            with self._pipe_lock:
                child, self._child = self._child, None
                self._pending.clear()
            if child is not None:
                assert child.stdin is not None and child.stdout is not None
                try:
                    child.stdin.close()
                except OSError:
                    pass
                child.wait(timeout=60)
                child.stdout.close()


# -- the child process ----------------------------------------------------------------------


def _open_log(path: str) -> IO[str]:
    try:
        return open(path, "a", encoding="utf-8")  # kept open, closed by the caller
    except OSError as e:
        raise ConfigError(f"log file {path}: cannot open it: {e.strerror}; "
                          f"give a path in a directory that exists and is writable") from None


class _ChildFile:
    """The child's side: the file, its size and its rotation."""

    def __init__(self, path: str, max_bytes: int) -> None:
        self.path, self.max_bytes = path, max_bytes
        self.file = _open_log(path)
        self.size = self.file.tell()
        self.rotations = 0
        self.error: str | None = None

    def write(self, line: str) -> None:
        if self.error is not None:
            return
        try:
            if self.max_bytes and self.size and self.size + len(line) > self.max_bytes:
                self.file.close()
                os.replace(self.path, self.path + ".1")
                self.rotations += 1
                self.file = _open_log(self.path)
                self.size = 0
            self.file.write(line)
            self.size += len(line)
        except (OSError, ConfigError) as e:
            self.error = f"cannot write: {e}"
            print(f"fakens: log file {self.path}: {self.error}", file=sys.stderr, flush=True)

    def flush(self) -> None:
        if self.error is None:
            try:
                self.file.flush()
            except OSError as e:
                self.error = f"cannot write: {e}"


def _off_the_servers_cpus() -> None:
    """A server pinned to some CPUs (``taskset``) gets its log written on the others."""
    try:
        server_cpus = os.sched_getaffinity(os.getppid())
        every_cpu = set(range(os.cpu_count() or 1))
        others = every_cpu - server_cpus
        if others:
            os.sched_setaffinity(0, others)
    except (AttributeError, OSError):  # not Linux, or a cpuset that forbids it: stay where we are
        pass


def run_child(path: str, max_bytes: int, line_of: Callable[[bytes, bytes], str]) -> None:
    """The child process: frames from stdin, each made a line by *line_of(kind, payload)*,
    into the file; a flush frame answered on stdout once everything before it is written."""
    _off_the_servers_cpus()
    log = _ChildFile(path, max_bytes)
    fd, answers = sys.stdin.fileno(), sys.stdout
    buffer, start = b"", 0
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        buffer = buffer[start:] + chunk
        start = 0
        while len(buffer) - start >= FRAME.size:
            kind, length = FRAME.unpack_from(buffer, start)
            end = start + FRAME.size + length
            if end > len(buffer):
                break
            if kind == _FLUSH:
                log.flush()
                answers.write(json.dumps({"rotations": log.rotations, "error": log.error}) + "\n")
                answers.flush()
            else:
                log.write(line_of(kind, buffer[start + FRAME.size:end]))
            start = end
        if not select.select([fd], [], [], 0)[0]:
            log.flush()  # nothing more waiting: what came is on disk
    log.flush()
    log.file.close()
