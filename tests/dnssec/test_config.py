"""DNSSEC configuration without sockets: policies from tables, scenario keys with file:line
errors, signed labs planned (DS in parents, a signed root), the trust anchor files, key files
from dnssec-keygen, and ``fakens serve --dnssec --trust-anchor``."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable
from pathlib import Path

import dns.name
import dns.rdatatype
import pytest

import fakens
import fakens.cli
from fakens.dnssec import DnssecPolicy, Nsec3Params, load_keys, sign_zone
from fakens.dnssec.anchors import bind_text, ds_text
from fakens.errors import ConfigError
from fakens.scenario import build_lab, load_scenario

from .conftest import ZONE


def test_policy_from_tables() -> None:
    assert DnssecPolicy.from_value(True) == DnssecPolicy()
    assert DnssecPolicy.from_value(False) is None
    policy = DnssecPolicy.from_value({"algorithm": "ED25519", "csk": True, "lifetime": "1d",
                                      "inception_offset": "-2h", "nsec3": {"iterations": 0, "salt": "aabb", "opt_out": True}})
    assert policy == DnssecPolicy(algorithm=15, csk=True, lifetime=86400, inception_offset=-7200,
                                  nsec3=Nsec3Params(0, b"\xaa\xbb", True))
    for bad, message in (({"algorithm": 3}, "dnssec: DNSSEC algorithm 3"), ({"nsec3": {"iter": 1}}, "dnssec.nsec3.iter: unknown"),
                         ({"algorithm": 5, "nsec3": True}, "use 7"), ({"salt": "x"}, "dnssec.salt: unknown key")):
        with pytest.raises(ConfigError, match=message):
            DnssecPolicy.from_value(bad)


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_scenario_signed_lab_has_chain_of_trust(tmp_path: Path) -> None:
    path = _write(tmp_path / "lab.toml", f'[lab]\nname = "signed"\ndnssec = true\n\n[[zones]]\nfile = "{ZONE}"\n'
                                         'dnssec = {algorithm = 15, nsec3 = {iterations = 0, salt = ""}}\n')
    lab = build_lab(load_scenario(path), probe=False)
    assert lab.signed
    root, tld, zone = (lab.zones[dns.name.from_text(n)] for n in (".", "test.", "example.test."))
    assert zone.signer is not None and zone.signer.policy.algorithm == 15 and zone.signer.policy.nsec3 is not None
    assert tld.signer is not None and root.signer is not None and root.signer.policy.algorithm == 13
    assert set(tld.current.get(zone.origin, dns.rdatatype.DS) or ()) == set(zone.signer.ds_rdatas())
    assert set(root.current.get(tld.origin, dns.rdatatype.DS) or ()) == set(tld.signer.ds_rdatas())
    lab.reset()  # the DS and keys are part of the lab as built
    assert tld.current.get(zone.origin, dns.rdatatype.DS) is not None
    assert zone.current.get(zone.origin, dns.rdatatype.DNSKEY) is not None
    config = lab.unbound_config(5300, str(tmp_path))
    assert 'module-config: "validator iterator"' in config and f'trust-anchor-file: "{tmp_path}/root.ds"' in config
    assert (tmp_path / "root.ds").read_text() == lab.trust_anchors
    named = lab.named_config(5301, str(tmp_path))
    assert "dnssec-validation yes" in named and f'include "{tmp_path}/trust-anchors.conf"' in named
    assert "static-ds" in (tmp_path / "trust-anchors.conf").read_text()


def test_scenario_zone_may_stay_unsigned_in_a_signed_lab(tmp_path: Path) -> None:
    path = _write(tmp_path / "lab.toml", f'[lab]\ndnssec = true\n\n[[zones]]\nfile = "{ZONE}"\ndnssec = false\n')
    lab = build_lab(load_scenario(path), probe=False)
    assert lab.signed and lab.zones[dns.name.from_text("example.test.")].signer is None
    tld = lab.zones[dns.name.from_text("test.")]
    assert tld.current.get(dns.name.from_text("example.test."), dns.rdatatype.DS) is None


def test_unsigned_lab_is_not_validated(tmp_path: Path) -> None:
    lab = build_lab(load_scenario(_write(tmp_path / "lab.toml", f'[[zones]]\nfile = "{ZONE}"\n')), probe=False)
    assert not lab.signed
    assert 'module-config: "iterator"' in lab.unbound_config(5300, str(tmp_path))


def test_scenario_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.toml", f'[[zones]]\nfile = "{ZONE}"\n\n[zones.dnssec]\nalgorithm = 13\n'
                                         'nsec3 = {iterations = "many"}\n')
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert f"{path}:6: zones[0].dnssec.nsec3.iterations: expected a whole number, not 'many'" in str(info.value)


def test_trust_anchor_texts() -> None:
    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone)
    ds = signer.ds_rdatas()[0]
    assert ds_text([zone]).split() == ["example.test.", "3600", "IN", "DS", *ds.to_text().split()]
    assert f'"example.test." static-ds {ds.key_tag} 13 2 "{ds.digest.hex().upper()}";' in bind_text([zone])
    with pytest.raises(ConfigError, match="no signed zone"):
        ds_text([fakens.Zone.from_file(ZONE)])


@pytest.mark.parametrize("algorithm", ["ECDSAP256SHA256", "RSASHA256", "ED25519"])
def test_keys_from_dnssec_keygen(tmp_path: Path, require_tool: Callable[[str], str], algorithm: str) -> None:
    keygen = require_tool("dnssec-keygen")
    for flags in (["-f", "KSK"], []):
        subprocess.run([keygen, "-q", "-K", str(tmp_path), "-a", algorithm, *flags, "example.test"], check=True,
                       capture_output=True, timeout=60)
    keys = load_keys(tmp_path, dns.name.from_text("example.test."))
    assert [k.is_ksk for k in keys] == [True, False]
    zone = fakens.Zone.from_file(ZONE)
    signer = sign_zone(zone, DnssecPolicy(algorithm=keys[0].algorithm, key_dir=str(tmp_path)))
    assert [k.key_tag for k in signer.keys] == [k.key_tag for k in keys]
    www = zone.current.get(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert www is not None
    keyring = {zone.origin: zone.current.rrset(zone.origin, dns.rdatatype.DNSKEY)}
    rrset = zone.current.rrset(dns.name.from_text("www.example.test."), dns.rdatatype.A)
    assert rrset is not None
    dns.dnssec.validate(rrset, signer.rrsig_rrset(rrset.name, www), keyring)


def test_missing_key_files_say_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no key files for example.test. .* Kexample.test.\+ALG\+TAG.key"):
        sign_zone(fakens.Zone.from_file(ZONE), DnssecPolicy(key_dir=str(tmp_path)))


def test_cli_serve_dnssec_writes_trust_anchor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[fakens.Server] = []

    async def run(server: fakens.Server, args: argparse.Namespace) -> int:
        served.append(server)
        return 0

    monkeypatch.setattr(fakens.cli, "_run", run)
    anchor, conf = tmp_path / "anchor.ds", tmp_path / "anchor.conf"
    assert fakens.cli.main(["serve", ZONE, "--dnssec", "--trust-anchor", str(anchor)]) == 0
    zone = served[0].engine.zones[dns.name.from_text("example.test.")]
    assert zone.signer is not None and zone.signer.policy == DnssecPolicy()
    assert anchor.read_text() == ds_text([zone])
    assert fakens.cli.main(["serve", ZONE, "--dnssec", "--trust-anchor", str(conf)]) == 0
    assert "trust-anchors {" in conf.read_text()
    assert fakens.cli.main(["serve", ZONE, "--trust-anchor", str(anchor)]) != 0  # needs --dnssec
