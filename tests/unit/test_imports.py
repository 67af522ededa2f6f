"""Every module of fakens/ imports alone, and no module imports another that imports it back.

The import graph is read from the source (``ast``): imports at module level and
inside functions both count, imports under ``if TYPE_CHECKING:`` do not (they
never run). An edge goes to the module named by the import, not to the packages
above it (``from fakens.faults.base import Fault`` is an edge to
``fakens.faults.base``; ``from fakens.faults import Fault`` one to the package
``fakens.faults``, whose ``__init__`` defines it).
"""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "fakens"


def _module_files() -> dict[str, Path]:
    """Every module of the package, by dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _module_files()
# C extensions (fakens/_udpbatch.c): they import nothing of fakens, so no cycle goes through them
EXTENSIONS = {".".join(path.relative_to(ROOT).with_suffix("").parts) for path in PACKAGE.rglob("*.c")}


# -- each module imports alone -----------------------------------------------------------

_IMPORT_ALONE = """\
import importlib, sys
module = importlib.import_module(sys.argv[1])
print(module.__file__)
"""


def _import_alone(module: str) -> tuple[str, subprocess.CompletedProcess[str]]:
    # cwd=ROOT puts this checkout first on sys.path ("" for -c), whatever is installed.
    result = subprocess.run([sys.executable, "-c", _IMPORT_ALONE, module], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    return module, result


def test_each_module_imports_alone_in_a_fresh_interpreter() -> None:
    # __main__ runs the command line when imported: it is covered by the graph check.
    modules = [m for m in MODULES if m.rsplit(".", 1)[-1] != "__main__"]
    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(_import_alone, modules))
    failures = []
    for module, result in results:
        if result.returncode != 0:
            failures.append(f"import {module} failed (exit {result.returncode}):\n{result.stderr.strip()}")
        elif Path(result.stdout.strip()).resolve() != MODULES[module].resolve():
            failures.append(f"import {module} loaded {result.stdout.strip()}, not {MODULES[module]}")
        elif result.stderr:  # (a warning a dependency prints as fakens imports it, e.g. cryptography's on DSA)
            failures.append(f"import {module} wrote to stderr:\n{result.stderr.strip()}")
    assert not failures, "\n\n".join(failures)


# -- the import graph has no cycle -------------------------------------------------------

@dataclass(frozen=True)
class Edge:
    """One import in the source: *source* imports *target* at *path*:*line*."""

    source: str
    target: str
    path: Path
    line: int
    in_function: bool

    def __str__(self) -> str:
        where = " (inside a function)" if self.in_function else ""
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target}{where}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement that can run, and whether it sits inside a function."""

    def walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.orelse:
                yield from walk(statement, in_function)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node, in_function
            return
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            yield from walk(child, inside)

    yield from walk(tree, False)


def _known(name: str) -> str | None:
    """The longest prefix of a dotted name that is a module of the package (None for a C extension)."""
    if name in EXTENSIONS:
        return None
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _edges(module: str, path: Path) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node, in_function in _runtime_imports(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base_parts = package.split(".")
                if node.level > 1:
                    base_parts = base_parts[: -(node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:  # a submodule when one has the name, else the module's attribute
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in MODULES else base)
        for known in dict.fromkeys(_known(target) for target in targets):  # one edge per statement and module
            if known is not None:
                yield Edge(module, known, path, node.lineno, in_function)


def import_graph() -> dict[str, dict[str, list[Edge]]]:
    """module -> imported module -> the imports that make that edge."""
    graph: dict[str, dict[str, list[Edge]]] = {module: {} for module in MODULES}
    for module, path in MODULES.items():
        for edge in _edges(module, path):
            graph[module].setdefault(edge.target, []).append(edge)
    return graph


def _strongly_connected(graph: dict[str, dict[str, list[Edge]]]) -> list[list[str]]:
    """Tarjan's algorithm: the components with a cycle in them."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(components)


MAX_CYCLES = 200


def elementary_cycles(graph: dict[str, dict[str, list[Edge]]]) -> list[list[str]]:
    """Every elementary cycle (each listed once, from its smallest module), at most MAX_CYCLES."""
    cycles: list[list[str]] = []
    for component in _strongly_connected(graph):
        for start in component:  # cycles through start and larger members only: each found once
            allowed = {m for m in component if m >= start}
            _cycles_from(graph, allowed, [start], cycles)
    return cycles


def _cycles_from(graph: dict[str, dict[str, list[Edge]]], allowed: set[str], path: list[str],
                 cycles: list[list[str]]) -> None:
    for w in sorted(graph[path[-1]]):
        if len(cycles) >= MAX_CYCLES:
            return
        if w == path[0]:
            cycles.append([*path, w])
        elif w in allowed and w not in path:
            _cycles_from(graph, allowed, [*path, w], cycles)


def describe(cycles: list[list[str]], graph: dict[str, dict[str, list[Edge]]]) -> str:
    lines = [f"{len(cycles)}{'+' if len(cycles) >= MAX_CYCLES else ''} import cycle(s) in fakens/:"]
    for cycle in cycles:
        lines.append("  " + " -> ".join(cycle))
        for a, b in itertools.pairwise(cycle):
            for edge in graph[a][b]:
                lines.append(f"      {edge}")
    return "\n".join(lines)


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    cycles = elementary_cycles(graph)
    assert not cycles, describe(cycles, graph)


# -- the graph reader itself -------------------------------------------------------------

def _graph_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> dict[str, dict[str, list[Edge]]]:
    root = tmp_path
    for name, text in files.items():
        file = root / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    modules = {}
    for path in sorted((root / "fakens").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    monkeypatch.setattr(sys.modules[__name__], "MODULES", modules)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", root)
    return import_graph()


def test_the_graph_counts_function_level_and_relative_imports_but_not_type_checking(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph_of(tmp_path, monkeypatch, {
        "fakens/__init__.py": "from fakens.a import x\n",
        "fakens/a.py": "import typing\nif typing.TYPE_CHECKING:\n    from fakens import b\nelse:\n    import fakens.c\n"
                       "def f():\n    from fakens.b import y\n",
        "fakens/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from fakens.a import x\n",
        "fakens/c.py": "",
        "fakens/sub/__init__.py": "from . import d\nfrom .d import z\n",
        "fakens/sub/d.py": "from .. import c\nfrom ..sub import e\nfrom fakens.sub import VALUE\n",
        "fakens/sub/e.py": "import os, dns.name\n",
    })
    assert {m: sorted(t) for m, t in graph.items()} == {
        "fakens": ["fakens.a"],
        "fakens.a": ["fakens.b", "fakens.c"],
        "fakens.b": [],
        "fakens.c": [],
        "fakens.sub": ["fakens.sub.d"],
        "fakens.sub.d": ["fakens.c", "fakens.sub", "fakens.sub.e"],
        "fakens.sub.e": [],
    }
    assert graph["fakens.a"]["fakens.b"][0].in_function and not graph["fakens.a"]["fakens.c"][0].in_function
    cycles = elementary_cycles(graph)
    assert cycles == [["fakens.sub", "fakens.sub.d", "fakens.sub"]]
    assert "fakens/sub/d.py:3 imports fakens.sub" in describe(cycles, graph)


def test_every_cycle_is_listed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = _graph_of(tmp_path, monkeypatch, {
        "fakens/__init__.py": "",
        "fakens/a.py": "import fakens.b\nimport fakens.c\n",
        "fakens/b.py": "import fakens.a\nimport fakens.c\n",
        "fakens/c.py": "def f():\n    import fakens.a\n",
        "fakens/d.py": "import fakens.d\n",
    })
    assert elementary_cycles(graph) == [
        ["fakens.a", "fakens.b", "fakens.a"],
        ["fakens.a", "fakens.b", "fakens.c", "fakens.a"],
        ["fakens.a", "fakens.c", "fakens.a"],
        ["fakens.d", "fakens.d"],
    ]


# -- what a start of fakens serve loads ------------------------------------------------------

_SERVE_START = """\
import sys
from fakens import cli
from fakens.zones import load_zones
args = cli._parser("serve").parse_args(["serve", "zones/example.test.zone"])
cli._make_server(load_zones(args.zones), args)
print(" ".join(sorted(sys.modules)))
"""

# loaded only by what needs them (signing, fault files, labs, the control endpoint, a fault given:
# the families of fault types are imported at the first look at fakens.faults.REGISTRY)
_NOT_ON_START = ("cryptography", "dns.dnssec", "tomllib", "http.server", "urllib.request", "fakens.lab",
                 "fakens.scenario", "fakens.verify", "fakens.control", "aiosmtpd",
                 *(f"fakens.faults.{family}" for family in ("delegation", "dnskey_size", "dnskeys", "edns", "network",
                                                            "proofs", "rawbytes", "records", "signatures",
                                                            "transfer", "verbatim")))


def test_serving_an_unsigned_zone_does_not_import_what_it_does_not_use() -> None:
    result = subprocess.run([sys.executable, "-c", _SERVE_START], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=True)
    loaded = set(result.stdout.split())
    assert sorted(m for m in _NOT_ON_START if m in loaded) == []


def test_the_fault_types_are_all_there_at_the_first_look() -> None:
    """The families of fault types load at the first look at the registry, whichever look it is
    (a fresh interpreter: a spec built by name first, then a membership test and the count)."""
    code = ("from fakens.faults import REGISTRY, build, parse_text; import sys; "
            "print(type(build(parse_text('delay ms=100'))).__name__, 'nxdomain' in REGISTRY, len(REGISTRY) >= 30, "
            "'fakens.faults.records' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            check=True)
    assert result.stdout.split() == ["Delay", "True", "True", "True"], result.stderr


def test_every_family_module_is_loaded() -> None:
    """A module of fault types not named in _FAMILIES would never be imported, its types unknown."""
    from fakens import faults

    machinery = {"__init__", "base", "chain", "spec", "view", "docs"}
    modules = {p.stem for p in (ROOT / "fakens" / "faults").glob("*.py")} - machinery
    assert modules == set(faults._FAMILIES)
