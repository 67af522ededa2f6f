"""Fault documentation from the fault classes themselves (one template for all).

``docs/faults.md`` is generated from here (``fakens faults --markdown``) and a
test keeps it in sync, so the documentation cannot drift from the code.
"""

from __future__ import annotations

import inspect

import dns.name
import dns.rcode

from fakens.faults.base import REGISTRY, SCHEDULE_KEYS, Fault, Param
from fakens.selectors import SELECTOR_KEYS

_HEADER = """# Faults

Every fault imitates a misconfigured or broken server and is computed from the zone the server
serves. A fault is written the same way everywhere (Python, `fakens serve --fault`, scenario
TOML tables): a type, then `key=value` parameters, a selector (which queries) and a schedule
(when), and an optional `name`:

```
nxdomain qname=**.io. probability=0.3 seed=7 name=io-outage
```

```python
server.faults.add("nxdomain qname=**.io. probability=0.3 seed=7", name="io-outage")
server.faults.add("nxdomain", qname="**.io.", probability=0.3, seed=7)
with server.faults.scoped("drop transport=udp"):
    ...
```

```toml
[[faults]]
type = "nxdomain"
qname = "**.io."
probability = 0.3
seed = 7
```

## Selectors

`qname` (exact `www.example.test.`, `*.example.test.` for names strictly below,
`**.example.test.` for the name and everything below; comma-separated lists), `qtype`
(transfers are the types AXFR and IXFR), `qclass`, `opcode` (QUERY, NOTIFY, UPDATE),
`transport` (udp, tcp), `client` (an address or network), `edns` (true/false: the query has
OPT), `do` (the DO bit), `edns_option` (the query carries one of these EDNS option codes:
`edns_option=65001`, names such as `COOKIE` or `NSID`, or `unknown` for any code fakens does not
know: NSID 3, DAU 5, DHU 6, N3U 7, ECS 8, EXPIRE 9, COOKIE 10, TCP-KEEPALIVE 11, PADDING 12,
CHAIN 13, KEY-TAG 14, EDE 15, REPORT-CHANNEL 18, ZONEVERSION 19 are known), `server` (the
server's name, in a lab). All given must match. A fault
whose selector does not match a query leaves the reply byte for byte as it would be without it.

A value starting with `!` negates its key, for "everything except": `qtype=!SOA` (every type
but SOA), `qname=!**.sub.example.test.` (every name outside that subtree), `qtype=!SOA,NS`
(neither SOA nor NS: the `!` covers the whole list, `!SOA,!NS` says the same, `SOA,!NS` is an
error). Every key but the true/false ones (`edns`, `do`: write `edns=false`) can be negated; a
negated key still needs its fact (`qname=!x.` matches no connection, which has no question).
The query log's filters take the same values (`server.log.entries(qtype="!SOA")`, `fakens ctl
log --qtype '!SOA'`). In a shell, quote a `!` word (`'qtype=!SOA'`): interactive bash expands
`!` in double quotes.

## Schedules

`probability` with `seed` (each fault has its own generator: the k-th query the fault sees
gets the k-th draw, in every run, whatever other faults or retries happen),
`first=N` (matching queries 1..N), `after=N` (N+1 onwards), `every=N` (N, 2N, ...), `times=N`
(at most N times), `from`/`until` (a window on the server's clock, from inclusive, until
exclusive; a lab shares one clock that tests move without sleeping), `per_client=true` (the
first matching query from each client address). All given must hold. Counting is per fault,
and a fault **sees** a query only where it could act on it: at a hook point the fault
implements (a connection fault never counts a query, a `no-notify` never counts an SOA query),
with its selector matching and with something there it could change (`missing-glue first=1`
is not used up by an answer without glue; a fault acting after the engine does not count a
query an earlier fault already ended). A fault that fired but changed nothing is counted back.
Faults act in the order they were added. Delays, NOTIFY retries and timeouts wait on the
server's clock (real time by default; a ManualClock, as a lab's, moves them: `clock.advance(0.5)`).

## How faults compose

Faults act in the order they were added, at fixed points of a query's way: `before` the
engine (faults that end a query: `rcode`, `lame` refused/servfail, `drop`, `refuse-transfer`,
`edns` formerr/drop/badvers, `rate-limit`; `delay` adds its delay), `after` it on the
structured answer (`nxdomain`, `nodata`, `stale-data`, `lame` noaa/upward, the delegation
faults, `stale-serial`), on transfers (`stale-serial`, `broken-transfer`), when the reply is
encoded (`ttl`, `flags`, `truncate`, `oversize`, `edns` no-opt/echo-options) and on the bytes
(`wrong-id`, `wrong-question`, `malformed`, `broken-transfer` damaged). The first fault that
ends a query decides its outcome; every other fault that fired still acts (a `delay` still
delays it, `flags` still sets its bits, even on a reply a fault made); an outcome of a later
fault is not used, and the log says so. Encoding-time faults see the final answer, so
`ttl negative=60` sets the negative TTL of an NXDOMAIN made by an `nxdomain` fault whatever
their order. Selectors match every opcode unless told: add `opcode=QUERY` to leave incoming
NOTIFY (which asks for the SOA) alone.

## Signed zones

On a signed zone (docs/dnssec.md) the DNSSEC faults break what a validator checks, each
as a real signing failure: `rrsig-expired` (expired or not yet valid, against real time),
`rrsig-bad` (data changed after signing, a flipped byte), `rrsig-unknown-key`,
`rrsig-missing`, `stale-ds` (the child's DNSKEY set without the key the DS points at),
`bad-ds` (wrong digest, unknown digest type, unused algorithm, retired key), `bad-denial`
(bitmaps denying existing types, signed NXDOMAIN/NODATA for existing data, proofs that do
not cover, NSEC3 parameters differing from NSEC3PARAM, proofs missing) and
`nsec3-iterations` (RFC 9276). They act after the engine, on DO=1 answers (a DO=0 query has
nothing for them to change and is not counted, except where the fault changes records: the
DNSKEY or DS set, a denied name); what they make is signed again with the zone's own keys, so
the only thing wrong is what they break. Each says what a validating resolver (unbound,
BIND) and a checker (DNSViz) show. An unsupported or deprecated algorithm is a signing
policy, not a fault: `algorithm = 5` or `7`, or `published_algorithm` for a number no
validator knows.

The faults that edit answers leave their lies without a valid signature by default, as a
server whose data went wrong after signing would: `nxdomain`, `nodata` and `ns-no-address`
answers carry no RRSIG and no proof; `stale-data`, `stale-serial` and `ns-mismatch` answers
carry the signatures of the zone's true data, which do not verify the lie. A validator calls
them bogus (SERVFAIL). With `resign=true` (nxdomain, nodata, stale-data, stale-serial,
ns-mismatch) the lie is signed as a zone signed with the wrong data would sign it, with
NSEC/NSEC3 proofs of that data: SECURE for a validator. Glue and the NS of referrals are
never signed (`missing-glue`, `stale-glue`), and TTLs are not what is signed (`ttl`).

## The query log

Each log entry's `faults` lists every fault that changed something for that query, with what it did
(`{"name": "io-outage", "type": "nxdomain", "mode": null, "actions": ["nxdomain with the SOA of
io."]}`), so a test can tell a fault's NXDOMAIN from a real one: an `nxdomain` fault does not even
count a name that does not exist (it could not change the answer), so that query's `faults` is
`[]`. A fault that fired and then found nothing to change is not in `faults` (nor found by the
log filter `fault=`): it is listed in the entry's `matched` (`{"name": "sd", "type":
"stale-data", "mode": "version", "reason": "no older version of example.test. kept"}`, the reason
None when the fault gives none) and is not counted by its schedule.

## The fault types

"""


def fault_doc(cls: type[Fault]) -> str:
    """One fault's documentation: its docstring plus its modes, parameters and selectors."""
    text = inspect.cleandoc(cls.__doc__ or "")
    lines = [text]
    if cls.params:
        lines.append("Parameter defaults: " + ", ".join(f"`{k}`: {_default(v)}" for k, v in cls.params.items()))
    if cls.default_selector:
        lines.append("Default selector: " + ", ".join(f"`{k}={v}`" for k, v in cls.default_selector.items()))
    if cls.signed_only:
        lines.append("Signed zones only: it acts on the DNSSEC records of answers to DO=1 queries "
                     "(and, where it says so, on the records themselves); elsewhere it does not fire.")
    if cls.selector_keys != SELECTOR_KEYS and "Selectors:" not in text:
        lines.append("Selectors: " + ", ".join(f"`{k}`" for k in cls.selector_keys) + " only")
    return "\n\n".join(lines).rstrip() + "\n"


def _default(param: Param) -> str:
    if param.required:
        return "required"
    value = param.default
    if value is None or value == ():
        return "none"
    if param.kind == "rcode":
        return str(dns.rcode.to_text(value))
    if isinstance(value, dns.name.Name):
        return str(value.to_text())
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def faults_markdown() -> str:
    """The whole of docs/faults.md."""
    parts = [_HEADER]
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        body = fault_doc(cls)
        body = body.replace(f"Name: {name}\n", "", 1).strip()
        parts.append(f"### `{name}`\n\n{cls.summary}.\n\n{_format(body)}\n\n")
    parts.append("Schedule keys: " + ", ".join(f"`{k}`" for k in SCHEDULE_KEYS) + ".\n")
    return "".join(parts)


def _format(body: str) -> str:
    out = []
    for paragraph in body.split("\n\n"):
        paragraph = " ".join(line.strip() for line in paragraph.splitlines())
        for label in ("Imitates", "Modes", "Parameters", "Client sees", "Validator sees", "Checker shows",
                      "Signed zones", "Transfers", "Example", "Selectors", "Parameter defaults", "Default selector"):
            if paragraph.startswith(label):
                head, _, rest = paragraph.partition(":")
                paragraph = f"**{head}:**{rest}"
                break
        out.append(paragraph.replace("``", "`"))
    return "\n\n".join(out)
