"""An iterative resolver for tests: from the fake root, following referrals, returning the path.

It resolves the way a resolver does (referrals, CNAMEs across zones, glue,
glueless NS names looked up from the root) but keeps every step, so a test
can assert where an answer came from and which server said what::

    tracer = Tracer(hints="root.hints")                 # or Tracer(hints=[("a.root-servers.test.", "127.0.0.10")])
    result = tracer.resolve("www.example.test.", "A")
    assert result.rcode == dns.rcode.NOERROR
    for step in result.path:
        print(step)                                      # zone, server, question, what it said

Which server is asked is deterministic: ``order="listed"`` (the order of the
NS records and glue as received), ``order="random"`` with a ``seed``, or
``ask_all=True``: every server of each zone is asked and ``result.disagreements``
says where their answers differ ("ns2 of test. answered NXDOMAIN").
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zonefile

from fakens.errors import ConfigError
from fakens.transport import stays_on_this_machine

Name = dns.name.Name
MAX_STEPS = 60
MAX_DEPTH = 6


@dataclass
class Step:
    """One query the tracer sent and what came back."""

    zone: Name
    server_name: Name | None
    address: str
    port: int
    qname: Name
    qtype: int
    outcome: str  # answer, cname, referral, nxdomain, nodata, lame, timeout, error
    rcode: int | None = None
    aa: bool = False
    response: dns.message.Message | None = field(default=None, repr=False)
    note: str = ""
    purpose: str = ""

    def summary(self) -> str:
        """What the server said, short: ``NXDOMAIN``, ``referral to test. (ns1.test.)``."""
        if self.outcome in ("timeout", "error"):
            return self.outcome + (f" ({self.note})" if self.note else "")
        text = dns.rcode.to_text(dns.rcode.Rcode.make(self.rcode or 0))
        if self.outcome == "referral":
            return f"referral {self.note}"
        if self.outcome == "nxdomain":
            return "NXDOMAIN (name does not exist)"
        if self.outcome == "nodata":
            return "NOERROR, no data of that type"
        if self.outcome in ("answer", "cname") and self.response is not None:
            records = sorted(rr.to_text() for rrset in self.response.answer for rr in rrset)
            return f"{text} {'; '.join(records)}"
        return f"{text} {self.outcome}" + (f" ({self.note})" if self.note else "")

    def __str__(self) -> str:
        server = f"{self.server_name} " if self.server_name is not None else ""
        purpose = f" [{self.purpose}]" if self.purpose else ""
        qtype = dns.rdatatype.to_text(dns.rdatatype.RdataType.make(self.qtype))
        return f";; {self.zone} @{server}({self.address}#{self.port}) {self.qname} {qtype}: {self.summary()}{purpose}"


@dataclass
class Disagreement:
    """Servers of one zone that answered the same question differently."""

    zone: Name
    qname: Name
    qtype: int
    answers: dict[str, str]  # "ns2.nic.test. (127.0.0.22)" -> summary

    def __str__(self) -> str:
        listed = "; ".join(f"{server}: {summary}" for server, summary in self.answers.items())
        return f"servers of {self.zone} disagree on {self.qname}: {listed}"


@dataclass
class TraceResult:
    """The outcome of one resolution and the path that led to it."""

    qname: Name
    qtype: int
    rcode: int | None
    answer: list[dns.rrset.RRset]
    path: list[Step]
    status: str  # ok, nxdomain, nodata, servfail
    error: str = ""
    disagreements: list[Disagreement] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        """The A/AAAA addresses in the final answer."""
        return [rdata.to_text() for rrset in self.answer if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
                for rdata in rrset]

    def servers_asked(self) -> list[tuple[str, int]]:
        """Every (address, port) asked, in order."""
        return [(s.address, s.port) for s in self.path]

    def __str__(self) -> str:
        lines = [str(step) for step in self.path]
        lines += [rrset.to_text() for rrset in self.answer]
        lines += [f";; {d}" for d in self.disagreements]
        status = dns.rcode.to_text(dns.rcode.Rcode.make(self.rcode)) if self.rcode is not None else "no answer"
        lines.append(f";; {self.status}: {status}" + (f" ({self.error})" if self.error else ""))
        return "\n".join(lines)


def parse_hints(hints: str | os.PathLike[str] | Iterable[tuple[str, str]]) -> list[tuple[Name, list[str]]]:
    """Root hints from a file (zone-file format), a text, or (name, address) pairs."""
    if isinstance(hints, (str, os.PathLike)):
        text = str(hints)
        source = "root hints"
        if "\n" not in text:
            source = text
            try:
                with open(text, encoding="utf-8") as f:
                    text = f.read()
            except (OSError, UnicodeDecodeError) as e:
                reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
                raise ConfigError(f"root hints file {source}: cannot read it: {reason}") from None
        try:
            rrsets = dns.zonefile.read_rrsets(text, origin=dns.name.root, default_ttl=3600000, rdclass=None)
        except dns.exception.DNSException as e:
            raise ConfigError(f"{str(e).replace('<input>', source)} (root hints are zone-file lines: "
                              f"'. NS a.root-servers.test.' and 'a.root-servers.test. A 127.0.0.10')") from None
        ns_names = [r.target for rrset in rrsets if rrset.rdtype == dns.rdatatype.NS for r in rrset]
        addresses: dict[Name, list[str]] = {}
        for rrset in rrsets:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                addresses.setdefault(rrset.name, []).extend(r.address for r in rrset)
        servers = [(n, addresses.get(n, [])) for n in ns_names]
    else:
        grouped: dict[Name, list[str]] = {}
        for name, address in hints:
            grouped.setdefault(dns.name.from_text(name), []).append(address)
        servers = list(grouped.items())
    if not any(addrs for _, addrs in servers):
        raise ConfigError("root hints hold no server address: give NS records and their A/AAAA records")
    return servers


class Tracer:
    """An iterative resolver over a fake hierarchy (see the module docstring)."""

    def __init__(self, hints: str | os.PathLike[str] | Iterable[tuple[str, str]], port: int = 53,
                 order: str = "listed", seed: int | None = None, ask_all: bool = False,
                 timeout: float = 1.0, source: str | None = None) -> None:
        if order not in ("listed", "random"):
            raise ConfigError(f"order={order!r}: use 'listed' or 'random'")
        self.root = parse_hints(hints)
        self.port = port
        self.order = order
        self.rng = random.Random(seed)
        self.ask_all = ask_all
        self.timeout = timeout
        self.source = source

    def resolve(self, qname: str | Name, qtype: str | int = "A") -> TraceResult:
        """Resolve *qname*/*qtype* from the root; never raises for DNS failures."""
        name = dns.name.from_text(qname) if isinstance(qname, str) else qname
        rdtype = dns.rdatatype.from_text(qtype) if isinstance(qtype, str) else dns.rdatatype.RdataType.make(qtype)
        result = TraceResult(name, rdtype, None, [], [], "servfail")
        self._resolve(result, name, rdtype, depth=0, purpose="", chain=[])
        return result

    # -- the algorithm ------------------------------------------------------------------

    def _resolve(self, result: TraceResult, qname: Name, qtype: int, depth: int, purpose: str,
                 chain: list[Name]) -> tuple[int | None, list[dns.rrset.RRset]]:
        """Resolve one name; fills *result* when it is the top-level question."""
        top = depth == 0
        zone = dns.name.root
        servers = list(self.root)
        seen_zones = {zone}
        answer: list[dns.rrset.RRset] = []
        while len(result.path) < MAX_STEPS:
            step, asked = self._ask_zone(result, zone, servers, qname, qtype, depth, purpose)
            if step is None:
                said = "; ".join(f"{s.server_name or s.address}: {s.summary()}" for s in asked)
                error = f"no server of {zone} gave a usable answer for {qname} ({said})"
                if asked and all(s.note.startswith("upward or sideways referral") for s in asked):
                    error = f"referral loop: every server of {zone} referred {qname} upwards or sideways ({said})"
                return self._fail(result, top, error)
            response = step.response
            assert response is not None
            if step.outcome == "referral":
                cut = _referral_cut(response)
                assert cut is not None
                if cut in seen_zones or not cut.is_subdomain(zone) or cut == zone:
                    return self._fail(result, top, f"referral loop: {zone} referred to {cut}")
                seen_zones.add(cut)
                servers = self._servers_from_referral(result, response, cut, depth)
                if not any(addresses for _, addresses in servers):
                    hosts = ", ".join(n.to_text() for n, _ in servers) or "none"
                    return self._fail(result, top, f"no address for any name server of {cut} ({hosts}): "
                                                   f"no glue and the names do not resolve")
                zone = cut
                continue
            if step.outcome == "nxdomain":
                answer.extend(response.answer)
                return self._done(result, top, dns.rcode.NXDOMAIN, answer, "nxdomain")
            if step.outcome == "nodata":
                answer.extend(response.answer)
                return self._done(result, top, dns.rcode.NOERROR, answer, "nodata")
            # answer or cname
            answer.extend(response.answer)
            final = _final_rrset(response, qname, qtype)
            if step.outcome == "answer" or final is not None:
                return self._done(result, top, dns.rcode.NOERROR, answer, "ok")
            target = _cname_target(response, qname)
            if target is None:
                return self._fail(result, top, f"CNAME chain from {qname} in the answer ends without a target")
            if target in chain or len(chain) > 10:
                return self._fail(result, top, f"CNAME loop at {target}")
            rcode, more = self._resolve(result, target, qtype, depth, purpose, chain + [qname])
            answer.extend(more)
            if top:
                result.answer = answer
                result.rcode = rcode
                if rcode == dns.rcode.NXDOMAIN:
                    result.status = "nxdomain"
                elif rcode == dns.rcode.NOERROR:
                    found = any(r.rdtype == qtype or qtype == dns.rdatatype.ANY for r in answer)
                    result.status = "ok" if found else "nodata"
                else:
                    result.status = "servfail"
            return rcode, answer
        return self._fail(result, top, f"gave up after {MAX_STEPS} queries")

    def _done(self, result: TraceResult, top: bool, rcode: int, answer: list[dns.rrset.RRset],
              status: str) -> tuple[int | None, list[dns.rrset.RRset]]:
        if top:
            result.rcode, result.answer, result.status = rcode, answer, status
        return rcode, answer

    def _fail(self, result: TraceResult, top: bool, error: str) -> tuple[int | None, list[dns.rrset.RRset]]:
        if top or not result.error:
            result.error = error
        if top:
            result.rcode, result.status = dns.rcode.SERVFAIL, "servfail"
        return dns.rcode.SERVFAIL, []

    def _order(self, servers: Sequence[tuple[Name, list[str]]]) -> list[tuple[Name, str]]:
        pairs = [(name, address) for name, addresses in servers for address in addresses]
        if self.order == "random":
            self.rng.shuffle(pairs)
        return pairs

    def _ask_zone(self, result: TraceResult, zone: Name, servers: Sequence[tuple[Name, list[str]]],
                  qname: Name, qtype: int, depth: int, purpose: str) -> tuple[Step | None, list[Step]]:
        """Ask the servers of *zone* in order until one gives a usable answer (all in ask_all mode)."""
        chosen: Step | None = None
        steps: list[Step] = []
        for server_name, address in self._order(servers):
            step = self._query(zone, server_name, address, qname, qtype, purpose)
            result.path.append(step)
            steps.append(step)
            if step.outcome not in ("lame", "timeout", "error") and chosen is None:
                chosen = step
                if not self.ask_all:
                    break
        if self.ask_all and len(steps) > 1:
            summaries = {f"{s.server_name} ({s.address})": s.summary() for s in steps}
            if len(set(summaries.values())) > 1:
                result.disagreements.append(Disagreement(zone, qname, qtype, summaries))
        return chosen, steps

    def _query(self, zone: Name, server_name: Name | None, address: str, qname: Name, qtype: int,
               purpose: str) -> Step:
        query = dns.message.make_query(qname, dns.rdatatype.RdataType.make(qtype), use_edns=0, payload=1232)
        query.flags &= ~dns.flags.RD
        step = Step(zone, server_name, address, self.port, qname, qtype, "error", purpose=purpose)
        if not stays_on_this_machine(address):  # whatever the zones say: never the real root, never another host
            step.note = f"not asked: {address} is not on this machine (fakens sends only to loopback)"
            return step
        try:
            response = dns.query.udp(query, address, timeout=self.timeout, port=self.port, source=self.source)
            if response.flags & dns.flags.TC:
                response = dns.query.tcp(query, address, timeout=self.timeout, port=self.port, source=self.source)
        except dns.exception.Timeout:
            step.outcome, step.note = "timeout", f"no reply within {self.timeout}s"
            return step
        except (OSError, dns.exception.DNSException) as e:
            step.outcome, step.note = "error", f"{type(e).__name__}: {e}"
            return step
        step.response = response
        step.rcode = response.rcode()
        step.aa = bool(response.flags & dns.flags.AA)
        step.outcome, step.note = _classify(response, zone, qname, qtype)
        return step

    def _servers_from_referral(self, result: TraceResult, response: dns.message.Message, cut: Name,
                               depth: int) -> list[tuple[Name, list[str]]]:
        ns_names = [r.target for rrset in response.authority
                    if rrset.rdtype == dns.rdatatype.NS and rrset.name == cut for r in rrset]
        glue: dict[Name, list[str]] = {}
        for rrset in response.additional:
            if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                glue.setdefault(rrset.name, []).extend(r.address for r in rrset)
        servers = [(name, glue.get(name, [])) for name in ns_names]
        if any(addresses for _, addresses in servers) and not self.ask_all:
            return servers
        # glueless (or asking every server): look the names up from the root
        if depth >= MAX_DEPTH:
            return servers
        filled = []
        for name, addresses in servers:
            if not addresses:
                for rdtype in (dns.rdatatype.A,):
                    _, records = self._resolve(result, name, rdtype, depth + 1,
                                               f"glueless: address of {name}", [])
                    addresses = [r.address for rrset in records if rrset.rdtype == rdtype and rrset.name == name
                                 for r in rrset]
            filled.append((name, addresses))
        return filled


def _referral_cut(response: dns.message.Message) -> Name | None:
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.NS:
            return rrset.name
    return None


def _final_rrset(response: dns.message.Message, qname: Name, qtype: int) -> dns.rrset.RRset | None:
    name = qname
    for _ in range(16):
        for rrset in response.answer:
            if rrset.name == name and (rrset.rdtype == qtype or qtype == dns.rdatatype.ANY):
                return rrset
        target = _cname_target(response, name)
        if target is None:
            return None
        name = target
    return None


def _cname_target(response: dns.message.Message, qname: Name) -> Name | None:
    name = qname
    target = None
    for _ in range(16):
        found = next((rrset for rrset in response.answer if rrset.name == name and rrset.rdtype == dns.rdatatype.CNAME), None)
        if found is None:
            return target
        target = found[0].target
        name = target
    return target


def _classify(response: dns.message.Message, zone: Name, qname: Name, qtype: int) -> tuple[str, str]:
    rcode = response.rcode()
    aa = bool(response.flags & dns.flags.AA)
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return "lame", dns.rcode.to_text(rcode)
    if rcode == dns.rcode.NXDOMAIN:
        return ("nxdomain", "") if aa else ("lame", "NXDOMAIN without AA")
    if any(rrset.name == qname or rrset.rdtype == dns.rdatatype.CNAME for rrset in response.answer) and response.answer:
        if _final_rrset(response, qname, qtype) is not None:
            return "answer", ""
        if _cname_target(response, qname) is not None:
            return "cname", ""
    cut = _referral_cut(response)
    if cut is not None and not aa:
        if cut != zone and cut.is_subdomain(zone) and qname.is_subdomain(cut):
            hosts = ", ".join(sorted(r.target.to_text() for rrset in response.authority
                                     if rrset.rdtype == dns.rdatatype.NS for r in rrset))
            return "referral", f"to {cut} ({hosts})"
        return "lame", f"upward or sideways referral to {cut}"
    if aa:
        return "nodata", ""
    return "lame", "NOERROR without AA and without a referral"

