"""Fixtures for the telemetry tests: apps with their own settings and a clock the test moves."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from support.usage_rows import Clock
from usage_collection import UsageCollection

START = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
XSRF = {"kbn-xsrf": "test"}


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def make_app(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Flask]]:
    """``make_app(USAGE_X=...)``: a fresh app on this test's database (the same file each call,
    so a second app plays the same deployment after a restart or upgrade)."""
    apps: list[Flask] = []

    def build(db_name: str = "telemetry.db", **config: Any) -> Flask:
        app = Flask("telemetry_test")
        app.config.update({"TESTING": True, "USAGE_DB": str(tmp_path / db_name), "USAGE_ROLLUP_INTERVAL_S": 0,
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


def table_rows(db_path: str | Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(f'SELECT * FROM "{table}"').fetchall()
    finally:
        conn.close()


@pytest.fixture
def rows() -> Callable[[Flask, str], list[tuple]]:
    """``rows(app, table)``: every row of a table of that app's database."""
    return lambda app, table: table_rows(app.config["USAGE_DB"], table)
