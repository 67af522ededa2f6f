"""The fakens servers the differential tests compare against the references: one in the default
shape, one with minimal_responses, each started once for the package; their replies are kept
(`_common.Fake`), so each query is asked of fakens once whatever the number of references."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import fakens

from ._common import NSID, ZONE_FILES, Fake


def _fake(minimal: bool) -> Iterator[Fake]:
    with fakens.Server([str(p) for p in ZONE_FILES.values()], listen=["127.0.0.1:0"], nsid=NSID,
                       minimal_responses=minimal) as server:
        yield Fake(server)


@pytest.fixture(scope="package")
def fake_full() -> Iterator[Fake]:
    """fakens in its default shape, over every zone of the differential tests."""
    yield from _fake(False)


@pytest.fixture(scope="package")
def fake_minimal() -> Iterator[Fake]:
    """fakens with minimal_responses=True, over the same zones."""
    yield from _fake(True)
