"""The intake: snapshots and opt-in statuses from other deployments, stored, limited, validated."""

from __future__ import annotations

import io
import json

import pytest

INTAKE = "/api/telemetry/v3/intake"
OPT_IN_STATUS = INTAKE + "/opt_in_status"
JSON = {"Content-Type": "application/json"}
HEADER = "X-Usage-Instance-ID"


@pytest.fixture
def app(make_app):
    return make_app(USAGE_INTAKE_ENABLED=True, USAGE_INTAKE_MAX_BYTES=4096)


def test_a_snapshot_is_stored_with_its_instance_and_day(client, app, rows, clock):
    body = {"usage": {"ui_counters": {"dailyEvents": []}}, "clusterUuid": "other-in-body"}
    response = client.post(INTAKE, json=body, headers={HEADER: "abc-123", "X-Usage-Version": "1.3.0"})
    assert response.status_code == 200 and response.get_json()["status"] == "ok"
    [(row_id, instance, received_at, day, payload, client, size)] = rows(app, "telemetry_snapshots")
    assert (instance, day, client, size) == ("abc-123", "2026-03-02", "127.0.0.1", len(payload))
    assert received_at.startswith("2026-03-02T09:30:00")
    assert json.loads(payload) == body


@pytest.mark.parametrize(("body", "instance"), [
    ({"usage": {}, "clusterUuid": "from-camel"}, "from-camel"),
    ({"usage": {}, "cluster_uuid": "from-snake"}, "from-snake"),
    ({"usage": {}, "usage_collection": {"uuid": "from-service"}}, "from-service"),
    ({"usage": {}, "kibana": {"uuid": "from-kibana"}}, "from-kibana"),
])
def test_without_the_header_the_body_names_the_instance(client, app, rows, body, instance):
    assert client.post(INTAKE, json=body).status_code == 200
    assert rows(app, "telemetry_snapshots")[0][1] == instance


@pytest.mark.parametrize(("body", "headers", "status", "message"), [
    ("", {HEADER: "a"}, 400, "[request body]: expected a plain object value, but found [undefined] instead."),
    ("[]", {HEADER: "a"}, 400, "[request body]: expected a plain object value, but found [Array] instead."),
    ("not json", {HEADER: "a"}, 400, "the body is not valid JSON"),
    ('{"usage": {}, "usage": {}}', {HEADER: "a"}, 400, "appears twice"),
    ('{"usage": NaN}', {HEADER: "a"}, 400, "NaN is not a JSON number"),
    ("{}", {HEADER: "a"}, 400, "[request body.usage]: expected value of type [object] but got [undefined]"),
    ('{"usage": []}', {HEADER: "a"}, 400, "[request body.usage]: expected value of type [object] but got [Array]"),
    ('{"usage": {"ui_counters": 3}}', {HEADER: "a"}, 400,
     "[request body.usage.ui_counters]: expected value of type [object] but got [number]"),
    ('{"usage": {}}', {}, 400, "the sending instance is unknown"),
    ('{"usage": {}, "clusterUuid": 7}', {}, 400, "[request body.clusterUuid]: expected 1 to 64 characters"),
    ('{"usage": {}}', {HEADER: "has spaces"}, 400, "[request headers.x-usage-instance-id]: expected 1 to 64"),
    ('{"usage": {}}', {HEADER: "x" * 65}, 400, "[request headers.x-usage-instance-id]: expected 1 to 64"),
    ('{"usage": {}}', {HEADER: "a", "Content-Type": "text/html"}, 415, "Unsupported Media Type"),
    ('{"usage": {"pad": {"x": "' + "y" * 5000 + '"}}}', {HEADER: "a"}, 413, "limit of 4096 bytes (USAGE_INTAKE_MAX_BYTES)"),
])
def test_bad_snapshots_are_refused_and_nothing_is_stored(client, app, rows, body, headers, status, message):
    response = client.post(INTAKE, data=body, headers={**JSON, **headers})
    assert response.status_code == status
    answer = response.get_json()
    assert answer["statusCode"] == status and message in answer["message"], answer
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # a browser sender can read why
    assert rows(app, "telemetry_snapshots") == []


@pytest.mark.parametrize(("size", "status"), [(100, 200), (10_000, 413)])
def test_a_body_without_a_length_is_still_limited(client, app, rows, size, status):
    """Chunked transfer: no Content-Length, so the limit is enforced while reading."""
    body = b'{"usage": {"pad": {"x": "' + b"y" * size + b'"}}}'
    response = client.post(INTAKE, input_stream=io.BytesIO(body), headers={**JSON, HEADER: "a"},
                           environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": True})
    assert response.status_code == status
    assert len(rows(app, "telemetry_snapshots")) == (status == 200)


def test_cors_preflight_lets_any_origin_post(client):
    response = client.options(INTAKE, headers={"Origin": "http://other.example",
                                               "Access-Control-Request-Method": "POST",
                                               "Access-Control-Request-Headers": "content-type,x-usage-instance-id"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "x-usage-instance-id" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_no_xsrf_header_is_needed_cross_site(client, app, rows):
    response = client.post(INTAKE, json={"usage": {}}, headers={"Origin": "http://other.example", HEADER: "abc"})
    assert response.status_code == 200
    assert len(rows(app, "telemetry_snapshots")) == 1


@pytest.mark.parametrize("path", [INTAKE, OPT_IN_STATUS])
def test_intake_is_off_unless_enabled(make_app, path):
    client = make_app("off.db").test_client()
    response = client.post(path, json={"usage": {}}, headers={HEADER: "abc"})
    assert response.status_code == 404
    assert response.get_json() == {"statusCode": 404, "error": "Not Found",
                                   "message": "This server is not a telemetry intake (USAGE_INTAKE_ENABLED is off)."}


def test_an_opt_in_status_is_stored(client, app, rows):
    body = {"cluster_uuid": "abc", "opt_in_status": False}
    assert client.post(OPT_IN_STATUS, json=body, headers={HEADER: "abc"}).status_code == 200
    assert [(row[1], row[3]) for row in rows(app, "telemetry_opt_in_status")] == [("abc", 0)]


@pytest.mark.parametrize(("body", "headers", "message"), [
    ("{}", {}, "[request body.cluster_uuid]: expected value of type [string] but got [undefined]"),
    ('{"cluster_uuid": "a"}', {}, "[request body.opt_in_status]: expected value of type [boolean] but got [undefined]"),
    ('{"cluster_uuid": "a", "opt_in_status": "yes"}', {}, "expected value of type [boolean] but got [string]"),
    ('{"cluster_uuid": "a b", "opt_in_status": true}', {}, "[request body.cluster_uuid]: expected 1 to 64"),
    ('{"cluster_uuid": "a", "opt_in_status": true, "x": 1}', {}, "[request body.x]: definition for this key is missing"),
    ('{"cluster_uuid": "a", "opt_in_status": true}', {HEADER: "b"}, "does not match the body's cluster_uuid"),
])
def test_bad_opt_in_statuses_are_refused(client, app, rows, body, headers, message):
    response = client.post(OPT_IN_STATUS, data=body, headers={**JSON, **headers})
    assert response.status_code == 400 and message in response.get_json()["message"]
    assert rows(app, "telemetry_opt_in_status") == []


def test_this_packages_own_snapshot_passes_the_intake(client, app, rows):
    """Contract: what /clusters/_stats produces is what the intake accepts."""
    [entry] = client.post("/api/telemetry/v2/clusters/_stats", json={"unencrypted": True},
                          headers={"kbn-xsrf": "t"}).get_json()
    state = app.extensions["usage_collection"]
    state.settings = state.settings.updated({"USAGE_INTAKE_MAX_BYTES": 1 << 20})
    response = client.post(INTAKE, json=entry["stats"])
    assert response.status_code == 200, response.get_json()
    assert rows(app, "telemetry_snapshots")[0][1] == entry["clusterUuid"]


def test_the_intake_shares_the_per_minute_request_limit(make_app, rows):
    app = make_app(USAGE_INTAKE_ENABLED=True, USAGE_RATE_LIMIT_PER_MINUTE=2, USAGE_LIMITS_EXEMPT=[])
    client = app.test_client()
    answers = [client.post(path, json=body, headers={HEADER: "abc", "Origin": "http://other.example"})
               for path, body in [(INTAKE, {"usage": {}}), (OPT_IN_STATUS, {"cluster_uuid": "abc", "opt_in_status": True}),
                                  (INTAKE, {"usage": {}})]]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1 and "at most 2 per minute" in refused.get_json()["message"]
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # a browser sender can read why
    assert len(rows(app, "telemetry_snapshots")) == 1


# -- compressed snapshots ------------------------------------------------------------------------

def _gzip(data: bytes) -> bytes:
    import gzip

    return gzip.compress(data)


def test_a_gzip_snapshot_larger_than_the_limit_unpacked_is_refused_but_a_small_one_lands(client, app, rows):
    """The limit (4096 here) holds for the unpacked body: a 6 KB snapshot squeezed into a few
    hundred bytes is still too large; a 3 KB one sent gzipped is stored as sent."""
    small = {"usage": {"pad": {"x": "y" * 3000}}}
    response = client.post(INTAKE, data=_gzip(json.dumps(small).encode()),
                           headers={**JSON, "Content-Encoding": "gzip", HEADER: "zipped"})
    assert response.status_code == 200, response.get_json()
    [(_id, instance, _at, _day, payload, _client, _bytes)] = rows(app, "telemetry_snapshots")
    assert instance == "zipped" and json.loads(payload) == small
    large = json.dumps({"usage": {"pad": {"x": "y" * 6000}}}).encode()
    response = client.post(INTAKE, data=_gzip(large), headers={**JSON, "Content-Encoding": "gzip", HEADER: "zipped"})
    assert response.status_code == 413
    assert response.get_json()["message"] == ("Request body unpacks to more than the limit of 4096 bytes "
                                              "(USAGE_INTAKE_MAX_BYTES).")
    assert len(rows(app, "telemetry_snapshots")) == 1


def test_a_gzip_bomb_gets_413_without_being_unpacked_whole(client, app, rows):
    bomb = _gzip(b" " * 3_000_000)  # 3 MB that pack into less than the 4096-byte limit
    assert len(bomb) <= 4096
    response = client.post(INTAKE, data=bomb, headers={**JSON, "Content-Encoding": "gzip", HEADER: "bomb"})
    assert response.status_code == 413
    assert "unpacks to more than the limit of 4096 bytes" in response.get_json()["message"]
    assert rows(app, "telemetry_snapshots") == []


@pytest.mark.parametrize(("body", "encoding", "status", "message"), [
    (b'{"usage": {}}', "br", 415, "Unsupported Content-Encoding 'br'"),
    (b'{"usage": {}}', "gzip", 400, "Content-Encoding is gzip but the body is not gzip data"),
    (_gzip(b'{"usage": {}}')[:-6], "gzip", 400, "the gzip data is truncated"),
    (_gzip(b'{"usage": {}}') + b"junk", "gzip", 400, "followed by other data"),
])
def test_bad_encodings_are_refused(client, app, rows, body, encoding, status, message):
    response = client.post(INTAKE, data=body, headers={**JSON, "Content-Encoding": encoding, HEADER: "a"})
    assert response.status_code == status
    assert message in response.get_json()["message"]
    assert rows(app, "telemetry_snapshots") == []


def test_browsers_may_send_content_encoding_cross_origin(client, app):
    preflight = client.options(INTAKE, headers={"Origin": "https://admin.example", "Access-Control-Request-Method": "POST",
                                                "Access-Control-Request-Headers": "content-type, content-encoding"})
    assert "Content-Encoding" in preflight.headers["Access-Control-Allow-Headers"]


# -- caps: the intake cannot be filled from one address or with made-up instance ids ---------

def snapshot_from(instance: str) -> dict:
    return {"usage": {"ui_counters": {"dailyEvents": []}}, "clusterUuid": instance}


def test_snapshots_per_instance_per_day_are_capped(make_app, rows, clock):
    client = make_app(USAGE_INTAKE_ENABLED=True, USAGE_INTAKE_MAX_PER_INSTANCE_PER_DAY=2,
                      USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY=0).test_client()
    statuses = [client.post(INTAKE, json=snapshot_from("same-instance")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    refused = client.post(INTAKE, json=snapshot_from("same-instance"))
    assert refused.headers["Retry-After"] == "3600"
    assert "USAGE_INTAKE_MAX_PER_INSTANCE_PER_DAY" in refused.get_json()["message"]
    assert client.post(INTAKE, json=snapshot_from("another-instance")).status_code == 200
    clock.advance(days=1)  # a new UTC day
    assert client.post(INTAKE, json=snapshot_from("same-instance")).status_code == 200
    assert len(rows(client.application, "telemetry_snapshots")) == 4


def test_random_instance_ids_from_one_address_are_capped_per_day(make_app, rows):
    client = make_app(USAGE_INTAKE_ENABLED=True, USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY=3).test_client()
    statuses = [client.post(INTAKE, json=snapshot_from(f"random-{n}")).status_code for n in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert "USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY" in client.post(INTAKE, json=snapshot_from("x")).get_json()["message"]
    assert len(rows(client.application, "telemetry_snapshots")) == 3


def test_the_intake_stops_at_its_total_size_with_507(make_app, rows):
    client = make_app(USAGE_INTAKE_ENABLED=True, USAGE_INTAKE_MAX_TOTAL_BYTES=300,
                      USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY=0).test_client()
    first = client.post(INTAKE, json=snapshot_from("a" * 40))  # about 100 bytes stored
    second = client.post(INTAKE, json=snapshot_from("b" * 40))
    third = client.post(INTAKE, json={**snapshot_from("c" * 40), "padding": "x" * 200})
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 507)
    assert "USAGE_INTAKE_MAX_TOTAL_BYTES" in third.get_json()["message"]
    assert [row[1] for row in rows(client.application, "telemetry_snapshots")] == ["a" * 40, "b" * 40]
