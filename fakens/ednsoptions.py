"""EDNS option codes: the ones fakens knows, and option names read from text.

"Known" is this table: the codes of the IANA registry's options in common use. Any other code is
*unknown* (the ``edns_option=unknown`` selector, the ``edns when=option`` fault)::

    option_code("65001") == 65001
    option_code("cookie") == 10 == option_code("COOKIE")
    is_known(65001) is False
"""

from __future__ import annotations

import dns.edns

KNOWN_OPTIONS: dict[int, str] = {
    3: "NSID", 5: "DAU", 6: "DHU", 7: "N3U", 8: "ECS", 9: "EXPIRE", 10: "COOKIE", 11: "TCP-KEEPALIVE",
    12: "PADDING", 13: "CHAIN", 14: "KEY-TAG", 15: "EDE", 18: "REPORT-CHANNEL", 19: "ZONEVERSION",
}
"""Option codes fakens knows (RFC 5001, 6975, 7871, 7314, 7873, 7828, 7830, 7901, 8145, 8914, 9567, 9660)."""

_BY_NAME = {name: code for code, name in KNOWN_OPTIONS.items()}
_BY_NAME.update({"KEEPALIVE": 11, "CLIENT-SUBNET": 8, "EDNS-KEY-TAG": 14})  # dnspython's and other spellings


def is_known(code: int) -> bool:
    """Is *code* one of :data:`KNOWN_OPTIONS`?"""
    return code in KNOWN_OPTIONS


def option_code(text: str | int) -> int:
    """An option code from a number (0..65535) or a name (``COOKIE``, ``tcp-keepalive``,
    dnspython's ``KEEPALIVE``); ValueError otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        code = text
    else:
        word = str(text).strip().upper().replace("_", "-")
        if word.isdigit():
            code = int(word)
        elif word in _BY_NAME:
            return _BY_NAME[word]
        else:
            try:
                return int(dns.edns.OptionType.from_text(word.replace("-", "_")))
            except ValueError:
                raise ValueError(text) from None
    if not 0 <= code <= 0xFFFF:
        raise ValueError(text)
    return code
