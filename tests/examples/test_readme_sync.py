"""Every ```python block of the README's "Testing with pytest" section is in some file of
tests/examples/ (whitespace normalised), so the documented examples run as tests."""

import re
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
README = HERE.parents[1] / "README.md"
SECTION = "## Testing with pytest"


def section_text():
    readme = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## .*$", readme, flags=re.MULTILINE)
    assert SECTION in headings, f"README.md has no {SECTION!r} section"
    start = readme.index("\n" + SECTION + "\n") + 1
    end = readme.find("\n## ", start + len(SECTION))
    return readme[start:end if end != -1 else len(readme)]


def python_blocks():
    return re.findall(r"^```python\n(.*?)^```", section_text(), flags=re.MULTILINE | re.DOTALL)


def normalise(text):
    return " ".join(text.split())


def example_files():
    return {path.name: normalise(path.read_text(encoding="utf-8")) for path in sorted(HERE.glob("*.py"))}


def test_the_section_follows_faults():
    readme = README.read_text(encoding="utf-8")
    headings = re.findall(r"^## .*$", readme, flags=re.MULTILINE)
    assert headings.index(SECTION) == headings.index("## Faults") + 1, headings


def test_the_section_has_examples():
    assert len(python_blocks()) >= 8


@pytest.mark.parametrize("index", range(len(python_blocks()) if README.exists() else 0))
def test_each_python_block_is_a_test(index):
    block = python_blocks()[index]
    wanted = normalise(block)
    files = example_files()
    found = [name for name, text in files.items() if wanted in text and name != Path(__file__).name]
    assert found, f"this README example (block {index + 1}) is in no tests/examples/*.py file:\n{block}"


def test_normalise_ignores_only_whitespace():
    assert normalise("a  =\n    b\n") == normalise("a = b")
    assert normalise("a = b") != normalise("a = c")
