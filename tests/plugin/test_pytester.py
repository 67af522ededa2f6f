"""The pytest plugin as a user meets it: inner pytest runs in a subprocess (pytester).

Every inner run is a fresh ``python -m pytest`` in a temporary project with no
conftest unless a test writes one, so the plugin loads only through its
``pytest11`` entry point (the installed package).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from helpers import require_tool, unavailable

from fakens.lab import bind_error_hint

from .userproject import ASYNC_ARGS, BASE_ARGS, OTHER_ZONE_TEXT, ZONE_TEXT, run, session_zones, user_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZONES = os.path.join(REPO, "zones")

# -- passing and failing tests ---------------------------------------------------------------


def test_a_passing_user_test_passes_without_any_conftest(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_www(fakens_server):
            answer = stub(fakens_server).resolve("www.example.test.", "A")
            assert [r.address for r in answer] == ["192.0.2.10"]
            fakens_server.log.assert_received(qname="www.example.test.", qtype="A", rcode="NOERROR", times=1)
            fakens_server.log.assert_not_received(qname="mail.example.test.")
    """)
    assert not list(pytester.path.rglob("conftest.py"))
    result = run(pytester, "-v")
    result.assert_outcomes(passed=1)
    # loaded through the installed package's pytest11 entry point
    result.stdout.fnmatch_lines(["plugins:*fakens-0.1.0*"])


def test_a_failing_assert_received_lists_similar_queries_and_attaches_the_log(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_mail(fakens_server):
            stub(fakens_server).resolve("www.example.test.", "A")
            fakens_server.log.assert_received(qname="mail.example.test.", qtype="A")
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ("*AssertionError: expected at least 1 queries matching qname=mail.example.test. qtype=A, got 0; "
         "similar queries it received:"),
        "*test_mail udp 127.0.0.1#* www.example.test. A -> NOERROR",
    ])
    # the query log section of the report
    result.stdout.fnmatch_lines([
        "*- fakens query log: test_mail (127.0.0.1:*) -*",
        "test_mail udp 127.0.0.1#* www.example.test. A -> NOERROR",
    ])


def test_a_passing_test_gets_no_log_section(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_www(fakens_server):
            ask(fakens_server, "www.example.test.")
    """)
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*fakens query log*")


# -- marker, ini option, fixture override, factory ----------------------------------------------


def test_marker_zones_and_server_options(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        import dns.edns

        @pytest.mark.fakens(zones=[ZONE_TEXT], nsid="x")
        def test_nsid(fakens_server):
            reply = ask(fakens_server, "www.example.test.", use_edns=0,
                        options=[dns.edns.GenericOption(dns.edns.NSID, b"")])
            assert reply.rcode() == dns.rcode.NOERROR
            assert reply.answer[0][0].address == "192.0.2.10"
            nsid = [o for o in reply.options if o.otype == dns.edns.NSID]
            assert len(nsid) == 1 and nsid[0].to_wire() == b"x"

        @pytest.mark.fakens(zones=[ZONE_TEXT, OTHER_ZONE_TEXT], name="named-by-marker")
        def test_two_zones_and_name(fakens_server):
            assert ask(fakens_server, "www.other.test.").answer[0][0].address == "198.51.100.7"
            assert fakens_server.name == "named-by-marker"
            assert fakens_server.log.entries()[0].server == "named-by-marker"

        @pytest.mark.fakens([ZONE_TEXT])
        def test_positional_zones(fakens_server):
            assert ask(fakens_server, "mail.example.test.").answer[0][0].address == "192.0.2.25"
            assert fakens_server.nsid is None

        @pytest.mark.fakens(zones=[OTHER_ZONE_TEXT])
        class TestClassMarker:
            def test_inherits(self, fakens_server):
                assert ask(fakens_server, "www.other.test.").answer[0][0].address == "198.51.100.7"
    """)
    result = run(pytester, "-W", "error::pytest.PytestUnknownMarkWarning")
    result.assert_outcomes(passed=4)


def test_the_fakens_zones_ini_option(pytester: pytest.Pytester) -> None:
    zones = pytester.mkdir("zones")
    (zones / "example.test.zone").write_text(ZONE_TEXT)
    extra = pytester.mkdir("extra")
    (extra / "other.test.zone").write_text(OTHER_ZONE_TEXT)
    pytester.makeini("[pytest]\nfakens_zones = zones/example.test.zone extra\n")
    user_file(pytester, "test_user", """
        import os

        def test_files_and_directories_relative_to_the_rootdir(fakens_server, fakens_zones, pytestconfig):
            assert all(os.path.isabs(z) for z in fakens_zones)
            assert sorted(str(o) for o in fakens_server.zones) == ["example.test.", "other.test."]
            assert ask(fakens_server, "www.example.test.").answer[0][0].address == "192.0.2.10"
            assert ask(fakens_server, "www.other.test.").answer[0][0].address == "198.51.100.7"

        def test_the_shared_server_too(fakens_shared_server):
            assert ask(fakens_shared_server, "www.other.test.").answer[0][0].address == "198.51.100.7"

        @pytest.mark.fakens(zones=[OTHER_ZONE_TEXT])
        def test_the_marker_wins(fakens_server):
            assert sorted(str(o) for o in fakens_server.zones) == ["other.test."]
    """)
    # run from a subdirectory: relative ini paths are relative to the rootdir, not the cwd
    sub = pytester.mkdir("sub")
    os.chdir(sub)
    result = run(pytester, str(pytester.path))
    result.assert_outcomes(passed=3)


def test_overriding_the_fakens_zones_fixture_in_a_conftest(pytester: pytest.Pytester) -> None:
    session_zones(pytester, OTHER_ZONE_TEXT)
    user_file(pytester, "test_user", """
        def test_server(fakens_server):
            assert [str(o) for o in fakens_server.zones] == ["other.test."]
            assert ask(fakens_server, "www.other.test.").answer[0][0].address == "198.51.100.7"

        def test_shared(fakens_shared_server):
            assert [str(o) for o in fakens_shared_server.zones] == ["other.test."]

        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_marker_wins(fakens_server):
            assert [str(o) for o in fakens_server.zones] == ["example.test."]
    """)
    result = run(pytester)
    result.assert_outcomes(passed=3)


def test_a_function_scoped_fakens_zones_override_serves_fakens_server(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f'''
        import pytest

        @pytest.fixture
        def fakens_zones(request):
            return [{OTHER_ZONE_TEXT!r}]
    ''')
    user_file(pytester, "test_user", """
        def test_server(fakens_server):
            assert ask(fakens_server, "www.other.test.").answer[0][0].address == "198.51.100.7"
    """)
    run(pytester).assert_outcomes(passed=1)


def test_without_zones_a_server_serves_nothing(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        def test_empty(fakens_server):
            assert fakens_server.zones == {}
            assert ask(fakens_server, "www.example.test.").rcode() == dns.rcode.REFUSED
    """)
    run(pytester).assert_outcomes(passed=1)


def test_the_factory_fixture_with_two_servers(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        made = []

        def test_two(fakens_servers):
            a = fakens_servers([ZONE_TEXT])
            b = fakens_servers([OTHER_ZONE_TEXT], nsid="b", name="second")
            made.extend([a, b])
            assert a.running and b.running and a.addresses != b.addresses
            assert a.name == "test_two-1" and b.name == "second" and b.nsid == b"b"
            assert ask(a, "www.example.test.").answer[0][0].address == "192.0.2.10"
            assert ask(b, "www.other.test.").answer[0][0].address == "198.51.100.7"
            a.log.assert_received(qname="www.example.test.", times=1)
            a.log.assert_not_received(qname="www.other.test.")
            b.log.assert_received(qname="www.other.test.", times=1)
            b.log.assert_not_received(qname="www.example.test.")

        def test_both_stopped_after_the_test():
            assert len(made) == 2
            assert not any(s.running for s in made)

        def test_failure_attaches_both_logs(fakens_servers):
            a = fakens_servers([ZONE_TEXT])
            b = fakens_servers([OTHER_ZONE_TEXT])
            ask(a, "www.example.test.")
            ask(b, "www.other.test.")
            assert False, "deliberate"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*- fakens query log: test_failure_attaches_both_logs-1 (127.0.0.1:*) -*",
        "test_failure_attaches_both_logs-1 udp 127.0.0.1#* www.example.test. A -> NOERROR",
        "*- fakens query log: test_failure_attaches_both_logs-2 (127.0.0.1:*) -*",
        "test_failure_attaches_both_logs-2 udp 127.0.0.1#* www.other.test. A -> NOERROR",
    ])


# -- async -----------------------------------------------------------------------------------------


def test_async_servers_run_in_the_tests_own_loop(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        import asyncio
        import dns.asyncquery

        async def aask(server, qname):
            host, port = server.addresses[0]
            return await dns.asyncquery.udp(dns.message.make_query(qname, "A"), host, port=port, timeout=2)

        @pytest.mark.fakens(zones=[ZONE_TEXT], nsid="async")
        async def test_server(async_fakens_server):
            assert await served_by_this_loop(async_fakens_server)
            assert async_fakens_server.nsid == b"async"
            reply = await aask(async_fakens_server, "www.example.test.")
            assert reply.answer[0][0].address == "192.0.2.10"
            async_fakens_server.log.assert_received(qname="www.example.test.", qtype="A", times=1)

        async def test_factory(async_fakens_servers):
            a = await async_fakens_servers([ZONE_TEXT])
            b = await async_fakens_servers([OTHER_ZONE_TEXT])
            assert await served_by_this_loop(a) and await served_by_this_loop(b)
            assert a.addresses != b.addresses
            ra, rb = await asyncio.gather(aask(a, "www.example.test."), aask(b, "www.other.test."))
            assert ra.answer[0][0].address == "192.0.2.10"
            assert rb.answer[0][0].address == "198.51.100.7"

        @pytest.mark.fakens(zones=[ZONE_TEXT])
        async def test_failure_attaches_the_log(async_fakens_server):
            await aask(async_fakens_server, "www.example.test.")
            async_fakens_server.log.assert_received(qname="nope.example.test.")
    """)
    result = run(pytester, *ASYNC_ARGS)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines([
        "*- fakens query log: test_failure_attaches_the_log (127.0.0.1:*) -*",
        "test_failure_attaches_the_log udp 127.0.0.1#* www.example.test. A -> NOERROR",
    ])


def test_async_server_in_a_module_scoped_loop(pytester: pytest.Pytester) -> None:
    """A test running in a module-scoped loop (pytest-asyncio loop_scope) still gets its server in
    its own loop (the plugin's promise: "the servers run in the test's own event loop").

    (A server bound in the function-scoped loop, not running while the test runs in the module
    loop, would time out every query, with "(no queries)" in the log and nothing saying why.)"""
    user_file(pytester, "test_user", """
        import asyncio
        import dns.asyncquery

        @pytest.mark.asyncio(loop_scope="module")
        @pytest.mark.fakens(zones=[ZONE_TEXT])
        async def test_module_loop(async_fakens_server):
            assert await served_by_this_loop(async_fakens_server)
            host, port = async_fakens_server.addresses[0]
            reply = await dns.asyncquery.udp(dns.message.make_query("www.example.test.", "A"), host,
                                             port=port, timeout=2)
            assert reply.answer[0][0].address == "192.0.2.10"
    """)
    run(pytester, *ASYNC_ARGS).assert_outcomes(passed=1)


# -- the session-scoped server ------------------------------------------------------------------


def test_the_shared_server_is_reset_between_tests(pytester: pytest.Pytester) -> None:
    (pytester.path / "example.test.zone").write_text(ZONE_TEXT)
    pytester.makeini("[pytest]\nfakens_zones = example.test.zone\n")
    user_file(pytester, "test_user", """
        seen = {}

        def test_first(fakens_shared_server):
            s = fakens_shared_server
            seen["server"], seen["address"] = s, s.addresses[0]
            s.faults.add("nxdomain qname=www.example.test. name=gone")
            s.zone("example.test.").edit(replace=["mail.example.test. 300 A 192.0.2.99"])
            assert ask(s, "www.example.test.").rcode() == dns.rcode.NXDOMAIN
            assert ask(s, "mail.example.test.").answer[0][0].address == "192.0.2.99"
            assert len(s.log) == 2 and len(s.faults) == 1

        def test_second(fakens_shared_server):
            s = fakens_shared_server
            assert s is seen["server"] and s.addresses[0] == seen["address"]  # the same server
            assert len(s.log) == 0 and list(s.log) == []
            assert len(s.faults) == 0
            assert s.zone("example.test.").current.serial == 1
            assert ask(s, "www.example.test.").answer[0][0].address == "192.0.2.10"
            assert ask(s, "mail.example.test.").answer[0][0].address == "192.0.2.25"
            assert len(s.log) == 2
    """)
    run(pytester, "-p", "no:randomly").assert_outcomes(passed=2)


def test_the_shared_server_forgets_zones_added_during_a_test(pytester: pytest.Pytester) -> None:
    """Server.reset() (run after every test using fakens_shared_server) drops a zone added with
    add_zone() during a test, so it does not leak into the next tests: reset promises "back to
    the state at start ... every zone as loaded"."""
    (pytester.path / "example.test.zone").write_text(ZONE_TEXT)
    pytester.makeini("[pytest]\nfakens_zones = example.test.zone\n")
    user_file(pytester, "test_user", """
        def test_adds_a_zone(fakens_shared_server):
            fakens_shared_server.add_zone(OTHER_ZONE_TEXT)
            assert ask(fakens_shared_server, "www.other.test.").answer[0][0].address == "198.51.100.7"

        def test_next(fakens_shared_server):
            assert sorted(str(o) for o in fakens_shared_server.zones) == ["example.test."]
            assert ask(fakens_shared_server, "www.other.test.").rcode() == dns.rcode.REFUSED
    """)
    run(pytester, "-p", "no:randomly").assert_outcomes(passed=2)


def test_a_failing_test_with_the_shared_server_gets_its_log(pytester: pytest.Pytester) -> None:
    (pytester.path / "example.test.zone").write_text(ZONE_TEXT)
    pytester.makeini("[pytest]\nfakens_zones = example.test.zone\n")
    user_file(pytester, "test_user", """
        def test_one(fakens_shared_server):
            ask(fakens_shared_server, "www.example.test.")

        def test_two(fakens_shared_server):
            ask(fakens_shared_server, "mail.example.test.")
            assert False, "deliberate"
    """)
    result = run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    # only this test's queries: the log was cleared after test_one
    result.stdout.fnmatch_lines([
        "*- fakens query log: fakens-shared (127.0.0.1:*) -*",
        "fakens-shared udp 127.0.0.1#* mail.example.test. A -> NOERROR",
    ])
    result.stdout.no_fnmatch_line("*www.example.test. A -> NOERROR*")


# -- exceptions inside a server ------------------------------------------------------------------


def test_an_exception_inside_a_server_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    (pytester.path / "example.test.zone").write_text(ZONE_TEXT)
    pytester.makeini("[pytest]\nfakens_zones = example.test.zone\n")
    user_file(pytester, "test_user", """
        def boom(*args, **kwargs):
            raise RuntimeError("boom inside the engine")

        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_boom(fakens_server, monkeypatch):
            monkeypatch.setattr(fakens_server.engine, "answer", boom)
            assert ask(fakens_server, "www.example.test.").rcode() == dns.rcode.SERVFAIL
            fakens_server.log.assert_received(qname="www.example.test.", rcode="SERVFAIL", times=1)
            assert len(fakens_server.errors) == 1

        def test_boom_shared(fakens_shared_server, monkeypatch):
            monkeypatch.setattr(fakens_shared_server.engine, "answer", boom)
            assert ask(fakens_shared_server, "www.example.test.").rcode() == dns.rcode.SERVFAIL

        def test_shared_afterwards(fakens_shared_server):
            assert fakens_shared_server.errors == []
            assert ask(fakens_shared_server, "www.example.test.").answer[0][0].address == "192.0.2.10"

        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_clean(fakens_server):
            assert ask(fakens_server, "www.example.test.").rcode() == dns.rcode.NOERROR
    """)
    result = run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_boom *",
        "an exception was raised inside a fake server during the test:",
        "server test_boom: Traceback (most recent call last):",
        "*in boom",
        "*RuntimeError: boom inside the engine",
    ])
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_boom_shared *",
        "an exception was raised inside a fake server during the test:",
        "server fakens-shared: Traceback (most recent call last):",
        "*RuntimeError: boom inside the engine",
    ])
    result.stdout.fnmatch_lines(["ERROR test_user.py::test_boom - *", "ERROR test_user.py::test_boom_shared - *"])


def test_an_exception_inside_an_async_server_fails_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    user_file(pytester, "test_user", """
        import dns.asyncquery

        def boom(*args, **kwargs):
            raise ValueError("async boom")

        @pytest.mark.fakens(zones=[ZONE_TEXT])
        async def test_boom(async_fakens_server, monkeypatch):
            monkeypatch.setattr(async_fakens_server.engine, "answer", boom)
            host, port = async_fakens_server.addresses[0]
            reply = await dns.asyncquery.udp(dns.message.make_query("www.example.test.", "A"), host,
                                             port=port, timeout=2)
            assert reply.rcode() == dns.rcode.SERVFAIL
    """)
    result = run(pytester, *ASYNC_ARGS)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_boom *",
        "an exception was raised inside a fake server during the test:",
        "server test_boom: Traceback (most recent call last):",
        "*in boom",
        "*ValueError: async boom",
    ])


# -- hierarchies ---------------------------------------------------------------------------------

# The two files meet at a barrier (two FIFOs; blocking reads with a timeout) once both
# hierarchies are up, so the two workers really hold their port-53 hierarchies at once.
HIERARCHY_TEST = """
    import os
    import select
    from fakens.lab import worker_octet

    ME, OTHER = {me!r}, {other!r}


    def barrier(name):
        fds = {{}}
        for who in (ME, OTHER):
            path = os.path.join({shared!r}, f"{{name}}-{{who}}")
            try:
                os.mkfifo(path)
            except FileExistsError:
                pass
            fds[who] = os.open(path, os.O_RDWR)  # never blocks on Linux; keeps the data alive
        os.write(fds[ME], b"x")
        ready, _, _ = select.select([fds[OTHER]], [], [], 60)
        assert ready, f"the other worker never reached the barrier {{name}}"
        assert os.read(fds[OTHER], 1) == b"x"
        return fds


    def test_resolve_through_a_hierarchy(fakens_hierarchy):
        hierarchy = fakens_hierarchy([ZONE_TEXT])
        octet = worker_octet()
        assert os.environ["PYTEST_XDIST_WORKER"] in ("gw0", "gw1")
        assert hierarchy.port == 53 and hierarchy.root_address.startswith(f"127.{{octet}}.")
        held = barrier("up")
        result = hierarchy.tracer().resolve("www.example.test.", "A")
        assert result.status == "ok", str(result)
        assert result.addresses == ["192.0.2.10"]
        assert all(address.startswith(f"127.{{octet}}.") and port == 53
                   for address, port in result.servers_asked())
        hierarchy.server("a.root-servers.test.").log.assert_received(qname="www.example.test.")
        hierarchy.servers_for("example.test.")[0].log.assert_received(qname="www.example.test.", qtype="A")
        held.update(barrier("resolved"))
        with open(os.path.join({shared!r}, ME + ".worker"), "w") as f:
            f.write(os.environ["PYTEST_XDIST_WORKER"] + " " + hierarchy.root_address)
        for fd in held.values():
            os.close(fd)
"""


@pytest.mark.port53
def test_two_xdist_workers_build_hierarchies_at_once(pytester: pytest.Pytester) -> None:
    shared = str(pytester.mkdir("shared"))
    for me, other in (("a", "b"), ("b", "a")):
        user_file(pytester, f"test_{me}", HIERARCHY_TEST.format(me=me, other=other, shared=shared))
    result = run(pytester, "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=2)
    seen = {}
    for me in ("a", "b"):
        with open(os.path.join(shared, me + ".worker")) as f:
            worker, address = f.read().split()
        seen[worker] = address
    assert sorted(seen) == ["gw0", "gw1"]
    assert seen["gw0"].startswith("127.1.") and seen["gw1"].startswith("127.2.")


def test_bind_error_hint_names_the_three_ways() -> None:
    hint = bind_error_hint("cannot bind 127.1.0.10:53: Permission denied")
    assert hint.startswith("cannot bind 127.1.0.10:53: Permission denied\n")
    for needed in ("root", "CAP_NET_BIND_SERVICE", "namespace", "unshare -n"):
        assert needed in hint


def _unprivileged_ports_start() -> int:
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        return int(f.read())


def test_a_hierarchy_without_permission_fails_with_the_hint(pytester: pytest.Pytester) -> None:
    """The inner pytest runs without CAP_NET_BIND_SERVICE (root without it, or another user),
    so binding port 1 fails, and the fixture says what would help."""
    if _unprivileged_ports_start() <= 1:
        unavailable("this host lets anyone bind port 1 (net.ipv4.ip_unprivileged_port_start), "
                    "so binding cannot fail for want of permission")
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = require_tool("setpriv")  # to drop CAP_NET_BIND_SERVICE as root
        prefix = [setpriv, "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service"]
    user_file(pytester, "test_user", f"""
        def test_unprivileged(fakens_hierarchy):
            fakens_hierarchy([{os.path.join(ZONES, "example.test.zone")!r}], port=1)
    """)
    result = pytester.run(*prefix, sys.executable, "-m", "pytest", *BASE_ARGS,
                          f"--basetemp={pytester.path / 'basetemp'}", timeout=300)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*cannot bind 127.*.10:1: Permission denied",
        ("A hierarchy binds port 53 on 127.x addresses: run as root, grant CAP_NET_BIND_SERVICE, "
         "or run the tests in a private network namespace: *unshare -n*"),
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


_HOLD = """
import sys
from fakens.lab import build_hierarchy
h = build_hierarchy([sys.argv[1]], octet=201).start()
print(h.root_address, flush=True)
{after}
h.stop()
"""


@pytest.mark.port53
def test_a_hierarchy_skips_an_address_block_another_run_holds() -> None:
    """Two fresh processes both start counting blocks at 0: the second must skip the held block."""
    zone = os.path.join(ZONES, "example.test.zone")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_XDIST_WORKER"}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD.format(after="sys.stdin.read()"), zone],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout is not None
        held = holder.stdout.readline().strip()
        assert held.startswith("127.201."), held
        after = ("r = h.tracer().resolve('www.example.test.', 'A')\n"
                 "print(r.status, *r.addresses, flush=True)")
        second = subprocess.run([sys.executable, "-c", _HOLD.format(after=after), zone], capture_output=True,
                                text=True, env=env, timeout=60, check=False)
        assert second.returncode == 0, second.stderr
        address, outcome = second.stdout.splitlines()
        assert address.startswith("127.201.") and address.endswith(".10")
        assert address != held
        assert outcome == "ok 192.0.2.10"
    finally:
        holder.communicate("", timeout=30)
    assert holder.returncode == 0
