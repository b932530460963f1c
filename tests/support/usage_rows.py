"""Rows written straight into the aggregate tables, and a settable clock, for collector,
rollup, stats and CLI tests (the receiver's own tests go through the report route)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from usage_collection.storage import Storage, open_storage

NOW = datetime(2025, 4, 10, 12, 0, 0, tzinfo=timezone.utc)


class Clock:
    """A clock tests move by hand: ``clock()`` returns ``clock.now``."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def day(days_ago: int, now: datetime = NOW) -> str:
    return (now - timedelta(days=days_ago)).date().isoformat()


def open_db(url: str) -> Storage:
    db = open_storage(str(url))
    db.migrate()
    return db


def add_counter(db: Storage, domain: str, name: str, *, kind: str = "count", source: str = "ui",
                on: str, count: int = 1, updated_at: str | None = None) -> None:
    db.execute(
        "INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", (domain, name, kind, source, on, count, updated_at or f"{on}T10:00:00.000Z"))


def add_ui_metric(db: Storage, app: str, event: str, count: int) -> None:
    db.execute("INSERT INTO ui_metric (id, app_name, event_name, count, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (f"ui-metric:{app}:{event}", app, event, count, "2025-04-10T10:00:00.000Z"))


def add_user_agent(db: Storage, key: str, user_agent: str) -> None:
    db.execute("INSERT INTO user_agents (key, user_agent, first_seen, last_seen, reports) VALUES (?, ?, ?, ?, 1)",
                    (key, user_agent, "2025-04-10T10:00:00.000Z", "2025-04-10T10:00:00.000Z"))


def add_app_usage(db: Storage, app: str, view: str, on: str, minutes: float, clicks: int) -> None:
    db.execute(
        "INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, number_of_clicks, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?)", (app, view, on, minutes, clicks, f"{on}T10:00:00.000Z"))


def add_app_total(db: Storage, app: str, view: str, minutes: float, clicks: int) -> None:
    db.execute(
        "INSERT INTO application_usage_totals (app_id, view_id, minutes_on_screen, number_of_clicks, updated_at) "
        "VALUES (?, ?, ?, ?, ?)", (app, view, minutes, clicks, "2025-01-01T00:00:00.000Z"))


def usage_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("usage-collection-") and "is-ready" not in t.name
            and "group-commit" not in t.name}  # the writer ends by itself when idle (group_commit.py)


@pytest.fixture
def no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a flush or rollup thread running."""
    before = usage_threads()
    yield
    leaked = usage_threads() - before
    assert not leaked, f"threads left running: {sorted(t.name for t in leaked)}"


@pytest.fixture
def db(storage: Storage) -> Iterator[Storage]:
    """The test's migrated storage (each backend in turn), to write rows into."""
    yield storage
