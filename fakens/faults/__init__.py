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

_FAMILIES = ("delegation", "dnskey_size", "dnskeys", "edns", "network", "proofs", "rawbytes", "records",
             "signatures", "transfer", "verbatim")
"""The modules of the families of fault types: importing one registers its types."""


def _load_families() -> None:
    import importlib

    for family in _FAMILIES:
        importlib.import_module(f"fakens.faults.{family}")


REGISTRY.set_loader(_load_families)

__all__ = [
    "REGISTRY", "Act", "Encoding", "ErrorReply", "Fault", "FaultChain", "NotifyPlan", "Param", "Passage",
    "Replaced", "Schedule", "StreamPart", "TransferPlan", "Unchanged", "View", "build", "parse_text", "register",
]
