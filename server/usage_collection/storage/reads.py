"""What the built-in collectors read, summed by the database and never past int64.

Each method returns plain rows; the collectors (``collectors/``) shape them into Kibana's
output. Sums go through ``Conn.sum_int``, so a saturated count reads as the int64 maximum
instead of SQLite's "integer overflow" or a PostgreSQL numeric.
"""

from __future__ import annotations

from typing import Any, Sequence

from .connection import INT64_MAX
from .core import StorageCore


def _clamp(value: Any) -> int:
    """A stored count as an int in [0, INT64_MAX], whatever an old row holds (a REAL, say)."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return INT64_MAX if value else 0
    return max(0, min(number, INT64_MAX))


class CollectorReads(StorageCore):
    def ui_metric_rows(self) -> list[tuple[str, str, int]]:
        """``(app, event, count)`` of the legacy ui_metric rows, every type and day summed."""
        rows = self.query("SELECT app_name, event_name, count FROM ui_metric ORDER BY app_name, event_name")
        return [(app, event, _clamp(count)) for app, event, count in rows]

    def user_agent_rows(self) -> list[tuple[str, str]]:
        """``(key, user agent)`` of every user agent kept."""
        return self.query("SELECT key, user_agent FROM user_agents ORDER BY key, user_agent")

    def daily_counter_rows(self, source: str, since: str) -> list[tuple[str, str, str, str, str, int]]:
        """``(domain, name, type, updated_at, fromTimestamp, count)`` of ``source``'s rows since ``since``."""
        rows = self.query(
            "SELECT domain_id, counter_name, counter_type, updated_at, day || 'T00:00:00Z', count FROM usage_counters "
            "WHERE source = ? AND day >= ? AND count >= 1 ORDER BY day, domain_id, counter_name, counter_type",
            [source, since])
        return [row if type(row[5]) is int and row[5] <= INT64_MAX else (*row[:5], _clamp(row[5])) for row in rows]

    def application_usage_totals(self) -> list[tuple[str, str, float, int]]:
        """``(app, view, minutes, clicks)`` of the days already rolled up."""
        return [(app, view, float(minutes), _clamp(clicks)) for app, view, minutes, clicks in self.query(
            "SELECT app_id, view_id, minutes_on_screen, number_of_clicks FROM application_usage_totals")]

    def application_usage_sums(self, since: Sequence[str]) -> list[tuple[Any, ...]]:
        """Per (app, view): clicks and minutes in total, then clicks and minutes since each day of ``since``."""
        with self.connection() as conn:
            windows = "".join(
                f", {conn.sum_int('CASE WHEN day >= ? THEN number_of_clicks ELSE 0 END')}"
                f", {conn.sum_float('CASE WHEN day >= ? THEN minutes_on_screen ELSE 0 END')}" for _ in since)
            sql = (f"SELECT app_id, view_id, {conn.sum_int('number_of_clicks')}, "
                   f"{conn.sum_float('minutes_on_screen')}{windows} FROM application_usage_daily "
                   "GROUP BY app_id, view_id")
            params = [day for day in since for _ in ("clicks", "minutes")]
            return conn.all(sql, params)
