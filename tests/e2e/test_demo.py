"""The demo app (``usage-collection serve --demo``) in Chromium: a single-page app using the
declarative wrappers and the JavaScript facade, with one ``<script type="text/python">`` in
library mode (the page runs Brython itself and imports usage_reporter). What a visitor does
there lands in /api/stats with exact totals, and the page's live panel shows it.
"""

from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from e2e.usage_pages import UsagePage, clicks, counters, eventually
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def test_a_visit_of_the_demo_is_counted_exactly(page: Page, own_server: Callable[..., LiveServer]) -> None:
    server = own_server(demo=True)
    watched = UsagePage(page, server.url, "brython")  # the demo is a Brython page whatever the runtime
    page.goto(server.url + "/")
    page.evaluate("usage.ready")
    page.click("text=Add panel")
    page.click("text=Share")
    page.click("nav >> text=Discover")
    expect(page).to_have_url(server.url + "/app/discover")
    page.click(".docs li:nth-child(2) .open")
    page.click("text=Copy link")
    page.click(".flyout .close")
    page.click("#export")  # the JavaScript facade
    page.click("nav >> text=Settings")
    page.click("#save")  # Python of the page's own (library mode)
    page.click("#advanced-toggle")
    page.click("text=Rebuild index")
    page.click("#advanced-toggle")
    page.goto("about:blank")  # the last bits leave by beacon

    eventually(lambda: counters(server.url, "dashboards"),
               lambda value: value == {("panel_added", "click"): 1, ("share", "click"): 1})
    eventually(lambda: counters(server.url, "discover"),
               lambda value: value == {("open_doc", "click"): 1, ("copy_link", "click"): 1,
                                       ("rows_exported", "count"): 25})
    eventually(lambda: counters(server.url, "settings"),
               lambda value: value == {("python_ready", "loaded"): 1, ("saved", "click"): 1,
                                       ("saved_light", "click"): 1})
    expected = {"dashboards": {"main": 3}, "discover": {"main": 5, "doc_flyout": 2},
                "settings": {"main": 4, "advanced": 1}}
    eventually(lambda: {app: clicks(server.url, app) for app in expected}, lambda value: value == expected)
    assert watched.unexpected_problems() == []


def test_the_demo_shows_the_live_counts(page: Page, own_server: Callable[..., LiveServer]) -> None:
    server = own_server(demo=True)
    watched = UsagePage(page, server.url, "brython")
    page.goto(server.url + "/app/discover")  # a deep link renders that view
    expect(page.locator("#discover")).to_be_visible()
    page.evaluate("usage.ready")
    page.click("#export")
    row = page.locator("#counters tr", has_text="rows_exported")
    expect(row).to_contain_text("25", timeout=20_000)  # flushed (5 s), then polled (2 s)
    expect(page.locator("#usage tr", has_text="discover")).to_be_visible()
    assert watched.unexpected_problems() == []
