"""Suite-wide wiring: the `port53` marker, the `require_tool` and `procs` fixtures.

The helpers themselves live in tests/helpers/ so test modules can import them.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest

_TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:  # needed under --import-mode=importlib
    sys.path.insert(0, _TESTS_DIR)

helpers = importlib.import_module("helpers")
procs_module = importlib.import_module("helpers.procs")
if TYPE_CHECKING:
    from helpers.procs import ProcessSet


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "port53: binds port 53 on 127.0.0.x addresses; runs only in a private network "
        "namespace (scripts/test), skipped elsewhere, failed under CI=true",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("port53") is not None:
        helpers.require_port53()


@pytest.fixture
def require_tool() -> Callable[[str], str]:
    """`require_tool("dig")` returns the tool's path, or skips (locally) / fails (CI=true)."""
    require: Callable[[str], str] = helpers.require_tool
    return require


@pytest.fixture
def procs() -> Iterator[ProcessSet]:
    """External processes started through this set are stopped at teardown."""
    group = procs_module.ProcessSet()
    try:
        yield group
    finally:
        group.stop_all()
