"""The structured answer the engine returns and faults edit.

An :class:`Answer` is DNS meaning, not bytes: it knows it is a referral and
which of its additional records are required glue, so a fault can strip
exactly that glue and the encoder can set TC exactly when required glue does
not fit (RFC 9471)::

    answer = engine.answer(qname, dns.rdatatype.A)
    if answer.kind is Kind.DELEGATION:
        answer.glue.clear()          # what a missing-glue fault does
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from fakens.zones import ZoneVersion

if TYPE_CHECKING:
    from fakens.faults.view import ZoneHistory

_DENIAL_TYPES = (dns.rdatatype.NSEC, dns.rdatatype.NSEC3)


class Kind(enum.Enum):
    """What an answer is, in RFC 1034 4.3.2 terms."""

    ANSWER = "answer"
    CNAME = "cname"  # a CNAME or DNAME chain that ends outside the server's data
    DELEGATION = "delegation"
    NXDOMAIN = "nxdomain"
    NODATA = "nodata"
    REFUSED = "refused"
    XFR = "xfr"
    ERROR = "error"  # FORMERR, NOTIMP, NOTAUTH, BADVERS ...


@dataclass(frozen=True)
class Proof:
    """What a signed answer must prove, noted by the engine as it answers: *name* does not
    exist (NXDOMAIN), has no such type (NODATA), was answered from the wildcard *wildcard*
    (ANSWER; NODATA with *wildcard* for a wildcard without the type), or is a delegation
    whose DS absence needs proof (DELEGATION). :mod:`fakens.dnssec.answers` turns it into
    NSEC or NSEC3 records for a DO=1 query to a signed zone."""

    version: ZoneVersion
    name: dns.name.Name
    kind: Kind
    wildcard: dns.name.Name | None = None


@dataclass
class Answer:
    """A response in the making: rcode, flags and sections as RRsets.

    ``glue`` holds the referral's required (in-domain) glue; ``additional``
    holds records that may be dropped without TC when space runs out, and so
    does ``authority`` in a positive answer (``authority_optional``).
    """

    kind: Kind
    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    aa: bool = False
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    glue: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    zone: dns.name.Name | None = None
    version: ZoneVersion | None = None
    versions: Mapping[dns.name.Name, ZoneVersion] | None = field(default=None, repr=False)
    dnssec_ok: bool = field(default=False, repr=False)
    proofs: list[Proof] = field(default_factory=list, repr=False)

    @property
    def authority_optional(self) -> bool:
        """Is AUTHORITY optional data? In a positive answer it holds only the zone's NS RRset,
        which may be left out when it does not fit, without TC (RFC 2181 9, as NSD and Knot);
        a referral's NS and a negative answer's SOA are the answer itself, and so is a wildcard
        answer's NSEC/NSEC3 proof."""
        return self.kind is Kind.ANSWER and not any(r.rdtype in _DENIAL_TYPES for r in self.authority)

    def version_of(self, zone: ZoneHistory) -> ZoneVersion:
        """The version of *zone* this answer is made from (the current one unless overridden)."""
        if self.versions is not None:
            version = self.versions.get(zone.origin)
            if version is not None:
                return version
        return zone.current
