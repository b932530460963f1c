"""The server-side sender: once a day while opted in, backoff on failure, one sender among
several processes; and for real, into a second server acting as the intake."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from usage_collection.storage import open_storage
from usage_collection.telemetry.sender import ServerSender, epoch_ms, post_json
from usage_collection.telemetry.service import telemetry_config
from usage_collection.telemetry.state import read_state
from support.live_server import LiveServer

XSRF = {"kbn-xsrf": "test"}
URL = "http://intake.invalid/api/telemetry/v3/intake"


class RecordingPost:
    """A transport that records what would be posted and answers with ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[tuple[str, dict, dict]] = []
        self.during = None

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        self.posts.append((url, json.loads(body), headers))
        if self.during is not None:
            self.during()
        return self.status


def make_sender(app, clock, post):
    state = app.extensions["usage_collection"]
    return ServerSender(state.storage, telemetry_config(app),
                        lambda: [{"clusterUuid": state.instance_uuid, "stats": {"usage": {}}}], clock, post=post)


@pytest.fixture
def opted_in_app(make_app):
    app = make_app(USAGE_TELEMETRY_URL=URL)
    app.test_client().post("/api/telemetry/v2/optIn", json={"enabled": True}, headers=XSRF)
    return app


def stored(app):
    return read_state(app.extensions["usage_collection"].storage)


def test_sends_once_a_day_with_the_instance_and_version_headers(opted_in_app, clock):
    post = RecordingPost()
    sender = make_sender(opted_in_app, clock, post)
    assert sender.tick() == "sent"
    [(url, body, headers)] = post.posts
    assert url == URL and body == {"usage": {}}
    assert headers == {"X-Usage-Instance-ID": opted_in_app.extensions["usage_collection"].instance_uuid,
                       "X-Usage-Version": telemetry_config(opted_in_app).version}
    assert stored(opted_in_app).last_reported == epoch_ms(clock.now)
    clock.advance(hours=1)
    assert sender.tick() == "not-due"
    clock.advance(hours=22, minutes=57)
    assert sender.tick() == "not-due"
    clock.advance(minutes=2)  # 23 h 59 min + a minute: inside Kibana's 2-minute buffer
    assert sender.tick() == "sent"
    assert len(post.posts) == 2


@pytest.mark.parametrize(("config", "expected"), [
    ({}, "not-opted-in"),  # not chosen yet
    ({"USAGE_TELEMETRY_OPT_IN": False}, "not-opted-in"),
    ({"USAGE_TELEMETRY_URL": None, "USAGE_TELEMETRY_OPT_IN": True}, "no-url"),
])
def test_sends_nothing_unless_opted_in_with_a_url(make_app, clock, config, expected):
    app = make_app(**{"USAGE_TELEMETRY_URL": URL, **config})
    post = RecordingPost()
    assert make_sender(app, clock, post).tick() == expected
    assert post.posts == []


def test_a_fixed_opt_in_sends(make_app, clock):
    app = make_app(USAGE_TELEMETRY_URL=URL, USAGE_TELEMETRY_OPT_IN=True, USAGE_TELEMETRY_ALLOW_CHANGING=False)
    assert make_sender(app, clock, RecordingPost()).tick() == "sent"


def test_failures_are_counted_and_retried_with_backoff(opted_in_app, clock):
    post = RecordingPost(status=503)
    sender = make_sender(opted_in_app, clock, post)
    assert sender.tick() == "failed"
    assert stored(opted_in_app).report_failure_count == 1
    clock.advance(minutes=1)
    assert sender.tick() == "waiting"
    clock.advance(minutes=1)
    assert sender.tick() == "failed"  # 2 minutes after the first failure
    assert stored(opted_in_app).report_failure_count == 2
    clock.advance(minutes=3)
    assert sender.tick() == "waiting"  # the second failure waits 4 minutes
    clock.advance(minutes=1)
    post.status = 200
    assert sender.tick() == "sent"
    state = stored(opted_in_app)
    assert state.report_failure_count == 0 and state.last_reported == epoch_ms(clock.now)
    assert len(post.posts) == 3


def test_unreachable_intake_is_a_failure(opted_in_app, clock):
    post = RecordingPost(status=0)
    assert make_sender(opted_in_app, clock, post).tick() == "failed"


def test_two_processes_never_send_the_same_day_twice(opted_in_app, clock):
    """Two senders on one database (two gunicorn workers): the second finds the send claimed."""
    post = RecordingPost()
    first, second = make_sender(opted_in_app, clock, post), make_sender(opted_in_app, clock, post)
    outcomes = []
    post.during = lambda: outcomes.append(second.tick())
    assert first.tick() == "sent"
    assert outcomes == ["waiting"]
    assert second.tick() == "not-due"
    assert len(post.posts) == 1


def test_a_broken_snapshot_counts_as_a_failure(opted_in_app, clock):
    state = opted_in_app.extensions["usage_collection"]

    def broken():
        raise RuntimeError("collector set exploded")

    sender = ServerSender(state.storage, telemetry_config(opted_in_app), broken, clock, post=RecordingPost())
    assert sender.tick() == "failed"
    assert stored(opted_in_app).report_failure_count == 1


def test_server_mode_starts_the_thread_on_the_first_request_and_stops(make_app):
    app = make_app(USAGE_TELEMETRY_SEND_FROM="server", USAGE_TELEMETRY_URL=URL)
    sender = app.extensions["usage_collection"].telemetry_sender
    assert not sender.running
    app.test_client().get("/api/status")
    assert sender.running
    app.extensions["usage_collection"].close()  # what serve does on SIGTERM
    assert not sender.running
    app.test_client().get("/api/status")
    assert not sender.running
    assert make_app("browser.db").extensions["usage_collection"].telemetry_sender is None


def test_snapshot_reaches_a_second_server_once_a_day(make_app, clock, tmp_path: Path):
    """For real: HTTP into another usage-collection process acting as the intake."""
    with _intake(tmp_path) as intake:
        app = _sending_to(make_app, intake)
        app.extensions["usage_collection"].telemetry_sender.stop()  # this test is the clock
        app.test_client().post("/api/telemetry/v2/optIn", json={"enabled": True}, headers=XSRF)
        state = app.extensions["usage_collection"]
        from usage_collection.telemetry.service import build_snapshot

        sender = ServerSender(state.storage, telemetry_config(app), lambda: build_snapshot(state),
                              clock, timeout=5)
        outcomes = [sender.tick()]
        for _ in range(3):
            clock.advance(hours=6)
            outcomes.append(sender.tick())
        clock.advance(hours=6)
        outcomes.append(sender.tick())
        assert outcomes == ["sent", "not-due", "not-due", "not-due", "sent"]
        db = open_storage(str(intake.db_path))
        try:
            received = db.query("SELECT instance_uuid, payload FROM telemetry_snapshots")
        finally:
            db.close()
        assert [row[0] for row in received] == [state.instance_uuid] * 2
        assert "ui_counters" in json.loads(received[0][1])["usage"]


def _real_sender(app, clock, intake: LiveServer, snapshot, post=post_json):
    app.extensions["usage_collection"].telemetry_sender.stop()  # this test is the clock
    app.test_client().post("/api/telemetry/v2/optIn", json={"enabled": True}, headers=XSRF)
    return ServerSender(app.extensions["usage_collection"].storage, telemetry_config(app), lambda: snapshot, clock,
                        timeout=5, post=post)


@contextmanager
def _intake(tmp_path: Path, max_bytes: int | None = None) -> Iterator[LiveServer]:
    """Another usage-collection process accepting snapshots, stopped afterwards."""
    env = {"USAGE_INTAKE_ENABLED": "true"}
    if max_bytes is not None:
        env["USAGE_INTAKE_MAX_BYTES"] = str(max_bytes)
    intake = LiveServer(tmp_path / "intake.db", env=env).start()
    try:
        yield intake
    finally:
        intake.stop()


def _sending_to(make_app, intake: LiveServer):
    """An app whose server-side sender posts to ``intake``."""
    return make_app(USAGE_TELEMETRY_URL=intake.url + "/api/telemetry/v3/intake", USAGE_TELEMETRY_SEND_FROM="server")


def _received(intake: LiveServer) -> list[dict]:
    db = open_storage(str(intake.db_path))
    try:
        return [json.loads(row[0]) for row in db.query("SELECT payload FROM telemetry_snapshots")]
    finally:
        db.close()


def test_a_large_snapshot_is_sent_gzipped_and_lands_whole(make_app, clock, tmp_path: Path):
    """40 KB of user agents travel as ~3 KB (Content-Encoding: gzip) into a real intake."""
    with _intake(tmp_path, 65536) as intake:
        app = _sending_to(make_app, intake)
        agents = {f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{n}.0 Safari/537.36": n for n in range(600)}
        stats = {"usage": {"user_agents": agents}}
        assert len(json.dumps(stats)) > 35_000
        wire: list[tuple[str | None, int]] = []

        def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
            wire.append((headers.get("Content-Encoding"), len(body)))
            return post_json(url, body, headers, timeout)

        sender = _real_sender(app, clock, intake, [{"clusterUuid": "big-one", "stats": stats}], post)
        assert sender.tick() == "sent"
        [(encoding, size)] = wire
        assert encoding == "gzip" and size < 5_000
        assert _received(intake) == [stats]


def test_a_snapshot_too_large_even_gzipped_fails_visibly_on_the_settings_page(make_app, clock, tmp_path: Path):
    with _intake(tmp_path, 1024) as intake:
        app = _sending_to(make_app, intake)
        import uuid

        stats = {"usage": {"ids": [str(uuid.UUID(int=n * 7919 ** 5 % 2 ** 128)) for n in range(1000)]}}
        sender = _real_sender(app, clock, intake, [{"clusterUuid": "too-big", "stats": stats}])
        assert sender.tick() == "failed"
        assert _received(intake) == []
        page = app.test_client().get("/usage/settings").get_data(as_text=True)
        assert "<dt>Failed attempts</dt>" in page and "1 in a row" in page
        assert "<dt>Last failure</dt>" in page
        assert "HTTP 413: the snapshot (" in page and "gzipped) is larger than the intake accepts" in page
