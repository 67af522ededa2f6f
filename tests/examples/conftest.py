"""The README's fakens_zones override ("Session scope"): the zones of every fakens_server
without a marker, and of fakens_shared_server, for the tests in this directory."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def fakens_zones():
    return [Path(__file__).parent / "zones"]      # zone files, directories or zone text
