"""The CLI: stats, schema-check [--fix], rollup, and one-line errors for library failures."""

from __future__ import annotations

import json
import shutil
import sys
import textwrap

import pytest
from click.testing import CliRunner

from usage_collection.cli import main
from usage_collection.schema_check import SCHEMA_FILE

from support.usage_rows import add_app_usage, add_counter, day, no_leaked_threads, open_db  # noqa: F401

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def existing_db(db_path):
    db = open_db(str(db_path))
    add_counter(db, "discover", "open", kind="click", on=day(0, now=_today()), count=4)
    db.close()
    return db_path


def _today():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc)


def test_stats_prints_the_extended_payload_as_json(runner, existing_db):
    result = runner.invoke(main, ["stats", "--db", str(existing_db)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["clusterUuid"] == payload["usage_collection"]["uuid"]
    [event] = payload["usage"]["ui_counters"]["dailyEvents"]
    assert (event["appName"], event["eventName"], event["total"]) == ("discover", "open", 4)
    assert payload["usage"]["usage_collector_stats"]["failed"]["count"] == 0


def test_schema_check_passes_on_the_committed_json(runner):
    result = runner.invoke(main, ["schema-check"])
    assert result.exit_code == 0, result.output
    assert "is up to date (5 collectors)" in result.output


def test_schema_check_fails_on_drift_and_fix_fixes_it(runner, tmp_path):
    stored = tmp_path / "collectors.json"
    shutil.copy(SCHEMA_FILE, stored)
    mapping = json.loads(stored.read_text())
    del mapping["properties"]["ui_metric"]
    mapping["properties"]["ui_counters"]["properties"]["dailyEvents"]["items"]["properties"]["total"]["type"] = "integer"
    mapping["properties"]["gone"] = {"properties": {"x": {"type": "long"}}}
    stored.write_text(json.dumps(mapping, indent=2) + "\n")

    result = runner.invoke(main, ["schema-check", "--file", str(stored)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"The following changes must be persisted in {stored} file. Use '--fix' to update."
    assert '  - properties.gone.properties.x.type: "long"' in lines
    assert '  ~ properties.ui_counters.properties.dailyEvents.items.properties.total.type: "integer" -> "long"' in lines
    assert '  + properties.ui_metric.properties.DYNAMIC_KEY.type: "array"' in lines

    fixed = runner.invoke(main, ["schema-check", "--file", str(stored), "--fix"])
    assert fixed.exit_code == 0 and "Updated" in fixed.output
    assert stored.read_text() == SCHEMA_FILE.read_text()
    assert runner.invoke(main, ["schema-check", "--file", str(stored)]).exit_code == 0


def test_schema_check_with_a_missing_file_shows_everything_to_add(runner, tmp_path):
    result = runner.invoke(main, ["schema-check", "--file", str(tmp_path / "new.json")])
    assert result.exit_code == 1 and "+ properties.application_usage" in result.output


def test_schema_check_of_a_users_app_includes_its_collectors(runner, tmp_path, monkeypatch, db_path):
    (tmp_path / "my_usage_app.py").write_text(textwrap.dedent(f"""
        from flask import Flask
        from usage_collection import UsageCollection

        usage = UsageCollection()
        usage.register_collector(usage.make_usage_collector(
            type="my_plugin",
            schema={{"exports": {{"type": "long", "_meta": {{"description": "CSV exports"}}}}}},
            fetch=lambda context: {{"exports": 1}},
        ))

        def create_app():
            app = Flask(__name__)
            app.config.update(USAGE_DB={str(db_path)!r}, USAGE_ROLLUP_INTERVAL_S=0)
            usage.init_app(app)
            return app
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    stored = tmp_path / "mine.json"
    try:
        result = runner.invoke(main, ["schema-check", "--app", "my_usage_app:create_app", "--file", str(stored), "--fix"])
        assert result.exit_code == 0, result.output
        mapping = json.loads(stored.read_text())
        assert mapping["properties"]["my_plugin"] == {"properties": {"exports": {
            "type": "long", "_meta": {"description": "CSV exports"}}}}
        stats = runner.invoke(main, ["stats", "--app", "my_usage_app:create_app"])
        assert json.loads(stats.output)["usage"]["my_plugin"] == {"exports": 1}
    finally:
        sys.modules.pop("my_usage_app", None)


def test_schema_check_with_app_needs_a_file(runner):
    result = runner.invoke(main, ["schema-check", "--app", "nowhere:app"])
    assert result.exit_code == 1 and "--app needs --file" in result.output


def test_rollup_prints_what_it_did(runner, db_path):
    db = open_db(str(db_path))
    add_app_usage(db, "app", "main", day(200, now=_today()), 1.0, 1)
    add_counter(db, "app", "old", on=day(200, now=_today()))
    db.close()
    result = runner.invoke(main, ["rollup", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "application_usage: rolled 1 daily rows into 1 totals (days older than 90)",
        "usage_counters: deleted 1 daily rows (older than 90 days)",
        "reports_seen: forgot 0 report ids (older than 7 days)",
        "intake: deleted 0 snapshots and opt-in changes (older than 365 days)",
    ]
    again = runner.invoke(main, ["rollup", "--db", str(db_path)])
    assert "rolled 0 daily rows" in again.output


def _garbage(tmp_path):
    path = tmp_path / "garbage.db"
    path.write_text("this is not a database" * 100)
    return path


def _newer(tmp_path):
    path = tmp_path / "newer.db"
    db = open_db(str(path))
    db.execute("UPDATE schema_version SET version = 999")
    db.close()
    return path


@pytest.mark.parametrize("command", ["stats", "rollup"])
@pytest.mark.parametrize("make_path, message", [
    (lambda tmp: tmp / "missing" / "usage.db", "no database file at"),
    (lambda tmp: tmp, "no database file at"),
    (_garbage, "file is not a database"),
    (_newer, "is newer than this usage-collection"),
], ids=["missing", "directory", "not sqlite", "newer schema"])
def test_a_bad_db_is_a_one_line_error(runner, tmp_path, command, make_path, message):
    result = runner.invoke(main, [command, "--db", str(make_path(tmp_path))])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("Error: ") and message in result.output


def test_serve_stops_cleanly_on_sigterm(tmp_path):
    """A service manager's stop runs the clean-up (which writes buffered usage counters)."""
    import signal
    import subprocess

    from support.live_server import BIN, free_port, wait_until_up

    port = free_port()
    process = subprocess.Popen([str(BIN / "usage-collection"), "serve", "--port", str(port),
                                "--db", str(tmp_path / "serve.db")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_up(process, port, timeout=20)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
