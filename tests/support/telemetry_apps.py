"""Fixtures for the telemetry and admin-page tests: apps with their own settings and a clock the
test moves (each folder's conftest.py imports them)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from support.usage_rows import Clock
from usage_collection import UsageCollection
from usage_collection.storage import open_storage

START = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
XSRF = {"kbn-xsrf": "test"}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def make_app(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock,
             db_url: str) -> Iterator[Callable[..., Flask]]:
    """``make_app(USAGE_X=...)``: a fresh app on this test's database (the same one each call,
    so a second app plays the same deployment after a restart or upgrade); another
    ``db_name`` is another deployment's database, on the same backend."""
    apps: list[Flask] = []
    urls = {"telemetry.db": db_url}

    def url_of(db_name: str) -> str:
        if db_name not in urls:
            urls[db_name] = (request.getfixturevalue("postgres_cluster").new_database()
                             if db_url.startswith("postgresql://") else str(tmp_path / db_name))
        return urls[db_name]

    def build(db_name: str = "telemetry.db", **config: Any) -> Flask:
        app = Flask("telemetry_test")
        app.config.update({"TESTING": True, "USAGE_DB": url_of(db_name), "USAGE_ROLLUP_INTERVAL_S": 0,
                           **config})
        UsageCollection(app, clock=clock)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["usage_collection"].close()


@pytest.fixture
def app(make_app) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask):
    return app.test_client()


def table_rows(db_url: str | Path, table: str) -> list[tuple]:
    storage = open_storage(str(db_url))
    try:
        return storage.query(f'SELECT * FROM "{table}"')
    finally:
        storage.close()


@pytest.fixture
def rows() -> Callable[[Flask, str], list[tuple]]:
    """``rows(app, table)``: every row of a table of that app's database."""
    return lambda app, table: table_rows(app.config["USAGE_DB"], table)
