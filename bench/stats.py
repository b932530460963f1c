"""Storage growth: a year of traffic with rollups and retention, then how big and how fast.

Simulates ``--days`` (365) of traffic for ``--apps`` (100) apps x ``--events`` (100)
events x ``--views`` (5) views, day by day with an injected clock ending today, through
the storage functions the server uses (``store_report``, ``run_rollups`` once a simulated
day as the server's rollup timer does). Each day a share of each app's events fire
(``--active``, 30%), a third of them also as ``loaded`` counters, every view gets
application usage, and ``--reports-per-day`` report ids (20,000) are remembered as the
receiver would remember them (the counts arrive pre-summed in reports of up to 1000
entries). A year takes about 4 minutes on 2 cores; ``--days 30`` about 20 s.

Then prints the database size and rows per table, and times ``GET /api/stats?extended=true``
and ``GET /usage/dashboard/data?days=90`` over HTTP against a real server process
(``usage-collection serve --workers 2``, gunicorn) on that database, as an operator's
request would be served: the first request after a start (cold, once per ``--starts``
server starts) and ``--runs`` repeats on a keep-alive connection (warm), each as the median
with its min-max spread.

Then the same year is copied (``usage-collection copy``) into a throwaway PostgreSQL cluster
and both routes are timed again there (``--sqlite-only`` skips it).

Goals (printed; the exit status is 1 when one is missed), on each backend: /api/stats warm
median under 300 ms and cold median under 1 s, the dashboard's data warm median under
200 ms; and the SQLite file no more than 15% bigger from day 120 to the end (retention
keeps it flat). The dashboard's cold request (the first of a server process for a window of
days: it sums the finished days once, later requests read only today's rows) is printed
without a goal.

    .venv/bin/python bench/stats.py                       # a year, 100 apps x 100 events x 5 views
    .venv/bin/python bench/stats.py --days 30             # a quicker simulation (same apps; smaller database)
    .venv/bin/python bench/stats.py --db /tmp/year.db     # keep the year ...
    .venv/bin/python bench/stats.py --db /tmp/year.db --reuse   # ... and time it again, no simulation
"""

from __future__ import annotations

import argparse
import http.client
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' throwaway PostgreSQL
from serverctl import free_port, start_server, stop_server  # noqa: E402
from support.postgres import PostgresCluster, find_bindir  # noqa: E402
from usage_collection.storage.copy import copy_all  # noqa: E402
from usage_collection.settings import load_settings
from usage_collection.rollups import run_rollups
from usage_collection.storage import open_storage
from usage_collection.timeutil import iso_timestamp
from usage_collection.validation import ApplicationUsage, Report, UiCounter

TABLES = ("usage_counters", "ui_metric", "application_usage_daily", "application_usage_totals", "user_agents",
          "reports_seen")
STATS_WARM_GOAL_MS = 300.0  # the README's "under 300 ms at a year of data"
STATS_COLD_GOAL_MS = 1000.0  # the first request after a start
DASHBOARD_WARM_GOAL_MS = 200.0  # issue 10: /usage/dashboard/data?days=90 at a year of data
GROWTH_GOAL = 1.15  # database size at the end / at day 120


def first_day(days: int) -> datetime:
    """Midnight UTC ``days - 1`` days ago: the simulation ends today, so the server's real
    clock sees the last days as its recent ones (its counters window is relative to now)."""
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days - 1)


def simulate(db_path: Path, days: int, apps: int, events: int, views: int, active: float, reports_per_day: int,
             seed: int = 1, progress: Callable[[int], None] | None = None,
             settings: dict[str, Any] | None = None) -> datetime:
    """Fill ``db_path`` with ``days`` of traffic; returns the simulated 'now' (noon of the last day).
    ``settings`` overrides the default ``USAGE_*_KEEP_DAYS`` the daily rollups apply."""
    rng = random.Random(seed)
    settings = load_settings({"USAGE_DB": str(db_path), **(settings or {})}, environ={})
    db = open_storage(str(db_path))
    db.migrate()
    first = first_day(days)
    now = first
    for day in range(days):
        now = first + timedelta(days=day, hours=12)
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


def collector_figures(db_path: Path, now: datetime, settings: dict[str, Any] | None = None) -> dict[str, int]:
    """What ``/api/stats?extended=true`` holds at ``now`` (in-process, untimed: for the test of
    the simulation, which needs its own clock): daily events and application usage entries."""
    from flask import Flask

    from usage_collection import UsageCollection

    app = Flask("stats_bench")
    app.config.update({"USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0, **(settings or {})})
    UsageCollection(app, clock=lambda: now)
    try:
        response = app.test_client().get("/api/stats?extended=true")
        assert response.status_code == 200, response.get_data()[:300]
        usage = response.get_json()["usage"]
    finally:
        app.extensions["usage_collection"].close()
    return {"ui_counters_events": len(usage["ui_counters"]["daily_events"]),
            "application_usage_entries": len(usage["application_usage"])}


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    elapsed = 1000 * (time.perf_counter() - start)
    if response.status != 200:
        raise SystemExit(f"GET {path}: {response.status} {body[:300]!r}")
    return elapsed, body


def spread(values: list[float]) -> str:
    """``median (min-max, n=N)`` in whole milliseconds."""
    return f"{statistics.median(values):.0f} ms ({min(values):.0f}-{max(values):.0f}, n={len(values)})"


def measure_http(db: str, log_path: Path, starts: int, runs: int, workers: int = 2) -> dict[str, Any]:
    """Time both routes over HTTP: ``starts`` fresh server processes, each answering a cold
    first request and then ``runs`` warm ones on the same keep-alive connection (one worker)."""
    timings: dict[str, list[float]] = {"stats_cold": [], "stats_warm": [], "dashboard_cold": [], "dashboard_warm": []}
    sizes: dict[str, int] = {}
    payload: dict[str, Any] = {}
    for _ in range(starts):
        port = free_port()
        proc = start_server(Path(db) if "://" not in db else db, port, workers, log_path)  # type: ignore[arg-type]
        try:
            for route, path in (("stats", "/api/stats?extended=true"), ("dashboard", "/usage/dashboard/data?days=90")):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    elapsed, body = timed_get(conn, path)
                    timings[f"{route}_cold"].append(elapsed)
                    for _ in range(runs):
                        elapsed, body = timed_get(conn, path)
                        timings[f"{route}_warm"].append(elapsed)
                finally:
                    conn.close()
                sizes[route] = len(body)
                if route == "stats":
                    payload = json.loads(body)["usage"]
        finally:
            stop_server(proc)
    return {"timings": timings, "stats_bytes": sizes["stats"], "dashboard_bytes": sizes["dashboard"],
            "ui_counters_events": len(payload["ui_counters"]["daily_events"]),
            "application_usage_entries": len(payload["application_usage"])}


def report_timings(figures: dict[str, Any], backend: str) -> dict[str, float]:
    timings = figures["timings"]
    print(f"[{backend}] GET /api/stats?extended=true over HTTP: cold {spread(timings['stats_cold'])}, warm "
          f"{spread(timings['stats_warm'])}; payload {figures['stats_bytes'] / 1e6:.2f} MB "
          f"({figures['ui_counters_events']} ui_counters daily events, "
          f"{figures['application_usage_entries']} application_usage entries)")
    print(f"[{backend}] GET /usage/dashboard/data?days=90 over HTTP: cold {spread(timings['dashboard_cold'])}, "
          f"warm {spread(timings['dashboard_warm'])}; payload {figures['dashboard_bytes'] / 1e6:.2f} MB")
    return {f"{backend}_{name}": round(statistics.median(values), 1) for name, values in timings.items()}


def check_goals(by_backend: dict[str, dict[str, Any]], growth: tuple[float, float] | None) -> int:
    """Print each goal with its figure; 1 when any is missed."""
    goals = []
    for backend, figures in by_backend.items():
        timings = {name: statistics.median(values) for name, values in figures["timings"].items()}
        goals += [
            (f"[{backend}] /api/stats warm median < {STATS_WARM_GOAL_MS:.0f} ms", f"{timings['stats_warm']:.0f} ms",
             timings["stats_warm"] < STATS_WARM_GOAL_MS),
            (f"[{backend}] /api/stats cold median < {STATS_COLD_GOAL_MS:.0f} ms", f"{timings['stats_cold']:.0f} ms",
             timings["stats_cold"] < STATS_COLD_GOAL_MS),
            (f"[{backend}] dashboard data warm median < {DASHBOARD_WARM_GOAL_MS:.0f} ms",
             f"{timings['dashboard_warm']:.0f} ms", timings["dashboard_warm"] < DASHBOARD_WARM_GOAL_MS)]
    if growth is not None:
        first, last = growth
        goals.append((f"size at the end <= {GROWTH_GOAL:.2f} x size at day 120", f"{last / first:.2f} x",
                      last <= GROWTH_GOAL * first))
    for goal, figure, met in goals:
        print(f"goal {goal}: {figure} {'ok' if met else 'MISSED'}")
    return 0 if all(met for _, _, met in goals) else 1


def measure_backends(db_path: Path, starts: int, runs: int, sqlite_only: bool) -> dict[str, dict[str, Any]]:
    """Time both routes on the SQLite file, then on a PostgreSQL copy of it."""
    log_path = db_path.with_suffix(".server.log")
    by_backend = {"sqlite": measure_http(str(db_path), log_path, starts, runs)}
    if sqlite_only:
        return by_backend
    if find_bindir() is None:
        raise SystemExit("bench/stats.py needs PostgreSQL's server for its second half: apt-get install postgresql "
                         "(or pass --sqlite-only)")
    cluster = PostgresCluster().start()
    try:
        url = cluster.new_database()
        source, target = open_storage(str(db_path)), open_storage(url)
        try:
            started = time.perf_counter()
            copied = copy_all(source, target)
            target.execute("ANALYZE")  # fresh statistics, as autovacuum would soon have
        finally:
            source.close()
            target.close()
        print(f"copied into PostgreSQL in {time.perf_counter() - started:.0f} s: {sum(copied.values())} rows")
        by_backend["postgresql"] = measure_http(url, log_path, starts, runs)
    finally:
        cluster.stop()
    return by_backend


def machine() -> str:
    return (f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")


def report_only(db_path: Path, starts: int, runs: int, sqlite_only: bool) -> int:
    by_backend = measure_backends(db_path, starts, runs, sqlite_only)
    print(f"database: {db_bytes(db_path) / 1e6:.1f} MB; {machine()}")
    medians = {k: v for backend, figures in by_backend.items() for k, v in report_timings(figures, backend).items()}
    print(json.dumps({"db_mb": round(db_bytes(db_path) / 1e6, 1), **medians}))
    return check_goals(by_backend, None)


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
    parser.add_argument("--runs", type=int, default=10, help="warm requests per route after the cold one (default 10)")
    parser.add_argument("--starts", type=int, default=3, help="server starts, each timing one cold request (default 3)")
    parser.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL half")
    args = parser.parse_args()
    if args.reuse:
        if not args.db or not Path(args.db).exists():
            parser.error("--reuse needs the --db of a previous run")
        return report_only(Path(args.db), args.starts, args.runs, args.sqlite_only)

    db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp(prefix="usage-stats-")) / "year.db"
    started = time.perf_counter()
    sizes: list[tuple[int, int]] = []

    def progress(day: int) -> None:
        if (day + 1) % 30 == 0 or day + 1 == args.days:
            sizes.append((day + 1, db_bytes(db_path)))
            print(f"  day {day + 1:>3}: {db_bytes(db_path) / 1e6:7.1f} MB", flush=True)

    print(f"simulating {args.days} days: {args.apps} apps x {args.events} events x {args.views} views, "
          f"{args.active:.0%} of events active per day, {args.reports_per_day} reports/day")
    simulate(db_path, args.days, args.apps, args.events, args.views, args.active, args.reports_per_day,
                   progress=progress)
    print(f"simulated in {time.perf_counter() - started:.0f} s")
    rows = table_rows(db_path)
    by_backend = measure_backends(db_path, args.starts, args.runs, args.sqlite_only)
    print(f"database: {db_bytes(db_path) / 1e6:.1f} MB after {args.days} days; rows: "
          + ", ".join(f"{table} {count}" for table, count in rows.items()))
    print(f"machine: {machine()}")
    medians = {k: v for backend, figures in by_backend.items() for k, v in report_timings(figures, backend).items()}
    growth = [b for d, b in sizes if d > 120]
    print("size from day 120 on: " + (", ".join(f"{b / 1e6:.1f}" for b in growth) + " MB" if growth else "n/a"))
    result = check_goals(by_backend, (growth[0], growth[-1]) if len(growth) >= 2 else None)
    print(json.dumps({"db_mb": round(db_bytes(db_path) / 1e6, 1), **medians}))
    if not args.db:
        for path in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), db_path.with_suffix(".server.log")):
            path.unlink(missing_ok=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
