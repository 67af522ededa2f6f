"""Fault files: [[faults]] TOML tables through the one spec parser; errors name the table."""

import subprocess
import sys
from pathlib import Path

import pytest

from fakens.errors import ConfigError
from fakens.faults import build
from fakens.faults.spec import load_fault_file

ZONE = Path(__file__).resolve().parents[2] / "zones" / "example.test.zone"


def test_tables_build_the_same_faults_as_text(tmp_path):
    path = tmp_path / "faults.toml"
    path.write_text('[[faults]]\ntype = "nxdomain"\nqname = "**.io."\nprobability = 0.3\nseed = 7\nname = "io"\n\n'
                    '[[faults]]\ntype = "missing-glue"\nmode = "hosts"\nhosts = ["ns2.example.test."]\nname = "g"\n')
    faults = load_fault_file(str(path))
    assert [f.spec() for f in faults] == [build("nxdomain qname=**.io. probability=0.3 seed=7 name=io").spec(),
                                          build("missing-glue mode=hosts hosts=ns2.example.test. name=g").spec()]


@pytest.mark.parametrize("text,expected", [
    ('[[faults]]\ntype = "delay"\nmsec = 5\n', "faults[1]: fault delay: unknown parameter msec"),
    ('[[faults]]\ntype = "nxdomain"\n[[faults]]\ntype = "nxdomian"\n', "faults[2]: unknown fault type 'nxdomian'; did you mean 'nxdomain'"),
    ('[fault]\ntype = "nxdomain"\n', "unknown top-level key fault"),
    ('[[faults]\n', "not valid TOML"),
])
def test_errors_name_the_file_and_the_table(tmp_path, text, expected):
    path = tmp_path / "faults.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_fault_file(str(path))
    assert str(path) in str(e.value) and expected in str(e.value)


def test_serve_rejects_a_bad_fault_file_with_the_table_named(tmp_path):
    path = tmp_path / "faults.toml"
    path.write_text('[[faults]]\ntype = "rcode"\nrcode = "NOPE"\n')
    result = subprocess.run([sys.executable, "-m", "fakens", "serve", str(ZONE),
                             "--listen", "127.0.0.1:0", "--fault-file", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "faults[1]" in result.stderr and "rcode" in result.stderr and "Traceback" not in result.stderr
