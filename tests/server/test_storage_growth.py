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
    first_kept = (now - timedelta(days=6)).strftime("%Y-%m-%d")
    first_reported = (now - timedelta(days=2)).strftime("%Y-%m-%d")  # USAGE_COUNTERS_REPORT_DAYS: 3
    conn = sqlite3.connect(db_path)
    per_day = conn.execute("SELECT day, SUM(counter_type = 'click'), SUM(counter_type = 'loaded') FROM usage_counters "
                           "GROUP BY day ORDER BY day").fetchall()
    usage_days = [r[0] for r in conn.execute("SELECT DISTINCT day FROM application_usage_daily ORDER BY day")]
    total_clicks = conn.execute("SELECT SUM(number_of_clicks) FROM application_usage_totals").fetchone()[0]
    in_report_window = conn.execute("SELECT COUNT(*) FROM usage_counters WHERE day >= ?", (first_reported,)).fetchone()[0]
    conn.close()
    # Each simulated day: every app fires half its events (10 clicks x 10 apps = 100 click rows),
    # and a loaded row for each fired event whose number is a multiple of 3 (7 of the 20: 0 to 70).
    assert [day for day, _, _ in per_day] == [(now - timedelta(days=n)).strftime("%Y-%m-%d") for n in range(6, -1, -1)]
    assert per_day[0][0] == first_kept
    assert all(click == APPS * EVENTS // 2 and 0 <= loaded <= APPS * 7 for _, click, loaded in per_day), per_day
    assert rows["usage_counters"] == sum(click + loaded for _, click, loaded in per_day)
    assert len(usage_days) == 7 and usage_days[0] == first_kept
    assert rows["application_usage_daily"] == 7 * APPS * VIEWS
    assert rows["application_usage_totals"] == APPS * VIEWS and total_clicks > 0  # older days rolled up
    # reportIds are stamped at noon and forgotten when older than 3 days: today and the 3 days before.
    assert rows["reports_seen"] == 4 * REPORTS_PER_DAY
    assert rows["ui_metric"] == APPS * EVENTS  # every event fired at least once in 30 days
    # Flat after the windows fill: the last week's row counts equal the second week's.
    assert sizes[-1]["usage_counters"] <= 1.2 * sizes[13]["usage_counters"]
    assert sizes[-1]["reports_seen"] == sizes[13]["reports_seen"]
    figures = bench_stats.collector_figures(db_path, now, settings=KEEP)
    # The collector reports the last 3 days only (of the 7 stored): 100 click events a day and their loaded ones.
    assert figures["ui_counters_events"] == in_report_window
    assert 3 * APPS * EVENTS // 2 <= in_report_window <= 3 * (APPS * EVENTS // 2 + APPS * 7)
    assert figures["application_usage_entries"] == APPS
