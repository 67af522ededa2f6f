"""EDNS faults: the server profiles of DNS Flag Day 2019."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.edns
import dns.flags
import dns.rcode

from fakens.faults.base import Fault, Param, register
from fakens.outcome import Drop

if TYPE_CHECKING:
    from fakens.faults.context import Encoding, FaultContext
    from fakens.outcome import Outcome

KNOWN_OPTIONS = {int(dns.edns.OptionType.NSID), int(dns.edns.OptionType.COOKIE), int(dns.edns.OptionType.PADDING)}
_WHEN = ("opt", "version", "option", "flag")


@register
class Edns(Fault):
    """Name: edns

    Imitates: the broken EDNS servers of DNS Flag Day 2019 (ednscomp.isc.org).

    Modes: ``formerr`` (default): FORMERR without OPT; ``drop``: no reply;
    ``no-opt``: every reply without OPT (answers, errors, transfers); ``echo-options``: the query's EDNS
    options echoed back in the reply; ``badvers``: BADVERS even for version 0.

    Parameters: ``when`` (modes formerr and drop): ``opt`` (default: any query
    with OPT), ``version`` (EDNS version > 0), ``option`` (an option the server
    does not know), ``flag`` (an unknown EDNS flag set).

    Client sees: what a resolver's EDNS fallback logic has to survive.

    Example: ``edns mode=drop when=option``
    """

    type_name = "edns"
    summary = "FORMERR/silence for EDNS, replies without OPT, options echoed, BADVERS misused"
    modes = ("formerr", "drop", "no-opt", "echo-options", "badvers")
    params = {"when": Param("str", "opt", "opt, version, option or flag (modes formerr, drop)")}
    default_selector = {"edns": "true"}

    def validate(self) -> None:
        if self.when not in _WHEN:
            from fakens.errors import ConfigError

            raise ConfigError(f"fault edns: when={self.when!r}; valid: {', '.join(_WHEN)}")

    def _applies(self, ctx: FaultContext) -> bool:
        message = ctx.message
        if message.edns < 0:
            return False
        if self.when == "version":
            return message.edns > 0
        if self.when == "option":
            return any(int(o.otype) not in KNOWN_OPTIONS for o in message.options)
        if self.when == "flag":
            return bool(message.ednsflags & 0xFFFF & ~dns.flags.DO)
        return True

    def before(self, ctx: FaultContext) -> Outcome | None:
        if self.mode in ("formerr", "drop") and self._applies(ctx):
            ctx.record(self, f"EDNS ({self.when}): {self.mode}")
            if self.mode == "drop":
                return Drop()
            return ctx.server.reply_with_rcode(ctx, dns.rcode.FORMERR, with_opt=False)
        if self.mode == "badvers":
            ctx.record(self, "BADVERS")
            return ctx.server.reply_with_rcode(ctx, dns.rcode.BADVERS)
        return None

    def encoding(self, ctx: FaultContext, enc: Encoding) -> str | None:
        if self.mode == "no-opt":
            enc.opt = None
            return "reply without OPT"
        if self.mode == "echo-options" and enc.opt is not None:
            enc.opt.options = list(enc.opt.options) + [o for o in ctx.message.options if o.otype != dns.edns.OptionType.NSID]
            return "EDNS options echoed"
        return None
