"""The WSGI middleware behind /api/stats' request figures (Kibana's ops metrics, per process)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, Response

from usage_collection.request_metrics import RequestMetrics, event_loop_delay_ms


def streaming_app() -> Flask:
    app = Flask("metrics_test")

    @app.get("/stream")
    def stream() -> Response:
        return Response(iter([b"one", b"two"]))

    return app


def call(metrics: RequestMetrics, path: str) -> tuple[list[str], Any]:
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
               "wsgi.url_scheme": "http", "wsgi.input": None, "wsgi.errors": None}
    body = metrics(environ, lambda status, headers, exc_info=None: statuses.append(status))
    return statuses, body


def test_a_response_the_server_stops_sending_is_a_disconnect():
    """A server that cannot write (the client went away) stops iterating and closes the body."""
    metrics = RequestMetrics(streaming_app().wsgi_app)
    _, body = call(metrics, "/stream")
    assert metrics.snapshot()["concurrent_connections"] == 1
    assert next(iter(body)) == b"one"
    body.close()
    _, whole = call(metrics, "/stream")
    assert b"".join(whole) == b"onetwo"
    whole.close()
    snapshot = metrics.snapshot()
    assert snapshot["requests"] == {"total": 2, "disconnects": 1, "status_codes": {"200": 2}}
    assert snapshot["concurrent_connections"] == 0


def test_an_exception_escaping_the_app_still_ends_the_request():
    def broken(environ: Any, start_response: Any) -> Any:
        raise RuntimeError("boom")

    metrics = RequestMetrics(broken)
    with pytest.raises(RuntimeError):
        call(metrics, "/")
    assert metrics.snapshot()["concurrent_connections"] == 0
    assert metrics.snapshot()["requests"]["total"] == 1


def test_the_event_loop_delay_is_a_measured_lateness():
    assert 0 <= event_loop_delay_ms(samples=3) < 1000
