"""Selectors: which queries a fault (or a log assertion) applies to.

One matcher serves faults and the query log, so "the fault fired for these
queries" and "the log holds these queries" mean the same thing::

    Selector.parse({"qname": "*.example.test.", "qtype": "A,AAAA", "transport": "udp"})
    Selector(qname="example.test.", subtree=True)      # the name and everything below
    Selector(client="127.0.0.0/8", edns=True, do=True)
    Selector.parse({"edns_option": "65001"})           # the query carries EDNS option 65001
    Selector.parse({"edns_option": "unknown"})         # ... an option fakens does not know
    selector.matches(Facts(qname=dns.name.from_text("www.example.test."), qtype=1))

Query names: ``www.example.test.`` (exactly that name), ``*.example.test.``
(any name below, not the name itself, as a wildcard), ``example.test.``
with ``subtree`` / written ``**.example.test.`` (the name and all below).
Types (``qtype``) include AXFR and IXFR: transfers are selected by type.

``edns_option`` lists option codes (``65001``), names (``COOKIE``, see
:mod:`fakens.ednsoptions`) or ``unknown`` (any code not in
:data:`~fakens.ednsoptions.KNOWN_OPTIONS`): met when the query carries one of
them (a query without OPT carries none).

A value starting with ``!`` negates the key: ``qtype=!SOA`` (every type but
SOA), ``qname=!**.sub.example.test.`` (every name outside that subtree),
``qtype=!SOA,NS`` (neither; ``!SOA,!NS`` says the same). The ``!`` applies to
the whole list, so ``SOA,!NS`` is an error, and so is ``!`` on the true/false
keys ``edns`` and ``do`` (write ``edns=false``). A negated key still needs
the fact it reads: ``qname=!x.`` does not match a connection (no question)::

    Selector.parse({"qtype": "!SOA"})
    Selector(qtypes=frozenset({6}), negated=frozenset({"qtype"}))
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import dns.exception
import dns.name
import dns.opcode
import dns.rdataclass
import dns.rdatatype

from fakens.ednsoptions import is_known, option_code
from fakens.errors import ConfigError

SELECTOR_KEYS = ("qname", "qtype", "qclass", "opcode", "transport", "client", "edns", "do", "edns_option", "server")
NEGATABLE_KEYS = ("qname", "qtype", "qclass", "opcode", "transport", "client", "edns_option", "server")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _negation(where: str, key: str, values: list[str]) -> tuple[bool, list[str]]:
    """(negated, the values without ``!``): a leading ``!`` negates the whole list."""
    negated = bool(values) and values[0].startswith("!")
    stripped = []
    for v in values:
        if v.startswith("!") and not negated:
            raise ConfigError(f"{where}selector {key}={','.join(values)!r}: ! negates the whole list, so it "
                              f"goes first ({key}=!{','.join(x.lstrip('!') for x in values)}: none of them)")
        stripped.append(v[1:].strip() if v.startswith("!") else v)
    if negated and key not in NEGATABLE_KEYS:
        raise ConfigError(f"{where}selector {key}={','.join(values)!r}: {key} is true or false, ! makes no sense "
                          f"there; write {key}=false (or {key}=true)")
    if any(not v for v in stripped):
        raise ConfigError(f"{where}selector {key}={','.join(values)!r}: ! without a value; write e.g. {key}=!VALUE")
    return negated, stripped


def parse_bool(where: str, value: Any) -> bool:
    """``true``/``false`` (also 1/0, yes/no, on/off, or a bool); ConfigError naming *where* otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{where}={value!r}: expected true or false")


class Facts(NamedTuple):
    """What a selector reads of a query, a connection or an outgoing NOTIFY (a named tuple,
    made with every query while faults are set: a frozen dataclass takes three times as long).

    ``edns``/``do``/``options`` None means "not known yet" (the fast path reads only the
    header and question): criteria on them then count as met ("could match").
    ``options`` are the EDNS option codes the query carries, in order.
    A connection has no question; a NOTIFY has its zone as ``qname``.
    """

    qname: dns.name.Name | None = None
    qtype: int | None = None
    qclass: int | None = None
    opcode: int = 0
    transport: str = "udp"
    client: str | None = None
    edns: bool | None = False
    do: bool | None = False
    server: str | None = None
    options: tuple[int, ...] | None = ()


@dataclass(frozen=True)
class NamePattern:
    """A query-name pattern: exact, ``*.`` wildcard (strictly below) or ``**.`` subtree."""

    name: dns.name.Name
    mode: str  # "exact" | "below" | "subtree"

    @classmethod
    def parse(cls, text: str) -> NamePattern:
        text = text.strip()
        mode = "exact"
        if text.startswith("**."):
            mode, text = "subtree", text[3:]
        elif text.startswith("*."):
            mode, text = "below", text[2:]
        elif text in ("*", "**"):
            return cls(dns.name.root, "subtree")
        if text in ("", "."):
            return cls(dns.name.root, mode)
        try:
            name = dns.name.from_text(text)
        except dns.exception.DNSException as e:
            raise ConfigError(f"selector qname={text!r}: not a domain name ({e})") from None
        return cls(name, mode)

    def matches(self, qname: dns.name.Name) -> bool:
        if self.mode == "exact":
            return bool(qname == self.name)
        if self.mode == "below":
            return qname != self.name and bool(qname.is_subdomain(self.name))
        return bool(qname.is_subdomain(self.name))

    def __str__(self) -> str:
        prefix = {"exact": "", "below": "*.", "subtree": "**."}[self.mode]
        if self.name == dns.name.root:
            return prefix or "."
        return prefix + self.name.to_text()


@dataclass(frozen=True)
class Selector:
    """Criteria a query must all meet; an empty selector matches every query."""

    qnames: tuple[NamePattern, ...] = ()
    qtypes: frozenset[int] = frozenset()
    qclasses: frozenset[int] = frozenset()
    opcodes: frozenset[int] = frozenset()
    transports: frozenset[str] = frozenset()
    clients: tuple[Network, ...] = ()
    edns: bool | None = None
    do: bool | None = None
    servers: frozenset[str] = frozenset()
    edns_options: frozenset[int] = frozenset()  # with edns_unknown: the query carries one of them
    edns_unknown: bool = False  # ... or an option not in fakens.ednsoptions.KNOWN_OPTIONS
    negated: frozenset[str] = frozenset()  # the keys written with ! (met when their criterion is not)

    def __post_init__(self) -> None:
        odd = self.negated - set(NEGATABLE_KEYS)
        if odd:
            raise ConfigError(f"Selector(negated={sorted(odd)}): only {', '.join(NEGATABLE_KEYS)} can be negated")

    @classmethod
    def parse(cls, values: Mapping[str, Any], allowed: tuple[str, ...] = SELECTOR_KEYS, context: str = "") -> Selector:
        """A selector from ``{key: value}`` (values are text, or lists, as a spec gives them)."""
        where = f"{context}: " if context else ""
        fields: dict[str, Any] = {}
        negated: set[str] = set()
        for key, value in values.items():
            if key not in allowed:
                raise ConfigError(f"{where}selector {key!r} is not supported here; valid: {', '.join(allowed)}")
            if not isinstance(value, bool) and not _split(value):
                raise ConfigError(f"{where}selector {key}= is empty: give a value or leave the key out")
            items: list[str] = []
            if not isinstance(value, bool):
                negate, items = _negation(where, key, _split(value))
                if negate:
                    negated.add(key)
                    value = ",".join(items)
            if key == "qname":
                fields["qnames"] = tuple(NamePattern.parse(v) for v in items)
            elif key == "qtype":
                fields["qtypes"] = frozenset(_enum(dns.rdatatype.from_text, "qtype", v) for v in items)
            elif key == "qclass":
                fields["qclasses"] = frozenset(_enum(dns.rdataclass.from_text, "qclass", v) for v in items)
            elif key == "opcode":
                fields["opcodes"] = frozenset(_enum(dns.opcode.from_text, "opcode", v) for v in items)
            elif key == "transport":
                transports = frozenset(v.lower() for v in items)
                bad = transports - {"udp", "tcp"}
                if bad:
                    raise ConfigError(f"{where}selector transport={value!r}: use udp or tcp")
                fields["transports"] = transports
            elif key == "client":
                nets = []
                for v in items:
                    try:
                        nets.append(ipaddress.ip_network(v, strict=False))
                    except ValueError:
                        raise ConfigError(f"{where}selector client={v!r}: not an address or network (e.g. 127.0.0.2 or 127.0.0.0/8)") from None
                fields["clients"] = tuple(nets)
            elif key == "edns":
                fields["edns"] = parse_bool(f"{where}selector {key}", value)
            elif key == "do":
                fields["do"] = parse_bool(f"{where}selector {key}", value)
            elif key == "server":
                fields["servers"] = frozenset(items)
            elif key == "edns_option":
                fields["edns_unknown"] = any(v.lower() == "unknown" for v in items)
                fields["edns_options"] = frozenset(_option(where, v) for v in items if v.lower() != "unknown")
        return cls(**fields, negated=frozenset(negated))

    def matches(self, facts: Facts) -> bool:
        """Do these facts meet every criterion?"""
        qname, client, edns, do = facts.qname, facts.client, facts.edns, facts.do
        no = self.negated
        if self.qnames and (qname is None or any(p.matches(qname) for p in self.qnames) == ("qname" in no)):
            return False
        if self.qtypes and (facts.qtype is None or (facts.qtype in self.qtypes) == ("qtype" in no)):
            return False
        if self.qclasses and (facts.qclass is None or (facts.qclass in self.qclasses) == ("qclass" in no)):
            return False
        if self.opcodes and (facts.opcode in self.opcodes) == ("opcode" in no):
            return False
        if self.transports and (facts.transport in self.transports) == ("transport" in no):
            return False
        if self.clients:
            if client is None:
                return False
            address = ipaddress.ip_address(client)
            if any(address in net for net in self.clients) == ("client" in no):
                return False
        if self.edns is not None and edns is not None and edns != self.edns:
            return False
        if self.do is not None and do is not None and do != self.do:
            return False
        if ((self.edns_options or self.edns_unknown) and facts.options is not None
                and self._carries_option(facts.options) == ("edns_option" in no)):
            return False
        if self.servers and (facts.server is None or (facts.server in self.servers) == ("server" in no)):
            return False
        return True

    def _carries_option(self, options: tuple[int, ...]) -> bool:
        return any(code in self.edns_options or (self.edns_unknown and not is_known(code)) for code in options)

    @property
    def empty(self) -> bool:
        return self == Selector()

    def to_spec(self) -> dict[str, str]:
        """The selector as spec keys (the inverse of :meth:`parse`)."""
        out: dict[str, str] = {}
        if self.qnames:
            out["qname"] = ",".join(str(p) for p in self.qnames)
        if self.qtypes:
            out["qtype"] = ",".join(sorted(dns.rdatatype.to_text(dns.rdatatype.RdataType.make(t)) for t in self.qtypes))
        if self.qclasses:
            out["qclass"] = ",".join(sorted(dns.rdataclass.to_text(dns.rdataclass.RdataClass.make(c)) for c in self.qclasses))
        if self.opcodes:
            out["opcode"] = ",".join(sorted(dns.opcode.to_text(dns.opcode.Opcode.make(o)) for o in self.opcodes))
        if self.transports:
            out["transport"] = ",".join(sorted(self.transports))
        if self.clients:
            out["client"] = ",".join(str(n) for n in self.clients)
        if self.edns is not None:
            out["edns"] = str(self.edns).lower()
        if self.do is not None:
            out["do"] = str(self.do).lower()
        if self.edns_options or self.edns_unknown:
            out["edns_option"] = ",".join([str(c) for c in sorted(self.edns_options)]
                                          + (["unknown"] if self.edns_unknown else []))
        if self.servers:
            out["server"] = ",".join(sorted(self.servers))
        return {k: "!" + v if k in self.negated else v for k, v in out.items()}


def _option(where: str, value: str) -> int:
    try:
        return option_code(value)
    except ValueError:
        raise ConfigError(f"{where}selector edns_option={value!r}: not an EDNS option; give a code 0..65535 "
                          f"(edns_option=65001), a name (COOKIE, NSID, ECS ...) or unknown") from None


def _enum(parse: Any, key: str, value: str) -> int:
    try:
        return int(parse(value.upper()))
    except (dns.exception.DNSException, ValueError):
        raise ConfigError(f"selector {key}={value!r}: unknown {key}") from None
