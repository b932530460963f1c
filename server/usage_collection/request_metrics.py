"""HTTP figures of this process for ``/api/stats``: Kibana's ops metrics, counted by a WSGI middleware.

Metricbeat's Kibana module reads ``requests.total``, ``requests.disconnects``,
``response_times.avg_ms`` / ``max_ms``, ``concurrent_connections`` and
``process.event_loop_delay`` from ``/api/stats`` (Kibana's
``test/api_integration/apis/stats/stats.js`` asserts they are numbers). ``init_app`` wraps
the app's ``wsgi_app`` in ``RequestMetrics``, so every request of the app is counted, the
user's own routes included, as Kibana counts every request its HTTP server answers::

    metrics = RequestMetrics(app.wsgi_app); app.wsgi_app = metrics
    metrics.snapshot()["requests"]   # {"total": 12, "disconnects": 0, "status_codes": {"200": 12}}

Every figure is **per process** and counted since the process started (Kibana resets its
figures every ``ops.interval``; we have no interval, ``collection_interval_ms`` is 0): with
``--workers 4`` each answer describes the worker that served it. ``concurrent_connections``
is the number of requests this process is handling at the moment of the snapshot (the
``/api/stats`` request itself included), not the server's open sockets, which a WSGI app
cannot see. A disconnect is a response the server stopped sending before its end (the
client went away), or a request whose body ended early.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable, Iterator

from werkzeug.exceptions import ClientDisconnected

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def event_loop_delay_ms(samples: int = 5, sleep_s: float = 0.001) -> float:
    """Node's ``event_loop_delay`` for a threaded Python process: how late a timer fires.

    Measured when asked, with no thread of its own: the mean lateness of ``samples``
    sleeps of ``sleep_s`` in the answering thread. Request threads holding the GIL, and
    CPU starvation, make it late exactly when they would slow requests down (about 5 ms
    spent per ``/api/stats`` call; Metricbeat asks every 10 s)."""
    late = 0.0
    for _ in range(samples):
        started = time.perf_counter()
        time.sleep(sleep_s)
        late += max(0.0, time.perf_counter() - started - sleep_s)
    return round(late / samples * 1000, 3)


class RequestMetrics:
    """WSGI middleware counting this process's requests, response times and disconnects."""

    def __init__(self, wsgi_app: WsgiApp) -> None:
        self.wsgi_app = wsgi_app
        self._lock = threading.Lock()
        self._total = 0
        self._disconnects = 0
        self._in_flight = 0
        self._status_codes: dict[str, int] = {}
        self._time_total_ms = 0.0
        self._time_max_ms = 0.0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = ["500"]
        with self._lock:
            self._in_flight += 1

        def recording_start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = line[:3]
            return start_response(line, headers, exc_info)

        try:
            body = self.wsgi_app(environ, recording_start_response)
        except BaseException:
            self._finish(started, status[0], disconnected=False)
            raise
        if environ.get("usage_collection.client_disconnected"):
            self._finish(started, status[0], disconnected=True)
            return body
        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):
            # Keep the server's sendfile path: a file response counts as sent when handed over.
            self._finish(started, status[0], disconnected=False)
            return body
        return _Tracked(body, lambda complete: self._finish(started, status[0], disconnected=not complete))

    def _finish(self, started: float, status: str, *, disconnected: bool) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._in_flight -= 1
            self._total += 1
            self._disconnects += disconnected
            self._status_codes[status] = self._status_codes.get(status, 0) + 1
            self._time_total_ms += elapsed_ms
            self._time_max_ms = max(self._time_max_ms, elapsed_ms)

    def snapshot(self) -> dict[str, Any]:
        """Kibana's ``requests``, ``response_times`` and ``concurrent_connections`` for this process."""
        with self._lock:
            total, average = self._total, (self._time_total_ms / self._total if self._total else 0.0)
            return {
                "requests": {"total": total, "disconnects": self._disconnects,
                             "status_codes": dict(sorted(self._status_codes.items()))},
                "response_times": {"avg_ms": round(average, 3), "max_ms": round(self._time_max_ms, 3)},
                "concurrent_connections": self._in_flight,
            }

def mark_client_disconnected(environ: dict[str, Any]) -> None:
    """Called by the error handler when a request body ended early (werkzeug's ``ClientDisconnected``)."""
    environ["usage_collection.client_disconnected"] = True


class _Tracked:
    """The response body, passed through; tells whether the server read it to the end before ``close()``."""

    def __init__(self, body: Iterable[bytes], done: Callable[[bool], None]) -> None:
        self._body = body
        self._done = done
        self._complete = False
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self._body
        self._complete = True

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            closer = getattr(self._body, "close", None)
            if closer is not None:
                closer()
        finally:
            self._done(self._complete)


__all__ = ["ClientDisconnected", "RequestMetrics", "event_loop_delay_ms", "mark_client_disconnected"]
