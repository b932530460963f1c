"""/api/stats as Metricbeat reads it: the figures Kibana's own tests require, and real ones.

Mirrors Kibana's ``test/api_integration/apis/stats/stats.js`` (``assertStatsAndMetrics`` and
the ``exclude usage`` cases) and ``src/plugins/usage_collection/server/routes/
integration_tests/stats.test.ts`` (``index`` and ``locale`` in the service block).
"""

from __future__ import annotations

import json
import socket
import urllib.request
from typing import Any

import pytest

from support.live_server import LiveServer

NUMBER = (int, float)


def assert_stats_and_metrics(body: dict[str, Any]) -> None:
    """Kibana's ``assertStatsAndMetrics``, with our service block's name for ``kibana``."""
    service = body["usage_collection"]
    for key in ("name", "uuid", "host", "transport_address", "version", "status", "index", "locale"):
        assert isinstance(service[key], str), key
    assert isinstance(service["snapshot"], bool)
    process, os_ = body["process"], body["os"]
    for value in (process["memory"]["heap"]["total_bytes"], process["memory"]["heap"]["used_bytes"],
                  process["memory"]["heap"]["size_limit"], process["memory"]["resident_set_size_bytes"],
                  process["pid"], process["uptime_ms"], process["event_loop_delay"],
                  os_["memory"]["free_bytes"], os_["memory"]["total_bytes"], os_["uptime_ms"],
                  os_["load"]["1m"], os_["load"]["5m"], os_["load"]["15m"],
                  body["response_times"]["avg_ms"], body["response_times"]["max_ms"],
                  body["requests"]["total"], body["requests"]["disconnects"], body["concurrent_connections"]):
        assert isinstance(value, NUMBER) and not isinstance(value, bool), value


def get(server: LiveServer, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        return json.load(response)


@pytest.mark.parametrize("query, uuid_key", [
    ("", None),                     # "should return the stats without cluster_uuid with no query string params"
    ("?extended=false", None),
    ("?extended", "cluster_uuid"),
    ("?extended=true", "cluster_uuid"),
    ("?extended&legacy", "clusterUuid"),
])
def test_stats_js_assert_stats_and_metrics_on_a_real_server(live_server, query, uuid_key):
    body = get(live_server, "/api/stats" + query)
    assert_stats_and_metrics(body)
    assert ("cluster_uuid" in body, "clusterUuid" in body) == (uuid_key == "cluster_uuid", uuid_key == "clusterUuid")
    if uuid_key:
        assert isinstance(body["usage"], dict) and isinstance(body[uuid_key], str)


@pytest.mark.parametrize("query", ["?extended&exclude_usage", "?extended&exclude_usage&legacy",
                                   "?extended=true&legacy=true&exclude_usage=true"])
def test_stats_js_exclude_usage_answers_an_empty_usage_object(client, app, query):
    body = client.get("/api/stats" + query).get_json()
    assert body["usage"] == {}
    uuid = body.get("clusterUuid") or body.get("cluster_uuid")
    assert uuid == app.extensions["usage_collection"].instance_uuid


def test_exclude_usage_false_still_answers_the_usage(client):
    usage = client.get("/api/stats?extended=true&legacy=true&exclude_usage=false").get_json()["usage"]
    assert usage["usage_collector_stats"]["succeeded"]["count"] == 4


def test_stats_test_ts_service_block_has_index_and_locale(client, db_url):
    service = client.get("/api/stats").get_json()["usage_collection"]
    assert service["index"] == db_url  # the file, or the URL (its password left out)
    assert service["locale"] == "en"


def status(client: Any, path: str) -> int:
    """GET and close the response, as a WSGI server does once it has sent it."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response.status_code


def test_requests_and_status_codes_are_counted_in_this_process(client):
    """Three requests before the stats request: counted once each; the stats request is the
    one in progress (concurrent_connections 1) and not yet in the total."""
    assert status(client, "/api/status") == 200
    assert status(client, "/api/status") == 200
    assert status(client, "/no/such/page") == 404
    stats = client.get("/api/stats")
    body = stats.get_json()
    stats.close()
    assert body["requests"] == {"total": 3, "disconnects": 0, "status_codes": {"200": 2, "404": 1}}
    assert body["concurrent_connections"] == 1
    assert body["response_times"]["max_ms"] >= body["response_times"]["avg_ms"] > 0
    after = client.get("/api/stats").get_json()["requests"]
    assert after == {"total": 4, "disconnects": 0, "status_codes": {"200": 3, "404": 1}}


def test_the_users_own_routes_are_counted_too(app, client):
    app.add_url_rule("/export", "export", lambda: "ok")
    assert status(client, "/export") == 200
    assert client.get("/api/stats").get_json()["requests"]["total"] == 1


def test_a_body_cut_short_counts_as_a_disconnect(tmp_path):
    """A client that announces 100 bytes, sends 10 and goes away: a 400, and
    ``requests.disconnects`` goes up by one (under serve's gunicorn the route sees the body end
    early). One worker process, so the stats request meets the same counts."""
    server = LiveServer(tmp_path / "cut.db").start()
    try:
        # Counted from here: a start-up poll that timed out while the worker booted is a disconnect too.
        before = get(server, "/api/stats")["requests"]
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /api/ui_counters/_report HTTP/1.1\r\nHost: 127.0.0.1\r\nkbn-xsrf: 1\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
                         b'{"report":')
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400")
        assert b"(the client disconnected); nothing was stored." in answer
        after = get(server, "/api/stats")["requests"]
        assert after["disconnects"] - before["disconnects"] == 1
        assert (after["total"] - before["total"], after["status_codes"]["400"]) == (2, 1)  # the cut POST, 1st stats
    finally:
        server.stop()
