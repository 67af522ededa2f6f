"""README, "Testing with pytest": several servers from the factory."""

from .test_readme_basic import ZONE

from fakens.testing import resolver_for


def test_two_servers(fakens_servers):
    old = fakens_servers([ZONE])
    new = fakens_servers([ZONE.replace("192.0.2.10", "192.0.2.11")], name="new")
    assert resolver_for(new).resolve("www.example.test.", "A")[0].address == "192.0.2.11"
    old.log.assert_not_received()


def test_the_factory_gives_distinct_servers(fakens_servers):
    first = fakens_servers([ZONE])
    second = fakens_servers([ZONE])
    assert first.addresses != second.addresses
    assert resolver_for(first).resolve("www.example.test.", "A")[0].address == "192.0.2.10"
    first.log.assert_received(qname="www.example.test.", times=1)
    second.log.assert_not_received()
