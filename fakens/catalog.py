"""The shipped labs: scenario files installed with the package, addressed by name.

    shipped_labs()                   # {"io-outage": Path(".../fakens/labs/io-outage.toml"), ...}
    lab_path("io-outage")            # the shipped file
    lab_path("my-lab.toml")          # a file of one's own, as given
    describe("io-outage")            # the [lab] description, one line

A name that is neither a file nor a shipped lab is a ConfigError that lists the
shipped names and suggests the nearest. ``fakens lab list`` prints them.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path

from fakens.errors import ConfigError

LABS_DIR = Path(__file__).resolve().parent / "labs"
FIXED_SUFFIX = "-fixed"


def shipped_labs() -> dict[str, Path]:
    """Every shipped scenario by name (its file name without ``.toml``), sorted."""
    return {path.stem: path for path in sorted(LABS_DIR.glob("*.toml"), key=lambda p: p.stem)}


def lab_path(name_or_path: str | os.PathLike[str]) -> Path:
    """The scenario file for a shipped lab's name or a path; a path that exists wins."""
    path = Path(name_or_path)
    if path.exists() or path.suffix == ".toml" or os.sep in str(name_or_path):
        return path
    labs = shipped_labs()
    if str(name_or_path) in labs:
        return labs[str(name_or_path)]
    near = difflib.get_close_matches(str(name_or_path), list(labs), n=1)
    hint = f"did you mean {near[0]}? " if near else ""
    raise ConfigError(f"{name_or_path}: no such file and no shipped lab of that name; {hint}"
                      f"shipped labs: {', '.join(labs)} (fakens lab list)")


def describe(name_or_path: str | os.PathLike[str]) -> str:
    """The ``[lab] description`` of a scenario file, or "" when it has none or does not parse."""
    try:
        document = tomllib.loads(lab_path(name_or_path).read_text())
    except (OSError, tomllib.TOMLDecodeError, ConfigError):
        return ""
    lab = document.get("lab")
    description = lab.get("description", "") if isinstance(lab, dict) else ""
    return " ".join(str(description).split())


def listing() -> str:
    """``fakens lab list``: one line per shipped lab, its fix (a ``NAME-fixed`` lab, or
    a ``[fix]`` table) noted."""
    labs = shipped_labs()
    width = max((len(name) for name in labs), default=0)
    lines = []
    for name, path in labs.items():
        if name.endswith(FIXED_SUFFIX) and name[: -len(FIXED_SUFFIX)] in labs:
            continue
        notes = []
        if f"{name}{FIXED_SUFFIX}" in labs:
            notes.append(f"fixed: {name}{FIXED_SUFFIX}")
        if _has_fix(path):
            notes.append("--fix")
        suffix = f"  [{'; '.join(notes)}]" if notes else ""
        lines.append(f"{name:<{width}}  {describe(path)}{suffix}")
    return "\n".join(lines)


def _has_fix(path: Path) -> bool:
    try:
        return "fix" in tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
