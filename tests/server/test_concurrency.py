"""Many browsers reporting at once into a real server process: nothing lost, nothing doubled.

Reports are posted from 8 threads (25 reports each, every one also re-sent once as a
retry would, plus one report all threads send at the same moment) to the threaded development server and to gunicorn with two worker
processes writing one SQLite file; the totals read back through /api/stats must be exact.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from support.live_server import LiveServer
from usage_collection import storage

THREADS = 8
REPORTS_PER_THREAD = 25
REPORTS = THREADS * REPORTS_PER_THREAD + 1  # plus one report that every thread sends at once


def report(report_id: str) -> bytes:
    counters = {
        "conc-click-open": {"key": "conc-click-open", "appName": "conc", "eventName": "open", "type": "click",
                            "total": 3},
        "conc-loaded-open": {"key": "conc-loaded-open", "appName": "conc", "eventName": "open", "type": "loaded",
                             "total": 1},
    }
    return json.dumps({"report": {
        "reportVersion": 3, "reportId": report_id, "uiCounter": counters,
        "userAgent": {"kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana", "type": "user_agent",
                                            "userAgent": "pytest"}},
        "application_usage": {"conc-main": {"appId": "conc", "viewId": "main", "minutesOnScreen": 0.5,
                                            "numberOfClicks": 2}},
    }}).encode()


def post(url: str, body: bytes) -> dict:
    request = urllib.request.Request(url + "/api/ui_counters/_report", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "kbn-xsrf": "test"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def send_all(url: str, thread: int) -> list[dict]:
    """One browser tab: a report all tabs race to deliver, then its own reports, each
    followed later by a retry of the one before."""
    answers = [post(url, report("shared-by-all-threads"))]
    for n in range(REPORTS_PER_THREAD):
        answers.append(post(url, report(f"t{thread}-r{n}")))
        if n:
            answers.append(post(url, report(f"t{thread}-r{n - 1}")))
    answers.append(post(url, report(f"t{thread}-r{REPORTS_PER_THREAD - 1}")))
    return answers


def prepare_database(path: Path) -> None:
    """Create the file in WAL mode first. Two gunicorn workers opening a brand-new file at
    the same moment can both try to switch it to WAL, and the loser fails to boot with
    "database is locked" (``PRAGMA journal_mode`` does not wait on the busy timeout)."""
    db = storage.open_storage(str(path))
    try:
        db.migrate()
    finally:
        db.close()


@pytest.fixture(params=[1, 2], ids=["dev-server", "gunicorn-2-workers"])
def server(request, tmp_path: Path) -> Iterator[LiveServer]:
    if request.param == 1:
        yield request.getfixturevalue("live_server")
        return
    db_path = tmp_path / "x.db"
    prepare_database(db_path)
    live = LiveServer(db_path, workers=2).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.timeout(60)
def test_concurrent_reports_are_counted_exactly_once(server: LiveServer):
    with ThreadPoolExecutor(THREADS) as pool:
        answers = [a for thread in pool.map(lambda t: send_all(server.url, t), range(THREADS)) for a in thread]
    assert answers.count({"status": "ok"}) == REPORTS
    assert answers.count({"status": "ok", "duplicate": True}) == REPORTS - 1 + THREADS - 1

    with urllib.request.urlopen(server.url + "/api/stats?extended=true&legacy=true", timeout=30) as response:
        usage = json.loads(response.read())["usage"]
    assert usage["ui_metric"]["conc"] == [{"key": "open", "value": 4 * REPORTS}]
    daily = {(e["appName"], e["eventName"], e["counterType"]): e["total"] for e in usage["ui_counters"]["dailyEvents"]}
    assert daily == {("conc", "open", "click"): 3 * REPORTS, ("conc", "open", "loaded"): REPORTS}

    conn = sqlite3.connect(server.db_path)
    try:
        assert conn.execute("SELECT minutes_on_screen, number_of_clicks FROM application_usage_daily").fetchall() \
            == [(0.5 * REPORTS, 2 * REPORTS)]
        assert conn.execute("SELECT reports FROM user_agents").fetchall() == [(REPORTS,)]
        assert conn.execute("SELECT COUNT(*) FROM reports_seen").fetchone() == (REPORTS,)
    finally:
        conn.close()
