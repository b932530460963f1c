"""Report v1 of OpenSearch Dashboards and Kibana <= 7.10, read into the same ``Report`` as v3.

OSD's browser posts ``{"report": {"reportVersion": 1, "uiStatsMetrics": {...},
"userAgent": {...}, "application_usage": {...}}}`` to ``POST /api/ui_metric/report``
(``routes/ui_metric.py``). The fields are OSD's ``server/report/schema.ts``; the rules and
messages are ``validation.py``'s (``check_fields``), so a bad v1 report is refused exactly
like a bad v3 one, naming the path::

    [request body.report.uiStatsMetrics.console-count-GET_cat.indices.type]: expected one of [click, loaded, count] but got "hover"

Converted as OSD's current ``store_report.ts`` stores it: each ``uiStatsMetrics`` entry
adds its ``stats.sum`` (a whole number) to ``<appName>:<eventName>`` (and, here, to the
daily UI counter of its type too); ``min``/``max``/``avg`` are checked and dropped.
``application_usage`` is keyed by app id and has no views: it is the app's ``main`` view.
User agents are keyed by their map key, as in v3.
"""

from __future__ import annotations

from typing import Any

from usage_reporter.report import ENTRY_FIELDS, MAIN_VIEW_ID

from .errors import BadRequest
from .validation import (ApplicationUsage, Limits, Report, UiCounter, check_fields, js_type, parse_json,
                         user_agents)

REPORT_VERSION_V1 = 1
UI_STATS_TYPES = ("click", "loaded", "count")
_ROOT = "request body"
_SHAPE_HINT = 'A v1 report is posted as {"report": {"reportVersion": 1, "uiStatsMetrics": {...}}}.'

# OSD's reportSchema: name -> (kind, required); kinds as in validation._value.
V1_REPORT_FIELDS: dict[str, tuple[Any, bool]] = {
    "reportVersion": ((REPORT_VERSION_V1,), False),
    "userAgent": ("map", False),
    "uiStatsMetrics": ("map", False),
    "application_usage": ("map", False),
}
V1_ENTRY_FIELDS: dict[str, dict[str, tuple[Any, bool]]] = {
    "userAgent": ENTRY_FIELDS["userAgent"],
    "uiStatsMetrics": {
        "key": ("string", True),
        "type": (UI_STATS_TYPES, True),
        "appName": ("string", True),
        "eventName": ("string", True),
        "stats": ({"min": ("number", True), "sum": ("number", True), "max": ("number", True),
                   "avg": ("number", True)}, True),
    },
    "application_usage": {
        "minutesOnScreen": ("number", True),
        "numberOfClicks": ("number", True),
    },
}


def validate_body_v1(body: Any, limits: Limits = Limits()) -> Report:
    """Check a decoded v1 body and return the ``Report`` the v3 route would store, or raise ``BadRequest``."""
    if type(body) is not dict:
        raise BadRequest(f"[{_ROOT}]: expected a plain object value, but found [{js_type(body)}] instead. "
                         f"{_SHAPE_HINT}")
    if set(body) - {"report"}:
        key = sorted(set(body) - {"report"})[0]
        raise BadRequest(f"[{_ROOT}.{key}]: definition for this key is missing")
    if "report" not in body:
        raise BadRequest(f"[{_ROOT}.report]: expected a plain object value, but found [undefined] instead. "
                         f"{_SHAPE_HINT}")
    path = _ROOT + ".report"
    values = check_fields(body["report"], path, V1_REPORT_FIELDS, V1_ENTRY_FIELDS, limits)
    usage = []
    for app_id, entry in values.get("application_usage", ()):
        _check_app_id(app_id, f"{path}.application_usage")
        usage.append(ApplicationUsage(app_id, MAIN_VIEW_ID, entry["minutesOnScreen"], entry["numberOfClicks"]))
    return Report(
        ui_counters=tuple(UiCounter(e["appName"], e["eventName"], e["type"], e["stats"]["sum"], e["key"])
                          for _, e in values.get("uiStatsMetrics", ())),
        user_agents=user_agents(values.get("userAgent", ())),
        application_usage=tuple(usage),
    )


def parse_report_v1(raw: bytes, limits: Limits = Limits()) -> Report:
    """Raw request bytes of a v1 report to the typed ``Report`` (strict JSON, as for v3)."""
    return validate_body_v1(parse_json(raw), limits)


def _check_app_id(app_id: str, path: str) -> None:
    """v1 keys application usage by app id: the key gets the rules an ``appId`` field gets."""
    if not app_id:
        raise BadRequest(f"[{path}]: an app id (the key) has length [0] but it must have a minimum length of [1].")
    if ":" in app_id:
        raise BadRequest(f'[{path}.{app_id[:80]}]: the app id must not contain ":" (it separates app and '
                         "event in stored ids).")
