"""Helpers for the telemetry and dashboard tests (and docs/screenshots/make_screenshots.py).

``seed_usage`` writes a few weeks of plausible usage through the real storage methods
(``Storage.store_report``, ``store_snapshot``) with past times, which the HTTP API cannot do: the
receiver stamps every report with the server's own clock.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from usage_collection.storage import open_storage
from usage_collection.telemetry.intake import store_snapshot
from usage_collection.validation import ApplicationUsage, Report, UiCounter

APPS = {
    "discover": (["open_doc", "filter_added", "save_search", "export_csv"], ["main", "doc_viewer", "sidebar"]),
    "dashboards": (["panel_added", "time_changed", "share"], ["main", "editor"]),
    "maps": (["layer_added", "zoom"], ["main"]),
    "settings": (["saved", "toggled"], ["main"]),
}
APP_WEIGHT = {"discover": 1.0, "dashboards": 0.7, "maps": 0.35, "settings": 0.15}


def seed_usage(db_path: Path | str, now: datetime, days: int = 21, seed: int = 7, snapshots: bool = False) -> None:
    """``days`` days of UI counters and application usage ending at ``now``; with ``snapshots``,
    a daily snapshot from three instances (one of which started later and missed a day)."""
    rng = random.Random(seed)
    db = open_storage(str(db_path))
    db.migrate()
    try:
        for offset in range(days - 1, -1, -1):
            moment = now - timedelta(days=offset)
            weekday_factor = 0.45 if moment.weekday() >= 5 else 1.0
            growth = 0.6 + 0.4 * (days - offset) / days
            counters, usage = [], []
            for app, (events, views) in APPS.items():
                scale = APP_WEIGHT[app] * weekday_factor * growth
                for event in events:
                    total = int(rng.gauss(40, 12) * scale * (0.4 + rng.random()))
                    if total > 0:
                        counters.append(UiCounter(app, event, "click", total, f"{app}-click-{event}"))
                for view in views:
                    minutes = max(0.0, rng.gauss(90, 25) * scale * (1.0 if view == "main" else 0.35))
                    clicks = int(minutes * rng.uniform(1.5, 3.0))
                    usage.append(ApplicationUsage(app, view, round(minutes, 2), clicks))
            db.store_report(Report(ui_counters=tuple(counters), application_usage=tuple(usage)), moment)
            if snapshots:
                for index, instance in enumerate(("3f2a9c1e-prod", "81be07d4-staging", "c05e4f11-edge")):
                    if index == 2 and offset > days // 2:
                        continue
                    if index == 1 and offset == 4:
                        continue
                    store_snapshot(db, instance, {"usage": {}, "clusterUuid": instance}, moment)
    finally:
        db.close()


def snapshot_count(db_path: Path, instance: str | None = None) -> int:
    """Rows in an intake's ``telemetry_snapshots`` (read-only connection)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
    try:
        if instance is None:
            return conn.execute("SELECT COUNT(*) FROM telemetry_snapshots").fetchone()[0]
        return conn.execute("SELECT COUNT(*) FROM telemetry_snapshots WHERE instance_uuid = ?",
                            [instance]).fetchone()[0]
    finally:
        conn.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
