"""A batch of reports naming only known keys, in ONE PostgreSQL statement.

On PostgreSQL the usual batch (``reports.py``) is six round trips: BEGIN, the reportIds,
three or four upserts, COMMIT. The upserts lock the hottest rows of the database (every
report of an app counts the same few counters of the same day), and they stay locked
through the remaining round trips and the commit's flush, so the batches of all the
receiver processes and hosts queue behind one another; each statement is also long,
with a parameter per value, and psycopg re-reads its text every time. Measured at a
batch of 4, this cost 500 µs a report, 270 µs of it in the receiver's CPU.

Here the whole batch is one statement with a fixed text and one array per column
(``unnest``), so PostgreSQL plans it once per connection, the receiver sends a few
arrays, and in autocommit the statement is its own transaction: the rows are locked for
the one round trip and the commit. Its CTEs store the reportIds, keep the counters of
the reports whose reportId was new (or absent), sum identical keys, and upsert each table
in key order. It answers the reportIds it stored.

Both paths must lock rows in one order, or two receivers deadlock (PostgreSQL breaks it
after a second by failing one batch): tables in the order ``reports.py`` writes them
(ui_metric, usage_counters, application_usage_daily, user_agents), rows in key order.
PostgreSQL runs the data-modifying CTEs of a statement in no promised order, so each
upsert waits for the one before it (``WHERE (SELECT COUNT(*) FROM previous) >= 0``), and
rows are sorted ``COLLATE "C"``, the code-point order of Python's ``sorted``.

Only batches whose every key is already stored come here (``reports.py`` decides): a new
name has caps and per-client limits to check first, in the usual path.
"""

from __future__ import annotations

from typing import Any, Sequence

import msgspec

from ..timeutil import iso_timestamp, utc_day
from .connection import INT64_MAX, Conn, saturating_add

_encode = msgspec.json.Encoder().encode


def _json(rows: list[dict[str, Any]]) -> str:
    return _encode(rows).decode()

_SQL = f"""
WITH fresh AS (
    INSERT INTO reports_seen (report_id, received_at)
    SELECT * FROM unnest(?::text[], ?::text[])
    ON CONFLICT (report_id) DO NOTHING RETURNING report_id
), counters AS MATERIALIZED (
    SELECT r.a AS app, r.e AS event, r.t AS type, r.d AS day, r.n AS total, r.s AS at
    FROM json_to_recordset(?::json) AS r (i text, a text, e text, t text, d text, n bigint, s text)
    WHERE r.i IS NULL OR r.i IN (SELECT report_id FROM fresh)
), usage AS MATERIALIZED (
    SELECT r.a AS app, r.v AS view, r.d AS day, r.m AS minutes, r.c AS clicks, r.s AS at
    FROM json_to_recordset(?::json) AS r (i text, a text, v text, d text, m double precision, c bigint, s text)
    WHERE r.i IS NULL OR r.i IN (SELECT report_id FROM fresh)
), agents AS MATERIALIZED (
    SELECT r.k AS key, r.u AS agent, r.s AS at
    FROM json_to_recordset(?::json) AS r (i text, k text, u text, s text)
    WHERE r.i IS NULL OR r.i IN (SELECT report_id FROM fresh)
), metric_rows AS (
    INSERT INTO ui_metric (id, app_name, event_name, count, updated_at)
    SELECT 'ui-metric:' || app || ':' || event, app, event, LEAST(SUM(total), {INT64_MAX})::bigint, MAX(at)
    FROM counters GROUP BY app, event ORDER BY 'ui-metric:' || app || ':' || event COLLATE "C"
    ON CONFLICT (id) DO UPDATE SET count = {saturating_add("ui_metric", "count")},
        updated_at = excluded.updated_at
    RETURNING 1
), counter_rows AS (
    INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, updated_at)
    SELECT app, event, type, 'ui', day, LEAST(SUM(total), {INT64_MAX})::bigint, MAX(at)
    FROM counters WHERE (SELECT COUNT(*) FROM metric_rows) >= 0 GROUP BY app, event, type, day
    ORDER BY app COLLATE "C", event COLLATE "C", type COLLATE "C", day COLLATE "C"
    ON CONFLICT (domain_id, counter_name, counter_type, source, day) DO UPDATE SET
        count = {saturating_add("usage_counters", "count")},
        updated_at = GREATEST(excluded.updated_at, usage_counters.updated_at)
    RETURNING 1
), usage_rows AS (
    INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, number_of_clicks, updated_at)
    SELECT app, view, day, SUM(minutes), LEAST(SUM(clicks), {INT64_MAX})::bigint, MAX(at)
    FROM usage WHERE (SELECT COUNT(*) FROM counter_rows) >= 0 GROUP BY app, view, day
    ORDER BY app COLLATE "C", view COLLATE "C", day COLLATE "C"
    ON CONFLICT (app_id, view_id, day) DO UPDATE SET
        minutes_on_screen = application_usage_daily.minutes_on_screen + excluded.minutes_on_screen,
        number_of_clicks = {saturating_add("application_usage_daily", "number_of_clicks")},
        updated_at = excluded.updated_at
    RETURNING 1
), agent_rows AS (
    INSERT INTO user_agents (key, user_agent, first_seen, last_seen, reports)
    SELECT key, agent, MIN(at), MAX(at), COUNT(*) FROM agents WHERE (SELECT COUNT(*) FROM usage_rows) >= 0
    GROUP BY key, agent
    ORDER BY key COLLATE "C", agent COLLATE "C"
    ON CONFLICT (key, user_agent) DO UPDATE SET last_seen = excluded.last_seen,
        reports = {saturating_add("user_agents", "reports")}
)
SELECT report_id FROM fresh
"""


def store_known(conn: Conn, batch: Sequence[tuple[str | None, Any, Any]]) -> set[str]:
    """Store ``(report_id, report, now)`` for each report of ``batch`` (reportIds unique in
    it) in one statement; the reportIds that were new (the others stored nothing)."""
    ids: list[str] = []
    received: list[str] = []
    counters: list[dict[str, Any]] = []
    usage: list[dict[str, Any]] = []
    agents: list[dict[str, Any]] = []
    for report_id, report, now in batch:
        stamp, day = iso_timestamp(now), utc_day(now)
        if report_id is not None:
            ids.append(report_id)
            received.append(stamp)
        counters.extend({"i": report_id, "a": c.app_name, "e": c.event_name, "t": c.type, "d": day, "n": c.total,
                         "s": stamp} for c in report.ui_counters if c.total)
        usage.extend({"i": report_id, "a": u.app_id, "v": u.view_id, "d": day, "m": u.minutes_on_screen,
                      "c": u.number_of_clicks, "s": stamp}
                     for u in report.application_usage if u.minutes_on_screen or u.number_of_clicks)
        agents.extend({"i": report_id, "k": key, "u": agent, "s": stamp}
                      for key, agent in {(a.key, a.user_agent) for a in report.user_agents})
    rows = conn.all(_SQL, [ids, received, _json(counters), _json(usage), _json(agents)])
    return {report_id for (report_id,) in rows}
