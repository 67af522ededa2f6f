"""The README's "Control while it runs" shell example, run: every ``fakens ctl`` line of it
succeeds against a ``fakens serve`` started as it says (on a free port, with a ready file of
the test's own), and the sample output it shows is what those commands print."""

from __future__ import annotations

import http.client
import json
import re
import shlex
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import dns.rcode
from helpers import ask, poll
from helpers.procs import ProcessSet

import fakens
from fakens.control import ControlServer
from fakens.ready import read_ready_file

from .conftest import REPO, TIMEOUT
from .test_cli import _env

README = Path(REPO) / "README.md"
SECTION = "## Control while it runs"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n{SECTION}\n")
    return text[start:text.index("\n## ", start + 1)]


def blocks(kind: str) -> list[str]:
    """The section's fenced blocks of this language ("" for plain output)."""
    fenced = re.findall(r"^```(\w*)\n(.*?)^```", section(), flags=re.MULTILINE | re.DOTALL)
    return [text for language, text in fenced if language == kind]


def commands(block: str) -> list[list[str]]:
    """The block's lines as words: comments, line continuations and pipes into other tools left out."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if "|" in words:
            words = words[:words.index("|")]
        if words:
            out.append(words)
    return out


def samples() -> list[tuple[list[str], list[str]]]:
    """The sample block: each ``$ command`` with the lines it prints."""
    found: list[tuple[list[str], list[str]]] = []
    (block,) = [b for b in blocks("") if b.startswith("$ ")]
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((shlex.split(line[2:]), []))
        else:
            found[-1][1].append(line)
    return found


def normalised(line: str) -> str:
    """The time and the client's port are those of the run."""
    return re.sub(r"#\d+", "#PORT", re.sub(r"^\d\d:\d\d:\d\d\.\d\d\d ", "HH:MM:SS.mmm ", line))


def test_the_shell_example_runs_as_documented(tmp_path: Path, procs: ProcessSet) -> None:
    script = commands(blocks("sh")[0])
    documented_path = next(w for words in script for w in words if w.endswith(".json"))
    ready_path = str(tmp_path / "fakens.json")
    env = _env()

    def adapt(words: list[str]) -> list[str]:
        words = [ready_path if w == documented_path else w for w in words]
        return [sys.executable, "-m", "fakens", *words[1:]]

    serving = None
    ran: list[str] = []
    for words in script:
        if words[:2] == ["fakens", "serve"]:
            assert words[-1] == "&"
            served = [str(Path(REPO) / w) if w.startswith("zones") else w for w in words[:-1]]  # relative to the checkout
            serving = procs.start("fakens-serve", [*adapt(served), "--listen", "127.0.0.1:0"], tmp_path, env=env)
            continue
        assert serving is not None, "the example starts fakens serve first"
        if words[0] == "export":
            key, _, value = words[1].partition("=")
            env[key] = ready_path if value == documented_path else value
        elif words[0] == "dig":
            ready = poll(lambda: read_ready_file(ready_path), 20, what="the ready file", procs=[serving])
            address = ready.data["servers"][0]["addresses"][0]
            reply = ask((address["address"], address["port"]), words[-1])
            assert reply.rcode() == dns.rcode.NXDOMAIN  # as the comment says
            for command, expected in samples():  # the sample output is what they print "right after the dig"
                done = subprocess.run(adapt(command), capture_output=True, text=True, timeout=30, env=env, check=True)
                assert [normalised(line) for line in done.stdout.splitlines()] == [normalised(line) for line in expected]
        elif words[0] == "kill":
            serving.popen.send_signal(signal.SIGTERM)
            assert serving.popen.wait(TIMEOUT * 2) == 0
        elif words[:2] == ["fakens", "ctl"]:
            if "--follow" in words:
                continue  # until Ctrl-C: tests/control/test_cli.py follows
            done = subprocess.run(adapt(words), capture_output=True, text=True, timeout=30, env=env, check=False)
            assert done.returncode == 0, f"{shlex.join(words)}: {done.stderr}"
            ran.append(" ".join(words[1:3]))
        else:
            raise AssertionError(f"the example has a line this test does not know: {shlex.join(words)}")
    assert ran == ["ctl servers", "ctl fault", "ctl fault", "ctl fault", "ctl fault", "ctl zone", "ctl zone", "ctl log",
                   "ctl log"]
    assert not Path(ready_path).exists()


def test_the_curl_example_says_what_the_endpoint_needs(server: fakens.Server, control: ControlServer, tmp_path: Path) -> None:
    """The curl lines, sent with http.client as curl would (the headers they name, no others)."""
    (block,) = [b for b in blocks("sh") if "curl" in b]
    requests = [words for words in commands(block) if words[0] == "curl"]
    assert len(requests) == 2
    values = {"$URL": control.url, "$TOKEN": control.token}
    for words in requests:
        headers = dict(h.split(": ", 1) for h in (words[i + 1] for i, w in enumerate(words) if w == "-H"))
        headers = {k: v.replace("$TOKEN", values["$TOKEN"]) for k, v in headers.items()}
        body = next((words[i + 1] for i, w in enumerate(words) if w == "-d"), None)
        url = urllib.parse.urlsplit(words[-1].replace("$URL", values["$URL"]))
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=TIMEOUT)
        try:
            connection.request("POST" if body else "GET", f"{url.path}?{url.query}" if url.query else url.path,
                               body=body, headers=headers)
            response = connection.getresponse()
            assert response.status in (200, 201), response.read()
            json.loads(response.read())
        finally:
            connection.close()
    assert [f.type_name for f in server.faults] == ["drop"]
