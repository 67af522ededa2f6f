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
- ``fakens_unbound``: a factory starting unbound in front of a hierarchy.

When a test fails, the query logs of the servers it used are attached to the
report; an exception raised inside a server during a test fails the test at
teardown with its traceback.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import Any, Literal

import pytest

from fakens.errors import ServerError
from fakens.lab import Hierarchy, build_hierarchy
from fakens.server import Server
from fakens.testing import Unbound, resolver_for, start_unbound

_SERVERS = pytest.StashKey[list[Server]]()
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


def _check_errors(servers: Sequence[Server]) -> None:
    problems = []
    for server in servers:
        for error in server.errors:
            problems.append(f"server {server.name}: " + "".join(traceback.format_exception(error)))
    if problems:
        pytest.fail("an exception was raised inside a fake server during the test:\n" + "\n".join(problems),
                    pytrace=False)


def _marker_options(request: pytest.FixtureRequest, default_zones: Sequence[Any]) -> dict[str, Any]:
    marker = request.node.get_closest_marker("fakens")
    options: dict[str, Any] = {"zones": list(default_zones)}
    if marker is not None:
        if marker.args:
            options["zones"] = list(marker.args[0]) if isinstance(marker.args[0], (list, tuple)) else list(marker.args)
        options.update(marker.kwargs)
        options["zones"] = [_resolve_path(request, z) for z in options["zones"]]
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
    _check_errors(servers)


@pytest.fixture
def fakens_server(request: pytest.FixtureRequest, fakens_zones: list[Any],
                  fakens_servers: Callable[..., Server]) -> Server:
    """A running server on 127.0.0.1 (a free port); zones from the fakens marker or fakens_zones."""
    options = _marker_options(request, fakens_zones)
    return fakens_servers(options.pop("zones"), **options)


@pytest.fixture
def fakens_resolver(fakens_server: Server) -> Any:
    """A dnspython stub resolver that asks ``fakens_server``."""
    return resolver_for(fakens_server)


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
    server.reset()
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
    if report.when == "setup" or not report.failed:
        return report
    for server in item.stash.get(_SERVERS, []):
        entries = list(server.log)[-LOG_LINES:]
        text = "\n".join(str(e) for e in entries) or "(no queries)"
        where = ", ".join(str(e) for e in server.endpoints)
        report.sections.append((f"fakens query log: {server.name} ({where})", text))
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


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - async fixtures need pytest-asyncio
    pass
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

    async def _stop(made: list[Server]) -> None:
        for server in made:
            await server.astop()
        _check_errors(made)

    def _async_servers_fixture(loop_scope: LoopScope) -> Any:
        @pytest_asyncio.fixture(loop_scope=loop_scope)
        async def servers(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Any]]:
            made: list[Server] = []

            async def make(zones: Sequence[Any] = (), **options: Any) -> Server:
                return await _start(request, made, zones, options)

            yield make
            await _stop(made)

        return servers

    def _async_server_fixture(loop_scope: LoopScope) -> Any:
        @pytest_asyncio.fixture(loop_scope=loop_scope)
        async def server(request: pytest.FixtureRequest, fakens_zones: list[Any]) -> AsyncIterator[Server]:
            made: list[Server] = []
            options = _marker_options(request, fakens_zones)
            zones = options.pop("zones")
            yield await _start(request, made, zones, options)
            await _stop(made)

        return server

    # One variant per loop scope: the public fixtures pick the one of the test's own loop.
    for _scope in _LOOP_SCOPES:
        globals()[f"_fakens_async_servers_{_scope}"] = _async_servers_fixture(_scope)
        globals()[f"_fakens_async_server_{_scope}"] = _async_server_fixture(_scope)

    @pytest.fixture
    def async_fakens_servers(request: pytest.FixtureRequest) -> Callable[..., Any]:
        """A factory of servers running in the test's own event loop: ``await async_fakens_servers(zones)``."""
        factory: Callable[..., Any] = request.getfixturevalue(f"_fakens_async_servers_{_test_loop_scope(request)}")
        return factory

    @pytest.fixture
    def async_fakens_server(request: pytest.FixtureRequest) -> Server:
        """``fakens_server`` for async tests: the server runs in the test's own event loop."""
        server: Server = request.getfixturevalue(f"_fakens_async_server_{_test_loop_scope(request)}")
        return server
