"""Storing a validated report: Kibana's ``storeUiReport`` on SQLite.

One report is one ``BEGIN IMMEDIATE`` transaction, so it is stored whole or not at all,
and a ``reportId`` seen before stores nothing (a beacon and its retry count once). Every
increment is an ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n``: SQLite adds
inside the write lock, so concurrent worker processes never lose an increment. Entries
are summed per row in Python first and written with one multi-row upsert per table, which
keeps the write lock short.

    stored = store_report(db, report, now=datetime.now(timezone.utc))  # False: a duplicate
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
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
# One upsert per table, "VALUES (...), (...), ..." with one row group per aggregated entry:
# a single multi-row statement costs about half of executemany over the same rows.
_UPSERTS = {
    "ui_metric": (
        "INSERT INTO ui_metric (id, app_name, event_name, count, updated_at) VALUES {rows} "
        "ON CONFLICT (id) DO UPDATE SET count = count + excluded.count, updated_at = excluded.updated_at",
        "(?, ?, ?, ?, ?)",
    ),
    "usage_counters": (
        "INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, updated_at) "
        "VALUES {rows} ON CONFLICT (domain_id, counter_name, counter_type, source, day) "
        "DO UPDATE SET count = count + excluded.count, updated_at = excluded.updated_at",
        "(?, ?, ?, 'ui', ?, ?, ?)",
    ),
    "application_usage_daily": (
        "INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, number_of_clicks, "
        "updated_at) VALUES {rows} ON CONFLICT (app_id, view_id, day) DO UPDATE SET "
        "minutes_on_screen = minutes_on_screen + excluded.minutes_on_screen, "
        "number_of_clicks = number_of_clicks + excluded.number_of_clicks, updated_at = excluded.updated_at",
        "(?, ?, ?, ?, ?, ?)",
    ),
    "user_agents": (
        "INSERT INTO user_agents (key, user_agent, first_seen, last_seen, reports) VALUES {rows} "
        "ON CONFLICT (key, user_agent) DO UPDATE SET last_seen = excluded.last_seen, reports = reports + 1",
        "(?, ?, ?, ?, 1)",
    ),
}
# Rows per statement: well under SQLite's bound-parameter limit, and few distinct statement
# texts for the sqlite3 module's prepared-statement cache.
_CHUNK = 64


@lru_cache(maxsize=None)
def _upsert_sql(table: str, rows: int) -> str:
    sql, group = _UPSERTS[table]
    return sql.format(rows=", ".join([group] * rows))


def _statements(table: str, rows: list[tuple[Any, ...]]) -> list[tuple[str, list[Any]]]:
    """The upserts adding ``rows`` to ``table``, ``_CHUNK`` rows per statement. Within one
    statement a conflict may only hit rows already in the table, so rows are aggregated first."""
    statements = []
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start:start + _CHUNK]
        statements.append((_upsert_sql(table, len(chunk)), [value for row in chunk for value in row]))
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
    day = utc_day(now)

    metrics: dict[tuple[str, str], int] = defaultdict(int)
    counters: dict[tuple[str, str, str], int] = defaultdict(int)
    for counter in report.ui_counters:
        if counter.total:
            metrics[counter.app_name, counter.event_name] += counter.total
            counters[counter.app_name, counter.event_name, counter.type] += counter.total
    usage: dict[tuple[str, str], list[float]] = {}
    for entry in report.application_usage:
        if entry.minutes_on_screen or entry.number_of_clicks:
            sums = usage.setdefault((entry.app_id, entry.view_id), [0.0, 0])
            sums[0] += entry.minutes_on_screen
            sums[1] += entry.number_of_clicks
    agents = {(agent.key, agent.user_agent) for agent in report.user_agents}

    # Everything is prepared before BEGIN IMMEDIATE: the write lock is held only for SQLite's work.
    statements = [
        *_statements("ui_metric", [(ui_metric_id(app, event), app, event, total, stamp)
                                   for (app, event), total in metrics.items()]),
        *_statements("usage_counters", [(app, event, kind, day, total, stamp)
                                        for (app, event, kind), total in counters.items()]),
        *_statements("application_usage_daily", [(app, view, day, minutes, clicks, stamp)
                                                 for (app, view), (minutes, clicks) in usage.items()]),
        *_statements("user_agents", [(key, agent, stamp, stamp) for key, agent in agents]),
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
