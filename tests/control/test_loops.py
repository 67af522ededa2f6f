"""``fakens serve --loop asyncio|uvloop|auto`` and ``$FAKENS_LOOP``: the same answers on either
loop, and a clear error for a loop that is not one or not installed (fakens.loops)."""

from __future__ import annotations

import importlib.util
import subprocess
from collections.abc import Callable
from pathlib import Path

import dns.rcode
import pytest
from helpers import ask, unavailable

from fakens.errors import ConfigError
from fakens.loops import LOOP_ENV, loop_name, new_loop

from .conftest import EXAMPLE_ZONE
from .test_cli import Serving, _env, fakens, start  # noqa: F401 - start is the fixture

HAVE_UVLOOP = importlib.util.find_spec("uvloop") is not None


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_answers_on_either_loop(start: Callable[..., Serving], loop: str) -> None:  # noqa: F811
    if loop == "uvloop" and not HAVE_UVLOOP:
        unavailable("uvloop is not installed (pip install -e '.[test]' installs it)")
    serving = start("--loop", loop)
    reply = ask(serving.address, "www.example.test.", "A")
    assert reply.rcode() == dns.rcode.NOERROR
    assert [rd.address for rrset in reply.answer for rd in rrset] == ["192.0.2.10"]
    reply = ask(serving.address, "www.example.test.", "A", transport="tcp")
    assert [rd.address for rrset in reply.answer for rd in rrset] == ["192.0.2.10"]


def test_a_bad_loop_in_the_environment_is_an_error_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(fakens("serve", EXAMPLE_ZONE, "--listen", "127.0.0.1:0"), capture_output=True, text=True,
                          timeout=30, env=_env(**{LOOP_ENV: "trio"}), cwd=tmp_path, stdin=subprocess.DEVNULL,
                          check=False)
    assert done.returncode == 2, done.stderr
    assert "$FAKENS_LOOP 'trio': the event loop is one of auto, asyncio, uvloop" in done.stderr
    assert "fakens: ready" not in done.stdout


def test_loop_name_reads_the_option_then_the_environment_then_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOOP_ENV, raising=False)
    assert loop_name("asyncio") == "asyncio"
    assert loop_name(None) == ("uvloop" if HAVE_UVLOOP else "asyncio")
    assert loop_name(None, default="asyncio") == "asyncio"  # the background runner's default
    monkeypatch.setenv(LOOP_ENV, "asyncio")
    assert loop_name(None) == "asyncio"
    assert loop_name("auto") == ("uvloop" if HAVE_UVLOOP else "asyncio")
    loop = new_loop("asyncio")
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_uvloop_asked_for_but_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fakens.loops._have_uvloop", lambda: False)
    with pytest.raises(ConfigError, match=r"--loop uvloop: uvloop is not installed; pip install 'fakens\[fast\]'"):
        loop_name("uvloop")
    assert loop_name("auto") == "asyncio"
