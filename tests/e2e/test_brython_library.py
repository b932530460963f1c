"""Library mode under Brython without usage.js: a page that runs Brython itself imports
usage_reporter, calls ``usage_reporter.browser.boot(...)`` and uses the Python API; the
declarative wrappers work there too.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from e2e.usage_pages import UsagePage, clicks, counters, eventually
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def test_a_brython_page_boots_the_reporter_itself(page: Page, e2e_server: LiveServer) -> None:
    app = "brython_library_mode"
    usage = UsagePage(page, e2e_server.url, "brython")
    page.goto(f"{e2e_server.url}/e2e/library.html?app={app}")
    page.wait_for_function("window.libraryReady === true", timeout=60_000)
    page.click("#buy")
    page.click("#inside")
    page.click("#inside")

    eventually(lambda: counters(e2e_server.url, app),
               lambda value: value == {("before_boot", "loaded"): 1, ("x", "count"): 2, ("y", "count"): 2,
                                       ("buy", "click"): 1})
    eventually(lambda: clicks(e2e_server.url, app), lambda value: value == {"main": 3, "panel": 2})
    assert usage.unexpected_problems() == []
