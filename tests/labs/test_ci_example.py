"""The worked CI example (examples/ci/): the GitHub workflow parses and its steps name actions,
commands and files that exist (every `fakens` command line parses with fakens' own parser), and
the Dockerfile installs the packages of scripts/debian-packages.txt. No container runtime is
needed: the image is not built here. Binds nothing."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml  # in the test extra: a missing PyYAML is an error, not a skip

from fakens.cli import _parser

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
ACTIONS = {"actions/checkout", "actions/upload-artifact", "mikepenz/action-junit-report"}
PYTHON_PACKAGES = {"python3", "python3-venv", "python3-dev", "util-linux", "ca-certificates"}


def workflow() -> dict[str, Any]:
    document = yaml.safe_load((CI / "github-workflow.yml").read_text(encoding="utf-8"))
    assert isinstance(document, dict) and document.get("jobs"), document
    return document


def steps() -> list[dict[str, Any]]:
    return [step for job in workflow()["jobs"].values() for step in job["steps"]]


def commands(script: str) -> list[list[str]]:
    """The shell words of each command of a `run:` script (continuation lines joined)."""
    joined = script.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        for part in re.split(r"\s*(?:&&|\|\||;)\s*", line.strip()):
            if part and not part.startswith("#"):
                out.append(shlex.split(part))
    return out


def test_the_workflow_parses_and_every_step_is_named_and_does_something() -> None:
    document = workflow()
    assert {"push", "pull_request"} <= set(document[True] if True in document else document["on"])
    for step in steps():
        assert step.get("name"), step
        assert ("uses" in step) != ("run" in step), step
        if "uses" in step:
            action, _, version = step["uses"].partition("@")
            assert action in ACTIONS and version, step["uses"]


def test_the_workflow_publishes_the_junit_file_it_writes() -> None:
    for job in workflow()["jobs"].values():
        runs = "\n".join(step.get("run", "") for step in job["steps"])
        published = [step["with"]["report_paths"] for step in job["steps"]
                     if step.get("uses", "").startswith("mikepenz/action-junit-report")]
        assert published, job
        for path in published:
            by_the_script = (Path(path).name == "matrix.xml" and "scripts/resolver_matrix.sh" in runs
                             and f"{Path(path).parent}:" in runs)  # the reports directory, mounted
            assert path in runs or by_the_script, (path, runs)


def test_the_workflow_runs_commands_and_files_that_exist() -> None:
    seen = set()
    for step in steps():
        for words in commands(step.get("run", "")):
            while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value
                words = words[1:]
            if not words:
                continue
            seen.add(words[0])
            if words[0] == "fakens":
                _parser(words[1]).parse_args(words[1:])  # SystemExit on an option that does not exist
            if "scripts/resolver_matrix.sh" in words:
                assert (ROOT / "scripts" / "resolver_matrix.sh").stat().st_mode & 0o111
        for path in re.findall(r"(?<![\w/])(?:scripts|examples)/[\w./-]*\w", step.get("run", "")):
            assert (ROOT / path).exists(), path
    assert {"docker", "fakens"} <= seen, seen


def test_the_dockerfile_installs_the_debian_packages_of_the_project() -> None:
    text = (CI / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM debian:bookworm\b", text, re.M), "the labs were measured on bookworm"
    assert "policy-rc.d" in text and "exit 101" in text, "package scripts must not start services"
    install = re.search(r"apt-get install[^\n]*\\\n((?:\s+[a-z0-9.+-]+ \\\n)+)", text)
    assert install, "one apt-get install with a package a line"
    packages = {line.strip(" \\") for line in install.group(1).splitlines() if line.strip(" \\")}
    wanted = {line.strip() for line in (ROOT / "scripts" / "debian-packages.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert packages - PYTHON_PACKAGES == wanted, (sorted(packages - PYTHON_PACKAGES - wanted),
                                                  sorted(wanted - packages))
    cmd = re.search(r'^CMD \["([^"]+)"', text, re.M)
    assert cmd and (ROOT / cmd.group(1)).exists(), "the image's command is a script of the repository"


def test_the_readme_names_what_the_container_needs() -> None:
    text = (CI / "README.md").read_text(encoding="utf-8")
    for needed in ("--network none", "--cap-add NET_ADMIN", "FAKENS_ROOT_HINTS", "FAKENS_SERVERS",
                   "FAKENS_TRUST_ANCHOR", "policy-rc.d", "command -v docker"):
        assert needed in text, needed
