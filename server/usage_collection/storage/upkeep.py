"""Rollups and retention: what keeps the database small without changing what is reported.

- ``roll_application_usage``: daily application usage before ``cutoff`` is summed into
  ``application_usage_totals`` and deleted, in one transaction (Kibana's ``rollTotals``), so
  ``*_total`` in the ``application_usage`` collector is the same before and after.
- ``apply_counter_retention``: daily UI and server usage counters before ``cutoff`` are
  deleted; a server counter domain created with its own retention keeps its own cutoff.
- ``prune_seen_reports``, ``prune_intake``: forget reportIds and intake rows past their days.

The caller (``rollups.py``) holds the ``rollups`` lock (``try_lock``), so two processes or
hosts never run these at once.
"""

from __future__ import annotations

import uuid
from typing import Mapping

from .connection import INT64_MAX
from .core import StorageCore, _set_meta

NAMES_DELETED = "names_deleted"
"""``meta`` key: a new token each time retention deletes counter rows (names may be new again)."""

_ROLL_INTO_TOTALS = (
    "INSERT INTO application_usage_totals (app_id, view_id, minutes_on_screen, number_of_clicks, updated_at) "
    "SELECT app_id, view_id, {minutes}, {clicks}, ? FROM application_usage_daily "
    "WHERE day < ? GROUP BY app_id, view_id "
    "ON CONFLICT (app_id, view_id) DO UPDATE SET "
    "minutes_on_screen = application_usage_totals.minutes_on_screen + excluded.minutes_on_screen, "
    "number_of_clicks = CASE WHEN application_usage_totals.number_of_clicks > "
    f"{INT64_MAX} - excluded.number_of_clicks THEN {INT64_MAX} "
    "ELSE application_usage_totals.number_of_clicks + excluded.number_of_clicks END, "
    "updated_at = excluded.updated_at"
)


class Upkeep(StorageCore):
    def roll_application_usage(self, cutoff: str, stamp: str) -> tuple[int, int]:
        """Fold daily rows before ``cutoff`` into totals; returns (daily rows removed, totals touched)."""
        with self.connection() as conn, conn.transaction():
            keys = conn.one("SELECT COUNT(*) FROM (SELECT 1 FROM application_usage_daily WHERE day < ? "
                            "GROUP BY app_id, view_id) AS k", [cutoff])
            if not keys:
                return 0, 0
            conn.execute(_ROLL_INTO_TOTALS.format(minutes=conn.sum_float("minutes_on_screen"),
                                                  clicks=conn.sum_int("number_of_clicks")), [stamp, cutoff])
            removed = conn.execute("DELETE FROM application_usage_daily WHERE day < ?", [cutoff]).rowcount
        return removed, keys

    def apply_counter_retention(self, cutoff: str, domain_cutoffs: Mapping[str, str] | None = None) -> int:
        """Delete usage counter rows before ``cutoff`` (per-domain cutoffs for server counters)."""
        overrides = dict(domain_cutoffs or {})
        marks = ", ".join("?" for _ in overrides)
        exempt = f" AND NOT (source = 'server' AND domain_id IN ({marks}))" if overrides else ""
        with self.connection() as conn, conn.transaction():
            deleted = conn.execute(f"DELETE FROM usage_counters WHERE day < ?{exempt}", [cutoff, *overrides]).rowcount
            for domain_id, domain_cutoff in overrides.items():
                deleted += conn.execute("DELETE FROM usage_counters WHERE source = 'server' AND domain_id = ? "
                                        "AND day < ?", [domain_id, domain_cutoff]).rowcount
            if deleted:  # every process and host forgets the names it knew stored (``ReportStore``)
                _set_meta(conn, NAMES_DELETED, uuid.uuid4().hex)
        return deleted

    def prune_seen_reports(self, cutoff: str) -> int:
        """Forget reportIds received before ``cutoff`` (an ISO timestamp)."""
        return self.execute("DELETE FROM reports_seen WHERE received_at < ?", [cutoff])

    def prune_intake(self, cutoff: str) -> int:
        """Delete intake rows received before the ISO day ``cutoff``."""
        with self.connection() as conn, conn.transaction():
            snapshots = conn.execute("DELETE FROM telemetry_snapshots WHERE day < ?", [cutoff]).rowcount
            statuses = conn.execute("DELETE FROM telemetry_opt_in_status WHERE received_at < ?", [cutoff]).rowcount
        return snapshots + statuses

    def prune_limits(self, day: str, window_start: int) -> int:
        """Forget per-client and daily limit rows older than today's (they restart every day/minute)."""
        with self.connection() as conn, conn.transaction():
            return (conn.execute("DELETE FROM client_new_keys WHERE day < ?", [day]).rowcount
                    + conn.execute("DELETE FROM daily_new_names WHERE day < ?", [day]).rowcount
                    + conn.execute("DELETE FROM client_requests WHERE window_start < ?", [window_start]).rowcount)
