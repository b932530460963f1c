"""Storing reports (``storage/reports.py``) on each backend, with the clock passed in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from support.tables import data_row_counts, stored_nothing
from support.usage_rows import db  # noqa: F401
from usage_collection.storage import StorageError
from usage_collection.storage.reports import ui_metric_id
from usage_collection.timeutil import iso_timestamp
from usage_collection.validation import ApplicationUsage, Report, UiCounter, UserAgent

NOW = datetime(2025, 4, 10, 12, 0, tzinfo=timezone.utc)


def store_report(db, report: Report, now: datetime) -> bool:
    return db.store_report(report, now)


def prune_seen_reports(db, now: datetime, keep_days: int) -> int:
    return db.prune_seen_reports(iso_timestamp(now - timedelta(days=keep_days)))


def counter(app: str, event: str, total: int, kind: str = "click") -> UiCounter:
    return UiCounter(app, event, kind, total, f"{app}-{kind}-{event}")


def select(db, sql: str) -> list[tuple]:
    return db.query(sql)


def test_legacy_ui_metric_sums_types_and_usage_counters_keep_them(db):
    report = Report(ui_counters=(counter("discover", "open", 2, "click"), counter("discover", "open", 3, "loaded"),
                                 counter("discover", "close", 1)))
    assert store_report(db, report, NOW) is True
    assert select(db, "SELECT id, count FROM ui_metric ORDER BY id") == [
        ("ui-metric:discover:close", 1), ("ui-metric:discover:open", 5)]
    assert select(db, "SELECT counter_name, counter_type, source, day, count FROM usage_counters ORDER BY 1, 2") == [
        ("close", "click", "ui", "2025-04-10", 1), ("open", "click", "ui", "2025-04-10", 2),
        ("open", "loaded", "ui", "2025-04-10", 3)]


def test_repeated_reports_add_up_and_days_are_utc(db):
    report = Report(ui_counters=(counter("discover", "open", 2),))
    store_report(db, report, NOW)
    store_report(db, report, NOW + timedelta(minutes=5))
    late_evening_in_new_york = datetime(2025, 4, 10, 21, 0, tzinfo=timezone(timedelta(hours=-5)))  # 02:00 UTC on the 11th
    store_report(db, report, late_evening_in_new_york)
    assert select(db, "SELECT day, count, updated_at FROM usage_counters ORDER BY day") == [
        ("2025-04-10", 4, "2025-04-10T12:05:00.000Z"), ("2025-04-11", 2, "2025-04-11T02:00:00.000Z")]
    assert select(db, "SELECT count FROM ui_metric") == [(6,)]


def test_application_usage_entries_for_one_view_are_summed_first(db):
    report = Report(application_usage=(ApplicationUsage("discover", "main", 1.25, 3),
                                       ApplicationUsage("discover", "main", 0.5, 1),
                                       ApplicationUsage("discover", "doc", 0.0, 0)))
    store_report(db, report, NOW)
    store_report(db, report, NOW)
    assert select(db, "SELECT app_id, view_id, day, minutes_on_screen, number_of_clicks FROM application_usage_daily") \
        == [("discover", "main", "2025-04-10", 3.5, 8)]


def test_user_agents_count_reports_and_keep_first_seen(db):
    agent = UserAgent("kibana-user_agent", "user_agent", "kibana", "Mozilla/5.0")
    store_report(db, Report(user_agents=(agent, agent)), NOW)
    store_report(db, Report(user_agents=(agent,)), NOW + timedelta(days=1))
    assert select(db, "SELECT key, user_agent, first_seen, last_seen, reports FROM user_agents") == [
        ("kibana-user_agent", "Mozilla/5.0", "2025-04-10T12:00:00.000Z", "2025-04-11T12:00:00.000Z", 2)]


def test_zero_totals_store_nothing(db):
    report = Report(ui_counters=(counter("discover", "open", 0),),
                    application_usage=(ApplicationUsage("discover", "main", 0.0, 0),))
    assert store_report(db, report, NOW) is True
    assert stored_nothing(db), data_row_counts(db)


def test_duplicate_report_id_stores_nothing_the_second_time(db):
    report = Report(report_id="abc", ui_counters=(counter("discover", "open", 2),))
    assert store_report(db, report, NOW) is True
    assert store_report(db, report, NOW + timedelta(seconds=30)) is False
    assert select(db, "SELECT count FROM usage_counters") == [(2,)]
    assert select(db, "SELECT report_id, received_at FROM reports_seen") == [("abc", "2025-04-10T12:00:00.000Z")]


def test_a_report_bigger_than_one_statement_is_stored_whole(db):
    counters = tuple(counter("app", f"event_{i:03d}", i + 1) for i in range(150))
    store_report(db, Report(ui_counters=counters), NOW)
    assert select(db, "SELECT COUNT(*), SUM(count) FROM usage_counters") == [(150, sum(range(1, 151)))]
    assert select(db, "SELECT COUNT(*), SUM(count) FROM ui_metric") == [(150, sum(range(1, 151)))]


def test_a_failure_half_way_rolls_back_everything(db):
    # a CHECK that fails on the last table written: everything before it must roll back
    db.execute("ALTER TABLE user_agents RENAME TO user_agents_gone")
    report = Report(report_id="r1", ui_counters=(counter("discover", "open", 2),),
                    application_usage=(ApplicationUsage("discover", "main", 1.0, 1),),
                    user_agents=(UserAgent("k", "user_agent", "discover", "Mozilla/5.0"),))
    with pytest.raises(StorageError, match="user_agents"):
        store_report(db, report, NOW)
    db.execute("ALTER TABLE user_agents_gone RENAME TO user_agents")
    assert stored_nothing(db), data_row_counts(db)
    # the connection is usable afterwards: the same report (same reportId) is stored now
    assert store_report(db, report, NOW) is True


def test_ui_metric_id_carries_the_saved_object_type():
    assert ui_metric_id("discover", "open") == "ui-metric:discover:open"


def test_prune_seen_reports_forgets_only_old_ids(db):
    for days_ago, report_id in [(10, "old"), (8, "older-than-a-week"), (6, "recent"), (0, "today")]:
        store_report(db, Report(report_id=report_id), NOW - timedelta(days=days_ago))
    assert prune_seen_reports(db, NOW, keep_days=7) == 2
    assert select(db, "SELECT report_id FROM reports_seen ORDER BY report_id") == [("recent",), ("today",)]
    assert prune_seen_reports(db, NOW, keep_days=7) == 0
    # a forgotten id counts again, as it would after the retention window
    assert store_report(db, Report(report_id="old", ui_counters=(counter("a", "b", 1),)), NOW) is True
