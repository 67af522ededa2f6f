"""Faults: named, removable misbehaviours between the engine and the wire.

    server.faults.add("nxdomain qname=*.io. probability=0.3 seed=7")
    with server.faults.scoped("drop transport=udp"):
        ...

The chain and its selection are in :mod:`fakens.faults.chain`, what a fault is
made of in :mod:`fakens.faults.base`, what its hooks see and return in
:mod:`fakens.faults.view`; each family of fault types has a module of its own.
The fault types and their documentation are in docs/faults.md.
"""

from __future__ import annotations

from fakens.faults import delegation as _delegation  # noqa: F401  (importing a family registers its types)
from fakens.faults import dnskey_size as _dnskey_size  # noqa: F401
from fakens.faults import dnskeys as _dnskeys  # noqa: F401
from fakens.faults import edns as _edns  # noqa: F401
from fakens.faults import network as _network  # noqa: F401
from fakens.faults import proofs as _proofs  # noqa: F401
from fakens.faults import rawbytes as _rawbytes  # noqa: F401
from fakens.faults import records as _records  # noqa: F401
from fakens.faults import signatures as _signatures  # noqa: F401
from fakens.faults import transfer as _transfer  # noqa: F401
from fakens.faults import verbatim as _verbatim  # noqa: F401
from fakens.faults.base import REGISTRY, Fault, Param, Schedule, register
from fakens.faults.chain import FaultChain, Passage
from fakens.faults.spec import build, parse_text
from fakens.faults.view import (
    Act,
    Encoding,
    ErrorReply,
    NotifyPlan,
    Replaced,
    StreamPart,
    TransferPlan,
    Unchanged,
    View,
)

__all__ = [
    "REGISTRY", "Act", "Encoding", "ErrorReply", "Fault", "FaultChain", "NotifyPlan", "Param", "Passage",
    "Replaced", "Schedule", "StreamPart", "TransferPlan", "Unchanged", "View", "build", "parse_text", "register",
]
