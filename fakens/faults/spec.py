"""The one parser for fault specs: text (CLI), tables (TOML, JSON) and keyword arguments.

Text is a type name followed by ``key=value`` words (shell quoting allowed)::

    nxdomain qname=*.io. probability=0.3 seed=7
    missing-glue mode=aaaa hosts=ns1.example.test.,ns2.example.test.
    delay ms=500 jitter=100 qtype=AAAA name=slow-aaaa

A table has the same keys plus ``type``: ``{type = "nxdomain", qname = "*.io."}``.
Keys are the fault's parameters, ``mode``, ``name``, the selector keys
(:mod:`fakens.selectors`) and the schedule keys (:class:`Schedule`). An
unknown type, mode or key is an error that lists the valid ones.
"""

from __future__ import annotations

import difflib
import itertools
import shlex
import threading
from collections.abc import Mapping
from typing import Any

from fakens.errors import ConfigError
from fakens.faults.base import REGISTRY, SCHEDULE_KEYS, Fault, Schedule
from fakens.selectors import Selector

_numbers = itertools.count(1)
_numbers_lock = threading.Lock()


def _default_name(type_name: str) -> str:
    """``nxdomain-7``: unique in the process, also when faults are built from many threads."""
    with _numbers_lock:
        return f"{type_name}-{next(_numbers)}"


def parse_text(text: str) -> dict[str, Any]:
    """``"nxdomain qname=x. seed=1"`` -> ``{"type": "nxdomain", "qname": "x.", "seed": "1"}``."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ConfigError(f"fault spec {text!r}: {e}") from None
    if not words:
        raise ConfigError(f"empty fault spec; start with a type: {', '.join(sorted(REGISTRY))}")
    table: dict[str, Any] = {"type": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep:
            raise ConfigError(f"fault spec {text!r}: {word!r} is not key=value")
        if key.strip() == "type":
            raise ConfigError(f"fault spec {text!r}: the fault type is the first word ({words[0]!r}); "
                              f"remove {word!r}")
        table[key.strip().replace("-", "_")] = value
    return table


def build(spec: str | Mapping[str, Any] | None = None, **kwargs: Any) -> Fault:
    """A Fault from text, a table, or keyword arguments (which override the spec)."""
    table: dict[str, Any] = {}
    if isinstance(spec, str):
        table.update(parse_text(spec))
    elif spec is not None:
        table.update({str(k).replace("-", "_"): v for k, v in spec.items()})
    table.update({k.replace("-", "_"): v for k, v in kwargs.items()})
    type_name = table.pop("type", None)
    if type_name is None:
        raise ConfigError(f"fault spec without a type; valid types: {', '.join(sorted(REGISTRY))}")
    type_name = str(type_name).replace("_", "-")
    cls = REGISTRY.get(type_name)
    if cls is None:
        close = difflib.get_close_matches(type_name, REGISTRY, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown fault type {type_name!r}; {hint}valid types: {', '.join(sorted(REGISTRY))}")
    context = f"fault {type_name}"
    name = str(table["name"]) if "name" in table else _default_name(type_name)
    table.pop("name", None)
    mode = str(table.pop("mode", cls.modes[0] if cls.modes else ""))
    if cls.modes and mode not in cls.modes:
        raise ConfigError(f"{context}: unknown mode {mode!r}; valid modes: {', '.join(cls.modes)}")
    if not cls.modes and mode:
        raise ConfigError(f"{context}: takes no mode (got mode={mode!r})")
    selector_values = {k: table.pop(k) for k in list(table) if k in _all_selector_keys()}
    schedule_values = {k: table.pop(k) for k in list(table) if k in SCHEDULE_KEYS}
    values: dict[str, Any] = {}
    for key, param in cls.params.items():
        if key in table:
            values[key] = param.convert(type_name, key, table.pop(key))
        elif param.required:
            raise ConfigError(f"{context}: parameter {key!r} is required ({param.help})")
        else:
            values[key] = param.default
    if table:
        valid = sorted(set(cls.params) | {"name"} | ({"mode"} if cls.modes else set()) | set(cls.selector_keys)
                       | set(SCHEDULE_KEYS))
        raise ConfigError(f"{context}: unknown parameter {', '.join(sorted(table))}; valid: {', '.join(valid)}")
    for key, value in cls.default_selector.items():
        selector_values.setdefault(key, value)
    selector = Selector.parse(selector_values, allowed=cls.selector_keys, context=context)
    schedule = Schedule.parse(schedule_values, context)
    return cls(name, mode, values, selector, schedule)


def _all_selector_keys() -> tuple[str, ...]:
    from fakens.selectors import SELECTOR_KEYS

    return SELECTOR_KEYS


def load_fault_file(path: str) -> list[Fault]:
    """Faults from a TOML file of ``[[faults]]`` tables (the keys of a text spec)::

        [[faults]]
        type = "nxdomain"
        qname = "**.io."
        probability = 0.3
        seed = 7

    An error names the file, the table (``faults[2]``) and the problem.
    """
    import tomllib  # only for fault files: not on every start

    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"fault file {path}: cannot read it: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"fault file {path}: not valid TOML: {e}") from None
    unknown = sorted(set(document) - {"faults"})
    if unknown:
        raise ConfigError(f"fault file {path}: unknown top-level key {', '.join(unknown)}; "
                          f"write each fault as a [[faults]] table")
    tables = document.get("faults", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"fault file {path}: 'faults' must be an array of tables ([[faults]])")
    faults = []
    for i, table in enumerate(tables, 1):
        try:
            faults.append(build(table))
        except ConfigError as e:
            raise ConfigError(f"fault file {path}: faults[{i}]: {e}") from None
    return faults
