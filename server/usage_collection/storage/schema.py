"""The tables, for both engines, and the migrations between schema versions.

The DDL is written once with three placeholders, ``{bigint}`` (SQLite's INTEGER is 64
bits, PostgreSQL's is 32), ``{double}`` and ``{serial}`` (an auto-increment key). The
version lives in ``schema_version`` (one row); SQLite files made before it have
``PRAGMA user_version = 1`` instead and are taken up from there. Migrating takes the
database's write lock (SQLite's ``BEGIN IMMEDIATE``, an advisory lock on PostgreSQL), so
several processes or hosts starting at once against one empty database each see either
nothing or the whole schema.
"""

from __future__ import annotations

from .connection import INT64_MAX, Conn

SCHEMA_VERSION = 3
MIGRATION_LOCK = 727_001  # pg_advisory_xact_lock key: any constant of ours

_V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- Kibana's legacy ui-metric saved objects: id "ui-metric:<app>:<event>", types summed.
CREATE TABLE IF NOT EXISTS ui_metric (
    id TEXT PRIMARY KEY,
    app_name TEXT NOT NULL,
    event_name TEXT NOT NULL,
    count {bigint} NOT NULL DEFAULT 0,
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
    count {bigint} NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (domain_id, counter_name, counter_type, source, day)
);
CREATE INDEX IF NOT EXISTS usage_counters_source_day ON usage_counters (source, day);
-- Kibana's application_usage_daily: minutes on screen and clicks per (app, view, UTC day).
CREATE TABLE IF NOT EXISTS application_usage_daily (
    app_id TEXT NOT NULL,
    view_id TEXT NOT NULL,
    day TEXT NOT NULL,
    minutes_on_screen {double} NOT NULL DEFAULT 0,
    number_of_clicks {bigint} NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, view_id, day)
);
CREATE INDEX IF NOT EXISTS application_usage_daily_day ON application_usage_daily (day);
-- Kibana's application_usage_totals: days older than the retention window, summed.
CREATE TABLE IF NOT EXISTS application_usage_totals (
    app_id TEXT NOT NULL,
    view_id TEXT NOT NULL,
    minutes_on_screen {double} NOT NULL DEFAULT 0,
    number_of_clicks {bigint} NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (app_id, view_id)
);
CREATE TABLE IF NOT EXISTS user_agents (
    key TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    reports {bigint} NOT NULL DEFAULT 0,
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
    last_reported {bigint},
    user_has_seen_notice INTEGER NOT NULL DEFAULT 0,
    report_failure_count INTEGER NOT NULL DEFAULT 0,
    report_failure_version TEXT
);
-- Snapshots received by a deployment acting as a telemetry intake.
CREATE TABLE IF NOT EXISTS telemetry_snapshots (
    id {serial},
    instance_uuid TEXT NOT NULL,
    received_at TEXT NOT NULL,
    day TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS telemetry_snapshots_instance_day ON telemetry_snapshots (instance_uuid, day);
-- Opt-in status changes reported to a deployment acting as a telemetry intake.
CREATE TABLE IF NOT EXISTS telemetry_opt_in_status (
    id {serial},
    instance_uuid TEXT NOT NULL,
    received_at TEXT NOT NULL,
    opt_in_status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS telemetry_opt_in_status_instance ON telemetry_opt_in_status (instance_uuid, received_at);
-- Abuse limits (limits.py): report requests per client per minute window, and keys
-- (counter, view, user agent names) each client created per UTC day. Old rows are pruned.
CREATE TABLE IF NOT EXISTS client_requests (
    window_start {bigint} NOT NULL,
    client TEXT NOT NULL,
    requests {bigint} NOT NULL,
    PRIMARY KEY (window_start, client)
);
CREATE TABLE IF NOT EXISTS client_new_keys (
    day TEXT NOT NULL,
    client TEXT NOT NULL,
    new_keys {bigint} NOT NULL,
    PRIMARY KEY (day, client)
);
"""

# Version 2: the caps of the open internet (issue 11) and scale-out (issue 10).
_V2 = """
ALTER TABLE telemetry_snapshots ADD COLUMN client TEXT NOT NULL DEFAULT '';
ALTER TABLE telemetry_snapshots ADD COLUMN bytes {bigint} NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS telemetry_snapshots_client_day ON telemetry_snapshots (client, day);
CREATE INDEX IF NOT EXISTS user_agents_key_last_seen ON user_agents (key, last_seen);
-- New names (apps, events, views, user agents) created per UTC day by all clients together.
CREATE TABLE IF NOT EXISTS daily_new_names (
    day TEXT PRIMARY KEY,
    names {bigint} NOT NULL
);
-- Data telemetry tasks (data_tasks.py): each periodic task's schedule, claim and saved result.
CREATE TABLE IF NOT EXISTS data_tasks (
    name TEXT PRIMARY KEY,
    interval_s {double} NOT NULL,
    next_run_at TEXT NOT NULL,
    claimed_by TEXT,
    runs {bigint} NOT NULL DEFAULT 0,
    result TEXT,
    result_at TEXT,
    took_ms {double},
    last_run_at TEXT,
    last_error TEXT,
    last_error_at TEXT
);
-- Dashboard: the per-app and per-event sums read (source, day, app) without the table.
CREATE INDEX IF NOT EXISTS usage_counters_dashboard
    ON usage_counters (source, day, domain_id, counter_name, counter_type, count);
"""

# Version 3, PostgreSQL only: an increment is a HOT update (its new row version stays on its
# page and no index is written). An index holding a column an increment changes (count,
# last_seen) made every increment of a hot row write a new entry into each of its table's
# indexes, and they bloated with dead entries between vacuums: in bench/receiver.py's phase
# PostgreSQL spent 380-525 µs of CPU a report instead of 450-630, and upserting
# usage_counters took about 3 µs a row instead of 22 (EXPLAIN ANALYZE, a batch of one).
# The dashboard reads the same keys by day; the least-recently-seen cap reads a key's
# agents (at most its cap) through the primary key. SQLite updates a row in place, so its
# covering index costs little and is kept.
_V3_POSTGRESQL = """
CREATE INDEX IF NOT EXISTS usage_counters_keys_by_day
    ON usage_counters (source, day, domain_id, counter_name, counter_type);
DROP INDEX IF EXISTS usage_counters_dashboard;
DROP INDEX IF EXISTS usage_counters_source_day;
DROP INDEX IF EXISTS user_agents_key_last_seen;
"""

# Counts a version 1 SQLite file may hold as REAL after an int64 overflow: saturated.
_V2_SQLITE_FIXES = [
    f"UPDATE {table} SET {column} = {INT64_MAX} WHERE typeof({column}) = 'real'"
    for table, column in (("ui_metric", "count"), ("usage_counters", "count"),
                          ("application_usage_daily", "number_of_clicks"),
                          ("application_usage_totals", "number_of_clicks"), ("user_agents", "reports"))
]

_TYPES = {
    "sqlite": {"bigint": "INTEGER", "double": "REAL", "serial": "INTEGER PRIMARY KEY AUTOINCREMENT"},
    "postgresql": {"bigint": "BIGINT", "double": "DOUBLE PRECISION", "serial": "BIGSERIAL PRIMARY KEY"},
}

TABLES = ("meta", "ui_metric", "usage_counters", "application_usage_daily", "application_usage_totals",
          "user_agents", "reports_seen", "telemetry_state", "telemetry_snapshots", "telemetry_opt_in_status",
          "client_requests", "client_new_keys", "daily_new_names", "data_tasks")
"""Every table, in an order that ``copy`` can load them in."""


class SchemaTooNew(RuntimeError):
    pass


def statements(ddl: str, dialect: str) -> list[str]:
    text = ddl.format(**_TYPES[dialect])
    return [part.strip() for part in text.split(";") if part.strip() and not _only_comments(part)]


def _only_comments(part: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in part.splitlines())


def migrate(conn: Conn) -> int:
    """Create or upgrade the schema to SCHEMA_VERSION; returns the version found before."""
    with conn.transaction():
        if conn.dialect == "postgresql":
            conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = conn.one("SELECT MAX(version) FROM schema_version")
        if current is None:
            current = conn.one("PRAGMA user_version") if conn.dialect == "sqlite" else 0
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", [current])
        if current > SCHEMA_VERSION:
            raise SchemaTooNew(f"database schema version {current} is newer than this usage-collection "
                               f"({SCHEMA_VERSION}); upgrade the package or use another USAGE_DB")
        if current < 1:
            for statement in statements(_V1, conn.dialect):
                conn.execute(statement)
        if current < 2:
            for statement in statements(_V2, conn.dialect):
                conn.execute(statement)
            if conn.dialect == "sqlite":
                for statement in _V2_SQLITE_FIXES:
                    conn.execute(statement)
        if current < 3 and conn.dialect == "postgresql":
            for statement in statements(_V3_POSTGRESQL, conn.dialect):
                conn.execute(statement)
        if current < SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = ?", [SCHEMA_VERSION])
            if conn.dialect == "sqlite":
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    return current
