"""Storing a validated report: Kibana's ``storeUiReport`` on SQLite.

One report is one ``BEGIN IMMEDIATE`` transaction, so it is stored whole or not at all,
and a ``reportId`` seen before stores nothing (a beacon and its retry count once). Every
increment is an ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n``: SQLite adds
inside the write lock, so concurrent worker processes never lose an increment. Entries
go into one multi-row upsert per table (two entries for one row add up as two reports
would), prepared before the write lock is taken, which keeps the lock short.

    stored = store_report(db, report, now=datetime.now(timezone.utc))  # False: a duplicate
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable

import sqlite_utils

from ..timeutil import iso_timestamp, utc_day
from ..validation import Report
from .db import transaction

UI_METRIC_ID_PREFIX = "ui-metric"
UI_COUNTER_SOURCE = "ui"

_SEEN = "INSERT INTO reports_seen (report_id, received_at) VALUES (?, ?) ON CONFLICT (report_id) DO NOTHING"
# One multi-row upsert per table: "VALUES (...), (...), ..." costs about half of executemany
# over the same rows. ?1 is the timestamp and ?2 the day, bound once per statement; {n} are
# a row's own values. Two rows with the same key in one statement add up like two reports.
_UPSERTS = {
    "ui_metric": (
        "INSERT INTO ui_metric (id, app_name, event_name, count, updated_at) VALUES {rows} "
        "ON CONFLICT (id) DO UPDATE SET count = count + excluded.count, updated_at = excluded.updated_at",
        "({0}, {1}, {2}, {3}, ?1)",
    ),
    "usage_counters": (
        "INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, updated_at) "
        "VALUES {rows} ON CONFLICT (domain_id, counter_name, counter_type, source, day) "
        "DO UPDATE SET count = count + excluded.count, updated_at = excluded.updated_at",
        "({0}, {1}, {2}, 'ui', ?2, {3}, ?1)",
    ),
    "application_usage_daily": (
        "INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, number_of_clicks, "
        "updated_at) VALUES {rows} ON CONFLICT (app_id, view_id, day) DO UPDATE SET "
        "minutes_on_screen = minutes_on_screen + excluded.minutes_on_screen, "
        "number_of_clicks = number_of_clicks + excluded.number_of_clicks, updated_at = excluded.updated_at",
        "({0}, {1}, ?2, {2}, {3}, ?1)",
    ),
    "user_agents": (
        "INSERT INTO user_agents (key, user_agent, first_seen, last_seen, reports) VALUES {rows} "
        "ON CONFLICT (key, user_agent) DO UPDATE SET last_seen = excluded.last_seen, reports = reports + 1",
        "({0}, {1}, ?1, ?1, 1)",
    ),
}
_WIDTH = {"ui_metric": 4, "usage_counters": 4, "application_usage_daily": 4, "user_agents": 2}
# Rows per statement: well under SQLite's bound-parameter limit, and few distinct statement
# texts for the sqlite3 module's prepared-statement cache.
_CHUNK = 64


@lru_cache(maxsize=None)
def _upsert_sql(table: str, rows: int) -> str:
    sql, group = _UPSERTS[table]
    width = _WIDTH[table]
    return sql.format(rows=", ".join(group.format(*(f"?{3 + row * width + i}" for i in range(width)))
                                     for row in range(rows)))


def _statements(table: str, values: list[Any], head: list[str]) -> list[tuple[str, list[Any]]]:
    """The upserts adding ``values`` (rows flattened, ``_WIDTH[table]`` values a row) to ``table``."""
    step = _CHUNK * _WIDTH[table]
    statements = []
    for start in range(0, len(values), step):
        chunk = values[start:start + step]
        statements.append((_upsert_sql(table, len(chunk) // _WIDTH[table]), head + chunk))
    return statements


def ui_metric_id(app_name: str, event_name: str) -> str:
    """The legacy ``ui-metric`` row id (Kibana's saved-object id, with its type as prefix)."""
    return f"{UI_METRIC_ID_PREFIX}:{app_name}:{event_name}"


def store_report(db: sqlite_utils.Database, report: Report, now: datetime,
                 check: Callable[[sqlite3.Connection], None] | None = None) -> bool:
    """Add a report's counts to the aggregates; ``False`` (and nothing written) if its reportId was seen.

    ``check`` runs inside the transaction before anything is counted (the per-client key
    limit, ``limits.py``); if it raises, the transaction rolls back and nothing is stored."""
    stamp = iso_timestamp(now)
    head = [stamp, utc_day(now)]
    metrics: list[Any] = []
    counters: list[Any] = []
    for counter in report.ui_counters:
        if counter.total:
            app, event, total = counter.app_name, counter.event_name, counter.total
            metrics += (ui_metric_id(app, event), app, event, total)
            counters += (app, event, counter.type, total)
    usage: list[Any] = []
    for entry in report.application_usage:
        if entry.minutes_on_screen or entry.number_of_clicks:
            usage += entry
    agents = [value for pair in {(agent.key, agent.user_agent) for agent in report.user_agents} for value in pair]

    # Everything is prepared before BEGIN IMMEDIATE: the write lock is held only for SQLite's work.
    statements = [
        *_statements("ui_metric", metrics, head),
        *_statements("usage_counters", counters, head),
        *_statements("application_usage_daily", usage, head),
        *_statements("user_agents", agents, head),
    ]
    conn = db.conn
    with transaction(db):
        if report.report_id is not None:
            if conn.execute(_SEEN, (report.report_id, stamp)).rowcount == 0:
                return False
        if check is not None:
            check(conn)
        for sql, params in statements:
            conn.execute(sql, params)
    return True


def prune_seen_reports(db: sqlite_utils.Database, now: datetime, keep_days: int) -> int:
    """Forget reportIds older than ``keep_days`` (a retry arrives within minutes); returns how many."""
    cutoff = iso_timestamp(now - timedelta(days=keep_days))
    with transaction(db):
        return db.conn.execute("DELETE FROM reports_seen WHERE received_at < ?", (cutoff,)).rowcount
