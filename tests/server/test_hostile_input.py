"""Bad input at volume: generated, mutated and hand-written hostile requests never get a 5xx,
never leave a partial report, and every refusal has the JSON error shape.

The property tests start from valid reports and mutate them (drop/add keys, change types,
huge/negative/NaN numbers, long/unicode/colon names, nested junk, broken encodings, byte
flips) and post them through the Flask test client into a real temp SQLite file. After
each request the database is compared with a model computed from the report: refused,
duplicate or dry-run requests change nothing; an accepted report adds exactly its counts.
Valid reports sent correctly must be accepted (200): a refusal there is a bug, so the
property "any 400 is fine as long as nothing was stored" only covers the mutated ones.
The other routes (/api/stats flags, the telemetry admin routes and the intake) get junk
bodies, queries and content types. Slow clients are tried against the real server in test_serve.py.
"""

from __future__ import annotations

import io
import json
import math
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from werkzeug.test import EnvironBuilder, run_wsgi_app

from usage_collection.storage import open_storage

URL = "/api/ui_counters/_report"
XSRF = {"kbn-xsrf": "true"}
MAX_BODY = 256 * 1024
MAX_NAME = 256  # USAGE_MAX_NAME_LENGTH
CONFIG = {"TESTING": True, "USAGE_ROLLUP_INTERVAL_S": 0, "USAGE_INTAKE_ENABLED": True,
          "USAGE_RATE_LIMIT_PER_MINUTE": 0, "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY": 0}
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """One app and database for all examples: each example checks the change it caused."""
    from usage_collection import create_app

    db_path = tmp_path_factory.mktemp("hostile") / "hostile.db"
    app = create_app({**CONFIG, "USAGE_DB": str(db_path)})
    yield app, db_path
    app.extensions["usage_collection"].close()


# -- the database and the model --------------------------------------------------------------

def snapshot(db_path: Path | str) -> dict[str, Counter]:
    """Every aggregate as a Counter keyed without the day (a run may cross midnight)."""
    conn = open_storage(str(db_path))
    try:
        tables = {
            "ui_metric": "SELECT app_name, event_name, count FROM ui_metric",
            "usage_counters": "SELECT domain_id, counter_name, counter_type, count FROM usage_counters",
            "clicks": "SELECT app_id, view_id, number_of_clicks FROM application_usage_daily",
            "minutes": "SELECT app_id, view_id, minutes_on_screen FROM application_usage_daily",
            "user_agents": "SELECT key, user_agent, reports FROM user_agents",
            "reports_seen": "SELECT report_id, 1 FROM reports_seen",
        }
        result = {}
        for name, sql in tables.items():
            counts: Counter = Counter()
            for *key, value in conn.query(sql):
                counts[tuple(key)] += value
            result[name] = counts
        return result
    finally:
        conn.close()


def delta(before: dict[str, Counter], after: dict[str, Counter]) -> dict[str, dict]:
    changes = {}
    for name in after:
        diff = {key: after[name][key] - before[name].get(key, 0) for key in after[name]}
        diff = {key: value for key, value in diff.items() if value}
        if set(before[name]) - set(after[name]):
            diff["<rows deleted>"] = sorted(set(before[name]) - set(after[name]))
        if diff:
            changes[name] = diff
    return changes


def model(body: dict) -> dict[str, dict]:
    """What storing this (valid) report adds, computed independently of the server's code."""
    report = body["report"]
    expected: dict[str, dict] = defaultdict(lambda: defaultdict(float))
    for entry in (report.get("uiCounter") or {}).values():
        if entry["total"]:
            expected["ui_metric"][entry["appName"], entry["eventName"]] += int(entry["total"])
            expected["usage_counters"][entry["appName"], entry["eventName"], entry["type"]] += int(entry["total"])
    for entry in (report.get("application_usage") or {}).values():
        if entry["minutesOnScreen"] or entry["numberOfClicks"]:
            expected["clicks"][entry["appId"], entry["viewId"]] += int(entry["numberOfClicks"])
            expected["minutes"][entry["appId"], entry["viewId"]] += entry["minutesOnScreen"]
    for entry in (report.get("userAgent") or {}).values():
        expected["user_agents"][entry["key"], entry["userAgent"]] = 1
    if "reportId" in report:
        expected["reports_seen"][(report["reportId"],)] = 1
    return {name: {key: value for key, value in rows.items() if value} for name, rows in expected.items()
            if any(rows.values())}


def same_changes(got: dict[str, dict], want: dict[str, dict]) -> bool:
    """Equal row by row; minutes are floats, so a tiny amount added to a large one may vanish."""
    for name in set(got) | set(want):
        rows_got, rows_want = got.get(name, {}), want.get(name, {})
        for key in set(rows_got) | set(rows_want):
            value_got, value_want = rows_got.get(key, 0), rows_want.get(key, 0)
            if not isinstance(value_got, (int, float)):
                return False
            if not math.isclose(value_got, value_want, rel_tol=1e-9, abs_tol=1e-9):
                return False
    return True


def assert_error_shape(response: Any) -> None:
    assert response.status_code < 500, response.get_data()[:500]
    if response.status_code >= 400:
        error = response.get_json(silent=True)
        assert isinstance(error, dict) and set(error) == {"statusCode", "error", "message"}, response.get_data()[:300]
        assert error["statusCode"] == response.status_code
        assert isinstance(error["message"], str) and error["message"]


# -- strategies --------------------------------------------------------------------------------

NAMES = st.one_of(
    st.sampled_from(["discover", "dash-board", "a:b", "", " ", "ünïcödé", "日本語", "emoji-😀", "tab\tname",
                     "nul\x00name", "\ud800lone", "x" * 256, "x" * 257, "__proto__", "constructor", "-"]),
    st.text(max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x10FFFF), max_size=8),
)
NUMBERS = st.one_of(
    st.integers(0, 1000), st.sampled_from([0, -0.0, -1, 2**53 - 1, 2**53, 2**64, 10**400, 1e308, 1.5, 3.0]),
    st.floats(allow_nan=True, allow_infinity=True),
)
JUNK = st.recursive(
    st.one_of(st.none(), st.booleans(), NUMBERS, NAMES),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(NAMES, inner, max_size=3)),
    max_leaves=8,
)


VALID_NAMES = st.one_of(
    st.sampled_from(["discover", "dash-board", "ev:with:colons", "ünïcödé", "日本語", "emoji-😀", "space name",
                     "x" * 256, "__proto__", "-", " "]),
    # any text but control and format characters (Cc, Cf: refused, issue 11) and lone surrogates
    st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Cf"]), min_size=1, max_size=12),
)
FRESH_ID = "__FRESH_ID__"  # replaced by a new uuid per request, so only the fixed id repeats


@st.composite
def valid_reports(draw: st.DrawFn) -> dict:
    report: dict[str, Any] = {"reportVersion": 3}
    report_id = draw(st.sampled_from([FRESH_ID, FRESH_ID, FRESH_ID, "fixed-id", None]))
    if report_id:
        report["reportId"] = report_id
    counters = {}
    for _ in range(draw(st.integers(0, 4))):
        app, event = draw(st.sampled_from(["discover", "ünï", "app2"])), draw(VALID_NAMES)
        kind = draw(st.sampled_from(["click", "loaded", "count", "日本"]))
        key = f"{app}-{kind}-{event}"[:MAX_NAME]  # a key is a name too: at most 256 characters
        counters[key] = {"key": key, "appName": app, "eventName": event,
                         "type": kind, "total": draw(st.integers(0, 50) | st.just(10**9))}
    if counters or draw(st.booleans()):
        report["uiCounter"] = counters
    usage = {}
    for _ in range(draw(st.integers(0, 2))):
        app, view = draw(st.sampled_from(["discover", "app2"])), draw(VALID_NAMES)
        usage[f"{app}-{view}"[:MAX_NAME]] = {"appId": app, "viewId": view, "numberOfClicks": draw(st.integers(0, 9)),
                                             "minutesOnScreen": draw(st.floats(0, 60, allow_nan=False))}
    if usage:
        report["application_usage"] = usage
    if draw(st.booleans()):
        report["userAgent"] = {"kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana",
                                                     "type": "user_agent", "userAgent": draw(VALID_NAMES)}}
    return {"report": report}


def containers(value: Any, out: list) -> list:
    if isinstance(value, (dict, list)):
        out.append(value)
        for child in (value.values() if isinstance(value, dict) else value):
            containers(child, out)
    return out


@st.composite
def mutated_reports(draw: st.DrawFn) -> dict:
    body = draw(valid_reports())
    for _ in range(draw(st.integers(0, 3))):
        nodes = containers(body, [])
        node = draw(st.sampled_from(nodes))
        action = draw(st.sampled_from(["drop", "add", "replace", "wrap"]))
        if isinstance(node, list):
            node.append(draw(JUNK)) if action != "drop" or not node else node.pop()
            continue
        keys = list(node)
        if action == "drop" and keys:
            del node[draw(st.sampled_from(keys))]
        elif action in ("replace", "wrap") and keys:
            key = draw(st.sampled_from(keys))
            node[key] = draw(JUNK) if action == "replace" else [node[key]]
        else:
            node[draw(NAMES)] = draw(JUNK)
    return body


@st.composite
def encoded(draw: st.DrawFn, bodies: st.SearchStrategy) -> bytes:
    body = draw(bodies)
    how = draw(st.sampled_from(["utf8", "utf8", "utf8", "ascii-escapes", "surrogatepass", "flip", "truncate"]))
    text = json.dumps(body, ensure_ascii=(how == "ascii-escapes"))  # NaN/Infinity literals allowed
    raw = text.encode("utf-8", "surrogatepass")
    if how == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1:]
    elif how == "truncate":
        raw = raw[:draw(st.integers(0, len(raw)))]
    return raw


CONTENT_TYPES = st.sampled_from(["application/json", "application/json", "application/json", "text/plain", "text/plain;charset=UTF-8", None,
                                 "application/json; charset=latin-1", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/xml", "*/*", "application/json;;"])


# -- the report route --------------------------------------------------------------------------

@PROPERTY
@given(raw=encoded(st.one_of(valid_reports(), mutated_reports())), content_type=CONTENT_TYPES,
       dry_run=st.sampled_from(["", "", "", "", "?dry_run=true", "?dry_run=maybe"]),
       xsrf=st.sampled_from([True, True, True, False]))
def test_generated_reports_never_5xx_and_store_all_or_nothing(hostile_app, raw, content_type, dry_run, xsrf):
    app, db_path = hostile_app
    headers = {**(XSRF if xsrf else {}), **({"Content-Type": content_type} if content_type else {})}
    raw = raw.replace(FRESH_ID.encode(), uuid.uuid4().hex.encode())
    before = snapshot(db_path)
    response = app.test_client().post(URL + dry_run, data=raw, headers=headers)
    assert_error_shape(response)
    changes = delta(before, snapshot(db_path))
    answer = response.get_json()
    event(f"status {response.status_code}{' duplicate' if answer and answer.get('duplicate') else ''}")
    if response.status_code == 200 and answer == {"status": "ok"}:
        want = model(json.loads(raw))
        assert same_changes(changes, want), (changes, want)
    else:
        assert response.status_code in (200, 400, 413, 415), response.status_code
        assert changes == {}, f"{response.status_code} {answer} yet the database changed: {changes}"


@pytest.fixture(scope="module")
def valid_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """Its own database, so the reportIds it holds are only those the valid examples sent."""
    from usage_collection import create_app

    db_path = tmp_path_factory.mktemp("valid") / "valid.db"
    app = create_app({**CONFIG, "USAGE_DB": str(db_path)})
    yield app, db_path
    app.extensions["usage_collection"].close()


# Every way a browser, curl or Kibana may correctly send a report: JSON or the beacon's text/plain.
GOOD_CONTENT_TYPES = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                      "text/plain;charset=UTF-8", None])


@PROPERTY
@given(body=valid_reports(), ascii_only=st.booleans(), content_type=GOOD_CONTENT_TYPES, dry_run=st.booleans())
def test_valid_reports_sent_correctly_are_accepted_and_stored_as_modelled(valid_app, body, ascii_only,
                                                                          content_type, dry_run):
    """No valid report may be refused: a 400 here is a bug in the receiver, not bad input."""
    app, db_path = valid_app
    if body["report"].get("reportId") == FRESH_ID:
        body["report"]["reportId"] = uuid.uuid4().hex
    headers = {**XSRF, **({"Content-Type": content_type} if content_type else {})}
    before = snapshot(db_path)
    response = app.test_client().post(URL + ("?dry_run=true" if dry_run else ""),
                                      data=json.dumps(body, ensure_ascii=ascii_only).encode(), headers=headers)
    changes = delta(before, snapshot(db_path))
    assert response.status_code == 200, response.get_data()[:500]
    report_id = body["report"].get("reportId")
    if dry_run:
        assert response.get_json() == {"status": "ok", "dry_run": True}
        assert changes == {}
    elif report_id is not None and before["reports_seen"][(report_id,)]:  # sent before: counted once
        assert response.get_json() == {"status": "ok", "duplicate": True}
        assert changes == {}
    else:
        assert response.get_json() == {"status": "ok"}
        want = model(body)
        assert same_changes(changes, want), (changes, want)


# Valid names a strict validator could wrongly refuse: each must be stored exactly as sent.
AWKWARD_VALID_NAMES = ["space name", " ", " padded ", "ev:with:colons", "x" * 256, "ünïcödé", "日本語", "emoji-😀",
                       "e\u0301", "__proto__", "-", "\u2028", "quote\"d", "back\\slash", "%s %d ?"]


@pytest.mark.parametrize("name", AWKWARD_VALID_NAMES, ids=[repr(name)[:20] for name in AWKWARD_VALID_NAMES])
def test_awkward_valid_names_are_accepted_and_stored_exactly(client, db_url, name):
    body = {"report": {"reportVersion": 3, "reportId": "awkward-1",
                       "uiCounter": {"k1": {"key": "k1", "appName": "shop", "eventName": name, "type": name,
                                            "total": 3}},
                       "application_usage": {"k2": {"appId": "shop", "viewId": name, "minutesOnScreen": 1.5,
                                                    "numberOfClicks": 2}},
                       "userAgent": {"k3": {"key": "k3", "appName": "shop", "type": "user_agent",
                                            "userAgent": name}}}}
    response = client.post(URL, data=json.dumps(body, ensure_ascii=False).encode(),
                           headers={**XSRF, "Content-Type": "application/json"})
    assert response.get_json() == {"status": "ok"}, response.get_data()[:300]
    stored = snapshot(db_url)
    assert stored["ui_metric"] == Counter({("shop", name): 3})
    assert stored["usage_counters"] == Counter({("shop", name, name): 3})
    assert stored["clicks"] == Counter({("shop", name): 2})
    assert stored["minutes"] == Counter({("shop", name): 1.5})
    assert stored["user_agents"] == Counter({("k3", name): 1})
    assert stored["reports_seen"] == Counter({("awkward-1",): 1})


# -- every other route -------------------------------------------------------------------------

ROUTES = [
    ("GET", "/api/stats"), ("GET", "/api/status"),
    ("GET", "/api/telemetry/v2/config"), ("POST", "/api/telemetry/v2/optIn"),
    ("PUT", "/api/telemetry/v2/userHasSeenNotice"), ("GET", "/api/telemetry/v2/last_reported"),
    ("PUT", "/api/telemetry/v2/last_reported"), ("POST", "/api/telemetry/v2/clusters/_stats"),
    ("POST", "/api/telemetry/v3/intake"), ("POST", "/api/telemetry/v3/intake/opt_in_status"),
    ("GET", "/usage/dashboard/data"), ("POST", URL), ("GET", URL), ("DELETE", "/api/stats"),
]
QUERY_VALUES = st.one_of(st.sampled_from(["", "true", "false", "TRUE", " true ", "1", "yes", "%00", "maybe"]),
                         st.text(max_size=10))


@PROPERTY
@given(route=st.sampled_from(ROUTES),
       query=st.dictionaries(st.sampled_from(["extended", "legacy", "exclude_usage", "days", "dry_run", "x"]),
                             QUERY_VALUES, max_size=3),
       raw=st.one_of(encoded(st.one_of(mutated_reports(), JUNK.map(lambda j: {"enabled": j}),
                                       JUNK.map(lambda j: {"unencrypted": j, "refreshCache": j}),
                                       JUNK.map(lambda j: {"cluster_uuid": j, "opt_in_status": j}),
                                       JUNK)),
                     st.binary(max_size=64)),
       content_type=CONTENT_TYPES, xsrf=st.booleans(), instance=st.one_of(st.none(), NAMES))
def test_every_route_answers_junk_without_5xx(hostile_app, route, query, raw, content_type, xsrf, instance):
    app, _ = hostile_app
    method, path = route
    headers = {**(XSRF if xsrf else {}), **({"Content-Type": content_type} if content_type else {})}
    if instance is not None and instance.isascii() and "\n" not in instance and "\r" not in instance:
        headers["X-Usage-Instance-ID"] = instance
    response = app.test_client().open(path, method=method, query_string=query, data=raw, headers=headers)
    event(f"{method} {path}: {response.status_code}")
    assert_error_shape(response)


# -- hand-written hostile bodies ---------------------------------------------------------------

def kibana_body(event: str = "open", app: str = "discover", total: Any = 1) -> dict:
    key = f"{app}-click-{event}"
    return {"report": {"reportVersion": 3, "uiCounter": {
        key: {"key": key, "appName": app, "eventName": event, "type": "click", "total": total}}}}


def raw_total(literal: str) -> bytes:
    return json.dumps(kibana_body(total=12345)).replace("12345", literal).encode()


# id, body, content type, status, message fragment
HOSTILE = [
    ("nesting-100k-arrays", b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "nested too deeply"),
    ("nesting-100k-objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "application/json", 413, "larger than"),
    ("nesting-in-report", b'{"report":' + b"[" * 50_000 + b"]" * 50_000 + b"}", "application/json", 400,
     "nested too deeply"),
    ("total-1e309", raw_total("1e309"), "application/json", 400, "finite number"),
    ("total-2**64", raw_total(str(2**64)), "application/json", 400, "lower than"),
    ("total-over-the-cap", raw_total("1000000001"), "application/json", 400, "lower than [1000000000]"),
    ("total-5000-digits", raw_total("9" * 5000), "application/json", 400, "not valid JSON"),
    ("total-NaN", raw_total("NaN"), "application/json", 400, "NaN is not a JSON number"),
    ("total-Infinity", raw_total("Infinity"), "application/json", 400, "Infinity is not a JSON number"),
    ("total-minus-Infinity", raw_total("-Infinity"), "application/json", 400, "-Infinity is not a JSON number"),
    ("total-negative", raw_total("-1"), "application/json", 400, "greater than"),
    ("total-fraction", raw_total("1.5"), "application/json", 400, "whole number"),
    ("lone-surrogate-escaped", json.dumps(kibana_body(event="\ud800x")).encode(), "application/json", 400,
     "lone surrogate"),
    ("lone-surrogate-raw-bytes", json.dumps(kibana_body(event="\ud800x"), ensure_ascii=False).encode(
        "utf-8", "surrogatepass"), "application/json", 400, "not UTF-8"),
    ("invalid-utf8", json.dumps(kibana_body()).encode().replace(b"open", b"op\xff\xfe"), "application/json", 400,
     "not UTF-8"),
    ("overlong-utf8", json.dumps(kibana_body()).encode().replace(b"open", b"op\xc0\xafn"), "text/plain", 400,
     "not UTF-8"),
    ("utf16-body", json.dumps(kibana_body()).encode("utf-16"), "application/json", 400, "not UTF-8"),
    ("duplicate-keys", b'{"report": {"reportVersion": 3, "uiCounter": {}, "uiCounter": {}}}', "application/json",
     400, "appears twice"),
    ("empty-body", b"", "application/json", 400, "not valid JSON"),
    ("whitespace-body", b"  \n ", "text/plain", 400, "not valid JSON"),
    ("json-null", b"null", "application/json", 400, "plain object"),
    ("xml-content-type", json.dumps(kibana_body()).encode(), "application/xml", 415, "Unsupported Media Type"),
    ("form-content-type", b"report=1", "application/x-www-form-urlencoded", 415, "Unsupported Media Type"),
    ("multipart", b"--x\r\n\r\n--x--", "multipart/form-data; boundary=x", 415, "Unsupported Media Type"),
    ("utf16-charset", json.dumps(kibana_body()).encode(), "application/json; charset=utf-16", 415,
     "Unsupported Media Type"),
    ("app-name-with-colon", json.dumps(kibana_body(app="a:b")).encode(), "application/json", 400, "must not contain"),
]


@pytest.mark.parametrize("body, content_type, status, message", [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_body_is_refused_cleanly(client, db_url, body, content_type, status, message):
    response = client.post(URL, data=body, headers={**XSRF, "Content-Type": content_type})
    assert response.status_code == status, response.get_data()[:300]
    assert_error_shape(response)
    assert message in response.get_json()["message"]
    assert all(not counts for counts in snapshot(db_url).values())


@pytest.mark.parametrize("literal, stored", [("-0", 0), ("-0.0", 0), ("0", 0), ("2.0", 2), ("1000000000", 10**9),
                                             ("1e9", 10**9)])
def test_edge_numbers_that_are_valid_are_stored_exactly(client, db_url, literal, stored):
    response = client.post(URL, data=raw_total(literal), headers={**XSRF, "Content-Type": "application/json"})
    assert response.get_json() == {"status": "ok"}
    assert snapshot(db_url)["usage_counters"] == (Counter({("discover", "open", "click"): stored}) if stored
                                                   else Counter())


def test_unicode_names_are_stored_and_returned_unchanged(client):
    names = [("ünïcödé", "日本語-イベント"), ("emoji", "😀 clicked"), ("rtl", "שלום"), ("combining", "e\u0301")]
    for app, name in names:
        response = client.post(URL, json=kibana_body(event=name, app=app, total=2), headers=XSRF)
        assert response.get_json() == {"status": "ok"}
    events = client.get("/api/stats?extended&legacy").json["usage"]["ui_counters"]["dailyEvents"]
    assert sorted((e["appName"], e["eventName"], e["total"]) for e in events) == sorted(
        (app, event, 2) for app, event in names)


class CountingStream(io.RawIOBase):
    """An endless request body that records how many bytes the server pulled from it."""

    def __init__(self) -> None:
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer)
        buffer[:size] = b"a" * size
        self.read_bytes += size
        return size


def test_10mb_body_is_refused_without_being_read_whole(app, db_url):
    with_length = app.test_client().post(URL, data=b"{" + b" " * (10 * 1024 * 1024) + b"}",
                                         headers={**XSRF, "Content-Type": "application/json"})
    assert with_length.status_code == 413
    assert_error_shape(with_length)
    # Without a Content-Length (chunked), from an endless stream: the receiver must stop at limit + 1.
    environ = EnvironBuilder(path=URL, method="POST", headers={**XSRF, "Content-Type": "application/json"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    stream = CountingStream()
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True})
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413")
    assert "USAGE_MAX_BODY_BYTES" in json.loads(b"".join(body))["message"]
    assert stream.read_bytes == MAX_BODY + 1  # limit + 1 bytes, never the whole body
    assert all(not counts for counts in snapshot(db_url).values())
