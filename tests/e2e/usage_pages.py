"""Helpers for the browser-side end-to-end tests: what the server counted, and a page driver.

Counts are read the way a user reads them, from ``GET /api/stats?extended=true`` (loopback
needs no token). Waits poll with a deadline. To show that something does *not* happen, a
test sends a marker after it (``marker_counted``) and waits for the marker to be counted.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, TypeVar

from playwright.sync_api import Page, Request

PAGES = Path(__file__).parent / "pages"
REPORT_PATH = "/api/ui_counters/_report"
T = TypeVar("T")

# The browser's own line for a request that failed or was refused: expected where a test
# stops the server or makes it refuse a report. Our code's messages must never match this.
NETWORK_NOISE = ("Failed to load resource", "net::ERR_CONNECTION_REFUSED")


def stats(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + "/api/stats?extended=true", timeout=10) as response:
        return json.load(response)["usage"]


def counters(base_url: str, app: str) -> dict[tuple[str, str], int]:
    """``{(event_name, counter_type): total}`` of one app's UI counters, summed over days."""
    totals: dict[tuple[str, str], int] = {}
    for event in stats(base_url)["ui_counters"]["daily_events"]:
        if event["app_name"] == app:
            key = (event["event_name"], event["counter_type"])
            totals[key] = totals.get(key, 0) + event["total"]
    return totals


def app_usage(base_url: str, app: str) -> dict[str, tuple[float, int]]:
    """``{view_id: (minutes_on_screen_total, clicks_total)}`` for one app (``main`` included)."""
    entry = stats(base_url)["application_usage"].get(app)
    if not entry:
        return {}
    views = {entry["view_id"]: (entry["minutes_on_screen_total"], entry["clicks_total"])}
    for view in entry.get("views", []):
        views[view["view_id"]] = (view["minutes_on_screen_total"], view["clicks_total"])
    return views


def clicks(base_url: str, app: str) -> dict[str, int]:
    return {view: total for view, (_minutes, total) in app_usage(base_url, app).items()}


def _pause(page: Page | None, seconds: float) -> None:
    """Wait; through Playwright when there is a page, so its event handlers keep running
    (the sync API only dispatches page events while it is called)."""
    if page is not None and not page.is_closed():
        page.wait_for_timeout(seconds * 1000)
    else:
        time.sleep(seconds)


def eventually(read: Callable[[], T], check: Callable[[T], bool], timeout: float = 20.0,
               page: Page | None = None) -> T:
    """Poll ``read()`` until ``check`` accepts its value; fail showing the last value."""
    deadline = time.monotonic() + timeout
    value = read()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout:.0f} s")
        _pause(page, 0.2)
        value = read()
    return value


def stays(read: Callable[[], T], expected: T, seconds: float, page: Page | None = None) -> None:
    """``read()`` keeps answering ``expected`` for ``seconds`` (no late double count)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = read()
        assert value == expected, f"changed to {value!r}, expected it to stay {expected!r}"
        _pause(page, 0.3)


MARKER = "zz_marker"


def marker_counted(usage: "UsagePage", app: str, event: str = MARKER) -> None:
    """Report a marker counter from ``usage``'s page and wait until the server counts it.

    A page sends its reports one at a time, oldest first, the next only once the previous
    one was answered; so once the marker is counted, every report the page sent or still
    held before it has been stored too, and a count read now is final: no sleep needed.
    """
    usage.page.evaluate("([app, event]) => usage.reportUiCounter(app, 'count', event)", [app, event])
    eventually(lambda: counters(usage.base_url, app).get((event, "count")), lambda total: total == 1, page=usage.page)


class UsagePage:
    """A Playwright page on a test page of the server, watching what the page reports.

    ``reports`` lists every report sent from the page's browser context, fetch and beacon
    (a beacon sent while a page unloads only shows there); ``problems`` collects uncaught
    errors and console errors, which fail the test unless ``allow``-ed.
    """

    def __init__(self, page: Page, base_url: str, runtime: str) -> None:
        self.page = page
        self.base_url = base_url
        self.runtime = runtime
        self.reports: list[Request] = []
        self.problems: list[str] = []
        self.console: list[tuple[str, str]] = []  # (type, text) of every console message
        self.allowed: tuple[str, ...] = ()
        page.context.on("request", self._request)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("console", lambda message: self.console.append((message.type, message.text)))
        page.on("console", lambda message: self.problems.append(f"console.error: {message.text}")
                if message.type == "error" else None)

    def _request(self, request: Request) -> None:
        if request.method == "POST" and urllib.parse.urlsplit(request.url).path == REPORT_PATH:
            self.reports.append(request)

    def url(self, name: str = "basic.html", **params: Any) -> str:
        query = urllib.parse.urlencode({"runtime": self.runtime, **{k: v for k, v in params.items() if v is not None}})
        return f"{self.base_url}/e2e/{name}?{query}"

    def open(self, name: str = "basic.html", **params: Any) -> "UsagePage":
        self.page.goto(self.url(name, **params))
        return self

    def ready(self, timeout: float = 60.0) -> None:
        """Wait for ``usage.ready``: the Python reporter runs (test pages set ``usageReady``)."""
        self.page.wait_for_function("window.usageReady === true", timeout=timeout * 1000)

    def python_is_up(self) -> bool:
        return self.page.evaluate("window.usageReady === true")

    def set_hidden(self, hidden: bool) -> None:
        """A synthetic visibilitychange (headless pages are always visible otherwise)."""
        self.page.evaluate("""hidden => {
            Object.defineProperty(document, "visibilityState", {value: hidden ? "hidden" : "visible", configurable: true});
            Object.defineProperty(document, "hidden", {value: hidden, configurable: true});
            document.dispatchEvent(new Event("visibilitychange"));
        }""", hidden)

    def allow(self, *fragments: str) -> None:
        """Console errors containing one of ``fragments`` are expected in this test."""
        self.allowed += fragments

    def unexpected_problems(self) -> list[str]:
        return [problem for problem in self.problems
                if not (problem.startswith("console.error") and any(f in problem for f in self.allowed))]
