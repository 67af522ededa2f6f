"""The command line: ``fakens serve``, ``fakens ctl``, ``fakens faults``, ``fakens trace`` and ``fakens zone check``.

    fakens serve zones/example.test.zone                 # 127.0.0.1:5053, UDP and TCP
    fakens serve zones/ --listen 127.0.0.10:53 --listen [::1]:5053 --log q.jsonl
    fakens serve zones/ --fault "nxdomain qname=**.example.test. probability=0.3 seed=7"
    fakens faults [TYPE]                                  # the fault types and their documentation
    fakens trace www.example.test A --hints root.hints    # like dig +trace through a fake hierarchy
    fakens zone check zones/*.zone                        # warnings and errors with file:line
    fakens serve zones/ --control 127.0.0.1:0 --ready-file run/ready.json
    fakens ctl fault add "nxdomain qname=www.example.test." --ready-file run/ready.json
    fakens ctl log --follow --ready-file run/ready.json   # see fakens.control, docs/control.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import json
import os
import shlex
import signal
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fakens import __version__, internalerrors
from fakens.errors import ConfigError, FakensError
from fakens.faults.base import format_spec
from fakens.faults.spec import load_fault_file
from fakens.labcli import add_lab_parser, run_lab_command
from fakens.log import DEFAULT_LIMIT as DEFAULT_LOG_KEEP
from fakens.loops import LOOP_ENV, LOOPS, collector_for_serving, loop_name
from fakens.loops import run as run_on_loop
from fakens.options import (
    DEFAULT_PUBLIC_REPLY_RATIO,
    DEFAULT_PUBLIC_UDP_SIZE,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RATE_LIMIT_BURST,
    DEFAULT_TCP_IDLE_TIMEOUT,
    DEFAULT_TCP_MAX_CONNECTIONS,
    DEFAULT_UDP_SIZE,
    OUTSIDE_ZONES,
)
from fakens.ready import remove_ready_file, write_ready_file
from fakens.server import Server
from fakens.transport import Endpoint, TcpLimits
from fakens.zonefile import DEFAULT_MAX_GENERATE, DEFAULT_MAX_RECORDS, ZoneLimits
from fakens.zonenames import no_zone_files, zone_files
from fakens.zones import Zone, load_zones

if TYPE_CHECKING:
    from fakens.control import ControlClient

DEFAULT_LISTEN = "127.0.0.1:5053"


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser. With *command* (the first word of the command line),
    ``ctl`` and ``lab`` get their subcommands only when they are that command: building
    every subcommand's parser is a good part of a ``fakens serve`` start."""
    full = command is None or command not in ("serve", "zone", "trace", "faults")
    parser = argparse.ArgumentParser(prog="fakens", description="An authoritative DNS server for tests.")
    parser.add_argument("--version", action="version", version=f"fakens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve zone files over UDP and TCP",
                           description="Serve zone files (or directories of them) until Ctrl-C or SIGTERM.")
    serve.add_argument("zones", nargs="+", metavar="ZONE", help="zone file or directory of zone files")
    serve.add_argument("--listen", action="append", metavar="ADDR:PORT",
                       help=f"address to listen on, repeatable; IPv6 as [::1]:5053 (default {DEFAULT_LISTEN})")
    serve.add_argument("--loop", choices=LOOPS, help=f"the event loop: uvloop (pip install 'fakens[fast]'), plain asyncio, "
                       f"or auto, uvloop when installed (default: ${LOOP_ENV}, else auto)")
    serve.add_argument("--name", default="fakens", help="server name for the log and CHAOS id.server.")
    serve.add_argument("--log", metavar="FILE", help="write every query as a JSON line to FILE (written by a child process, off the serving loop)")
    serve.add_argument("--log-max-bytes", type=int, default=0, metavar="N",
                       help="with --log: past N bytes move FILE to FILE.1 and begin a new one (default 0: no cap)")
    serve.add_argument("--log-keep", type=int, default=DEFAULT_LOG_KEEP, metavar="N",
                       help=f"queries kept in memory for fakens ctl log (default {DEFAULT_LOG_KEEP:,}, "
                            f"about 0.9 KiB each; 0: none)")
    serve.add_argument("--nsid", metavar="TEXT", help="answer the EDNS NSID option with TEXT")
    serve.add_argument("--notify", action="append", default=[], metavar="ADDR:PORT",
                       help="secondary to NOTIFY after a zone edit (Server.zone(...).edit() in Python), repeatable")
    serve.add_argument("--udp-size", type=int, default=DEFAULT_UDP_SIZE, metavar="BYTES",
                       help=f"the server's EDNS UDP size, 512-65535 (default {DEFAULT_UDP_SIZE})")
    serve.add_argument("--minimal-responses", action="store_true", help="no NS/additional data in positive answers")
    serve.add_argument("--dnssec", action="store_true",
                       help="serve every zone signed (keys generated, algorithm 13, NSEC; docs/dnssec.md)")
    serve.add_argument("--trust-anchor", metavar="FILE",
                       help="with --dnssec: write the served zones' DS records to FILE (a trust-anchors clause for "
                            "BIND and delv when FILE ends in .conf, else DS records for unbound's trust-anchor-file)")
    serve.add_argument("--additional-from", choices=["zone", "server"], default="zone",
                       help="addresses in ADDITIONAL from the answering zone only (zone, as NSD, Knot and BIND) "
                            "or from any zone served (server)")
    serve.add_argument("--any", choices=["all", "rfc8482"], default="all", dest="any_mode",
                       help="answer ANY with every RRset (all) or one HINFO (rfc8482)")
    serve.add_argument("--chaos-identity", metavar="TEXT",
                       help="the TXT of CHAOS id.server. and hostname.bind. (default: the --name)")
    serve.add_argument("--chaos-version", default="fakens", metavar="TEXT",
                       help="the TXT of CHAOS version.bind. and version.server. (default fakens)")
    serve.add_argument("--chaos-authors", action="append", metavar="TEXT",
                       help="a TXT of CHAOS authors.bind., repeatable (default fakens)")
    serve.add_argument("--chaos-off", action="append", default=[], choices=["identity", "version", "authors"],
                       help="switch a CHAOS built-in off (REFUSED), repeatable")
    serve.add_argument("--no-sibling-glue", action="store_false", dest="sibling_glue",
                       help="referrals without the addresses of NS hosts elsewhere in the parent zone")
    serve.add_argument("--outside-zones", choices=OUTSIDE_ZONES, default="refused",
                       help="answer names outside every served zone (and other classes) with REFUSED, SERVFAIL "
                            "or nothing (drop) (default refused)")
    serve.add_argument("--negative-soa", metavar="RECORD",
                       help='the SOA NXDOMAIN and NODATA carry instead of the zone\'s, e.g. '
                            '"example.test. 300 SOA ns1 hostmaster 99 3600 600 86400 60"')
    serve.add_argument("--tcp-idle-timeout", type=float, default=DEFAULT_TCP_IDLE_TIMEOUT, metavar="SECONDS",
                       help=f"close a TCP connection idle this long (default {DEFAULT_TCP_IDLE_TIMEOUT:g})")
    serve.add_argument("--tcp-max-connections", type=int, default=DEFAULT_TCP_MAX_CONNECTIONS, metavar="N",
                       help=f"close TCP connections beyond this many at once (default {DEFAULT_TCP_MAX_CONNECTIONS})")
    _add_guard_options(serve)
    serve.add_argument("--fault", action="append", default=[], metavar="SPEC",
                       help='a fault, repeatable, e.g. --fault "nxdomain qname=**.example.test. probability=0.3 seed=7" '
                            "(qname=**.x. is x and all below it, *.x. only below it; fakens faults lists the types)")
    serve.add_argument("--fault-file", action="append", default=[], metavar="FILE.toml",
                       help="faults from a TOML file of [[faults]] tables with the same keys, repeatable")
    serve.add_argument("--control", metavar="ADDR:PORT",
                       help="serve the control endpoint (HTTP, for fakens ctl) on this loopback address; port 0: a free "
                            "port. Needs --ready-file: its url and token are written there")
    serve.add_argument("--ready-file", metavar="FILE",
                       help="write FILE (JSON, mode 0600) once every socket is bound: the addresses, zones and the "
                            "control endpoint's url and token; removed on exit")
    serve.add_argument("--traceback", action="store_true",
                       help="print an internal error's whole traceback on stderr (default: its line and the frame "
                            "that raised it; FAKENS_TRACEBACK=1 does the same)")
    talk = serve.add_mutually_exclusive_group()
    talk.add_argument("-v", "--verbose", action="store_true", help="print a line for every query")
    talk.add_argument("--quiet", action="store_true", help="print nothing but errors")
    _add_zone_limits(serve)

    faults = sub.add_parser("faults", help="list the fault types, or document one",
                            description="Without an argument: every fault type and what it does. "
                                        "With a type: its full documentation.")
    faults.add_argument("type", nargs="?", help="a fault type, e.g. missing-glue")
    faults.add_argument("--markdown", action="store_true", help="print docs/faults.md")

    trace = sub.add_parser("trace", help="resolve a name iteratively from fake root hints, printing the path",
                           description="Like dig +trace, through a fake hierarchy: from the root hints, "
                                       "following referrals, CNAMEs and glue.")
    trace.add_argument("name", help="the name to resolve, e.g. www.example.test")
    trace.add_argument("type", nargs="?", default="A", help="the record type (default A)")
    trace.add_argument("--hints", required=True, metavar="FILE", help="root hints (zone-file format)")
    trace.add_argument("--port", type=int, default=53, help="port of every server (default 53)")
    trace.add_argument("--all", action="store_true", dest="ask_all",
                       help="ask every server of each zone and report where they disagree")
    trace.add_argument("--random", type=int, metavar="SEED", help="pick servers at random with this seed")
    trace.add_argument("--timeout", type=float, default=1.0, metavar="SECONDS",
                       help="wait this long for each server's reply (default 1)")

    add_lab_parser(sub, full=full or command == "lab")
    _ctl_parser(sub, full=full or command == "ctl")

    zone = sub.add_parser("zone", help="zone file tools")
    zone_sub = zone.add_subparsers(dest="zone_command", required=True, metavar="ZONE_COMMAND")
    check = zone_sub.add_parser("check", help="load zone files and print warnings and errors with file:line")
    check.add_argument("files", nargs="+", metavar="FILE", help="zone file or directory of zone files")
    check.add_argument("--origin", help="the zone's origin (default: from $ORIGIN, the SOA or the file name)")
    _add_zone_limits(check)
    return parser

READY_FILE_ENV = "FAKENS_READY_FILE"


def _ctl_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], full: bool = True) -> None:
    """``fakens ctl``: the commands, each taking --ready-file, --wait and --json wherever they are put
    (*full* False: only the command, for another command's parse)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--ready-file", metavar="FILE", default=argparse.SUPPRESS,
                        help=f"the ready file of the fakens to control (default: ${READY_FILE_ENV})")
    common.add_argument("--wait", type=float, metavar="SECONDS", default=argparse.SUPPRESS,
                        help="wait up to SECONDS for the ready file to be written")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the endpoint's JSON (the log: one entry a line)")

    def command(parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str) -> argparse.ArgumentParser:
        return parent.add_parser(name, parents=[common], help=text, description=text)

    def server_option(parser: argparse.ArgumentParser, what: str) -> None:
        listing = what.startswith("only")
        parser.add_argument("--server", metavar="NAME", help=what if listing else f"{what} (needed when several servers run)")

    ctl = sub.add_parser("ctl", parents=[common], help="control a running fakens serve (or lab) through its control endpoint",
                         description="Talk to the control endpoint of a running fakens (fakens serve --control ADDR:PORT "
                                     "--ready-file FILE), found through its ready file. Exit status: 0, 1 when the "
                                     "endpoint refused or could not be reached (the message is printed), 2 on a wrong "
                                     "command line.")
    if not full:
        return
    what = ctl.add_subparsers(dest="ctl_command", required=True, metavar="WHAT")
    command(what, "servers", "the servers: addresses, zones, faults, query counts").set_defaults(handler=_ctl_servers)

    fault = command(what, "fault", "add, list, change and remove faults")
    fault_sub = fault.add_subparsers(dest="fault_command", required=True, metavar="ACTION")
    fault.set_defaults(handler=_ctl_fault)
    add = command(fault_sub, "add", "add a fault; it acts from the next query on")
    add.add_argument("spec", nargs="+", metavar="SPEC",
                     help='the fault as fakens serve --fault takes it: one quoted argument or several words, '
                          'e.g. nxdomain qname=www.example.test.')
    add.add_argument("--name", help="the fault's name (default: TYPE-N)")
    server_option(add, "the server to add it to")
    listing = command(fault_sub, "list", "the faults, with how often each was counted and fired")
    listing.set_defaults(handler=functools.partial(_ctl_list, "faults", _fault_line))
    server_option(listing, "only this server's")
    change = command(fault_sub, "change", "change a fault's parameters, selector or schedule (its counts start again)")
    change.add_argument("name", help="the fault's name")
    change.add_argument("spec", nargs="+", metavar="KEY=VALUE", help="the keys to change, e.g. mode=refused probability=0.5")
    server_option(change, "the server it is on")
    remove = command(fault_sub, "remove", "remove a fault")
    remove.add_argument("name", help="the fault's name")
    server_option(remove, "the server it is on")

    zone = command(what, "zone", "list and edit the zones served")
    zone_sub = zone.add_subparsers(dest="zone_command", required=True, metavar="ACTION")
    zone.set_defaults(handler=_ctl_zone)
    zones = command(zone_sub, "list", "the zones and their serials")
    zones.set_defaults(handler=functools.partial(_ctl_list, "zones", _zone_line))
    server_option(zones, "only this server's")
    edit = command(zone_sub, "edit", "edit a zone while it is served (serial + 1 unless --no-bump); "
                                     "the server NOTIFYs its --notify secondaries")
    edit.add_argument("origin", help="the zone, e.g. example.test.")
    edit.add_argument("--add", action="append", default=[], metavar="RR", help='a record to add, e.g. "www 300 A 192.0.2.81"')
    edit.add_argument("--remove", action="append", default=[], metavar="RR",
                      help='what to remove: "www" (every RRset), "www A" (one RRset) or "www A 192.0.2.10" (one record)')
    edit.add_argument("--replace", action="append", default=[], metavar="RR",
                      help="a record whose RRset replaces the one of its name and type")
    edit.add_argument("--no-bump", action="store_true", help="leave the serial as it is")
    edit.add_argument("--serial", type=int, help="set the serial to N (lower is allowed: a deliberate mistake)")
    server_option(edit, "the server whose zone it is")
    bump = command(zone_sub, "bump", "raise a zone's serial by one (and NOTIFY)")
    bump.add_argument("origin", help="the zone, e.g. example.test.")
    server_option(bump, "the server whose zone it is")

    clock = command(what, "clock", "show the clock, or move, pause or resume it (a lab's)")
    clock.set_defaults(handler=_ctl_clock)
    clock_sub = clock.add_subparsers(dest="clock_command", metavar="ACTION")
    advance = command(clock_sub, "advance", "move the clock on, firing what falls due")
    advance.add_argument("seconds", type=float, help="how far, in seconds")
    command(clock_sub, "pause", "stop the clock")
    command(clock_sub, "resume", "start the clock again")

    timeline = command(what, "timeline", "list the timeline's events, or run one now")
    timeline.set_defaults(handler=_ctl_timeline)
    timeline_sub = timeline.add_subparsers(dest="timeline_command", metavar="ACTION")
    run = command(timeline_sub, "run", "run one event now")
    run.add_argument("index", type=int, help="the event's index (fakens ctl timeline lists them)")

    log = command(what, "log", "the queries received (oldest first), or follow new ones")
    log.set_defaults(handler=_ctl_log)
    log.add_argument("-f", "--follow", action="store_true", help="print new queries as they come, until Ctrl-C")
    for key, example in (("qname", "www.example.test. or **.example.test."), ("qtype", "A or A,AAAA"),
                         ("rcode", "NXDOMAIN"), ("fault", "a fault's name or type"), ("transport", "udp or tcp"),
                         ("client", "127.0.0.1 or 127.0.0.0/8")):
        log.add_argument(f"--{key}", metavar=key.upper(), help=f"only queries with this {key} ({example})")
    server_option(log, "only this server's")
    log.add_argument("--limit", type=int, metavar="N", help="only the newest N (with --follow: show them first)")
    log.add_argument("--pcap", metavar="FILE", help="write the queries and replies (the bytes as sent) to FILE as a "
                                                    "pcap capture (tshark, Wireshark) instead of printing them")


def _add_guard_options(serve: argparse.ArgumentParser) -> None:
    """The TCP limits, transfer limits and public-address safety options of ``fakens serve``."""
    limits = TcpLimits()
    for flag, kind, default, metavar, text in [
        ("--tcp-max-per-client", int, limits.max_per_client, "N", "TCP connections at once from one client address"),
        ("--tcp-query-timeout", float, limits.query_timeout, "SECONDS", "time to read one whole query from its first byte"),
        ("--tcp-write-timeout", float, limits.write_timeout, "SECONDS",
         "a connection whose output does not drain for this long is aborted"),
        ("--tcp-max-pipelined", int, limits.max_pipelined, "N", "unanswered queries per connection before reading pauses"),
        ("--tcp-max-buffered", int, limits.max_buffered, "BYTES", "output buffered per connection before it is aborted"),
        ("--max-transfers", int, limits.max_transfers, "N", "zone transfers sent at once (more wait their turn)"),
        ("--rate-limit", float, DEFAULT_RATE_LIMIT, "PER_SECOND",
         "with --allow-public: UDP replies a second per non-loopback /24 (0: off)"),
        ("--rate-limit-burst", int, DEFAULT_RATE_LIMIT_BURST, "N", "with --allow-public: the rate limit's burst"),
        ("--public-udp-size", int, DEFAULT_PUBLIC_UDP_SIZE, "BYTES",
         "with --allow-public: larger UDP replies to non-loopback clients are truncated (0: off)"),
        ("--public-reply-ratio", float, DEFAULT_PUBLIC_REPLY_RATIO, "RATIO",
         "with --allow-public: UDP replies over RATIO times the query (and 512 bytes) are truncated (0: off)"),
    ]:
        serve.add_argument(flag, type=kind, default=default, metavar=metavar, help=f"{text} (default {default})")
    serve.add_argument("--allow-transfer", action="append", metavar="NET",
                       help="address or network allowed to transfer zones, repeatable; 'any' for everyone "
                            "(default: loopback clients only)")
    serve.add_argument("--allow-public", action="store_true",
                       help="allow listening on addresses that are not loopback (rate limit and reply size cap "
                            "then apply to non-loopback clients)")


_GUARD_KEYWORDS = ("tcp_max_per_client", "tcp_query_timeout", "tcp_write_timeout", "tcp_max_pipelined",
                   "tcp_max_buffered", "max_transfers", "rate_limit", "rate_limit_burst", "public_udp_size",
                   "public_reply_ratio", "allow_public")


def _guard_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Server keywords of :func:`_add_guard_options`' flags."""
    options: dict[str, Any] = {key: getattr(args, key) for key in _GUARD_KEYWORDS}
    nets = args.allow_transfer
    options["allow_transfer"] = ["0.0.0.0/0", "::/0"] if nets and "any" in nets else nets
    return options


def _as_flags(message: str) -> str:
    """A Server error message with its keywords written as ``fakens serve`` flags."""
    for key in sorted((*_GUARD_KEYWORDS, "allow_transfer", "outside_zones", "negative_soa"), key=len, reverse=True):
        message = message.replace(key, "--" + key.replace("_", "-"))
    return message


def _add_zone_limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-records", type=int, default=DEFAULT_MAX_RECORDS, metavar="N",
                        help=f"refuse a zone of more than N records (default {DEFAULT_MAX_RECORDS:,})")
    parser.add_argument("--max-generate", type=int, default=DEFAULT_MAX_GENERATE, metavar="N",
                        help=f"refuse a $GENERATE of more than N records (default {DEFAULT_MAX_GENERATE:,})")


def _zone_limits(args: argparse.Namespace) -> ZoneLimits:
    for option, value in (("--max-records", args.max_records), ("--max-generate", args.max_generate)):
        if value < 1:
            raise ConfigError(f"{option} {value}: must be at least 1")
    return ZoneLimits(max_records=args.max_records, max_generate=args.max_generate)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    words = sys.argv[1:] if argv is None else list(argv)
    args = _parser(words[0] if words else None).parse_args(words)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "faults":
            return _faults(args)
        if args.command == "trace":
            return _trace(args)
        if args.command == "lab":
            return run_lab_command(args)
        if args.command == "ctl":
            return _ctl(args)
        return _zone_check(args)
    except FakensError as e:
        print(f"fakens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went (fakens ctl log --follow | head -1): that is the end
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0


def _zone_check(args: argparse.Namespace) -> int:
    limits = _zone_limits(args)
    errors = 0
    paths: list[str] = []
    for item in args.files:
        if os.path.isdir(item):
            found = zone_files(item)
            if not found:
                print(f"error: {no_zone_files(item)}")
                errors += 1
            paths.extend(str(p) for p in found)
        else:
            paths.append(item)
    for path in paths:
        try:
            zone = Zone.from_file(path, origin=args.origin, limits=limits)
        except FakensError as e:
            print(f"error: {e}")
            errors += 1
            continue
        for warning in zone.warnings:
            print(warning)
        records = sum(len(r) for node in zone.current.nodes.values() for r in node.values())
        print(f"{path}: zone {zone.origin} serial {zone.serial}: {records} records, "
              f"{len(zone.warnings)} warning{'s' if len(zone.warnings) != 1 else ''}")
    return 1 if errors else 0


def _serve(args: argparse.Namespace) -> int:
    if not 512 <= args.udp_size <= 65535:
        raise ConfigError(f"--udp-size {args.udp_size}: must be between 512 and 65535 (1232 is the usual choice)")
    if args.tcp_idle_timeout <= 0:
        raise ConfigError(f"--tcp-idle-timeout {args.tcp_idle_timeout}: must be above 0 seconds")
    if args.tcp_max_connections < 1:
        raise ConfigError(f"--tcp-max-connections {args.tcp_max_connections}: must be at least 1")
    if args.control is not None and args.ready_file is None:
        raise ConfigError("--control needs --ready-file FILE: the endpoint's url and the token that guards it are "
                          "written there (mode 0600) for fakens ctl")
    if args.control is not None:
        from fakens.control import control_address  # http.server and urllib: only with --control

        control_address(args.control)  # a bad address fails before anything starts
    if args.ready_file is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(args.ready_file)  # a stale one: nobody must read it before this server is ready
    loop = loop_name(args.loop)  # a bad choice fails before anything is loaded
    zones = load_zones(args.zones, limits=_zone_limits(args))
    if args.trust_anchor is not None and not args.dnssec:
        raise ConfigError("--trust-anchor FILE needs --dnssec: only zones fakens signs have keys it can write")
    if args.dnssec:
        from fakens.dnssec import sign_zones
        from fakens.dnssec.anchors import write_trust_anchor

        sign_zones(zones)
        if args.trust_anchor is not None:
            write_trust_anchor(args.trust_anchor, zones)
    try:
        server = _make_server(zones, args)
    except ConfigError as e:
        raise ConfigError(_as_flags(str(e))) from None
    for path in args.fault_file:
        for fault in load_fault_file(path):
            server.faults.add(fault)
    for spec in args.fault:
        server.faults.add(spec)
    collector_for_serving()
    return run_on_loop(_run(server, args), loop)


def _make_server(zones: list[Zone], args: argparse.Namespace) -> Server:
    return Server(
        zones,
        listen=args.listen or [DEFAULT_LISTEN],
        name=args.name,
        nsid=args.nsid,
        notify=args.notify,
        udp_size=args.udp_size,
        minimal_responses=args.minimal_responses,
        any_mode=args.any_mode,
        additional_from=args.additional_from,
        identity=None if "identity" in args.chaos_off else args.chaos_identity or args.name,
        version=None if "version" in args.chaos_off else args.chaos_version,
        authors=None if "authors" in args.chaos_off else args.chaos_authors or "fakens",
        sibling_glue=args.sibling_glue,
        outside_zones=args.outside_zones,
        negative_soa=args.negative_soa,
        tcp_idle_timeout=args.tcp_idle_timeout,
        tcp_max_connections=args.tcp_max_connections,
        log_file=args.log,
        log_max_bytes=args.log_max_bytes,
        log_limit=args.log_keep,
        **_guard_options(args),
    )


def _trace(args: argparse.Namespace) -> int:
    from fakens.trace import Tracer

    tracer = Tracer(args.hints, port=args.port, order="random" if args.random is not None else "listed",
                    seed=args.random, ask_all=args.ask_all, timeout=args.timeout)
    result = tracer.resolve(args.name, args.type.upper())
    print(result)
    return 0 if result.status in ("ok", "nodata", "nxdomain") else 1


def _faults(args: argparse.Namespace) -> int:
    from fakens.faults import REGISTRY
    from fakens.faults.docs import fault_doc, faults_markdown

    if args.markdown:
        print(faults_markdown(), end="")
        return 0
    if args.type:
        cls = REGISTRY.get(args.type)
        if cls is None:
            print(f"fakens: error: unknown fault type {args.type!r}; valid types: {', '.join(sorted(REGISTRY))}",
                  file=sys.stderr)
            return 2
        print(fault_doc(cls))
        return 0
    width = max(len(name) for name in REGISTRY)
    for name in sorted(REGISTRY):
        cls = REGISTRY[name]
        modes = f" [{'|'.join(cls.modes)}]" if cls.modes else ""
        print(f"{name:<{width}}  {cls.summary}{modes}")
    return 0


async def _run(server: Server, args: argparse.Namespace) -> int:
    quiet = args.quiet
    if args.traceback:
        internalerrors.full_tracebacks = True
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if args.verbose:
        from fakens.control import entry_line

        server.log.watch(lambda entry: print(entry_line(entry), flush=True))
    await server.astart()
    control = None
    try:
        if args.control is not None:
            from fakens.control import ControlServer, ServeTarget

            control = ControlServer(ServeTarget(server), args.control).start()
        if args.ready_file is not None:
            write_ready_file(args.ready_file, [server], control=control)
        if not quiet:
            where = ", ".join(str(e) for e in server.endpoints)
            for zone in server.zones.values():
                for warning in zone.warnings:
                    print(f"fakens: {warning}", file=sys.stderr)
                print(f"fakens: serving {zone.origin} (serial {zone.serial}) on {where} (udp, tcp)", flush=True)
            for fault in server.faults:
                print(f"fakens: fault {fault}", flush=True)
            if server.log.path:
                print(f"fakens: logging queries to {server.log.path}", flush=True)
            if control is not None:
                print(f"fakens: control endpoint on {control.url} (fakens ctl --ready-file {args.ready_file})", flush=True)
            print("fakens: ready; Ctrl-C stops", flush=True)
        await stop.wait()
    finally:
        if args.ready_file is not None:
            remove_ready_file(args.ready_file)
        if control is not None:
            await control.astop()
        await server.astop()
        server.log.close()
    if not quiet:
        total = server.log.total
        print(f"fakens: stopped after {total} quer{'y' if total == 1 else 'ies'}", flush=True)
    return 0


# -- fakens ctl ---------------------------------------------------------------------------------------


def _ctl(args: argparse.Namespace) -> int:
    path = getattr(args, "ready_file", None) or os.environ.get(READY_FILE_ENV)
    if not path:
        print(f"fakens: error: fakens ctl needs --ready-file FILE (or ${READY_FILE_ENV}): the file that "
              f"fakens serve --control ADDR:PORT --ready-file FILE writes", file=sys.stderr)
        return 2
    try:
        from fakens.control import ControlClient

        client = ControlClient.from_ready_file(path, wait=getattr(args, "wait", 0.0))
        args.handler(client, args, getattr(args, "json", False))
    except FakensError as e:
        print(f"fakens: error: {e}", file=sys.stderr)
        return 1
    return 0


def _words(words: Sequence[str]) -> str:
    """A spec given as one quoted argument, or as several words (joined, quoting kept)."""
    return words[0] if len(words) == 1 else shlex.join(words)


def _show(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _fault_text(fault: Mapping[str, Any]) -> str:
    """The fault's spec without its name (shown before it)."""
    return format_spec({k: v for k, v in fault["table"].items() if k != "name"})


def _fault_line(fault: Mapping[str, Any], server: str | None = None) -> str:
    where = f"{server}: " if server else ""
    return f"{where}{fault['name']}: {_fault_text(fault)} (seen {fault['seen']}, fired {fault['fired']})"


def _zone_line(zone: Mapping[str, Any], server: str | None = None) -> str:
    where = f"{server}: " if server else ""
    return f"{where}{zone['origin']} serial {zone['serial']} (version {zone['version']}, from {zone['source']})"


def _ctl_list(what: str, line: Callable[[Mapping[str, Any], str | None], str], client: ControlClient,
              args: argparse.Namespace, as_json: bool) -> None:
    """``GET /v1/faults`` or ``/v1/zones``: a line each, naming its server when there are several."""
    data = client.get(f"/v1/{what}", server=args.server)
    if as_json:
        return _show(data)
    items = data[what]
    several = len({item["server"] for item in items}) > 1
    for item in items:
        print(line(item, item["server"] if several else None))
    if not items:
        print(f"no {what}")
    return None


def _ctl_servers(client: ControlClient, args: argparse.Namespace, as_json: bool) -> None:
    data = client.get("/v1/servers")
    if as_json:
        return _show(data)
    count = len(data["servers"])
    print(f"{data['name']}: {count} server{'s' if count != 1 else ''}")
    for server in data["servers"]:
        where = ", ".join(f"{Endpoint(a['address'], a['port'])} ({', '.join(a['transport'])})" for a in server["addresses"])
        print(f"{server['name']} on {where}, {server['queries']} quer{'y' if server['queries'] == 1 else 'ies'}")
        for zone in server["zones"]:
            print(f"  zone {_zone_line(zone)}")
        for fault in server["faults"]:
            print(f"  fault {_fault_line(fault)}")
        if server["notify"]:
            print(f"  notify {', '.join(server['notify'])}")
    return None


def _ctl_fault(client: ControlClient, args: argparse.Namespace, as_json: bool) -> None:
    action = args.fault_command
    if action == "add":
        body = {"spec": _words(args.spec), "name": args.name, "server": args.server}
        data = client.post("/v1/faults", {k: v for k, v in body.items() if v is not None})
        done = "added"
    elif action == "change":
        path = "/v1/faults/" + urllib.parse.quote(args.name, safe="")
        data = client.patch(path, {k: v for k, v in {"spec": _words(args.spec), "server": args.server}.items() if v is not None})
        done = "changed"
    else:
        data = client.delete("/v1/faults/" + urllib.parse.quote(args.name, safe=""), server=args.server)
        done = "removed"
    if as_json:
        return _show(data)
    fault = data.get("fault") or data["removed"]
    print(f"{done} {fault['name']} on {data['server']}: {_fault_text(fault)}")
    return None


def _ctl_zone(client: ControlClient, args: argparse.Namespace, as_json: bool) -> None:
    action = args.zone_command
    body: dict[str, Any] = {"origin": args.origin}
    if args.server is not None:
        body["server"] = args.server
    if action == "edit":
        body.update(add=args.add, remove=args.remove, replace=args.replace, bump_serial=not args.no_bump)
        if args.serial is not None:
            body["serial"] = args.serial
    data = client.post(f"/v1/zones/{action}", body)
    if as_json:
        return _show(data)
    notified = ", ".join(f"{n['target']}" for n in data["notify"]) or "nobody (no --notify targets)"
    print(f"{data['zone']['origin']} serial {data['old_serial']} -> {data['serial']} (version {data['version']}); "
          f"NOTIFY to {notified}")
    return None


def _ctl_clock(client: ControlClient, args: argparse.Namespace, as_json: bool) -> None:
    action = args.clock_command
    if action is None:
        data = client.get("/v1/clock")
    elif action == "advance":
        data = client.post("/v1/clock/advance", {"seconds": args.seconds})
    else:
        data = client.post(f"/v1/clock/{action}")
    if as_json:
        return _show(data)
    now = data.get("now")
    if data.get("kind") == "lab" and isinstance(now, (int, float)):
        when = f"{now:.3f} s since the lab started"  # a lab's clock starts at 0
    else:
        when = (datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat(timespec="milliseconds")
                if isinstance(now, (int, float)) else str(now))
    scale = data.get("scale", 1)
    print(f"{data.get('kind', '?')} clock: {when}{' (paused)' if data.get('paused') else ''}"
          f"{f', scale {scale}' if scale != 1 else ''}")
    for key, value in data.items():
        if key == "next_event":
            print(f"  next event: {_event_line(value)}" if isinstance(value, Mapping) else "  no event pending")
        elif key not in ("kind", "now", "paused", "scale") and value is not None:
            print(f"  {key}: {value}")
    return None


def _event_line(event: Mapping[str, Any]) -> str:
    at = event.get("at")
    when = f"at {at:g}s" if isinstance(at, (int, float)) else f"at {at}"
    return f"{event.get('index', '?'):>3}  {when:<10}  {'done' if event.get('done') else 'pending':<7}  {event.get('action', '')}"


def _ctl_timeline(client: ControlClient, args: argparse.Namespace, as_json: bool) -> None:
    if args.timeline_command == "run":
        data = client.post(f"/v1/timeline/{args.index}/run")
        if not as_json:
            print(f"ran {_event_line(data).strip()}")
            return None
        return _show(data)
    data = client.get("/v1/timeline")
    if as_json:
        return _show(data)
    for event in data["events"]:
        print(_event_line(event))
    if not data["events"]:
        print("no timeline events")
    return None


def _ctl_log(client: ControlClient, args: argparse.Namespace, as_json: bool) -> None:
    query = {key: getattr(args, key) for key in ("qname", "qtype", "rcode", "fault", "transport", "client", "server", "limit")}
    if args.pcap:
        if args.follow:
            raise ConfigError("fakens ctl log: --pcap writes the queries kept so far; leave out --follow")
        from fakens.pcap import write_captured

        count = write_captured(args.pcap, client.get("/v1/log", wire="1", **query)["entries"])
        print(f"{args.pcap}: {count} packets")
        return
    entries = client.follow("/v1/log", **query) if args.follow else iter(client.get("/v1/log", **query)["entries"])
    for entry in entries:
        print(json.dumps(entry) if as_json else entry["text"], flush=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
