"""The browser telemetry sender's rules, in CPython: a fake server answers its requests."""

from __future__ import annotations

import json

import pytest

from usage_reporter.telemetry_sender import (
    CONFIG_PATH,
    LAST_REPORTED_PATH,
    LOCAL_STORAGE_KEY,
    MAX_RETRIES,
    REPORT_INTERVAL_BUFFER_MS,
    REPORT_INTERVAL_MS,
    SNAPSHOT_PATH,
    Response,
    TelemetrySender,
    is_report_interval_expired,
    retry_delay_ms,
)

DAY = REPORT_INTERVAL_MS
MINUTE = 60_000
INTAKE = "http://intake.example/api/telemetry/v3/intake"
START = 1_700_000_000_000


class FakeClock:
    def __init__(self, now: int = START) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


class FakeStorage(dict):
    def get(self, key, default=None):  # noqa: D401 - localStorage.getItem
        return super().get(key, default)

    def set(self, key, value):
        self[key] = value


class FakeServer:
    """Answers the sender's requests like the deployment and the intake would; records them."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.opt_in: bool | None = True
        self.telemetry_url: str | None = INTAKE
        self.last_reported: int | None = None
        self.intake_status = 200
        self.intake_down = False
        self.snapshot = [{"clusterUuid": "uuid-1", "stats": {"usage": {"ui_counters": {"dailyEvents": []}}}}]
        self.requests: list = []
        self.received: list = []

    def perform(self, request) -> Response:
        self.requests.append(request)
        if request.url == CONFIG_PATH:
            return Response(200, {"optIn": self.opt_in, "telemetryUrl": self.telemetry_url, "version": "1.3.0"})
        if request.url == LAST_REPORTED_PATH and request.method == "GET":
            return Response(200, {} if self.last_reported is None else {"lastReported": self.last_reported})
        if request.url == LAST_REPORTED_PATH and request.method == "PUT":
            assert request.headers["kbn-xsrf"]
            self.last_reported = self.clock()
            return Response(200, {"lastReported": self.last_reported})
        if request.url == SNAPSHOT_PATH:
            assert json.loads(request.body) == {"unencrypted": True}
            return Response(200, self.snapshot)
        if request.url == INTAKE:
            if self.intake_down:
                return Response(0, error="connection refused")
            if self.intake_status == 200:
                self.received.append((request.headers, json.loads(request.body)))
            return Response(self.intake_status, {})
        return Response(404, {})

    def drive(self, sender: TelemetrySender) -> bool:
        """One check, driven to the end; True when it did anything at all."""
        steps = sender.check()
        if steps is None:
            return False
        try:
            request = next(steps)
            while True:
                request = steps.send(self.perform(request))
        except StopIteration:
            return True


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server(clock: FakeClock) -> FakeServer:
    return FakeServer(clock)


@pytest.fixture
def storage() -> FakeStorage:
    return FakeStorage()


@pytest.fixture
def sender(clock, storage) -> TelemetrySender:
    logged: list = []
    sender = TelemetrySender(clock, storage, json.loads, json.dumps, log=lambda level, msg: logged.append((level, msg)))
    sender.logged = logged  # type: ignore[attr-defined]
    return sender


@pytest.mark.parametrize(("last", "now", "expired"), [
    (None, START, True),
    (START, START, False),
    (START, START + DAY - REPORT_INTERVAL_BUFFER_MS, False),
    (START, START + DAY - REPORT_INTERVAL_BUFFER_MS + 1, True),
    (START, START + 2 * DAY, True),
])
def test_interval_rule(last, now, expired):
    assert is_report_interval_expired(last, now) is expired


def test_backoff_doubles_from_two_minutes_and_caps_at_64():
    assert [retry_delay_ms(n) // MINUTE for n in range(1, 9)] == [2, 4, 8, 16, 32, 64, 64, 64]


def test_sends_once_then_not_again_within_the_day(sender, server, clock, storage):
    assert server.drive(sender)
    assert len(server.received) == 1
    headers, body = server.received[0]
    assert headers["X-Usage-Instance-ID"] == "uuid-1"
    assert headers["X-Usage-Version"] == "1.3.0"
    assert body == server.snapshot[0]["stats"]
    assert json.loads(storage[LOCAL_STORAGE_KEY]) == {"lastReport": str(START)}
    assert server.last_reported == START
    for minutes in (1, 60, 23 * 60):
        clock.now = START + minutes * MINUTE
        server.drive(sender)
    assert len(server.received) == 1
    clock.now = START + DAY
    server.drive(sender)
    assert len(server.received) == 2


def test_no_request_at_all_while_the_local_timestamp_is_fresh(sender, server, clock, storage):
    storage.set(LOCAL_STORAGE_KEY, json.dumps({"lastReport": str(START - MINUTE)}))
    assert not server.drive(sender)
    assert server.requests == []


@pytest.mark.parametrize("stored", ["not json", json.dumps({"lastReport": "abc"}), json.dumps([1]), ""])
def test_unreadable_local_timestamp_counts_as_expired(sender, server, storage, stored):
    storage.set(LOCAL_STORAGE_KEY, stored)
    server.drive(sender)
    assert len(server.received) == 1


def test_server_side_last_reported_stops_a_second_browser(sender, server, clock, storage):
    server.last_reported = START - 10 * MINUTE  # another admin's browser sent ten minutes ago
    server.drive(sender)
    assert server.received == []
    assert json.loads(storage[LOCAL_STORAGE_KEY]) == {"lastReport": str(START - 10 * MINUTE)}
    clock.now = START + MINUTE
    assert not server.drive(sender)  # now the local copy answers without asking the server


@pytest.mark.parametrize(("opt_in", "url"), [(False, INTAKE), (None, INTAKE), (True, None)])
def test_nothing_sent_unless_opted_in_with_a_url(sender, server, opt_in, url):
    server.opt_in, server.telemetry_url = opt_in, url
    server.drive(sender)
    assert server.received == []
    assert [r.url for r in server.requests] == [CONFIG_PATH]


def test_nothing_checked_without_focus(clock, storage, server):
    sender = TelemetrySender(clock, storage, json.loads, json.dumps, has_focus=lambda: False)
    assert not server.drive(sender)
    assert server.requests == []


def test_failure_retries_with_backoff_and_success_resets(sender, server, clock):
    server.intake_down = True
    server.drive(sender)
    assert sender.retry_at == START + 2 * MINUTE and sender.failures == 1
    clock.now = START + MINUTE
    assert not server.drive(sender)  # not yet
    clock.now = START + 2 * MINUTE
    server.drive(sender)
    assert sender.retry_at == clock.now + 4 * MINUTE and sender.failures == 2
    server.intake_down = False
    clock.now += 4 * MINUTE
    server.drive(sender)
    assert len(server.received) == 1 and sender.retry_at is None and sender.retry_count == 0
    assert server.last_reported == clock.now


def test_a_refusing_intake_is_retried_too(sender, server, clock):
    server.intake_status = 503
    server.drive(sender)
    assert sender.retry_at is not None
    assert "HTTP 503" in sender.logged[-1][1]


def test_gives_up_after_twenty_retries(sender, server, clock):
    server.intake_down = True
    for _ in range(MAX_RETRIES + 5):
        server.drive(sender)
        if sender.retry_at is None:
            break
        clock.now = sender.retry_at
    assert sender.failures == MAX_RETRIES
    assert sender.logged[-1][0] == "warn"
    assert "exceeds number of retry attempts" in sender.logged[-1][1]


def test_opting_out_during_retries_stops_them(sender, server, clock):
    server.intake_down = True
    server.drive(sender)
    server.opt_in = False
    clock.now = sender.retry_at
    server.drive(sender)
    assert sender.retry_at is None and server.received == []


def test_an_unreachable_deployment_is_not_a_send_failure(sender, server, clock):
    server.perform = lambda request: Response(0, error="offline")  # type: ignore[method-assign]
    server.drive(sender)
    assert sender.failures == 0 and sender.retry_at is None
    assert not sender.busy


def test_a_check_in_flight_blocks_another(sender, server):
    steps = sender.check()
    next(steps)
    assert sender.check() is None
    steps.close()
    assert not sender.busy


def test_a_large_snapshot_asks_for_compression_and_a_small_one_does_not(sender, server):
    server.snapshot = [{"clusterUuid": "small", "stats": {"usage": {}}},
                       {"clusterUuid": "large", "stats": {"usage": {"pad": "x" * 9000}}}]
    assert server.drive(sender)
    posted = [request for request in server.requests if request.url == INTAKE]
    assert [(request.headers["X-Usage-Instance-ID"], request.compress) for request in posted] == [
        ("small", False), ("large", True)]


def test_the_last_failure_is_kept_until_a_send_succeeds(sender, server, clock):
    server.intake_status = 413
    assert server.drive(sender)
    assert sender.last_error == "telemetry URL answered HTTP 413"
    server.intake_status = 200
    clock.now = sender.retry_at
    assert server.drive(sender)
    assert sender.sent == 1 and sender.last_error is None
