"""Rollups and retention: what keeps the database small without changing what is reported.

- ``roll_application_usage``: daily application usage older than ``keep_days`` (90) is
  summed into ``application_usage_totals`` and deleted, in one transaction (Kibana's
  ``rollTotals``), so ``*_total`` in the ``application_usage`` collector is the same before
  and after. Running it twice changes nothing the second time.
- ``apply_counter_retention``: daily UI and server usage counters older than ``keep_days``
  are deleted (Kibana's usage-counter rollups); a server counter domain created with its
  own ``retention_period_days`` keeps that many days instead.
- ``prune_intake``: snapshots and opt-in changes an intake received more than ``keep_days``
  ago are deleted (one snapshot per deployment per day otherwise piles up for ever).
- ``run_rollups``: all of them, plus forgetting old report ids (``prune_seen_reports``).

"Older than N days" is the complement of the collectors' N-day window
(``timeutil.first_day_within``), so nothing is ever both rolled up and still counted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Mapping

import sqlite_utils

from ..timeutil import first_day_within, iso_timestamp
from .db import transaction
from .ui_report import prune_seen_reports

_ROLL_INTO_TOTALS = (
    "INSERT INTO application_usage_totals (app_id, view_id, minutes_on_screen, number_of_clicks, updated_at) "
    "SELECT app_id, view_id, SUM(minutes_on_screen), SUM(number_of_clicks), ? FROM application_usage_daily "
    "WHERE day < ? GROUP BY app_id, view_id "
    "ON CONFLICT (app_id, view_id) DO UPDATE SET "
    "minutes_on_screen = minutes_on_screen + excluded.minutes_on_screen, "
    "number_of_clicks = number_of_clicks + excluded.number_of_clicks, updated_at = excluded.updated_at"
)


@dataclass(frozen=True)
class RollupSummary:
    """What one run changed; printed by ``usage-collection rollup``."""

    application_usage_days_rolled: int = 0
    application_usage_totals_updated: int = 0
    usage_counters_deleted: int = 0
    reports_seen_deleted: int = 0
    intake_rows_deleted: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def roll_application_usage(db: sqlite_utils.Database, now: datetime, keep_days: int) -> tuple[int, int]:
    """Fold daily rows older than ``keep_days`` into totals; returns (daily rows removed, totals touched)."""
    cutoff = first_day_within(now, keep_days)
    with transaction(db):
        conn = db.conn
        keys = conn.execute("SELECT COUNT(*) FROM (SELECT 1 FROM application_usage_daily WHERE day < ? "
                            "GROUP BY app_id, view_id)", (cutoff,)).fetchone()[0]
        if not keys:
            return 0, 0
        conn.execute(_ROLL_INTO_TOTALS, (iso_timestamp(now), cutoff))
        removed = conn.execute("DELETE FROM application_usage_daily WHERE day < ?", (cutoff,)).rowcount
    return removed, keys


def apply_counter_retention(db: sqlite_utils.Database, now: datetime, keep_days: int,
                            domain_keep_days: Mapping[str, int] | None = None) -> int:
    """Delete usage counter rows older than ``keep_days`` (per-domain overrides for server counters)."""
    overrides = dict(domain_keep_days or {})
    placeholders = ", ".join("?" for _ in overrides)
    exempt = f" AND NOT (source = 'server' AND domain_id IN ({placeholders}))" if overrides else ""
    with transaction(db):
        conn = db.conn
        deleted = conn.execute(f"DELETE FROM usage_counters WHERE day < ?{exempt}",
                               (first_day_within(now, keep_days), *overrides)).rowcount
        for domain_id, days in overrides.items():
            deleted += conn.execute(
                "DELETE FROM usage_counters WHERE source = 'server' AND domain_id = ? AND day < ?",
                (domain_id, first_day_within(now, days))).rowcount
    return deleted


def prune_intake(db: sqlite_utils.Database, now: datetime, keep_days: int) -> int:
    """Delete intake rows received before the last ``keep_days`` days; 0 keeps everything."""
    if keep_days <= 0:
        return 0
    cutoff = first_day_within(now, keep_days)  # ISO day: sorts before any timestamp of that day
    with transaction(db) as conn:
        snapshots = conn.execute("DELETE FROM telemetry_snapshots WHERE day < ?", (cutoff,)).rowcount
        statuses = conn.execute("DELETE FROM telemetry_opt_in_status WHERE received_at < ?", (cutoff,)).rowcount
    return snapshots + statuses


def run_rollups(db: sqlite_utils.Database, now: datetime, settings: Mapping[str, Any],
                domain_keep_days: Mapping[str, int] | None = None) -> RollupSummary:
    """Every upkeep task, with the ``USAGE_*_KEEP_DAYS`` settings; each step is its own transaction."""
    rolled, totals = roll_application_usage(db, now, int(settings["USAGE_APP_USAGE_KEEP_DAYS"]))
    deleted = apply_counter_retention(db, now, int(settings["USAGE_UI_COUNTERS_KEEP_DAYS"]), domain_keep_days)
    pruned = prune_seen_reports(db, now, int(settings["USAGE_REPORT_IDS_KEEP_DAYS"]))
    intake = prune_intake(db, now, int(settings["USAGE_INTAKE_KEEP_DAYS"]))
    return RollupSummary(rolled, totals, deleted, pruned, intake)
