"""Shared fixtures: an app on a temp SQLite file, its test client, and a real server process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from support.live_server import LiveServer

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "usage.db"


@pytest.fixture
def app(db_path: Path):
    from usage_collection import create_app

    app = create_app({"TESTING": True, "USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0})
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


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium: Playwright's own browser download cannot work offline."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}
