"""``application_usage``: minutes on screen and clicks per app and sub-view (Kibana §5.4).

Totals (days already rolled up) plus every daily row; the 7/30/90-day windows count the
days whose UTC midnight is at or after ``now - N days`` (Kibana's ``isSameOrAfter``), with
``now`` from the injected clock. Sub-views are nested under their app's ``main`` entry.

One deliberate difference: Kibana drops a sub-view whose app has no ``main`` entry, losing
its data. Here such an app gets a ``main`` entry of zeros so the view is still reported.
"""

from __future__ import annotations

from typing import Any

from ..timeutil import first_day_within
from .collector import Collector, FetchContext, make_usage_collector
from .schema import DYNAMIC_KEY, Schema

MAIN_VIEW = "main"
WINDOWS = (7, 30, 90)
_MINUTES_DIGITS = 6


def _field(kind: str, what: str) -> dict[str, Any]:
    return {"type": kind, "_meta": {"description": what}}


def _usage_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {
        "appId": _field("keyword", "The application being tracked"),
        "viewId": _field("keyword", "The view (main, or a sub-view) being tracked"),
        "clicks_total": _field("long", "General number of clicks in the view since we started counting them"),
    }
    for days in WINDOWS:
        fields[f"clicks_{days}_days"] = _field("long", f"General number of clicks in the view over the last {days} days")
    fields["minutes_on_screen_total"] = _field("float", "Minutes the view was on screen since we started counting")
    for days in WINDOWS:
        fields[f"minutes_on_screen_{days}_days"] = _field(
            "float", f"Minutes the view was on screen over the last {days} days")
    return fields


APPLICATION_USAGE_SCHEMA: Schema = {
    "_meta": {"description": "Time on screen and clicks per application, keyed by app id"},
    DYNAMIC_KEY: {**_usage_fields(), "views": {"type": "array", "items": _usage_fields()}},
}


def _empty(app_id: str, view_id: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"appId": app_id, "viewId": view_id, "clicks_total": 0}
    entry.update({f"clicks_{days}_days": 0 for days in WINDOWS})
    entry["minutes_on_screen_total"] = 0.0
    entry.update({f"minutes_on_screen_{days}_days": 0.0 for days in WINDOWS})
    return entry


def fetch_application_usage(context: FetchContext) -> dict[str, Any]:
    storage = context.storage
    entries: dict[tuple[str, str], dict[str, Any]] = {}

    def entry_for(app_id: str, view_id: str) -> dict[str, Any]:
        view_id = view_id or MAIN_VIEW
        entry = entries.get((app_id, view_id))
        if entry is None:
            entry = entries[app_id, view_id] = _empty(app_id, view_id)
        return entry

    for app_id, view_id, minutes, clicks in storage.application_usage_totals():
        entry = entry_for(app_id, view_id)
        entry["clicks_total"] += clicks
        entry["minutes_on_screen_total"] += minutes
    # Summed by the database per (app, view): one row each instead of one per day.
    since = [first_day_within(context.now, days) for days in WINDOWS]
    for app_id, view_id, clicks, minutes, *windows in storage.application_usage_sums(since):
        entry = entry_for(app_id, view_id)
        entry["clicks_total"] += clicks
        entry["minutes_on_screen_total"] += minutes
        for index, days in enumerate(WINDOWS):
            entry[f"clicks_{days}_days"] += windows[2 * index]
            entry[f"minutes_on_screen_{days}_days"] += windows[2 * index + 1]
    return _by_application(entries)


def _by_application(entries: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    """Kibana's ``transformByApplicationViews``, keeping views whose app has no main entry."""
    for entry in entries.values():
        for key, value in entry.items():
            if key.startswith("minutes_on_screen"):
                entry[key] = round(float(value), _MINUTES_DIGITS)
    output: dict[str, Any] = {}
    for app_id in sorted({app for app, _ in entries}):
        main = entries.get((app_id, MAIN_VIEW)) or _empty(app_id, MAIN_VIEW)
        views = [entries[key] for key in sorted(entries) if key[0] == app_id and key[1] != MAIN_VIEW]
        output[app_id] = {**main, "views": views}
    return output


def application_usage_collector() -> Collector:
    return make_usage_collector(type="application_usage", schema=APPLICATION_USAGE_SCHEMA,
                                fetch=fetch_application_usage)
