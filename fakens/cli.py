"""The command line: ``fakens serve`` and ``fakens zone check``.

    fakens serve zones/example.test.zone                 # 127.0.0.1:5053, UDP and TCP
    fakens serve zones/ --listen 127.0.0.10:53 --listen [::1]:5053 --log q.jsonl
    fakens serve zones/ --fault "nxdomain qname=**.example.test. probability=0.3 seed=7"
    fakens faults [TYPE]                                  # the fault types and their documentation
    fakens trace www.example.test A --hints root.hints    # like dig +trace through a fake hierarchy
    fakens zone check zones/*.zone                        # warnings and errors with file:line
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from fakens import __version__
from fakens.errors import ConfigError, FakensError
from fakens.faults.spec import load_fault_file
from fakens.labcli import add_lab_parser, run_lab_command
from fakens.options import DEFAULT_TCP_IDLE_TIMEOUT, DEFAULT_TCP_MAX_CONNECTIONS, DEFAULT_UDP_SIZE
from fakens.server import Server
from fakens.zonefile import DEFAULT_MAX_GENERATE, DEFAULT_MAX_RECORDS, ZoneLimits
from fakens.zonenames import no_zone_files, zone_files
from fakens.zones import Zone, load_zones

DEFAULT_LISTEN = "127.0.0.1:5053"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fakens", description="An authoritative DNS server for tests.")
    parser.add_argument("--version", action="version", version=f"fakens {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve zone files over UDP and TCP",
                           description="Serve zone files (or directories of them) until Ctrl-C or SIGTERM.")
    serve.add_argument("zones", nargs="+", metavar="ZONE", help="zone file or directory of zone files")
    serve.add_argument("--listen", action="append", metavar="ADDR:PORT",
                       help=f"address to listen on, repeatable; IPv6 as [::1]:5053 (default {DEFAULT_LISTEN})")
    serve.add_argument("--name", default="fakens", help="server name for the log and CHAOS id.server.")
    serve.add_argument("--log", metavar="FILE", help="write every query as a JSON line to FILE")
    serve.add_argument("--nsid", metavar="TEXT", help="answer the EDNS NSID option with TEXT")
    serve.add_argument("--notify", action="append", default=[], metavar="ADDR:PORT",
                       help="secondary to NOTIFY after a zone edit (Server.zone(...).edit() in Python), repeatable")
    serve.add_argument("--udp-size", type=int, default=DEFAULT_UDP_SIZE, metavar="BYTES",
                       help=f"the server's EDNS UDP size, 512-65535 (default {DEFAULT_UDP_SIZE})")
    serve.add_argument("--minimal-responses", action="store_true", help="no NS/additional data in positive answers")
    serve.add_argument("--any", choices=["all", "rfc8482"], default="all", dest="any_mode",
                       help="answer ANY with every RRset (all) or one HINFO (rfc8482)")
    serve.add_argument("--tcp-idle-timeout", type=float, default=DEFAULT_TCP_IDLE_TIMEOUT, metavar="SECONDS",
                       help=f"close a TCP connection idle this long (default {DEFAULT_TCP_IDLE_TIMEOUT:g})")
    serve.add_argument("--tcp-max-connections", type=int, default=DEFAULT_TCP_MAX_CONNECTIONS, metavar="N",
                       help=f"close TCP connections beyond this many at once (default {DEFAULT_TCP_MAX_CONNECTIONS})")
    serve.add_argument("--fault", action="append", default=[], metavar="SPEC",
                       help='a fault, repeatable, e.g. --fault "nxdomain qname=**.example.test. probability=0.3 seed=7" '
                            "(qname=**.x. is x and all below it, *.x. only below it; fakens faults lists the types)")
    serve.add_argument("--fault-file", action="append", default=[], metavar="FILE.toml",
                       help="faults from a TOML file of [[faults]] tables with the same keys, repeatable")
    serve.add_argument("--quiet", action="store_true", help="print nothing but errors")
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

    add_lab_parser(sub)

    zone = sub.add_parser("zone", help="zone file tools")
    zone_sub = zone.add_subparsers(dest="zone_command", required=True, metavar="ZONE_COMMAND")
    check = zone_sub.add_parser("check", help="load zone files and print warnings and errors with file:line")
    check.add_argument("files", nargs="+", metavar="FILE", help="zone file or directory of zone files")
    check.add_argument("--origin", help="the zone's origin (default: from $ORIGIN, the SOA or the file name)")
    _add_zone_limits(check)
    return parser


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
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "faults":
            return _faults(args)
        if args.command == "trace":
            return _trace(args)
        if args.command == "lab":
            return run_lab_command(args)
        return _zone_check(args)
    except FakensError as e:
        print(f"fakens: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


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
    zones = load_zones(args.zones, limits=_zone_limits(args))
    server = Server(
        zones,
        listen=args.listen or [DEFAULT_LISTEN],
        name=args.name,
        nsid=args.nsid,
        notify=args.notify,
        udp_size=args.udp_size,
        minimal_responses=args.minimal_responses,
        any_mode=args.any_mode,
        tcp_idle_timeout=args.tcp_idle_timeout,
        tcp_max_connections=args.tcp_max_connections,
        log_file=args.log,
    )
    for path in args.fault_file:
        for fault in load_fault_file(path):
            server.faults.add(fault)
    for spec in args.fault:
        server.faults.add(spec)
    return asyncio.run(_run(server, quiet=args.quiet))


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


async def _run(server: Server, quiet: bool) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.astart()
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
        print("fakens: ready; Ctrl-C stops", flush=True)
    try:
        await stop.wait()
    finally:
        await server.astop()
        server.log.close()
    if not quiet:
        total = server.log.total
        print(f"fakens: stopped after {total} quer{'y' if total == 1 else 'ies'}", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
