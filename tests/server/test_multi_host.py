"""Several receiver hosts on one PostgreSQL: exact totals, one reportId counted once across
hosts, a host SIGKILLed mid-load, and a rate limit that holds for the hosts together.

Two ``usage-collection serve --db postgresql://... --workers 2`` processes on two ports
play two hosts behind a load balancer. Client threads post to both; some reports are sent
to both hosts with the same reportId (a beacon and its retry landing on different hosts).
Host A is SIGKILLed while they post; whatever A did not acknowledge is retried on B with the
same reportId, as the browser client retries. Then A comes back and both hosts answer
``/api/stats?extended=true`` with the same, exact totals.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from support.live_server import LiveServer

APP = "multi"
CLIENTS = 6
REPORTS_PER_CLIENT = 40
RATE_LIMIT = 12
LIMITED_SOURCE = "127.0.0.2"  # a loopback address that is not exempt from the limits here


def body(report_id: str, total: int) -> bytes:
    key = f"{APP}-click-{report_id}"
    return json.dumps({"report": {"reportVersion": 3, "reportId": report_id, "uiCounter": {
        key: {"key": key, "appName": APP, "eventName": "e" + report_id[-1], "type": "click", "total": total}}}}).encode()


def post(port: int, payload: bytes, source: str = "127.0.0.1") -> tuple[int, dict]:
    """(status, JSON answer); (0, {}) when the host is unreachable or died mid-request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(source, 0))
    try:
        conn.request("POST", "/api/ui_counters/_report", payload,
                     {"Content-Type": "application/json", "kbn-xsrf": "1"})
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    except (OSError, http.client.HTTPException, ValueError):
        return 0, {}
    finally:
        conn.close()


def stats_total(port: int) -> dict[str, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/stats?extended=true&legacy=true")
        response = conn.getresponse()
        assert response.status == 200
        events = json.loads(response.read())["usage"]["ui_counters"]["dailyEvents"]
    finally:
        conn.close()
    totals: dict[str, int] = {}
    for event in events:
        if event["appName"] == APP:
            totals[event["eventName"]] = totals.get(event["eventName"], 0) + event["total"]
    return totals


@pytest.fixture
def hosts(postgres_cluster, tmp_path: Path) -> Iterator[tuple[LiveServer, LiveServer]]:
    url = postgres_cluster.new_database()
    env = {"USAGE_LIMITS_EXEMPT": "127.0.0.1/32", "USAGE_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
           "USAGE_ROLLUP_INTERVAL_S": "0"}
    a = LiveServer(url, workers=2, env=env, log_path=tmp_path / "a.log")
    b = LiveServer(url, workers=2, env=env, log_path=tmp_path / "b.log")
    started = [threading.Thread(target=server.start, kwargs={"timeout": 60}) for server in (a, b)]
    for thread in started:  # both hosts start at once against the empty database
        thread.start()
    for thread in started:
        thread.join()
    assert a.process is not None and b.process is not None, a.log() + b.log()
    yield a, b
    a.stop()
    b.stop()


def test_two_hosts_on_one_postgresql_count_everything_exactly_once(hosts):
    a, b = hosts
    expected: dict[str, int] = {}
    expected_lock = threading.Lock()
    kill_after = threading.Event()
    a_down = threading.Event()

    def client(index: int) -> None:
        for n in range(REPORTS_PER_CLIENT):
            report_id = f"c{index}r{n:03d}-{index % 10}"
            total = n % 7 + 1
            payload = body(report_id, total)
            first, second = (a, b) if (index + n) % 2 else (b, a)
            if first is a and a_down.is_set():
                first, second = b, a
            status, answer = post(first.port, payload)
            if n % 5 == 0 and not a_down.is_set():  # the same report also lands on the other host
                post(second.port, payload)
            attempts = 0
            while status != 200:  # not acknowledged: retried with the same reportId on host B
                attempts += 1
                assert attempts < 20, f"report {report_id} never stored: {status} {answer}"
                time.sleep(0.05)
                status, answer = post(b.port, payload)
            with expected_lock:
                event = "e" + report_id[-1]
                expected[event] = expected.get(event, 0) + total
            if index == 0 and n == REPORTS_PER_CLIENT // 3:
                kill_after.set()

    threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    assert kill_after.wait(timeout=60)
    a.kill()  # mid-load: some requests to A die before, during or after their commit
    a_down.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)

    assert stats_total(b.port) == expected
    a.start(timeout=60)
    assert stats_total(a.port) == expected
    assert sum(expected.values()) == sum(n % 7 + 1 for n in range(REPORTS_PER_CLIENT)) * CLIENTS


def test_a_clients_rate_limit_holds_across_both_hosts_together(hosts):
    a, b = hosts
    if datetime.now(timezone.utc).second > 45:  # keep the burst inside one minute window
        time.sleep(61 - datetime.now(timezone.utc).second)
    statuses = [post((a, b)[n % 2].port, body(f"limit{n:03d}-0", 1), source=LIMITED_SOURCE)[0]
                for n in range(RATE_LIMIT + 8)]
    assert statuses.count(200) == RATE_LIMIT, statuses
    assert statuses.count(429) == 8
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT  # both hosts counted into the same window
    assert stats_total(a.port) == {"e0": RATE_LIMIT}
