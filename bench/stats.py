"""Storage growth: a year of traffic with rollups and retention, then how big and how fast.

Simulates ``--days`` (365) of traffic for ``--apps`` (100) apps x ``--events`` (100)
events x ``--views`` (5) views, day by day with an injected clock, through the storage
functions the server uses (``store_report``, ``run_rollups`` once a simulated day as the
server's rollup timer does). Each day a share of each app's events fire (``--active``,
30%), a third of them also as ``loaded`` counters, every view gets application usage, and
``--reports-per-day`` report ids (20,000) are remembered as the receiver would remember them
(the counts themselves arrive pre-summed in reports of up to 1000 entries, so a year
takes a minute, not hours). Then prints the database size and rows per table, and times
``GET /api/stats?extended=true`` and the dashboard data route through the Flask test
client on that database, with the payload sizes.

    .venv/bin/python bench/stats.py                       # a year, 100 apps x 100 events x 5 views
    .venv/bin/python bench/stats.py --days 30 --apps 10   # a quick look
    .venv/bin/python bench/stats.py --db /tmp/year.db     # keep the year ...
    .venv/bin/python bench/stats.py --db /tmp/year.db --reuse   # ... and time it again, no simulation
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from usage_collection.settings import load_settings
from usage_collection.rollups import run_rollups
from usage_collection.storage import open_storage
from usage_collection.timeutil import iso_timestamp
from usage_collection.validation import ApplicationUsage, Report, UiCounter

TABLES = ("usage_counters", "ui_metric", "application_usage_daily", "application_usage_totals", "user_agents",
          "reports_seen")
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def simulate(db_path: Path, days: int, apps: int, events: int, views: int, active: float, reports_per_day: int,
             seed: int = 1, progress: Callable[[int], None] | None = None,
             settings: dict[str, Any] | None = None) -> datetime:
    """Fill ``db_path`` with ``days`` of traffic; returns the simulated 'now' (noon of the last day).
    ``settings`` overrides the default ``USAGE_*_KEEP_DAYS`` the daily rollups apply."""
    rng = random.Random(seed)
    settings = load_settings({"USAGE_DB": str(db_path), **(settings or {})}, environ={})
    db = open_storage(str(db_path))
    db.migrate()
    now = START
    for day in range(days):
        now = START + timedelta(days=day, hours=12)
        counters = []
        for a in range(apps):
            app = f"app{a:03d}"
            for e in rng.sample(range(events), max(1, int(events * active))):
                event = f"event_{e:03d}"
                counters.append(UiCounter(app, event, "click", rng.randint(1, 200), f"{app}-click-{event}"))
                if e % 3 == 0:
                    counters.append(UiCounter(app, event, "loaded", rng.randint(1, 50), f"{app}-loaded-{event}"))
        usage = [ApplicationUsage(f"app{a:03d}", f"view{v}", rng.uniform(1, 600), rng.randint(0, 3000))
                 for a in range(apps) for v in range(views)]
        for start in range(0, max(len(counters), len(usage)), 1000):
            db.store_report(Report(ui_counters=tuple(counters[start:start + 1000]),
                                    application_usage=tuple(usage[start:start + 1000])), now)
        stamp = iso_timestamp(now)
        with db.connection() as conn, conn.transaction():
            conn.executemany("INSERT INTO reports_seen (report_id, received_at) VALUES (?, ?)",
                             [(f"d{day}-r{n}-{rng.getrandbits(64):016x}", stamp) for n in range(reports_per_day)])
        run_rollups(db, now, settings)
        if progress:
            progress(day)
    db.query("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return now


def table_rows(db_path: Path) -> dict[str, int]:
    db = open_storage(str(db_path))
    try:
        return {table: db.query(f"SELECT COUNT(*) FROM {table}")[0][0] for table in TABLES}
    finally:
        db.close()


def db_bytes(db_path: Path) -> int:
    return sum(os.path.getsize(p) for p in (db_path, Path(f"{db_path}-wal")) if p.exists())


def time_route(client: Any, url: str, runs: int) -> tuple[float, float, int, Any]:
    """(first call ms, median ms of the next ``runs``, payload bytes, decoded JSON)."""
    timings = []
    response = None
    for _ in range(runs + 1):
        start = time.perf_counter()
        response = client.get(url)
        timings.append(1000 * (time.perf_counter() - start))
        assert response.status_code == 200, response.get_data()[:300]
    return timings[0], statistics.median(timings[1:]), len(response.get_data()), response.get_json()


def measure(db_path: Path, now: datetime, runs: int = 10, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    from flask import Flask

    from usage_collection import UsageCollection

    app = Flask("stats_bench")
    app.config.update({"USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0, **(settings or {})})
    UsageCollection(app, clock=lambda: now)
    client = app.test_client()
    try:
        first, median, size, payload = time_route(client, "/api/stats?extended=true", runs)
        usage = payload["usage"]
        dash_first, dash_median, dash_size, dash = time_route(client, "/usage/dashboard/data?days=90", runs)
    finally:
        app.extensions["usage_collection"].close()
    return {"stats_first_ms": first, "stats_median_ms": median, "stats_bytes": size,
            "ui_counters_events": len(usage["ui_counters"]["daily_events"]),
            "application_usage_entries": len(usage["application_usage"]),
            "dashboard_first_ms": dash_first, "dashboard_median_ms": dash_median, "dashboard_bytes": dash_size,
            "dashboard_keys": sorted(dash)}


def last_simulated_now(db_path: Path) -> datetime:
    """Noon of the newest stored day: the 'now' a kept database was simulated up to."""
    db = open_storage(str(db_path))
    try:
        day = db.query("SELECT MAX(day) FROM usage_counters")[0][0]
    finally:
        db.close()
    return datetime.fromisoformat(day).replace(hour=12, tzinfo=timezone.utc)


def report_only(db_path: Path, runs: int) -> int:
    now = last_simulated_now(db_path)
    figures = measure(db_path, now, runs)
    print(f"database: {db_bytes(db_path) / 1e6:.1f} MB up to {now.date()}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    print(json.dumps({k: v for k, v in figures.items() if k != "dashboard_keys"}, default=str))
    return 0 if figures["stats_median_ms"] < 500 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--apps", type=int, default=100)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--views", type=int, default=5)
    parser.add_argument("--active", type=float, default=0.3, help="share of each app's events firing per day")
    parser.add_argument("--reports-per-day", type=int, default=20000)
    parser.add_argument("--db", default=None, help="keep the database here (default: a temp file, deleted)")
    parser.add_argument("--reuse", action="store_true", help="time the --db a previous run kept, without simulating")
    parser.add_argument("--runs", type=int, default=10, help="timed calls per route after the first")
    args = parser.parse_args()
    if args.reuse:
        if not args.db or not Path(args.db).exists():
            parser.error("--reuse needs the --db of a previous run")
        return report_only(Path(args.db), args.runs)

    db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="usage-stats-")) / "year.db"
    started = time.perf_counter()
    sizes: list[tuple[int, int]] = []

    def progress(day: int) -> None:
        if (day + 1) % 30 == 0 or day + 1 == args.days:
            sizes.append((day + 1, db_bytes(db_path)))
            print(f"  day {day + 1:>3}: {db_bytes(db_path) / 1e6:7.1f} MB", flush=True)

    print(f"simulating {args.days} days: {args.apps} apps x {args.events} events x {args.views} views, "
          f"{args.active:.0%} of events active per day, {args.reports_per_day} reports/day")
    now = simulate(db_path, args.days, args.apps, args.events, args.views, args.active, args.reports_per_day,
                   progress=progress)
    print(f"simulated in {time.perf_counter() - started:.0f} s")
    rows = table_rows(db_path)
    figures = measure(db_path, now, args.runs)
    print(f"database: {db_bytes(db_path) / 1e6:.1f} MB after {args.days} days; rows: "
          + ", ".join(f"{table} {count}" for table, count in rows.items()))
    print(f"GET /api/stats?extended=true: first {figures['stats_first_ms']:.0f} ms, median of {args.runs} "
          f"{figures['stats_median_ms']:.0f} ms, payload {figures['stats_bytes'] / 1e6:.2f} MB "
          f"({figures['ui_counters_events']} ui_counters daily events, "
          f"{figures['application_usage_entries']} application_usage entries)")
    print(f"GET /usage/dashboard/data?days=90: first {figures['dashboard_first_ms']:.0f} ms, median "
          f"{figures['dashboard_median_ms']:.0f} ms, payload {figures['dashboard_bytes'] / 1e6:.2f} MB")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    growth = [b for d, b in sizes if d > 120]
    bounded = len(growth) < 2 or growth[-1] <= 1.15 * growth[0]
    print(f"bounded: {'yes' if bounded else 'NO'} (size from day 120 on: "
          + ", ".join(f"{b / 1e6:.1f}" for b in growth) + " MB)")
    ok = bounded and figures["stats_median_ms"] < 500
    print(json.dumps({"db_mb": round(db_bytes(db_path) / 1e6, 1), **{k: v for k, v in figures.items()
                                                                     if k != "dashboard_keys"}}, default=str))
    if not args.db:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
