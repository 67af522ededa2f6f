"""The ready file: its JSON shape, written whole with mode 0600, and the errors of reading one
that is missing, incomplete, without a control endpoint, or left by a process that is gone."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import fakens
from fakens.control import ControlServer
from fakens.errors import ConfigError
from fakens.ready import read_ready_file, remove_ready_file, wait_ready_file, write_ready_file


def test_the_file_says_where_everything_is(server: fakens.Server, control: ControlServer, tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    write_ready_file(path, [server], control=control, extra={"lab": "demo"})
    data = json.loads(path.read_text())
    host, port = server.addresses[0]
    assert data == {
        "fakens": 1,
        "pid": os.getpid(),
        "servers": [{"name": "fakens",
                     "addresses": [{"address": host, "port": port, "transport": ["udp", "tcp"]}],
                     "zones": [{"origin": "example.test.", "serial": 2024010101}]}],
        "control": {"url": control.url, "token": control.token},
        "lab": "demo",
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ready.json"]  # no temporary file left
    ready = read_ready_file(path)
    assert (ready.url, ready.token, ready.pid, ready.data) == (control.url, control.token, os.getpid(), data)


def test_servers_by_name_and_no_control(server: fakens.Server, tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    write_ready_file(path, {"primary": server})
    data = json.loads(path.read_text())
    assert data["control"] is None and data["servers"][0]["name"] == "primary"
    with pytest.raises(ConfigError, match="names no control endpoint: start fakens serve with --control"):
        read_ready_file(path)


def test_a_file_is_replaced_whole(server: fakens.Server, control: ControlServer, tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    path.write_text("old")
    os.chmod(path, 0o644)
    write_ready_file(path, [server], control=control)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and json.loads(path.read_text())["pid"] == os.getpid()


def test_extra_keys_cannot_hide_the_files_own(server: fakens.Server, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="extra key 'servers'"):
        write_ready_file(tmp_path / "ready.json", [server], extra={"servers": []})
    assert not list(tmp_path.iterdir())


def test_a_directory_that_is_not_there(server: fakens.Server, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write in"):
        write_ready_file(tmp_path / "missing" / "ready.json", [server])


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    with pytest.raises(ConfigError) as missing:
        read_ready_file(path)
    assert f"ready file {path} does not exist" in str(missing.value)
    assert "--ready-file" in str(missing.value)


@pytest.mark.parametrize(("text", "message"), [
    ('{"fakens": 1, "pid": 1', "is not complete JSON"),
    ("", "is not complete JSON"),
    ("[]", "is incomplete"),
    ('{"fakens": 1, "servers": []}', "is incomplete"),
])
def test_an_incomplete_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ready.json"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_ready_file(path)


def test_a_file_left_by_a_process_that_is_gone(tmp_path: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    pid = int(gone.stdout)
    path = tmp_path / "ready.json"
    path.write_text(json.dumps({"fakens": 1, "pid": pid, "servers": [], "control": {"url": "http://127.0.0.1:1", "token": "t"}}))
    with pytest.raises(ConfigError, match=f"was left by process {pid}, which is gone"):
        read_ready_file(path)


def test_wait_returns_a_file_that_is_there_and_times_out_on_one_that_is_not(
        server: fakens.Server, control: ControlServer, tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    with pytest.raises(ConfigError, match="does not exist"):
        wait_ready_file(path, 0.05)
    write_ready_file(path, [server], control=control)
    assert wait_ready_file(path, 0.05).url == control.url


def test_remove_leaves_a_file_another_process_wrote(server: fakens.Server, tmp_path: Path) -> None:
    path = tmp_path / "ready.json"
    write_ready_file(path, [server])
    remove_ready_file(path)
    assert not path.exists()
    path.write_text(json.dumps({"fakens": 1, "pid": os.getpid() + 1, "servers": []}))
    remove_ready_file(path)
    assert path.exists()
    remove_ready_file(tmp_path / "never-written.json")
