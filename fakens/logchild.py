"""The query log file's writer process: ``python -m fakens.logchild FILE MAX_BYTES``.

Started by :class:`fakens.logwriter.LogWriter`, never by hand: it reads the serving
process's :meth:`fakens.log.LogEntry.snapshot` frames on stdin and writes their JSON lines.
"""

from __future__ import annotations

import sys

from fakens.log import line_of_snapshot
from fakens.logwriter import run_child

if __name__ == "__main__":
    run_child(sys.argv[1], int(sys.argv[2]), line_of_snapshot)
