"""Storing reports (``storage/reports.py``) on each backend, with the clock passed in."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from support.tables import data_row_counts, stored_nothing
from support.usage_rows import db  # noqa: F401
from usage_collection.storage import INT64_MAX, Caps, KeyLimitHit, Pending, StorageError, open_storage
from usage_collection.storage.reports import _KNOWN, ui_metric_id
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


# -- batches (group commit stores several requests' reports in one transaction) ----------------

def test_a_batch_counts_a_report_id_once_inside_it_and_across_batches(db):
    report = Report(report_id="same", ui_counters=(counter("discover", "open", 2),))
    other = Report(report_id="other", ui_counters=(counter("discover", "open", 5),))
    assert db.store_batch([Pending(report, NOW), Pending(report, NOW), Pending(other, NOW)]) == \
        ["stored", "duplicate", "stored"]
    assert db.store_batch([Pending(report, NOW), Pending(Report(ui_counters=(counter("discover", "open", 1),)), NOW)]) \
        == ["duplicate", "stored"]
    assert select(db, "SELECT count FROM usage_counters") == [(8,)]
    assert select(db, "SELECT count FROM ui_metric") == [(8,)]


def test_a_report_over_its_clients_key_limit_is_refused_alone_and_leaves_no_trace(db):
    known = Report(ui_counters=(counter("app", "known", 1),))
    db.store_report(known, NOW)
    greedy = Report(report_id="greedy", ui_counters=(counter("app", "new1", 1), counter("app", "new2", 1)))
    modest = Report(report_id="modest", ui_counters=(counter("app", "known", 3), counter("app", "new3", 1)))
    outcomes = db.store_batch([Pending(greedy, NOW, "10.0.0.1", key_limit=1), Pending(modest, NOW, "10.0.0.2", 1)])
    assert outcomes == [KeyLimitHit(count=2, used=0, limit=1), "stored"]
    assert select(db, "SELECT counter_name, count FROM usage_counters ORDER BY counter_name") == [
        ("known", 4), ("new3", 1)]
    assert select(db, "SELECT report_id FROM reports_seen") == [("modest",)]  # the refused id can come again
    assert select(db, "SELECT client, new_keys FROM client_new_keys") == [("10.0.0.2", 1)]


def test_identical_keys_in_a_batch_are_summed_before_the_upsert(db):
    one = Report(ui_counters=(counter("a", "e", 2),), application_usage=(ApplicationUsage("a", "main", 0.5, 1),))
    db.store_batch([Pending(one, NOW)] * 3)
    assert select(db, "SELECT count FROM usage_counters") == [(6,)]
    assert select(db, "SELECT minutes_on_screen, number_of_clicks FROM application_usage_daily") == [(1.5, 3)]


def test_a_batch_of_known_names_counts_each_new_report_once_in_every_table(db):
    # Once its names are stored, a batch takes PostgreSQL's one-statement path (pg_batch.py);
    # it must agree with the usual one on every table.
    agent = UserAgent("k", "user_agent", "app", "UA")
    first = Report(report_id="first", ui_counters=(counter("app", "open", 1), counter("app", "open", 2, "loaded")),
                   application_usage=(ApplicationUsage("app", "main", 0.5, 1),), user_agents=(agent,))
    second = Report(report_id="second", ui_counters=(counter("app", "open", 3), counter("app", "open", 4, "loaded")),
                    application_usage=(ApplicationUsage("app", "main", 1.0, 2),), user_agents=(agent, agent))
    no_id = Report(ui_counters=(counter("app", "open", 5),), application_usage=(ApplicationUsage("app", "main", 0.25, 0),),
                   user_agents=(agent,))
    assert db.store_batch([Pending(first, NOW)]) == ["stored"]
    later, next_day = NOW + timedelta(minutes=1), NOW + timedelta(days=1)
    assert db.store_batch([Pending(first, later), Pending(second, later), Pending(second, later),
                           Pending(no_id, next_day)]) == ["duplicate", "stored", "duplicate", "stored"]
    assert select(db, "SELECT counter_name, counter_type, day, count FROM usage_counters ORDER BY 2, 3") == [
        ("open", "click", "2025-04-10", 4), ("open", "click", "2025-04-11", 5), ("open", "loaded", "2025-04-10", 6)]
    assert select(db, "SELECT id, count FROM ui_metric") == [("ui-metric:app:open", 15)]
    assert select(db, "SELECT day, minutes_on_screen, number_of_clicks FROM application_usage_daily ORDER BY day") == [
        ("2025-04-10", 1.5, 3), ("2025-04-11", 0.25, 0)]
    assert select(db, "SELECT first_seen, reports FROM user_agents") == [("2025-04-10T12:00:00.000Z", 3)]
    assert select(db, "SELECT report_id FROM reports_seen ORDER BY 1") == [("first",), ("second",)]


def test_a_batch_of_known_names_keeps_every_character_of_them(db):
    # PostgreSQL's one-statement path carries names as JSON text: quotes, backslashes and
    # characters beyond ASCII must come back as they went in.
    names = ['say "hi"', "back\\slash", "emoji \U0001F600", "line\u2028separator", "été"]
    report = Report(ui_counters=tuple(counter("app é", name, 2) for name in names),
                    application_usage=(ApplicationUsage("app é", 'view "1"', 0.5, 1),),
                    user_agents=(UserAgent("k", "user_agent", "app é", 'Mozilla/5.0 "\\"'),))
    db.store_report(report, NOW)
    assert db.store_batch([Pending(report, NOW), Pending(report, NOW)]) == ["stored", "stored"]
    assert select(db, "SELECT domain_id, counter_name, count FROM usage_counters ORDER BY counter_name") == sorted(
        ("app é", name, 6) for name in names)
    assert select(db, "SELECT id, count FROM ui_metric ORDER BY id") == sorted(
        (ui_metric_id("app é", name), 6) for name in names)
    assert select(db, "SELECT app_id, view_id, number_of_clicks FROM application_usage_daily") == [
        ("app é", 'view "1"', 3)]
    assert select(db, "SELECT user_agent, reports FROM user_agents") == [('Mozilla/5.0 "\\"', 3)]


def test_a_batch_of_known_names_saturates_at_the_int64_maximum(db):
    report = Report(ui_counters=(counter("a", "e", 1),), application_usage=(ApplicationUsage("a", "main", 1.0, 1),))
    db.store_report(report, NOW)  # the names are stored (and known to this process) from here on
    near = INT64_MAX - 5
    db.execute("UPDATE ui_metric SET count = ?", [near])
    db.execute("UPDATE usage_counters SET count = ?", [near])
    db.execute("UPDATE application_usage_daily SET number_of_clicks = ?", [near])
    big = Report(ui_counters=(counter("a", "e", INT64_MAX),), application_usage=(ApplicationUsage("a", "main", 1.0, 3),))
    assert db.store_batch([Pending(big, NOW), Pending(big, NOW)]) == ["stored", "stored"]
    assert select(db, "SELECT count FROM ui_metric") == [(INT64_MAX,)]
    assert select(db, "SELECT count FROM usage_counters") == [(INT64_MAX,)]
    assert select(db, "SELECT minutes_on_screen, number_of_clicks FROM application_usage_daily") == [(3.0, INT64_MAX)]


def test_batches_of_known_and_of_new_names_stored_at_once_lock_rows_in_one_order(db):
    # Two receivers: one whose names are all known (PostgreSQL's one-statement path), one that
    # has forgotten them (the usual path, as after a start). Both lock the same hot rows; in
    # different orders they deadlock, and PostgreSQL fails one of them after a second.
    counters = tuple(counter("app", f"event_{n}", 1) for n in range(10))
    report = Report(ui_counters=counters, application_usage=(ApplicationUsage("app", "main", 0.5, 1),),
                    user_agents=(UserAgent("k", "user_agent", "app", "UA"),))
    db.store_report(report, NOW)
    errors: list[BaseException] = []
    rounds = 120

    def receiver(forgetful: bool) -> None:
        storage = open_storage(db.url)
        try:
            storage.store_report(report, NOW)  # learns the names
            for _ in range(rounds):
                if forgetful:
                    storage.known_keys.clear()
                storage.store_batch([Pending(report, NOW), Pending(report, NOW)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            storage.close()

    threads = [threading.Thread(target=receiver, args=(forgetful,)) for forgetful in (False, True, False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    reports = 1 + 4 * (1 + 2 * rounds)
    assert select(db, "SELECT MIN(count), MAX(count) FROM usage_counters") == [(reports, reports)]
    assert select(db, "SELECT reports FROM user_agents") == [(reports,)]


# -- counts that cannot overflow ---------------------------------------------------------------

def test_counts_saturate_at_the_int64_maximum_and_sums_read_without_overflow(db):
    near = INT64_MAX - 5
    db.execute("INSERT INTO ui_metric (id, app_name, event_name, count, updated_at) VALUES (?, ?, ?, ?, ?)",
               ["ui-metric:a:e", "a", "e", near, "x"])
    db.execute("INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, updated_at) "
               "VALUES ('a', 'e', 'click', 'ui', '2025-04-10', ?, 'x'), ('a', 'e', 'click', 'ui', '2025-04-09', ?, 'x')",
               [near, near])
    db.store_report(Report(ui_counters=(counter("a", "e", 1000),)), NOW)
    assert select(db, "SELECT count FROM ui_metric") == [(INT64_MAX,)]
    assert select(db, "SELECT day, count FROM usage_counters ORDER BY day") == [
        ("2025-04-09", near), ("2025-04-10", INT64_MAX)]
    # two near-maximum rows: their sum saturates instead of failing (SQLite sums past 2^53 as a
    # float, so a single near-maximum row may read as the maximum there: only the sum is exact-checked)
    window = db.ui_window("2025-04-01", NOW)  # 04-10 is the open day, 04-09 a finished one
    assert dict(((day, count) for _app, day, count in window.per_app_day))["2025-04-10"] == INT64_MAX
    assert window.top_events(10) == [("a", "e", "click", INT64_MAX)]
    assert db.ui_metric_rows() == [("a", "e", INT64_MAX)]


def test_clicks_saturate_and_the_window_sums_stay_whole_numbers(db):
    near = INT64_MAX - 1
    db.execute("INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, number_of_clicks, "
               "updated_at) VALUES ('a', 'main', '2025-04-09', 1.0, ?, 'x'), ('a', 'main', '2025-04-10', 1.0, ?, 'x')",
               [near, near])
    [(app, view, clicks, minutes, *windows)] = db.application_usage_sums(["2025-04-04"])
    assert (app, view, clicks, minutes, windows) == ("a", "main", INT64_MAX, 2.0, [INT64_MAX, 2.0])
    assert type(clicks) is int


# -- caps ------------------------------------------------------------------------------------

def test_past_the_daily_new_name_cap_new_names_are_dropped_and_counted_while_known_ones_count(db):
    db.caps = Caps(new_names_per_day=3, user_agents_per_key=0, report_ids=0)
    db.store_report(Report(ui_counters=(counter("app", "a", 1), counter("app", "b", 1))), NOW)
    db.store_report(Report(ui_counters=(counter("app", "a", 1), counter("app", "c", 1), counter("app", "d", 1),
                                        counter("app", "e", 1))), NOW)
    assert select(db, "SELECT counter_name, count FROM usage_counters WHERE source = 'ui' ORDER BY 1") == [
        ("a", 2), ("b", 1), ("c", 1)]
    assert select(db, "SELECT domain_id, counter_name, count FROM usage_counters WHERE source = 'server'") == [
        ("usage_collection", "new_names_dropped", 2)]
    assert select(db, "SELECT names FROM daily_new_names") == [(3,)]
    # the next UTC day starts afresh
    db.store_report(Report(ui_counters=(counter("app", "d", 1),)), NOW + timedelta(days=1))
    assert select(db, "SELECT counter_name, day FROM usage_counters WHERE counter_name = 'd'") == [
        ("d", "2025-04-11")]


def test_user_agents_are_kept_up_to_the_cap_per_key_dropping_the_least_recently_seen(db):
    db.caps = Caps(new_names_per_day=0, user_agents_per_key=2, report_ids=0)
    for minute, agent in enumerate(["UA-1", "UA-2", "UA-1", "UA-3"]):
        db.store_report(Report(user_agents=(UserAgent("k", "user_agent", "kibana", agent),
                                            UserAgent("other", "user_agent", "kibana", agent))),
                        NOW + timedelta(minutes=minute))
    assert select(db, "SELECT key, user_agent FROM user_agents ORDER BY key, user_agent") == [
        ("k", "UA-1"), ("k", "UA-3"), ("other", "UA-1"), ("other", "UA-3")]


def test_remembered_report_ids_are_capped_oldest_first(db):
    db.caps = Caps(new_names_per_day=0, user_agents_per_key=0, report_ids=3)
    for minute in range(5):
        db.store_report(Report(report_id=f"r{minute}"), NOW + timedelta(minutes=minute))
    assert db.cap_report_ids() == 2
    assert select(db, "SELECT report_id FROM reports_seen ORDER BY report_id") == [("r2",), ("r3",), ("r4",)]


def test_asking_whether_names_are_stored_looks_each_up_by_its_primary_key_on_sqlite(tmp_path):
    """Every name is asked about again after a start; a row-value ``IN (VALUES ...)`` made
    SQLite walk the whole table for it (139 ms a chunk of 100 names at a year of data)."""
    storage = open_storage(str(tmp_path / "plan.db"))
    storage.migrate()
    # The table each query reads and the primary key it must be searched by (hand-written).
    # Asserted on the plan's meaning, not its exact wording, which changes between SQLite
    # versions: a SEARCH of that alias naming every key column, never a SCAN of it.
    expected = {
        "counters": {"u": ("domain_id", "counter_name", "counter_type", "source")},
        "views": {"d": ("app_id", "view_id"), "t": ("app_id", "view_id")},
        "agents": {"a": ("key", "user_agent")},
    }
    for name, (sql, width) in _KNOWN.items():
        rows = ", ".join(["(" + ", ".join(["?"] * width) + ")"] * 2)
        plan = [step for *_ids, step in storage.query("EXPLAIN QUERY PLAN " + sql.format(rows=rows), ["x"] * 2 * width)]
        for alias, key in expected[name].items():
            searches = [step for step in plan if step.startswith(f"SEARCH {alias} ")]
            assert len(searches) == 1 and all(f"{column}=?" in searches[0] for column in key), plan
            assert not any(step.startswith(f"SCAN {alias}") for step in plan), plan
    storage.close()
