"""``usage_counters``: server usage counters as Kibana's ``dailyEvents`` (§5.3).

One event per (domain, counter, type, UTC day) row with source ``server``, for the days
inside ``USAGE_COUNTERS_REPORT_DAYS`` (default 3: today and the two UTC days before).
Kibana only ever sends the few days its retention keeps (UI counters 3 days in 7.11,
usage counters 5 in 8.x); the rows here are kept 90 days for the dashboard, so the window
is explicit and short: a daily snapshot needs yesterday and today, the third day covers a
missed send, and /api/stats stays small (about 12,000 events for 100 busy apps, not a
quarter's worth). ``fromTimestamp`` is the row's UTC day at midnight::

    {"dailyEvents": [{"domainId": "my_plugin", "counterName": "export", "counterType": "count",
                      "lastUpdatedAt": "2025-01-01T11:43:00.961Z",
                      "fromTimestamp": "2025-01-01T00:00:00Z", "total": 3}]}
"""

from __future__ import annotations

from itertools import repeat
from typing import Any

from ..timeutil import first_day_within, normalise_timestamp
from .collector import Collector, FetchContext, make_usage_collector
from .schema import Schema


def daily_event_schema(domain: str, name: str, what: str) -> Schema:
    """The ``dailyEvents`` schema with Kibana's field names for ``domain`` and ``name``."""
    return {"dailyEvents": {"type": "array", "items": {
        domain: {"type": "keyword", "_meta": {"description": f"The {what} the counter belongs to"}},
        name: {"type": "keyword", "_meta": {"description": "The name of the counter"}},
        "counterType": {"type": "keyword", "_meta": {"description": "The type of counter (count, click, loaded...)"}},
        "lastUpdatedAt": {"type": "date", "_meta": {"description": "When the counter was last incremented"}},
        "fromTimestamp": {"type": "date", "_meta": {"description": "The UTC day the total covers, at midnight"}},
        "total": {"type": "long", "_meta": {"description": "The total of the counter on that day"}},
    }}}


def daily_events(context: FetchContext, source: str, domain: str, name: str) -> dict[str, list[dict[str, Any]]]:
    """The window's rows as daily events, built in C (``dict(zip(...))``) since a busy
    deployment has thousands per day; only timestamps not already in Kibana's form are
    rewritten in Python."""
    since = first_day_within(context.now, context.settings.counters_report_days)
    rows = context.storage.daily_counter_rows(source, since)
    keys = (domain, name, "counterType", "lastUpdatedAt", "fromTimestamp", "total")
    events = list(map(dict, map(zip, repeat(keys), rows)))
    for event in events:
        stamp = event["lastUpdatedAt"]
        if len(stamp) != 24 or stamp[19] != "." or stamp[23] != "Z":
            event["lastUpdatedAt"] = normalise_timestamp(stamp)
    return {"dailyEvents": events}


USAGE_COUNTERS_SCHEMA = daily_event_schema("domainId", "counterName", "domain (usage counter set)")


def fetch_usage_counters(context: FetchContext) -> dict[str, list[dict[str, Any]]]:
    return daily_events(context, "server", "domainId", "counterName")


def usage_counters_collector() -> Collector:
    return make_usage_collector(type="usage_counters", schema=USAGE_COUNTERS_SCHEMA, fetch=fetch_usage_counters)
