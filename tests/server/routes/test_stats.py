"""GET /api/stats: flags with Kibana 7.x semantics, who may read it, and what usage holds."""

from __future__ import annotations

import pytest
from flask import Flask

from usage_collection import UsageCollection

from support.usage_rows import Clock, add_app_usage, add_counter, day, open_db

REMOTE = {"REMOTE_ADDR": "10.1.2.3"}


def test_the_basic_answer_has_service_process_and_os_blocks(app, client):
    response = client.get("/api/stats")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    state = app.extensions["usage_collection"]
    service = body["usage_collection"]
    assert (service["uuid"], service["name"], service["status"]) == (state.instance_uuid, "usage-collection", "green")
    assert service["transport_address"] == "localhost"
    assert isinstance(service["version"], str) and "snapshot" in service
    assert body["process"]["pid"] > 0 and body["process"]["uptime_ms"] >= 0
    assert set(body["os"]) >= {"platform", "platform_release"}
    assert body["collection_interval_ms"] == 0 and body["last_updated"].endswith("Z")
    assert "usage" not in body and "clusterUuid" not in body and "cluster_uuid" not in body


@pytest.mark.parametrize("query, uuid_key, events_key", [
    ("extended=true&legacy=true", "clusterUuid", "dailyEvents"),
    ("extended&legacy", "clusterUuid", "dailyEvents"),
    ("extended=TRUE&legacy=", "clusterUuid", "dailyEvents"),
    ("extended=true", "cluster_uuid", "daily_events"),
    ("extended=true&legacy=false", "cluster_uuid", "daily_events"),
    ("extended=true&legacy=true&exclude_usage=false", "clusterUuid", "dailyEvents"),
])
def test_extended_adds_usage_and_legacy_picks_the_key_style(app, client, query, uuid_key, events_key):
    body = client.get(f"/api/stats?{query}").json
    assert body[uuid_key] == app.extensions["usage_collection"].instance_uuid
    usage = body["usage"]
    assert set(usage) == {"ui_metric", "ui_counters", "usage_counters", "application_usage", "usage_collector_stats"}
    assert usage["ui_counters"] == {events_key: []}
    assert usage["usage_collector_stats"]["succeeded"]["count"] == 4


def test_extended_false_leaves_usage_out(client):
    assert "usage" not in client.get("/api/stats?extended=false&legacy=true").json


@pytest.mark.parametrize("query, name", [
    ("extended=yes", "extended"),
    ("extended=1", "extended"),
    ("legacy=maybe", "legacy"),
    ("exclude_usage=0", "exclude_usage"),
])
def test_a_flag_that_is_not_a_boolean_is_a_400_naming_it(client, query, name):
    response = client.get(f"/api/stats?{query}")
    assert response.status_code == 400
    assert response.json["statusCode"] == 400 and response.json["error"] == "Bad Request"
    assert response.json["message"].startswith(f"[request query.{name}]: expected value of type [boolean] but got ")


def test_non_legacy_snake_cases_every_key_inside_usage(db_path):
    clock = Clock()
    app = Flask("stats_test")
    app.config.update(USAGE_DB=str(db_path), USAGE_ROLLUP_INTERVAL_S=0)
    UsageCollection(app, clock=clock)
    db = open_db(str(db_path))
    add_counter(db, "discover", "openDoc", kind="click", on=day(0), count=2)
    add_app_usage(db, "myApp", "main", day(0), 1.0, 3)
    db.close()
    try:
        legacy = app.test_client().get("/api/stats?extended&legacy").json["usage"]
        snake = app.test_client().get("/api/stats?extended").json["usage"]
    finally:
        app.extensions["usage_collection"].close()
    assert legacy["ui_counters"]["dailyEvents"][0] == {
        "appName": "discover", "eventName": "openDoc", "counterType": "click", "total": 2,
        "lastUpdatedAt": "2025-04-10T10:00:00.000Z", "fromTimestamp": "2025-04-10T00:00:00Z"}
    assert snake["ui_counters"]["daily_events"][0] == {
        "app_name": "discover", "event_name": "openDoc", "counter_type": "click", "total": 2,
        "last_updated_at": "2025-04-10T10:00:00.000Z", "from_timestamp": "2025-04-10T00:00:00Z"}
    assert legacy["application_usage"]["myApp"]["clicks_7_days"] == 3
    assert snake["application_usage"]["my_app"]["app_id"] == "myApp"  # keys change, values do not


def test_without_a_token_remote_clients_are_refused(client):
    response = client.get("/api/stats", environ_base=REMOTE)
    assert response.status_code == 403
    assert response.json["statusCode"] == 403 and response.json["error"] == "Forbidden"
    assert "USAGE_STATS_TOKEN" in response.json["message"]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_loopback_clients_may_read(client, address):
    assert client.get("/api/stats", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.fixture
def token_client(db_path):
    from usage_collection import create_app

    app = create_app({"TESTING": True, "USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0,
                      "USAGE_STATS_TOKEN": "s3cret-token"})
    yield app.test_client()
    app.extensions["usage_collection"].close()


@pytest.mark.parametrize("header, error", [
    (None, "requires a bearer token"),
    ("Bearer wrong", "is not valid"),
    ("Bearer s3cret-token-and-more", "is not valid"),
    ("Basic czNjcmV0LXRva2Vu", "requires a bearer token"),
    ("Bearer ", "requires a bearer token"),
    ("Bearer ünïcode", "is not valid"),
])
def test_with_a_token_a_request_without_it_is_a_401(token_client, header, error):
    headers = {"Authorization": header} if header is not None else {}
    response = token_client.get("/api/stats", headers=headers)  # even from loopback
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"] == "Unauthorized" and error in response.json["message"]


@pytest.mark.parametrize("environ", [{}, REMOTE])
def test_with_the_token_anyone_may_read(token_client, environ):
    response = token_client.get("/api/stats?extended", headers={"Authorization": "bearer s3cret-token"},
                                environ_base=environ)
    assert response.status_code == 200 and "usage" in response.json


def test_access_is_checked_before_the_flags(client):
    assert client.get("/api/stats?extended=nope", environ_base=REMOTE).status_code == 403


def test_a_users_collectors_appear_and_a_broken_one_does_not_break_the_answer(app, client):
    usage_set = app.extensions["usage_collection"].collector_set
    usage_set.register_collector(UsageCollection().make_usage_collector(
        type="my_plugin", schema={"exports": {"type": "long", "_meta": {"description": "CSV exports"}}},
        fetch=lambda context: {"exports": context.storage.query("SELECT 41 + ?", [1])[0][0]}))
    usage_set.register_collector(UsageCollection().make_usage_collector(
        type="broken", schema={"x": {"type": "long"}}, fetch=lambda context: 1 / 0))
    usage = client.get("/api/stats?extended&legacy").json["usage"]
    assert usage["my_plugin"] == {"exports": 42}
    assert "broken" not in usage
    assert usage["usage_collector_stats"]["failed"] == {"count": 1, "names": ["broken"]}


def test_a_posted_report_shows_up_in_usage(client):
    report = {"report": {
        "reportVersion": 3,
        "uiCounter": {"discover-click-open": {"key": "discover-click-open", "appName": "discover",
                                              "eventName": "open", "type": "click", "total": 3}},
        "userAgent": {"kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana", "type": "user_agent",
                                            "userAgent": "Mozilla/5.0 (X11)"}},
        "application_usage": {"discover-main": {"appId": "discover", "viewId": "main",
                                                "minutesOnScreen": 2.5, "numberOfClicks": 7}},
    }}
    posted = client.post("/api/ui_counters/_report", json=report, headers={"kbn-xsrf": "true"})
    assert posted.status_code == 200, posted.json
    usage = client.get("/api/stats?extended=true&legacy=true").json["usage"]
    assert usage["ui_metric"] == {"discover": [{"key": "open", "value": 3}],
                                  "kibana-user_agent": [{"key": "Mozilla/5.0 (X11)", "value": 1}]}
    [event] = usage["ui_counters"]["dailyEvents"]
    assert (event["appName"], event["eventName"], event["counterType"], event["total"]) == ("discover", "open",
                                                                                           "click", 3)
    assert usage["application_usage"]["discover"]["clicks_7_days"] == 7
    assert usage["application_usage"]["discover"]["minutes_on_screen_total"] == 2.5
