"""The browser sender on the settings page (Brython in Chromium) with a large snapshot: sent
gzipped (``Content-Encoding: gzip``) into a real intake, and, when the intake refuses it,
the reason shown on the page instead of a silent drop."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.telemetry_support import snapshot_count, utc_now
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e
INTAKE = "/api/telemetry/v3/intake"


def _post(url: str, body: Any, headers: dict[str, str]) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _deployment(tmp_path: Path, intake: LiveServer) -> LiveServer:
    """A deployment opted in, with 400 event names: a snapshot of well over 8 KB."""
    server = LiveServer(tmp_path / "deployment.db", env={"USAGE_TELEMETRY_URL": intake.url + INTAKE}).start()
    counters = {f"shop-click-event{n:03d}": {"key": f"shop-click-event{n:03d}", "appName": "shop",
                                             "eventName": f"event{n:03d}", "type": "click", "total": 1}
                for n in range(400)}
    for start in range(0, 400, 200):
        part = dict(list(counters.items())[start:start + 200])
        _post(server.url + "/api/ui_counters/_report", {"report": {"reportVersion": 3, "uiCounter": part}},
              {"kbn-xsrf": "t"})
    _post(server.url + "/api/telemetry/v2/optIn", {"enabled": True}, {"kbn-xsrf": "t"})
    return server


@pytest.fixture
def servers(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[LiveServer, LiveServer]]:
    intake = LiveServer(tmp_path / "intake.db", env={"USAGE_INTAKE_ENABLED": "true",
                                                     "USAGE_INTAKE_MAX_BYTES": request.param}).start()
    try:
        deployment = _deployment(tmp_path, intake)
        try:
            yield deployment, intake
        finally:
            deployment.stop()
    finally:
        intake.stop()


@pytest.mark.parametrize("servers", ["1048576"], indirect=True)
def test_a_large_snapshot_is_sent_gzipped_by_the_browser(page: Page, servers: tuple[LiveServer, LiveServer]) -> None:
    deployment, intake = servers
    posts: list[tuple[str | None, int]] = []

    def seen(request: Any) -> None:
        if request.url.endswith(INTAKE) and request.method == "POST":
            posts.append((request.headers.get("content-encoding"), len(request.post_data_buffer or b"")))

    page.on("request", seen)
    page.clock.install(time=utc_now())
    page.goto(deployment.url + "/usage/settings")
    # Waiting through Playwright also delivers the page's request events to ``seen``.
    page.wait_for_function("window.usageTelemetrySender && window.usageTelemetrySender.sent === 1", timeout=30_000)
    assert snapshot_count(intake.db_path) == 1
    with urllib.request.urlopen(deployment.url + "/api/stats?extended=true&legacy=true", timeout=10) as response:
        size = len(response.read())
    assert size > 30_000
    [(encoding, sent)] = posts
    assert encoding == "gzip" and sent < size / 4
    expect(page.locator("#telemetry-send-error")).to_be_hidden()


@pytest.mark.parametrize("servers", ["2048"], indirect=True)
def test_a_refused_snapshot_shows_why_on_the_settings_page(page: Page, servers: tuple[LiveServer, LiveServer]) -> None:
    deployment, intake = servers
    page.clock.install(time=utc_now())
    page.goto(deployment.url + "/usage/settings")
    message = page.locator("#telemetry-send-error")
    expect(message).to_be_visible(timeout=30_000)
    expect(message).to_have_text("Sending the snapshot from this browser failed: telemetry URL answered HTTP 413.")
    assert snapshot_count(intake.db_path) == 0
