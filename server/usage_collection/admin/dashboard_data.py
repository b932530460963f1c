"""What the dashboard charts, read straight from the aggregate tables (Kibana's "Viewing").

One function, ``dashboard_data(db, now, days, intake_enabled)``, returns plain JSON the
page draws without further arithmetic: every day of the range listed (so a day without
events still shows as an empty bar), series already grouped, top lists already cut.

SQLite does the summing (90 days of a busy deployment are hundreds of thousands of
counter rows; only per-day sums leave the database), and every per-day chart gets at most
``MAX_SERIES`` series: the biggest ``MAX_SERIES - 1`` by total over the range, then one
``"other"`` series summing the rest, so the payload stays a few tens of kilobytes
whatever the number of apps. Per-event series exist for the ``EVENT_APPS`` apps with the
most events (the app picker lists those); ``ui_counters.apps`` and
``application_usage.apps`` name every app, busiest first, for the totals.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Iterable

from ..storage import Storage
from ..timeutil import utc_day
from ..telemetry.intake import latest_opt_in_status, snapshots_per_day

MAX_DAYS = 90
DEFAULT_DAYS = 30
TOP_EVENTS = 10
TOP_VIEWS = 12
MAX_SERIES = 8  # per chart, "other" included (dashboard.js's legend holds no more)
EVENT_APPS = 20
OTHER = "other"


def day_range(now: datetime, days: int) -> list[str]:
    """The last ``days`` UTC days, oldest first, ending today."""
    return [utc_day(now - timedelta(days=offset)) for offset in range(days - 1, -1, -1)]


def _series(rows: Iterable[tuple[str, str, float]], days: list[str]) -> list[dict[str, Any]]:
    """``(name, day, value)`` rows to ``[{name, data: [value per day]}]``, biggest total first."""
    by_name: dict[str, dict[str, float]] = defaultdict(dict)
    for name, day, value in rows:
        by_name[name][day] = by_name[name].get(day, 0) + value
    series = [{"name": name, "data": [round(values.get(day, 0), 2) for day in days]}
              for name, values in by_name.items()]
    return sorted(series, key=lambda item: (-sum(item["data"]), item["name"]))


def _capped(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The biggest ``MAX_SERIES - 1`` series and ``other`` summing the rest (``series`` is biggest first)."""
    if len(series) <= MAX_SERIES:
        return series
    rest = [item["data"] for item in series[MAX_SERIES - 1:]]
    return series[:MAX_SERIES - 1] + [{"name": OTHER, "data": [round(sum(values), 2) for values in zip(*rest)]}]


def _events_of_apps(db: Storage, apps: list[str], days: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per app in ``apps``: its biggest events per day, the rest as ``other`` (last)."""
    rows = db.events_of_apps(apps, days[0], MAX_SERIES)
    named: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    other: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for app, event, day, total in rows:
        (named if event is not None else other)[app].append((event or OTHER, day, total))
    return {app: _series(named[app], days) + _series(other[app], days) for app in apps if app in named}


def ui_counter_data(db: Storage, days: list[str]) -> dict[str, Any]:
    per_app = _series(db.ui_counts_per_app_day(days[0]), days)
    apps = [item["name"] for item in per_app]
    top = db.top_ui_events(days[0], TOP_EVENTS)
    return {
        "per_app": _capped(per_app),
        "apps": apps,
        "per_event": _events_of_apps(db, apps[:EVENT_APPS], days),
        "top_events": [{"app": app, "event": event, "type": kind, "total": total} for app, event, kind, total in top],
        "total": sum(sum(item["data"]) for item in per_app),
    }


def application_usage_data(db: Storage, days: list[str]) -> dict[str, Any]:
    main = db.main_view_usage_per_day(days[0])
    minutes = _series(((app, day, mins) for app, day, mins, _clicks in main), days)
    views = db.top_views(days[0], TOP_VIEWS)
    return {
        "minutes_per_day": _capped(minutes),
        "apps": [item["name"] for item in minutes],
        "views": [{"app": app, "view": view, "minutes": round(mins, 2), "clicks": int(clicks)}
                  for app, view, mins, clicks in views],
        "minutes_total": round(sum(mins for _a, _d, mins, _c in main), 2),
        "clicks_total": int(sum(clicks for _a, _d, _m, clicks in main)),
    }


def intake_data(db: Storage, now: datetime, days: list[str]) -> dict[str, Any]:
    rows = snapshots_per_day(db, now, len(days))
    series = _series([(row["instance"], row["day"], row["snapshots"]) for row in rows], days)
    return {"per_instance": series, "instances": len(series), "total": sum(row["snapshots"] for row in rows),
            "opt_in_status": latest_opt_in_status(db)}


def dashboard_data(db: Storage, now: datetime, days: int = DEFAULT_DAYS,
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
