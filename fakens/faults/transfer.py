"""Serial and transfer faults: stale-serial, refuse-transfer, broken-transfer, no-notify."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import dns.rcode
import dns.rdatatype
import dns.rdtypes.ANY.SOA
import dns.rrset

from fakens.answer import Answer
from fakens.dnssec.forge import resign_all, true_signatures
from fakens.errors import ConfigError
from fakens.faults.base import Fault, Param, register
from fakens.faults.view import Act, ErrorReply, Replaced, Unchanged
from fakens.outcome import Close, Reset, Stall
from fakens.xfr import axfr_rrsets, ixfr_rrsets
from fakens.zones import ZoneVersion, serial_gt

if TYPE_CHECKING:
    from fakens.faults.view import NotifyPlan, TransferPlan, View, ZoneHistory
    from fakens.outcome import Outcome

_XFR = "AXFR,IXFR"


def _soa_with_serial(rrset: dns.rrset.RRset, serial: int) -> dns.rrset.RRset:
    soa = cast(dns.rdtypes.ANY.SOA.SOA, rrset[0])
    new = dns.rrset.RRset(rrset.name, rrset.rdclass, dns.rdatatype.SOA)
    new.add(soa.replace(serial=serial), rrset.ttl)
    return new


def _with_ttl_of(rrset: dns.rrset.RRset, model: dns.rrset.RRset) -> dns.rrset.RRset:
    rrset.ttl = model.ttl
    return rrset


@register
class StaleSerial(Fault):
    """Name: stale-serial

    Imitates: "forgot to bump the serial" and its relatives: secondaries never
    pick up a change, or see a serial lower than their own.

    Modes: ``version`` (default): SOA queries and AXFR/IXFR get a real older
    version of the zone (``back`` versions back, default 1, or the one with
    ``serial``); ``unchanged``: the current data, but the SOA carries the previous
    version's serial; ``lower``: the SOA carries ``serial`` (default: the current
    serial minus one, RFC 1982), below what secondaries hold.

    Parameters: ``back``, ``serial``.

    Client sees: SOA answers, the SOA of negative answers and transfers with the
    stale serial (and, in mode version, the old data in transfers); other answers
    are not changed (stale-data serves old data); outgoing NOTIFYs keep the real serial.

    Signed zones: by default a stale SOA carries the current SOA's signature, which
    does not verify it (bogus); ``resign``=true signs the stale SOA (and, in mode
    version, the old version's answers) validly. Transfers carry no signatures.

    Example: ``stale-serial mode=unchanged``
    """

    type_name = "stale-serial"
    summary = "SOA queries and transfers report an older serial"
    modes = ("version", "unchanged", "lower")
    params = {
        "back": Param("int", 1, "versions back (mode version / unchanged)"),
        "serial": Param("int", None, "the serial to serve"),
        "resign": Param("bool", False, "on a signed zone: sign the stale SOA (default: no valid signature)"),
    }

    def after(self, view: View, answer: Answer) -> str | Replaced | None:
        done = self._after(view, answer)
        if done is None or not answer.dnssec_ok or isinstance(done, Unchanged):
            return done
        if isinstance(done, Replaced):
            if self.resign:
                return done
            true_signatures(done.answer, view.zones)
        elif self.resign:
            resign_all(answer, view.zones)
        return done

    def _old(self, zone: ZoneHistory) -> ZoneVersion:
        if self.serial is not None and self.mode == "version":
            found = zone.version_with_serial(self.serial)
            if found is not None:
                return found
        history = zone.history
        return history[-1 - self.back] if len(history) > self.back else history[0]

    def _fake_serial(self, zone: ZoneHistory) -> int:
        if self.mode == "lower":
            return self.serial if self.serial is not None else (zone.serial - 1) % 2**32
        return self._old(zone).serial

    def _after(self, view: View, answer: Answer) -> str | Replaced | None:
        zone = view.zones.find(view.qname)
        if zone is None:
            return None
        if self.mode == "version" and self._old(zone) is zone.current:
            return Unchanged("no older version kept")
        if view.qtype not in (dns.rdatatype.SOA, dns.rdatatype.ANY) or view.qname != zone.origin:
            # other answers: the SOA of negative answers carries the same stale serial
            if not any(r.rdtype == dns.rdatatype.SOA and r.name == zone.origin for r in answer.authority):
                return None
            if self.mode == "version":
                old = self._old(zone)
                stale = dns.rrset.RRset(zone.origin, old.soa.rdclass, dns.rdatatype.SOA)
                stale.update(old.soa)
                answer.authority = [_with_ttl_of(stale, r) if r.rdtype == dns.rdatatype.SOA and r.name == zone.origin
                                    else r for r in answer.authority]
                return f"negative answer's SOA from version #{old.number} serial {old.serial}"
            serial = self._fake_serial(zone)
            answer.authority = [_soa_with_serial(r, serial) if r.rdtype == dns.rdatatype.SOA and r.name == zone.origin
                                else r for r in answer.authority]
            return f"negative answer's SOA serial {serial} instead of {zone.serial}"
        if self.mode == "version" and view.question is not None:
            old = self._old(zone)
            versions = dict(answer.versions or {})
            versions[zone.origin] = old
            fresh = view.zones.answer(view.question, versions=versions, dnssec_ok=answer.dnssec_ok)
            return Replaced(f"SOA from version #{old.number} serial {old.serial}", fresh)
        serial = self._fake_serial(zone)
        if serial == zone.serial:
            return Unchanged("no older version kept")
        answer.answer = [_soa_with_serial(r, serial) if r.rdtype == dns.rdatatype.SOA else r for r in answer.answer]
        return f"SOA serial {serial} instead of {zone.serial}"

    def transfer(self, view: View, plan: TransferPlan) -> str | None:
        rrsets = plan.rrsets
        zone = view.zones.get(view.qname)
        if zone is None:
            return None
        client = view.ixfr_serial
        if self.mode == "version" and self._old(zone) is zone.current:
            return Unchanged("no older version kept")
        if self.mode == "version":
            old = self._old(zone)
            if view.qtype == dns.rdatatype.IXFR and client is not None:
                rrsets[:] = ixfr_rrsets(zone, client, old)
            else:
                rrsets[:] = axfr_rrsets(old)
            return f"transfer of version #{old.number} serial {old.serial}"
        serial = self._fake_serial(zone)
        if view.qtype == dns.rdatatype.IXFR and client is not None:
            if not serial_gt(serial, client):
                rrsets[:] = [_soa_with_serial(rrsets[0], serial)]
                return f"IXFR: single SOA serial {serial}"
            rrsets[:] = axfr_rrsets(zone.current)
        current = zone.serial
        rrsets[:] = [_soa_with_serial(r, serial) if r.rdtype == dns.rdatatype.SOA
                     and cast(dns.rdtypes.ANY.SOA.SOA, r[0]).serial == current else r for r in rrsets]
        return f"transfer with serial {serial} instead of {current}"


@register
class RefuseTransfer(Fault):
    """Name: refuse-transfer

    Imitates: a primary that does not allow the transfer, or TCP/53 blocked by a
    firewall, as a secondary sees it.

    Modes: ``refused`` (default) or ``notauth``: that rcode; ``close``: the TCP
    connection closed before the first message; ``reset``: reset; ``stall``: held
    open and never answered.

    Selectors: AXFR and IXFR unless a ``qtype`` is given.

    Client sees: the rcode (question echoed), or the connection closed, reset or
    silent before any transfer message; the TCP modes leave UDP (an IXFR's single
    SOA) alone, as a firewall blocking TCP/53 would.

    Example: ``refuse-transfer mode=notauth``
    """

    type_name = "refuse-transfer"
    summary = "AXFR/IXFR refused, or the connection closed, reset or stalled"
    modes = ("refused", "notauth", "close", "reset", "stall")
    default_selector = {"qtype": _XFR}

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        # the TCP modes leave UDP alone, as a firewall blocking TCP/53 would
        return self.mode in ("refused", "notauth") or view.transport == "tcp"

    def before(self, view: View) -> Act | None:
        if self.mode in ("refused", "notauth"):
            rcode = dns.rcode.REFUSED if self.mode == "refused" else dns.rcode.NOTAUTH
            return Act(f"transfer {self.mode}", ErrorReply(rcode))
        if view.transport == "udp":
            return None
        outcomes: dict[str, Outcome] = {"close": Close(), "reset": Reset(), "stall": Stall()}
        return Act(f"transfer {self.mode}", outcomes[self.mode])


@register
class BrokenTransfer(Fault):
    """Name: broken-transfer

    Imitates: an interrupted or corrupted transfer (disk full, a crashing
    primary, a buggy IXFR implementation).

    Modes: ``cut`` (default): the stream stops before the final SOA (after
    ``keep`` RRsets, default half) and the connection closes; ``soa-mismatch``:
    the last SOA's serial differs from the first; ``damaged``: a message in the
    middle of the stream is cut short inside a record; ``wrong-deltas``: an IXFR's
    deleted and added records are swapped.

    Parameters: ``keep`` (mode cut).

    Client sees: a transfer that a careful secondary rejects.

    Example: ``broken-transfer mode=cut keep=10``
    """

    type_name = "broken-transfer"
    summary = "transfer cut, SOAs differing, damaged mid-stream, or wrong IXFR deltas"
    modes = ("cut", "soa-mismatch", "damaged", "wrong-deltas")
    params = {"keep": Param("int", None, "RRsets sent before the cut (mode cut)")}
    default_selector = {"qtype": _XFR}

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        rrsets = getattr(arg, "rrsets", None)
        if hook == "transfer":
            return rrsets is not None and len(rrsets) > 1  # a single SOA (the client is up to date): nothing to break
        return self.mode == "damaged"

    def transfer(self, view: View, plan: TransferPlan) -> str | None:
        rrsets = plan.rrsets
        if len(rrsets) <= 1:
            return None  # a single SOA (the client is up to date): nothing to break
        if self.mode == "cut":
            keep = self.keep if self.keep is not None else max(1, len(rrsets) // 2)
            keep = min(keep, len(rrsets) - 1)
            del rrsets[keep:]
            plan.close_after = True
            return f"stream cut after {keep} RRsets"
        if self.mode == "soa-mismatch" and len(rrsets) > 1:
            serial = cast(dns.rdtypes.ANY.SOA.SOA, rrsets[-1][0]).serial
            rrsets[-1] = _soa_with_serial(rrsets[-1], (serial + 1) % 2**32)
            return f"last SOA serial {(serial + 1) % 2**32}"
        if self.mode == "wrong-deltas" and view.qtype == dns.rdatatype.IXFR:
            soas = [i for i, r in enumerate(rrsets) if r.rdtype == dns.rdatatype.SOA]
            if len(soas) >= 4 and soas[1] == 1:
                deleted = rrsets[soas[1] + 1:soas[2]]
                added = rrsets[soas[2] + 1:soas[3]]
                rrsets[:] = rrsets[:2] + added + [rrsets[soas[2]]] + deleted + rrsets[soas[3]:]
                return "IXFR deltas swapped"
        return None

    def wire(self, view: View, messages: list[bytes]) -> str | None:
        if self.mode != "damaged" or not messages:
            return None
        part = view.part
        if part is None:
            i = len(messages) // 2
            where = f"message {i + 1} of {len(messages)}"
        else:  # a stream, one message at a time: the one holding the middle RRset
            middle = (part.total or 0) // 2
            if middle not in part.rrsets:
                return None
            i = 0
            where = f"message {part.index + 1} (holding RRset {middle + 1} of {part.total})"
        message = messages[i]
        # cut inside the records: before the last record (and before a TSIG record, if any)
        messages[i] = message[: max(12, (len(message) * 2) // 3)]
        return f"{where} cut short"


@register
class NoNotify(Fault):
    """Name: no-notify

    Imitates: a primary whose secondaries lag: changes are not NOTIFYed, or
    NOTIFYed late, or to the wrong address.

    Modes: ``none`` (default): no NOTIFY is sent; ``late``: sent late;
    ``wrong-address``: sent to another address.

    Parameters: ``delay`` (mode late): seconds before the NOTIFY (default 30,
    on the server's clock); ``to`` (mode wrong-address): the ADDR:PORT it goes to instead (loopback or
    an address of this machine: fakens sends nowhere else).

    Selectors: ``qname`` (the zone) and ``client`` (the secondary's address).

    Client sees (a secondary): no NOTIFY, a late one, or none at its address.

    Example: ``no-notify mode=late delay=10``
    """

    type_name = "no-notify"
    summary = "NOTIFY not sent, sent late, or sent to the wrong address"
    modes = ("none", "late", "wrong-address")
    params = {
        "delay": Param("float", 30.0, "seconds before the NOTIFY (mode late)"),
        "to": Param("str", None, "ADDR:PORT the NOTIFY goes to (mode wrong-address)"),
    }
    selector_keys = ("qname", "client", "server")

    def validate(self) -> None:
        if self.mode == "wrong-address":
            if not self.to:
                raise ConfigError("fault no-notify mode=wrong-address needs to=ADDR:PORT")
            from fakens.transport import parse_listen, require_local

            self._to = require_local(parse_listen(self.to, default_port=53), "fault no-notify: to=")

    def notify(self, view: View, plan: NotifyPlan) -> str | None:
        if self.mode == "none":
            plan.skip = True
            return "NOTIFY not sent"
        if self.mode == "late":
            plan.delay += self.delay
            return f"NOTIFY delayed {self.delay}s"
        plan.target = self._to
        return f"NOTIFY sent to {self._to[0]}#{self._to[1]}"

