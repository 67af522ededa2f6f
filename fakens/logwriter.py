"""The query log's file: JSON lines written by a background thread, with a size cap.

The thread that serves queries only queues entries (one ``deque.append``); a writer thread
turns them into JSON and writes them in batches, every 0.2 s, so a log file costs the event
loop next to nothing::

    writer = LogWriter("queries.jsonl", max_bytes=100_000_000)  # rotated to queries.jsonl.1
    writer.put(entry)          # any thread; starts the writer thread if it is not running
    writer.flush()             # everything queued is in the file when it returns (stops the thread)
    writer.close()             # flush, then close the file

With ``max_bytes`` (0: no cap) a line that would take the file past it first moves the
file to ``FILE.1`` (replacing an older one, as ``logging.handlers.RotatingFileHandler``
with one backup): the log takes at most twice ``max_bytes`` of disk. Nothing queued is
lost on :meth:`flush` or :meth:`close`; a process killed outright loses at most the last
0.2 s of entries.
"""

from __future__ import annotations

import collections
import json
import os
import threading
from typing import IO, TYPE_CHECKING

from fakens.errors import ConfigError

if TYPE_CHECKING:
    from fakens.log import LogEntry

WRITE_INTERVAL = 0.2  # seconds between batches (real time: file housekeeping, nothing on the wire)


class LogWriter:
    """One JSON-lines log file, appended to by a background thread (see the module docstring)."""

    def __init__(self, path: str, max_bytes: int = 0) -> None:
        if max_bytes < 0:
            raise ConfigError(f"log max_bytes {max_bytes}: give 0 (no cap) or a size in bytes, e.g. 100000000")
        self.path = path
        self.max_bytes = max_bytes
        self.rotations = 0
        self._pending: collections.deque[LogEntry] = collections.deque()
        self._file: IO[str] | None = self._open()
        self._size = self._file.tell()
        self._write_lock = threading.Lock()  # one batch at a time
        self._thread_lock = threading.Lock()  # starting and stopping the thread
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def _open(self) -> IO[str]:
        try:
            return open(self.path, "a", encoding="utf-8")  # kept open, closed by close()
        except OSError as e:
            raise ConfigError(f"log file {self.path}: cannot open it: {e.strerror}; "
                              f"give a path in a directory that exists and is writable") from None

    @property
    def pending(self) -> int:
        """Entries queued and not yet written."""
        return len(self._pending)

    def put(self, entry: LogEntry) -> None:
        """Queue an entry for the file (thread-safe; the per-query cost of a log file)."""
        if self._thread is None:
            if self._file is None:
                return  # closed
            self._start()
        self._pending.append(entry)

    def _start(self) -> None:
        with self._thread_lock:
            if self._thread is not None or self._file is None:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, args=(self._stop,), name=f"fakens log {self.path}",
                                            daemon=True)
            self._thread.start()

    def _run(self, stop: threading.Event) -> None:
        while not stop.wait(WRITE_INTERVAL):
            self._write()

    def flush(self) -> None:
        """Write everything queued, and stop the writer thread (the next :meth:`put` starts it again)."""
        with self._thread_lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._stop.set()
                thread.join()
        self._write()

    def close(self) -> None:
        """Flush and close the file; entries put afterwards are dropped."""
        self.flush()
        with self._write_lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            self._pending.clear()

    def _write(self) -> None:
        with self._write_lock:
            file = self._file
            if file is None:
                return
            pending, cap = self._pending, self.max_bytes
            lines: list[str] = []
            size = self._size
            while pending:
                line = json.dumps(pending.popleft().to_dict()) + "\n"  # ASCII: len() is the byte count
                if cap and size and size + len(line) > cap:
                    file.write("".join(lines))
                    lines = []
                    file = self._rotate(file)
                    size = 0
                lines.append(line)
                size += len(line)
            file.write("".join(lines))
            file.flush()
            self._size = size

    def _rotate(self, file: IO[str]) -> IO[str]:
        file.close()
        os.replace(self.path, self.path + ".1")
        self.rotations += 1
        self._file = self._open()
        return self._file
