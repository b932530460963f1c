"""What a visitor's browser downloads for data-runtime="pyodide": not Pyodide's package index.

The worker loads only our wheel (or the server's snapshot), so the 357-package
``pyodide-lock.json`` (27 KB gzipped) would be downloaded for nothing on every cold visit;
the worker hands Pyodide a lock file with the server's ABI info and no packages instead.
"""

from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import Page

from e2e.usage_pages import UsagePage, counters, eventually
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def runtime() -> str:
    return "pyodide"


@pytest.mark.parametrize("snapshot", ["true", "false"])
def test_the_worker_boots_without_pyodides_package_index(
        page: Page, own_server: Callable[..., LiveServer], watch_page: Callable[[Page, str], UsagePage],
        app_name: str, snapshot: str) -> None:
    server = own_server(USAGE_PYODIDE_SNAPSHOT=snapshot)  # with the snapshot, and the normal way
    fetched: list[str] = []
    page.context.on("request", lambda request: fetched.append(request.url))
    usage = watch_page(page, server.url).open(app=app_name)
    usage.ready()
    page.evaluate("app => usage.reportUiCounter(app, 'count', 'after_boot')", app_name)

    eventually(lambda: counters(server.url, app_name), lambda value: value == {("after_boot", "count"): 1},
               page=page)
    assert [url for url in fetched if url.endswith("pyodide.asm.wasm")], fetched  # Pyodide did boot here
    assert not [url for url in fetched if "pyodide-lock.json" in url], fetched
    assert bool([url for url in fetched if "/usage/pyodide-snapshot/" in url]) == (snapshot == "true")
