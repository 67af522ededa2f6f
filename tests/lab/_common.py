"""Helpers of the lab tests: scenario files written into a temporary directory."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

from fakens.lab import Hierarchy
from fakens.scenario import Scenario, ScenarioError, build_lab, load_scenario

EXAMPLE_ZONE = """\
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
@    NS  ns2
ns1  A   127.0.0.1
ns2  A   127.0.0.1
www  A   192.0.2.10
"""


def write(directory: Path, text: str, name: str = "lab.toml", **files: str) -> Path:
    """Write the scenario *text* (dedented) and *files* (``example_test_zone="..."`` ->
    ``example.test.zone``; a ``sub__x_zone`` key makes ``sub/x.zone``) into *directory*."""
    for key, content in files.items():
        path = directory / key.replace("__", "/").replace("_", ".")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def load(directory: Path, text: str, mode: str | None = None, **files: str) -> Scenario:
    """Load *text* as ``lab.toml`` in *directory* (the current directory: messages start ``lab.toml:``)."""
    path = write(directory, text, **files)
    return load_scenario(os.path.relpath(path), mode=mode)


def problems(directory: Path, text: str, mode: str | None = None, **files: str) -> list[str]:
    """The problems load_scenario reports for *text* (fails when it loads)."""
    try:
        load(directory, text, mode, **files)
    except ScenarioError as e:
        return e.problems
    raise AssertionError("the scenario loaded without a problem")


def plan(directory: Path, text: str, **options: Any) -> Any:
    """build_lab(scenario, probe=False) of *text* (namespace mode unless told)."""
    return build_lab(load(directory, text, mode=options.pop("load_mode", "namespace"), **options.pop("files", {})),
                     probe=False, **options)


async def start(labs: list[Hierarchy], lab: Hierarchy) -> Hierarchy:
    """Start *lab* in the running loop and append it to *labs* (the ``running`` fixture stops them)."""
    await lab.astart()
    labs.append(lab)
    return lab
