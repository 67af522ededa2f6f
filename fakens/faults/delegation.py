"""Delegation faults: lame, missing-glue, stale-glue, ns-mismatch, ns-no-address."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, cast

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from fakens.answer import Answer, Kind
from fakens.dnssec.forge import resign_all
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register
from fakens.faults.records import can_make_negative, make_negative
from fakens.faults.view import Act, ErrorReply

if TYPE_CHECKING:
    from fakens.faults.view import View

_ADDRESS = (dns.rdatatype.A, dns.rdatatype.AAAA)
DEFAULT_ROOT_NS = "a.root-servers.test."


@register
class Lame(Fault):
    """Name: lame

    Imitates: a lame delegation (RFC 1912 2.8, JPRS): a server named in the
    parent's NS set that does not serve the zone (not configured, crashed on a
    zone-file error, expired after failed transfers).

    Modes: ``refused`` (default): REFUSED; ``servfail``: SERVFAIL; ``noaa``: the
    answer without AA; ``upward``: a referral upwards, to the NS of ``to``
    (default the root), AA=0, as old BIND did.

    Parameters: ``to`` (mode upward): the zone whose NS are sent; ``ns``: their
    host names (default: the NS of ``to`` when this server serves it, else
    ``a.root-servers.test.``, the root of fakens' hierarchies).

    Client sees: for the zone it should serve, the rcode, or NOERROR without AA,
    or a referral to the root.

    Signed zones: an upward referral has no DS and no proof of its absence (the
    NS of a referral are never signed): a validator rejects it as it rejects any lame answer.

    Example: ``lame mode=upward qname=**.example.test. ns=a.root-servers.test.``
    (without a ``qname`` selector the server is lame for every zone it serves)
    """

    type_name = "lame"
    summary = "REFUSED, SERVFAIL, no AA, or an upward referral for the zone it should serve"
    modes = ("refused", "servfail", "noaa", "upward")
    params = {
        "to": Param("name", dns.name.root, "zone of the upward referral"),
        "ns": Param("names", (), "NS host names of the upward referral"),
    }

    def before(self, view: View) -> Act | None:
        if self.mode in ("refused", "servfail"):
            rcode = dns.rcode.REFUSED if self.mode == "refused" else dns.rcode.SERVFAIL
            return Act(f"lame: {dns.rcode.to_text(rcode)}", ErrorReply(rcode))
        return None

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        if self.mode == "noaa":
            return hook == "after" and isinstance(arg, Answer) and arg.aa
        return True

    def after(self, view: View, answer: Answer) -> str | None:
        if self.mode == "noaa":
            answer.aa = False
            return "AA cleared"
        if self.mode != "upward":
            return None
        ns_rrset = dns.rrset.RRset(self.to, dns.rdataclass.IN, dns.rdatatype.NS)
        glue: list[dns.rrset.RRset] = []
        served = view.zones.get(self.to)
        if self.ns:
            for host in self.ns:
                ns_rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, host.to_text()), 3600000 if self.to == dns.name.root else 86400)
        elif served is not None:
            apex_ns = answer.version_of(served).rrset(self.to, dns.rdatatype.NS)
            if apex_ns is not None:
                ns_rrset = apex_ns
        if not len(ns_rrset):
            ns_rrset.add(dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.NS, DEFAULT_ROOT_NS), 3600000)
        for rdata in ns_rrset:  # the addresses from the versions this answer is made of (stale-data too)
            glue.extend(view.zones.addresses(cast(dns.name.Name, rdata.target), answer.versions))
        answer.kind = Kind.DELEGATION
        answer.rcode = dns.rcode.NOERROR
        answer.aa = False
        answer.answer = []
        answer.authority = [ns_rrset]
        answer.glue = []
        answer.additional = glue
        return f"upward referral to {self.to}"


@register
class MissingGlue(Fault):
    """Name: missing-glue

    Imitates: a registrar host that was never registered: the parent's referral
    lacks the addresses of in-bailiwick name servers.

    Modes: ``all`` (default): no glue at all; ``hosts``: no glue for the hosts in
    ``hosts``; ``a``: only the A glue is removed; ``aaaa``: only the AAAA glue.

    Parameters: ``hosts`` (mode hosts; with a or aaaa, limits them to those hosts).

    Client sees: a referral whose ADDITIONAL section lacks exactly the glue the
    referral would have carried (in-domain and sibling glue); other answers unchanged.

    Signed zones: glue is never signed, so signatures do not change (the referral's
    DS or its proof of absence stay valid).

    Transfers: AXFR and IXFR are not changed (glue leaves referrals only): a fault edits one
    answer at a time, and a transfer sends the zone's current version whole, so a secondary
    would need every answer's edit applied to the zone at once; to give a secondary the same
    broken zone, break the zone itself (``server.zone(...).edit(...)``, ``fakens ctl zone
    edit`` or a zone file), which AXFR and IXFR carry.

    Example: ``missing-glue mode=hosts hosts=ns2.example.test.``
    """

    type_name = "missing-glue"
    summary = "referrals without (some of) their glue"
    modes = ("all", "hosts", "a", "aaaa")
    params = {"hosts": Param("names", (), "NS host names whose glue goes")}

    def validate(self) -> None:
        if self.mode == "hosts" and not self.hosts:
            raise ConfigError("fault missing-glue mode=hosts needs hosts=NAME[,NAME...]")

    def _goes(self, rrset: dns.rrset.RRset) -> bool:
        types = {"a": (dns.rdatatype.A,), "aaaa": (dns.rdatatype.AAAA,)}.get(self.mode, _ADDRESS)
        return rrset.rdtype in types and (not self.hosts or rrset.name in self.hosts)

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        # a referral with glue to remove: an answer without glue does not use up first=N
        return (isinstance(arg, Answer) and arg.kind is Kind.DELEGATION
                and any(self._goes(r) for r in arg.glue + arg.additional))

    def after(self, view: View, answer: Answer) -> str | None:
        if answer.kind is not Kind.DELEGATION:
            return None
        removed = [f"{r.name} {dns.rdatatype.to_text(r.rdtype)}" for r in answer.glue + answer.additional
                   if self._goes(r)]
        answer.glue = [r for r in answer.glue if not self._goes(r)]
        answer.additional = [r for r in answer.additional if not self._goes(r)]
        return f"removed glue {', '.join(removed)}" if removed else None


def _addresses(values: tuple[str, ...]) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for value in values:
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise ConfigError(f"fault stale-glue: {value!r} is not an IP address") from None
        (v4 if address.version == 4 else v6).append(str(address))
    return v4, v6


@register
class StaleGlue(Fault):
    """Name: stale-glue

    Imitates: a renumbered name server whose old addresses linger as glue in the
    parent while the child zone has the new ones.

    Parameters: ``host`` (required): the NS host; ``addresses`` (required): the
    old addresses served as its glue (IPv4 and/or IPv6, comma-separated); only the
    address families given are replaced (IPv4 only: the AAAA glue stays).

    Client sees: referrals whose glue for ``host`` holds the given addresses.

    Signed zones: glue is never signed: nothing for a validator to notice (the
    child's own A/AAAA, which it signs, stay right).

    Example: ``stale-glue host=ns1.example.test. addresses=127.0.0.99``
    """

    type_name = "stale-glue"
    summary = "glue addresses replaced by given (old) ones"
    params = {
        "host": Param("name", None, "the NS host", required=True),
        "addresses": Param("list", (), "the stale addresses", required=True),
    }

    def validate(self) -> None:
        self._v4, self._v6 = _addresses(self.addresses)

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return isinstance(arg, Answer) and arg.kind is Kind.DELEGATION

    def after(self, view: View, answer: Answer) -> str | None:
        if answer.kind is not Kind.DELEGATION:
            return None
        ttl = next((r.ttl for r in answer.glue + answer.additional if r.name == self.host), 3600)
        replaced = {rdtype for rdtype, addresses in ((dns.rdatatype.A, self._v4), (dns.rdatatype.AAAA, self._v6))
                    if addresses}
        answer.glue = [r for r in answer.glue if not (r.name == self.host and r.rdtype in replaced)]
        answer.additional = [r for r in answer.additional if not (r.name == self.host and r.rdtype in replaced)]
        for rdtype, addresses in ((dns.rdatatype.A, self._v4), (dns.rdatatype.AAAA, self._v6)):
            if addresses:
                answer.glue.append(dns.rrset.from_text_list(self.host, ttl, dns.rdataclass.IN, rdtype, addresses))
        return f"glue of {self.host} replaced by {', '.join(self.addresses)}"


@register
class NsMismatch(Fault):
    """Name: ns-mismatch

    Imitates: a parent (registrar) NS set that differs from the child's apex NS
    set: put it on the parent's server to change referrals, on the child's to
    change its apex NS.

    Modes: ``add`` (default): add ``hosts``; ``remove``: remove ``hosts`` (and
    their glue); ``rename``: rename ``old`` to ``new``.

    Parameters: ``hosts``, ``old``, ``new``.

    Client sees: NS RRsets (referral AUTHORITY, apex NS answers and AUTHORITY)
    with hosts added, missing or renamed; an added or renamed host's addresses go
    along (as glue in a referral) when the server holds them, a removed host's go.

    Signed zones: a referral's NS set is not signed (nothing to say); a changed apex
    NS set keeps the signature of the true one, which does not verify it (bogus), unless
    ``resign``=true signs it as served.

    Transfers: AXFR and IXFR are not changed (NS sets change in answers only): a fault edits
    one answer at a time, and a transfer sends the zone's current version whole, so a
    secondary would need every answer's edit applied to the zone at once; to give a
    secondary the same broken zone, break the zone itself (``server.zone(...).edit(...)``,
    ``fakens ctl zone edit`` or a zone file), which AXFR and IXFR carry.

    Example: ``ns-mismatch mode=remove hosts=ns2.example.test.``
    """

    type_name = "ns-mismatch"
    summary = "NS set with extra, missing or renamed hosts"
    modes = ("add", "remove", "rename")
    params = {
        "hosts": Param("names", (), "hosts to add or remove"),
        "old": Param("name", None, "host to rename (mode rename)"),
        "new": Param("name", None, "its new name (mode rename)"),
        "resign": Param("bool", False, "on a signed zone: sign the changed apex NS set"),
    }

    def validate(self) -> None:
        if self.mode in ("add", "remove") and not self.hosts:
            raise ConfigError(f"fault ns-mismatch mode={self.mode} needs hosts=NAME[,NAME...]")
        if self.mode == "rename" and (self.old is None or self.new is None):
            raise ConfigError("fault ns-mismatch mode=rename needs old=NAME new=NAME")

    def _edit(self, rrset: dns.rrset.RRset) -> dns.rrset.RRset:
        targets = [cast(dns.name.Name, r.target) for r in rrset]
        if self.mode == "add":
            targets += [h for h in self.hosts if h not in targets]
        elif self.mode == "remove":
            targets = [t for t in targets if t not in self.hosts]
        else:
            targets = [self.new if t == self.old else t for t in targets]
        return dns.rrset.from_text_list(rrset.name, rrset.ttl, rrset.rdclass, dns.rdatatype.NS,
                                        [t.to_text() for t in targets])

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        return isinstance(arg, Answer) and any(r.rdtype == dns.rdatatype.NS for r in arg.answer + arg.authority)

    def after(self, view: View, answer: Answer) -> str | None:
        changed = False
        for section in ("answer", "authority"):
            rrsets = getattr(answer, section)
            new = [self._edit(r) if r.rdtype == dns.rdatatype.NS else r for r in rrsets]
            if any(r.rdtype == dns.rdatatype.NS for r in rrsets):
                changed = True
            setattr(answer, section, [r for r in new if len(r)])
        if not changed:
            return None
        gone = set(self.hosts) if self.mode == "remove" else ({self.old} if self.mode == "rename" else set())
        answer.glue = [r for r in answer.glue if r.name not in gone]
        answer.additional = [r for r in answer.additional if r.name not in gone]
        new_hosts = list(self.hosts) if self.mode == "add" else ([self.new] if self.mode == "rename" else [])
        present = {(r.name, r.rdtype) for r in answer.glue + answer.additional}
        cut = next((r.name for r in answer.authority if r.rdtype == dns.rdatatype.NS), None)
        for host in new_hosts:  # the addresses the server holds for a new host go along, as glue would
            for rrset in view.zones.addresses(host, answer.versions):
                if (rrset.name, rrset.rdtype) in present:
                    continue
                if answer.kind is Kind.DELEGATION and cut is not None and host.is_subdomain(cut):
                    answer.glue.append(rrset)
                else:
                    answer.additional.append(rrset)
        if self.resign and answer.dnssec_ok:
            resign_all(answer, view.zones)
        if self.mode == "rename":
            return f"NS {self.old} renamed {self.new}"
        return f"NS {'added' if self.mode == 'add' else 'removed'} {', '.join(h.to_text() for h in self.hosts)}"


@register
class NsNoAddress(Fault):
    """Name: ns-no-address

    Imitates: an NS host name with no address record (the mail-migration
    incident: ns2 listed in NS but without an A record). The same mistake loads
    straight from a zone file (zone check warns ``ns-no-address``).

    Modes: ``nxdomain`` (default): the host name does not exist, so every query for it
    gets NXDOMAIN; ``nodata``: the name exists without addresses, A/AAAA/ANY get NODATA.

    Parameters: ``hosts`` (required): the NS host names.

    Client sees: NXDOMAIN (any type) or NODATA (A, AAAA) with the SOA for those hosts,
    and no addresses for them in any ADDITIONAL section (glue included, on a parent).

    Signed zones: the negative answer carries no signature and no NSEC/NSEC3 proof
    (bogus for a validator); removed glue was never signed.

    Transfers: AXFR and IXFR are not changed (the hosts' addresses go from answers only): a
    fault edits one answer at a time, and a transfer sends the zone's current version whole,
    so a secondary would need every answer's edit applied to the zone at once; to give a
    secondary the same broken zone, break the zone itself (``server.zone(...).edit(...)``,
    ``fakens ctl zone edit`` or a zone file), which AXFR and IXFR carry.

    Example: ``ns-no-address hosts=ns2.example.test.``
    """

    type_name = "ns-no-address"
    summary = "NS host names answer NXDOMAIN or NODATA for A/AAAA"
    modes = ("nxdomain", "nodata")
    params = {"hosts": Param("names", (), "the NS host names", required=True)}

    def _negative_kind(self, view: View, answer: Answer) -> Kind | None:
        """NXDOMAIN or NODATA when the question is about one of the hosts, else None."""
        if view.question is None or view.qname not in self.hosts or answer.kind is Kind.DELEGATION:
            return None
        if self.mode == "nxdomain":  # the name does not exist: every type
            return Kind.NXDOMAIN
        if view.qtype in (dns.rdatatype.A, dns.rdatatype.AAAA, dns.rdatatype.ANY):
            return Kind.NODATA
        return None

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        if not isinstance(arg, Answer):
            return False
        kind = self._negative_kind(view, arg)
        if kind is not None and can_make_negative(arg, kind, None):
            return True
        return any(r.name in self.hosts and r.rdtype in _ADDRESS for r in arg.glue + arg.additional)

    def after(self, view: View, answer: Answer) -> str | None:
        hosts = set(self.hosts)
        kind = self._negative_kind(view, answer)
        if kind is not None:
            return make_negative(view, answer, kind, None)
        before = len(answer.glue) + len(answer.additional)
        answer.glue = [r for r in answer.glue if not (r.name in hosts and r.rdtype in _ADDRESS)]
        answer.additional = [r for r in answer.additional if not (r.name in hosts and r.rdtype in _ADDRESS)]
        if len(answer.glue) + len(answer.additional) != before:
            return "addresses of the hosts removed from ADDITIONAL"
        return None
