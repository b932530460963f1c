"""usage.js embedded by a page of another origin (the receiver on USAGE_ALLOWED_ORIGINS'
list), for each runtime: the runtime loads cross-origin (Pyodide's worker starts from a
same-origin blob that imports the real one), reports pass CORS, and the closing beacon too.

The two origins are one server seen as ``localhost`` and as ``127.0.0.1``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page

from e2e.conftest import server_env
from e2e.usage_pages import UsagePage, clicks, counters, eventually
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def two_origins(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """The receiver at 127.0.0.1, and the same server's pages seen from ``localhost``."""
    server = LiveServer(tmp_path / "cross.db", env=server_env())
    page_origin = f"http://localhost:{server.port}"
    server.env["USAGE_ALLOWED_ORIGINS"] = page_origin
    yield server.start(), page_origin
    server.stop()


def test_a_page_of_another_origin_reports_through_cors(
        page: Page, two_origins: tuple[LiveServer, str], runtime: str, app_name: str) -> None:
    server, page_origin = two_origins
    usage = UsagePage(page, page_origin, runtime)
    usage.open("cross_origin.html", app=app_name, origin=server.url, clicks=None)
    page.click("#buy")
    usage.ready()
    page.click("#buy")
    page.evaluate("app => usage.reportUiCounter(app, 'count', 'embedded', 2)", app_name)
    expected = {("buy", "click"): 2, ("embedded", "count"): 2}
    eventually(lambda: counters(server.url, app_name), lambda value: value == expected, page=page)
    page.click("#plain")
    page.wait_for_function("!window.usage.unconfirmed")
    page.goto("about:blank")  # the closing beacon goes cross-origin too
    eventually(lambda: clicks(server.url, app_name), lambda value: value.get("main") == 3)
    assert usage.unexpected_problems() == []
