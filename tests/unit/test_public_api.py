"""The public surface is curated: a sorted __all__, every name importable, docs in sync."""

from pathlib import Path

import fakens
from fakens.faults.docs import faults_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_sorted_and_importable() -> None:
    assert fakens.__all__ == sorted(fakens.__all__, key=str.lower) or fakens.__all__ == sorted(fakens.__all__)
    for name in fakens.__all__:
        assert hasattr(fakens, name), name


def test_exported_names() -> None:
    assert set(fakens.__all__) >= {"Server", "Zone", "Engine", "Fault", "FaultChain", "ManualClock", "Selector",
                                   "QueryLog", "LogEntry", "build_fault", "load_zones"}


def test_docs_faults_md_is_generated_from_the_fault_classes() -> None:
    """docs/faults.md must be regenerated with `fakens faults --markdown > docs/faults.md`."""
    assert (ROOT / "docs" / "faults.md").read_text() == faults_markdown()
