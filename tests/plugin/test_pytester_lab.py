"""The `fakens_lab` fixture as a user meets it: a shipped lab started by name in an inner
pytest run (pytester), its servers, resolver configs and symptom table at hand."""

from __future__ import annotations

import pytest

from .userproject import run, user_file

FIXTURE_TEST = """
import dns.message, dns.query, dns.rcode

def ask(server, name):
    address, port = server.addresses[0]
    return dns.query.udp(dns.message.make_query(name, "A"), address, port=port, timeout=5)

def test_io_outage(fakens_lab):
    lab = fakens_lab("io-outage")
    bad = lab.hierarchy.server("ns2.nic.io.")
    good = lab.hierarchy.server("ns1.nic.io.")
    reply = ask(bad, "www.example.io.")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.authority[0].name.to_text() == "io." and reply.authority[0].ttl == 900
    referral = ask(good, "www.example.io.")
    assert referral.rcode() == dns.rcode.NOERROR and not referral.answer
    assert referral.authority[0].name.to_text() == "example.io."
    assert lab.expect["resolver"]["trials"] == 60
    assert "root-servers.test." in lab.root_hints
    with open(lab.config_dir + "/unbound.conf") as f:
        assert "root-hints" in f.read()
    bad.log.assert_received(qname="www.example.io.", rcode="NXDOMAIN")

def test_io_outage_fixed(fakens_lab):
    lab = fakens_lab("io-outage", fix=True)
    assert ask(lab.hierarchy.server("ns2.nic.io."), "www.example.io.").rcode() == dns.rcode.NOERROR

def test_unknown(fakens_lab):
    fakens_lab("no-such-lab")
"""


@pytest.mark.port53
def test_the_fakens_lab_fixture_starts_a_shipped_lab_by_name(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", FIXTURE_TEST)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*no-such-lab: no such file and no shipped lab of that name*"])
