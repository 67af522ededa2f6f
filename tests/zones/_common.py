"""What the zone-reading tests share (tests/zones/)."""

from __future__ import annotations

import textwrap
from pathlib import Path

HEAD = """\
$ORIGIN zone.test.
$TTL 300
@ SOA ns1 hostmaster 1 7200 900 1209600 300
@ NS ns1
@ NS ns2
ns1 A 192.0.2.1
ns2 A 192.0.2.2
"""
"""The start of a zone: 7 lines, 5 records; a test's own lines start at line 8."""


def write(path: Path, text: str) -> Path:
    """*text*, dedented, in the file *path* (its directory made); the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def ttl_in_include(directory: Path, ttl: int) -> Path:
    """A zone whose SOA has an explicit TTL (86400) and whose included hosts.inc ends with
    ``$TTL ttl``; ``after`` follows the include (on HEAD it got 86400, silently)."""
    write(directory / "hosts.inc", f"www A 192.0.2.80\n$TTL {ttl}\n")
    return write(directory / "t.test.zone", """\
        $ORIGIN t.test.
        @ 86400 SOA ns1 hostmaster 1 7200 900 1209600 300
        @ NS ns1
        ns1 A 192.0.2.1
        $INCLUDE hosts.inc
        after A 192.0.2.99
        """)
