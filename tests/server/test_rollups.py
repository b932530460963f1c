"""Rollups and retention with an injected clock: old days move into totals, nothing reported changes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from usage_collection import UsageCollection
from usage_collection.collectors import FetchContext
from usage_collection.collectors.application_usage import fetch_application_usage
from usage_collection.settings import load_settings
from usage_collection.storage import Caps, open_storage
from usage_collection.rollups import apply_counter_retention, roll_application_usage, run_rollups
from usage_collection.timeutil import iso_timestamp
from usage_collection.validation import Report, UiCounter

from support.usage_rows import NOW, Clock, add_app_total, add_app_usage, add_counter, day, db, no_leaked_threads  # noqa: F401


def table(db, name):
    return db.query(f"SELECT * FROM {name} ORDER BY 1, 2, 3")


def totals(db):
    return db.query("SELECT app_id, view_id, minutes_on_screen, number_of_clicks FROM application_usage_totals "
                    "ORDER BY app_id, view_id")


def test_days_older_than_keep_days_are_rolled_into_totals(db):
    add_app_usage(db, "discover", "main", day(100), 2.5, 4)
    add_app_usage(db, "discover", "main", day(120), 1.5, 6)
    add_app_usage(db, "discover", "flyout", day(100), 0.5, 1)
    add_app_usage(db, "discover", "main", day(10), 9.0, 9)
    add_app_total(db, "discover", "main", 100.0, 100)
    assert roll_application_usage(db, NOW, 90) == (3, 2)
    assert totals(db) == [("discover", "flyout", 0.5, 1), ("discover", "main", 104.0, 110)]
    assert [row[2] for row in table(db, "application_usage_daily")] == [day(10)]


def test_the_collectors_totals_are_the_same_before_and_after_and_a_second_run_changes_nothing(db):
    for days_ago, minutes, clicks in [(0, 1.0, 1), (30, 2.0, 2), (89, 4.0, 4), (90, 8.0, 8), (91, 16.0, 16), (365, 32.0, 32)]:
        add_app_usage(db, "app", "main", day(days_ago), minutes, clicks)
        add_app_usage(db, "app", "side", day(days_ago), minutes / 2, clicks)
    before = fetch_application_usage(FetchContext(None, NOW, storage=db))
    assert roll_application_usage(db, NOW, 90) == (6, 2)
    after = fetch_application_usage(FetchContext(None, NOW, storage=db))
    assert after == before
    assert before["app"]["clicks_total"] == 63 and before["app"]["clicks_90_days"] == 7
    snapshot = (table(db, "application_usage_daily"), totals(db))
    assert roll_application_usage(db, NOW, 90) == (0, 0)
    assert (table(db, "application_usage_daily"), totals(db)) == snapshot


def test_nothing_within_the_window_is_rolled(db):
    add_app_usage(db, "app", "main", day(89), 1.0, 1)
    assert roll_application_usage(db, NOW, 90) == (0, 0)
    assert totals(db) == []


def test_counter_retention_deletes_old_days_of_both_sources(db):
    for days_ago in (0, 89, 90, 200):
        add_counter(db, "discover", "open", on=day(days_ago))
        add_counter(db, "my_plugin", "job", source="server", on=day(days_ago))
    assert apply_counter_retention(db, NOW, 90) == 4
    assert sorted({row[4] for row in table(db, "usage_counters")}) == [day(89), day(0)]
    assert apply_counter_retention(db, NOW, 90) == 0


def test_a_domain_with_its_own_retention_keeps_that_many_days(db):
    for days_ago in (0, 3, 10, 100):
        add_counter(db, "short", "x", source="server", on=day(days_ago))
        add_counter(db, "long", "x", source="server", on=day(days_ago))
        add_counter(db, "short", "x", source="ui", on=day(days_ago))  # a UI app of the same name: global rule
    apply_counter_retention(db, NOW, 90, {"short": 5, "long": 365})
    kept = {(row[0], row[3]): [] for row in table(db, "usage_counters")}
    for row in table(db, "usage_counters"):
        kept[row[0], row[3]].append(row[4])
    assert sorted(kept[("short", "server")]) == [day(3), day(0)]
    assert sorted(kept[("long", "server")]) == [day(100), day(10), day(3), day(0)]
    assert sorted(kept[("short", "ui")]) == [day(10), day(3), day(0)]


def test_run_rollups_does_everything_with_the_settings(db):
    add_app_usage(db, "app", "main", day(100), 1.0, 1)
    add_counter(db, "app", "event", on=day(100))
    db.execute("INSERT INTO reports_seen (report_id, received_at) VALUES ('old', ?), ('new', ?)",
               (iso_timestamp(NOW - timedelta(days=8)), iso_timestamp(NOW)))
    add_intake_rows(db, days_ago=[400, 365, 364, 0])  # 365 days back is before noon 365 days ago
    summary = run_rollups(db, NOW, load_settings(environ={}))
    assert summary.as_dict() == {"application_usage_days_rolled": 1, "application_usage_totals_updated": 1,
                                 "usage_counters_deleted": 1, "reports_seen_deleted": 1, "intake_rows_deleted": 4,
                                 "skipped": False}
    assert db.query("SELECT report_id FROM reports_seen") == [("new",)]
    assert db.query("SELECT day FROM telemetry_snapshots ORDER BY day") == [(day(364),), (day(0),)]


def test_a_run_skips_while_another_process_or_host_holds_the_lock(db, db_url):
    from usage_collection.storage import open_storage

    add_app_usage(db, "app", "main", day(100), 1.0, 1)
    other_host = open_storage(db_url)
    try:
        with other_host.try_lock("rollups") as got:
            assert got
            assert run_rollups(db, NOW, load_settings(environ={})).skipped is True
            assert table(db, "application_usage_daily") != []
        summary = run_rollups(db, NOW, load_settings(environ={}))  # released: the next run does the work
    finally:
        other_host.close()
    assert summary.skipped is False and summary.application_usage_days_rolled == 1


def add_intake_rows(db, days_ago):
    """A snapshot and an opt-in change received at this time of day, ``days_ago`` days ago."""
    for days in days_ago:
        received = NOW - timedelta(days=days)
        db.execute("INSERT INTO telemetry_snapshots (instance_uuid, received_at, day, payload) "
                   "VALUES ('i', ?, ?, '{}')", (iso_timestamp(received), day(days)))
        db.execute("INSERT INTO telemetry_opt_in_status (instance_uuid, received_at, opt_in_status) "
                   "VALUES ('i', ?, 1)", (iso_timestamp(received),))


def test_intake_rows_are_kept_for_ever_with_keep_days_0(db):
    add_intake_rows(db, days_ago=[3000, 0])
    summary = run_rollups(db, NOW, load_settings(environ={"USAGE_INTAKE_KEEP_DAYS": "0"}))
    assert summary.intake_rows_deleted == 0
    assert db.query("SELECT COUNT(*) FROM telemetry_snapshots") == [(2,)]


def test_the_rollup_thread_runs_at_start_and_stops_on_close(db, db_url, no_leaked_threads):
    from flask import Flask

    add_app_usage(db, "app", "main", day(100), 1.0, 1)
    app = Flask("rollups_test")
    app.config.update(USAGE_DB=db_url, USAGE_ROLLUP_INTERVAL_S=60)
    UsageCollection(app, clock=Clock())
    state = app.extensions["usage_collection"]
    assert state.rollup_task is None  # lazily: nothing before the first request
    app.test_client().get("/api/status")
    deadline = time.monotonic() + 5
    while table(db, "application_usage_daily") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert totals(db) == [("app", "main", 1.0, 1)]
    assert state.rollup_task.running
    state.close()
    assert state.rollup_task is None


@pytest.mark.parametrize("interval", [0, "0"])  # -1 is refused at start (test_settings_checked.py)
def test_no_rollup_thread_when_the_interval_is_zero(app, interval):
    state = app.extensions["usage_collection"]
    state.settings = state.settings.updated({"USAGE_ROLLUP_INTERVAL_S": interval})
    app.test_client().get("/api/status")
    assert state.rollup_task is None


def assert_new_again_past_the_cap(db, retention) -> None:
    """Store "a" 100 days ago, let ``retention`` delete it, then store today's new name "b"
    and "a" again: with a cap of one new name a day, "a" must be dropped as new."""
    db.caps = Caps(new_names_per_day=1, user_agents_per_key=0, report_ids=0)
    db.store_report(Report(ui_counters=(UiCounter("app", "a", "click", 1, "app-click-a"),)), NOW - timedelta(days=100))
    retention()
    db.store_report(Report(ui_counters=(UiCounter("app", "b", "click", 1, "app-click-b"),)), NOW)  # today's new name
    db.store_report(Report(ui_counters=(UiCounter("app", "a", "click", 1, "app-click-a"),)), NOW)  # past the cap
    assert db.query("SELECT counter_name FROM usage_counters WHERE source = 'ui' ORDER BY 1") == [("b",)]
    assert db.query("SELECT counter_name, count FROM usage_counters WHERE source = 'server'") == [
        ("new_names_dropped", 1)]


def test_a_name_retention_deleted_is_new_again_for_the_daily_cap_on_new_names(db):
    """A name whose rows retention deleted counts as new when it comes back: the deployment's
    daily cap on new names counts it again (the cache of names known stored forgets it)."""
    settings = load_settings(environ={})  # 90 days of counters kept

    def retention() -> None:
        run_rollups(db, NOW - timedelta(days=50), settings)  # deletes nothing
        run_rollups(db, NOW, settings)  # deletes "a"

    assert_new_again_past_the_cap(db, retention)


def test_a_name_retention_deleted_on_another_host_is_new_again_for_the_daily_cap(db):
    """The rollup runs in one process of one host; every other receiver process must also
    stop taking the names it deleted for stored, or they come back past the daily cap."""
    db.names_check_s = 0.0  # looks at every batch (every 10 s in a server)

    def retention() -> None:
        other_host = open_storage(db.url)
        try:
            assert run_rollups(other_host, NOW, load_settings(environ={})).usage_counters_deleted == 1  # "a", there
        finally:
            other_host.close()

    assert_new_again_past_the_cap(db, retention)
