"""Shared fixtures: an app on each backend (a temp SQLite file, a throwaway PostgreSQL
database), its test client, and a real server process.

``db_url`` is parametrized over both backends, so every test that uses it (or ``app``,
``client``, ``storage``) runs once on SQLite and once on PostgreSQL, with one test body.
Set ``USAGE_TEST_BACKENDS=sqlite`` to run SQLite only (a quick local run).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from support.live_server import LiveServer
from support.postgres import BACKENDS, PostgresCluster, find_bindir

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "usage.db"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster for the whole run, started on first use."""
    if find_bindir() is None:
        pytest.fail("PostgreSQL's server is not installed: run scripts/setup (or set USAGE_TEST_BACKENDS=sqlite)")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """The test's database on each backend: a SQLite file path, or a new PostgreSQL database's URL."""
    if request.param == "sqlite":
        return str(db_path)
    return request.getfixturevalue("postgres_cluster").new_database()


@pytest.fixture
def storage(db_url: str):
    """A migrated ``Storage`` on the test's database, closed afterwards."""
    from usage_collection.storage import open_storage

    opened = open_storage(db_url)
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def app(db_url: str):
    from usage_collection import create_app

    app = create_app({"TESTING": True, "USAGE_DB": db_url, "USAGE_ROLLUP_INTERVAL_S": 0})
    yield app
    closer = getattr(app.extensions["usage_collection"], "close", None)
    if closer:
        closer()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A real ``usage-collection serve`` process on 127.0.0.1 with its own SQLite file."""
    server = LiveServer(tmp_path / "live.db").start()
    yield server
    server.stop()


@pytest.fixture
def live_server_any(tmp_path: Path, db_url: str) -> Iterator[LiveServer]:
    """A real server process on each backend (``db_url``)."""
    server = LiveServer(db_url, log_path=tmp_path / "live.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright's own browser download cannot work offline."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}
