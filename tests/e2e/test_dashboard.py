"""The dashboard in Chromium: charts drawn from real stored data, placeholders without any,
no JavaScript errors either way, readable at phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.telemetry_support import seed_usage, utc_now
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e

CARDS = ["events-per-day", "top-events", "events-by-name", "minutes-per-day", "views", "snapshots"]
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def seeded_server(tmp_path: Path) -> Iterator[LiveServer]:
    db = tmp_path / "seeded.db"
    seed_usage(db, utc_now(), days=14, snapshots=True)
    server = LiveServer(db, env={"USAGE_INTAKE_ENABLED": "true"}).start()
    yield server
    server.stop()


@pytest.fixture
def empty_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "empty.db", env={"USAGE_INTAKE_ENABLED": "true"}).start()
    yield server
    server.stop()


def _watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def _drawn_points(page: Page, card: str) -> int:
    """How many bars or points Chart.js drew in a card's chart (0 when it has no chart)."""
    return page.evaluate(
        """name => {
            const chart = window.usageDashboard.charts[name];
            if (!chart) return 0;
            return chart.data.datasets.reduce((n, set) => n + set.data.filter(v => v > 0).length, 0);
        }""", card)


def test_dashboard_draws_every_chart_from_stored_data(page: Page, seeded_server: LiveServer, tmp_path: Path) -> None:
    errors = _watch_errors(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(seeded_server.url + "/usage/dashboard")
    page.wait_for_selector("body[data-rendered]")
    for card in CARDS:
        expect(page.locator(f'[data-chart="{card}"] .empty')).to_be_hidden()
        assert _drawn_points(page, card) > 0, card
    expect(page.locator("#tile-apps")).to_have_text("4")
    expect(page.locator("#tile-snapshots")).not_to_have_text("–")
    page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=True)

    page.select_option("#event-app", "maps")  # the events card follows its app picker
    labels = page.evaluate("window.usageDashboard.charts['events-by-name'].data.datasets.map(d => d.label)")
    assert sorted(labels) == ["layer_added", "zoom"]

    page.select_option("#range", "7")
    page.wait_for_function("window.usageDashboard.charts['events-per-day'].data.labels.length === 7")

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
    assert errors == []


def test_dashboard_without_data_shows_placeholders_and_no_errors(page: Page, empty_server: LiveServer) -> None:
    errors = _watch_errors(page)
    page.set_viewport_size(PHONE)
    page.goto(empty_server.url + "/usage/dashboard")
    page.wait_for_selector("body[data-rendered]")
    for card in CARDS:
        expect(page.locator(f'[data-chart="{card}"] .empty')).to_have_text("No data yet")
        expect(page.locator(f'[data-chart="{card}"] canvas')).to_be_hidden()
    expect(page.locator("#tile-events")).to_have_text("0")
    page.select_option("#range", "90")
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == []


def test_settings_page_lists_collectors_and_the_real_payload(page: Page, empty_server: LiveServer) -> None:
    errors = _watch_errors(page)
    page.goto(empty_server.url + "/usage/settings")
    for collector in ("application_usage", "ui_counters", "ui_metric", "usage_counters"):
        expect(page.locator(f'details[data-collector="{collector}"]')).to_have_count(1)
    payload = page.locator("#example-payload").text_content()
    import json

    assert "ui_counters" in json.loads(payload)["usage"]
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert errors == []
