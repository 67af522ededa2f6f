"""The only code that touches sockets: binding, UDP, TCP (RFC 7766).

Transport turns bytes into calls of ``handler(wire, client, local, transport)``
and carries out the :mod:`fakens.outcome` it gets back. It decides nothing
about DNS meaning.
"""

from fakens.transport.bind import (
    Endpoint,
    bind_pair,
    counts_as_loopback,
    parse_listen,
    require_local,
    stays_on_this_machine,
)
from fakens.transport.tcp import TcpLimits, TcpListener, TransferSlots
from fakens.transport.udp import UdpEndpoint

__all__ = ["Endpoint", "TcpLimits", "TcpListener", "TransferSlots", "UdpEndpoint", "bind_pair", "counts_as_loopback",
           "parse_listen", "require_local", "stays_on_this_machine"]
