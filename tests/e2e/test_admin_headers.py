"""Clickjacking: the admin pages refuse to be framed by another page (seen in Chromium), carry
nosniff, a Referrer-Policy and a CSP, and still work under that CSP (the switch, the charts)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from support.live_server import LiveServer

pytestmark = pytest.mark.e2e

ADMIN_PAGES = ["/usage/settings", "/usage/dashboard"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "admin.db", env={"USAGE_ROLLUP_INTERVAL_S": "0"}).start()
    yield live
    live.stop()


@pytest.mark.parametrize("path", ADMIN_PAGES + ["/usage/dashboard/data", "/usage/admin-static/telemetry/settings.js"])
def test_admin_responses_carry_the_security_headers(server: LiveServer, path: str) -> None:
    with urllib.request.urlopen(server.url + path, timeout=10) as response:
        headers = response.headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    csp = [part.strip() for part in headers["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    assert not any("unsafe-inline" in part for part in csp)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_another_page_cannot_frame_an_admin_page(page: Page, server: LiveServer, path: str) -> None:
    """The attack: a page of another origin (localhost vs 127.0.0.1) frames the page so a
    click on its own content lands on the opt-in switch."""
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text) if "frame-ancestors" in message.text else None)
    page.goto(f"http://localhost:{server.port}/api/status")
    page.set_content(f'<iframe src="{server.url}{path}" width="800" height="600"></iframe>')
    page.wait_for_function("document.querySelector('iframe').contentWindow.length === 0")
    frame = page.frames[1]
    frame.wait_for_load_state()
    assert frame.url == "chrome-error://chromewebdata/"
    assert frame.evaluate("document.querySelectorAll('#telemetry-opt-in, canvas').length") == 0
    assert blocked, "Chromium did not report the frame-ancestors block"


def test_settings_switch_works_under_the_csp(page: Page, server: LiveServer) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(server.url + "/usage/settings")
    switch = page.get_by_role("switch", name="Send usage statistics")
    expect(switch).not_to_be_checked()
    page.get_by_text("Send usage statistics").click()  # as a person clicks it: on its label
    expect(page.locator("#telemetry-status")).to_have_text("On")
    with urllib.request.urlopen(server.url + "/api/telemetry/v2/config", timeout=10) as response:
        assert json.load(response)["optIn"] is True
    assert errors == []
