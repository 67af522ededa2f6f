"""README, "Testing with pytest": a server per test, the log assertions, pointing code at the fakes."""

import re
from pathlib import Path

import dns.resolver
import pytest

ZONE = """
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
@    MX  10 mail
ns1  A   127.0.0.1
www  A   192.0.2.10
mail A   192.0.2.25
"""


@pytest.mark.fakens(zones=[ZONE], nsid="ns1")
def test_www(fakens_server, fakens_resolver):
    assert fakens_resolver.resolve("www.example.test.", "A")[0].address == "192.0.2.10"
    fakens_server.log.assert_received(qname="www.example.test.", qtype="A", times=1)
    fakens_server.log.assert_not_received(qtype="AAAA")


def mail_hosts(domain, resolver=None):        # the code under test accepts a resolver
    resolver = resolver or dns.resolver.Resolver()
    return sorted(r.exchange.to_text() for r in resolver.resolve(domain, "MX"))


@pytest.mark.fakens(zones=[ZONE])
def test_mail_hosts(fakens_resolver):
    assert mail_hosts("example.test.", resolver=fakens_resolver) == ["mail.example.test."]


# -- what the README says around the examples ---------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.fakens(zones=[ZONE], name="test_www")
def test_www_failure_message_is_the_one_the_readme_shows(fakens_server, fakens_resolver):
    """The README's sample message is what assert_received really says (the port aside)."""
    fakens_resolver.resolve("www.example.test.", "A")
    with pytest.raises(AssertionError) as failure:
        fakens_server.log.assert_received(qname="www.example.test.", qtype="MX")
    readme = README.read_text(encoding="utf-8")
    start = readme.index("AssertionError: expected at least 1 queries matching qname=www.example.test. qtype=MX")
    documented = readme[start:readme.index("```", start)].strip()
    actual = "AssertionError: " + str(failure.value)
    assert re.sub(r"#\d+", "#PORT", actual) == re.sub(r"#\d+", "#PORT", documented)


@pytest.mark.fakens(zones=[ZONE], nsid="ns1")
def test_the_marker_options_reach_the_server(fakens_server, fakens_resolver):
    import dns.edns
    import dns.message
    import dns.query

    host, port = fakens_server.addresses[0]
    assert host == "127.0.0.1" and port != 0
    query = dns.message.make_query("www.example.test.", "A", use_edns=0, options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
    reply = dns.query.udp(query, host, port=port, timeout=2)
    assert [o.nsid for o in reply.options if o.otype == dns.edns.NSID] == [b"ns1"]
    assert fakens_resolver.nameservers == [host] and fakens_resolver.port == port
