"""The dashboard's sums (``admin`` draws them): per app and day, top events, top views.

Only per-day sums leave the database. ``usage_counters_dashboard`` (schema version 2)
covers ``(source, day, domain_id, counter_name, counter_type, count)``, so the per-app and
top-event sums read the index alone instead of the table.
"""

from __future__ import annotations

from typing import Any, Sequence

from .core import StorageCore

_EVENTS_OF_APPS = """
WITH totals AS (
    SELECT domain_id, counter_name, SUM(count) AS total FROM usage_counters
    WHERE source = 'ui' AND day >= ? AND domain_id IN ({apps}) GROUP BY domain_id, counter_name),
ranked AS (
    SELECT domain_id, counter_name, COUNT(*) OVER (PARTITION BY domain_id) AS events,
           ROW_NUMBER() OVER (PARTITION BY domain_id ORDER BY total DESC, counter_name) AS rank FROM totals)
SELECT u.domain_id, CASE WHEN r.events <= ? OR r.rank < ? THEN u.counter_name END, u.day, {sum}
FROM ranked AS r {join} usage_counters AS u ON u.domain_id = r.domain_id AND u.counter_name = r.counter_name
WHERE {plus}u.source = 'ui' AND {plus}u.day >= ?
GROUP BY 1, 2, 3
"""
# On SQLite, CROSS JOIN keeps ``ranked`` outside and the unary ``+`` keeps the (source, day)
# index out of the inner loop, so each ranked event is looked up by the primary key
# (domain_id, counter_name, ...): ~0.3 s at a year of data, where SQLite's own plan rescanned
# the whole window for every ranked event. PostgreSQL plans this well by itself.


class DashboardReads(StorageCore):
    def ui_counts_per_app_day(self, first_day: str) -> list[tuple[str, str, int]]:
        """``(app, day, count)`` of UI counters since ``first_day``."""
        with self.connection() as conn:
            return conn.all(f"SELECT domain_id, day, {conn.sum_int('count')} FROM usage_counters "
                            "WHERE source = 'ui' AND day >= ? GROUP BY day, domain_id", [first_day])

    def top_ui_events(self, first_day: str, limit: int) -> list[tuple[str, str, str, int]]:
        """``(app, event, type, total)`` of the ``limit`` biggest UI counters since ``first_day``."""
        with self.connection() as conn:
            return conn.all(f"SELECT domain_id, counter_name, counter_type, {conn.sum_int('count')} AS total "
                            "FROM usage_counters WHERE source = 'ui' AND day >= ? "
                            "GROUP BY domain_id, counter_name, counter_type "
                            "ORDER BY total DESC, domain_id, counter_name, counter_type LIMIT ?", [first_day, limit])

    def events_of_apps(self, apps: Sequence[str], first_day: str, max_series: int) -> list[tuple[Any, ...]]:
        """``(app, event or None, day, count)``: each app's ``max_series - 1`` biggest events per
        day by name (all of them when it has ``max_series`` or fewer), the rest with event None."""
        if not apps:
            return []
        with self.connection() as conn:
            sqlite = conn.dialect == "sqlite"
            sql = _EVENTS_OF_APPS.format(apps=", ".join("?" * len(apps)), sum=conn.sum_int("u.count"),
                                         plus="+" if sqlite else "", join="CROSS JOIN" if sqlite else "JOIN")
            return conn.all(sql, [first_day, *apps, max_series, max_series, first_day])

    def main_view_usage_per_day(self, first_day: str) -> list[tuple[str, str, float, int]]:
        """``(app, day, minutes, clicks)`` of each app's main view since ``first_day``."""
        with self.connection() as conn:
            return conn.all(f"SELECT app_id, day, {conn.sum_float('minutes_on_screen')}, "
                            f"{conn.sum_int('number_of_clicks')} FROM application_usage_daily "
                            "WHERE view_id = 'main' AND day >= ? GROUP BY app_id, day", [first_day])

    def top_views(self, first_day: str, limit: int) -> list[tuple[str, str, float, int]]:
        """``(app, view, minutes, clicks)`` of the ``limit`` views with most minutes since ``first_day``."""
        with self.connection() as conn:
            return conn.all(f"SELECT app_id, view_id, {conn.sum_float('minutes_on_screen')} AS minutes, "
                            f"{conn.sum_int('number_of_clicks')} AS clicks FROM application_usage_daily "
                            "WHERE day >= ? GROUP BY app_id, view_id "
                            "ORDER BY minutes DESC, clicks DESC, app_id, view_id LIMIT ?", [first_day, limit])
