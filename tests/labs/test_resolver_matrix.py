"""`fakens lab verify --tool named|kresd|pdns-recursor|CMD` end to end, in subprocesses.

One shipped lab per resolver, broken and fixed (``--and-fix``): stale-ds-rollover shows the three
resolvers' different extended errors (their own tables), io-outage pdns-recursor's fresh
resolutions (a restart each), switch-over kresd's cache across a timeline. A command tool is
checked against [expect.tool.NAME]: one whose table holds, one whose table is wrong. The whole
catalog x resolvers matrix is scripts/resolver_matrix.sh (a CI step of its own).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

import pytest

from fakens.catalog import lab_path

pytestmark = pytest.mark.port53

BINARIES = {"named": ["named", "rndc"], "kresd": ["kresd"], "pdns-recursor": ["pdns_recursor", "rec_control"]}


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", "lab", "verify", *args], capture_output=True, text=True,
                          timeout=600)


def reports(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    out = tmp_path / "v.json"
    done = verify(*args, "--json", str(out), "--dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stdout + done.stderr
    return list(json.loads(out.read_text()))


def test_three_resolvers_their_own_extended_errors(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    for binary in (b for names in BINARIES.values() for b in names):
        require_tool(binary)
    junit = tmp_path / "v.xml"
    got = reports(tmp_path, "stale-ds-rollover", "--tool", "named", "--tool", "kresd", "--tool", "pdns-recursor",
                  "--and-fix", "--junit", str(junit))
    assert [(r["lab"], r["fixed"], r["ok"]) for r in got] == [("stale-ds-rollover", False, True),
                                                             ("stale-ds-rollover", True, True)]
    broken = got[0]
    assert set(broken["versions"]) == {"named", "kresd", "pdns-recursor"}  # type: ignore[arg-type]
    bogus = {r["tool"]: r["what"] for r in broken["results"]  # type: ignore[attr-defined]
             if "bogus" in r["what"]}
    assert "no extended error" in bogus["named"] and "EDE 6" in bogus["kresd"] and "EDE 9" in bogus["pdns-recursor"]
    cases = ElementTree.parse(junit).getroot().findall("testsuite/testcase")
    assert {c.get("classname") for c in cases} >= {"stale-ds-rollover.kresd", "stale-ds-rollover --fix.named",
                                                   "stale-ds-rollover --fix.pdns-recursor"}


@pytest.mark.parametrize(("tool", "lab"), [("pdns-recursor", "io-outage"), ("kresd", "switch-over")])
def test_resolver_symptom_and_fix(tool: str, lab: str, tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    for binary in BINARIES[tool]:
        require_tool(binary)
    got = reports(tmp_path, lab, "--tool", tool, "--and-fix")
    assert [(r["fixed"], r["ok"]) for r in got] == [(False, True), (True, True)]
    for report in got:
        assert report["results"] and {r["tool"] for r in report["results"]} == {tool}  # type: ignore[attr-defined]
        assert any(note == f"{tool} {report['versions'][tool]}, as the table was measured with"  # type: ignore[index]
                   for note in report["notes"])  # type: ignore[attr-defined]


CHECK = """#!/bin/sh
echo "lab $FAKENS_LAB_NAME fixed $FAKENS_LAB_FIXED"
echo "hints $(cat "$FAKENS_ROOT_HINTS" | head -1)"
echo "anchor [$FAKENS_TRUST_ANCHOR] zones [$FAKENS_ZONES]"
for s in $FAKENS_SERVERS; do echo "server $s"; done
exec "$PYTHON" -c '
import os, dns.message, dns.query
root = os.environ["FAKENS_SERVERS"].split()[0].split("=")[1]
r = dns.query.udp(dns.message.make_query("www.example.test.", "A"), root, port=int(os.environ["FAKENS_PORT"]), timeout=5)
print("referral", " ".join(sorted(rr.name.to_text() for rr in r.authority)))
'
"""

TABLE = """
[expect.tool.labcheck]
version = "1.0"
exit = 0
must = ["^lab lame-delegation-cmd fixed 0$", "^hints \\\\. .* NS a\\\\.root-servers\\\\.test\\\\.$",
        "^server ns1\\\\.example\\\\.test\\\\.=127\\\\.", "^referral test\\\\.$", "zones \\\\[\\\\. test\\\\. example\\\\.test\\\\."]
must_not = ["Traceback"]
[expect.tool.labcheck.fixed]
exit = 0
must = ["^lab lame-delegation-cmd fixed 1$"]
"""


def command_lab(tmp_path: Path, table: str) -> tuple[Path, str]:
    script = tmp_path / "labcheck"
    script.write_text(CHECK, encoding="utf-8")
    script.chmod(0o755)
    text = lab_path("lame-delegation").read_text(encoding="utf-8")
    text = text.replace('name = "lame-delegation"', 'name = "lame-delegation-cmd"') + table
    path = tmp_path / "lame-delegation-cmd.toml"
    path.write_text(text, encoding="utf-8")
    return path, f"PYTHON={sys.executable} {script} --verbose"


def test_a_command_tool_and_its_table(tmp_path: Path) -> None:
    path, command = command_lab(tmp_path, TABLE)
    got = reports(tmp_path, str(path), "--tool", command, "--and-fix")
    assert [(r["fixed"], r["ok"]) for r in got] == [(False, True), (True, True)]
    broken = got[0]["results"]
    assert [(r["tool"], r["what"]) for r in broken][:2] == [  # type: ignore[attr-defined]
        ("labcheck", "exit status"), ("labcheck", "output matches /^lab lame-delegation-cmd fixed 0$/")]
    assert len(broken) == 7 and got[0]["versions"] == {"labcheck": "1.0"}  # type: ignore[arg-type]
    assert [r["what"] for r in got[1]["results"]] == [  # type: ignore[attr-defined]
        "exit status", "output matches /^lab lame-delegation-cmd fixed 1$/"]  # expectations replaced as a whole


def test_a_command_whose_table_is_wrong_fails_saying_what_was_seen(tmp_path: Path) -> None:
    wrong = TABLE.replace("exit = 0", "exit = [1, 2]").replace('"^referral test\\\\.$"', '"^referral io\\\\.$"')
    path, command = command_lab(tmp_path, wrong)
    done = verify(str(path), "--tool", command)
    assert done.returncode == 1, done.stdout + done.stderr
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        "FAIL  labcheck: exit status: exit 0 (expected exit 1 or exit 2)",
        "FAIL  labcheck: output matches /^referral io\\.$/: no match; output ends: server ns3.example.test.=127."
        + failed[1].split("server ns3.example.test.=127.", 1)[1]]
    assert "referral test." in failed[1]  # what the command printed instead


def test_a_command_without_a_table_is_a_clear_error(tmp_path: Path) -> None:
    path, _ = command_lab(tmp_path, TABLE)
    done = verify(str(path), "--tool", "other-checker --strict")
    assert done.returncode == 2
    assert "[expect] has nothing for other-checker --strict ([expect.tool.other-checker])" in done.stderr


def test_a_relative_dir_works_for_unbound_started_directly(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    """``--dir`` relative to the working directory (scripts/resolver_matrix.sh gives one): the
    tools get absolute paths (unbound reads a relative control-interface as a host name)."""
    require_tool("unbound")
    done = subprocess.run([sys.executable, "-m", "fakens", "lab", "verify", "mail-migration", "--tool", "unbound",
                           "--dir", "relative/runs"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "relative" / "runs" / "unbound-mail" / "unbound.conf").exists()
