"""Fixtures of the lab tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakens.lab import Hierarchy


@pytest.fixture
async def running() -> AsyncIterator[list[Hierarchy]]:
    """Labs appended here (``await start(running, lab)``) are stopped at teardown."""
    labs: list[Hierarchy] = []
    yield labs
    for lab in labs:
        await lab.astop()
