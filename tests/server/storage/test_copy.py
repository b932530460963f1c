"""``usage-collection copy``: every table from SQLite to PostgreSQL and back, refusing a
target that holds data, through the real command line."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path


from usage_collection.storage import open_storage
from usage_collection.telemetry.intake import store_snapshot
from usage_collection.telemetry.state import set_opt_in
from usage_collection.validation import ApplicationUsage, Report, UiCounter, UserAgent

CLI = Path(sys.executable).parent / "usage-collection"
NOW = datetime(2025, 4, 10, 12, tzinfo=timezone.utc)
CONTENT = ("ui_metric", "usage_counters", "application_usage_daily", "user_agents", "reports_seen",
           "telemetry_state", "telemetry_snapshots", "meta")


def fill(url: str) -> None:
    storage = open_storage(url)
    storage.migrate()
    storage.store_report(Report(report_id="r1", ui_counters=(UiCounter("discover", "open", "click", 3, "k"),),
                                user_agents=(UserAgent("kibana-user_agent", "user_agent", "kibana", "Mozilla/5.0"),),
                                application_usage=(ApplicationUsage("discover", "main", 2.5, 7),)), NOW)
    storage.add_server_counters([("my_plugin", "export", "count", "2025-04-10", 4, "2025-04-10T12:00:00.000Z")])
    set_opt_in(storage, True, "1.2.3")
    store_snapshot(storage, "other-instance", {"usage": {}}, NOW, "10.0.0.1")
    storage.close()


def dump(url: str) -> dict[str, list]:
    storage = open_storage(url)
    try:
        return {table: sorted(map(tuple, storage.query(f"SELECT * FROM {table}")), key=repr) for table in CONTENT}
    finally:
        storage.close()


def copy(source: str, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "copy", "--from", source, "--to", target], capture_output=True, text=True,
                          timeout=120)


def test_sqlite_to_postgresql_and_back_keeps_every_row_and_the_instance(tmp_path, postgres_cluster):
    source = str(tmp_path / "source.db")
    fill(source)
    before = dump(source)
    target = postgres_cluster.new_database()
    result = copy(source, target)
    assert result.returncode == 0, result.stderr
    assert "usage_counters: 2 rows" in result.stdout and "telemetry_snapshots: 1 rows" in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("copied ")
    assert dump(target) == before  # the instance uuid (in meta) came along

    back = str(tmp_path / "back.db")
    assert copy(target, back).returncode == 0
    assert dump(back) == before
    # the copied deployment keeps working: a new snapshot gets the next id
    storage = open_storage(target)
    assert store_snapshot(storage, "x", {"usage": {}}, NOW, "10.0.0.2") == 2
    storage.close()


def test_a_target_holding_data_is_refused_and_left_alone(tmp_path, db_url):
    source = str(tmp_path / "source.db")
    fill(source)
    fill(db_url)
    storage = open_storage(db_url)
    storage.execute("UPDATE usage_counters SET count = 99")
    storage.close()
    result = copy(source, db_url)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: the target") and "is not empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    storage = open_storage(db_url)
    assert {row[0] for row in storage.query("SELECT count FROM usage_counters")} == {99}
    storage.close()


def test_a_missing_source_file_is_a_one_line_error(tmp_path):
    result = copy(str(tmp_path / "nope.db"), str(tmp_path / "target.db"))
    assert result.returncode == 1 and result.stderr.strip() == f"Error: no database file at {tmp_path / 'nope.db'}"


def test_a_database_password_never_shows_in_what_the_command_prints(tmp_path, postgres_cluster):
    source = str(tmp_path / "source.db")
    fill(source)
    target = postgres_cluster.new_database().replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
    result = copy(source, target)
    assert result.returncode == 0, result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    assert "postgresql://postgres:***@127.0.0.1" in result.stdout
