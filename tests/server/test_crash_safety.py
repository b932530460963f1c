"""SIGKILL the server mid-load: every acknowledged report counted exactly once, none half-stored.

Browsers (threads here) post reports into gunicorn with two workers on one database, a SQLite
file or a PostgreSQL database (the ``db_url`` fixture runs the test on each).
While they post, the whole process group is SIGKILLed (twice), so some requests die after
their transaction committed but before the answer left, some mid-transaction, some
before. While the server is down the database is checked for torn reports: each report
uses its own event names, so for every report either all of its counters and its
``reports_seen`` row are there, or none of them. Then the server restarts on the same
file (on PostgreSQL the database server lives on: the dead workers' connections
drop and their open transactions roll back) and the clients retry whatever was not acknowledged with the same reportId, as the
browser client does (its e2e side: the reporter keeps an unacknowledged report in
storage and resends it, ``client/usage_reporter/reporter.py``), and at the end every
report is counted exactly once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from support.live_server import LiveServer
from usage_collection.storage import open_storage

CLIENTS = 6
EVENTS_PER_REPORT = 4
KILLS = 2
LOAD_BEFORE_KILL_S = 1.5
APP = "crash"


def report_body(report_id: str) -> bytes:
    """A report whose events belong to it alone: event ``<id>-e<k>`` counted ``k + 1`` times."""
    counters = {}
    for k in range(EVENTS_PER_REPORT):
        event = f"{report_id}-e{k}"
        key = f"{APP}-click-{event}"
        counters[key] = {"key": key, "appName": APP, "eventName": event, "type": "click", "total": k + 1}
    return json.dumps({"report": {
        "reportVersion": 3, "reportId": report_id, "uiCounter": counters,
        "application_usage": {f"{APP}-{report_id}": {"appId": APP, "viewId": report_id,
                                                     "minutesOnScreen": 0.25, "numberOfClicks": 3}},
    }}).encode()


class Browser(threading.Thread):
    """Posts new reports until told to stop, retrying an unacknowledged one (same id) first."""

    def __init__(self, url: str, name: str, stop_new: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.prefix = name
        self.stop_new = stop_new
        self.acked: dict[str, str] = {}   # report id -> "stored" or "duplicate"
        self.failures = 0
        self.pending: str | None = None
        self.sent = 0
        self.unexpected: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.pending is None:
                if self.stop_new.is_set():
                    return
                self.sent += 1
                self.pending = f"{self.prefix}-r{self.sent}"
            answer = self.post(self.pending)
            if answer is None:
                self.failures += 1
                time.sleep(0.05)  # the browser backs off too; the server is down or restarting
                continue
            self.acked[self.pending] = "duplicate" if answer.get("duplicate") else "stored"
            self.pending = None

    def post(self, report_id: str) -> dict | None:
        request = urllib.request.Request(self.url + "/api/ui_counters/_report", data=report_body(report_id),
                                         method="POST", headers={"Content-Type": "application/json", "kbn-xsrf": "t"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                self.unexpected.append(f"{report_id}: HTTP {exc.code} {exc.read()[:200]!r}")
            return None
        except (OSError, http.client.HTTPException):
            return None


def stored_reports(db_url: str) -> tuple[set[str], dict[str, dict[str, int]], dict[str, tuple[float, int]]]:
    """reports_seen ids, each report's counters (event -> count) and its application usage row."""
    storage = open_storage(db_url)
    try:
        seen = {row[0] for row in storage.query("SELECT report_id FROM reports_seen")}
        counters: dict[str, dict[str, int]] = {}
        for event, count in storage.query(
                "SELECT counter_name, count FROM usage_counters WHERE domain_id = ? AND source = 'ui'", (APP,)):
            report_id, _, k = event.rpartition("-e")
            counters.setdefault(report_id, {})[k] = count
        metrics = {event: count for event, count in storage.query(
            "SELECT event_name, count FROM ui_metric WHERE app_name = ?", (APP,))}
        usage = {view: (minutes, clicks) for view, minutes, clicks in storage.query(
            "SELECT view_id, minutes_on_screen, number_of_clicks FROM application_usage_daily WHERE app_id = ?",
            (APP,))}
    finally:
        storage.close()
    for report_id, events in counters.items():
        for k, count in events.items():
            assert metrics.get(f"{report_id}-e{k}") == count, f"ui_metric disagrees for {report_id}-e{k}"
    return seen, counters, usage


def assert_whole_or_absent(db_url: str) -> set[str]:
    """No torn report: each stored report has every counter once, its usage row and its reportId."""
    seen, counters, usage = stored_reports(db_url)
    full = {str(k): k + 1 for k in range(EVENTS_PER_REPORT)}
    torn = [rid for rid in counters if counters[rid] != full]
    assert not torn, f"half-stored or double-counted reports: {[(rid, counters[rid]) for rid in torn[:5]]}"
    assert set(counters) == seen, f"counters without reportId: {sorted(set(counters) - seen)[:5]}, " \
                                  f"reportId without counters: {sorted(seen - set(counters))[:5]}"
    assert set(usage) == seen
    assert all(value == (0.25, 3) for value in usage.values())
    return seen


@pytest.mark.timeout(60)
def test_sigkill_mid_load_loses_and_doubles_nothing(tmp_path: Path, db_url: str):
    server = LiveServer(db_url, workers=2, log_path=tmp_path / "server.log",
                        # Every report names 5 things of its own: the deployment's daily cap on
                        # new names (20,000) would drop them after about 4,000 reports.
                        env={"USAGE_ROLLUP_INTERVAL_S": "0", "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY": "0",
                             "USAGE_RATE_LIMIT_PER_MINUTE": "0", "USAGE_MAX_NEW_NAMES_PER_DAY": "0"}).start()
    stop_new = threading.Event()
    browsers = [Browser(server.url, f"b{i}", stop_new) for i in range(CLIENTS)]
    try:
        for browser in browsers:
            browser.start()
        stored_at_kill = []
        for _ in range(KILLS):
            time.sleep(LOAD_BEFORE_KILL_S)
            server.kill()
            acked_before = {rid for b in browsers for rid in b.acked.copy()}
            stored_at_kill.append(assert_whole_or_absent(db_url))
            # Durability: everything acknowledged before the kill is on disk after it.
            assert acked_before <= stored_at_kill[-1]
            time.sleep(0.3)  # clients keep failing against the dead port meanwhile
            server.start()
        time.sleep(LOAD_BEFORE_KILL_S)
        stop_new.set()
        for browser in browsers:
            browser.join(timeout=40)
        assert not any(browser.is_alive() for browser in browsers), "a client never got its report acknowledged"
    finally:
        stop_new.set()
        server.stop()

    assert [u for b in browsers for u in b.unexpected] == []
    acked = {rid: how for b in browsers for rid, how in b.acked.items()}
    sent = sum(b.sent for b in browsers)
    assert len(acked) == sent  # every report eventually acknowledged
    assert sum(b.failures for b in browsers) > 0, "the kills did not hit any request"
    seen = assert_whole_or_absent(db_url)
    assert seen == set(acked)  # every acknowledged report exactly once (counts checked per report above)
    # Requests that committed but died before answering came back as duplicates on retry.
    stored_not_acked = set().union(*stored_at_kill) - {rid for rid, how in acked.items() if how == "stored"}
    assert {acked[rid] for rid in stored_not_acked} <= {"duplicate"}
    print(f"crash safety: {sent} reports, {KILLS} SIGKILLs, {sum(b.failures for b in browsers)} failed attempts "
          f"retried, {len(stored_not_acked)} committed-but-unanswered came back as duplicates, 0 lost, 0 doubled")
