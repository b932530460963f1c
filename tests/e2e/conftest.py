"""Fixtures for the browser end-to-end tests: a real server and pages driven in Chromium.

- ``runtime``: the Python runtime a test page asks for (``data-runtime``). Every test that
  uses it runs once per runtime; add one to ``RUNTIMES`` and the suite covers it.
- ``e2e_server``: one ``usage-collection serve`` process for the session, with the demo on
  and the pages of ``tests/e2e/pages`` served at ``/e2e/<name>`` (``E2E_TEST_PAGES_DIR``;
  ``{{name|default}}`` in a page is filled from the query string). Tests share it and keep
  apart by using their own app names (``app_name``).
- ``usage_page``: a ``UsagePage`` on a fresh browser context (fresh localStorage) that
  fails the test on any uncaught error or unexpected console error.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Page

from e2e.usage_pages import PAGES, UsagePage
from support.live_server import LiveServer
from support.postgres import BACKENDS

RUNTIMES = ["brython", "pyodide"]


def server_env(**extra: str) -> dict[str, str]:
    """What every end-to-end server gets: the test pages, a short flush interval, the demo."""
    return {"E2E_TEST_PAGES_DIR": str(PAGES), "USAGE_FLUSH_INTERVAL_S": "1", "USAGE_ROLLUP_INTERVAL_S": "0",
            **extra}


def wait_for_snapshot(server: LiveServer, timeout: float = 120.0) -> str:
    """The server's Pyodide snapshot URL once its background build is done (~5 s on a first
    start, when the build cache is empty), so Pyodide pages start the way visitors' do."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(server.url + "/usage/pyodide-info.json", timeout=5) as response:
            url = json.load(response)["snapshotURL"]
        if url:
            return url
        if time.monotonic() > deadline:
            raise AssertionError(f"no Pyodide snapshot after {timeout} s:\n{server.log()}")
        time.sleep(0.2)


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def e2e_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The server most browser tests share. It keeps its data in PostgreSQL (when the run tests
    that backend), so the browser suite runs against PostgreSQL once; the tests that start
    their own server (``own_server``) use SQLite files, the embedded default."""
    folder = tmp_path_factory.mktemp("e2e")
    database = (request.getfixturevalue("postgres_cluster").new_database() if "postgresql" in BACKENDS
                else folder / "e2e.db")
    server = LiveServer(database, env=server_env(), demo=True, log_path=folder / "e2e.log").start()
    wait_for_snapshot(server)
    yield server
    server.stop()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``own_server(demo=False, **env)``: a started server of the test's own (to stop it, or
    for other settings)."""
    servers: list[LiveServer] = []

    def start(demo: bool = False, **env: str) -> LiveServer:
        server = LiveServer(tmp_path / f"own{len(servers)}.db", env=server_env(**env), demo=demo)
        servers.append(server.start())
        if env.get("USAGE_PYODIDE_SNAPSHOT", "true") != "false" and "USAGE_NODE_MODULES" not in env:
            wait_for_snapshot(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def app_name(request: pytest.FixtureRequest) -> str:
    """An app name no other test uses, so tests can share one server and database."""
    name = request.node.name.removeprefix("test_").replace("-chromium", "")
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[-80:]


@pytest.fixture
def watch_page(runtime: str) -> Iterator[Callable[[Page, str], UsagePage]]:
    """``watch_page(page, base_url)``: a UsagePage whose errors fail the test at teardown."""
    watched: list[UsagePage] = []

    def watch(page: Page, base_url: str) -> UsagePage:
        watched.append(UsagePage(page, base_url, runtime))
        return watched[-1]

    yield watch
    problems = [problem for usage in watched for problem in usage.unexpected_problems()]
    assert not problems, "the page saw errors:\n" + "\n".join(problems)


@pytest.fixture
def usage_page(page: Page, e2e_server: LiveServer, watch_page: Callable[[Page, str], UsagePage]) -> UsagePage:
    return watch_page(page, e2e_server.url)
