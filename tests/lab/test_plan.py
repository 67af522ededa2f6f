"""What build_lab plans from a scenario (no sockets: probe=False): the made root and TLDs,
computed and explicit delegations with their glue, addresses, two copies of one zone."""

from __future__ import annotations

from pathlib import Path

import dns.name
import dns.rdatatype
import pytest

from fakens.lab import Hierarchy
from fakens.zones import Zone

from ._common import EXAMPLE_ZONE, plan

FILES = {"example_test_zone": EXAMPLE_ZONE}


def rrset(zone: Zone, owner: str, rdtype: str) -> list[str]:
    """The records of one RRset as sorted text ([] when there is none)."""
    found = zone.current.get(dns.name.from_text(owner), dns.rdatatype.from_text(rdtype))
    return sorted(rd.to_text() for rd in found) if found is not None else []


def ttl(zone: Zone, owner: str, rdtype: str) -> int:
    found = zone.current.get(dns.name.from_text(owner), dns.rdatatype.from_text(rdtype))
    assert found is not None, f"no {owner} {rdtype} in {zone.origin}"
    return int(found.ttl)


def servers(lab: Hierarchy) -> dict[str, tuple[list[str], list[str]]]:
    """Server name -> (addresses, origins served)."""
    return {m.name: (m.addresses, [z.origin.to_text() for z in m.zones]) for m in lab.members}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_made_root_and_tld_with_computed_delegations(tmp_path: Path) -> None:
    lab = plan(tmp_path, '[[zones]]\nfile = "example.test.zone"\n', files=FILES, octet=1)  # 127.1.x.y whatever the xdist worker
    assert servers(lab) == {
        "a.root-servers.test.": (["127.1.0.10"], ["."]),
        "ns1.nic.test.": (["127.1.0.11"], ["test."]),
        "ns1.example.test.": (["127.1.0.12"], ["example.test."]),
        "ns2.example.test.": (["127.1.0.13"], ["example.test."]),
    }
    root, tld, zone = lab.zones[dns.name.root], lab.zones[dns.name.from_text("test.")], lab.all_zones["example.test."]
    assert list(lab.zones) == [dns.name.from_text(n) for n in (".", "example.test.", "test.")]
    assert rrset(root, ".", "NS") == ["a.root-servers.test."]
    assert rrset(root, "a.root-servers.test.", "A") == ["127.1.0.10"]
    assert rrset(root, "test.", "NS") == ["ns1.nic.test."]
    assert rrset(root, "ns1.nic.test.", "A") == ["127.1.0.11"]  # glue
    assert rrset(tld, "a.root-servers.test.", "A") == ["127.1.0.10"]  # the root server's name resolves in test.
    assert rrset(tld, "example.test.", "NS") == ["ns1.example.test.", "ns2.example.test."]
    assert rrset(tld, "ns1.example.test.", "A") == ["127.1.0.12"]
    assert rrset(tld, "ns2.example.test.", "A") == ["127.1.0.13"]
    assert ttl(tld, "example.test.", "NS") == 86400 and ttl(tld, "ns1.example.test.", "A") == 86400
    # the zone's own NS hosts get the addresses of their servers (no given addresses)
    assert rrset(zone, "ns1.example.test.", "A") == ["127.1.0.12"]
    assert rrset(zone, "ns2.example.test.", "A") == ["127.1.0.13"]
    assert zone.serial == 1 and tld.serial == 1
    assert [z.current for z in lab.all_zones.values()] == [z.history[0] for z in lab.all_zones.values()]  # baseline
    assert lab.root_hints == ".                     3600000 NS a.root-servers.test.\n" \
                             "a.root-servers.test.  3600000 A  127.1.0.10\n"


def test_tld_servers_and_delegation_ttl(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [lab]
        tld_servers = { test = 3 }
        delegation_ttl = "5m"

        [[zones]]
        file = "example.test.zone"

        [[zones]]
        origin = "example.io."
        text = "@ 300 SOA ns1 h 1 3600 600 86400 300\\n@ 300 NS ns1\\nns1 300 A 127.0.0.1\\n"
        """, files=FILES)
    tld = lab.zones[dns.name.from_text("test.")]
    assert rrset(lab.zones[dns.name.root], "test.", "NS") == ["ns1.nic.test.", "ns2.nic.test.", "ns3.nic.test."]
    assert rrset(lab.zones[dns.name.root], "io.", "NS") == ["ns1.nic.io."]
    assert ttl(tld, "example.test.", "NS") == 300
    assert [m.name for m in lab.members if dns.name.from_text("test.") in [z.origin for z in m.zones]] == [
        "ns1.nic.test.", "ns2.nic.test.", "ns3.nic.test."]


def test_ipv6_addresses_make_aaaa_glue_and_given_addresses_are_kept(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[servers]]
        name = "ns1.example.test."
        addresses = ["192.0.2.1", "2001:db8::1"]

        [[servers]]
        name = "ns2.example.test."
        addresses = ["2001:db8::2"]
        """, files=FILES)
    tld, zone = lab.zones[dns.name.from_text("test.")], lab.all_zones["example.test."]
    assert servers(lab)["ns1.example.test."] == (["192.0.2.1", "2001:db8::1"], ["example.test."])
    assert servers(lab)["ns2.example.test."] == (["2001:db8::2"], ["example.test."])
    assert rrset(tld, "ns1.example.test.", "A") == ["192.0.2.1"]
    assert rrset(tld, "ns1.example.test.", "AAAA") == ["2001:db8::1"]
    assert rrset(tld, "ns2.example.test.", "A") == []
    assert rrset(tld, "ns2.example.test.", "AAAA") == ["2001:db8::2"]
    # the zone says 127.0.0.1 for both: a given server's address does not rewrite it, a warning says so
    assert rrset(zone, "ns1.example.test.", "A") == ["127.0.0.1"]
    assert rrset(zone, "ns2.example.test.", "A") == ["127.0.0.1"]
    assert rrset(zone, "ns2.example.test.", "AAAA") == []
    assert len(lab.warnings) == 2
    assert lab.warnings[0] == ("zone example.test.: ns1.example.test. has address 127.0.0.1 but its server listens on "
                               "192.0.2.1, 2001:db8::1; kept as written (a resolver goes to the zone's address)")


def test_an_own_ns_host_without_address_keeps_none(tmp_path: Path) -> None:
    lab = plan(tmp_path, '[[zones]]\nfile = "example.test.zone"\n',
               files={"example_test_zone": EXAMPLE_ZONE.replace("ns2  A   127.0.0.1\n", "")})
    zone, tld = lab.all_zones["example.test."], lab.zones[dns.name.from_text("test.")]
    address = servers(lab)["ns2.example.test."][0][0]
    assert rrset(zone, "ns2.example.test.", "A") == []  # the mistake is served on purpose
    assert rrset(tld, "ns2.example.test.", "A") == [address]  # while the parent's glue has it
    assert rrset(zone, "ns1.example.test.", "A") == [servers(lab)["ns1.example.test."][0][0]]


def test_a_given_server_without_address_keeps_none_in_its_zone(tmp_path: Path) -> None:
    lab = plan(tmp_path, '[[zones]]\nfile = "example.test.zone"\n[[servers]]\nname = "ns2.example.test."\n'
                         'addresses = ["192.0.2.2"]\n',
               files={"example_test_zone": EXAMPLE_ZONE.replace("ns2  A   127.0.0.1\n", "")})
    zone, tld = lab.all_zones["example.test."], lab.zones[dns.name.from_text("test.")]
    assert rrset(zone, "ns2.example.test.", "A") == []
    assert rrset(tld, "ns2.example.test.", "A") == ["192.0.2.2"]


def test_explicit_delegation_replaces_the_computed_one(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[delegations]]
        zone = "example.test."
        ns = ["ns1.example.test.", "lame.example.test.", "ns.elsewhere.example."]
        glue = { "lame.example.test." = ["192.0.2.66", "2001:db8::66"] }
        ttl = "1h"
        """, files=FILES)
    tld = lab.zones[dns.name.from_text("test.")]
    assert rrset(tld, "example.test.", "NS") == ["lame.example.test.", "ns.elsewhere.example.", "ns1.example.test."]
    assert ttl(tld, "example.test.", "NS") == 3600
    assert rrset(tld, "lame.example.test.", "A") == ["192.0.2.66"]
    assert rrset(tld, "lame.example.test.", "AAAA") == ["2001:db8::66"]
    assert rrset(tld, "ns1.example.test.", "A") == []  # glue given: exactly that glue, no more
    assert rrset(tld, "ns2.example.test.", "A") == []
    assert "ns2.example.test." in servers(lab)  # the zone's own NS still get servers


def test_explicit_delegation_without_glue_computes_it(tmp_path: Path) -> None:
    lab = plan(tmp_path, '[[zones]]\nfile = "example.test.zone"\n\n[[delegations]]\nzone = "example.test."\n'
                         'ns = ["ns2.example.test."]\n', files=FILES)
    tld = lab.zones[dns.name.from_text("test.")]
    assert rrset(tld, "example.test.", "NS") == ["ns2.example.test."]
    assert rrset(tld, "ns2.example.test.", "A") == [servers(lab)["ns2.example.test."][0][0]]
    assert rrset(tld, "ns1.example.test.", "A") == []


def test_delegate_false_leaves_the_parent_without_the_cut(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[zones]]
        delegate = false
        text = "$ORIGIN hidden.example.test.\\n@ 300 SOA ns1 h 1 3600 600 86400 300\\n@ 300 NS ns1\\nns1 300 A 127.0.0.1\\n"
        """, files=FILES)
    parent = lab.all_zones["example.test."]
    assert rrset(parent, "hidden.example.test.", "NS") == []
    assert "ns1.hidden.example.test." in servers(lab)  # served all the same
    assert rrset(lab.zones[dns.name.from_text("test.")], "example.test.", "NS") != []


def test_a_child_in_a_given_parent_gets_ns_and_glue_in_it(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[zones]]
        text = "$ORIGIN sub.example.test.\\n@ 300 SOA ns1 h 1 3600 600 86400 300\\n@ 300 NS ns1\\n@ 300 NS ns1.example.test.\\n"
        """, files=FILES)
    parent = lab.all_zones["example.test."]
    sub = servers(lab)["ns1.sub.example.test."][0][0]
    assert rrset(parent, "sub.example.test.", "NS") == ["ns1.example.test.", "ns1.sub.example.test."]
    assert rrset(parent, "ns1.sub.example.test.", "A") == [sub]
    # ns1.example.test. serves both zones: one server, one address
    assert servers(lab)["ns1.example.test."][1] == ["example.test.", "sub.example.test."]


def test_two_zones_with_one_origin_old_and_new_provider(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [[zones]]
        name = "old"
        text = "$ORIGIN shop.example.\\n@ 300 SOA ns1.oldhost.example. h 1 3600 600 86400 300\\n@ 300 NS ns1.oldhost.example.\\nwww A 192.0.2.1\\n"

        [[zones]]
        name = "new"
        delegate = true
        text = "$ORIGIN shop.example.\\n@ 300 SOA ns1.newhost.example. h 5 3600 600 86400 300\\n@ 300 NS ns1.newhost.example.\\nwww A 198.51.100.1\\n"

        [[zones]]
        text = "$ORIGIN oldhost.example.\\n@ 300 SOA ns1 h 1 3600 600 86400 300\\n@ 300 NS ns1\\n"

        [[zones]]
        text = "$ORIGIN newhost.example.\\n@ 300 SOA ns1 h 1 3600 600 86400 300\\n@ 300 NS ns1\\n"

        [[servers]]
        name = "ns1.oldhost.example."
        addresses = ["192.0.2.53"]
        zones = ["old", "oldhost.example."]

        [[servers]]
        name = "ns1.newhost.example."
        addresses = ["2001:db8::53"]
        zones = ["new", "newhost.example."]
        """)
    tld = lab.zones[dns.name.from_text("example.")]
    shop = dns.name.from_text("shop.example.")
    assert rrset(tld, "shop.example.", "NS") == ["ns1.newhost.example."]  # delegate = true on the new copy
    assert rrset(tld, "ns1.newhost.example.", "AAAA") == ["2001:db8::53"]
    assert rrset(tld, "ns1.oldhost.example.", "A") == ["192.0.2.53"]
    assert lab.zones[shop] is lab.all_zones["new"]
    assert lab.all_zones["old"].serial == 1 and lab.all_zones["new"].serial == 5
    assert servers(lab)["ns1.oldhost.example."][1] == ["shop.example.", "oldhost.example."]
    assert lab.member("ns1.oldhost.example.").zones[0] is lab.all_zones["old"]
    assert lab.member("ns1.newhost.example.").zones[0] is lab.all_zones["new"]
    # the host zones give their own NS host no address: kept so (only the parent's glue has it)
    assert rrset(lab.all_zones["oldhost.example."], "ns1.oldhost.example.", "A") == []
    assert rrset(lab.all_zones["newhost.example."], "ns1.newhost.example.", "AAAA") == []


def test_without_delegate_the_first_copy_is_delegated(tmp_path: Path) -> None:
    zone = "$ORIGIN shop.example.\\n@ 300 SOA {ns} h 1 3600 600 86400 300\\n@ 300 NS {ns}\\n"
    lab = plan(tmp_path, f"""\
        [[zones]]
        name = "old"
        delegate = false
        text = "{zone.format(ns="ns.elsewhere.example.")}"

        [[zones]]
        name = "new"
        text = "{zone.format(ns="ns1.shop.example.")}"
        """)
    assert rrset(lab.zones[dns.name.from_text("example.")], "shop.example.", "NS") == ["ns1.shop.example."]
    assert lab.zones[dns.name.from_text("shop.example.")] is lab.all_zones["new"]


def test_a_server_serving_the_made_root(tmp_path: Path) -> None:
    lab = plan(tmp_path, '[[zones]]\nfile = "example.test.zone"\n\n[[servers]]\nname = "a.root-servers.test."\n'
                         'addresses = ["192.0.2.100"]\nfaults = ["delay ms=10"]\n', files=FILES)
    assert servers(lab)["a.root-servers.test."] == (["192.0.2.100"], ["."])
    assert lab.root_address == "192.0.2.100"
    assert rrset(lab.zones[dns.name.root], "a.root-servers.test.", "A") == ["192.0.2.100"]
    assert [f.name for f in lab.member("a.root-servers.test.").faults] == ["delay-1"]


def test_loopback_mode_plans_in_the_octet_given(tmp_path: Path) -> None:
    lab = plan(tmp_path, '[[zones]]\nfile = "example.test.zone"\n', files=FILES, octet=9, mode="loopback",
               load_mode="loopback")
    assert [m.address for m in lab.members] == ["127.9.0.10", "127.9.0.11", "127.9.0.12", "127.9.0.13"]


def test_two_labs_from_one_scenario_do_not_share_zones(tmp_path: Path) -> None:
    from fakens.scenario import build_lab, load_scenario

    (tmp_path / "example.test.zone").write_text(EXAMPLE_ZONE)
    (tmp_path / "lab.toml").write_text('[[zones]]\nfile = "example.test.zone"\n')
    scenario = load_scenario("lab.toml")
    one, two = build_lab(scenario, probe=False), build_lab(scenario, probe=False)
    one.all_zones["example.test."].edit(add=["new 300 A 192.0.2.1"])
    assert two.all_zones["example.test."].serial == 1
    assert scenario.zones[0].zone.serial == 1


def test_a_given_server_without_zones_serves_the_zones_naming_it(tmp_path: Path) -> None:
    lab = plan(tmp_path, """\
        [[zones]]
        file = "example.test.zone"

        [[servers]]
        name = "ns1.example.test."
        addresses = ["192.0.2.1"]

        [[servers]]
        name = "backup.example.test."
        addresses = ["192.0.2.3"]
        zones = ["example.test."]
        """, files=FILES)
    assert servers(lab)["ns1.example.test."] == (["192.0.2.1"], ["example.test."])
    assert servers(lab)["backup.example.test."] == (["192.0.2.3"], ["example.test."])
    assert "ns2.example.test." not in servers(lab)  # the zone is listed by a server: no more are made
