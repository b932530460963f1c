"""Storage stays bounded under retention: a small run of ``bench/stats.py`` (the year-long
version and its timings live there). Asserts rows, not timings."""

from __future__ import annotations

import importlib.util
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "stats.py"
KEEP = {"USAGE_UI_COUNTERS_KEEP_DAYS": 7, "USAGE_APP_USAGE_KEEP_DAYS": 7, "USAGE_REPORT_IDS_KEEP_DAYS": 3}
APPS, EVENTS, VIEWS, REPORTS_PER_DAY = 10, 20, 5, 200


@pytest.fixture(scope="module")
def bench_stats():
    spec = importlib.util.spec_from_file_location("bench_stats", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_thirty_days_stay_within_the_retention_windows(bench_stats, tmp_path):
    db_path = tmp_path / "month.db"
    sizes = []
    now = bench_stats.simulate(db_path, 30, APPS, EVENTS, VIEWS, 0.5, REPORTS_PER_DAY, settings=KEEP,
                               progress=lambda day: sizes.append(bench_stats.table_rows(db_path)))
    rows = bench_stats.table_rows(db_path)
    conn = sqlite3.connect(db_path)
    counter_days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM usage_counters ORDER BY day")]
    usage_days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM application_usage_daily ORDER BY day")]
    total_clicks = conn.execute("SELECT SUM(number_of_clicks) FROM application_usage_totals").fetchone()[0]
    conn.close()
    first_kept = (now - timedelta(days=6)).strftime("%Y-%m-%d")
    assert len(counter_days) == 7 and counter_days[0] == first_kept
    assert len(usage_days) == 7 and usage_days[0] == first_kept
    assert rows["application_usage_totals"] == APPS * VIEWS and total_clicks > 0  # older days rolled up
    assert rows["usage_counters"] <= 7 * APPS * EVENTS * 2
    assert rows["reports_seen"] <= 4 * REPORTS_PER_DAY
    assert rows["ui_metric"] <= APPS * EVENTS
    # Flat after the windows fill: the last week's row counts equal the second week's.
    assert sizes[-1]["usage_counters"] <= 1.2 * sizes[13]["usage_counters"]
    assert sizes[-1]["reports_seen"] == sizes[13]["reports_seen"]
    figures = bench_stats.measure(db_path, now, runs=1, settings=KEEP)
    events = figures["ui_counters_events"]
    assert 0 < events <= 7 * APPS * EVENTS * 2  # the collector reports the last USAGE_COUNTERS_REPORT_DAYS
    assert figures["application_usage_entries"] == APPS
