"""The user project an inner pytest runs (pytester): zones, a prelude with small query
helpers for the inner tests, and how the inner run is started."""

from __future__ import annotations

import textwrap

import pytest

ZONE_TEXT = """\
$ORIGIN example.test.
$TTL 300
@    SOA ns1 hostmaster 1 3600 600 86400 300
@    NS  ns1
ns1  A   192.0.2.53
www  A   192.0.2.10
mail A   192.0.2.25
"""

OTHER_ZONE_TEXT = """\
$ORIGIN other.test.
$TTL 300
@    SOA ns1 hostmaster 7 3600 600 86400 300
@    NS  ns1
ns1  A   192.0.2.54
www  A   198.51.100.7
"""

# Prepended to every inner test file: the zones and a small query helper.
PRELUDE = f'''\
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import pytest

ZONE_TEXT = {ZONE_TEXT!r}
OTHER_ZONE_TEXT = {OTHER_ZONE_TEXT!r}


def ask(server, qname, qtype="A", **make):
    host, port = server.addresses[0]
    return dns.query.udp(dns.message.make_query(qname, qtype, **make), host, port=port, timeout=2)


async def served_by_this_loop(server):
    """True when the server answers only once this loop runs: it is served by this loop."""
    import asyncio, socket
    host, port = server.addresses[0]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(dns.message.make_query("loop-probe.example.test.", "A").to_wire(), (host, port))
        sock.settimeout(0.2)
        try:
            sock.recv(65535)  # blocks this loop: a server it runs cannot answer meanwhile
            return False
        except socket.timeout:
            pass
        sock.setblocking(False)
        await asyncio.wait_for(asyncio.get_running_loop().sock_recv(sock, 65535), 5)
        return True


def stub(server):
    host, port = server.addresses[0]
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = port
    resolver.timeout = resolver.lifetime = 2
    return resolver
'''

BASE_ARGS = ("-p", "no:cacheprovider")
ASYNC_ARGS = ("-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function")


def user_file(pytester: pytest.Pytester, name: str, body: str) -> None:
    pytester.makepyfile(**{name: PRELUDE + textwrap.dedent(body)})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*BASE_ARGS, *args, timeout=300)


def session_zones(pytester: pytest.Pytester, zone_text: str) -> None:
    """A conftest whose session-scoped ``fakens_zones`` is [*zone_text*]."""
    pytester.makeconftest(f"""
        import pytest

        @pytest.fixture(scope="session")
        def fakens_zones():
            return [{zone_text!r}]
    """)
