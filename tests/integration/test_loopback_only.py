"""fakens sends only to loopback or to addresses of this machine, whatever a zone or a caller says:
NOTIFY targets, a no-notify fault's wrong address and the tracer's servers (the guide's rule)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import fakens
from fakens.errors import ConfigError
from fakens.trace import Tracer
from fakens.transport import stays_on_this_machine

ROOT_ZONE = """\
$ORIGIN .
$TTL 300
@                 SOA a.root-servers.test. hostmaster.test. 1 3600 900 604800 300
@                 NS  a.root-servers.test.
a.root-servers.test. A 127.0.0.1
elsewhere.        NS  ns.elsewhere.
ns.elsewhere.     A   192.0.2.53
"""


def test_loopback_and_local_addresses_stay_on_this_machine() -> None:
    assert stays_on_this_machine("127.0.0.1") and stays_on_this_machine("127.9.9.9")
    assert not stays_on_this_machine("192.0.2.53")
    assert not stays_on_this_machine("198.41.0.4")  # a.root-servers.net: never
    assert not stays_on_this_machine("0.0.0.0") and not stays_on_this_machine("not-an-address")


def test_a_notify_target_elsewhere_is_refused_when_configured() -> None:
    with pytest.raises(ConfigError, match=r"notify target 192\.0\.2\.1:53: fakens sends only to loopback"):
        fakens.Server(["zones/example.test.zone"], notify=["192.0.2.1:53"])


def test_send_notify_elsewhere_is_refused(server: fakens.Server) -> None:
    with pytest.raises(ConfigError, match=r"notify target 198\.51\.100\.1:53"):
        server.send_notify("example.test.", targets=["198.51.100.1"])
    assert server.notifies == []


def test_a_no_notify_fault_cannot_send_elsewhere(server: fakens.Server) -> None:
    with pytest.raises(ConfigError, match=r"fault no-notify: to= 192\.0\.2\.7:53"):
        server.faults.add("no-notify mode=wrong-address to=192.0.2.7:53")


def test_the_tracer_does_not_follow_glue_elsewhere(make_server: Callable[..., fakens.Server]) -> None:
    root = make_server([fakens.Zone.from_text(ROOT_ZONE, origin=".")])
    host, port = root.addresses[0]
    result = Tracer(hints=[("a.root-servers.test.", host)], port=port, timeout=5).resolve("www.elsewhere.", "A")
    asked = [step for step in result.path if step.address == "192.0.2.53"]
    assert asked and all(step.note.startswith("not asked: 192.0.2.53 is not on this machine") for step in asked)
    assert [e.qname.to_text() for e in root.log] == ["www.elsewhere."]  # the root only
    assert result.status != "ok"
