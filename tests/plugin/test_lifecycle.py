"""The pytest plugin's lifecycle: servers released, restarted and reset between tests, logs
attached to failures, markers merged, external processes stopped, clear errors for misuse.

Every scenario runs as a user project in a fresh ``python -m pytest`` subprocess
(pytester), so the plugin loads through its ``pytest11`` entry point. Each
docstring says what should happen.
"""

from __future__ import annotations

import os
import re
import signal

import pytest

from .userproject import ASYNC_ARGS, ZONE_TEXT, session_zones, user_file
from .userproject import run as run_user


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return run_user(pytester, *ASYNC_ARGS, *args)


def section(output: str, title_part: str) -> str:
    """The body of the first captured section whose title contains *title_part*."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("-") and title_part in line:
            body = []
            for following in lines[i + 1:]:
                if re.match(r"^(-{3,}|_{3,}|={3,}) ", following):
                    break
                body.append(following)
            return "\n".join(body)
    raise AssertionError(f"no section with {title_part!r} in the output:\n{output}")


# -- 1. every server of every test stays in memory until the session ends ------------------------------


def test_servers_are_released_after_their_test(pytester: pytest.Pytester) -> None:
    """A test's servers (with their query logs, zones and fault chains) should be garbage once
    the test is over. The plugin keeps every server it made in ``item.stash`` for the log
    attachment and never drops it, so a session of N tests holds N servers and up to
    N x log_limit (100,000) log entries until the session ends. After the teardown report
    the stash entry should be removed."""
    user_file(pytester, "test_user", """
        import gc
        import weakref

        REFS = []


        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_1(fakens_server, fakens_servers):
            for _ in range(50):
                ask(fakens_server, "www.example.test.")
            REFS.append(weakref.ref(fakens_server))
            REFS.append(weakref.ref(fakens_servers([ZONE_TEXT])))


        def test_2():
            gc.collect()
            alive = [ref() for ref in REFS if ref() is not None]
            assert not alive, f"servers of test_1 still alive: {alive}"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2)


# -- 2. fakens_unbound leaks a running unbound and says "not installed" -------------------------------

FAKE_UNBOUND = """\
#!/bin/sh
echo $$ > "$FAKE_UNBOUND_PIDFILE"
exec tail -f /dev/null
"""


def test_fakens_unbound_stops_unbound_when_startup_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """When unbound starts but the readiness check fails with anything but ServerError (here
    unbound-control cannot be executed: FileNotFoundError; a hung unbound-control gives
    subprocess.TimeoutExpired), start_unbound neither stops the unbound it launched nor
    reports the real cause: the fixture turns the FileNotFoundError into
    ``skip("unbound is not installed")`` and the unbound process (its own session, so not
    even killed with pytest) keeps running. The process must be stopped, and a skip
    should only say "not installed" when the unbound binary itself is missing."""
    bindir = pytester.mkdir("bin")
    unbound = bindir / "unbound"
    unbound.write_text(FAKE_UNBOUND)
    control = bindir / "unbound-control"
    control.write_text("#!/nonexistent/interpreter\n")  # present but cannot be executed
    unbound.chmod(0o755)
    control.chmod(0o755)
    pidfile = pytester.path / "unbound.pid"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_UNBOUND_PIDFILE", str(pidfile))
    user_file(pytester, "test_user", """
        from fakens.lab import build_hierarchy
        from fakens.testing import free_port


        def test_unbound(fakens_unbound):
            hierarchy = build_hierarchy([ZONE_TEXT], port=free_port())   # planned only: no port 53 needed
            fakens_unbound(hierarchy)
    """)
    result = run(pytester, "-rs")
    text = pidfile.read_text().strip() if pidfile.exists() else ""
    pid = int(text) if text.isdigit() else None  # the fake may be stopped before it wrote its pid
    still_running = False
    if pid is not None:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                still_running = b"tail" in f.read()
        except OSError:
            still_running = False
        if still_running:
            os.kill(pid, signal.SIGTERM)  # the process the inner run leaked (our fake unbound)
    # (no pid file: the fake was stopped before its shell got to write one, which is also fine)
    assert not still_running, "the unbound started by fakens_unbound is still running after the session"
    result.stdout.fnmatch_lines(["*unbound-control*cannot run*"])  # the real cause is reported
    result.stdout.no_fnmatch_line("*unbound is not installed*")


# -- 3. the shared server's log is cleared before its teardown failure is reported -------------------


def test_shared_server_teardown_failure_carries_the_tests_queries(pytester: pytest.Pytester) -> None:
    """An exception inside the shared server fails the test at teardown, and the report of
    that failure carries the server's query log, but ``fakens_shared_server`` resets the
    server (clearing its log) before raising, so the section says "(no queries)". The
    section should list the test's queries (snapshot the log before ``reset()``)."""
    session_zones(pytester, ZONE_TEXT)
    user_file(pytester, "test_user", """
        def test_boom(fakens_shared_server, monkeypatch):
            ask(fakens_shared_server, "www.example.test.")
            def boom(*args, **kwargs):
                raise RuntimeError("boom")
            monkeypatch.setattr(fakens_shared_server.engine, "answer", boom)
            ask(fakens_shared_server, "mail.example.test.")
    """)
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    body = section(result.stdout.str(), "fakens query log: fakens-shared")
    assert "www.example.test. A" in body, body
    assert "mail.example.test. A" in body, body


# -- 4. no log when the failure is in setup ------------------------------------------------------------


def test_log_is_attached_when_a_fixture_fails_in_setup(pytester: pytest.Pytester) -> None:
    """A user fixture that prepares or checks the fake server (``primed`` below) fails in
    setup; the plugin skips the log for ``report.when == "setup"``, so the error report
    has no query log although the server had received queries. The log of the servers
    set up so far should be attached to setup failures too."""
    user_file(pytester, "test_user", """
        @pytest.fixture
        def primed(fakens_server):
            ask(fakens_server, "www.example.test.")
            assert ask(fakens_server, "nope.example.test.").answer, "the server is not ready"


        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_uses_it(primed):
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    body = section(result.stdout.str(), "fakens query log: test_uses_it")
    assert "nope.example.test. A -> NXDOMAIN" in body, body


# -- 5. zones="file.zone" is read one character at a time ----------------------------------------------


def test_marker_zones_given_as_one_path(pytester: pytest.Pytester) -> None:
    """``@pytest.mark.fakens(zones="example.test.zone")`` (a single path, not a list) is
    iterated character by character: the error is "e: cannot read the zone file: No such
    file or directory", naming neither the marker nor ``zones``. A single str/PathLike
    should be taken as one zone source (or rejected at setup with an error saying that
    ``zones`` must be a list)."""
    (pytester.path / "example.test.zone").write_text(ZONE_TEXT)
    user_file(pytester, "test_user", """
        @pytest.mark.fakens(zones="example.test.zone")
        def test_one_path(fakens_server):
            assert ask(fakens_server, "www.example.test.").answer
    """)
    result = run(pytester)
    out = result.stdout.str()
    accepted = result.ret == 0
    clear_error = re.search(r"zones.*(list|sequence)", out) is not None
    assert accepted or clear_error, out


# -- 6. a function-level marker with options only drops the module's zones -------------------------------


def test_function_marker_with_options_keeps_module_zones(pytester: pytest.Pytester) -> None:
    """Module ``pytestmark = pytest.mark.fakens(zones=[...])`` plus a function marker adding one
    option (``nsid``): only the closest marker is read, so the server of that test serves no
    zone at all (every query REFUSED) and nothing says why. Markers should merge, the
    closest winning per key (zones from the module, nsid from the function), or the
    plugin should at least error on a marker without zones when an outer one has them."""
    user_file(pytester, "test_user", """
        pytestmark = pytest.mark.fakens(zones=[ZONE_TEXT])


        def test_module_zones(fakens_server):
            assert ask(fakens_server, "www.example.test.").answer


        @pytest.mark.fakens(nsid="ns1")
        def test_module_zones_and_an_option(fakens_server):
            assert [str(o) for o in fakens_server.zones] == ["example.test."]
            assert ask(fakens_server, "www.example.test.").answer


        @pytest.mark.fakens(zones=[ZONE_TEXT.replace("example.test.", "stacked.test.")])
        @pytest.mark.fakens(nsid="ns1")
        def test_stacked_markers(fakens_server):
            assert [str(o) for o in fakens_server.zones] == ["stacked.test."]
            assert fakens_server.nsid == b"ns1"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=3)


def test_marker_positional_zones_and_zones_keyword_conflict(pytester: pytest.Pytester) -> None:
    """``@pytest.mark.fakens([A], zones=[B])`` serves only B (the keyword silently replaces the
    positional zones), and ``@pytest.mark.fakens([A], [B])`` serves only A (args[1:] are
    dropped when args[0] is a list). Both should serve A and B, or fail at setup naming the
    conflict."""
    user_file(pytester, "test_user", """
        OTHER = ZONE_TEXT.replace("example.test.", "other.test.")


        @pytest.mark.fakens([ZONE_TEXT], zones=[OTHER])
        def test_positional_and_keyword(fakens_server):
            assert sorted(str(o) for o in fakens_server.zones) == ["example.test.", "other.test."]


        @pytest.mark.fakens([ZONE_TEXT], [OTHER])
        def test_two_lists(fakens_server):
            assert sorted(str(o) for o in fakens_server.zones) == ["example.test.", "other.test."]
    """)
    result = run(pytester)
    out = result.stdout.str()
    assert result.ret == 0 or re.search(r"ERROR at setup.*\n(.*\n)*.*zones", out), out


# -- 6b. a test that stops the shared server breaks every later test ---------------------------------


def test_a_test_that_stops_the_shared_server_does_not_break_the_next(pytester: pytest.Pytester) -> None:
    """A test checking "what does my code do when the DNS server is down" may call
    ``fakens_shared_server.stop()``. ``reset()`` at teardown does not restart it, so every
    later test in the session (of that xdist worker) gets a stopped server with no
    addresses and fails far from the cause. The teardown should restart it (or fail the
    test that stopped it, saying so)."""
    session_zones(pytester, ZONE_TEXT)
    user_file(pytester, "test_user", """
        def test_1_server_down(fakens_shared_server):
            fakens_shared_server.stop()


        def test_2_next(fakens_shared_server):
            assert fakens_shared_server.running
            assert ask(fakens_shared_server, "www.example.test.").answer
    """)
    result = run(pytester)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 or "stop" in "".join(
        line for line in result.stdout.lines if "test_1_server_down" in line and "ERROR" in line), result.stdout.str()


# -- 7. log_file= leaks a file descriptor per test ----------------------------------------------------


def test_log_file_option_does_not_leak_a_descriptor_per_test(pytester: pytest.Pytester) -> None:
    """``log_file=`` (a Server option the marker and the factory pass through) opens the file
    in ``Server.__init__``; ``stop()``/``astop()`` only flush it, and nothing closes it, so
    every test using it leaks one descriptor (with the retained servers of problem 1,
    forever). The file should be closed when the fixture stops the server."""
    user_file(pytester, "test_user", """
        import os

        LOGS = []


        def open_fds_to(path):
            return [fd for fd in os.listdir("/proc/self/fd")
                    if os.path.realpath(f"/proc/self/fd/{fd}") == os.path.realpath(path)]


        @pytest.mark.parametrize("i", range(5))
        def test_with_a_log_file(fakens_servers, tmp_path, i):
            path = str(tmp_path / "queries.jsonl")
            ask(fakens_servers([ZONE_TEXT], log_file=path), "www.example.test.")
            LOGS.append(path)


        def test_after():
            leaked = [p for p in LOGS if open_fds_to(p)]
            assert not leaked, f"still open: {leaked}"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=6)


# -- 8. Zone objects carry one test's edits into the next ----------------------------------------------


def test_zone_edits_do_not_leak_between_per_test_servers(pytester: pytest.Pytester) -> None:
    """The README: a server per test is "the safe choice: nothing can leak from one test into
    the next". With Zone objects (a Server accepts them; a session-scoped ``fakens_zones``
    returning ``Zone.from_file(...)`` to parse once is natural) an edit made in one test is
    served to the next test's fresh ``fakens_server``: the fixture never resets the zones
    it served. Teardown should reset them (``server.reset()``) or the fixture should
    serve copies."""
    pytester.makeconftest(f"""
        import pytest
        from fakens import Zone

        @pytest.fixture(scope="session")
        def fakens_zones():
            return [Zone.from_text({ZONE_TEXT!r})]
    """)
    user_file(pytester, "test_user", """
        def test_1_edits(fakens_server):
            fakens_server.zone("example.test.").edit(replace=["www 300 A 192.0.2.99"])
            assert ask(fakens_server, "www.example.test.").answer[0][0].address == "192.0.2.99"


        def test_2_fresh_server(fakens_server):
            assert ask(fakens_server, "www.example.test.").answer[0][0].address == "192.0.2.10"
    """)
    result = run(pytester)
    result.assert_outcomes(passed=2)


# -- 9. async_fakens_server in a sync test: a server nobody serves ------------------------------------


def test_async_server_in_a_sync_test_is_an_error(pytester: pytest.Pytester) -> None:
    """A synchronous test that requests ``async_fakens_server`` gets a server whose sockets are
    bound in an event loop that is not running during the test: it accepts queries and
    never answers (dns timeouts, "(no queries)" in the log). The fixture should fail at
    setup saying it is for async tests and that ``fakens_server`` is the sync one."""
    user_file(pytester, "test_user", """
        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_sync(async_fakens_server):
            pass
    """)
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*async*fakens_server*"])


# -- 10. fakens_resolver next to fakens_shared_server starts a second server ---------------------------


def test_fakens_resolver_with_the_shared_server(pytester: pytest.Pytester) -> None:
    """``def test(fakens_shared_server, fakens_resolver)`` silently starts a second, per-test
    server (``fakens_resolver`` depends on ``fakens_server``) and the resolver asks that one:
    faults added to the shared server have no effect and its log stays empty. The resolver
    should ask the shared server when the test uses it (or there should be a
    ``fakens_shared_resolver`` and a setup error naming it)."""
    session_zones(pytester, ZONE_TEXT)
    user_file(pytester, "test_user", """
        def test_shared(fakens_shared_server, fakens_resolver):
            fakens_shared_server.faults.add("nxdomain")
            with pytest.raises(dns.resolver.NXDOMAIN):
                fakens_resolver.resolve("www.example.test.", "A")
    """)
    result = run(pytester)
    out = result.stdout.str()
    assert result.ret == 0 or "fakens_shared_resolver" in out, out


# -- 11. the attached log does not say it was cut ----------------------------------------------------


def test_attached_log_says_when_it_was_cut(pytester: pytest.Pytester) -> None:
    """The failure report carries only the last 200 entries of each server's log
    (``LOG_LINES``) without saying so: a user looking for an early query concludes it never
    arrived. The section should say e.g. "last 200 of 250 queries"."""
    user_file(pytester, "test_user", """
        @pytest.mark.fakens(zones=[ZONE_TEXT])
        def test_many(fakens_server):
            for i in range(250):
                ask(fakens_server, f"q{i}.example.test.")
            assert False
    """)
    result = run(pytester)
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    title = next(line for line in out.splitlines() if "fakens query log: test_many" in line)
    body = section(out, "fakens query log: test_many")
    assert "q0.example.test." not in body  # cut, as intended
    assert re.search(r"\b250\b", title + "\n" + body), title + "\n" + body[:300]


# -- 12. without pytest-asyncio the async fixtures just do not exist -----------------------------------


def test_async_fixture_without_pytest_asyncio_names_what_is_missing(pytester: pytest.Pytester,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pytest-asyncio the plugin loads (good), but ``async_fakens_server`` (documented
    in the README) is reported as "fixture 'async_fakens_server' not found", with no hint.
    It should exist and fail at setup saying it needs pytest-asyncio. (pytest-asyncio is
    hidden here by a shadow package raising ImportError and ``-p no:asyncio``.)"""
    shadow = pytester.mkdir("shadow")
    (shadow / "pytest_asyncio").mkdir()
    (shadow / "pytest_asyncio" / "__init__.py").write_text("raise ImportError('pytest-asyncio is not installed')\n")
    monkeypatch.setenv("PYTHONPATH", f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    user_file(pytester, "test_user", """
        def test_sync_still_works(fakens_servers):
            assert fakens_servers([ZONE_TEXT]).running


        def test_async(async_fakens_server):
            pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio", timeout=120)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*pytest-asyncio*"])
