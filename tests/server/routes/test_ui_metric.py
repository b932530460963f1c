"""POST /api/ui_metric/report: OpenSearch Dashboards' (and Kibana <= 7.10's) report v1.

Mirrors OSD's ``test/api_integration/apis/ui_metric/ui_metric.js`` and
``src/plugins/usage_collection/server/report/store_report.test.ts``, with each entry adding
its ``stats.sum`` as OSD's current ``store_report.ts`` does.
"""

from __future__ import annotations

import copy
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from support.tables import stored_nothing
from usage_collection import UsageCollection

URL = "/api/ui_metric/report"
OSD_XSRF = {"osd-xsrf": "opensearch-dashboards"}
NOW = datetime(2025, 4, 10, 12, 0, tzinfo=timezone.utc)
DAY = "2025-04-10"
UA = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/78.0.3904.87 Safari/537.36")


def stats_metric(event: str, app: str = "myApp", type: str = "click", total: int = 1) -> dict[str, Any]:
    """One uiStatsMetrics entry as OSD's ReportManager builds it (min 0, avg = min + max / 2)."""
    return {"key": f"{app}-{type}-{event}", "appName": app, "eventName": event, "type": type,
            "stats": {"min": 0, "max": total, "avg": total / 2, "sum": total}}


def v1(**maps: Any) -> dict[str, Any]:
    return {"report": {"reportVersion": 1, **maps}}


# store_report.test.ts's "stores report for all types of data" report.
OSD_STORE_REPORT = v1(
    userAgent={"key-user-agent": {"key": "test-key", "type": "user_agent", "appName": "test-app-name",
                                  "userAgent": "test-user-agent"}},
    uiStatsMetrics={"any": {"key": "test-key", "type": "click", "appName": "test-app-name",
                            "eventName": "test-event-name", "stats": {"min": 1, "max": 2, "avg": 1.5, "sum": 3}}},
    application_usage={"appId": {"numberOfClicks": 3, "minutesOnScreen": 10}},
)


def make_app(db_path: Path, **config: Any) -> Flask:
    app = Flask("ui_metric_test")
    app.config.update({"TESTING": True, "USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0, **config})
    UsageCollection(app, clock=lambda: NOW)
    return app


@pytest.fixture
def app(db_path: Path):
    app = make_app(db_path)
    yield app
    app.extensions["usage_collection"].close()


def rows(db_path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_ui_metric_js_increments_the_count_of_app_and_event(client, db_path):
    """ui_metric.js: "increments the count field in the document defined by the {app}/{action_type} path"."""
    response = client.post(URL, json=v1(uiStatsMetrics={"myApp-click-myEvent": stats_metric("myEvent")}),
                           headers=OSD_XSRF)
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert rows(db_path, "SELECT id, count FROM ui_metric") == [("ui-metric:myApp:myEvent", 1)]


def test_ui_metric_js_supports_multiple_events(client, db_path):
    """ui_metric.js: "supports multiple events", a user agent among them, stored verbatim."""
    report = v1(userAgent={"opensearchDashboards-user_agent": {
                    "key": "opensearchDashboards-user_agent", "appName": "opensearchDashboards",
                    "type": "user_agent", "userAgent": UA}},
                uiStatsMetrics={"myApp-click-myEvent": stats_metric("myEvent"),
                                "myApp-click-myEvent123": stats_metric("myEvent123")})
    assert client.post(URL, json=report, headers=OSD_XSRF).get_json() == {"status": "ok"}
    assert rows(db_path, "SELECT id FROM ui_metric ORDER BY id") == [("ui-metric:myApp:myEvent",),
                                                                     ("ui-metric:myApp:myEvent123",)]
    assert rows(db_path, "SELECT key, user_agent FROM user_agents") == [("opensearchDashboards-user_agent", UA)]


def test_store_report_test_ts_stores_all_types_of_data(client, db_path):
    """store_report.test.ts: "stores report for all types of data". The user agent is keyed by
    the map key; the stats entry adds its sum (3); v1 app usage is the app's main view."""
    assert client.post(URL, json=OSD_STORE_REPORT, headers=OSD_XSRF).get_json() == {"status": "ok"}
    assert rows(db_path, "SELECT key, user_agent FROM user_agents") == [("key-user-agent", "test-user-agent")]
    assert rows(db_path, "SELECT id, count FROM ui_metric") == [("ui-metric:test-app-name:test-event-name", 3)]
    assert rows(db_path, "SELECT domain_id, counter_name, counter_type, source, day, count FROM usage_counters") == [
        ("test-app-name", "test-event-name", "click", "ui", DAY, 3)]
    assert rows(db_path, "SELECT app_id, view_id, day, minutes_on_screen, number_of_clicks "
                         "FROM application_usage_daily") == [("appId", "main", DAY, 10.0, 3)]


def test_store_report_test_ts_nothing_to_store(client, db_path):
    """store_report.test.ts: "it should not fail if nothing to store"."""
    assert client.post(URL, json=v1(), headers=OSD_XSRF).get_json() == {"status": "ok"}
    assert stored_nothing(db_path)


def test_osd_pr_6721_example_shows_up_in_ui_metric(client):
    """The body from OSD PR #6721 (reference §10.3): ui_metric.console lists GET_cat.indices with 21."""
    body = {"report": {"reportVersion": 1, "uiStatsMetrics": {"console-count-GET_cat.indices": {
        "key": "console-count-GET_cat.indices", "appName": "console", "eventName": "GET_cat.indices",
        "type": "count", "stats": {"min": 0, "max": 1, "avg": 0.5, "sum": 21}}}}}
    assert client.post(URL, json=body, headers=OSD_XSRF).get_json() == {"status": "ok"}
    usage = client.get("/api/stats?extended&legacy").get_json()["usage"]
    assert usage["ui_metric"] == {"console": [{"key": "GET_cat.indices", "value": 21}]}


def test_v1_and_v3_reports_add_into_the_same_counts(client, db_path):
    v3 = {"report": {"reportVersion": 3, "uiCounter": {"myApp-click-myEvent": {
        "key": "myApp-click-myEvent", "appName": "myApp", "eventName": "myEvent", "type": "click", "total": 2}}}}
    assert client.post("/api/ui_counters/_report", json=v3, headers={"kbn-xsrf": "1"}).status_code == 200
    report = v1(uiStatsMetrics={"myApp-click-myEvent": stats_metric("myEvent", total=5)})
    assert client.post(URL, json=report, headers=OSD_XSRF).status_code == 200
    assert rows(db_path, "SELECT count FROM ui_metric") == [(7,)]
    assert rows(db_path, "SELECT count FROM usage_counters") == [(7,)]


SM = "request body.report.uiStatsMetrics.myApp-click-myEvent"


def with_entry(**changes: Any) -> dict[str, Any]:
    entry = stats_metric("myEvent")
    for name, value in changes.items():
        if name.startswith("stats_"):
            entry["stats"][name[6:]] = value
        elif value is None:
            del entry[name]
        else:
            entry[name] = value
    return v1(uiStatsMetrics={"myApp-click-myEvent": entry})


@pytest.mark.parametrize("body, headers, message", [
    pytest.param(with_entry(type="hover"), OSD_XSRF,
                 f'[{SM}.type]: expected one of [click, loaded, count] but got "hover"', id="type-not-allowed"),
    pytest.param(with_entry(type="user_agent"), OSD_XSRF,
                 f'[{SM}.type]: expected one of [click, loaded, count] but got "user_agent"', id="type-user-agent"),
    pytest.param({"report": {"reportVersion": 3}}, OSD_XSRF,
                 "[request body.report.reportVersion]: expected value to equal [1]", id="v3-version"),
    pytest.param(with_entry(stats_sum="3"), OSD_XSRF,
                 f"[{SM}.stats.sum]: expected value of type [number] but got [string]", id="sum-string"),
    pytest.param(with_entry(stats_sum=1.5), OSD_XSRF,
                 f"[{SM}.stats.sum]: expected a whole number (a count) but got [1.5]", id="sum-fraction"),
    pytest.param(with_entry(stats_sum=-1), OSD_XSRF,
                 f"[{SM}.stats.sum]: Value must be equal to or greater than [0].", id="sum-negative"),
    pytest.param(with_entry(stats=None), OSD_XSRF,
                 f"[{SM}.stats]: expected a plain object value, but found [undefined] instead.", id="no-stats"),
    pytest.param(with_entry(stats_median=1), OSD_XSRF,
                 f"[{SM}.stats.median]: definition for this key is missing", id="stats-unknown-key"),
    pytest.param(with_entry(appName="my:app"), OSD_XSRF,
                 f'[{SM}.appName]: value "my:app" must not contain ":"', id="colon-in-app"),
    pytest.param(v1(uiCounter={}), OSD_XSRF,
                 "[request body.report.uiCounter]: definition for this key is missing", id="v3-map-in-v1"),
    pytest.param(v1(application_usage={"a:b": {"minutesOnScreen": 1, "numberOfClicks": 1}}), OSD_XSRF,
                 '[request body.report.application_usage.a:b]: the app id must not contain ":"', id="colon-app-id"),
    pytest.param(v1(application_usage={"": {"minutesOnScreen": 1, "numberOfClicks": 1}}), OSD_XSRF,
                 "[request body.report.application_usage]: an app id (the key) has length [0]", id="empty-app-id"),
    pytest.param(v1(application_usage={"app": {"appId": "app", "viewId": "main", "minutesOnScreen": 1,
                                               "numberOfClicks": 1}}), OSD_XSRF,
                 "[request body.report.application_usage.app.appId]: definition for this key is missing",
                 id="v3-app-usage-entry"),
    pytest.param(with_entry(), {}, "Request must contain a osd-xsrf header.", id="no-xsrf-header"),
    pytest.param([1], OSD_XSRF, "[request body]: expected a plain object value, but found [Array] instead.",
                 id="not-an-object"),
])
def test_bad_v1_input_is_refused_naming_the_path_and_nothing_is_stored(client, db_path, body, headers, message):
    mixed = copy.deepcopy(body)
    if isinstance(mixed, dict) and "uiStatsMetrics" not in mixed.get("report", {}) and headers:
        mixed["report"]["uiStatsMetrics"] = {"other-click-x": stats_metric("x", app="other")}
    response = client.post(URL, json=mixed, headers=headers)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()
    assert (error["statusCode"], error["error"]) == (400, "Bad Request")
    assert error["message"].startswith(message), error["message"]
    assert stored_nothing(db_path)


@pytest.mark.parametrize("header", ["osd-xsrf", "osd-version", "kbn-xsrf", "kbn-version"])
def test_osd_and_kibana_xsrf_headers_are_accepted_on_both_report_routes(client, db_path, header):
    report = v1(uiStatsMetrics={"myApp-click-myEvent": stats_metric("myEvent")})
    assert client.post(URL, json=report, headers={header: "1"}).status_code == 200
    v3 = {"report": {"uiCounter": {"k": {"key": "k", "appName": "myApp", "eventName": "myEvent", "type": "click",
                                         "total": 1}}}}
    assert client.post("/api/ui_counters/_report", json=v3, headers={header: "1"}).status_code == 200
    assert rows(db_path, "SELECT count FROM ui_metric") == [(2,)]


def test_osd_xsrf_is_accepted_by_the_telemetry_admin_writes(client):
    assert client.post("/api/telemetry/v2/optIn", json={"enabled": False}).status_code == 400
    answer = client.post("/api/telemetry/v2/optIn", json={"enabled": False}, headers={"osd-xsrf": "true"})
    assert answer.status_code == 200, answer.get_json()


def test_dry_run_and_the_new_keys_limit_apply_to_v1_too(db_path):
    """Both routes share one tail (limits + store + answer): a v1 report past the new-keys
    limit is refused whole, exactly as a v3 one is."""
    app = make_app(db_path, USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY=1, USAGE_LIMITS_EXEMPT=[])
    try:
        client = app.test_client()
        report = v1(uiStatsMetrics={"a-click-x": stats_metric("x", app="a"), "a-click-y": stats_metric("y", app="a")})
        dry = client.post(URL + "?dry_run=true", json=report, headers=OSD_XSRF)
        assert dry.get_json() == {"status": "ok", "dry_run": True}
        refused = client.post(URL, json=report, headers=OSD_XSRF)
        assert refused.status_code == 429 and "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY" in refused.get_json()["message"]
        assert rows(db_path, "SELECT COUNT(*) FROM ui_metric") == [(0,)]
        assert rows(db_path, "SELECT COUNT(*) FROM usage_counters") == [(0,)]
    finally:
        app.extensions["usage_collection"].close()
