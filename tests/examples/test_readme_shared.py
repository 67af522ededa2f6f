"""README, "Testing with pytest": session scope (fakens_shared_server, the fakens_zones fixture
in tests/examples/conftest.py, the fakens_zones ini option)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dns.resolver
import pytest

from fakens.testing import resolver_for

from .test_readme_basic import ZONE


def test_shared(fakens_shared_server):
    fakens_shared_server.faults.add("nxdomain")          # gone before the next test
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver_for(fakens_shared_server).resolve("www.example.test.", "A")


def test_shared_edit(fakens_shared_server):
    zone = fakens_shared_server.zone("example.test.")
    zone.edit(replace=["www 300 A 192.0.2.99"])
    assert resolver_for(fakens_shared_server).resolve("www.example.test.", "A")[0].address == "192.0.2.99"


@pytest.mark.parametrize("round", [1, 2])
def test_shared_server_is_reset_between_tests(fakens_shared_server, round):
    # whichever test ran before (test_shared added a fault, test_shared_edit edited the zone):
    assert len(fakens_shared_server.faults) == 0
    assert len(fakens_shared_server.log) == 0
    assert resolver_for(fakens_shared_server).resolve("www.example.test.", "A")[0].address == "192.0.2.10"
    fakens_shared_server.faults.add("nxdomain qname=mail.example.test.")
    fakens_shared_server.zone("example.test.").edit(add=[f"round{round} 300 A 192.0.2.{round}"])


def test_shared_server_is_one_server(fakens_shared_server, request):
    first = fakens_shared_server.addresses
    assert first and first == request.getfixturevalue("fakens_shared_server").addresses
    assert fakens_shared_server.name == "fakens-shared"


def test_fakens_server_without_marker_serves_fakens_zones(fakens_server, fakens_resolver, fakens_zones):
    assert fakens_zones == [Path(__file__).parent / "zones"]
    assert [str(origin) for origin in fakens_server.zones] == ["example.test."]
    assert fakens_resolver.resolve("mail.example.test.", "A")[0].address == "192.0.2.25"


def test_zones_dir_holds_the_readme_zone():
    zone_file = (Path(__file__).parent / "zones" / "example.test.zone").read_text()
    body = [line for line in zone_file.splitlines() if line and not line.startswith(";")]
    assert body == [line for line in ZONE.splitlines() if line]


INI_PROJECT_TEST = '''
import dns.resolver

from fakens.testing import resolver_for


def test_from_ini(fakens_server, fakens_resolver):
    assert fakens_resolver.resolve("www.example.test.", "A")[0].address == "192.0.2.10"


def test_shared_from_ini(fakens_shared_server):
    assert resolver_for(fakens_shared_server).resolve("mail.example.test.", "A")[0].address == "192.0.2.25"
'''


def test_the_ini_option_in_a_fresh_project(tmp_path):
    """The README's pyproject.toml snippet, in a project with no conftest: the plugin loads by itself."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = readme[readme.index("```toml\n[tool.pytest.ini_options]\nfakens_zones"):]
    snippet = snippet[len("```toml\n"):snippet.index("```", 3)]
    (tmp_path / "pyproject.toml").write_text(snippet)
    (tmp_path / "tests" / "zones").mkdir(parents=True)
    (tmp_path / "tests" / "zones" / "example.test.zone").write_text(textwrap.dedent(ZONE).lstrip())
    (tmp_path / "tests" / "test_ini.py").write_text(INI_PROJECT_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FAKENS_"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout, done.stdout
    assert not list(tmp_path.rglob("conftest.py"))
