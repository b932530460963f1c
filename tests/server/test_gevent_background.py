"""Background work still runs in the server ``serve`` starts (gunicorn with gevent workers,
where monkey patching turns threads into greenlets): the rollups and the server-side
telemetry sender, observed in the databases they write."""

from __future__ import annotations

import sqlite3
import urllib.request
from pathlib import Path

from e2e.telemetry_support import seed_usage, snapshot_count, utc_now, wait_for
from support.live_server import LiveServer


def _old_daily_rows(db_path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        old = conn.execute("SELECT COUNT(*) FROM application_usage_daily "
                           "WHERE day < date('now', '-7 days')").fetchone()[0]
        totals = conn.execute("SELECT COUNT(*) FROM application_usage_totals").fetchone()[0]
        return old, totals
    finally:
        conn.close()


def test_rollups_run_in_the_gevent_server(tmp_path):
    db = tmp_path / "rollups.db"
    seed_usage(db, utc_now(), days=21)
    old, totals = _old_daily_rows(db)
    assert old > 0 and totals == 0
    server = LiveServer(db, env={"USAGE_ROLLUP_INTERVAL_S": "3600", "USAGE_APP_USAGE_KEEP_DAYS": "7"}).start()
    try:
        urllib.request.urlopen(server.url + "/api/status", timeout=5).read()  # rollups start after a request
        wait_for(lambda: _old_daily_rows(db)[0] == 0, timeout=30)
        assert _old_daily_rows(db)[1] > 0
    finally:
        server.stop()


def test_the_server_sender_runs_in_the_gevent_server(tmp_path):
    intake = LiveServer(tmp_path / "intake.db", env={"USAGE_INTAKE_ENABLED": "true"}).start()
    try:
        deployment = LiveServer(tmp_path / "deployment.db", env={
            "USAGE_TELEMETRY_URL": intake.url + "/api/telemetry/v3/intake", "USAGE_TELEMETRY_SEND_FROM": "server",
            "USAGE_TELEMETRY_OPT_IN": "true", "USAGE_ROLLUP_INTERVAL_S": "0"}).start()
        try:
            urllib.request.urlopen(deployment.url + "/api/status", timeout=5).read()  # the sender starts then
            wait_for(lambda: snapshot_count(intake.db_path) == 1, timeout=30)
        finally:
            deployment.stop()
    finally:
        intake.stop()
