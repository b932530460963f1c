"""The dashboard's window of UI counters: finished days come from a per-process cache, so what
must still show up after a first read is checked here (today's counts, a batch committing
just after midnight, retention), on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from usage_collection.storage import open_storage
from usage_collection.validation import Report, UiCounter

MIDNIGHT = datetime(2025, 6, 30, tzinfo=timezone.utc)


def report(app: str, event: str, total: int) -> Report:
    return Report(ui_counters=(UiCounter(app, event, "click", total, f"{app}-click-{event}"),))


def per_day(window) -> dict[tuple[str, str], int]:
    return {(app, day): count for app, day, count in window.per_app_day}


def test_counts_stored_after_a_read_show_in_the_next(storage):
    noon = MIDNIGHT + timedelta(hours=12)
    storage.store_report(report("shop", "buy", 2), noon - timedelta(days=2))
    storage.store_report(report("shop", "buy", 3), noon)
    first = storage.ui_window("2025-06-25", noon)
    assert per_day(first) == {("shop", "2025-06-28"): 2, ("shop", "2025-06-30"): 3}

    storage.store_report(report("shop", "buy", 10), noon)
    storage.store_report(report("shop", "look", 1), noon)
    again = storage.ui_window("2025-06-25", noon)
    assert per_day(again) == {("shop", "2025-06-28"): 2, ("shop", "2025-06-30"): 14}
    assert again.top_events(5) == [("shop", "buy", "click", 15), ("shop", "look", "click", 1)]
    assert sorted(storage.events_of_apps(again, ["shop"], 8)) == [
        ("shop", "buy", "2025-06-28", 2), ("shop", "buy", "2025-06-30", 13), ("shop", "look", "2025-06-30", 1)]


def test_a_batch_committed_just_after_midnight_still_counts_for_yesterday(storage):
    """Yesterday stays open for LATE_WRITES (15 minutes): its late rows are read, not cached."""
    just_after = MIDNIGHT + timedelta(minutes=5)
    before = MIDNIGHT - timedelta(seconds=1)
    storage.store_report(report("shop", "buy", 1), before)
    assert per_day(storage.ui_window("2025-06-20", just_after)) == {("shop", "2025-06-29"): 1}
    storage.store_report(report("shop", "buy", 4), before)  # received before midnight, committed after
    assert per_day(storage.ui_window("2025-06-20", just_after)) == {("shop", "2025-06-29"): 5}
    later = MIDNIGHT + timedelta(hours=1)
    assert per_day(storage.ui_window("2025-06-20", later)) == {("shop", "2025-06-29"): 5}


def test_retention_inside_the_window_is_seen(storage):
    noon = MIDNIGHT + timedelta(hours=12)
    for days_ago, total in ((5, 1), (4, 2), (3, 4)):
        storage.store_report(report("shop", "buy", total), noon - timedelta(days=days_ago))
    assert storage.ui_window("2025-06-20", noon).top_events(1) == [("shop", "buy", "click", 7)]
    storage.apply_counter_retention("2025-06-26")  # deletes 06-25
    window = storage.ui_window("2025-06-20", noon)
    assert window.top_events(1) == [("shop", "buy", "click", 6)]
    assert per_day(window) == {("shop", "2025-06-26"): 2, ("shop", "2025-06-27"): 4}


def test_retention_before_the_window_keeps_the_cached_sums(storage):
    """A rollup deleting days older than the window must not make the next view sum again."""
    noon = MIDNIGHT + timedelta(hours=12)
    for days_ago, total in ((9, 100), (3, 1)):
        storage.store_report(report("shop", "buy", total), noon - timedelta(days=days_ago))
    first = storage.ui_window("2025-06-25", noon)
    storage.apply_counter_retention("2025-06-24")  # deletes 06-21, before the window
    again = storage.ui_window("2025-06-25", noon)
    assert again.closed is first.closed
    assert again.top_events(1) == [("shop", "buy", "click", 1)]


def test_an_app_with_more_events_than_a_chart_shows_gets_other_per_day(storage):
    noon = MIDNIGHT + timedelta(hours=12)
    for event, total in (("a", 50), ("b", 40), ("c", 3), ("d", 2)):
        storage.store_report(report("shop", event, total), noon - timedelta(days=1))
    storage.store_report(report("shop", "d", 30), noon)  # today: d passes c
    window = storage.ui_window("2025-06-25", noon)
    assert sorted(storage.events_of_apps(window, ["shop"], 3), key=str) == sorted([
        ("shop", "a", "2025-06-29", 50), ("shop", "b", "2025-06-29", 40), ("shop", None, "2025-06-29", 5),
        ("shop", None, "2025-06-30", 30)], key=str)


def test_a_charts_events_are_searched_by_their_primary_key_on_sqlite(tmp_path):
    """Left to itself, SQLite took the covering index (source, day, ...) and walked every day
    of an app with one event charted, the window's days for more (27 ms an app at a year of
    data, most of the dashboard's first request), instead of searching the app's events by
    the primary key (0.4 ms)."""
    storage = open_storage(str(tmp_path / "plan.db"))
    storage.migrate()
    noon = MIDNIGHT + timedelta(hours=12)
    storage.store_report(report("shop", "buy", 2), noon - timedelta(days=2))
    window = storage.ui_window("2025-06-25", noon)
    statements: list[str] = []
    with storage.connection() as conn:  # the pool hands this connection out again next
        conn.raw.set_trace_callback(statements.append)
    assert storage.events_of_apps(window, ["shop"], 8) == [("shop", "buy", "2025-06-28", 2)]
    with storage.connection() as conn:
        conn.raw.set_trace_callback(None)
    [query] = [sql for sql in statements if "counter_name IN" in sql]
    plan = [step for *_ids, step in storage.query("EXPLAIN QUERY PLAN " + query)]
    searches = [step for step in plan if step.startswith("SEARCH usage_counters ")]
    assert len(searches) == 1 and "domain_id=?" in searches[0] and "counter_name=?" in searches[0], plan
    storage.close()
