"""Configs for real resolvers in front of a lab, as fakens.resolvers starts them and ``lab up`` writes them.

    text = kresd_config(lab, 5303, "/tmp/k")            # kresd -n -c kresd.conf /tmp/k
    text = pdns_recursor_config(lab, 5304, "/tmp/p")    # pdns_recursor --config-dir /tmp/p
    text = named_resolver_config(lab, 5301, 9531, "/tmp/n", secret)   # named -g -c named.conf

Each resolves through the lab only: its root hints, no forwarding, the lab's root trust anchor
(a signed lab) or validation off, address filters cleared, no local answers for the special-use
names and RFC 6303 zones the lab serves (docs/scenarios.md, "[expect.resolver]").
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import dns.name

if TYPE_CHECKING:
    from fakens.lab import Hierarchy


def uses_ip6(lab: Hierarchy) -> bool:
    return any(":" in a for m in lab.members for a in m.addresses)


def named_resolver_config(lab: Hierarchy, port: int, control_port: int, directory: str, secret: str,
                          qname_minimisation: bool = False) -> str:
    """``lab.named_config`` (hints, trust anchor or validation off, ``empty-zones-enable no``)
    with an rndc control channel on 127.0.0.1#*control_port* (``rndc flush``)."""
    config = lab.named_config(port, directory)
    if qname_minimisation:
        config = config.replace("qname-minimization off;", "qname-minimization relaxed;")
    return (config.replace("  recursion yes;", "  recursion yes; forwarders { }; dnssec-accept-expired no;")
            + f'key "fakens" {{ algorithm hmac-sha256; secret "{secret}"; }};\n'
            f'controls {{ inet 127.0.0.1 port {control_port} allow {{ 127.0.0.1; }} keys {{ "fakens"; }}; }};\n')


def kresd_config(lab: Hierarchy, port: int, directory: str, qname_minimisation: bool = False) -> str:
    """A kresd (5.x) config in Lua: listen on 127.0.0.1#*port*, the lab's root hints, the lab's
    root trust anchor (a signed lab) or none (validation off), no RFC 6761/6303 local answers
    (``policy.special_names`` emptied: kresd answers ``test.`` and the private reverse zones
    itself otherwise), no root-key signalling or priming of the real root, a cache of its own."""
    hints = lab.write_root_hints(os.path.join(directory, "root.hints"))
    lines = [
        "log_target('stderr')",
        f"net.listen('127.0.0.1', {port}, {{ kind = 'dns' }})",
        f"net.ipv6 = {'true' if uses_ip6(lab) else 'false'}",
        "modules.unload('ta_signal_query')", "modules.unload('ta_sentinel')", "modules.unload('priming')",
        "modules.unload('detect_time_skew')", "modules.unload('detect_time_jump')",
        "modules.load('hints > iterate')",
        f"hints.root_file('{hints}')",
        "policy.special_names = {}", "option('ALLOW_LOCAL', true)",
        "trust_anchors.remove('.')",
        f"cache.open(10 * MB, 'lmdb://{directory}/kresd-cache')",
        "cache.min_ttl(0)",  # default 5 s: a lab's scaled TTLs (300 s / 300) would outlive their time
    ]
    if lab.signed:
        lines.append(f"trust_anchors.add_file('{lab.write_trust_anchors(directory)['ds']}', true)")
    if not qname_minimisation:
        lines.append("option('NO_MINIMIZE', true)")
    return "\n".join(lines) + "\n"


def pdns_recursor_config(lab: Hierarchy, port: int, directory: str, qname_minimisation: bool = False) -> str:
    """A recursor.conf (4.8): the lab's hints, ``dont-query=`` empty (its default skips
    127.0.0.0/8, 192.0.2.0/24, 2001:db8::/32, fc00::/7: every lab server), ``serve-rfc1918=no``,
    the lab's root trust anchor (``dnssec=validate``, recursor.lua) or ``dnssec=off``."""
    hints = lab.write_root_hints(os.path.join(directory, "root.hints"))
    lua = os.path.join(directory, "recursor.lua")
    with open(lua, "w", encoding="utf-8") as f:
        f.write("clearTA('.')\n")
        if lab.signed:
            for line in lab.trust_anchors.splitlines():
                fields = line.split()
                if len(fields) >= 8 and fields[3] == "DS":
                    f.write(f"addTA('{fields[0]}', \"{' '.join(fields[4:])}\")\n")
    served = lab.special_use_zones()
    rfc1918 = any(dns.name.from_text(z).is_subdomain(dns.name.from_text("in-addr.arpa.")) for z in served)
    return "\n".join([
        "daemon=no", "write-pid=no", f"socket-dir={directory}",
        "local-address=127.0.0.1", f"local-port={port}", "allow-from=127.0.0.0/8",
        f"hint-file={hints}", "dont-query=", "forward-zones=", "threads=1",
        f"dnssec={'validate' if lab.signed else 'off'}", f"lua-config-file={lua}",
        "extended-resolution-errors=yes",
        f"serve-rfc1918={'no' if rfc1918 or served else 'yes'}",
        f"qname-minimization={'yes' if qname_minimisation else 'no'}",
        f"query-local-address={'0.0.0.0, ::' if uses_ip6(lab) else '0.0.0.0'}",
        "loglevel=6", "log-common-errors=yes", "",
    ])
