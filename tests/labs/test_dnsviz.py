"""`fakens lab verify --tool dnsviz`: dnsviz probe of a lab's own servers and dnsviz grok (with
the lab's root key when it is signed), checked against the lab's [expect.dnsviz] (the error codes
DNSViz 0.9.4 reports, exactly), broken and fixed, for a signed and an unsigned lab; the probe's
and grok's arguments, grok's JSON read (a query's ``error`` list too), and the table's mistakes
named with file and line. Every shipped lab's table is run by scripts/resolver_matrix.sh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def fakens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fakens", *args], capture_output=True, text=True, timeout=600,
                          check=False, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd="/")


def verify_dnsviz(lab: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """``lab verify LAB --tool dnsviz --and-fix``, which must pass: the two reports and DNSViz's errors
    as each reported them (``"MISSING_SEP_FOR_ALG, NO_SEP"``, ``"none"``)."""
    out = tmp_path / "v.json"
    done = fakens("lab", "verify", lab, "--tool", "dnsviz", "--and-fix", "--json", str(out),
                  "--dir", str(tmp_path / "d"))
    assert done.returncode == 0, done.stdout + done.stderr
    broken, fixed = json.loads(out.read_text())
    assert (broken["fixed"], fixed["fixed"]) == (False, True) and broken["ok"] and fixed["ok"]
    exact = [r["observed"] for report in (broken, fixed) for r in report["results"]
             if r["what"] == "its errors, exactly"]
    return broken, fixed, exact


@pytest.mark.port53
def test_dnsviz_errors_of_a_stale_ds_and_none_with_the_fix(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    require_tool("dnsviz")
    broken, _, exact = verify_dnsviz("stale-ds-rollover", tmp_path)
    assert broken["versions"]["dnsviz"]
    assert exact == ["MISSING_SEP_FOR_ALG, NO_SEP", "none"]
    grok = json.loads((tmp_path / "d" / "stale-ds-rollover" / "dnsviz-dnsviz" / "grok.json").read_text())
    assert "example.test." in grok  # the probe went down the lab's own hierarchy


def test_a_wrong_dnsviz_table_is_named_with_file_and_line(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "nsec-bitmap.toml").read_text()
    text = text.replace('domain = "www.example.com."\nerrors = ["EXISTING_TYPE_NOT_IN_BITMAP"]',
                        'errors = "EXISTING_TYPE_NOT_IN_BITMAP"\nmust = "BOGUS"\nlevel = 2')
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    lines = text.splitlines()
    done = fakens("lab", "check", str(bad))
    assert done.returncode == 2, done.stdout
    table = lines.index("[expect.dnsviz]") + 1
    assert f"{bad}:{table}: expect.dnsviz: DNSViz's findings need domain = " in done.stderr, done.stderr
    assert f"{bad}:{lines.index('level = 2') + 1}: expect.dnsviz.level: unknown key" in done.stderr
    must = lines.index('must = "BOGUS"') + 1
    assert f"{bad}:{must}: expect.dnsviz.must: expected an array of strings" in done.stderr
    assert "expect.dnsviz.errors: expected an array of strings" in done.stderr


def test_an_unsigned_lab_is_probed_without_a_trust_anchor_and_several_names_at_once() -> None:
    """grok gets ``-t`` only for a signed lab; the probe takes a list of names, and asks over IPv6
    too when a server of the lab has an IPv6 address."""
    from fakens.catalog import lab_path
    from fakens.dnsviz import grok_argv, is_signed, probe_argv
    from fakens.scenario import build_lab, load_scenario

    lab = build_lab(load_scenario(lab_path("bad-answers")), probe=False)
    assert not is_signed(lab)
    argv = probe_argv(lab, ["www.rcode.test.", "www.flags.test."], "p.json")
    assert argv[:5] == ["probe", "-4", "-A", "-a", "."] and argv[-3:] == ["p.json", "www.rcode.test.", "www.flags.test."]
    assert argv[6].startswith(".:a.root-servers.test.=127.")
    assert probe_argv(lab, "www.rcode.test.", "p.json")[-1] == "www.rcode.test."
    ipv6 = build_lab(load_scenario(lab_path("lame-modes")), probe=False)  # ns6 has ::1 only
    assert "-4" not in probe_argv(ipv6, "www.example.test.", "p.json")
    assert "-t" not in grok_argv("p.json", "g.json", None)
    assert grok_argv("p.json", "g.json", "key.txt")[4:6] == ["-t", "key.txt"]


def test_grok_findings_include_a_query_s_response_errors() -> None:
    """grok lists what a server answered wrongly under a query's ``error``/``warning`` (singular),
    a zone's and delegation's findings under ``errors``/``warnings``: both are read."""
    from fakens.dnsviz import findings

    grok = {"www.rcode.test.": {"status": "INDETERMINATE", "queries": {"www.rcode.test./IN/A": {
        "error": [{"code": "INVALID_RCODE", "description": "The response had an invalid RCODE (SERVFAIL)."}]}}},
        "example.test.": {"status": "NOERROR", "zone": {"errors": [{"code": "SERVER_NOT_AUTHORITATIVE"}]},
                          "delegation": {"status": "INSECURE", "warnings": [{"code": "NS_NAME_NOT_IN_CHILD"}]},
                          "queries": {"example.test./IN/SOA": {"warning": [{"code": "ERROR_WITH_EDNS"}]}}}}
    found = {(f.kind, f.code, f.where) for f in findings(grok)}
    assert found == {("STATUS", "INDETERMINATE", "/www.rcode.test."),
                     ("ERROR", "INVALID_RCODE", "/www.rcode.test./queries/www.rcode.test./IN/A"),
                     ("ERROR", "SERVER_NOT_AUTHORITATIVE", "/example.test./zone"),
                     ("STATUS", "INSECURE", "/example.test./delegation"),
                     ("WARNING", "NS_NAME_NOT_IN_CHILD", "/example.test./delegation"),
                     ("WARNING", "ERROR_WITH_EDNS", "/example.test./queries/example.test./IN/SOA")}


def test_a_dnsviz_table_s_domain_is_a_name_or_a_list_and_its_types_are_query_types(tmp_path: Path) -> None:
    text = (ROOT / "fakens" / "labs" / "lame-modes.toml").read_text()
    start = text.index("[expect.dnsviz]")
    table = text[start:text.index("[expect.dnsviz.fixed]")]
    domain = next(line for line in table.splitlines() if line.startswith("domain ="))
    for value, ok in (('["www.example.test.", "example.test."]', True), ('"www.example.test."', True),
                      ("[]", False), ("5", False)):
        bad = tmp_path / "lab.toml"
        bad.write_text(text.replace(domain, f"domain = {value}"))
        done = fakens("lab", "check", str(bad))
        assert (done.returncode == 0) is ok, (value, done.stderr)
        if not ok:
            assert "expect.dnsviz: DNSViz's findings need domain = " in done.stderr, done.stderr
    bad = tmp_path / "lab.toml"
    bad.write_text(text.replace(domain, f'{domain}\ntypes = ["A", "NOPE"]'))
    done = fakens("lab", "check", str(bad))
    assert done.returncode == 2 and "expect.dnsviz.types[1]: 'NOPE' is not a query type" in done.stderr, done.stderr


@pytest.mark.port53
def test_dnsviz_sees_an_unsigned_lab_s_lame_servers_and_none_with_the_fix(
        tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    """No trust anchor (the lab is unsigned): grok reports the lame servers' REFUSED, missing AA and
    upward referral, the IPv6-only server that drops, and nothing once every server answers."""
    require_tool("dnsviz")
    _, _, exact = verify_dnsviz("lame-modes", tmp_path)
    assert "INVALID_RCODE" in exact[0] and "UPWARD_REFERRAL" in exact[0] and exact[1] == "none"
    assert "SERVER_UNRESPONSIVE_UDP" in exact[0]  # ns6, IPv6 only: probed without -4
    assert not (tmp_path / "d" / "lame-modes" / "dnsviz-dnsviz" / "root-dnskey.txt").exists()
