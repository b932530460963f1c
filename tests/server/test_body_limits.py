"""The body size limits at their boundary, over real HTTP to a real server process: a body of
exactly the limit is accepted and stored, one byte more is refused with 413 and stores
nothing, whether the client sends a Content-Length or a chunked body without one (which a
server that only checks Content-Length would let through whole).

Both limits are small here (``USAGE_MAX_BODY_BYTES`` 2000 for reports,
``USAGE_INTAKE_MAX_BYTES`` 3000 for the telemetry intake), so the bodies are padded valid
JSON: the padding is whitespace, which the receiver must count like any other byte.
"""

from __future__ import annotations

import http.client
import json
import socket
import sqlite3
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from support.live_server import LiveServer

REPORT_URL = "/api/ui_counters/_report"
INTAKE_URL = "/api/telemetry/v3/intake"
REPORT_LIMIT = 2000
INTAKE_LIMIT = 3000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("limits") / "limits.db",
                      env={"USAGE_ROLLUP_INTERVAL_S": "0", "USAGE_MAX_BODY_BYTES": str(REPORT_LIMIT),
                           "USAGE_INTAKE_ENABLED": "true", "USAGE_INTAKE_MAX_BYTES": str(INTAKE_LIMIT)}).start()
    yield live
    live.stop()


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes: spaces before the closing brace."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


def post(server: LiveServer, path: str, body: bytes, chunked: bool, headers: dict[str, str]) -> tuple[int, Any]:
    """One POST written by hand on a fresh socket, so the framing is exactly what it says:
    a Content-Length, or ``Transfer-Encoding: chunked`` (700-byte chunks) and no length."""
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Connection: close",
             "Content-Type: application/json", *(f"{name}: {value}" for name, value in headers.items())]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        framed = b"".join(b"%x\r\n%s\r\n" % (len(body[at:at + 700]), body[at:at + 700])
                          for at in range(0, len(body), 700)) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        framed = body
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + framed)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, json.loads(response.read())


def event_totals(server: LiveServer, event: str) -> list[int]:
    with urllib.request.urlopen(server.url + "/api/stats?extended=true", timeout=10) as response:
        usage = json.load(response)["usage"]
    return [e["total"] for e in usage["ui_counters"]["daily_events"] if e["event_name"] == event]


def snapshots_from(db_path: Path, instance: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT COUNT(*) FROM telemetry_snapshots WHERE instance_uuid = ?", (instance,)).fetchone()[0]
    finally:
        conn.close()


FRAMINGS = pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])


@FRAMINGS
def test_a_report_of_exactly_the_limit_is_stored_and_one_byte_more_is_refused(server, chunked):
    event = f"boundary_{'chunked' if chunked else 'length'}"
    key = f"shop-click-{event}"
    report = {"report": {"reportVersion": 3, "uiCounter": {
        key: {"key": key, "appName": "shop", "eventName": event, "type": "click", "total": 4}}}}
    xsrf = {"kbn-xsrf": "true"}

    status, answer = post(server, REPORT_URL, padded(report, REPORT_LIMIT + 1), chunked, xsrf)
    assert (status, answer["message"]) == (413, "Request body is larger than the limit of 2000 bytes "
                                                "(USAGE_MAX_BODY_BYTES).")
    assert event_totals(server, event) == []

    status, answer = post(server, REPORT_URL, padded(report, REPORT_LIMIT), chunked, xsrf)
    assert (status, answer) == (200, {"status": "ok"})
    assert event_totals(server, event) == [4]


@FRAMINGS
def test_an_intake_snapshot_of_exactly_the_limit_is_stored_and_one_byte_more_is_refused(server, chunked):
    instance = f"boundary-{'chunked' if chunked else 'length'}"
    snapshot = {"usage": {"ui_counters": {"dailyEvents": []}}, "clusterUuid": instance}

    status, answer = post(server, INTAKE_URL, padded(snapshot, INTAKE_LIMIT + 1), chunked, {})
    assert (status, answer["message"]) == (413, "Request body is larger than the limit of 3000 bytes "
                                                "(USAGE_INTAKE_MAX_BYTES).")
    assert snapshots_from(server.db_path, instance) == 0

    status, answer = post(server, INTAKE_URL, padded(snapshot, INTAKE_LIMIT), chunked, {})
    assert status == 200 and answer["status"] == "ok", answer
    assert snapshots_from(server.db_path, instance) == 1
