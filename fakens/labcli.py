"""``fakens lab``: check, start and run scenario files from the shell.

    fakens lab check fakens/labs/io-outage.toml            # validate; binds nothing
    fakens lab up fakens/labs/io-outage.toml --config-dir lab/ --ready-file lab.json
    fakens lab up SCENARIO --time-scale 100 --for 60      # a 48 h switch-over in about 29 minutes
    fakens lab run SCENARIO -- unbound -d -c lab/unbound.conf   # in a private network namespace

``lab up`` serves on this host's loopback (127.x.y.z:53: root or CAP_NET_BIND_SERVICE);
``lab run`` makes a private network namespace holding only loopback, gives every server
the address the scenario names there (192.0.2.1, 2001:db8::53 ...), and runs COMMAND
inside it; nothing in it can reach another machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from fakens.errors import ConfigError, ServerError
from fakens.log import LogEntry
from fakens.logwriter import LogWriter
from fakens.loops import LOOP_ENV, LOOPS, collector_for_serving, loop_name
from fakens.loops import run as run_on_loop
from fakens.timeline import Event

if TYPE_CHECKING:  # the lab and scenario modules are imported when a lab command runs, not on every start
    from fakens.lab import Hierarchy
    from fakens.scenario import Scenario

INSIDE_ENV = "FAKENS_LAB_NAMESPACE"  # set in the namespace `fakens lab run` made
DEFAULT_RESOLVER_PORT = 5300
SCENARIO_HELP = "a scenario file, or the name of a shipped lab (fakens lab list)"


def add_lab_parser(sub: Any, full: bool = True) -> None:
    """Add ``fakens lab ...`` to the CLI's subcommands (*full* False: only ``lab`` itself,
    when another command is being parsed)."""
    lab = sub.add_parser("lab", help="labs: a whole hierarchy from a scenario file (check, up, run)",
                         description="Start, check and run scenario files (docs/scenarios.md).")
    if not full:
        return
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND")

    check = lab_sub.add_parser("check", help="validate a scenario without binding anything",
                               description="Read a scenario, load its zones and faults, plan its servers "
                                           "and print the plan; every error with file:line and key path.")
    check.add_argument("scenario", metavar="SCENARIO", help=SCENARIO_HELP)
    check.add_argument("--mode", choices=["loopback", "namespace"], help="check for this address mode "
                       "(default: the scenario's lab.mode)")
    check.add_argument("--fix", action="store_true", help="check the scenario with its fix applied")
    check.add_argument("--graph", metavar="FILE", help="draw the delegation tree (.svg, .dot or .png)")
    check.add_argument("--time-scale", type=float, default=1.0, metavar="N")

    lab_sub.add_parser("list", help="the shipped labs, one line each (their names work as SCENARIO)",
                       description="The labs installed with fakens: name, what it reproduces, its fix.")
    from fakens.verify import add_verify_parser

    add_verify_parser(lab_sub)
    for name, text in (("up", "start every server of a scenario on this host's loopback and run until "
                              "Ctrl-C, SIGTERM or --for"),
                       ("run", "start a scenario in a private network namespace and run COMMAND in it")):
        p = lab_sub.add_parser(name, help=text, description=text + ".")
        p.add_argument("scenario", metavar="SCENARIO", help=SCENARIO_HELP)
        _lab_options(p)
        if name == "run":
            p.add_argument("run_command", nargs=argparse.REMAINDER, metavar="-- COMMAND",
                           help="the command to run inside the namespace (after --)")


def _lab_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config-dir", metavar="DIR",
                   help="write root.hints, unbound.conf, named.conf, named-secondary.conf, kresd.conf, "
                        "pdns-recursor/recursor.conf here "
                        "(default: a new directory under /tmp, printed)")
    p.add_argument("--resolver-port", type=int, default=DEFAULT_RESOLVER_PORT, metavar="PORT",
                   help=f"the port the written resolver configs listen on (default {DEFAULT_RESOLVER_PORT})")
    p.add_argument("--ready-file", metavar="PATH", help="write this JSON file (mode 0600) once every server "
                   "is bound: addresses, and the control endpoint's address and token")
    p.add_argument("--control", metavar="ADDR:PORT", default="127.0.0.1:0",
                   help="the control endpoint for fakens ctl (loopback only; default 127.0.0.1:0, a free port; "
                        "'none': no endpoint); its url and token go into --ready-file, so it runs only with one")
    p.add_argument("--time-scale", type=float, default=1.0, metavar="N",
                   help="divide timeline times, TTLs, SOA timers and schedule windows by N (rounded up, at least 1 s)")
    p.add_argument("--for", type=float, dest="duration", metavar="SECONDS", help="run this long, then exit 0")
    p.add_argument("--fix", action="store_true", help="apply the scenario's fix")
    p.add_argument("--log", metavar="FILE", help="write every query of every server as a JSON line to FILE")
    p.add_argument("--log-max-bytes", type=int, default=0, metavar="N",
                   help="with --log: past N bytes move FILE to FILE.1 and begin a new one (default 0: no cap)")
    p.add_argument("--pcap", metavar="FILE", help="write every query and reply to FILE (pcap) when the lab stops")
    p.add_argument("--graph", metavar="FILE", help="draw the delegation tree (.svg, .dot or .png)")
    p.add_argument("-v", "--verbose", action="store_true", help="print one line per query")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("--loop", choices=LOOPS, help=f"the event loop: uvloop (pip install 'fakens[fast]'), plain asyncio, "
                   f"or auto, uvloop when installed (default: ${LOOP_ENV}, else auto)")


def run_lab_command(args: argparse.Namespace) -> int:
    """Dispatch ``fakens lab ...``; returns the exit status."""
    from fakens.catalog import lab_path, listing

    if args.lab_command == "list":
        print(listing())
        return 0
    if args.lab_command == "verify":
        from fakens.verify import run_verify

        args.scenarios = [str(lab_path(s)) for s in args.scenarios]
        return run_verify(args)
    args.scenario = str(lab_path(args.scenario))
    if args.lab_command == "check":
        return _check(args)
    if args.lab_command == "run":
        return _run(args)
    return _up(args, command=None)


# -- check ----------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from fakens.scenario import ScenarioError, build_lab, load_scenario

    scenario = load_scenario(args.scenario, mode=args.mode)
    from fakens.verify import expect_problems

    if problems := expect_problems(scenario):
        raise ScenarioError(problems)
    mode = args.mode or scenario.mode
    lab = build_lab(scenario, mode=mode, time_scale=args.time_scale, fix=args.fix, probe=False)
    fixed = ""
    if args.fix:
        fixed = (f", with the fix in {scenario.fix.file}" if scenario.fix and scenario.fix.file else
                 ", with its fix" if scenario.fix else ", which has no [fix]")
    events = len(lab.timeline)
    print(f"{scenario.path}: lab {scenario.name!r}{fixed}, mode {mode}: {len(lab.members)} servers, "
          f"{len(lab.all_zones)} zones, {events} timeline event{'s' if events != 1 else ''}")
    print(plan_table(lab))
    for event in lab.timeline.events:
        print(f"  at {event.at:>8g}s  {event.describe}")
    for warning in lab.warnings:
        print(f"warning: {warning}")
    for spec in scenario.zones:
        for zone_warning in spec.zone.warnings:
            print(zone_warning)
    from fakens.labgraph import lab_problems

    drawn = lab_problems(lab)
    for problem in drawn:
        print(f"{problem.kind}: zone {problem.zone}: {problem.text}")
    if args.graph:
        _graph(lab, args.graph)
    if drawn:
        print(f"{len(drawn)} delegation problem{'s' if len(drawn) != 1 else ''} (a lab is often broken on purpose; "
              "the scenario itself is valid; --graph draws them in red)")
    print("ok" + (" (addresses are planned; `lab up` picks a free 127.x block)" if mode == "loopback" else ""))
    return 0


def plan_table(lab: Hierarchy, running: bool = False) -> str:
    """A table of the lab's servers: name, addresses, zones with serials, faults."""
    rows = [("SERVER", "ADDRESSES", "ZONES (SERIAL)", "FAULTS")]
    for member in lab.members:
        zones = ", ".join(f"{z.origin} ({z.serial})" for z in member.zones)
        server = member.server
        if running and server is not None:
            where = ", ".join(f"{a}#{p}" for a, p in server.addresses)
            faults = ", ".join(f.name for f in server.faults) or "-"
        else:
            where = ", ".join(f"{a}#{lab.port}" for a in member.addresses)
            faults = ", ".join(_fault_name(f) for f in member.faults) or "-"
        rows.append((member.name, where, zones, faults))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}" for r in rows)


def _fault_name(fault: Any) -> str:
    return str(getattr(fault, "name", fault))


def _graph(lab: Hierarchy, path: str) -> None:
    try:
        from fakens.labgraph import write_graph
    except ImportError:  # pragma: no cover - until the graph module lands
        raise ConfigError("--graph: this build of fakens cannot draw graphs") from None
    write_graph(lab, path)
    print(f"graph: {path}")


# -- up -------------------------------------------------------------------------------


def _up(args: argparse.Namespace, command: Sequence[str] | None) -> int:
    from fakens.scenario import build_lab, load_scenario

    loop = loop_name(args.loop)
    inside = bool(os.environ.get(INSIDE_ENV))
    scenario = load_scenario(args.scenario, mode="namespace" if inside else None)
    mode = "namespace" if inside else "loopback"
    if mode == "loopback" and scenario.mode == "namespace":
        raise ConfigError(f"{scenario.path}: lab.mode is \"namespace\" (its addresses need a private network "
                          f"namespace): use `fakens lab run {args.scenario} -- COMMAND`")
    try:
        lab = build_lab(scenario, mode=mode, time_scale=args.time_scale, fix=args.fix)  # probes a 127.x block
    except ServerError as e:
        raise _bind_error(e, scenario, args) from None
    collector_for_serving()
    return run_on_loop(_serve_lab(lab, scenario, args, command, mode), loop)


def _bind_error(error: ServerError, scenario: Scenario, args: argparse.Namespace) -> ServerError:
    """A bind error, with what to do when it is port 53 that could not be bound."""
    text = str(error).split("\nA hierarchy binds port 53")[0]
    if scenario.port >= 1024 or "ermission" not in text:
        return error
    return ServerError(f"{text}\nA lab's servers listen on port {scenario.port} of their addresses: run as root or "
                       "with CAP_NET_BIND_SERVICE, or use "
                       f"`fakens lab run {args.scenario} -- COMMAND` (a private network namespace; no root needed "
                       "where unprivileged user namespaces are allowed)")


async def _serve_lab(lab: Hierarchy, scenario: Scenario, args: argparse.Namespace,
                     command: Sequence[str] | None, mode: str) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    say: Callable[[str], None] = (lambda text: None) if args.quiet else (lambda text: print(text, flush=True))
    if args.ready_file:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(args.ready_file)  # a stale one: nobody may read it before this lab is ready
    if mode == "namespace":
        _add_addresses(lab)
    try:
        await lab.astart()
    except ServerError as e:
        raise _bind_error(e, scenario, args) from None
    log_file = LogWriter(args.log, args.log_max_bytes) if args.log else None  # closed in finally
    unwatch = _watch_logs(lab, args.verbose and not args.quiet, log_file)
    lab.timeline.listeners.append(lambda event: say(_event_line(lab, event)))
    control = _start_control(lab, args)
    try:
        config_dir = _write_configs(lab, args)
        say(f"fakens lab {lab.name!r} ({mode}): {len(lab.members)} servers"
            + (f", time scale 1/{args.time_scale:g}" if args.time_scale != 1 else ""))
        say(plan_table(lab, running=True))
        for warning in lab.warnings:
            say(f"warning: {warning}")
        say(f"configs: {config_dir} (root.hints, unbound.conf, named.conf, named-secondary.conf, kresd.conf, "
            "pdns-recursor/recursor.conf)")
        if lab.timeline.events:
            say("timeline: " + "; ".join(f"{e.at:g}s {e.describe}" for e in lab.timeline.events))
        if args.graph:
            _graph(lab, args.graph)
        if args.ready_file:
            _write_ready(lab, args.ready_file, control, config_dir)
        status = 0
        if command:
            status = await _run_command(command, stop, config_dir, args.ready_file)
        else:
            say("ready; Ctrl-C stops" + (f" (running for {args.duration:g} s)" if args.duration else ""))
            live = sys.stdout.isatty() and not args.verbose and not args.quiet
            await _wait(stop, args.duration, (lambda: _live_view(lab)) if live else None)
    finally:
        if args.ready_file:
            from fakens.ready import remove_ready_file

            remove_ready_file(args.ready_file)
        if control is not None:
            control.stop()
        unwatch()
        await lab.astop()
        if log_file is not None:
            log_file.close()
        if args.pcap:
            _write_pcap(lab, args.pcap)
            say(f"pcap: {args.pcap}")
    total = sum(m.server.log.total for m in lab.members if m.server is not None)
    say(f"fakens lab {lab.name!r} stopped after {total} quer{'y' if total == 1 else 'ies'}")
    return status


def _event_line(lab: Hierarchy, event: Event) -> str:
    now = lab.clock.now()
    if event.error:
        return f"timeline at {now:.1f}s: {event.describe}: error: {event.error}"
    return f"timeline at {now:.1f}s: {event.describe}: {event.result}"


def _watch_logs(lab: Hierarchy, verbose: bool, log_file: LogWriter | None) -> Callable[[], None]:
    """Print (``-v``) and write (``--log``, a child process's work) every query of every
    server; returns the undo."""
    if not verbose and log_file is None:
        return lambda: None

    def seen(entry: LogEntry) -> None:
        if verbose:
            print(f"{entry.time:9.3f} {entry}", flush=True)
        if log_file is not None:
            log_file.put(entry)

    undo = []
    for member in lab.members:
        if member.server is not None:
            undo.append(member.server.log.watch(seen))
    def unwatch() -> None:
        for u in undo:
            u()

    return unwatch


def _start_control(lab: Hierarchy, args: argparse.Namespace) -> Any:
    if args.control in (None, "none") or not args.ready_file:
        return None  # the token that guards the endpoint is handed out only through the ready file
    try:
        from fakens.control import ControlServer
    except ImportError:  # pragma: no cover - until the control module lands
        return None
    from fakens.lab import LabControl

    control = ControlServer(LabControl(lab), listen=args.control)
    control.start()
    return control


def _write_ready(lab: Hierarchy, path: str, control: Any, config_dir: str) -> None:
    from fakens.ready import write_ready_file

    servers = {m.name: m.server for m in lab.members if m.server is not None}
    write_ready_file(path, servers, control, extra={"lab": lab.name, "config_dir": config_dir,
                                                    "root_hints": os.path.join(config_dir, "root.hints")})


def _write_configs(lab: Hierarchy, args: argparse.Namespace) -> str:
    from fakens.lab import write_resolver_configs

    directory = args.config_dir or tempfile.mkdtemp(prefix=f"fakens-lab-{lab.name}-")
    lab.set_secondary(("127.0.0.1", args.resolver_port + 2))  # named-secondary.conf's: NOTIFY target "secondary"
    return write_resolver_configs(lab, directory, args.resolver_port)


def _write_pcap(lab: Hierarchy, path: str) -> None:
    from fakens import pcap

    entries = sorted((e for m in lab.members if m.server is not None for e in m.server.log), key=lambda e: e.time)
    pcap.write(path, entries)


async def _wait(stop: asyncio.Event, duration: float | None, tick: Callable[[], None] | None) -> None:
    deadline = None if duration is None else time.monotonic() + duration
    while not stop.is_set():
        timeout = 1.0 if tick is not None else None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            timeout = left if timeout is None else min(timeout, left)
        try:
            await asyncio.wait_for(stop.wait(), timeout)
        except TimeoutError:
            pass
        if tick is not None:
            tick()


_last_totals: dict[str, int] = {}


def _live_view(lab: Hierarchy) -> None:
    """Redraw the terminal: queries per second per server, faults that fired, the last queries."""
    lines = [f"fakens lab {lab.name!r}  lab time {lab.clock.now():.0f}s  (Ctrl-C stops)", ""]
    lines.append(f"  {'SERVER':<28} {'Q/S':>6} {'TOTAL':>8}  FAULTS FIRED")
    recent: list[LogEntry] = []
    for member in lab.members:
        server = member.server
        if server is None:
            continue
        total = server.log.total
        rate = total - _last_totals.get(member.name, total)
        _last_totals[member.name] = total
        fired: dict[str, int] = {}
        for entry in server.log:
            for fault in entry.faults:
                fired[fault["name"]] = fired.get(fault["name"], 0) + 1
        recent.extend(list(server.log)[-5:])
        state = "" if server.running else " (stopped)"
        lines.append(f"  {member.name + state:<28} {rate:>6} {total:>8}  "
                     + (", ".join(f"{k} x{v}" for k, v in fired.items()) or "-"))
    next_event = lab.timeline.next_due()
    if next_event is not None:
        lines += ["", f"  next event at {next_event.at:g}s: {next_event.describe}"]
    lines += ["", "  last queries:"]
    lines += [f"    {e}" for e in sorted(recent, key=lambda e: e.time)[-8:]] or ["    (none yet)"]
    sys.stdout.write("\x1b[H\x1b[2J" + "\n".join(lines) + "\n")
    sys.stdout.flush()


# -- run (namespace) --------------------------------------------------------------------


def _split_run_command(args: argparse.Namespace) -> list[str]:
    """The COMMAND of ``lab run SCENARIO [OPTIONS] -- COMMAND``: argparse's REMAINDER takes
    everything after SCENARIO, the options too; they are parsed here into *args*."""
    rest = list(args.run_command)
    if "--" not in rest:
        if rest and rest[0].startswith("-"):
            raise ConfigError(f"fakens lab run SCENARIO [OPTIONS] -- COMMAND: {rest[0]} is no command; give the "
                              "command to run in the lab's namespace after --, e.g. -- sh")
        return rest
    cut = rest.index("--")
    options, command = rest[:cut], rest[cut + 1:]
    if options:
        parser = argparse.ArgumentParser(prog="fakens lab run", add_help=False)
        _lab_options(parser)
        parser.parse_args(options, namespace=args)  # options given before SCENARIO stay unless given again
    return command


def _run(args: argparse.Namespace) -> int:
    command = _split_run_command(args)
    if not command:
        raise ConfigError("fakens lab run SCENARIO -- COMMAND: give the command to run in the lab's namespace "
                          "after --, e.g. -- unbound -d -c DIR/unbound.conf, or -- sh for a shell")
    if os.environ.get(INSIDE_ENV):
        return _up(args, command)
    from fakens.scenario import load_scenario

    load_scenario(args.scenario, mode="namespace")  # errors before any namespace is made
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ConfigError("fakens lab run needs unshare (util-linux) to make a private network namespace")
    how = ["--net"] if os.geteuid() == 0 else ["--net", "--user", "--map-root-user"]
    inner = [unshare, *how, "--", sys.executable, "-m", "fakens", "lab", "run", *_rebuild_argv(args, command)]
    env = {**os.environ, INSIDE_ENV: "1"}
    try:
        return subprocess.call(inner, env=env)
    except KeyboardInterrupt:
        return 130


def _rebuild_argv(args: argparse.Namespace, command: Sequence[str]) -> list[str]:
    out = [args.scenario]
    for flag, value in (("--config-dir", args.config_dir), ("--ready-file", args.ready_file),
                        ("--control", args.control), ("--log", args.log), ("--pcap", args.pcap),
                        ("--graph", args.graph), ("--loop", args.loop)):
        if value is not None:
            out += [flag, value]
    out += ["--time-scale", str(args.time_scale), "--resolver-port", str(args.resolver_port)]
    if args.duration is not None:
        out += ["--for", str(args.duration)]
    for flag, on in (("--fix", args.fix), ("--verbose", args.verbose), ("--quiet", args.quiet)):
        if on:
            out.append(flag)
    return [*out, "--", *command]


def _add_addresses(lab: Hierarchy) -> None:
    """Inside the lab's namespace: loopback up, and every server's address on it."""
    ip = shutil.which("ip") or "/usr/sbin/ip"
    subprocess.run([ip, "link", "set", "lo", "up"], check=True)
    for member in lab.members:
        for address in member.addresses:
            if address.startswith("127.") or address == "::1":
                continue
            if ":" in address:
                cmd = [ip, "-6", "addr", "add", f"{address}/128", "dev", "lo", "nodad"]
            else:
                cmd = [ip, "addr", "add", f"{address}/32", "dev", "lo"]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0 and "File exists" not in done.stderr:
                raise ServerError(f"cannot put {address} on the namespace's loopback: {done.stderr.strip()}")


async def _run_command(command: Sequence[str], stop: asyncio.Event, config_dir: str,
                       ready_file: str | None) -> int:
    env = {**os.environ, "FAKENS_LAB_CONFIG_DIR": config_dir,
           "FAKENS_LAB_ROOT_HINTS": os.path.join(config_dir, "root.hints")}
    env.pop(INSIDE_ENV, None)
    if ready_file:
        env["FAKENS_READY_FILE"] = os.path.abspath(ready_file)
    try:
        process = await asyncio.create_subprocess_exec(*command, env=env)
    except OSError as e:
        raise ConfigError(f"cannot run {command[0]!r}: {e.strerror}") from None
    waiter = asyncio.ensure_future(process.wait())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
    if not waiter.done():
        process.terminate()
        try:
            await asyncio.wait_for(waiter, 5)
        except TimeoutError:
            process.kill()
            await waiter
    stopper.cancel()
    return process.returncode if process.returncode is not None and process.returncode >= 0 else 128 + \
        -(process.returncode or 0)
