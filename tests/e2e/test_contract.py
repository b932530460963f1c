"""The contract between client and server: reports built by the client core (here in
CPython, the same code Brython and Pyodide run) are accepted by the real server process and
counted exactly, whether they leave by fetch (JSON + kbn-xsrf) or by beacon (text/plain,
Origin only), and a resent report is counted once.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Callable

import pytest

from e2e.usage_pages import app_usage, counters
from support.live_server import LiveServer
from usage_reporter import METRIC_TYPE, ApplicationUsageTracker, Reporter

pytestmark = pytest.mark.e2e


class HttpTransport:
    """The client's transport contract over real HTTP, shaped like the browser's requests."""

    def __init__(self, url: str, origin: str) -> None:
        self.url = url
        self.origin = origin
        self.bodies: list[str] = []

    def _post(self, body: str, headers: dict[str, str]) -> int:
        self.bodies.append(body)
        request = urllib.request.Request(self.url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def send(self, body: str, on_result: Callable[[int | None, float | None], None]) -> None:
        """Like the adapters' fetch: JSON with Kibana's kbn-xsrf header."""
        on_result(self._post(body, {"Content-Type": "application/json", "kbn-xsrf": "usage_reporter"}), None)

    def beacon(self, body: str) -> bool:
        """Like navigator.sendBeacon: text/plain, no custom header, the page's Origin."""
        return self._post(body, {"Content-Type": "text/plain;charset=UTF-8", "Origin": self.origin}) == 200


class Storage(dict):
    def set(self, key: str, value: str) -> None:
        self[key] = value

    def remove(self, key: str) -> None:
        self.pop(key, None)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000.0

    def __call__(self) -> float:
        return self.now


def client(server: LiveServer, storage: Storage | None = None) -> tuple[Reporter, ApplicationUsageTracker,
                                                                         HttpTransport, Clock]:
    ids = iter(range(1, 1000))
    transport = HttpTransport(server.url + "/api/ui_counters/_report", origin=server.url)
    clock = Clock()
    reporter = Reporter(clock=clock, storage=storage if storage is not None else Storage(), transport=transport,
                        new_id=lambda: f"contract-{next(ids)}")
    return reporter, ApplicationUsageTracker(reporter, clock), transport, clock


def test_a_report_built_by_the_client_core_is_counted_exactly(live_server: LiveServer) -> None:
    reporter, tracker, transport, clock = client(live_server)
    reporter.report_user_agent("Mozilla/5.0 (contract test)")
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy")
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, ["buy", "pay"], count=2)
    reporter.report_ui_counter("shop", METRIC_TYPE.LOADED, "home")
    tracker.set_app_id("shop")
    tracker.track_view("cart")
    tracker.click(["cart"])
    tracker.click()
    clock.now += 90_000  # a minute and a half on screen
    reporter.flush()

    assert len(transport.bodies) == 1 and reporter.pending_count == 0
    assert counters(live_server.url, "shop") == {("buy", "click"): 3, ("pay", "click"): 2, ("home", "loaded"): 1}
    usage = app_usage(live_server.url, "shop")
    assert usage == {"main": (pytest.approx(1.5), 2), "cart": (pytest.approx(1.5), 1)}


def test_a_beacon_and_its_resend_are_counted_once(live_server: LiveServer) -> None:
    storage = Storage()
    reporter, _tracker, transport, _clock = client(live_server, storage)
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy", count=4)
    reporter.flush_beacon()  # page hidden: delivered, but a beacon is never acknowledged
    assert counters(live_server.url, "shop") == {("buy", "click"): 4}
    assert reporter.pending_count == 1  # kept until a send is acknowledged

    again, _tracker, transport2, _clock = client(live_server, storage)  # the next page load
    again.flush()
    assert transport2.bodies == transport.bodies  # the same report, the same reportId
    assert again.pending_count == 0
    assert counters(live_server.url, "shop") == {("buy", "click"): 4}
