"""DNSViz against a running lab: ``dnsviz probe`` of the lab's own servers, then ``dnsviz grok``
with the lab's root key as the trust anchor, and what grok reports as a set of codes::

    result = run_dnsviz(lab, "www.example.test.", "run/dnsviz")
    result.version                          # "0.9.4"
    result.codes                            # {("ERROR", "EXPIRATION_IN_PAST"), ("STATUS", "BOGUS"), ...}
    result.errors                           # ["EXPIRATION_IN_PAST", "NO_SEP"]

The probe is authoritative (``-A``), over IPv4 only (``-4``) unless a server of the lab has an
IPv6 address, from the root down (``-a .``), and names the lab's root servers itself
(``-x .:HOST=ADDRESS,...``), so DNSViz asks the lab's servers and nothing else
(run it in a network namespace with loopback alone, as ``fakens lab verify`` does, and it
could reach nothing else anyway). grok runs with ``-P`` (the lab's servers are on loopback,
which DNSViz otherwise reports as private addresses) and, for a signed lab, ``-t`` a file of the
lab's root DNSKEY (DNSViz takes DNSKEY records as trusted keys, not DS); an unsigned lab is
grokked without one (its zones are INSECURE; what is left are the servers' and delegations'
errors: lame or unresponsive servers, NS sets that differ, glue, EDNS and TCP)::

    run_dnsviz(lab, ["www.rcode.test.", "www.flags.test."], "run/dnsviz", types=["A", "TXT"]).errors
    # ["INVALID_RCODE", "NOT_AUTHORITATVE"]       (sic: DNSViz 0.9.4's spelling)

Debian 12's dnsviz 0.9.4 refuses ``grok -t`` with its pygraphviz 1.7 ("pygraphviz is required,
but not installed": it imports ``pygraphviz.release``, which 1.7 no longer has); grok is
therefore run through the dnsviz script's own interpreter with a stand-in for that module
when it is missing (:data:`GROK_SHIM`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dns.name
import dns.rrset

from fakens.errors import ConfigError

if TYPE_CHECKING:
    from fakens.lab import Hierarchy

GROK_SHIM = """\
import runpy, sys, types
try:
    import pygraphviz
    try:
        from pygraphviz import release
    except ImportError:
        release = types.ModuleType("pygraphviz.release")
        release.version = pygraphviz.__version__
        sys.modules["pygraphviz.release"] = release
        pygraphviz.release = release
except ImportError:
    pass
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
"""Runs the dnsviz script (argv[1]) with ``pygraphviz.release`` stood in for when missing."""

_VERSION = "import importlib.metadata as m; print(m.version('dnsviz'))"


@dataclass
class Finding:
    kind: str
    """ERROR, WARNING, or STATUS (an RRset's, RRSIG's or delegation's status: BOGUS, INSECURE, ...)."""
    code: str
    where: str
    description: str = ""


@dataclass
class DnsvizResult:
    version: str
    findings: list[Finding] = field(default_factory=list)
    grok_path: str = ""

    @property
    def codes(self) -> set[tuple[str, str]]:
        """Every (kind, code) reported: ``("ERROR", "NO_SEP")``, ``("STATUS", "BOGUS")``."""
        return {(f.kind, f.code) for f in self.findings}

    @property
    def errors(self) -> list[str]:
        return sorted({f.code for f in self.findings if f.kind == "ERROR"})

    @property
    def warnings(self) -> list[str]:
        return sorted({f.code for f in self.findings if f.kind == "WARNING"})


def find_dnsviz() -> tuple[str, str]:
    """(the interpreter of the dnsviz script, the script); FileNotFoundError when not installed."""
    script = shutil.which("dnsviz")
    if script is None:
        raise FileNotFoundError("dnsviz")
    with open(script, "rb") as f:
        first = f.readline().decode("utf-8", "replace").strip()
    if not first.startswith("#!"):
        raise ConfigError(f"{script}: not a Python script (no #! line); cannot run its grok")
    interpreter = first[2:].split()
    if os.path.basename(interpreter[0]) == "env" and len(interpreter) > 1:
        found = shutil.which(interpreter[1])
        if found is None:
            raise ConfigError(f"{script}: its interpreter {interpreter[1]} is not on PATH")
        return found, script
    return interpreter[0], script


def is_signed(lab: Hierarchy) -> bool:
    """Does *lab*'s root carry keys (``[lab] dnssec = true``), so grok has a trust anchor to check against?"""
    root = lab.zones.get(dns.name.root)
    return root is not None and root.signer is not None


def trust_anchor_text(lab: Hierarchy) -> str:
    """The lab root's KSKs as DNSKEY records in zone-file form (``dnsviz grok -t``)."""
    root = lab.zones.get(dns.name.root)
    if root is None or root.signer is None:
        raise ConfigError("dnsviz: the lab is not signed ([lab] dnssec = true): no trust anchor to check against")
    return dns.rrset.from_rdata_list(dns.name.root, 3600, [k.dnskey for k in root.signer.ksks]).to_text() + "\n"


def probe_argv(lab: Hierarchy, name: str | Sequence[str], output: str, types: Sequence[str] = ()) -> list[str]:
    """The arguments of ``dnsviz probe`` for *name* (or several names, probed together) against
    *lab*'s servers, from its root; *types*: ask only these query types (``-R``; DNSViz's default
    set otherwise, which has no TXT or MX for a name that is no zone)::

        probe_argv(lab, ["www.rcode.test.", "www.nodata.test."], "probe.json")
        # ["probe", "-4", "-A", "-a", ".", "-x", ".:a.root-servers.test.=127.1.0.10", "-o", "probe.json",
        #  "www.rcode.test.", "www.nodata.test."]
    """
    names = [name] if isinstance(name, str) else list(name)
    if not names:
        raise ConfigError("dnsviz: no name to probe")
    roots = [f"{m.host.to_text()}={a}" for m in lab.root_members for a in m.addresses if ":" not in a]
    if not roots:
        raise ConfigError("dnsviz: the lab's root servers have no IPv4 address to give dnsviz probe")
    if lab.port != 53:
        raise ConfigError(f"dnsviz: the lab serves on port {lab.port}; dnsviz probe asks port 53 only")
    # -4 unless a server of the lab has an IPv6 address: then DNSViz asks it over IPv6 too (lame-modes'
    # IPv6-only server that drops is SERVER_UNRESPONSIVE_UDP), at the cost of its timeouts
    family = [] if any(":" in a for m in lab.members for a in m.addresses) else ["-4"]
    only = ["-R", ",".join(t.upper() for t in types)] if types else []
    return ["probe", *family, "-A", *only, "-a", ".", "-x", f".:{','.join(roots)}", "-o", output, *names]


def grok_argv(probed: str, output: str, anchor: str | None) -> list[str]:
    """The arguments of ``dnsviz grok`` of *probed*; ``-t`` *anchor* (the lab root's DNSKEY file) for a
    signed lab, none for an unsigned one (grok then reports the servers' and delegations' errors and
    warnings, and the zones as INSECURE)."""
    trust = ["-t", anchor] if anchor is not None else []
    return ["grok", "-P", "-l", "info", *trust, "-r", probed, "-o", output]


def run_dnsviz(lab: Hierarchy, name: str | Sequence[str], directory: str, timeout: float = 300,
               types: Sequence[str] = ()) -> DnsvizResult:
    """Probe *name* (or names; *types*: only these query types) in the running *lab*, grok it with
    the lab's trust anchor when the lab is signed (files in *directory*)."""
    interpreter, script = find_dnsviz()
    os.makedirs(directory, exist_ok=True)
    anchor = None
    if is_signed(lab):
        anchor = os.path.join(directory, "root-dnskey.txt")
        with open(anchor, "w", encoding="ascii") as f:
            f.write(trust_anchor_text(lab))
    probed = os.path.join(directory, "probe.json")
    grokked = os.path.join(directory, "grok.json")
    steps = [("probe", [interpreter, script, *probe_argv(lab, name, probed, types)]),
             ("grok", [interpreter, "-c", GROK_SHIM, script, *grok_argv(probed, grokked, anchor)])]
    for what, argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                              stdin=subprocess.DEVNULL, cwd=directory)
        if done.returncode != 0:
            raise ConfigError(f"dnsviz {what} exited with {done.returncode}: {done.stderr.strip()[-800:]} "
                              f"(command: {' '.join(argv[-12:])})")
    version = subprocess.run([interpreter, "-c", _VERSION], capture_output=True, text=True, timeout=60,
                             check=False).stdout.strip() or "unknown"
    with open(grokked, encoding="utf-8") as f:
        grok = json.load(f)
    return DnsvizResult(version, list(findings(grok)), grokked)


_PLAIN = frozenset({"NOERROR", "VALID", "SECURE"})


_KINDS = {"errors": "ERROR", "warnings": "WARNING", "error": "ERROR", "warning": "WARNING"}
"""The keys grok lists findings under: ``errors``/``warnings`` (of a zone, delegation, RRset, RRSIG,
server), and ``error``/``warning`` (a query's responses: ``INVALID_RCODE``, ``TIMEOUT``, ``FORMERR``,
what an unsigned zone's servers get wrong)."""


def findings(grok: Any, where: str = "") -> Iterator[Finding]:
    """Every error and warning of a ``dnsviz grok`` JSON document, and each status other than
    NOERROR, VALID and SECURE (BOGUS, INSECURE, INDETERMINATE_NO_DNSKEY, NXDOMAIN, ...)::

        list(findings({"www.example.test.": {"queries": {"www.example.test./IN/A": {"error": [
            {"code": "INVALID_RCODE", "description": "The response had an invalid RCODE (SERVFAIL)."}]}}}}))
        # [Finding("ERROR", "INVALID_RCODE", "/www.example.test./queries/www.example.test./IN/A", "The ...")]
    """
    if isinstance(grok, dict):
        for key, value in grok.items():
            place = f"{where}/{key}"
            if key in _KINDS and isinstance(value, list):
                for item in value:
                    if isinstance(item, dict) and "code" in item:
                        yield Finding(_KINDS[key], str(item["code"]), where, str(item.get("description", "")))
            elif key == "status" and isinstance(value, str) and value not in _PLAIN:
                yield Finding("STATUS", value, where)
            else:
                yield from findings(value, place)
    elif isinstance(grok, list):
        for item in grok:
            yield from findings(item, where)
