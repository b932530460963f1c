"""data-runtime="pyodide" in Chromium: Python runs in a module worker, the page never blocks,
and nothing recorded before Python is up (or before a tab closes) is lost or counted twice.

Each Pyodide boot costs a few seconds, so each test drives one scenario through one or two
page loads and checks everything it can on the way.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from playwright.sync_api import Page

from support.live_server import LiveServer
from usage_collection.routes.pyodide_assets import MISSING_MESSAGE

pytestmark = pytest.mark.e2e

PAGES = Path(__file__).parent / "pyodide_pages"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "pyodide.db", env={"E2E_TEST_PAGES_DIR": str(PAGES)}).start()
    yield live
    live.stop()


def counters(db_path: Path) -> dict[tuple[str, str, str], int]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT domain_id, counter_name, counter_type, SUM(count) FROM usage_counters "
                          "WHERE source = 'ui' GROUP BY 1, 2, 3").fetchall()
    return {(app, name, kind): total for app, name, kind, total in rows}


def app_usage(db_path: Path) -> dict[tuple[str, str], tuple[float, int]]:
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT app_id, view_id, SUM(minutes_on_screen), SUM(number_of_clicks) "
                          "FROM application_usage_daily GROUP BY 1, 2").fetchall()
    return {(app, view): (minutes, clicks) for app, view, minutes, clicks in rows}


def eventually(read: Callable[[], object], check: Callable[[object], bool], timeout: float = 15.0) -> object:
    """Poll ``read()`` until ``check`` accepts it; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    value = read()
    while not check(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        time.sleep(0.1)
        value = read()
    return value


def blocking_ms(page: Page) -> float:
    """Total blocking time of the page so far: the part of each long task over 50 ms."""
    return page.evaluate("window.longTasks.reduce((sum, d) => sum + Math.max(0, d - 50), 0)")


def test_worker_boot_blocks_nothing_and_counts_early_events_once(page: Page, server: LiveServer) -> None:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(server.url + "/e2e/worker.html")
    # Before Python is up: a declarative click, a click inside a sub-view, a facade call.
    page.click("#buy")
    page.click("#in-cart")
    page.evaluate("usage.reportUiCounter('shop', 'count', ['a', 'b'], 2)")
    assert page.evaluate("window.usage.timing") is None, "Python was up before the first events"
    timing = page.evaluate("usage.ready.then(() => usage.timing)")
    assert timing["ready"] >= timing["python"] > timing["pyodide"] > timing["imported"] > timing["boot"]
    page.click("#buy")
    page.click("#plain")

    # Hiding the tab sends a beacon from the live page; nothing waits for the 60 s interval.
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    expected = {("shop", "buy", "click"): 2, ("shop", "a", "count"): 2, ("shop", "b", "count"): 2}
    eventually(lambda: counters(server.db_path), lambda found: found == expected)
    hidden_usage = eventually(lambda: app_usage(server.db_path), lambda found: len(found) == 2)
    assert hidden_usage[("shop", "main")][1] == 4 and hidden_usage[("shop", "cart")][1] == 1

    # Visible again, then the tab goes away: the main thread beacons what the worker
    # prepared; the report already sent is resent with its reportId and counted once.
    page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    page.click("#in-cart")
    time.sleep(1.2)  # the worker folds time on screen into its preview every second
    assert blocking_ms(page) < 50
    page.goto("about:blank")
    final = eventually(lambda: app_usage(server.db_path), lambda found: found[("shop", "cart")][1] == 2)
    assert final[("shop", "main")][1] == 5
    assert final[("shop", "main")][0] > hidden_usage[("shop", "main")][0] > 0
    time.sleep(0.5)
    assert counters(server.db_path) == expected
    assert problems == []


def test_a_tab_closed_before_python_runs_loses_nothing(page: Page, server: LiveServer) -> None:
    url = server.url + "/e2e/worker.html?flush=1"
    page.goto(url)
    page.click("#buy")
    page.evaluate("usage.setAppId('checkout'); usage.reportUiCounter('checkout', 'loaded', 'form')")
    page.click("#buy")
    assert page.evaluate("window.usage.timing") is None
    page.goto("about:blank")  # the worker dies with the page, long before Pyodide is up
    assert counters(server.db_path) == {}

    page.goto(url)  # the next page's Python replays what the first one saved
    saved = page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('usage_reporter.q.'))")
    assert saved, "nothing was saved for the next page"
    page.evaluate("usage.ready")
    expected = {("shop", "buy", "click"): 1, ("checkout", "buy", "click"): 1, ("checkout", "form", "loaded"): 1}
    eventually(lambda: counters(server.db_path), lambda found: found == expected)
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('usage_reporter.q.'))") == []
    time.sleep(2.5)  # two more flush intervals: nothing is sent twice
    assert counters(server.db_path) == expected


def test_without_pyodide_installed_the_page_says_what_to_do(page: Page, tmp_path: Path) -> None:
    empty = tmp_path / "node_modules"
    empty.mkdir()
    live = LiveServer(tmp_path / "none.db", env={"E2E_TEST_PAGES_DIR": str(PAGES),
                                                 "USAGE_NODE_MODULES": str(empty)}).start()
    try:
        assert live.log().count("Pyodide is not installed") == 1
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("request", lambda request: requests.append(request.url))
        page.goto(live.url + "/e2e/worker.html")
        page.wait_for_function("document.querySelector('script[src$=\"boot-pyodide.js\"]')")
        page.click("#buy")  # still harmless
        time.sleep(0.5)
        assert errors == [MISSING_MESSAGE]
        assert not [url for url in requests if "pyodide-worker" in url or "/usage/pyodide/" in url]
        assert page.evaluate("Promise.race([usage.ready.then(() => 'ready'), 'pending'])") == "pending"
    finally:
        live.stop()
