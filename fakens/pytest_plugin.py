"""The pytest plugin: fake authoritative servers as fixtures (registered as ``pytest11``).

Function-scoped server, zones from the ``fakens`` marker::

    @pytest.mark.fakens(zones=["zones/example.test.zone"], nsid="ns1")
    def test_answer(fakens_server, fakens_resolver):
        assert fakens_resolver.resolve("www.example.test.", "A")[0].address == "192.0.2.10"
        fakens_server.log.assert_received(qname="www.example.test.", qtype="A")

Fixtures:

- ``fakens_server``: a running server on 127.0.0.1, a free port; zones from the
  ``fakens`` marker (``zones=[...]`` plus any Server option; relative paths are
  found from the current directory, the test file's directory or the rootdir) or else from the
  ``fakens_zones`` fixture (override it in a conftest; default: the
  ``fakens_zones`` ini option, a list of files or directories).
- ``fakens_servers``: a factory, ``fakens_servers(zones, **options) -> Server``.
- ``async_fakens_server`` / ``async_fakens_servers``: the same for async tests
  (pytest-asyncio): the servers run in the test's own event loop.
- ``fakens_shared_server``: one session-scoped server (zones from
  ``fakens_zones``), reset after every test (faults, log, zone edits): faster,
  on the background thread.
- ``fakens_resolver``: a dnspython stub resolver pointed at ``fakens_server``;
  ``fakens.testing.resolver_for(server)`` for any other server.
- ``fakens_hierarchy``: a factory building root, TLD and zone servers on
  127.x addresses, port 53 (see :mod:`fakens.lab`); needs root,
  CAP_NET_BIND_SERVICE or a private network namespace.
- ``fakens_lab``: a factory starting a shipped lab by name (``fakens_lab("io-outage")``,
  ``fakens lab list``) or a scenario file, with its resolver configs and symptom table
  (:class:`fakens.testing.LabRun`); port 53 as ``fakens_hierarchy``.
- ``fakens_unbound``: a factory starting unbound in front of a hierarchy.

When a test fails, the query logs of the servers it used are attached to the
report; an exception raised inside a server during a test fails the test at
teardown with its traceback.
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import Any, Literal

import pytest

from fakens.errors import ConfigError, ServerError
from fakens.lab import Hierarchy, build_hierarchy
from fakens.server import Server
from fakens.testing import LabRun, Unbound, resolver_for, start_lab, start_unbound

_SERVERS = pytest.StashKey[list[Server]]()
_SAVED_LOGS = pytest.StashKey[dict[int, list[Any]]]()
LOG_LINES = 200


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("fakens_zones", "zone files or directories that fakens_server and fakens_shared_server serve "
                  "when no fakens marker says otherwise", type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "fakens(zones=[...], **options): zones and Server options for the fakens_server fixture")


def _track(request: pytest.FixtureRequest, server: Server) -> Server:
    request.node.stash.setdefault(_SERVERS, []).append(server)
    return server


def _save_logs(request: pytest.FixtureRequest, servers: Sequence[Server]) -> None:
    """Keep the test's queries for its report before the servers are reset."""
    saved = request.node.stash.setdefault(_SAVED_LOGS, {})
    for server in servers:
        saved[id(server)] = list(server.log)


def _check_errors(servers: Sequence[Server]) -> None:
    problems = []
    for server in servers:
        for error in server.errors:
            problems.append(f"server {server.name}: " + "".join(traceback.format_exception(error)))
    if problems:
        pytest.fail("an exception was raised inside a fake server during the test:\n" + "\n".join(problems),
                    pytrace=False)


def _as_zone_list(value: Any, where: str) -> list[Any]:
    """Zones from a marker: a list or tuple, or one zone (a path or zone text)."""
    if isinstance(value, (str, os.PathLike)) or not isinstance(value, (list, tuple)):
        return [value]
    return list(value)


def _marker_options(request: pytest.FixtureRequest, default_zones: Sequence[Any]) -> dict[str, Any]:
    """Server options from every ``fakens`` marker on the test, its class and module:
    the closest marker wins for each key (a module's zones, a test's nsid ...)."""
    options: dict[str, Any] = {}
    for marker in request.node.iter_markers("fakens"):  # closest first
        found = dict(marker.kwargs)
        if marker.args:
            if "zones" in found:
                pytest.fail(f"@pytest.mark.fakens on {request.node.nodeid}: zones given both as the first argument "
                            f"and as zones=...; give them once", pytrace=False)
            if len(marker.args) > 1:
                pytest.fail(f"@pytest.mark.fakens on {request.node.nodeid}: one positional argument (the zones) at "
                            f"most; give the other options by name", pytrace=False)
            found["zones"] = marker.args[0]
        for key, value in found.items():
            options.setdefault(key, value)
    zones = _as_zone_list(options.pop("zones"), "zones") if "zones" in options else list(default_zones)
    options["zones"] = [_resolve_path(request, z) for z in zones]
    options.setdefault("listen", ["127.0.0.1:0"])
    options.setdefault("name", request.node.name[:60])
    return options


def _resolve_path(request: pytest.FixtureRequest, zone: Any) -> Any:
    """A relative zone path from a marker: as given when it exists from the current
    directory, else next to the test file, else from the rootdir."""
    if not isinstance(zone, (str, os.PathLike)) or (isinstance(zone, str) and "\n" in zone):
        return zone
    path = os.fspath(zone)
    if os.path.isabs(path) or os.path.exists(path):
        return path
    for base in (os.path.dirname(str(request.node.path)), str(request.config.rootpath)):
        candidate = os.path.join(base, path)
        if os.path.exists(candidate):
            return candidate
    return path


@pytest.fixture(scope="session")
def fakens_zones(pytestconfig: pytest.Config) -> list[Any]:
    """The zones servers get when no marker says otherwise (override in a conftest)."""
    root = str(pytestconfig.rootpath)
    return [p if os.path.isabs(p) else os.path.join(root, p) for p in pytestconfig.getini("fakens_zones")]


@pytest.fixture
def fakens_servers(request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """A factory of running servers: ``fakens_servers(zones, **options)``; all stop after the test."""
    servers: list[Server] = []

    def make(zones: Sequence[Any] = (), **options: Any) -> Server:
        options.setdefault("listen", ["127.0.0.1:0"])
        options.setdefault("name", f"{request.node.name[:50]}-{len(servers) + 1}")
        server = Server(zones, **options)
        server.start()
        servers.append(server)
        return _track(request, server)

    yield make
    for server in servers:
        server.stop()
        server.log.close()  # the log file, if any
    _save_logs(request, servers)
    try:
        _check_errors(servers)
    finally:
        for server in servers:
            server.reset()  # Zone objects given to it (a marker, fakens_zones) go back as loaded


@pytest.fixture
def fakens_server(request: pytest.FixtureRequest, fakens_zones: list[Any],
                  fakens_servers: Callable[..., Server]) -> Server:
    """A running server on 127.0.0.1 (a free port); zones from the fakens marker or fakens_zones."""
    options = _marker_options(request, fakens_zones)
    return fakens_servers(options.pop("zones"), **options)


@pytest.fixture
def fakens_resolver(request: pytest.FixtureRequest) -> Any:
    """A dnspython stub resolver that asks ``fakens_server`` (or ``fakens_shared_server``
    when the test uses that one)."""
    name = "fakens_shared_server" if "fakens_shared_server" in request.fixturenames else "fakens_server"
    server: Server = request.getfixturevalue(name)
    return resolver_for(server)


@pytest.fixture(scope="session")
def _fakens_session_server(fakens_zones: list[Any]) -> Iterator[Server]:
    if not fakens_zones:
        pytest.fail("fakens_shared_server has no zones: set the fakens_zones ini option (a list of zone files or "
                    "directories) or override the session-scoped fakens_zones fixture in a conftest", pytrace=False)
    server = Server(fakens_zones, listen=["127.0.0.1:0"], name="fakens-shared")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fakens_shared_server(request: pytest.FixtureRequest, _fakens_session_server: Server) -> Iterator[Server]:
    """The session's shared server, reset (faults, log, zone edits) after each test."""
    server = _fakens_session_server
    _track(request, server)
    yield server
    errors = list(server.errors)
    _save_logs(request, [server])
    server.reset()
    if not server.running:  # the test stopped it ("the server is down"): the next test gets it running
        server.start()
    if errors:
        server.errors.extend(errors)
        try:
            _check_errors([server])
        finally:
            server.errors.clear()


@pytest.fixture
def fakens_hierarchy(request: pytest.FixtureRequest) -> Iterator[Callable[..., Hierarchy]]:
    """A factory: ``fakens_hierarchy(zones, tld_servers=1, **server_options) -> Hierarchy`` (started)."""
    built: list[Hierarchy] = []

    def make(zones: Sequence[Any], **options: Any) -> Hierarchy:
        try:
            hierarchy = build_hierarchy(zones, **options)
            hierarchy.start()
        except ServerError as e:
            pytest.fail(str(e), pytrace=False)
        built.append(hierarchy)
        for server in hierarchy.servers.values():
            _track(request, server)
        return hierarchy

    yield make
    for hierarchy in built:
        hierarchy.stop()
    _check_errors([s for h in built for s in h.servers.values()])


@pytest.fixture
def fakens_lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LabRun]]:
    """A factory: ``fakens_lab("io-outage", fix=False, time_scale=1.0, **server_options) -> LabRun``
    (started): a shipped lab by name (``fakens lab list``) or a scenario file, with
    ``.hierarchy`` (its servers), ``.config_dir`` (unbound.conf, named.conf) and ``.expect``
    (the symptom table). Port 53 like ``fakens_hierarchy``."""
    started: list[LabRun] = []

    def make(name_or_path: str | os.PathLike[str], **options: Any) -> LabRun:
        path = name_or_path
        if isinstance(name_or_path, str) and not os.path.exists(name_or_path) and name_or_path.endswith(".toml"):
            path = _resolve_path(request, name_or_path)
        try:
            lab = start_lab(path, str(tmp_path_factory.mktemp("lab")), **options)
        except (ServerError, ConfigError) as e:
            pytest.fail(str(e), pytrace=False)
        started.append(lab)
        for server in lab.hierarchy.servers.values():
            _track(request, server)
        return lab

    yield make
    for lab in started:
        lab.stop()
    _check_errors([s for lab in started for s in lab.hierarchy.servers.values()])


@pytest.fixture
def fakens_unbound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Unbound]]:
    """A factory: ``fakens_unbound(hierarchy, qname_minimisation=True) -> Unbound`` with
    ``.resolver`` (a dnspython stub), ``.control(*args)``, ``.flush()``; skips if unbound is missing."""
    started: list[Unbound] = []

    def make(hierarchy: Hierarchy, **options: Any) -> Unbound:
        try:
            unbound = start_unbound(hierarchy, str(tmp_path_factory.mktemp("unbound")), **options)
        except FileNotFoundError:
            pytest.skip("unbound is not installed (Debian: apt-get install unbound)")
        started.append(unbound)
        return unbound

    yield make
    for unbound in started:
        unbound.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        saved = item.stash.get(_SAVED_LOGS, {})
        for server in item.stash.get(_SERVERS, []):
            entries = saved.get(id(server)) or list(server.log)
            shown = entries[-LOG_LINES:]
            text = "\n".join(str(e) for e in shown) or "(no queries)"
            where = ", ".join(str(e) for e in server.endpoints) or "stopped"
            count = f"last {len(shown)} of {len(entries)} queries" if len(entries) > len(shown) else f"{len(entries)} queries"
            report.sections.append((f"fakens query log: {server.name} ({where}; {count})", text))
    if report.when == "teardown":  # the test is over: let its servers (and their logs) go
        item.stash[_SERVERS] = []
        item.stash[_SAVED_LOGS] = {}
    return report


def _test_loop_scope(request: pytest.FixtureRequest) -> str:
    """The scope of the event loop the requesting async test runs in (pytest-asyncio)."""
    marker = request.node.get_closest_marker("asyncio")
    scope = None
    if marker is not None:
        scope = marker.kwargs.get("loop_scope") or marker.kwargs.get("scope")
    if not scope:
        try:
            scope = request.config.getini("asyncio_default_test_loop_scope")
        except ValueError:
            scope = None
    return str(scope or "function")


def _require_async_test(request: pytest.FixtureRequest, fixture: str) -> None:
    if not inspect.iscoroutinefunction(getattr(request.node, "function", None)):
        pytest.fail(f"{fixture} runs its servers in the test's event loop: use it in an async test "
                    f"(pytest-asyncio), or use fakens_server / fakens_servers in a plain test", pytrace=False)


try:
    import pytest_asyncio
except ImportError:  # the async fixtures say what they need

    @pytest.fixture
    def async_fakens_servers() -> Any:
        pytest.fail("async_fakens_servers needs pytest-asyncio: pip install pytest-asyncio", pytrace=False)

    @pytest.fixture
    def async_fakens_server() -> Any:
        pytest.fail("async_fakens_server needs pytest-asyncio: pip install pytest-asyncio", pytrace=False)

else:
    LoopScope = Literal["function", "class", "module", "package", "session"]
    _LOOP_SCOPES: tuple[LoopScope, ...] = ("function", "class", "module", "package", "session")

    async def _start(request: pytest.FixtureRequest, made: list[Server], zones: Sequence[Any],
                     options: dict[str, Any]) -> Server:
        options.setdefault("listen", ["127.0.0.1:0"])
        options.setdefault("name", f"{request.node.name[:50]}-{len(made) + 1}")
        server = Server(zones, **options)
        await server.astart()
        made.append(server)
        return _track(request, server)

    async def _stop(request: pytest.FixtureRequest, made: list[Server]) -> None:
        for server in made:
            await server.astop()
            server.log.close()
        _save_logs(request, made)
        try:
            _check_errors(made)
        finally:
            for server in made:
                server.reset()

    def _async_servers_fixture(loop_scope: LoopScope) -> Any:
        @pytest_asyncio.fixture(loop_scope=loop_scope)
        async def servers(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
            made: list[Server] = []

            async def make(zones: Sequence[Any] = (), **options: Any) -> Server:
                return await _start(request, made, zones, options)

            yield make
            await _stop(request, made)

        return servers

    def _async_server_fixture(loop_scope: LoopScope) -> Any:
        @pytest_asyncio.fixture(loop_scope=loop_scope)
        async def server(request: pytest.FixtureRequest, fakens_zones: list[Any]) -> AsyncIterator[Server]:
            made: list[Server] = []
            options = _marker_options(request, fakens_zones)
            zones = options.pop("zones")
            yield await _start(request, made, zones, options)
            await _stop(request, made)

        return server

    # One variant per loop scope: the public fixtures pick the one of the test's own loop.
    for _scope in _LOOP_SCOPES:
        globals()[f"_fakens_async_servers_{_scope}"] = _async_servers_fixture(_scope)
        globals()[f"_fakens_async_server_{_scope}"] = _async_server_fixture(_scope)

    @pytest.fixture
    def async_fakens_servers(request: pytest.FixtureRequest) -> Callable[..., Any]:
        """A factory of servers running in the test's own event loop: ``await async_fakens_servers(zones)``."""
        _require_async_test(request, "async_fakens_servers")
        factory: Callable[..., Any] = request.getfixturevalue(f"_fakens_async_servers_{_test_loop_scope(request)}")
        return factory

    @pytest.fixture
    def async_fakens_server(request: pytest.FixtureRequest) -> Server:
        """``fakens_server`` for async tests: the server runs in the test's own event loop."""
        _require_async_test(request, "async_fakens_server")
        server: Server = request.getfixturevalue(f"_fakens_async_server_{_test_loop_scope(request)}")
        return server
