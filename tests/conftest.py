"""Suite-wide wiring: the `port53` marker, the `require_tool`, `procs`, `make_server` and `server` fixtures.

The helpers themselves live in tests/helpers/ so test modules can import them.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

import fakens

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


EXAMPLE_ZONE = os.path.join(os.path.dirname(_TESTS_DIR), "zones", "example.test.zone")


@pytest.fixture
def make_server() -> Iterator[Callable[..., fakens.Server]]:
    """Start servers (background thread), serving zones/example.test.zone unless told;
    every one is stopped at teardown."""
    started: list[fakens.Server] = []

    def make(zones: Any = None, listen: Any = ("127.0.0.1:0",), **options: Any) -> fakens.Server:
        zones = zones if zones is not None else [fakens.Zone.from_file(EXAMPLE_ZONE)]
        server = fakens.Server(zones, listen=list(listen), **options)
        server.start()
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def server(make_server: Callable[..., fakens.Server]) -> fakens.Server:
    """example.test. served on 127.0.0.1 (a free port)."""
    return make_server()
