"""Rollups and retention: what keeps the database small without changing what is reported.

- daily application usage older than ``USAGE_APP_USAGE_KEEP_DAYS`` (90) is summed into
  totals and deleted (Kibana's ``rollTotals``), so ``*_total`` stays the same;
- daily UI and server usage counters older than ``USAGE_UI_COUNTERS_KEEP_DAYS`` are
  deleted; a server counter domain created with its own ``retention_period_days`` keeps
  that many days instead;
- reportIds older than ``USAGE_REPORT_IDS_KEEP_DAYS``, and past the cap on how many are
  remembered, are forgotten; intake rows older than ``USAGE_INTAKE_KEEP_DAYS`` deleted.

"Older than N days" is the complement of the collectors' N-day window
(``timeutil.first_day_within``), so nothing is ever both rolled up and still counted. A run
holds the ``rollups`` lock (an advisory lock on PostgreSQL, a lease on SQLite), so two
processes or hosts never run it at once: the second one skips.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping

from .settings import Settings
from .storage import Storage
from .timeutil import first_day_within, iso_timestamp, utc_day

LOCK = "rollups"


@dataclass(frozen=True)
class RollupSummary:
    """What one run changed; printed by ``usage-collection rollup``."""

    application_usage_days_rolled: int = 0
    application_usage_totals_updated: int = 0
    usage_counters_deleted: int = 0
    reports_seen_deleted: int = 0
    intake_rows_deleted: int = 0
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def roll_application_usage(storage: Storage, now: datetime, keep_days: int) -> tuple[int, int]:
    """Fold daily rows older than ``keep_days`` into totals; (daily rows removed, totals touched)."""
    return storage.roll_application_usage(first_day_within(now, keep_days), iso_timestamp(now))


def apply_counter_retention(storage: Storage, now: datetime, keep_days: int,
                            domain_keep_days: Mapping[str, int] | None = None) -> int:
    """Delete usage counter rows older than ``keep_days`` (per-domain overrides for server counters)."""
    overrides = {domain: first_day_within(now, days) for domain, days in (domain_keep_days or {}).items()}
    return storage.apply_counter_retention(first_day_within(now, keep_days), overrides)


def run_rollups(storage: Storage, now: datetime, settings: Settings,
                domain_keep_days: Mapping[str, int] | None = None) -> RollupSummary:
    """Every upkeep task under the ``rollups`` lock; each step is its own transaction."""
    with storage.try_lock(LOCK) as got:
        if not got:
            return RollupSummary(skipped=True)
        rolled, totals = roll_application_usage(storage, now, settings.app_usage_keep_days)
        deleted = apply_counter_retention(storage, now, settings.ui_counters_keep_days, domain_keep_days)
        if deleted:  # names retention deleted are new again; an hourly run that deleted nothing keeps them
            storage.known_keys.clear()
        pruned = storage.prune_seen_reports(iso_timestamp(now - timedelta(days=settings.report_ids_keep_days)))
        pruned += storage.cap_report_ids()
        intake_keep = settings.intake_keep_days
        intake = storage.prune_intake(first_day_within(now, intake_keep)) if intake_keep > 0 else 0
        epoch = int(now.timestamp())
        storage.prune_limits(utc_day(now), epoch - epoch % 60 - 60)
    return RollupSummary(rolled, totals, deleted, pruned, intake)
