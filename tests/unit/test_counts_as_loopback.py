"""counts_as_loopback: 127/8 and ::1 always; any address in a namespace with only lo (a lab's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fakens.transport import bind, counts_as_loopback


@pytest.fixture
def interfaces() -> Iterator[list[str]]:
    """The interface list the check sees: edit it in the test (the cache is cleared)."""
    names: list[str] = []
    saved = bind.interface_names
    bind.interface_names = lambda: list(names)
    bind.only_loopback_here.cache_clear()
    try:
        yield names
    finally:
        bind.interface_names = saved
        bind.only_loopback_here.cache_clear()


def test_loopback_addresses_count_anywhere(interfaces: list[str]) -> None:
    interfaces += ["lo", "eth0"]
    for address in ("127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.2"):
        assert counts_as_loopback(address), address
    for address in ("192.0.2.1", "2001:db8::53", "0.0.0.0", "::", "10.0.0.1", "not an address"):
        assert not counts_as_loopback(address), address


def test_every_address_counts_in_a_namespace_with_only_lo(interfaces: list[str]) -> None:
    interfaces.append("lo")
    for address in ("192.0.2.1", "2001:db8::53", "0.0.0.0", "127.0.0.1"):
        assert counts_as_loopback(address), address
    assert not counts_as_loopback("nonsense")


def test_no_interface_list_is_not_a_private_namespace(interfaces: list[str]) -> None:
    assert not counts_as_loopback("192.0.2.1")


def test_the_interface_check_is_cached(interfaces: list[str]) -> None:
    interfaces.append("lo")
    assert counts_as_loopback("192.0.2.1")
    interfaces.append("eth0")
    assert counts_as_loopback("192.0.2.1")  # cached until cache_clear
    bind.only_loopback_here.cache_clear()
    assert not counts_as_loopback("192.0.2.1")
