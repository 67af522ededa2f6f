"""fakens: an authoritative DNS server for tests, correct first, broken on purpose.

    from fakens import Server, Zone
    with Server([Zone.from_file("zones/example.test.zone")]) as server:
        host, port = server.addresses[0]
"""

from fakens import quiet as _quiet  # noqa: F401 - first: its warning filters before dnspython is imported
from fakens.answer import Answer, Kind
from fakens.clock import Clock, ManualClock, SystemClock
from fakens.engine import Engine, EngineOptions
from fakens.errors import ConfigError, FakensError, ServerError, ZoneError
from fakens.exchange import Exchange
from fakens.faults import Fault, FaultChain
from fakens.faults.spec import build as build_fault
from fakens.faults.view import View
from fakens.log import LogEntry, QueryLog
from fakens.notify import NotifyRecord
from fakens.options import ServerOptions
from fakens.outcome import Close, Drop, Outcome, Reply, Reset, Stall
from fakens.selectors import Facts, Selector
from fakens.server import Server
from fakens.zones import Zone, ZoneVersion, ZoneWarning, load_zones, serial_add, serial_gt

__all__ = [
    "Answer",
    "Clock",
    "Close",
    "ConfigError",
    "Drop",
    "Engine",
    "EngineOptions",
    "Exchange",
    "Facts",
    "FakensError",
    "Fault",
    "FaultChain",
    "Kind",
    "LogEntry",
    "ManualClock",
    "NotifyRecord",
    "Outcome",
    "QueryLog",
    "Reply",
    "Reset",
    "Selector",
    "Server",
    "ServerError",
    "ServerOptions",
    "Stall",
    "SystemClock",
    "View",
    "Zone",
    "ZoneError",
    "ZoneVersion",
    "ZoneWarning",
    "build_fault",
    "load_zones",
    "serial_add",
    "serial_gt",
]
__version__ = "0.1.0"
