"""Abuse limits: per-client report rate and new-key limits (429 + Retry-After, nothing stored),
shared by gunicorn workers, and operator routes closed to anonymous remote users.

The browser side of 429 (the reporter keeps the report and waits for ``Retry-After``, up
to a cap) is tested in ``tests/client/test_reporter.py::test_retry_after_is_honoured_up_to_a_cap``.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask

from support.live_server import LiveServer
from usage_collection import UsageCollection

URL = "/api/ui_counters/_report"
REMOTE = {"REMOTE_ADDR": "203.0.113.7"}
OTHER = {"REMOTE_ADDR": "198.51.100.9"}
START = datetime(2025, 3, 1, 12, 0, 10, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def make_app(db_path: Path, clock: Clock, **config: Any) -> Flask:
    app = Flask("limits_test")
    app.config.update({"TESTING": True, "USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0, **config})
    UsageCollection(app, clock=clock)
    return app


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limited(db_path: Path, clock: Clock) -> Iterator[Flask]:
    app = make_app(db_path, clock, USAGE_RATE_LIMIT_PER_MINUTE=3, USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY=5)
    yield app
    app.extensions["usage_collection"].close()


def body(events: list[str], report_id: str | None = None, app: str = "shop", views: list[str] = ()) -> dict:
    report: dict[str, Any] = {"reportVersion": 3, "uiCounter": {
        f"{app}-click-{e}": {"key": f"{app}-click-{e}", "appName": app, "eventName": e, "type": "click", "total": 1}
        for e in events}}
    if views:
        report["application_usage"] = {f"{app}-{v}": {"appId": app, "viewId": v, "minutesOnScreen": 1.0,
                                                      "numberOfClicks": 1} for v in views}
    if report_id:
        report["reportId"] = report_id
    return {"report": report}


def post(app: Flask, payload: dict, environ: dict[str, str] = REMOTE, query: str = "") -> Any:
    return app.test_client().post(URL + query, json=payload, headers={"kbn-xsrf": "t"}, environ_base=environ)


def counters(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        return dict(conn.execute("SELECT counter_name, SUM(count) FROM usage_counters GROUP BY counter_name"))
    finally:
        conn.close()


def assert_429(response: Any, setting: str) -> None:
    assert response.status_code == 429, response.get_data()
    error = response.get_json()
    assert set(error) == {"statusCode", "error", "message"}
    assert error["statusCode"] == 429 and error["error"] == "Too Many Requests"
    assert setting in error["message"]
    assert int(response.headers["Retry-After"]) >= 1


# -- rate limit ------------------------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after_until_the_next_minute(limited, db_path, clock):
    for n in range(3):
        assert post(limited, body(["a"])).get_json() == {"status": "ok"}
    refused = post(limited, body(["a"]))
    assert_429(refused, "USAGE_RATE_LIMIT_PER_MINUTE")
    assert refused.headers["Retry-After"] == "50"  # 12:00:10 -> the window ends at 12:01:00
    assert post(limited, body(["a"]), query="?dry_run=true").status_code == 429  # every request counts
    assert counters(db_path) == {"a": 3}
    assert post(limited, body(["a"]), OTHER).get_json() == {"status": "ok"}  # per client
    clock.now += timedelta(seconds=50)
    assert post(limited, body(["a"])).get_json() == {"status": "ok"}
    assert counters(db_path) == {"a": 5}


def test_loopback_is_exempt_and_zero_turns_the_limit_off(db_path, clock):
    app = make_app(db_path, clock, USAGE_RATE_LIMIT_PER_MINUTE=2)
    for _ in range(5):
        assert post(app, body(["a"]), {"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
        assert post(app, body(["a"]), {"REMOTE_ADDR": "::1"}).status_code == 200
    assert post(app, body(["a"]), REMOTE).status_code == 200
    assert post(app, body(["a"]), REMOTE).status_code == 200
    assert post(app, body(["a"]), REMOTE).status_code == 429
    app.extensions["usage_collection"].close()
    off = make_app(db_path, clock, USAGE_RATE_LIMIT_PER_MINUTE=0, USAGE_LIMITS_EXEMPT=[])
    assert all(post(off, body(["a"]), OTHER).status_code == 200 for _ in range(5))
    off.extensions["usage_collection"].close()


def test_old_rate_windows_are_forgotten(limited, db_path, clock):
    for minute in range(5):
        post(limited, body(["a"]))
        clock.now += timedelta(minutes=1)
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM client_requests").fetchone()[0] <= 2
    conn.close()


class WorkerConnection:
    """One keep-alive HTTP connection, so every request on it is served by the same gunicorn
    worker process; ``pid`` is that worker's, read from ``GET /api/stats`` on this connection."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.connect()
        self.local = self.conn.sock.getsockname()
        self.pid = self.serving_pid()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, Any, bytes]:
        self.conn.request(method, path, body=body, headers={"kbn-xsrf": "t", "Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        # http.client reconnects silently: that could land on the other worker, so refuse it.
        assert self.conn.sock is not None and self.conn.sock.getsockname() == self.local, "the connection was reopened"
        assert not response.will_close, "the server closed the keep-alive connection"
        return response.status, response.headers, data

    def serving_pid(self) -> int:
        status, _, data = self.request("GET", "/api/stats")
        assert status == 200, data[:300]
        return json.loads(data)["process"]["pid"]

    def close(self) -> None:
        self.conn.close()


@pytest.mark.timeout(90)
def test_rate_limit_holds_across_two_gunicorn_workers(tmp_path):
    """Both worker processes serve reports from one client; together they accept exactly the
    limit. A per-process limiter would let each worker accept up to the limit: twice as many.
    Each worker is reached through its own keep-alive connection, identified by the pid that
    ``GET /api/stats`` reports on that connection."""
    server = LiveServer(tmp_path / "rate.db", workers=2,
                        env={"USAGE_ROLLUP_INTERVAL_S": "0", "USAGE_RATE_LIMIT_PER_MINUTE": "10",
                             "USAGE_LIMITS_EXEMPT": "",
                             # idle keep-alive connections stay open (gunicorn's default is 2 s)
                             "GUNICORN_CMD_ARGS": "--keep-alive 60"}).start()
    opened: list[WorkerConnection] = []
    try:
        if time.time() % 60 > 40:  # keep all requests inside one minute window
            time.sleep(61 - time.time() % 60)
        first = WorkerConnection(server.port)
        opened.append(first)
        # The kernel tends to hand new connections to the same worker. Pause that one, and the
        # next connection can only be accepted by the other worker; then let it run again.
        os.kill(first.pid, signal.SIGSTOP)
        try:
            second = WorkerConnection(server.port)
            opened.append(second)
        finally:
            os.kill(first.pid, signal.SIGCONT)
        assert first.pid != second.pid
        statuses: dict[int, list[int]] = {first.pid: [], second.pid: []}
        for n in range(12):  # alternate: 6 reports through each worker
            worker = (first, second)[n % 2]
            status, headers, data = worker.request("POST", URL, json.dumps(body(["a"], f"r{n}")).encode())
            statuses[worker.pid].append(status)
            if status == 429:
                assert headers["Retry-After"], data
        assert [first.serving_pid(), second.serving_pid()] == [first.pid, second.pid]  # still the same workers
    finally:
        for connection in opened:
            connection.close()
        server.stop()
    # Requests 1-10 were accepted (5 per worker); the 11th and 12th, one per worker, refused.
    assert statuses == {first.pid: [200] * 5 + [429], second.pid: [200] * 5 + [429]}
    assert counters(server.db_path) == {"a": 10}


# -- new keys per client per day -------------------------------------------------------------------

def test_new_keys_past_the_daily_limit_are_refused_and_nothing_is_stored(limited, db_path, clock):
    assert post(limited, body(["e1", "e2", "e3"], "first")).get_json() == {"status": "ok"}
    refused = post(limited, body(["e4", "e5", "e6"], "second"))
    assert_429(refused, "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY")
    assert "3 new" in refused.get_json()["message"] and "created 3 today" in refused.get_json()["message"]
    assert int(refused.headers["Retry-After"]) == 12 * 3600 - 10 + 1  # until UTC midnight
    conn = sqlite3.connect(db_path)
    assert [r[0] for r in conn.execute("SELECT report_id FROM reports_seen")] == ["first"]
    conn.close()
    assert counters(db_path) == {"e1": 1, "e2": 1, "e3": 1}
    # Known keys cost nothing; the remaining allowance (2: one event and one view) still works.
    clock.now += timedelta(minutes=1)
    assert post(limited, body(["e1", "e2", "e3", "e4"], views=["main"])).get_json() == {"status": "ok"}
    clock.now += timedelta(minutes=1)
    assert post(limited, body(["e1", "e5"])).status_code == 429
    assert post(limited, body(["e5"]), OTHER).get_json() == {"status": "ok"}  # other clients unaffected
    clock.now += timedelta(days=1)
    assert post(limited, body(["e6", "e7"])).get_json() == {"status": "ok"}  # a new day, a new allowance
    assert counters(db_path) == {"e1": 2, "e2": 2, "e3": 2, "e4": 1, "e5": 1, "e6": 1, "e7": 1}


def test_a_new_counter_type_or_user_agent_is_a_new_key(limited, db_path, clock):
    typed = body(["e1"])
    entry = typed["report"]["uiCounter"]["shop-click-e1"]
    assert post(limited, typed).status_code == 200
    for n in range(4):
        entry["type"] = f"type{n}"
        clock.now += timedelta(minutes=1)
        assert post(limited, typed).status_code == 200
    entry["type"] = "type-too-many"
    assert post(limited, typed).status_code == 429
    clock.now += timedelta(days=1)
    agents = {"report": {"reportVersion": 3, "userAgent": {"k-user_agent": {
        "key": "k-user_agent", "appName": "k", "type": "user_agent", "userAgent": "A" * 20}}}}
    for n in range(5):
        agents["report"]["userAgent"]["k-user_agent"]["userAgent"] = f"agent {n}"
        assert post(limited, agents).status_code == 200
        clock.now += timedelta(minutes=1)
    agents["report"]["userAgent"]["k-user_agent"]["userAgent"] = "agent 6"
    assert post(limited, agents).status_code == 429


def test_one_script_cannot_fill_the_database(db_path, clock):
    app = make_app(db_path, clock, USAGE_RATE_LIMIT_PER_MINUTE=0, USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY=100)
    answers = [post(app, body([f"junk{n}-{k}" for k in range(10)])).status_code for n in range(30)]
    assert answers == [200] * 10 + [429] * 20
    assert len(counters(db_path)) == 100
    app.extensions["usage_collection"].close()


# -- operator routes ---------------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/api/stats"), ("GET", "/api/stats?extended=true"), ("GET", "/api/telemetry/v2/config"),
    ("POST", "/api/telemetry/v2/optIn"), ("PUT", "/api/telemetry/v2/userHasSeenNotice"),
    ("GET", "/api/telemetry/v2/last_reported"), ("PUT", "/api/telemetry/v2/last_reported"),
    ("POST", "/api/telemetry/v2/clusters/_stats"), ("GET", "/usage/dashboard"), ("GET", "/usage/dashboard/data"),
    ("GET", "/usage/settings"),
]


@pytest.mark.parametrize("token, status", [(None, 403), ("s3cret", 401)], ids=["no-token-set", "token-set"])
@pytest.mark.parametrize("method, path", ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES])
def test_operator_routes_refuse_anonymous_remote_users(db_path, clock, method, path, token, status):
    app = make_app(db_path, clock, USAGE_STATS_TOKEN=token)
    before = dump(db_path)
    response = app.test_client().open(path, method=method, json={"enabled": True, "unencrypted": True},
                                      headers={"kbn-xsrf": "t", "Origin": "http://localhost"}, environ_base=REMOTE)
    assert response.status_code == status, response.get_data()[:300]
    if path.startswith("/api/"):
        assert response.get_json()["statusCode"] == status
    assert dump(db_path) == before
    app.extensions["usage_collection"].close()


def dump(db_path: Path) -> list[Any]:
    conn = sqlite3.connect(db_path)
    try:
        return [list(conn.execute(f"SELECT * FROM {table}")) for table in ("telemetry_state", "ui_metric",
                                                                            "telemetry_snapshots")]
    finally:
        conn.close()
