"""Telemetry end to end: a deployment's settings page in Chromium, a second server as the intake.

The browser's clock is Playwright's ``page.clock``, so "a day later" takes no time; the
servers are real processes. What is asserted is what reached the intake's database.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from e2e.telemetry_support import snapshot_count, utc_now, wait_for
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "intake.db", env={"USAGE_INTAKE_ENABLED": "true"}).start()
    yield server
    server.stop()


@pytest.fixture
def deployment(tmp_path: Path, intake: LiveServer) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "deployment.db", env={
        "USAGE_TELEMETRY_URL": intake.url + "/api/telemetry/v3/intake",
        "USAGE_TELEMETRY_OPT_IN_STATUS_URL": intake.url + "/api/telemetry/v3/intake/opt_in_status",
    }).start()
    yield server
    server.stop()


def _opt_in_statuses(db_path: Path) -> list[bool]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return [bool(row[0]) for row in conn.execute("SELECT opt_in_status FROM telemetry_opt_in_status ORDER BY id")]
    finally:
        conn.close()


def _assert_received_the_stats_payload(intake_db: Path, deployment_url: str) -> None:
    """What arrived is the deployment's /api/stats payload (same sections, same collectors)."""
    conn = sqlite3.connect(f"file:{intake_db}?mode=ro", uri=True)
    instance, payload = conn.execute("SELECT instance_uuid, payload FROM telemetry_snapshots").fetchone()
    conn.close()
    payload = json.loads(payload)
    stats = _get_json(deployment_url + "/api/stats?extended=true&legacy=true")
    assert instance == stats["clusterUuid"] == payload["clusterUuid"]
    assert set(payload) == set(stats)
    assert set(payload["usage"]) == set(stats["usage"])


def _checks(page: Page) -> int:
    return page.evaluate("window.usageTelemetrySender.checks")


def _wait_for_checks_done(page: Page, checks: int) -> None:
    """Until the page's sender has run ``checks`` checks and is idle: a snapshot one of them
    sent has reached the intake by then (a check stays busy until its last answer)."""
    wait_for(lambda: page.evaluate("n => window.usageTelemetrySender.checks >= n && !window.usageTelemetrySender.busy",
                                   checks))


def test_opting_in_sends_a_snapshot_once_a_day_and_opting_out_stops_it(page: Page, deployment: LiveServer,
                                                                          intake: LiveServer) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
    uuid = _get_json(deployment.url + "/api/status")["uuid"]
    page.clock.install(time=utc_now())
    page.goto(deployment.url + "/usage/settings")
    switch = page.get_by_role("switch", name="Send usage statistics")
    expect(switch).not_to_be_checked()
    expect(page.locator("#telemetry-notice")).to_be_visible()
    page.wait_for_function("window.usageTelemetrySender !== undefined")  # the Brython sender ran its first check
    assert snapshot_count(intake.db_path) == 0  # not opted in: nothing sent

    page.get_by_text("Send usage statistics").click()
    expect(page.locator("#telemetry-status")).to_have_text("On")
    expect(page.locator("#telemetry-notice")).to_have_count(0)
    wait_for(lambda: snapshot_count(intake.db_path, uuid) == 1)
    wait_for(lambda: _opt_in_statuses(intake.db_path) == [True])
    # The page records the send on the deployment after the intake answered: a moment later.
    wait_for(lambda: _get_json(deployment.url + "/api/telemetry/v2/last_reported")["lastReported"] is not None)
    _assert_received_the_stats_payload(intake.db_path, deployment.url)

    page.clock.fast_forward("01:00:00")  # an hour later: checked, not due
    checks = _checks(page)
    page.clock.fast_forward("12:00:00")
    page.evaluate("window.dispatchEvent(new Event('focus'))")
    _wait_for_checks_done(page, checks + 2)  # the minute timer's check, then the focus check
    assert snapshot_count(intake.db_path, uuid) == 1

    page.clock.fast_forward("11:00:00")  # a day after the first send: due again
    wait_for(lambda: snapshot_count(intake.db_path, uuid) == 2)
    checks = _checks(page)
    page.clock.fast_forward("00:10:00")
    _wait_for_checks_done(page, checks + 1)
    assert snapshot_count(intake.db_path, uuid) == 2

    page.get_by_text("Send usage statistics").click()  # opt out
    expect(page.locator("#telemetry-status")).to_have_text("Off")
    wait_for(lambda: _opt_in_statuses(intake.db_path) == [True, False])
    checks = _checks(page)
    page.clock.fast_forward("25:00:00")
    page.clock.fast_forward("25:00:00")
    _wait_for_checks_done(page, checks + 2)
    assert snapshot_count(intake.db_path, uuid) == 2

    page.reload()
    expect(page.get_by_role("switch", name="Send usage statistics")).not_to_be_checked()
    expect(page.locator("#telemetry-notice")).to_have_count(0)  # the admin has chosen
    assert errors == []


def test_notice_is_dismissed_and_stays_dismissed(page: Page, tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "plain.db").start()
    try:
        page.goto(server.url + "/usage/dashboard")
        notice = page.locator("#telemetry-notice")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("Help improve")
        expect(notice.get_by_role("link", name="Settings")).to_have_attribute("href", "/usage/settings#telemetry")
        with page.expect_response("**/api/telemetry/v2/userHasSeenNotice") as answer:
            notice.get_by_role("button", name="Dismiss").click()
        assert answer.value.status == 200
        expect(notice).to_have_count(0)
        page.reload()
        expect(page.locator("#telemetry-notice")).to_have_count(0)
        page.goto(server.url + "/usage/settings")
        expect(page.locator("#telemetry-notice")).to_have_count(0)
        assert _get_json(server.url + "/api/telemetry/v2/config")["optIn"] is None  # dismissing is not choosing
    finally:
        server.stop()
