"""``usage_counters``: server usage counters as Kibana's ``dailyEvents`` (§5.3).

One event per (domain, counter, type, UTC day) row with source ``server``, for the days
inside ``USAGE_COUNTERS_REPORT_DAYS`` (default 7): Kibana only ever sends the few days its
retention keeps (5), and the rows here are kept 90 days for the dashboard, so the window
is explicit. ``fromTimestamp`` is the row's UTC day at midnight::

    {"dailyEvents": [{"domainId": "my_plugin", "counterName": "export", "counterType": "count",
                      "lastUpdatedAt": "2025-01-01T11:43:00.961Z",
                      "fromTimestamp": "2025-01-01T00:00:00Z", "total": 3}]}
"""

from __future__ import annotations

from typing import Any, Iterator

from ..timeutil import day_start, first_day_within, normalise_timestamp
from .collector import Collector, FetchContext, make_usage_collector
from .schema import Schema

DEFAULT_REPORT_DAYS = 7
REPORT_DAYS_SETTING = "USAGE_COUNTERS_REPORT_DAYS"


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
    return {"dailyEvents": list(_events(context, source, domain, name))}


def _events(context: FetchContext, source: str, domain: str, name: str) -> Iterator[dict[str, Any]]:
    days = int(context.settings.get(REPORT_DAYS_SETTING, DEFAULT_REPORT_DAYS))
    since = first_day_within(context.now, days)
    rows = context.db.conn.execute(
        "SELECT domain_id, counter_name, counter_type, day, count, updated_at FROM usage_counters "
        "WHERE source = ? AND day >= ? AND count >= 1 ORDER BY day, domain_id, counter_name, counter_type",
        (source, since))
    for domain_id, counter_name, counter_type, day, count, updated_at in rows:
        yield {domain: domain_id, name: counter_name, "counterType": counter_type,
               "lastUpdatedAt": normalise_timestamp(updated_at), "fromTimestamp": day_start(day), "total": count}


USAGE_COUNTERS_SCHEMA = daily_event_schema("domainId", "counterName", "domain (usage counter set)")


def fetch_usage_counters(context: FetchContext) -> dict[str, list[dict[str, Any]]]:
    return daily_events(context, "server", "domainId", "counterName")


def usage_counters_collector() -> Collector:
    return make_usage_collector(type="usage_counters", schema=USAGE_COUNTERS_SCHEMA, fetch=fetch_usage_counters)
