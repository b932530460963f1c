"""Benchmark of the read side: collectors, /api/stats, server usage counters and rollups.

Fills a fresh SQLite file with a busy deployment's aggregates (apps × events × types ×
days of UI counters, app usage for every app/view/day, server counters), then measures:

- ``bulk_fetch`` of the built-in collectors (median of several runs) and the size of the
  ``usage`` JSON;
- ``GET /api/stats?extended&legacy`` through the Flask test client;
- ``increment_counter`` calls per second (the in-memory part a request pays) and the time
  to flush a buffer of distinct keys;
- one rollup of everything older than 90 days, and a second (idempotent) run.

It prints its goals (``GOALS``) and exits 1 when it misses one: bulk_fetch under 250 ms,
increment_counter under 20 µs a call, totals identical before and after the rollup.

    .venv/bin/python bench/collectors.py                   # 50 apps, 120 days
    .venv/bin/python bench/collectors.py --apps 200 --days 200
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from usage_collection import UsageCollection, storage
from usage_collection.usage_counters import UsageCounters

NOW = datetime(2025, 4, 10, 12, tzinfo=timezone.utc)
GOALS = {"bulk_fetch_ms": 250.0, "increment_us": 20.0}


def fill(db_path: str, apps: int, events: int, days: int) -> dict[str, int]:
    db = storage.open_storage(db_path)
    db.migrate()
    counters, usage = [], []
    for offset in range(days):
        day = (NOW - timedelta(days=offset)).date().isoformat()
        stamp = f"{day}T10:00:00.000Z"
        for app in range(apps):
            for event in range(events):
                for kind in ("click", "loaded"):
                    counters.append((f"app{app}", f"event{event}", kind, "ui", day, event + 1, stamp))
            for view in ("main", "flyout", "editor"):
                usage.append((f"app{app}", view, day, 1.25, 3, stamp))
    with db.connection() as conn, conn.transaction():
        conn.executemany("INSERT INTO usage_counters VALUES (?, ?, ?, ?, ?, ?, ?)", counters)
        conn.executemany("INSERT INTO application_usage_daily VALUES (?, ?, ?, ?, ?, ?)", usage)
        conn.executemany("INSERT INTO ui_metric VALUES (?, ?, ?, ?, ?)",
                            [(f"ui-metric:app{a}:event{e}", f"app{a}", f"event{e}", 5, "2025-04-10T10:00:00.000Z")
                             for a in range(apps) for e in range(events)])
    db.close()
    return {"usage_counter_rows": len(counters), "app_usage_rows": len(usage)}


def timed(function, runs: int = 5) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=50)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db_path = str(Path(tmp) / "bench.db")
        sizes = fill(db_path, args.apps, args.events, args.days)
        print(f"rows: {sizes['usage_counter_rows']} usage counters, {sizes['app_usage_rows']} app usage days")

        from flask import Flask

        app = Flask("bench")
        app.config.update(USAGE_DB=db_path, USAGE_ROLLUP_INTERVAL_S=0)
        usage = UsageCollection(app, clock=lambda: NOW)
        state = app.extensions["usage_collection"]
        ms, results = timed(lambda: usage.bulk_fetch(only_usage=True, app=app))
        fetch_ms = ms
        output = state.collector_set.to_object(results)  # type: ignore[arg-type]
        print(f"bulk_fetch (built-ins): {ms:.1f} ms median, usage JSON {len(json.dumps(output)) / 1024:.0f} KiB, "
              f"{len(output['ui_counters']['dailyEvents'])} UI daily events reported")
        client = app.test_client()
        ms, _ = timed(lambda: client.get("/api/stats?extended&legacy").data)
        print(f"GET /api/stats?extended&legacy: {ms:.1f} ms median")

        counters = UsageCounters(lambda: NOW, storage=state.storage, flush_interval_s=0)
        counter = counters.create_usage_counter("bench")
        calls = 200_000
        started = time.perf_counter()
        for index in range(calls):
            counter.increment_counter(counter_name=f"c{index % 1000}")
        per_call_us = (time.perf_counter() - started) / calls * 1e6
        print(f"increment_counter: {per_call_us:.2f} µs per call ({1e6 / per_call_us:,.0f} calls/s), "
              f"{len(counters.pending())} keys buffered")
        started = time.perf_counter()
        written = counters.flush()
        print(f"flush of {written} keys: {(time.perf_counter() - started) * 1000:.1f} ms")
        counters.close()

        before = output["application_usage"]["app0"]["clicks_total"]
        started = time.perf_counter()
        summary = state.run_rollups()
        print(f"rollup: {(time.perf_counter() - started) * 1000:.1f} ms, {summary.as_dict()}")
        started = time.perf_counter()
        again = state.run_rollups()
        print(f"second rollup: {(time.perf_counter() - started) * 1000:.1f} ms, {again.as_dict()}")
        after = state.collector_set.to_object(usage.bulk_fetch(only_usage=True, app=app))["application_usage"]
        print(f"app0 clicks_total before/after rollup: {before}/{after['app0']['clicks_total']}")
        state.close()
        del usage
    checks = [(f"bulk_fetch < {GOALS['bulk_fetch_ms']:g} ms", fetch_ms < GOALS["bulk_fetch_ms"], f"{fetch_ms:.1f} ms"),
              (f"increment_counter < {GOALS['increment_us']:g} µs", per_call_us < GOALS["increment_us"],
               f"{per_call_us:.2f} µs"),
              ("clicks_total unchanged by the rollup", before == after["app0"]["clicks_total"],
               f"{before}/{after['app0']['clicks_total']}")]
    for label, ok, shown in checks:
        print(f"goal {label}: {shown} {'ok' if ok else 'MISSED'}")
    return 0 if all(ok for _label, ok, _shown in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
