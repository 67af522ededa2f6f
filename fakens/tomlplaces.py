"""Where a key of a TOML document is written: key paths to line numbers, for error messages.

``tomllib`` gives values, not places; this reads the same text line by line and
notes the line of every table header, key and array element::

    places = TomlPlaces(text)
    places.line("servers[2].faults[0].qname")   # 41 (or the nearest enclosing key's line)

It understands what scenario files use: ``[table]`` and ``[[array.of.tables]]``
headers, ``key = value`` lines, dotted keys, arrays and inline tables spread over
lines, and multi-line strings (skipped). Anything it cannot place gets the line of
the closest enclosing key it knows (or 1).
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=\s*(.*)$""")
_INLINE_KEY = re.compile(r"""(?:^|[{,])\s*([A-Za-z0-9_-]+|"[^"]*")\s*=""")


def _parts(dotted: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", dotted)]


class TomlPlaces:
    """Key paths (``servers[2].faults[0].qname``) of a TOML text, with their lines."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        counts: dict[str, int] = {}
        prefix = ""
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            raw = lines[i]
            number = i + 1
            i += 1
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            header = _HEADER.match(raw)
            if header and not _KEY.match(raw):
                parts = _parts(header.group(2))
                path = self._resolve(parts[:-1], counts)
                name = f"{path}.{parts[-1]}" if path else parts[-1]
                if header.group(1) == "[[":
                    index = counts.get(name, 0)
                    counts[name] = index + 1
                    self.lines.setdefault(name, number)
                    name = f"{name}[{index}]"
                prefix = name
                self.lines.setdefault(prefix, number)
                continue
            key = _KEY.match(raw)
            if not key:
                continue
            path = ".".join(p for p in [prefix, *_parts(key.group(1))] if p)
            self.lines.setdefault(path, number)
            value = key.group(2)
            i = self._value(path, value, number, lines, i)

    def _resolve(self, parts: list[str], counts: dict[str, int]) -> str:
        """The path of a header's parent (``servers.faults`` -> ``servers[1]``)."""
        path = ""
        for part in parts:
            path = f"{path}.{part}" if path else part
            if path in counts:
                path = f"{path}[{counts[path] - 1}]"
        return path

    def _value(self, path: str, value: str, number: int, lines: list[str], i: int) -> int:
        """Note the places inside a value; return the index of the next line to read."""
        for quote in ('"""', "'''"):
            if value.lstrip().startswith(quote) and value.count(quote) < 2:
                while i < len(lines) and quote not in lines[i]:
                    i += 1
                return i + 1
        if not value.lstrip().startswith(("[", "{")):
            return i
        element = 0
        depth = 0
        text, line = value, number
        while True:
            in_string: str | None = None
            for j, ch in enumerate(text):
                if in_string:
                    if ch == in_string:
                        in_string = None
                    continue
                if ch in "\"'":
                    if depth == 1 and not text[:j].strip(" ,") .endswith(("=",)) and self._starts_element(text, j):
                        self.lines.setdefault(f"{path}[{element}]", line)
                        element += 1
                    in_string = ch
                elif ch in "[{":
                    depth += 1
                    if depth == 2 and value.lstrip().startswith("["):
                        self.lines.setdefault(f"{path}[{element}]", line)
                        for key in _INLINE_KEY.findall(text[j:]):
                            self.lines.setdefault(f"{path}[{element}].{key.strip(chr(34))}", line)
                        element += 1
                    elif depth == 1 and ch == "{":
                        for key in _INLINE_KEY.findall(text[j:]):
                            self.lines.setdefault(f"{path}.{key.strip(chr(34))}", line)
                elif ch in "]}":
                    depth -= 1
                elif ch == "#":
                    break
            if depth <= 0 or i >= len(lines):
                return i
            text, line = lines[i], i + 1
            i += 1

    @staticmethod
    def _starts_element(text: str, j: int) -> bool:
        before = text[:j].rstrip()
        return before.endswith(("[", ",")) or before == ""

    def line(self, path: str) -> int:
        """The line of *path*, or of its closest enclosing key that is known (1 if none)."""
        candidate = path
        while candidate:
            if candidate in self.lines:
                return self.lines[candidate]
            cut = max(candidate.rfind("."), candidate.rfind("["))
            candidate = candidate[:cut] if cut > 0 else ""
        return 1
