"""``ui_counters``: the browser's UI counters as Kibana's ``dailyEvents`` (README: ``GET /api/stats``).

The same rows and window as ``usage_counters`` (source ``ui`` instead of ``server``) with
Kibana's UI field names: ``appName`` is the counter's domain, ``eventName`` its name::

    {"dailyEvents": [{"appName": "discover", "eventName": "open_doc_flyout", "counterType": "click",
                      "lastUpdatedAt": "2025-01-01T11:43:00.961Z",
                      "fromTimestamp": "2025-01-01T00:00:00Z", "total": 3}]}
"""

from __future__ import annotations

from typing import Any

from .collector import Collector, FetchContext, make_usage_collector
from .usage_counters import daily_event_schema, daily_events

UI_COUNTERS_SCHEMA = daily_event_schema("appName", "eventName", "application")


def fetch_ui_counters(context: FetchContext) -> dict[str, list[dict[str, Any]]]:
    return daily_events(context, "ui", "appName", "eventName")


def ui_counters_collector() -> Collector:
    return make_usage_collector(type="ui_counters", schema=UI_COUNTERS_SCHEMA, fetch=fetch_ui_counters)
