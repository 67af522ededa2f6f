"""README, "Testing with pytest": a fault in a test, one scoped with `with`."""

import dns.resolver
import pytest

from .test_readme_basic import ZONE


@pytest.mark.fakens(zones=[ZONE])
def test_faults(fakens_server, fakens_resolver):
    fakens_server.faults.add("rcode rcode=SERVFAIL qtype=AAAA")
    with pytest.raises(dns.resolver.NoNameservers):
        fakens_resolver.resolve("www.example.test.", "AAAA")
    with fakens_server.faults.scoped("nxdomain qname=www.example.test."):   # only inside the block
        with pytest.raises(dns.resolver.NXDOMAIN):
            fakens_resolver.resolve("www.example.test.", "A")
    assert fakens_resolver.resolve("www.example.test.", "A")[0].address == "192.0.2.10"
    fakens_server.log.assert_received(qname="www.example.test.", fault="nxdomain", times=1)


@pytest.mark.fakens(zones=[ZONE])
def test_the_fault_added_in_a_test_lasts_until_its_end(fakens_server, fakens_resolver):
    fakens_server.faults.add("rcode rcode=SERVFAIL qtype=AAAA")
    for _ in range(2):
        with pytest.raises(dns.resolver.NoNameservers):
            fakens_resolver.resolve("www.example.test.", "AAAA")
    fakens_server.log.assert_received(qtype="AAAA", rcode="SERVFAIL", fault="rcode", times=2)
    fakens_server.log.assert_not_received(qtype="A")
    assert len(fakens_server.faults) == 1


@pytest.mark.fakens(zones=[ZONE])
def test_a_new_test_gets_a_server_without_faults(fakens_server, fakens_resolver):
    assert len(fakens_server.faults) == 0
    assert fakens_resolver.resolve("www.example.test.", "AAAA", raise_on_no_answer=False).rrset is None
