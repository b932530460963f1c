"""POST /api/ui_counters/_report through Flask's test client: what a browser or curl sees."""

from __future__ import annotations

import copy
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder, run_wsgi_app

from support.tables import data_row_counts, stored_nothing
from usage_collection import UsageCollection
from usage_collection.storage import open_storage

URL = "/api/ui_counters/_report"
XSRF = {"kbn-xsrf": "true"}
NOW = datetime(2025, 4, 10, 23, 30, tzinfo=timezone.utc)
DAY = "2025-04-10"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# The reference's §1.4 request body, exactly as newest Kibana sends it.
KIBANA_REPORT = {
    "report": {
        "reportVersion": 3,
        "uiCounter": {
            "discover-click-open_doc_flyout": {
                "key": "discover-click-open_doc_flyout", "appName": "discover",
                "eventName": "open_doc_flyout", "type": "click", "total": 3},
            "dashboards-loaded-dashboard_view": {
                "key": "dashboards-loaded-dashboard_view", "appName": "dashboards",
                "eventName": "dashboard_view", "type": "loaded", "total": 1},
        },
        "userAgent": {
            "kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana", "type": "user_agent",
                                  "userAgent": UA},
        },
        "application_usage": {
            "discover-main": {"appId": "discover", "viewId": "main", "minutesOnScreen": 2.5316, "numberOfClicks": 7},
            "discover-doc_flyout": {"appId": "discover", "viewId": "doc_flyout", "minutesOnScreen": 0.41,
                                    "numberOfClicks": 2},
        },
    }
}
UC = "request body.report.uiCounter.discover-click-open_doc_flyout"
AU = "request body.report.application_usage.discover-main"
UAP = "request body.report.userAgent.kibana-user_agent"


def make_app(db_url: Path | str, **config: Any) -> Flask:
    app = Flask("ui_counters_test")
    app.config.update({"TESTING": True, "USAGE_DB": str(db_url), "USAGE_ROLLUP_INTERVAL_S": 0,
                       "USAGE_ALLOWED_ORIGINS": ["https://shop.example"], "USAGE_MAX_BODY_BYTES": 4096,
                       "USAGE_MAX_ENTRIES": 3, "USAGE_MAX_NAME_LENGTH": 40, **config})
    UsageCollection(app, clock=lambda: NOW)
    return app


@pytest.fixture
def app(db_url: str):
    app = make_app(db_url)
    yield app
    app.extensions["usage_collection"].close()


def rows(db_url: Path | str, sql: str) -> list[tuple]:
    storage = open_storage(str(db_url))
    try:
        return storage.query(sql)
    finally:
        storage.close()


def body_with(change: Callable[[dict], None]) -> bytes:
    body = copy.deepcopy(KIBANA_REPORT)
    change(body["report"])
    return json.dumps(body).encode()


def set_at(path: str, value: Any) -> Callable[[dict], None]:
    """Set report[a][b][c] = value for path "a.b.c" (map keys contain no dots here)."""
    *parents, last = path.split(".")

    def change(report: dict) -> None:
        target = report
        for key in parents:
            target = target[key]
        target[last] = value
    return change


def drop(path: str) -> Callable[[dict], None]:
    *parents, last = path.split(".")

    def change(report: dict) -> None:
        target = report
        for key in parents:
            target = target[key]
        del target[last]
    return change


def many_counters(n: int) -> Callable[[dict], None]:
    def change(report: dict) -> None:
        report["uiCounter"] = {f"a-click-e{i}": {"key": f"a-click-e{i}", "appName": "a", "eventName": f"e{i}",
                                                  "type": "click", "total": 1} for i in range(n)}
    return change


UI = "uiCounter.discover-click-open_doc_flyout"
APP = "application_usage.discover-main"
AGENT = "userAgent.kibana-user_agent"
NESTED = b'{"report": ' + b"[" * 2000 + b"]" * 2000 + b"}"  # deeper than Python's recursion limit, under 4 KiB
EMPTY = "value has length [0] but it must have a minimum length of [1]."
NOT_NEGATIVE = "Value must be equal to or greater than [0]."
REPORT_ID_RULE = "expected 1 to 64 characters from A-Z a-z 0-9 . _ : - but got"

# id, body (bytes), extra headers (None = the kbn-xsrf header), query, status, message (prefix)
BAD_INPUT = [
    ("not-json", b"{report:", None, "", 400, "[request body]: the body is not valid JSON"),
    ("empty-body", b"", None, "", 400, "[request body]: the body is not valid JSON"),
    ("array", b"[1, 2]", None, "", 400, "[request body]: expected a plain object value, but found [Array] instead."),
    ("bare-string", b'"report"', None, "", 400,
     "[request body]: expected a plain object value, but found [string] instead."),
    ("number", b"42", None, "", 400, "[request body]: expected a plain object value, but found [number] instead."),
    ("null", b"null", None, "", 400, "[request body]: expected a plain object value, but found [null] instead."),
    ("no-report", b"{}", None, "", 400,
     "[request body.report]: expected a plain object value, but found [undefined] instead."),
    ("report-is-array", b'{"report": []}', None, "", 400,
     "[request body.report]: expected a plain object value, but found [Array] instead."),
    ("unknown-top-level", json.dumps({**KIBANA_REPORT, "extra": 1}).encode(), None, "", 400,
     "[request body.extra]: definition for this key is missing"),
    ("unknown-report-field", body_with(set_at("foo", 1)), None, "", 400,
     "[request body.report.foo]: definition for this key is missing"),
    ("unknown-entry-field", body_with(set_at(f"{UI}.stats", {})), None, "", 400,
     f"[{UC}.stats]: definition for this key is missing"),
    ("unknown-app-usage-field", body_with(set_at(f"{APP}.timestamp", "x")), None, "", 400,
     f"[{AU}.timestamp]: definition for this key is missing"),
    ("total-string", body_with(set_at(f"{UI}.total", "three")), None, "", 400,
     f"[{UC}.total]: expected value of type [number] but got [string]"),
    ("total-numeric-string", body_with(set_at(f"{UI}.total", "4")), None, "", 400,
     f"[{UC}.total]: expected value of type [number] but got [string]"),
    ("total-boolean", body_with(set_at(f"{UI}.total", True)), None, "", 400,
     f"[{UC}.total]: expected value of type [number] but got [boolean]"),
    ("total-null", body_with(set_at(f"{UI}.total", None)), None, "", 400,
     f"[{UC}.total]: expected value of type [number] but got [null]"),
    ("total-missing", body_with(drop(f"{UI}.total")), None, "", 400,
     f"[{UC}.total]: expected value of type [number] but got [undefined]"),
    ("event-missing", body_with(drop(f"{UI}.eventName")), None, "", 400,
     f"[{UC}.eventName]: expected value of type [string] but got [undefined]"),
    ("event-number", body_with(set_at(f"{UI}.eventName", 7)), None, "", 400,
     f"[{UC}.eventName]: expected value of type [string] but got [number]"),
    ("namespace-null", body_with(set_at(f"{UI}.namespace", None)), None, "", 400,
     f"[{UC}.namespace]: expected value of type [string] but got [null]"),
    ("user-agent-missing", body_with(drop(f"{AGENT}.userAgent")), None, "", 400,
     f"[{UAP}.userAgent]: expected value of type [string] but got [undefined]"),
    ("clicks-missing", body_with(drop(f"{APP}.numberOfClicks")), None, "", 400,
     f"[{AU}.numberOfClicks]: expected value of type [number] but got [undefined]"),
    ("version-2", body_with(set_at("reportVersion", 2)), None, "", 400,
     "[request body.report.reportVersion]: expected value to equal [3]"),
    ("version-string", body_with(set_at("reportVersion", "3")), None, "", 400,
     "[request body.report.reportVersion]: expected value to equal [3]"),
    ("colon-in-app-name", body_with(set_at(f"{UI}.appName", "dis:cover")), None, "", 400,
     f'[{UC}.appName]: value "dis:cover" must not contain ":"'),
    ("colon-in-app-id", body_with(set_at(f"{APP}.appId", "dis:cover")), None, "", 400,
     f'[{AU}.appId]: value "dis:cover" must not contain ":"'),
    ("empty-app-name", body_with(set_at(f"{UI}.appName", "")), None, "", 400, f"[{UC}.appName]: {EMPTY}"),
    ("empty-event-name", body_with(set_at(f"{UI}.eventName", "")), None, "", 400, f"[{UC}.eventName]: {EMPTY}"),
    ("empty-type", body_with(set_at(f"{UI}.type", "")), None, "", 400, f"[{UC}.type]: {EMPTY}"),
    ("empty-key", body_with(set_at(f"{UI}.key", "")), None, "", 400, f"[{UC}.key]: {EMPTY}"),
    ("empty-app-id", body_with(set_at(f"{APP}.appId", "")), None, "", 400, f"[{AU}.appId]: {EMPTY}"),
    ("empty-view-id", body_with(set_at(f"{APP}.viewId", "")), None, "", 400, f"[{AU}.viewId]: {EMPTY}"),
    ("negative-total", body_with(set_at(f"{UI}.total", -1)), None, "", 400, f"[{UC}.total]: {NOT_NEGATIVE}"),
    ("fractional-total", body_with(set_at(f"{UI}.total", 1.5)), None, "", 400,
     f"[{UC}.total]: expected a whole number (a count) but got [1.5]"),
    ("too-large-total", body_with(set_at(f"{UI}.total", 10**9 + 1)), None, "", 400,
     f"[{UC}.total]: Value must be equal to or lower than [1000000000]."),
    ("infinite-total", body_with(set_at(f"{UI}.total", 777)).replace(b"777", b"1e999"), None, "",
     400, f"[{UC}.total]: expected a finite number but got [inf]"),
    ("negative-minutes", body_with(set_at(f"{APP}.minutesOnScreen", -0.5)), None, "", 400,
     f"[{AU}.minutesOnScreen]: {NOT_NEGATIVE}"),
    ("negative-clicks", body_with(set_at(f"{APP}.numberOfClicks", -2)), None, "", 400,
     f"[{AU}.numberOfClicks]: {NOT_NEGATIVE}"),
    ("fractional-clicks", body_with(set_at(f"{APP}.numberOfClicks", 0.5)), None, "", 400,
     f"[{AU}.numberOfClicks]: expected a whole number (a count) but got [0.5]"),
    ("nan-literal", b'{"report": {"uiCounter": {"a": {"total": NaN}}}}', None, "", 400,
     "[request body]: the body is not valid JSON (NaN is not a JSON number)."),
    ("infinity-literal", b'{"report": {"reportVersion": Infinity}}', None, "", 400,
     "[request body]: the body is not valid JSON (Infinity is not a JSON number)."),
    ("minus-infinity-literal", b'{"report": {"reportVersion": -Infinity}}', None, "", 400,
     "[request body]: the body is not valid JSON (-Infinity is not a JSON number)."),
    ("duplicate-json-key", b'{"report": {"reportVersion": 3, "reportVersion": 3}}', None, "", 400,
     '[request body]: the key "reportVersion" appears twice in one JSON object'),
    ("deep-nesting", NESTED, None, "", 400, "[request body]: the JSON is nested too deeply."),
    ("lone-surrogate", body_with(set_at(f"{UI}.eventName", "\ud800x")), None, "", 400,
     f"[{UC}.eventName]: value is not valid Unicode text (it holds a lone surrogate)."),
    ("not-utf8", b'{"report": {"reportId": "\xff"}}', None, "", 400, "[request body]: the body is not UTF-8 text"),
    ("report-id-empty", body_with(set_at("reportId", "")), None, "", 400,
     f'[request body.report.reportId]: {REPORT_ID_RULE} ""'),
    ("report-id-65-chars", body_with(set_at("reportId", "a" * 65)), None, "", 400,
     f'[request body.report.reportId]: {REPORT_ID_RULE} "{"a" * 65}"'),
    ("report-id-unsafe-chars", body_with(set_at("reportId", "../x y")), None, "", 400,
     f'[request body.report.reportId]: {REPORT_ID_RULE} "../x y"'),
    ("report-id-number", body_with(set_at("reportId", 12)), None, "", 400,
     "[request body.report.reportId]: expected value of type [string] but got [number]"),
    ("too-many-entries", body_with(many_counters(4)), None, "", 400,
     "[request body.report.uiCounter]: has 4 entries but at most [3] are accepted per report (USAGE_MAX_ENTRIES)"),
    ("name-too-long", body_with(set_at(f"{UI}.eventName", "e" * 41)), None, "", 400,
     f"[{UC}.eventName]: value has length [41] but it must have a maximum length of [40]."),
    ("user-agent-too-long", body_with(set_at(f"{AGENT}.userAgent", "M" * 1025)), None, "", 400,
     f"[{UAP}.userAgent]: value has length [1025] but it must have a maximum length of [1024]."),
    ("map-key-too-long", body_with(set_at("uiCounter", {"k" * 41: KIBANA_REPORT["report"]["uiCounter"][
        "discover-click-open_doc_flyout"]})), None, "", 400,
     f"[request body.report.uiCounter.{'k' * 41}]: key has length [41] but it must have a maximum length of [40]."),
    ("map-is-array", body_with(set_at("uiCounter", [])), None, "", 400,
     "[request body.report.uiCounter]: expected value of type [object] but got [Array]"),
    ("entry-is-string", body_with(set_at(UI, "open")), None, "", 400,
     f"[{UC}]: expected a plain object value, but found [string] instead."),
    ("body-over-limit", b'{"report": {"reportId": "' + b"a" * 5000 + b'"}}', None, "", 413,
     "Request body is larger than the limit of 4096 bytes (USAGE_MAX_BODY_BYTES)."),
    ("form-content-type", json.dumps(KIBANA_REPORT).encode(),
     {"kbn-xsrf": "1", "Content-Type": "application/x-www-form-urlencoded"}, "", 415,
     "Unsupported Media Type 'application/x-www-form-urlencoded'"),
    ("latin1-charset", json.dumps(KIBANA_REPORT).encode(),
     {"kbn-xsrf": "1", "Content-Type": "text/plain; charset=iso-8859-1"}, "", 415, "Unsupported Media Type"),
    ("no-xsrf-no-origin", json.dumps(KIBANA_REPORT).encode(), {}, "", 400, "Request must contain a kbn-xsrf header."),
    ("other-origin", json.dumps(KIBANA_REPORT).encode(), {"Origin": "https://evil.example"}, "", 400,
     "Request must contain a kbn-xsrf header."),
    ("null-origin", json.dumps(KIBANA_REPORT).encode(), {"Origin": "null"}, "", 400,
     "Request must contain a kbn-xsrf header."),
    ("origin-prefix-of-allowed", json.dumps(KIBANA_REPORT).encode(), {"Origin": "https://shop.example.evil.io"},
     "", 400, "Request must contain a kbn-xsrf header."),
    ("bad-dry-run-flag", json.dumps(KIBANA_REPORT).encode(), None, "?dry_run=maybe", 400,
     "[request query.dry_run]: expected value of type [boolean] but got 'maybe'"),
]


@pytest.mark.parametrize("body, headers, query, status, message",
                         [case[1:] for case in BAD_INPUT], ids=[case[0] for case in BAD_INPUT])
def test_bad_input_is_refused_and_nothing_is_stored(client, db_url, body, headers, query, status, message):
    headers = {"kbn-xsrf": "true", "Content-Type": "application/json"} if headers is None else {
        "Content-Type": "application/json", **headers}
    response = client.post(URL + query, data=body, headers=headers)
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()
    assert set(error) == {"statusCode", "error", "message"}
    assert error["statusCode"] == status
    assert error["message"].startswith(message), error["message"]
    assert stored_nothing(db_url), data_row_counts(db_url)


def test_bad_input_ids_are_unique():
    ids = [case[0] for case in BAD_INPUT]
    assert len(ids) == len(set(ids))


def post_without_content_length(app: Flask, body: bytes) -> tuple[int, Any]:
    """A chunked request as a server hands it over: no ``CONTENT_LENGTH`` in the environ and
    ``wsgi.input_terminated`` set (the body ends where the stream ends). Werkzeug's test
    client cannot send this: it computes a Content-Length from any input stream it is given."""
    environ = EnvironBuilder(path=URL, method="POST", headers={**XSRF, "Content-Type": "application/json"},
                             environ_overrides={"wsgi.input_terminated": True}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": io.BytesIO(body), "REMOTE_ADDR": "127.0.0.1"})  # as the test client sends
    assert "CONTENT_LENGTH" not in environ and "HTTP_CONTENT_LENGTH" not in environ
    answer, status, _ = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(answer))


def test_a_chunked_body_without_a_content_length_is_read_and_stored(app, db_url):
    status, answer = post_without_content_length(app, json.dumps(KIBANA_REPORT).encode())
    assert (status, answer) == (200, {"status": "ok"})
    assert rows(db_url, "SELECT domain_id, counter_name, count FROM usage_counters ORDER BY domain_id") == [
        ("dashboards", "dashboard_view", 1), ("discover", "open_doc_flyout", 3)]


def test_a_chunked_body_over_the_limit_is_refused_without_a_content_length(app, db_url):
    body = b'{"report": {"reportId": "' + b"a" * 10_000 + b'"}}'
    status, answer = post_without_content_length(app, body)
    assert (status, answer["message"]) == (413, "Request body is larger than the limit of 4096 bytes "
                                                "(USAGE_MAX_BODY_BYTES).")
    assert stored_nothing(db_url), data_row_counts(db_url)


def test_kibana_report_is_stored_as_kibana_stores_it(client, db_url):
    response = client.post(URL, json=KIBANA_REPORT, headers=XSRF)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert rows(db_url, "SELECT id, app_name, event_name, count FROM ui_metric ORDER BY id") == [
        ("ui-metric:dashboards:dashboard_view", "dashboards", "dashboard_view", 1),
        ("ui-metric:discover:open_doc_flyout", "discover", "open_doc_flyout", 3),
    ]
    assert rows(db_url, "SELECT domain_id, counter_name, counter_type, source, day, count FROM usage_counters "
                         "ORDER BY domain_id") == [
        ("dashboards", "dashboard_view", "loaded", "ui", DAY, 1),
        ("discover", "open_doc_flyout", "click", "ui", DAY, 3),
    ]
    assert rows(db_url, "SELECT app_id, view_id, day, minutes_on_screen, number_of_clicks "
                         "FROM application_usage_daily ORDER BY view_id") == [
        ("discover", "doc_flyout", DAY, 0.41, 2),
        ("discover", "main", DAY, 2.5316, 7),
    ]
    assert rows(db_url, "SELECT key, user_agent, first_seen, last_seen, reports FROM user_agents") == [
        ("kibana-user_agent", UA, "2025-04-10T23:30:00.000Z", "2025-04-10T23:30:00.000Z", 1)]
    assert rows(db_url, "SELECT * FROM reports_seen") == []  # Kibana sends no reportId


def test_user_agents_are_keyed_by_the_map_key_and_kept_verbatim(client, db_url):
    """Kibana's server/report/store_ui_report.test.ts ("stores report for all types of data"):
    the map key ``key-user-agent`` (not the entry's ``key: test-key``) names the stored id
    ``key-user-agent:test-user-agent``; the two uiCounter entries of one event add up to 3."""
    body = {"report": {
        "reportVersion": 3,
        "userAgent": {"key-user-agent": {"key": "test-key", "type": "user_agent", "appName": "test-app-name",
                                         "userAgent": "test-user-agent"}},
        "uiCounter": {
            "eventOneId": {"key": "test-key", "type": "loaded", "appName": "test-app-name",
                           "eventName": "test-event-name", "total": 1},
            "eventTwoId": {"key": "test-key", "type": "click", "appName": "test-app-name",
                           "eventName": "test-event-name", "total": 2},
        },
        "application_usage": {"appId": {"appId": "appId", "viewId": "appId_view", "numberOfClicks": 3,
                                         "minutesOnScreen": 10}},
    }}
    assert client.post(URL, json=body, headers=XSRF).get_json() == {"status": "ok"}
    assert rows(db_url, "SELECT key, user_agent FROM user_agents") == [("key-user-agent", "test-user-agent")]
    assert rows(db_url, "SELECT id, count FROM ui_metric") == [("ui-metric:test-app-name:test-event-name", 3)]
    assert rows(db_url, "SELECT counter_type, count FROM usage_counters ORDER BY counter_type") == [
        ("click", 2), ("loaded", 1)]
    with_slashes = copy.deepcopy(KIBANA_REPORT)
    assert client.post(URL, json=with_slashes, headers=XSRF).status_code == 200
    usage = client.get("/api/stats?extended&legacy").get_json()["usage"]["ui_metric"]
    assert usage["key-user-agent"] == [{"key": "test-user-agent", "value": 1}]
    assert usage["kibana-user_agent"] == [{"key": UA, "value": 1}]  # slashes kept (collectors/ui_metric/index.test.ts)


def test_report_without_report_id_counts_every_time(client, db_url):
    for _ in range(2):
        assert client.post(URL, json=KIBANA_REPORT, headers=XSRF).get_json() == {"status": "ok"}
    assert rows(db_url, "SELECT SUM(count) FROM usage_counters") == [(8,)]


def test_duplicate_report_id_is_counted_once(client, db_url):
    body = copy.deepcopy(KIBANA_REPORT)
    body["report"]["reportId"] = "4f1c2a9e0b7d4c55a1e3f0d2c6b8a917"
    assert client.post(URL, json=body, headers=XSRF).get_json() == {"status": "ok"}
    again = client.post(URL, json=body, headers=XSRF)
    assert again.status_code == 200
    assert again.get_json() == {"status": "ok", "duplicate": True}
    assert rows(db_url, "SELECT SUM(count) FROM usage_counters") == [(4,)]
    assert rows(db_url, "SELECT SUM(count) FROM ui_metric") == [(4,)]
    assert rows(db_url, "SELECT reports FROM user_agents") == [(1,)]
    assert rows(db_url, "SELECT SUM(number_of_clicks) FROM application_usage_daily") == [(9,)]
    assert rows(db_url, "SELECT report_id, received_at FROM reports_seen") == [
        ("4f1c2a9e0b7d4c55a1e3f0d2c6b8a917", "2025-04-10T23:30:00.000Z")]


@pytest.mark.parametrize("query", ["?dry_run=true", "?dry_run"])
def test_dry_run_validates_and_stores_nothing(client, db_url, query):
    response = client.post(URL + query, json=KIBANA_REPORT, headers=XSRF)
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "dry_run": True}
    assert stored_nothing(db_url)
    bad = client.post(URL + query, json={"report": {"foo": 1}}, headers=XSRF)
    assert bad.status_code == 400


@pytest.mark.parametrize("headers", [
    pytest.param({"kbn-xsrf": "anything"}, id="kbn-xsrf"),
    pytest.param({"kbn-xsrf": ""}, id="kbn-xsrf-empty-value"),
    pytest.param({"kbn-version": "9.0.0"}, id="kbn-version"),
    pytest.param({"Origin": "http://localhost"}, id="same-origin"),
    pytest.param({"Origin": "https://shop.example"}, id="allow-listed-origin"),
    pytest.param({"Origin": "HTTPS://Shop.Example/"}, id="allow-listed-origin-other-case"),
])
def test_writes_allowed_by_header_or_origin(client, db_url, headers):
    response = client.post(URL, json=KIBANA_REPORT, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert rows(db_url, "SELECT SUM(count) FROM ui_metric") == [(4,)]


@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/json; charset=utf-8", None])
def test_beacon_text_plain_and_untyped_bodies_are_accepted(client, db_url, content_type):
    headers = {"Origin": "http://localhost"}
    if content_type:
        headers["Content-Type"] = content_type
    response = client.post(URL, data=json.dumps(KIBANA_REPORT), headers=headers)
    assert response.status_code == 200, response.get_json()
    assert rows(db_url, "SELECT SUM(count) FROM ui_metric") == [(4,)]


def test_cors_preflight_for_an_allow_listed_origin(client):
    response = client.options(URL, headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
                                            "Access-Control-Request-Headers": "kbn-xsrf, content-type"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert set(response.headers["Access-Control-Allow-Headers"].split(", ")) == {"kbn-xsrf", "content-type"}
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_cors_headers_on_answers_to_an_allow_listed_origin_even_errors(client):
    ok = client.post(URL, json=KIBANA_REPORT, headers={"Origin": "https://shop.example"})
    refused = client.post(URL, json={"report": {"foo": 1}}, headers={"Origin": "https://shop.example"})
    assert (ok.status_code, refused.status_code) == (200, 400)
    assert ok.headers["Access-Control-Allow-Origin"] == refused.headers["Access-Control-Allow-Origin"] \
        == "https://shop.example"


def test_a_wildcard_origin_never_allows_credentials(db_path):
    """USAGE_ALLOWED_ORIGINS=* lets any site post reports, but never with the visitor's cookies."""
    app = make_app(db_path, USAGE_ALLOWED_ORIGINS="*")
    client = app.test_client()
    preflight = client.options(URL, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "kbn-xsrf"})
    posted = client.post(URL, json=KIBANA_REPORT, headers={"Origin": "https://evil.example"})
    assert posted.status_code == 200
    for response in (preflight, posted):
        assert response.headers["Access-Control-Allow-Origin"] in ("*", "https://evil.example")
        assert "Access-Control-Allow-Credentials" not in response.headers
    app.extensions["usage_collection"].close()
    named_app = make_app(db_path)
    named = named_app.test_client().post(URL, json=KIBANA_REPORT, headers={"Origin": "https://shop.example"})
    assert named.headers["Access-Control-Allow-Credentials"] == "true"  # a named origin keeps them
    named_app.extensions["usage_collection"].close()


def test_no_cors_for_other_origins_or_other_routes(client):
    preflight = client.options(URL, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
                                             "Access-Control-Request-Headers": "kbn-xsrf"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    status = client.get("/api/status", headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in status.headers


def test_no_cors_at_all_without_an_allow_list(tmp_path):
    app = make_app(tmp_path / "plain.db", USAGE_ALLOWED_ORIGINS=[])
    response = app.test_client().options(URL, headers={"Origin": "https://shop.example",
                                                       "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in response.headers
    app.extensions["usage_collection"].close()


def test_storage_failure_is_503_and_nothing_is_half_stored(client, db_url):
    """A write failing half-way (the user agent upsert, its table gone) rolls the whole report back."""
    storage = open_storage(db_url)
    storage.execute("ALTER TABLE user_agents RENAME TO user_agents_gone")
    body = copy.deepcopy(KIBANA_REPORT)
    body["report"]["reportId"] = "retry-me"
    response = client.post(URL, json=body, headers=XSRF)
    assert response.status_code == 503
    assert response.get_json()["message"].startswith("Storage is unavailable (")
    assert "user_agents" in response.get_json()["message"]
    storage.execute("ALTER TABLE user_agents_gone RENAME TO user_agents")
    assert stored_nothing(storage), data_row_counts(storage)
    storage.close()
    assert client.post(URL, json=body, headers=XSRF).get_json() == {"status": "ok"}  # the retry counts
    assert rows(db_url, "SELECT SUM(count) FROM ui_metric") == [(4,)]


def test_corrupt_database_file_is_503(db_path):
    client = make_app(db_path).test_client()
    # closed first: closing the last connection checkpoints the WAL into the file, which would mend it
    client.application.extensions["usage_collection"].storage.close()
    db_path.write_bytes(b"this is not a database" * 500)
    for suffix in ("-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    response = client.post(URL, json=KIBANA_REPORT, headers=XSRF)
    assert response.status_code == 503
    assert "file is not a database" in response.get_json()["message"]
    assert client.post(URL + "?dry_run=true", json=KIBANA_REPORT, headers=XSRF).status_code == 200
    status = client.get("/api/status")
    assert status.status_code == 503
    assert status.get_json()["status"] == "red" and "file is not a database" in status.get_json()["reason"]
