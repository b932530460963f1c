"""The dashboard's sums (``admin`` draws them): per app and day, top events, top views.

A day's UI counters stop changing once the day is over: a report counts under the day the
server received it, so only a batch still committing at midnight (or a host whose clock
runs a little behind) writes to yesterday, within ``LATE_WRITES``. The sums of the days
before that are kept per process (``ClosedDays``), and a request reads only the open days'
rows (a few thousand) on top: a year of data answered in tens of milliseconds instead of
a second of summing 90 days. Retention deletes whole days from the oldest end, so the
cache key holds the window's oldest stored day: a deletion inside the window changes it
(a new entry), one before the window does not.
Nothing else deletes or rewrites UI counter rows.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Sequence

from ..timeutil import utc_day
from .connection import INT64_MAX
from .core import StorageCore

LATE_WRITES = timedelta(minutes=15)
"""How long after midnight a day may still get rows (a late commit, a host's clock skew)."""

CACHED_WINDOWS = 4  # a few ``days`` choices (7, 30, 90) per process

EventKey = tuple[str, str, str]  # (app, event, type)


@dataclass
class ClosedDays:
    """The sums of the finished days ``[first_day, open_from)`` of a window; never change."""

    per_app_day: list[tuple[str, str, int]]
    totals: dict[EventKey, int]
    event_days: dict[tuple[str, str], list[tuple[str, int]]] = field(default_factory=dict)
    """Per-day sums of the (app, event) pairs a chart named, fetched when first named."""


@dataclass
class UiWindow:
    """The UI counters of the days from ``first_day`` to today, summed as the dashboard needs."""

    first_day: str
    open_from: str
    closed: ClosedDays
    live: list[tuple[str, str, str, str, int]]
    """``(app, event, type, day, count)`` rows of the open days."""

    @cached_property
    def per_app_day(self) -> list[tuple[str, str, int]]:
        """``(app, day, count)``."""
        live: dict[tuple[str, str], int] = defaultdict(int)
        for app, _event, _kind, day, count in self.live:
            live[(app, day)] += count
        return self.closed.per_app_day + [(app, day, min(count, INT64_MAX)) for (app, day), count in live.items()]

    @cached_property
    def totals(self) -> dict[EventKey, int]:
        """Each ``(app, event, type)``'s total over the window."""
        totals = dict(self.closed.totals)
        for app, event, kind, _day, count in self.live:
            key = (app, event, kind)
            totals[key] = min(totals.get(key, 0) + count, INT64_MAX)
        return totals

    def top_events(self, limit: int) -> list[tuple[str, str, str, int]]:
        """``(app, event, type, total)`` of the ``limit`` biggest, ties by name."""
        ranked = heapq.nsmallest(limit, self.totals.items(), key=lambda item: (-item[1], item[0]))
        return [(app, event, kind, total) for (app, event, kind), total in ranked]

    def named_events(self, app: str, max_series: int) -> list[str]:
        """``app``'s events a chart names: all of them up to ``max_series``, else the biggest
        ``max_series - 1`` (the rest are drawn as one "other" series)."""
        totals = self._event_totals.get(app, {})
        ranked = sorted(totals, key=lambda event: (-totals[event], event))
        return ranked if len(ranked) <= max_series else ranked[:max_series - 1]

    @cached_property
    def _event_totals(self) -> dict[str, dict[str, int]]:
        """app -> event -> total, over every type."""
        totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (app, event, _kind), total in self.totals.items():
            totals[app][event] += total
        return totals

    @cached_property
    def live_by_app(self) -> dict[str, list[tuple[str, str, int]]]:
        """app -> ``(event, day, count)`` rows of the open days."""
        rows: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for app, event, _kind, day, count in self.live:
            rows[app].append((event, day, count))
        return rows

    @cached_property
    def days_by_app(self) -> dict[str, list[tuple[str, int]]]:
        """app -> ``(day, count)``."""
        rows: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for app, day, count in self.per_app_day:
            rows[app].append((day, count))
        return rows


class DashboardReads(StorageCore):
    _closed_windows: "OrderedDict[tuple[str, str, str], ClosedDays] | None" = None
    _closed_lock = threading.Lock()

    def ui_window(self, first_day: str, now: datetime) -> UiWindow:
        """The UI counters from ``first_day`` to ``now``'s day: finished days from this
        process's cache (read once), the open days from the database."""
        open_from = max(first_day, utc_day(now - LATE_WRITES))
        with self.connection() as conn:
            oldest = conn.one("SELECT MIN(day) FROM usage_counters WHERE source = 'ui' AND day >= ?",
                              [first_day]) or ""
            live = [tuple(row) for row in conn.all(
                "SELECT domain_id, counter_name, counter_type, day, count FROM usage_counters "
                "WHERE source = 'ui' AND day >= ?", [open_from])]
        key = (first_day, open_from, oldest)
        with self._closed_lock:
            if self._closed_windows is None:
                self._closed_windows = OrderedDict()
            closed = self._closed_windows.get(key)
        if closed is None:
            closed = self._read_closed(first_day, open_from)
            with self._closed_lock:
                self._closed_windows[key] = closed
                while len(self._closed_windows) > CACHED_WINDOWS:
                    self._closed_windows.popitem(last=False)
        return UiWindow(first_day, open_from, closed, live)  # type: ignore[arg-type]

    def _read_closed(self, first_day: str, open_from: str) -> ClosedDays:
        if first_day >= open_from:
            return ClosedDays([], {})
        with self.connection() as conn:
            per_app_day = conn.all(f"SELECT domain_id, day, {conn.sum_int('count')} FROM usage_counters "
                                   "WHERE source = 'ui' AND day >= ? AND day < ? GROUP BY day, domain_id",
                                   [first_day, open_from])
            totals = conn.all(f"SELECT domain_id, counter_name, counter_type, {conn.sum_int('count')} "
                              "FROM usage_counters WHERE source = 'ui' AND day >= ? AND day < ? "
                              "GROUP BY domain_id, counter_name, counter_type", [first_day, open_from])
        return ClosedDays([tuple(row) for row in per_app_day],  # type: ignore[misc]
                          {(app, event, kind): total for app, event, kind, total in totals})

    def events_of_apps(self, window: UiWindow, apps: Sequence[str], max_series: int) -> list[tuple[Any, ...]]:
        """``(app, event or None, day, count)``: per app, the events a chart names
        (``UiWindow.named_events``) per day, and the rest summed per day with event None."""
        rows: list[tuple[Any, ...]] = []
        for app in apps:
            named = window.named_events(app, max_series)
            if not named:
                continue
            per_day: dict[tuple[str, str], int] = defaultdict(int)
            for event, day, count in self._closed_event_days(window, app, named):
                per_day[(event, day)] += count
            wanted = set(named)
            for event, day, count in window.live_by_app.get(app, ()):
                if event in wanted:
                    per_day[(event, day)] += count
            named_per_day: dict[str, int] = defaultdict(int)
            for (event, day), count in per_day.items():
                rows.append((app, event, day, min(count, INT64_MAX)))
                named_per_day[day] += count
            for day, count in window.days_by_app.get(app, ()):
                other = count - named_per_day.get(day, 0)
                if other > 0:
                    rows.append((app, None, day, other))
        return rows

    def _closed_event_days(self, window: UiWindow, app: str, events: list[str]) -> list[tuple[str, str, int]]:
        """``(event, day, count)`` of ``app``'s ``events`` over the window's finished days."""
        if window.first_day >= window.open_from:
            return []
        cache = window.closed.event_days
        missing = [event for event in events if (app, event) not in cache]
        if missing:
            fetched: dict[str, list[tuple[str, int]]] = {event: [] for event in missing}
            with self.connection() as conn:
                # Searched by the primary key (app, event). SQLite, left to itself, took the
                # covering index (source, day, ...) instead and walked the window's days (or,
                # for one event, every day): 27 ms an app at a year of data, most of the
                # dashboard's first request with 20 apps, against 0.4 ms.
                source_term, day_term = conn.not_by_index("source"), conn.not_by_index("day")
                for event, day, count in conn.all(
                        f"SELECT counter_name, day, {conn.sum_int('count')} FROM usage_counters "
                        f"WHERE domain_id = ? AND counter_name IN ({', '.join('?' * len(missing))}) "
                        f"AND {source_term} = 'ui' AND {day_term} >= ? AND {day_term} < ? GROUP BY counter_name, day",
                        [app, *missing, window.first_day, window.open_from]):
                    fetched[event].append((day, count))
            cache.update({(app, event): days for event, days in fetched.items()})
        return [(event, day, count) for event in events for day, count in cache[(app, event)]]

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
