"""Opening and migrating the SQLite database.

Every connection runs in WAL mode with a generous busy timeout, so several worker
processes can write at once; every multi-row write goes through ``transaction`` which
takes the write lock up front (``BEGIN IMMEDIATE``) so two writers never deadlock on a
lock upgrade and a report is stored whole or not at all.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from typing import Iterator

import sqlite_utils

SCHEMA_VERSION = 1

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Kibana's legacy ui-metric saved objects: id "ui-metric:<app>:<event>", types summed.
CREATE TABLE IF NOT EXISTS ui_metric (
    id TEXT PRIMARY KEY,
    app_name TEXT NOT NULL,
    event_name TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL
);
-- Kibana's usage-counter saved objects: UI counters (source 'ui', domain = app name)
-- and server usage counters (source 'server'), one row per counter per UTC day.
CREATE TABLE IF NOT EXISTS usage_counters (
    domain_id TEXT NOT NULL,
    counter_name TEXT NOT NULL,
    counter_type TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('ui', 'server')),
    day TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (domain_id, counter_name, counter_type, source, day)
);
CREATE INDEX IF NOT EXISTS usage_counters_source_day ON usage_counters (source, day);
-- Kibana's application_usage_daily: minutes on screen and clicks per (app, view, UTC day).
CREATE TABLE IF NOT EXISTS application_usage_daily (
    app_id TEXT NOT NULL,
    view_id TEXT NOT NULL,
    day TEXT NOT NULL,
    minutes_on_screen REAL NOT NULL DEFAULT 0,
    number_of_clicks INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, view_id, day)
);
CREATE INDEX IF NOT EXISTS application_usage_daily_day ON application_usage_daily (day);
-- Kibana's application_usage_totals: days older than the retention window, summed.
CREATE TABLE IF NOT EXISTS application_usage_totals (
    app_id TEXT NOT NULL,
    view_id TEXT NOT NULL,
    minutes_on_screen REAL NOT NULL DEFAULT 0,
    number_of_clicks INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, view_id)
);
CREATE TABLE IF NOT EXISTS user_agents (
    key TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    reports INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, user_agent)
);
-- reportIds already stored, so a report delivered twice (beacon + retry) counts once.
CREATE TABLE IF NOT EXISTS reports_seen (
    report_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_seen_received_at ON reports_seen (received_at);
-- The deployment's telemetry state (one row, id 'telemetry'), like Kibana's telemetry SO.
CREATE TABLE IF NOT EXISTS telemetry_state (
    id TEXT PRIMARY KEY CHECK (id = 'telemetry'),
    enabled INTEGER,
    last_version_checked TEXT,
    last_reported INTEGER,
    user_has_seen_notice INTEGER NOT NULL DEFAULT 0,
    report_failure_count INTEGER NOT NULL DEFAULT 0,
    report_failure_version TEXT
);
-- Snapshots received by a deployment acting as a telemetry intake.
CREATE TABLE IF NOT EXISTS telemetry_snapshots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_uuid TEXT NOT NULL,
    received_at TEXT NOT NULL,
    day TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telemetry_snapshots_instance_day ON telemetry_snapshots (instance_uuid, day);
-- Opt-in status changes reported to a deployment acting as a telemetry intake.
CREATE TABLE IF NOT EXISTS telemetry_opt_in_status (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_uuid TEXT NOT NULL,
    received_at TEXT NOT NULL,
    opt_in_status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS telemetry_opt_in_status_instance ON telemetry_opt_in_status (instance_uuid, received_at);
-- Abuse limits (limits.py): report requests per client per minute window, and keys
-- (counter, view, user agent names) each client created per UTC day. Old rows are pruned.
CREATE TABLE IF NOT EXISTS client_requests (
    window_start INTEGER NOT NULL,
    client TEXT NOT NULL,
    requests INTEGER NOT NULL,
    PRIMARY KEY (window_start, client)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS client_new_keys (
    day TEXT NOT NULL,
    client TEXT NOT NULL,
    new_keys INTEGER NOT NULL,
    PRIMARY KEY (day, client)
) WITHOUT ROWID;
"""


def connect(path: str) -> sqlite_utils.Database:
    """A connection ready for concurrent use: WAL, busy timeout, autocommit outside transactions."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 30000")
    _ensure_wal(conn)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return sqlite_utils.Database(conn)


def _ensure_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch a new file to WAL. The switch ignores busy_timeout, so two gunicorn workers
    opening a brand-new file at once can see "database is locked": retry briefly. A file
    already in WAL (the usual case) costs one read."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """All-or-nothing write: commit on success, roll back on any exception."""
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def migrate(db: sqlite_utils.Database) -> None:
    """Create or upgrade the tables; safe to run from several processes at once."""
    with transaction(db):
        current = db.conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"database schema version {current} is newer than this usage-collection "
                f"({SCHEMA_VERSION}); upgrade the package or use another USAGE_DB file"
            )
        for statement in _TABLES.split(";"):
            if statement.strip():
                db.conn.execute(statement)
        db.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
