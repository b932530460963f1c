"""What the dashboard charts, read straight from the aggregate tables (Kibana's "Viewing").

One function, ``dashboard_data(db, now, days, intake_enabled)``, returns plain JSON the
page draws without further arithmetic: every day of the range listed (so a day without
events still shows as an empty bar), series already grouped, top lists already cut.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from ..timeutil import utc_day
from .intake import latest_opt_in_status, snapshots_per_day

MAX_DAYS = 90
DEFAULT_DAYS = 30
TOP_EVENTS = 10
TOP_VIEWS = 12


def day_range(now: datetime, days: int) -> list[str]:
    """The last ``days`` UTC days, oldest first, ending today."""
    return [utc_day(now - timedelta(days=offset)) for offset in range(days - 1, -1, -1)]


def _series(rows: list[tuple[str, str, float]], days: list[str]) -> list[dict[str, Any]]:
    """``(name, day, value)`` rows to ``[{name, data: [value per day]}]``, biggest total first."""
    by_name: dict[str, dict[str, float]] = defaultdict(dict)
    for name, day, value in rows:
        by_name[name][day] = by_name[name].get(day, 0) + value
    series = [{"name": name, "data": [round(values.get(day, 0), 2) for day in days]}
              for name, values in by_name.items()]
    return sorted(series, key=lambda item: (-sum(item["data"]), item["name"]))


def ui_counter_data(db: sqlite_utils.Database, days: list[str]) -> dict[str, Any]:
    rows = db.conn.execute(
        "SELECT domain_id, counter_name, counter_type, day, SUM(count) FROM usage_counters "
        "WHERE source = 'ui' AND day >= ? GROUP BY domain_id, counter_name, counter_type, day",
        [days[0]]).fetchall()
    per_app = _series([(app, day, total) for app, _event, _type, day, total in rows], days)
    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for app, event, kind, _day, total in rows:
        totals[(app, event, kind)] += total
    top = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP_EVENTS]
    per_event: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in _series([(f"{app}\x00{event}", day, total) for app, event, _t, day, total in rows], days):
        app, event = item["name"].split("\x00", 1)
        per_event[app].append({"name": event, "data": item["data"]})
    return {
        "per_app": per_app,
        "per_event": dict(per_event),
        "top_events": [{"app": app, "event": event, "type": kind, "total": total} for (app, event, kind), total in top],
        "total": sum(totals.values()),
    }


def application_usage_data(db: sqlite_utils.Database, days: list[str]) -> dict[str, Any]:
    rows = db.conn.execute(
        "SELECT app_id, view_id, day, minutes_on_screen, number_of_clicks FROM application_usage_daily "
        "WHERE day >= ?", [days[0]]).fetchall()
    minutes = _series([(app, day, mins) for app, view, day, mins, _c in rows if view == "main"], days)
    per_view: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for app, view, _day, mins, clicks in rows:
        per_view[(app, view)][0] += mins
        per_view[(app, view)][1] += clicks
    views = sorted(per_view.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))[:TOP_VIEWS]
    return {
        "minutes_per_day": minutes,
        "views": [{"app": app, "view": view, "minutes": round(mins, 2), "clicks": int(clicks)}
                  for (app, view), (mins, clicks) in views],
        "minutes_total": round(sum(mins for app, view, _d, mins, _c in rows if view == "main"), 2),
        "clicks_total": int(sum(clicks for app, view, _d, _m, clicks in rows if view == "main")),
    }


def intake_data(db: sqlite_utils.Database, now: datetime, days: list[str]) -> dict[str, Any]:
    rows = snapshots_per_day(db, now, len(days))
    series = _series([(row["instance"], row["day"], row["snapshots"]) for row in rows], days)
    return {"per_instance": series, "instances": len(series), "total": sum(row["snapshots"] for row in rows),
            "opt_in_status": latest_opt_in_status(db)}


def dashboard_data(db: sqlite_utils.Database, now: datetime, days: int = DEFAULT_DAYS,
                   intake_enabled: bool = False) -> dict[str, Any]:
    """Everything the dashboard page draws, for the last ``days`` UTC days."""
    day_list = day_range(now, days)
    data: dict[str, Any] = {
        "days": day_list,
        "generated_at": now.isoformat(),
        "ui_counters": ui_counter_data(db, day_list),
        "application_usage": application_usage_data(db, day_list),
        "intake": intake_data(db, now, day_list) if intake_enabled else None,
    }
    return data
