"""data-runtime="brython" on a page without Brython of its own: the reporter runs in a classic
Web Worker behind the same main-thread forwarder as Pyodide's, so brython.js and our Python
start-up are no task of the page's. (The shared suite in test_usage_client.py runs through it
too; a page that runs Brython itself keeps the main-thread adapter, test_brython_library.py.)
"""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from e2e.usage_pages import UsagePage, clicks, counters, eventually

pytestmark = pytest.mark.e2e

@pytest.fixture
def runtime() -> str:
    return "brython"


def test_the_reporter_runs_in_a_worker_and_the_page_never_loads_brython(usage_page: UsagePage,
                                                                       context: BrowserContext,
                                                                       app_name: str) -> None:
    scripts: list[str] = []
    context.on("request", lambda request: scripts.append(request.url) if request.resource_type == "script" else None)
    usage_page.open(app=app_name, clicks="buy")
    usage_page.ready()
    page = usage_page.page
    timing = page.evaluate("usage.timing")
    assert timing["ready"] >= timing["python"] > timing["imported"] > timing["boot"]  # the worker's steps
    assert page.evaluate("typeof window.__BRYTHON__") == "undefined"  # not on the page's thread
    assert not [url for url in scripts if url.endswith("/brython.js")], scripts  # the page's own scripts
    page.click("#in-cart")
    page.evaluate("app => usage.reportUiCounter(app, 'count', 'from_the_page', 2)", app_name)

    expected = {("buy", "click"): 1, ("checkout", "click"): 1, ("from_the_page", "count"): 2}
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == expected, page=page)
    eventually(lambda: clicks(usage_page.base_url, app_name), lambda value: value == {"main": 2, "cart": 1},
               page=page)
