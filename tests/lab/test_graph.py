"""fakens.labgraph: a lab's delegation tree as DOT, SVG and PNG, with its mismatches in red.

Labs are built from small scenario files with ``build_lab(scenario, probe=False)``: nothing
binds. SVG and PNG need Graphviz's ``dot`` (skipped locally without it, failed under CI=true).
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from fakens.errors import ConfigError
from fakens.lab import Hierarchy
from fakens.labgraph import lab_dot, lab_problems, write_graph
from fakens.scenario import build_lab, load_scenario
from fakens.server import Server

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

def zone_entry(origin: str, ns: list[str], addresses: dict[str, str] | None = None, *, name: str | None = None,
               delegate: bool | None = None) -> str:
    """A scenario's ``[[zones]]`` table: SOA and NS at the apex, an A record per name of *addresses*."""
    records = [f"@ SOA {ns[0]} hostmaster 1 3600 600 86400 300", *(f"@ NS {host}" for host in ns),
               *(f"{owner} A {address}" for owner, address in (addresses or {}).items())]
    keys = [f'origin = "{origin}"']
    keys += [f"name = '''{name}'''"] if name is not None else []
    keys += [f"delegate = {str(delegate).lower()}"] if delegate is not None else []
    return "\n[[zones]]\n" + "\n".join(keys) + '\ntext = """\n$TTL 300\n' + "\n".join(records) + '\n"""\n'


EXAMPLE_RECORDS = {"ns1": "127.0.0.1", "ns2": "127.0.0.1", "www": "192.0.2.10"}
EXAMPLE_ZONE = zone_entry("example.test.", ["ns1", "ns2"], EXAMPLE_RECORDS)

HEALTHY = '''
[lab]
name = "healthy"
''' + EXAMPLE_ZONE + '''
[[servers]]
name = "ns1.example.test."
zones = ["example.test."]
faults = ["nxdomain qname=www.example.test.", {type = "delay", ms = 200, name = "slow-ns1"}]

[[servers]]
name = "ns2.example.test."
zones = ["example.test."]
'''

# the parent (the made test. TLD) says ns1 + ns3 (ns3 with glue, but no server), the zone says ns1 + ns2
MISMATCH = '''
[lab]
name = "mismatch"
''' + EXAMPLE_ZONE + '''
[[delegations]]
zone = "example.test."
ns = ["ns1.example.test.", "ns3.example.test."]
glue = { "ns1.example.test." = "127.0.0.98", "ns3.example.test." = "127.0.0.99" }
'''

# ns2 is named by the zone and its parent, but lists another zone only: a lame delegation
LAME = '''
[lab]
name = "lame"
''' + EXAMPLE_ZONE + zone_entry("other.test.", ["ns2.example.test."]) + '''
[[servers]]
name = "ns1.example.test."
zones = ["example.test."]

[[servers]]
name = "ns2.example.test."
zones = ["other.test."]
'''

# a switch-over: the parent still delegates to the old provider; the new one's copy waits
SWITCH = '''
[lab]
name = "switch"
''' + "".join(zone_entry("example.test.", [f"ns1.{who}-dns.test.", f"ns2.{who}-dns.test."], {"www": address},
                         name=who, delegate=who == "old")
              for who, address in (("old", "192.0.2.10"), ("new", "192.0.2.20"))) + '''
[[servers]]
name = "ns1.new-dns.test."
zones = ["new"]
faults = ["rcode rcode=SERVFAIL"]
'''


def lab_of(tmp_path: Path, text: str, name: str = "lab.toml") -> Hierarchy:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return build_lab(load_scenario(path), probe=False)


def svg_text(path: Path) -> str:
    """Every text of an SVG (it must be valid XML), one per line."""
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return "\n".join("".join(element.itertext()) for element in root.iter("{http://www.w3.org/2000/svg}text"))


def fault_names(lab: Hierarchy) -> list[str]:
    return [fault.name for member in lab.members for fault in member.faults]


@pytest.fixture
def dot(require_tool: Callable[[str], str]) -> str:
    return require_tool("dot")


@pytest.mark.parametrize("scenario", [HEALTHY, MISMATCH, LAME, SWITCH], ids=["healthy", "mismatch", "lame", "switch"])
def test_dot_svg_and_png_name_every_zone_server_and_fault(tmp_path: Path, dot: str, scenario: str) -> None:
    lab = lab_of(tmp_path, scenario)
    write_graph(lab, str(tmp_path / "lab.dot"))
    write_graph(lab, str(tmp_path / "lab.svg"))
    write_graph(lab, str(tmp_path / "lab.png"))

    checked = subprocess.run([dot, "-Tsvg", str(tmp_path / "lab.dot")], capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stderr.decode()
    assert (tmp_path / "lab.dot").read_text(encoding="utf-8") == lab_dot(lab)
    assert (tmp_path / "lab.png").read_bytes().startswith(PNG_SIGNATURE)

    text = svg_text(tmp_path / "lab.svg")
    for member in lab.members:
        assert member.name in text
        for address in member.addresses:
            assert address in text
    for zone_name in lab.all_zones:
        assert f"zone {zone_name}" in text
    for name in fault_names(lab):
        assert name in text


def test_a_healthy_lab_shows_no_problem(tmp_path: Path, dot: str) -> None:
    lab = lab_of(tmp_path, HEALTHY)
    assert lab_problems(lab) == []
    write_graph(lab, str(tmp_path / "lab.svg"))
    text = svg_text(tmp_path / "lab.svg")
    assert "0 problems" in text
    assert "fault slow-ns1: delay ms=200" in text
    assert "fault nxdomain-" in text  # the default name the parser gave


def test_a_parent_ns_set_other_than_the_childs_is_labelled(tmp_path: Path, dot: str) -> None:
    lab = lab_of(tmp_path, MISMATCH)
    kinds = {(p.kind, p.host) for p in lab_problems(lab)}
    assert ("ns-mismatch", None) in kinds
    assert ("no-server", "ns3.example.test.") in kinds  # the parent names it, no server answers as it
    assert ("glue", "ns1.example.test.") in kinds  # glue 127.0.0.98, the server listens elsewhere
    label = "parent: ns1.example.test., ns3.example.test. / child: ns1.example.test., ns2.example.test."
    dot_text = lab_dot(lab)
    assert label in dot_text
    assert "style=dashed" in dot_text

    write_graph(lab, str(tmp_path / "lab.svg"))
    text = svg_text(tmp_path / "lab.svg")
    assert label in text
    assert "glue ns1.example.test. 127.0.0.98; server: " + lab.member("ns1.example.test.").address in text
    assert "ns3.example.test." in text and "no server answers as this name" in text


def test_a_server_without_the_zone_is_a_lame_delegation(tmp_path: Path, dot: str) -> None:
    lab = lab_of(tmp_path, LAME)
    lame = [p for p in lab_problems(lab) if p.kind == "lame"]
    assert [(p.zone, p.host) for p in lame] == [("example.test.", "ns2.example.test.")]
    assert "its NS" in lame[0].text and "test.'s NS" in lame[0].text  # named by the zone and its parent
    write_graph(lab, str(tmp_path / "lab.svg"))
    assert "lame: no example.test." in svg_text(tmp_path / "lab.svg")


def test_two_copies_of_one_origin_are_two_nodes(tmp_path: Path, dot: str) -> None:
    lab = lab_of(tmp_path, SWITCH)
    dot_text = lab_dot(lab)
    assert "zone old" in dot_text and "zone new" in dot_text
    assert '"not delegated"' in dot_text  # the parent's NS lead to the old provider only
    problems = {(p.kind, p.zone, p.host) for p in lab_problems(lab)}
    assert ("no-server", "new", "ns2.new-dns.test.") in problems  # only ns1 of the new provider is given
    assert not any(zone == "old" for _, zone, _ in problems)


def test_an_in_zone_ns_host_without_an_address_is_shown_on_its_zone(tmp_path: Path) -> None:
    lab = lab_of(tmp_path, zone_entry("example.test.", ["ns1", "ns2"], {"ns1": "127.0.0.1"}))
    assert [(p.kind, p.host) for p in lab_problems(lab)] == [("no-address", "ns2.example.test.")]
    assert "NS ns2.example.test. has no address record" in lab_dot(lab)


def test_labels_are_escaped(tmp_path: Path, dot: str) -> None:
    odd = 'a "quoted" <b>&amp; \\N back\\slash'
    lab_table = "[lab]\nname = '''odd \"lab\" <&>'''\n"
    zone = zone_entry("example.test.", ["ns1", "ns2"], EXAMPLE_RECORDS, name=odd)
    undelegated = zone_entry("sub.example.test.", ["ns1.example.test."], delegate=False)  # an edge label names its parent
    lab = lab_of(tmp_path, lab_table + zone + undelegated)
    assert odd in lab.all_zones
    write_graph(lab, str(tmp_path / "lab.svg"))
    text = svg_text(tmp_path / "lab.svg")
    assert f"zone {odd}" in text  # a node's (HTML) label
    assert f"{odd} has no NS records for sub.example.test.: nothing leads to it" in text  # an edge's label
    assert 'lab odd "lab" <&>' in text  # the caption


def test_a_running_servers_faults_are_drawn(tmp_path: Path) -> None:
    lab = lab_of(tmp_path, HEALTHY)
    member = lab.member("ns2.example.test.")
    member.server = Server(member.zones, listen=[f"{member.address}:53"], name=member.name)  # never started
    member.server.faults.add("rcode rcode=SERVFAIL qname=www.example.test.", name="added-later")
    dot_text = lab_dot(lab)
    assert "fault added-later: rcode" in dot_text
    assert "stopped" in dot_text


def test_unknown_extension_and_missing_dot_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab = lab_of(tmp_path, HEALTHY)
    with pytest.raises(ConfigError) as unknown:
        write_graph(lab, str(tmp_path / "lab.pdf"))
    assert all(ext in str(unknown.value) for ext in (".svg", ".dot", ".png"))

    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    with pytest.raises(ConfigError, match="apt-get install graphviz"):
        write_graph(lab, str(tmp_path / "lab.svg"))
    assert not (tmp_path / "lab.svg").exists()
    write_graph(lab, str(tmp_path / "lab.dot"))  # DOT text needs no Graphviz
    assert (tmp_path / "lab.dot").read_text(encoding="utf-8").startswith("digraph lab {")


def test_an_unwritable_dot_file_is_a_config_error(tmp_path: Path) -> None:
    lab = lab_of(tmp_path, HEALTHY)
    with pytest.raises(ConfigError, match="cannot write the graph"):
        write_graph(lab, str(tmp_path / "no-such-dir" / "lab.dot"))


def test_lab_check_graph_writes_the_svg(tmp_path: Path, dot: str) -> None:
    scenario = tmp_path / "mismatch.toml"
    scenario.write_text(MISMATCH, encoding="utf-8")
    out = tmp_path / "out.svg"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "fakens", "lab", "check", str(scenario), "--graph", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"graph: {out}" in done.stdout
    text = svg_text(out)
    assert "parent: ns1.example.test., ns3.example.test. / child: ns1.example.test., ns2.example.test." in text
    assert "zone example.test." in text
