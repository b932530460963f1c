"""data-runtime="pyodide" specifics in Chromium (the shared suite in test_usage_client.py runs
for Pyodide too): Python boots in a module worker without blocking the page, and a tab that
closes is covered by what the worker prepared for the main thread to beacon.

Each Pyodide boot costs a few seconds: each test drives one scenario through one page.
"""

from __future__ import annotations

import gzip
from typing import Callable

import pytest
from playwright.sync_api import BrowserContext, Page

from e2e.usage_pages import UsagePage, app_usage, clicks, counters, eventually, marker_counted
from support.live_server import LiveServer
from usage_collection.bundle import package_dir
from usage_collection.client_wheel import build_wheel
from usage_collection.pyodide_snapshot import snapshot_key
from usage_collection.routes.pyodide_assets import MISSING_MESSAGE, find_pyodide
from usage_collection.settings import REPO_ROOT
from usage_collection.version import __version__

pytestmark = pytest.mark.e2e

# Every long task of the page from its very first script: the main-thread cost of the worker.
LONG_TASKS = """
window.longTasks = [];
new PerformanceObserver(list => {
  for (const entry of list.getEntries()) window.longTasks.push(entry.duration);
}).observe({type: "longtask", buffered: true});
"""


@pytest.fixture
def runtime() -> str:
    return "pyodide"


def test_the_worker_blocks_nothing_and_a_closing_tab_beacons_what_it_prepared(
        usage_page: UsagePage, context: BrowserContext, app_name: str) -> None:
    base, page = usage_page.base_url, usage_page.page
    context.add_init_script(LONG_TASKS)
    usage_page.open(app=app_name, flush=3600, clicks="buy,in-cart")  # no interval flush: beacons only
    usage_page.ready()
    timing = page.evaluate("usage.timing")
    assert timing["ready"] >= timing["python"] > timing["pyodide"] > timing["imported"] > timing["boot"]
    assert timing["pyodide"] > timing["snapshot"]  # started from the server's snapshot
    page.click("#buy")
    page.click("#plain")

    usage_page.set_hidden(True)  # the live tab hides: the worker asks the page for a beacon
    expected = {("buy", "click"): 2, ("checkout", "click"): 1}
    eventually(lambda: counters(base, app_name), lambda value: value == expected, page=page)
    hidden = eventually(lambda: app_usage(base, app_name), lambda value: value.get("main", (0, 0))[1] == 4, page=page)
    assert hidden["cart"][1] == 1 and hidden["main"][0] > 0

    usage_page.set_hidden(False)
    page.click("#in-cart")
    page.wait_for_timeout(1200)  # the worker folds time on screen into its preview every second
    blocking = page.evaluate("window.longTasks.reduce((sum, d) => sum + Math.max(0, d - 50), 0)")
    assert blocking < 50, f"{blocking} ms of main-thread blocking"
    page.goto("about:blank")  # the main thread beacons the worker's preview synchronously

    expected[("checkout", "click")] = 2
    eventually(lambda: counters(base, app_name), lambda value: value == expected)
    final = eventually(lambda: app_usage(base, app_name), lambda value: value["main"][1] == 5)
    assert final["cart"][1] == 2 and final["main"][0] > hidden["main"][0]
    # The hidden tab's report went again with the preview (same reportId): counted once. A
    # later page resends what the closed tab left (same reportIds again), then a marker.
    later = UsagePage(context.new_page(), base, "pyodide").open(app=app_name + "_next")
    later.ready()
    marker_counted(later, app_name)
    assert clicks(base, app_name) == {"main": 5, "cart": 2}


def test_without_pyodide_installed_the_page_says_what_to_do(
        page: Page, own_server: Callable[..., LiveServer], watch_page: Callable[[Page, str], UsagePage],
        tmp_path) -> None:
    empty = tmp_path / "node_modules"
    empty.mkdir()
    server = own_server(USAGE_NODE_MODULES=str(empty))
    assert server.log().count("Pyodide is not installed") == 1
    usage = watch_page(page, server.url)
    usage.allow(MISSING_MESSAGE)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    usage.open(clicks="buy")
    eventually(lambda: usage.problems, lambda problems: problems != [], page=page)  # the boot script gave up
    page.click("#buy")  # still harmless
    page.evaluate("usage.reportUiCounter('shop', 'count', 'x')")
    assert [problem for problem in usage.problems] == [f"console.error: {MISSING_MESSAGE}"]
    assert not [url for url in requested if "pyodide-worker" in url or "/usage/pyodide/" in url]
    assert not usage.python_is_up()


@pytest.mark.parametrize("snapshot", ["turned_off", "unusable"])
def test_without_a_usable_snapshot_the_worker_starts_pyodide_the_normal_way(
        page: Page, own_server: Callable[..., LiveServer], watch_page: Callable[[Page, str], UsagePage],
        tmp_path, snapshot: str, app_name: str) -> None:
    if snapshot == "turned_off":
        server = own_server(USAGE_PYODIDE_SNAPSHOT="false")
    else:  # the cached file for this Pyodide and wheel is not a snapshot at all
        pyodide_dir, _ = find_pyodide(REPO_ROOT / "node_modules")
        key = snapshot_key(pyodide_dir, build_wheel(package_dir(), __version__))
        cached = tmp_path / "cache" / "usage-collection" / f"pyodide-snapshot-{key}.bin.gz"
        cached.parent.mkdir(parents=True)
        cached.write_bytes(gzip.compress(b"not a snapshot" * 1000))
        server = own_server(XDG_CACHE_HOME=str(tmp_path / "cache"))
    usage = watch_page(page, server.url)
    usage.open(app=app_name, clicks="buy").ready()  # one click while the page loads, one after
    assert "snapshot" not in page.evaluate("usage.timing")
    warnings = [text for kind, text in usage.console if kind == "warning" and "snapshot" in text]
    if snapshot == "unusable":
        assert warnings and "starting Pyodide without it" in warnings[0]
    else:
        assert not warnings
    page.click("#buy")
    usage.set_hidden(True)
    eventually(lambda: counters(server.url, app_name), lambda value: value == {("buy", "click"): 2}, page=page)
