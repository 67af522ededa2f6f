"""EDNS faults: the server profiles of DNS Flag Day 2019."""

from __future__ import annotations

from typing import TYPE_CHECKING

import dns.edns
import dns.flags
import dns.rcode

from fakens.ednsoptions import is_known
from fakens.faults.base import Fault, Param, register
from fakens.faults.view import Act, ErrorReply
from fakens.outcome import Drop

if TYPE_CHECKING:
    from fakens.faults.view import Encoding, View

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
    does not know: a code not in fakens' list of known options, as ``edns_option=unknown``),
    ``flag`` (an unknown EDNS flag set).

    Selectors: ``edns_option`` narrows every mode to queries carrying given option codes:
    ``edns mode=no-opt edns_option=65001`` is a server that drops OPT from its replies only
    when the query carries option 65001; ``edns mode=formerr edns_option=unknown`` is the
    same server as ``when=option``.

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

    def _applies(self, view: View) -> bool:
        edns = view.edns
        if edns is None:
            return False
        if self.when == "version":
            return edns.version > 0
        if self.when == "option":
            return any(not is_known(code) for code, _ in edns.options)
        if self.when == "flag":
            return bool(edns.flags & ~dns.flags.DO)
        return True

    def can_act(self, hook: str, view: View, arg: object) -> bool:
        if self.mode in ("formerr", "drop"):
            return self._applies(view)
        if self.mode == "badvers":
            return hook == "before"
        if hook != "encoding" or getattr(arg, "opt", None) is None:
            return False  # no-opt, echo-options: act on a reply's OPT
        if self.mode == "echo-options":
            return view.edns is not None and any(code != dns.edns.OptionType.NSID for code, _ in view.edns.options)
        return True

    def before(self, view: View) -> Act | None:
        if self.mode in ("formerr", "drop") and self._applies(view):
            if self.mode == "drop":
                return Act(f"EDNS ({self.when}): drop", Drop())
            return Act(f"EDNS ({self.when}): formerr", ErrorReply(dns.rcode.FORMERR, with_opt=False))
        if self.mode == "badvers":
            return Act("BADVERS", ErrorReply(dns.rcode.BADVERS))
        return None

    def encoding(self, view: View, enc: Encoding) -> str | None:
        if self.mode == "no-opt":
            enc.opt = None
            return "reply without OPT"
        if self.mode == "echo-options" and enc.opt is not None and view.edns is not None:
            echoed: list[dns.edns.Option] = [
                dns.edns.GenericOption(dns.edns.OptionType.make(code), data)
                for code, data in view.edns.options if code != dns.edns.OptionType.NSID]
            enc.opt.options = list(enc.opt.options) + echoed
            return "EDNS options echoed"
        return None
