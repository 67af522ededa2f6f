"""Small helpers shared by the incident tests (tests/incidents/)."""

from __future__ import annotations

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
from helpers import ask

from fakens.lab import Hierarchy
from fakens.server import Server
from fakens.testing import Unbound


def recursive(unbound: Unbound, qname: str, rdtype: str = "A", timeout: float = 6.0) -> dns.message.Message:
    """One recursive query to unbound (a reply, whatever its rcode)."""
    try:
        return ask(unbound.address, qname, rdtype, timeout=timeout)
    except dns.exception.Timeout:
        raise AssertionError(f"unbound did not answer {qname} {rdtype} within {timeout} s "
                             f"(log: {unbound.log_path})") from None


def direct(server: Server, qname: str, rdtype: str = "A", *, tcp: bool = False,
           edns: bool = True) -> dns.message.Message:
    """One non-recursive query straight to a fake server."""
    return ask(server, qname, rdtype, transport="tcp" if tcp else "udp", timeout=2,
               use_edns=0 if edns else False, flags=0)


def fresh(unbound: Unbound) -> None:
    """Forget everything unbound holds: cache, negative cache, infra (RTT, lameness)."""
    unbound.flush()


def records(reply: dns.message.Message, rdtype: str) -> list[str]:
    """The rdata (text) of every ANSWER record of *rdtype*, sorted."""
    wanted = dns.rdatatype.from_text(rdtype)
    return sorted(rd.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rd in rrset)


def answer_ttl(reply: dns.message.Message, rdtype: str) -> int:
    wanted = dns.rdatatype.from_text(rdtype)
    return min(rrset.ttl for rrset in reply.answer if rrset.rdtype == wanted)


def rcode(reply: dns.message.Message) -> str:
    return dns.rcode.to_text(reply.rcode())


def clear_logs(hierarchy: Hierarchy) -> None:
    for server in hierarchy.servers.values():
        server.log.clear()
