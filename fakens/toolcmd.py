"""``fakens lab verify --tool CMD``: a tool fakens does not know, run as a shell command against a lab.

    fakens lab verify lame-delegation --tool 'my-checker --zone example.test.'
    # runs: sh -c 'my-checker --zone example.test.'  inside the lab's network namespace, with
    #   FAKENS_LAB_NAME=lame-delegation FAKENS_ROOT_HINTS=/tmp/.../root.hints FAKENS_TRUST_ANCHOR=
    #   FAKENS_SERVERS='a.root-servers.test.=127.1.0.10 ns1.example.test.=127.1.0.11 ...' FAKENS_ZONES='. test. ...'
    # and checks [expect.tool.my-checker]: exit status, output patterns that must / must not match

The table is keyed by the command's name: its first word without the directory (``my-checker``),
or a table's own name when that table gives ``command`` (then ``--tool NAME`` runs it).
docs/scenarios.md, "[expect.tool.NAME]", lists the keys and the variables.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fakens.errors import ConfigError
from fakens.scenario import parse_duration
from fakens.verifyreport import Result

if TYPE_CHECKING:
    from fakens.lab import Hierarchy
    from fakens.scenario import Scenario
    from fakens.verify import RunningLab, _Checker
    from fakens.verifyreport import Report

TOOL_KEYS = ("description", "command", "version", "exit", "must", "must_not", "timeout", "fixed")


def command_name(spec: str) -> str:
    """The table name of a ``--tool`` command: its first word's base name, after any ``VAR=value``
    (``./bin/check -v`` and ``LANG=C check`` -> ``check``)."""
    try:
        words = shlex.split(spec)
    except ValueError as e:
        raise ConfigError(f"--tool {spec!r}: not a shell command: {e}") from None
    words = [w for w in words if not re.match(r"[A-Za-z_][A-Za-z0-9_]*=", w)]  # VAR=value before the command
    if not words:
        raise ConfigError(f"--tool {spec!r}: no command in it")
    return os.path.basename(words[0])


def custom_tool(scenario: Scenario, spec: str) -> tuple[str, str] | None:
    """(table name, command) of ``--tool SPEC`` for *scenario*, None when its [expect.tool] has no table for it.

    SPEC is a table's name when that table has ``command``; else the command itself."""
    tables = scenario.expect.get("tool", {})
    if spec in tables and isinstance(tables[spec], dict):
        command = tables[spec].get("command")
        if not isinstance(command, str):
            raise ConfigError(f"{scenario.path}: [expect.tool.{spec}] has no command = \"...\": run it as "
                              f"--tool 'COMMAND ARGS' (its first word {spec}) or give the command in the table")
        return spec, command
    name = command_name(spec)
    return (name, spec) if name in tables else None


def commands_of(scenario: Scenario) -> list[str]:
    """The [expect.tool.NAME] tables that give their own command (they run without --tool)."""
    tables = scenario.expect.get("tool", {})
    return [name for name, table in tables.items() if isinstance(table, dict) and "command" in table]


def check_tool_tables(c: _Checker, tables: Any) -> None:
    """The problems of ``[expect.tool]`` (called by verify.expect_problems)."""
    if not isinstance(tables, dict):
        c.problem("expect.tool", "expected tables [expect.tool.NAME], one per command")
        return
    for name, table in tables.items():
        check_tool_table(c, table, f"expect.tool.{name}", TOOL_KEYS)


def check_tool_table(c: _Checker, table: Any, path: str, allowed: tuple[str, ...]) -> None:
    table = c.table(table, path, allowed, "a command's symptoms")
    for key in ("command", "version", "description"):
        if key in table and not isinstance(table[key], str):
            c.problem(f"{path}.{key}", "expected a string")
    exits = table.get("exit")
    if exits is not None and not (_is_int(exits) or (isinstance(exits, list) and exits and all(map(_is_int, exits)))):
        c.problem(f"{path}.exit", f"expected an exit status or a list of them (exit = 0, exit = [1, 2]), got {exits!r}")
    c.strings(table, "must", path)
    c.strings(table, "must_not", path)
    for key in ("must", "must_not"):
        for i, pattern in enumerate(table.get(key, []) if isinstance(table.get(key), list) else []):
            try:
                re.compile(str(pattern))
            except re.error as e:
                c.problem(f"{path}.{key}[{i}]", f"not a regular expression: {e}")
    c.duration(table, "timeout", path)
    if "fixed" in table:
        check_tool_table(c, table["fixed"], f"{path}.fixed", tuple(k for k in allowed if k not in ("fixed", "command")))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def tool_environment(lab: Hierarchy, name: str, fix: bool, directory: str) -> dict[str, str]:
    """The variables a command gets (besides the caller's environment)."""
    hints = lab.write_root_hints(os.path.join(directory, "root.hints"))
    anchor = bind = ""
    if lab.signed:
        written = lab.write_trust_anchors(directory)
        anchor, bind = written["ds"], written["bind"]
    servers = " ".join(f"{m.name}={address}" for m in lab.members for address in m.addresses)
    return {"FAKENS_LAB_NAME": name, "FAKENS_LAB_FIXED": "1" if fix else "0", "FAKENS_ROOT_HINTS": hints,
            "FAKENS_TRUST_ANCHOR": anchor, "FAKENS_TRUST_ANCHOR_BIND": bind, "FAKENS_SERVERS": servers,
            "FAKENS_ZONES": " ".join(sorted({z.to_text() for z in lab.zones}, key=lambda z: (z.count("."), z))),
            "FAKENS_PORT": str(lab.port), "FAKENS_DIR": directory}


def verify_command(run: RunningLab, scenario: Scenario, fix: bool, name: str, command: str,
                   expect: Mapping[str, Any], report: Report, directory: str) -> None:
    """Run *command* (``sh -c``) against the running lab and check its table *expect*."""
    env = {**os.environ, **tool_environment(run.lab, scenario.name, fix, directory)}
    timeout = parse_duration(expect.get("timeout", "300s"))
    process = subprocess.Popen(["/bin/sh", "-c", command], cwd=directory, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = process.communicate(timeout=timeout)
        status: int | None = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        status = None
    text = out.decode(errors="replace")
    with open(os.path.join(directory, f"{name}.out"), "w", encoding="utf-8") as f:
        f.write(text)
    if expect.get("version"):
        report.versions[name] = str(expect["version"])
    seen = " | ".join(text.strip().splitlines()[-3:])[-300:] or "(no output)"
    ran = f"exit {status}" if status is not None else f"timed out after {timeout:g} s"
    report.notes.append(f"{name}: sh -c {shlex.quote(command)}: {ran}; output in {directory}/{name}.out")
    if "exit" in expect:
        wanted = expect["exit"] if isinstance(expect["exit"], list) else [expect["exit"]]
        report.results.append(Result(name, "exit status", ran, " or ".join(f"exit {w}" for w in wanted),
                                     status in wanted))
    for pattern in expect.get("must", []):
        found = re.search(pattern, text, re.MULTILINE)
        report.results.append(Result(name, f"output matches /{pattern}/",
                                     f"matched {found.group(0)!r}" if found else f"no match; output ends: {seen}",
                                     "a match", found is not None))
    for pattern in expect.get("must_not", []):
        found = re.search(pattern, text, re.MULTILINE)
        report.results.append(Result(name, f"output does not match /{pattern}/",
                                     f"matched {found.group(0)!r}" if found else "no match", "no match",
                                     found is None))
