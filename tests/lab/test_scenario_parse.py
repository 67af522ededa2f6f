"""Scenario files (fakens/scenario.py, fakens/tomlplaces.py): every valid form, and every
kind of error with its file:line, key path and did-you-mean."""

from __future__ import annotations

import math
from pathlib import Path

import dns.name
import pytest

from fakens.scenario import ScenarioError, did_you_mean, load_scenario, parse_duration, scaled
from fakens.tomlplaces import TomlPlaces

from ._common import EXAMPLE_ZONE, load, problems

ZONE = {"example_test_zone": EXAMPLE_ZONE}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name "lab.toml"


# -- valid forms ---------------------------------------------------------------------


def test_zones_from_a_file_relative_to_the_scenario_and_inline_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_dir = tmp_path / "labs"
    lab_dir.mkdir()
    (lab_dir / "zones").mkdir()
    (lab_dir / "zones" / "example.test.zone").write_text(EXAMPLE_ZONE)
    (lab_dir / "lab.toml").write_text('''\
[lab]
name = "two-zones"
description = "a file and a text"

[[zones]]
file = "zones/example.test.zone"

[[zones]]
origin = "other.test."
name = "other"
text = """
$TTL 60
@ SOA ns1 h 7 3600 600 86400 300
@ NS ns1
@ NS ns2
ns1 A 127.0.0.1
ns2 A 127.0.0.1
"""
''')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the file is found relative to the scenario, not the working directory
    scenario = load_scenario("../labs/lab.toml")
    assert scenario.name == "two-zones"
    assert scenario.description == "a file and a text"
    assert [(z.name, z.zone.origin.to_text(), z.zone.serial) for z in scenario.zones] == [
        ("example.test.", "example.test.", 1), ("other", "other.test.", 7)]
    assert scenario.port == 53 and scenario.mode == "loopback" and scenario.delegation_ttl == 86400


def test_defaults_and_the_name_from_the_file(tmp_path: Path) -> None:
    scenario = load(tmp_path, '[[zones]]\nfile = "example.test.zone"\n', **ZONE)
    assert scenario.name == "lab"
    assert scenario.servers == [] and scenario.delegations == [] and scenario.timeline == []
    assert scenario.fix is None and scenario.tld_servers == 1


def test_servers_with_and_without_addresses_and_zones(tmp_path: Path) -> None:
    scenario = load(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[servers]]
        name = "ns1.example.test."

        [[servers]]
        name = "ns2.example.test"
        hosts = ["ns2-alias.example.test."]
        addresses = ["127.0.0.2", "::1"]
        zones = ["example.test."]
        options = { nsid = "ns2", minimal_responses = true }
        description = "the second one"

        [[servers]]
        name = "root.example."
        addresses = "127.0.0.3"
        zones = ["."]
        """, **ZONE)
    first, second, third = scenario.servers
    assert (first.name.to_text(), first.addresses, first.zones, first.faults) == ("ns1.example.test.", [], [], [])
    assert second.name == dns.name.from_text("ns2.example.test.")
    assert [h.to_text() for h in second.hosts] == ["ns2.example.test.", "ns2-alias.example.test."]
    assert second.addresses == ["127.0.0.2", "::1"]
    assert second.zones == ["example.test."]
    assert second.options == {"nsid": "ns2", "minimal_responses": True}
    assert second.description == "the second one"
    assert (third.addresses, third.zones) == (["127.0.0.3"], ["."])  # a string is a list of one; "." is made


def test_faults_as_text_tables_and_sub_tables(tmp_path: Path) -> None:
    scenario = load(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[servers]]
        name = "ns1.example.test."
        faults = ["nxdomain qname=www.example.test.", {type = "delay", ms = 200, qtype = "A"},
                  "nxdomain qname=x.example.test. name=mine"]

        [[servers]]
        name = "ns2.example.test."
        faults = "rcode rcode=SERVFAIL"

        [[servers]]
        name = "ns3.example.test."
        addresses = ["127.0.0.3"]

        [[servers.faults]]
        type = "nxdomain"
        qname = "**.example.test."
        """, **ZONE)
    one, two, three = scenario.servers
    # a fault without name= is TYPE-N: the N-th of its type on that server
    assert [f.name for f in one.faults] == ["nxdomain-1", "delay-1", "mine"]
    assert [f.type_name for f in one.faults] == ["nxdomain", "delay", "nxdomain"]
    assert one.faults[1].values["ms"] == 200
    assert [f.name for f in two.faults] == ["rcode-1"]
    assert [(f.name, f.type_name) for f in three.faults] == [("nxdomain-1", "nxdomain")]


def test_delegations_with_and_without_glue(tmp_path: Path) -> None:
    scenario = load(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[delegations]]
        zone = "example.test."
        ns = ["ns1.example.test.", "ns.elsewhere.example."]
        ttl = "1h"

        [[delegations]]
        zone = "example.test"
        ns = ["ns1.example.test.", "lame.example.test."]
        glue = { "lame.example.test." = "192.0.2.53", "ns1.example.test." = ["127.0.0.1", "::1"] }
        """, **ZONE)
    first, second = scenario.delegations
    assert first.zone.to_text() == "example.test."
    assert [h.to_text() for h in first.ns] == ["ns1.example.test.", "ns.elsewhere.example."]
    assert first.glue is None and first.ttl == 3600
    assert second.ttl is None
    assert second.glue == {dns.name.from_text("lame.example.test."): ["192.0.2.53"],
                           dns.name.from_text("ns1.example.test."): ["127.0.0.1", "::1"]}


def test_every_timeline_action(tmp_path: Path) -> None:
    scenario = load(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[servers]]
        name = "ns1.example.test."
        faults = ["nxdomain qname=www.example.test."]

        [[timeline]]
        at = "30s"
        action = "edit"
        zone = "example.test."
        add = ["new 300 A 192.0.2.99"]
        remove = "www A"
        replace = ["ns2 300 A 127.0.0.2"]
        bump_serial = false
        description = "move www"

        [[timeline]]
        at = "2h"
        action = "bump-serial"
        zone = "example.test."

        [[timeline]]
        at = "1h30m"
        action = "delegate"
        zone = "example.test."
        ns = ["ns2.example.test."]
        glue = { "ns2.example.test." = "127.0.0.9" }
        ttl = 60

        [[timeline]]
        at = 45
        action = "add-fault"
        server = "ns2.example.test."
        fault = {type = "rcode", rcode = "REFUSED"}

        [[timeline]]
        at = 46.5
        action = "remove-fault"
        server = "ns1.example.test"
        name = "nxdomain-1"

        [[timeline]]
        at = "1m"
        action = "stop"
        server = "ns2.example.test."

        [[timeline]]
        at = "2m"
        action = "start"
        server = "a.root-servers.test."

        [[timeline]]
        at = "3m"
        action = "edit"
        zone = "example.test."
        serial = 2024010101
        """, **ZONE)
    events = scenario.timeline
    assert [(e.at, e.action) for e in events] == [
        (30, "edit"), (7200, "bump-serial"), (5400, "delegate"), (45, "add-fault"), (46.5, "remove-fault"),
        (60, "stop"), (120, "start"), (180, "edit")]
    edit = events[0]
    assert edit.values == {"zone": "example.test.", "add": ["new 300 A 192.0.2.99"], "remove": "www A",
                           "replace": ["ns2 300 A 127.0.0.2"], "bump_serial": False}
    assert edit.description == "move www" and edit.path == "timeline[0]"
    delegate = events[2].values
    assert [h.to_text() for h in delegate["ns"]] == ["ns2.example.test."]
    assert delegate["glue"] == {dns.name.from_text("ns2.example.test."): ["127.0.0.9"]}
    assert delegate["ttl"] == 60
    # an added fault without name= is named when read, so a later remove-fault can name it
    assert events[3].values["fault"]["name"] == "rcode-1"
    assert events[7].values["serial"] == 2024010101


def test_the_fix_with_events_and_with_a_file(tmp_path: Path) -> None:
    scenario = load(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[servers]]
        name = "ns1.example.test."
        faults = ["nxdomain qname=www.example.test."]

        [fix]
        description = "take the fault away"
        file = "fixed.toml"

        [[fix.events]]
        action = "remove-fault"
        server = "ns1.example.test."
        name = "nxdomain-1"
        """, **ZONE)
    assert scenario.fix is not None
    assert scenario.fix.description == "take the fault away"
    assert scenario.fix.file == str(tmp_path / "fixed.toml")  # relative to the scenario
    (event,) = scenario.fix.events
    assert (event.at, event.action, event.path) == (0.0, "remove-fault", "fix.events[0]")


def test_tld_servers_and_lab_settings(tmp_path: Path) -> None:
    scenario = load(tmp_path, """\
        [lab]
        port = 0
        mode = "namespace"
        delegation_ttl = 300
        tld_servers = { io = 7, "test." = 2 }

        [[zones]]
        file = "example.test.zone"
        """, **ZONE)
    assert (scenario.port, scenario.mode, scenario.delegation_ttl) == (0, "namespace", 300)
    assert scenario.tld_servers == {"io": 7, "test": 2}


@pytest.mark.parametrize(("value", "seconds"), [
    (30, 30.0), (1.5, 1.5), (0, 0.0), ("30s", 30.0), ("5m", 300.0), ("2h", 7200.0), ("1d", 86400.0),
    ("1w", 604800.0), ("1h30m", 5400.0), ("45", 45.0), (" 2H ", 7200.0), ("2.5", 2.5),
])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["30x", "", "h", -1, True, float("inf"), [30], "-5"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match=r"duration|0 or more"):
        parse_duration(value)


@pytest.mark.parametrize(("seconds", "scale", "expected"), [
    (3600, 100, 36), (30, 100, 1), (1, 1000, 1), (0, 100, 0), (301, 100, 4), (86400, 1, 86400), (2.5, 1, 2.5),
])
def test_scaled_rounds_up_to_at_least_one_second(seconds: float, scale: float, expected: float) -> None:
    assert scaled(seconds, scale) == expected


def test_did_you_mean() -> None:
    assert did_you_mean("qnme", ["qname", "qtype"]) == " (did you mean 'qname'?)"
    assert did_you_mean("zzzz", ["qname", "qtype"]) == ""


# -- key path -> line ---------------------------------------------------------------


def test_toml_places() -> None:
    places = TomlPlaces('''\
# a comment
[lab]
name = "x"

[[servers]]
name = "a."

[[servers]]
name = "b."
faults = [
  "nxdomain qname=x.",
  {type = "delay", ms = 5},
]
options.nsid = "b"
text = """
[[servers]]
not = "a key"
"""

[[servers]]
[[servers.faults]]
type = "rcode"

[[timeline]]
at = 5
glue = { "ns1.x." = "192.0.2.1" }
''')
    assert places.line("lab") == 2
    assert places.line("lab.name") == 3
    assert places.line("servers") == 5
    assert places.line("servers[0]") == 5 and places.line("servers[0].name") == 6
    assert places.line("servers[1]") == 8 and places.line("servers[1].name") == 9
    assert places.line("servers[1].faults") == 10
    assert places.line("servers[1].faults[0]") == 11
    assert places.line("servers[1].faults[1]") == 12 and places.line("servers[1].faults[1].ms") == 12
    assert places.line("servers[1].options.nsid") == 14
    assert places.line("servers[1].text") == 15
    assert places.line("servers[2]") == 20  # the header inside the string is no header
    assert places.line("servers[2].faults[0]") == 21
    assert places.line("servers[2].faults[0].type") == 22
    assert places.line("timeline[0].at") == 25
    assert places.line("timeline[0].glue.ns1.x.") == 26
    assert places.line("timeline[0].nothing.here") == 24  # the closest enclosing key
    assert places.line("nowhere") == 1


# -- errors ----------------------------------------------------------------------------

SERVERS_AND_ZONE = """\
[[zones]]
file = "example.test.zone"

[[servers]]
name = "ns1.example.test."
"""

# (scenario text, the one problem: exact "file:line: key path:" prefix, then a fragment of the message)
ERRORS = [
    pytest.param("[servrs]\n", "lab.toml:1: servrs: unknown key in the scenario (did you mean 'servers'?)",
                 id="unknown-top-key"),
    pytest.param('[lab]\nname = "x"\nmdoe = "loopback"\n', "lab.toml:3: lab.mdoe: unknown key in [lab] (did you mean 'mode'?)",
                 id="unknown-lab-key"),
    pytest.param('[lab]\nmode = "namespcae"\n', "lab.toml:2: lab.mode: 'namespcae': expected one of loopback, namespace "
                 "(did you mean 'namespace'?)", id="bad-mode"),
    pytest.param('[lab]\nport = 70000\n', "lab.toml:2: lab.port: expected an integer from 0 to 65535, got 70000", id="bad-port"),
    pytest.param(SERVERS_AND_ZONE + 'adresses = ["127.0.0.1"]\n',
                 "lab.toml:6: servers[0].adresses: unknown key in a server (did you mean 'addresses'?)", id="unknown-server-key"),
    pytest.param(SERVERS_AND_ZONE + 'addresses = ["127.0.0.1", "127.0.0.300"]\n',
                 "lab.toml:6: servers[0].addresses[1]: '127.0.0.300' is not an IPv4 or IPv6 address", id="bad-address"),
    pytest.param(SERVERS_AND_ZONE + 'zones = ["exmaple.test."]\n',
                 "lab.toml:6: servers[0].zones: no zone 'exmaple.test.' in this scenario (did you mean 'example.test.'?)",
                 id="unknown-zone"),
    pytest.param(SERVERS_AND_ZONE + 'options = { nsd = "x" }\n',
                 "lab.toml:6: servers[0].options.nsd: unknown key in server options (did you mean 'nsid'?)", id="unknown-option"),
    pytest.param(SERVERS_AND_ZONE + 'faults = ["nxdomian qname=x."]\n',
                 "lab.toml:6: servers[0].faults[0]: unknown fault type 'nxdomian'; did you mean 'nxdomain'?", id="unknown-fault-type"),
    pytest.param(SERVERS_AND_ZONE + '\n[[servers]]\nname = "ns2.example.test."\nfaults = [\n  "delay ms=5",\n'
                 '  {type = "nxdomain", name = "x", qname = "a..b"},\n]\n',
                 "lab.toml:11: servers[1].faults[1].qname: selector qname='a..b': not a domain name", id="fault-table-value"),
    pytest.param(SERVERS_AND_ZONE + 'faults = [{type = "nxdomain", qnme = "www.example.test."}]\n',
                 "lab.toml:6: servers[0].faults[0].qnme: fault nxdomain: unknown parameter qnme", id="fault-table-key"),
    pytest.param(SERVERS_AND_ZONE + 'faults = [5]\n',
                 "lab.toml:6: servers[0].faults[0]: expected a fault spec", id="fault-not-a-spec"),
    pytest.param(SERVERS_AND_ZONE + '\n[[servers]]\naddresses = ["127.0.0.1"]\n',
                 "lab.toml:7: servers[1]: missing key 'name'", id="server-without-name"),
    pytest.param(SERVERS_AND_ZONE + '\n[[servers]]\nname = "ns1.example.test."\n',
                 "lab.toml:8: servers[1].name: ns1.example.test. is already the name of servers[0]", id="server-twice"),
    pytest.param(SERVERS_AND_ZONE + 'addresses = ["127.0.0.5"]\n\n[[servers]]\nname = "ns2.example.test."\n'
                 'addresses = ["127.0.0.5"]\n',
                 "lab.toml:10: servers[1].addresses[0]: 127.0.0.5 port 53 is also ns1.example.test.'s: two servers cannot "
                 "share an address and port", id="address-twice"),
    pytest.param(SERVERS_AND_ZONE + 'addresses = ["192.0.2.1"]\n',
                 "lab.toml:6: servers[0].addresses[0]: 192.0.2.1 is not a loopback address, and the lab runs on this host's "
                 "loopback", id="not-loopback"),
    pytest.param(SERVERS_AND_ZONE + 'addresses = ["224.0.0.1"]\n',
                 "lab.toml:6: servers[0].addresses[0]: 224.0.0.1 cannot be a server's address (multicast or unspecified)",
                 id="multicast"),
    pytest.param('[[zones]]\nfile = "example.test.zone"\ntext = "x"\n',
                 "lab.toml:1: zones[0]: give the zone's data as file = \"NAME.zone\"", id="file-and-text"),
    pytest.param('[[zones]]\norigin = "example.test."\n',
                 "lab.toml:1: zones[0]: give the zone's data as file = \"NAME.zone\"", id="neither-file-nor-text"),
    pytest.param('[[zones]]\nfile = "missing.zone"\n', "lab.toml:2: zones[0].file: ", id="missing-zone-file"),
    pytest.param('[[zones]]\nfile = "example.test.zone"\n\n[[zones]]\nfile = "example.test.zone"\ndelegate = false\n',
                 "lab.toml:4: zones[1].name: two zones are named 'example.test.'", id="two-zones-one-name"),
    pytest.param('[[zones]]\nfile = "example.test.zone"\nname = "a"\n\n[[zones]]\nfile = "example.test.zone"\nname = "b"\n'
                 '[[zones]]\nfile = "example.test.zone"\nname = "c"\n',
                 "lab.toml:5: zones[1]: zones a, b, c all have origin example.test.: say which one the parent delegates to",
                 id="two-zones-one-origin"),
    pytest.param(SERVERS_AND_ZONE + '\n[[delegations]]\nzone = "example.test."\nns = ["ns1.example.test.", "ns9.example.test."]\n',
                 "lab.toml:9: delegations[0].ns[1]: ns9.example.test. is no server of this scenario", id="delegation-to-nothing"),
    pytest.param(SERVERS_AND_ZONE + '\n[[delegations]]\nzone = "example.test."\n',
                 "lab.toml:7: delegations[0]: a delegation needs ns = [", id="delegation-without-ns"),
    pytest.param(SERVERS_AND_ZONE + '\n[[delegations]]\nzone = "example.test."\nns = "ns1.example.test."\nglue = { "ns1.example.test." = "x" }\n',
                 "lab.toml:10: delegations[0].glue.ns1.example.test.: 'x' is not an IPv4 or IPv6 address", id="bad-glue"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = "30s"\naction = "edti"\n',
                 "lab.toml:9: timeline[0].action: unknown action 'edti' (did you mean 'edit'?)", id="unknown-action"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\naction = "stop"\nserver = "ns1.example.test."\n',
                 "lab.toml:7: timeline[0]: missing key 'at'", id="event-without-at"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = "30x"\naction = "stop"\nserver = "ns1.example.test."\n',
                 "lab.toml:8: timeline[0].at: '30x': expected seconds or a duration", id="bad-at"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "stop"\nserver = "ns1.example.test."\ndescripton = ""\n',
                 "lab.toml:11: timeline[0].descripton: unknown key in a 'stop' event (did you mean 'description'?)",
                 id="unknown-event-key"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "stop"\nserver = "ns1.exmaple.test."\n',
                 "lab.toml:10: timeline[0].server: no server 'ns1.exmaple.test.' in this scenario (did you mean 'ns1.example.test.'?)",
                 id="unknown-server"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "bump-serial"\nzone = "exmaple.test."\n',
                 "lab.toml:10: timeline[0].zone: no zone 'exmaple.test.' in this scenario (did you mean 'example.test.'?)",
                 id="event-unknown-zone"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "delegate"\nzone = "exmple.test."\nns = "ns1.example.test."\n',
                 "lab.toml:10: timeline[0].zone: no zone exmple.test. in this scenario to delegate (did you mean 'example.test.'?)",
                 id="delegate-unknown-zone"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "delegate"\nzone = "example.test."\nns = ["ns7.example.test."]\n',
                 "lab.toml:11: timeline[0].ns[0]: ns7.example.test. is no server of this scenario", id="delegate-to-nothing"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "delegate"\nzone = "example.test."\n',
                 "lab.toml:7: timeline[0]: a 'delegate' event needs 'ns'", id="delegate-without-ns"),
    pytest.param(SERVERS_AND_ZONE + 'faults = ["nxdomain"]\n\n[[timeline]]\nat = 1\naction = "remove-fault"\n'
                 'server = "ns1.example.test."\nname = "nxdomian-1"\n',
                 "lab.toml:12: timeline[0].name: no fault 'nxdomian-1' on ns1.example.test. (did you mean 'nxdomain-1'?)",
                 id="remove-unknown-fault"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "add-fault"\nserver = "ns1.example.test."\n'
                 'fault = "delay ms=abc"\n',
                 "lab.toml:11: timeline[0].fault: fault delay: ms='abc': expected a number", id="add-bad-fault"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "edit"\nzone = "example.test."\n'
                 'add = ["ok 300 A 192.0.2.1",\n       "bad 300 A 999.1.1.1"]\n',
                 "lab.toml:12: timeline[0].add[1]: zone example.test.: cannot parse record 'bad 300 A 999.1.1.1'",
                 id="edit-bad-record"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "edit"\nzone = "example.test."\nremove = "@ SOA"\n',
                 "lab.toml:11: timeline[0].remove: zone example.test.: the edit removes the SOA", id="edit-removes-soa"),
    pytest.param(SERVERS_AND_ZONE + '\n[[timeline]]\nat = 1\naction = "edit"\nzone = "example.test."\nbump_serial = "yes"\n',
                 "lab.toml:11: timeline[0].bump_serial: expected true or false, got a string", id="edit-bad-bool"),
    pytest.param(SERVERS_AND_ZONE + '\n[fix]\ndescriptoin = "x"\n',
                 "lab.toml:8: fix.descriptoin: unknown key in [fix] (did you mean 'description'?)", id="unknown-fix-key"),
    pytest.param('zones = 5\n', "lab.toml:1: zones: expected an array of tables ([[zones]] of zones), got an integer",
                 id="zones-not-tables"),
]


@pytest.mark.parametrize(("text", "expected"), ERRORS)
def test_errors(tmp_path: Path, text: str, expected: str) -> None:
    found = problems(tmp_path, text, **ZONE)
    expected = expected.replace("{tmp}", str(tmp_path))
    assert len(found) == 1, found
    assert found[0].startswith(expected), f"{found[0]!r}\n does not start with\n{expected!r}"


def test_a_non_loopback_address_suggests_lab_run_and_is_fine_in_a_namespace(tmp_path: Path) -> None:
    text = SERVERS_AND_ZONE + 'addresses = ["192.0.2.1"]\n\n[[servers]]\nname = "ns2.example.test."\naddresses = ["2001:db8::2"]\n'
    found = problems(tmp_path, text, **ZONE)
    assert len(found) == 2
    assert all("`fakens lab run SCENARIO -- COMMAND`" in p for p in found)
    assert found[1].startswith("lab.toml:10: servers[1].addresses[0]: 2001:db8::2 is not a loopback address")
    assert [s.addresses for s in load(tmp_path, text, mode="namespace", **ZONE).servers] == [["192.0.2.1"], ["2001:db8::2"]]
    assert load(tmp_path, '[lab]\nmode = "namespace"\n' + text, **ZONE).mode == "namespace"


def test_port_zero_allows_one_address_twice(tmp_path: Path) -> None:
    text = SERVERS_AND_ZONE + 'addresses = ["127.0.0.5"]\n\n[[servers]]\nname = "ns2.example.test."\naddresses = ["127.0.0.5"]\n'
    assert len(load(tmp_path, "[lab]\nport = 0\n" + text, **ZONE).servers) == 2


def test_bad_toml_names_its_line(tmp_path: Path) -> None:
    assert problems(tmp_path, '[lab]\nname = "x"\nport =\n') == [
        "lab.toml:3: not valid TOML: Invalid value (at line 3, column 7)"]


def test_an_unreadable_scenario(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"^nothing.toml: cannot read the scenario: No such file or directory$"):
        load_scenario("nothing.toml")


def test_a_zone_file_error_names_the_zone_file_and_its_line(tmp_path: Path) -> None:
    zone = EXAMPLE_ZONE.replace("www  A   192.0.2.10", "www  A   bogus")
    found = problems(tmp_path, '\n[[zones]]\nfile = "sub/example.test.zone"\n', sub__example_test_zone=zone)
    assert len(found) == 1
    assert found[0].startswith(f"lab.toml:3: zones[0].file: {tmp_path}/sub/example.test.zone:8: the A record's data does not parse")


def test_an_inline_zone_error_names_the_scenario_line(tmp_path: Path) -> None:
    found = problems(tmp_path, '''\
[[zones]]
origin = "example.test."
text = """
$TTL 300
@ SOA ns1 h 1 3600 600 86400 300
@ NS ns1
www A 999.0.0.1
"""
''')
    assert len(found) == 1
    assert found[0].startswith("lab.toml:3: zones[0].text: lab.toml:7: the A record's data does not parse")


def test_several_problems_at_once(tmp_path: Path) -> None:
    text = """\
[lab]
mdoe = "loopback"

[[zones]]
file = "example.test.zone"

[[servers]]
name = "ns1.example.test."
addresses = ["192.0.2.1"]
faults = [{type = "nxdomain", qnme = "x."}]

[[timeline]]
at = "30x"
action = "edti"
"""
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, text, **ZONE)
    found = caught.value.problems
    assert [p.split(": ")[0] + ": " + p.split(": ")[1] for p in found] == [
        "lab.toml:2: lab.mdoe", "lab.toml:10: servers[0].faults[0].qnme", "lab.toml:13: timeline[0].at",
        "lab.toml:14: timeline[0].action", "lab.toml:9: servers[0].addresses[0]"]
    assert str(caught.value).endswith("\n(5 problems)")
    assert str(caught.value).splitlines()[:5] == found


def test_load_scenario_refuses_an_unknown_mode(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="mode 'host'"):
        load(tmp_path, '[[zones]]\nfile = "example.test.zone"\n', mode="host", **ZONE)


def test_zone_warnings_are_kept(tmp_path: Path) -> None:
    one_ns = EXAMPLE_ZONE.replace("@    NS  ns2\n", "")
    scenario = load(tmp_path, '[[zones]]\nfile = "example.test.zone"\n', example_test_zone=one_ns)
    assert any("too-few-ns" in str(w) for w in scenario.zones[0].zone.warnings)
    assert math.isfinite(scenario.delegation_ttl)


def test_a_zone_whose_soa_is_not_the_given_origin_is_served_under_its_soa_with_a_warning(tmp_path: Path) -> None:
    """As CoreDNS serves such a file (and the zone loader does): not refused."""
    scenario = load(tmp_path, '[[zones]]\nfile = "example.test.zone"\norigin = "other.test."\n',
                    example_test_zone=EXAMPLE_ZONE)
    zone = scenario.zones[0].zone
    assert zone.origin.to_text() == "example.test."
    assert any("other.test." in str(w) for w in zone.warnings), zone.warnings
