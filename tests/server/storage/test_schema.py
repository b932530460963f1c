"""Creating and migrating the schema: an existing version 1 SQLite file, several processes
starting at once against one empty database, and a newer schema refused."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from usage_collection.storage import INT64_MAX, SCHEMA_VERSION, SchemaTooNew, open_storage
from usage_collection.storage.schema import _V1, statements
from usage_collection.validation import ApplicationUsage, Report, UiCounter, UserAgent

BIN = Path(sys.executable).parent


def test_a_version_1_sqlite_file_is_migrated_and_its_overflowed_counts_saturated(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in statements(_V1, "sqlite"):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    # what ~1,000 reports of one key did before: a count past int64, stored as a REAL
    conn.execute("INSERT INTO ui_metric VALUES ('ui-metric:a:e', 'a', 'e', 9.3e18, 'x')")
    conn.execute("INSERT INTO usage_counters VALUES ('a', 'e', 'click', 'ui', '2025-04-10', 9.3e18, 'x')")
    conn.execute("INSERT INTO usage_counters VALUES ('a', 'f', 'click', 'ui', '2025-04-10', 7, 'x')")
    conn.execute("INSERT INTO telemetry_snapshots (instance_uuid, received_at, day, payload) VALUES ('i', 't', 'd', '{}')")
    conn.commit()
    conn.close()

    storage = open_storage(str(path))
    assert storage.migrate() == 1
    assert storage.query("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    assert storage.query("SELECT count, typeof(count) FROM ui_metric") == [(INT64_MAX, "integer")]
    assert storage.query("SELECT counter_name, count FROM usage_counters ORDER BY 1") == [("e", INT64_MAX), ("f", 7)]
    assert storage.query("SELECT client, bytes FROM telemetry_snapshots") == [("", 0)]
    assert storage.migrate() == SCHEMA_VERSION  # a second start changes nothing
    storage.close()


def test_a_newer_schema_is_refused_with_its_version(storage):
    storage.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(SchemaTooNew, match="schema version 99 is newer"):
        storage.migrate()


def test_several_processes_starting_at_once_against_one_empty_database(db_url):
    """Six processes migrate the same empty database at the same moment; all succeed and the
    schema is there once."""
    script = ("import sys; from usage_collection.storage import open_storage; s = open_storage(sys.argv[1]); "
              "s.migrate(); print(s.instance_uuid()); s.close()")
    processes = [subprocess.Popen([sys.executable, "-c", script, db_url], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
    outputs = [process.communicate(timeout=60) for process in processes]
    assert [process.returncode for process in processes] == [0] * 6, [err for _out, err in outputs]
    uuids = {out.strip() for out, _err in outputs}
    assert len(uuids) == 1  # one deployment: every process read the same instance uuid
    storage = open_storage(db_url)
    assert storage.query("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]
    storage.close()


def test_columns_are_listed_in_table_order_on_both_backends(storage):
    assert storage.columns("usage_counters") == ["domain_id", "counter_name", "counter_type", "source", "day",
                                                 "count", "updated_at"]
    assert storage.columns("meta") == ["key", "value"]


HOT_TABLES = ("application_usage_daily", "ui_metric", "usage_counters", "user_agents")


def _updates(storage) -> dict[str, tuple[int, int]]:
    return {name: (updated, hot) for name, updated, hot in storage.query(
        "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname IN (?, ?, ?, ?)",
        list(HOT_TABLES))}


def test_an_increment_on_postgresql_writes_no_index_entry(postgres_cluster):
    """On PostgreSQL every increment of a stored row is a HOT update: no index holds a column
    an increment changes, so hot rows do not fill their indexes with dead entries."""
    url = postgres_cluster.new_database()
    storage = open_storage(url)
    storage.migrate()
    agent = UserAgent("k", "user_agent", "app", "UA")
    now = datetime(2025, 4, 10, 12, 0, tzinfo=timezone.utc)
    for n in range(3):  # the first report creates the rows, the next two increment them
        report = Report(report_id=f"r{n}", user_agents=(agent,),
                        ui_counters=tuple(UiCounter("app", f"event{i}", "click", 1, f"app-click-event{i}")
                                          for i in range(10)),
                        application_usage=(ApplicationUsage("app", "main", 0.5, 1),))
        assert storage.store_report(report, now + timedelta(minutes=n))
    storage.close()  # its connections end, and each flushes its statistics as it does
    expected = {"application_usage_daily": 2, "ui_metric": 20, "usage_counters": 20, "user_agents": 2}
    reader = open_storage(url)
    deadline = time.monotonic() + 10
    while True:
        updates = _updates(reader)
        if {name: updated for name, (updated, _hot) in updates.items()} == expected:
            break
        assert time.monotonic() < deadline, updates
        time.sleep(0.1)
    reader.close()
    assert updates == {name: (count, count) for name, count in expected.items()}


def test_a_version_2_postgresql_database_loses_its_indexes_on_incremented_columns(postgres_cluster):
    url = postgres_cluster.new_database()
    storage = open_storage(url)
    storage.migrate()
    storage.execute("DROP INDEX usage_counters_keys_by_day")  # back to version 2's indexes
    for statement in ("CREATE INDEX usage_counters_dashboard ON usage_counters "
                      "(source, day, domain_id, counter_name, counter_type, count)",
                      "CREATE INDEX usage_counters_source_day ON usage_counters (source, day)",
                      "CREATE INDEX user_agents_key_last_seen ON user_agents (key, last_seen)",
                      "UPDATE schema_version SET version = 2"):
        storage.execute(statement)
    assert storage.migrate() == 2
    assert storage.query("SELECT indexname FROM pg_indexes WHERE tablename IN ('usage_counters', 'user_agents') "
                         "ORDER BY 1") == [("usage_counters_keys_by_day",), ("usage_counters_pkey",),
                                           ("user_agents_pkey",)]
    assert storage.query("SELECT version FROM schema_version") == [(3,)]
    storage.close()
