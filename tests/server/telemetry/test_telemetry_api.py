"""The admin telemetry API: opt-in, config, notice, last_reported, the snapshot; bad input refused."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from usage_collection.routes.telemetry import ENCRYPTION_MESSAGE, NOT_ALLOWED, XSRF_MESSAGE
from usage_collection.telemetry.sender import epoch_ms

XSRF = {"kbn-xsrf": "test"}
START = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # the clock fixture's time

OPT_IN = "/api/telemetry/v2/optIn"
CONFIG = "/api/telemetry/v2/config"
NOTICE = "/api/telemetry/v2/userHasSeenNotice"
LAST_REPORTED = "/api/telemetry/v2/last_reported"
SNAPSHOT = "/api/telemetry/v2/clusters/_stats"


def test_config_before_anything_is_chosen(client, app):
    config = client.get(CONFIG).get_json()
    assert config["optIn"] is None
    assert config["allowChangingOptInStatus"] is True
    assert config["sendUsageFrom"] == "browser"
    assert config["telemetryUrl"] is None
    assert config["showNotice"] is True and config["userHasSeenNotice"] is False
    assert config["instanceUuid"] == app.extensions["usage_collection"].instance_uuid


@pytest.mark.parametrize("enabled", [True, False])
def test_opt_in_is_stored_with_the_version(client, app, enabled):
    response = client.post(OPT_IN, json={"enabled": enabled}, headers=XSRF)
    assert response.status_code == 200
    uuid = app.extensions["usage_collection"].instance_uuid
    assert response.get_json() == [{"clusterUuid": uuid, "stats": {"cluster_uuid": uuid, "opt_in_status": enabled}}]
    config = client.get(CONFIG).get_json()
    assert config["optIn"] is enabled and config["showNotice"] is False


@pytest.mark.parametrize(("body", "headers", "status", "message"), [
    (None, XSRF, 400, "[request body]: expected a plain object value, but found [undefined] instead."),
    ("[]", XSRF, 400, "[request body]: expected a plain object value, but found [Array] instead."),
    ("{}", XSRF, 400, "[request body.enabled]: expected value of type [boolean] but got [undefined]"),
    ('{"enabled": "true"}', XSRF, 400, "[request body.enabled]: expected value of type [boolean] but got [string]"),
    ('{"enabled": 1}', XSRF, 400, "[request body.enabled]: expected value of type [boolean] but got [number]"),
    ('{"enabled": null}', XSRF, 400, "[request body.enabled]: expected value of type [boolean] but got [null]"),
    ('{"enabled": true, "reason": "x"}', XSRF, 400, "[request body.reason]: definition for this key is missing"),
    ('{"enabled": true, "enabled": false}', XSRF, 400, "appears twice"),
    ('{"enabled": tru', XSRF, 400, "the body is not valid JSON"),
    ('{"enabled": true}', {}, 400, XSRF_MESSAGE),
    ('{"enabled": true}', {"Origin": "http://evil.example"}, 400, XSRF_MESSAGE),
    ('{"enabled": true}', {**XSRF, "Content-Type": "text/plain"}, 415, "Unsupported Media Type"),
    ('{"enabled": true}', {**XSRF, "Content-Type": "application/json; charset=iso-8859-1"}, 415,
     "Unsupported Media Type 'application/json; charset=iso-8859-1': send application/json."),
    ('{"enabled": true, "pad": "' + "x" * 300_000 + '"}', XSRF, 413, "larger than the limit"),
])
def test_opt_in_refuses_bad_requests_and_stores_nothing(rows, client, app, body, headers, status, message):
    headers = {"Content-Type": "application/json", **headers}
    response = client.post(OPT_IN, data=body, headers=headers)
    assert response.status_code == status
    answer = response.get_json()
    assert answer["statusCode"] == status and message in answer["message"]
    assert rows(app, "telemetry_state") == []


def test_same_origin_write_needs_no_xsrf_header(client):
    response = client.post(OPT_IN, json={"enabled": True}, headers={"Origin": "http://localhost"})
    assert response.status_code == 200


def test_an_origin_allowed_to_post_reports_may_not_change_telemetry(rows, make_app):
    """USAGE_ALLOWED_ORIGINS lets a site post *reports* without kbn-xsrf, never admin writes."""
    app = make_app(USAGE_ALLOWED_ORIGINS="https://shop.example")
    client = app.test_client()
    site = {"Origin": "https://shop.example"}
    report = {"report": {"reportVersion": 3}}
    assert client.post("/api/ui_counters/_report", json=report, headers=site).status_code == 200
    response = client.post(OPT_IN, json={"enabled": True}, headers=site)
    assert (response.status_code, response.get_json()["message"]) == (400, XSRF_MESSAGE)
    assert rows(app, "telemetry_state") == []


@pytest.mark.parametrize("fixed", [True, False])
def test_fixed_opt_in_cannot_be_changed(rows, make_app, fixed):
    app = make_app(USAGE_TELEMETRY_OPT_IN=fixed, USAGE_TELEMETRY_ALLOW_CHANGING=False)
    client = app.test_client()
    response = client.post(OPT_IN, json={"enabled": not fixed}, headers=XSRF)
    assert response.status_code == 400
    assert response.get_json() == {"statusCode": 400, "error": "Bad Request", "message": NOT_ALLOWED}
    config = client.get(CONFIG).get_json()
    assert config["optIn"] is fixed and config["allowChangingOptInStatus"] is False and config["showNotice"] is False
    assert rows(app, "telemetry_state") == []


def test_an_admin_who_opted_out_is_asked_again_after_a_minor_upgrade(make_app):
    old = make_app(USAGE_TELEMETRY_VERSION="1.2.0").test_client()
    assert old.post(OPT_IN, json={"enabled": False}, headers=XSRF).status_code == 200
    assert old.get(CONFIG).get_json()["optIn"] is False
    patched = make_app(USAGE_TELEMETRY_VERSION="1.2.5").test_client()
    assert patched.get(CONFIG).get_json()["optIn"] is False
    upgraded = make_app(USAGE_TELEMETRY_VERSION="1.3.0").test_client()
    config = upgraded.get(CONFIG).get_json()
    assert config["optIn"] is None and config["showNotice"] is True
    assert upgraded.post(OPT_IN, json={"enabled": False}, headers=XSRF).status_code == 200
    assert upgraded.get(CONFIG).get_json()["optIn"] is False


def test_an_admin_who_opted_in_stays_opted_in_after_an_upgrade(make_app):
    old = make_app(USAGE_TELEMETRY_VERSION="1.2.0").test_client()
    old.post(OPT_IN, json={"enabled": True}, headers=XSRF)
    for version in ("1.3.0", "2.0.0"):
        config = make_app(USAGE_TELEMETRY_VERSION=version).test_client().get(CONFIG).get_json()
        assert config["optIn"] is True and config["showNotice"] is False


def test_dismissing_the_notice_hides_it_but_does_not_opt_in(client):
    response = client.put(NOTICE, headers=XSRF)
    assert response.status_code == 200
    assert response.get_json()["userHasSeenNotice"] is True
    config = client.get(CONFIG).get_json()
    assert config["showNotice"] is False and config["optIn"] is None


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    (NOTICE, '{"seen": true}', 400, "[request body.seen]: definition for this key is missing"),
    (NOTICE, "[1]", 400, "found [Array]"),
    (LAST_REPORTED, '{"lastReported": 5}', 400, "[request body.lastReported]: definition for this key is missing"),
    (LAST_REPORTED, "nope", 400, "not valid JSON"),
])
def test_puts_refuse_bodies_they_do_not_take(rows, client, app, path, body, status, message):
    response = client.put(path, data=body, headers={**XSRF, "Content-Type": "application/json"})
    assert response.status_code == status and message in response.get_json()["message"]
    assert rows(app, "telemetry_state") == []


def test_last_reported_is_the_servers_time(client, clock):
    start = clock.now
    assert client.get(LAST_REPORTED).get_json() == {"lastReported": None}
    response = client.put(LAST_REPORTED, headers=XSRF)
    assert response.get_json() == {"lastReported": epoch_ms(start)}
    assert client.get(LAST_REPORTED).get_json() == {"lastReported": epoch_ms(start)}


REPORT = {"report": {"reportVersion": 3, "uiCounter": {"shop-click-buy": {
    "key": "shop-click-buy", "appName": "shop", "eventName": "buy", "type": "click", "total": 3}},
    "application_usage": {"shop-main": {"appId": "shop", "viewId": "main", "minutesOnScreen": 1.5, "numberOfClicks": 4},
                          "shop-cart": {"appId": "shop", "viewId": "cart", "minutesOnScreen": 0.5, "numberOfClicks": 1}}}}


def app_usage_entry(view: str, minutes: float, clicks: int) -> dict:
    return {"appId": "shop", "viewId": view,
            **{f"clicks_{span}": clicks for span in ("7_days", "30_days", "90_days", "total")},
            **{f"minutes_on_screen_{span}": minutes for span in ("7_days", "30_days", "90_days", "total")}}


def expected_usage(now: datetime) -> dict:
    """What the collectors report after REPORT was stored at ``now``, by hand."""
    return {
        "ui_metric": {"shop": [{"key": "buy", "value": 3}]},
        "ui_counters": {"dailyEvents": [{"appName": "shop", "eventName": "buy", "counterType": "click", "total": 3,
                                         "fromTimestamp": f"{now:%Y-%m-%d}T00:00:00Z",
                                         "lastUpdatedAt": f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"}]},
        "usage_counters": {"dailyEvents": []},
        "application_usage": {"shop": {**app_usage_entry("main", 1.5, 4), "views": [app_usage_entry("cart", 0.5, 1)]}},
    }


# Figures sampled at each call (timings, memory, uptimes, load): present, but not comparable.
SAMPLED = {("process", "memory"), ("process", "cpu_user_ms"), ("process", "cpu_system_ms"), ("process", "uptime_ms"),
           ("process", "threads"), ("process", "event_loop_delay"), ("os", "load"), ("os", "memory"),
           ("os", "uptime_ms"), ("requests",), ("response_times",), ("concurrent_connections",),
           ("usage", "usage_collector_stats", "total_duration"), ("usage", "usage_collector_stats", "total_fetch_duration"),
           ("usage", "usage_collector_stats", "fetch_duration_breakdown"),
           ("usage", "usage_collector_stats", "is_ready_duration_breakdown")}


def comparable(payload: dict, path: tuple = ()) -> dict:
    """``payload`` without the sampled figures (each checked to be there), everything else kept."""
    kept = {}
    for key, value in payload.items():
        if path + (key,) in SAMPLED:
            continue
        kept[key] = comparable(value, path + (key,)) if isinstance(value, dict) else value
    return kept


def test_snapshot_is_the_stats_payload_of_this_instance(client, app):
    assert client.post("/api/ui_counters/_report", json=REPORT, headers=XSRF).get_json() == {"status": "ok"}
    response = client.post(SNAPSHOT, json={"unencrypted": True, "refreshCache": True}, headers=XSRF)
    assert response.status_code == 200
    [entry] = response.get_json()
    uuid = app.extensions["usage_collection"].instance_uuid
    assert entry["clusterUuid"] == entry["stats"]["clusterUuid"] == uuid
    assert entry["stats"]["last_updated"] == "2026-03-02T09:30:00.000Z"  # the test's clock
    assert {key: value for key, value in entry["stats"]["usage"].items() if key != "usage_collector_stats"} == \
        expected_usage(START)
    stats = client.get("/api/stats?extended=true&legacy=true").get_json()
    assert stats["usage_collection"].pop("transport_address") == "localhost"  # the HTTP route's Host only
    assert comparable(entry["stats"]) == comparable(stats)


def test_snapshot_matches_the_cli_stats_command(client, app, clock):
    from usage_collection.cli import main

    clock.now = datetime.now(timezone.utc)  # the CLI reads the real clock: store the report today
    assert client.post("/api/ui_counters/_report", json=REPORT, headers=XSRF).get_json() == {"status": "ok"}
    [entry] = client.post(SNAPSHOT, json={"unencrypted": True}, headers=XSRF).get_json()
    result = CliRunner().invoke(main, ["stats", "--db", app.config["USAGE_DB"]])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)  # the payload itself, as GET /api/stats?extended&legacy answers it
    assert printed["clusterUuid"] == app.extensions["usage_collection"].instance_uuid
    assert {key: value for key, value in printed["usage"].items() if key != "usage_collector_stats"} == \
        expected_usage(clock.now)
    assert printed.pop("last_updated") >= entry["stats"].pop("last_updated")  # its own moment, a little later
    assert comparable(printed) == comparable(entry["stats"])


@pytest.mark.parametrize(("body", "message"), [
    ("", ENCRYPTION_MESSAGE),
    ("{}", ENCRYPTION_MESSAGE),
    ('{"unencrypted": false}', ENCRYPTION_MESSAGE),
    ('{"unencrypted": "true"}', "[request body.unencrypted]: expected value of type [boolean] but got [string]"),
    ('{"unencrypted": true, "timeRange": {"min": 1, "max": 2}}', "[request body.timeRange]: definition for this key is missing"),
])
def test_snapshot_refuses_encrypted_or_unknown_requests(client, body, message):
    response = client.post(SNAPSHOT, data=body, headers={**XSRF, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["message"] == message


ADMIN_ROUTES = [("GET", CONFIG), ("POST", OPT_IN), ("PUT", NOTICE), ("GET", LAST_REPORTED),
                ("PUT", LAST_REPORTED), ("POST", SNAPSHOT), ("GET", "/usage/settings"), ("GET", "/usage/dashboard"),
                ("GET", "/usage/dashboard/data")]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_remote_anonymous_users_get_nothing(rows, client, app, method, path):
    response = client.open(path, method=method, json={"enabled": True}, headers=XSRF,
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 403
    assert "only readable from this machine" in response.get_json()["message"]
    assert rows(app, "telemetry_state") == []


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_with_a_token_the_bearer_or_basic_password_is_required(make_app, method, path):
    app = make_app(USAGE_STATS_TOKEN="s3cret")
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    body = {"enabled": True} if path == OPT_IN else ({"unencrypted": True} if path == SNAPSHOT else None)
    refused = client.open(path, method=method, json=body, headers=XSRF, environ_base=remote)
    assert refused.status_code == 401
    wrong = client.open(path, method=method, json=body, environ_base=remote,
                        headers={**XSRF, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    wrong_basic = base64.b64encode(b"admin:s3cre").decode()
    assert client.open(path, method=method, json=body, environ_base=remote,
                       headers={**XSRF, "Authorization": f"Basic {wrong_basic}"}).status_code == 401
    basic = base64.b64encode(b"admin:s3cret").decode()
    for authorization in ("Bearer s3cret", f"Basic {basic}"):
        ok = client.open(path, method=method, json=body, environ_base=remote,
                         headers={**XSRF, "Authorization": authorization})
        assert ok.status_code == 200, (authorization, ok.get_json())


def test_pages_ask_browsers_for_basic_credentials(make_app):
    client = make_app(USAGE_STATS_TOKEN="s3cret").test_client()
    response = client.get("/usage/settings")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert "token as the password" in response.get_json()["message"]
    api = client.get(CONFIG)
    assert api.headers["WWW-Authenticate"] == "Bearer"



def test_an_unreachable_opt_in_status_url_does_not_fail_the_choice(make_app, caplog):
    from support.live_server import free_port

    url = f"http://127.0.0.1:{free_port()}/api/telemetry/v3/intake/opt_in_status"  # nobody listens
    app = make_app(USAGE_TELEMETRY_OPT_IN_STATUS_URL=url, USAGE_TELEMETRY_TIMEOUT_S=2)
    client = app.test_client()
    assert client.post(OPT_IN, json={"enabled": True}, headers=XSRF).status_code == 200
    app.extensions["usage_collection"].opt_in_report.join(5)
    assert client.get(CONFIG).get_json()["optIn"] is True
    assert any("reporting the opt-in status" in record.getMessage() for record in caplog.records)
