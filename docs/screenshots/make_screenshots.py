"""Re-take the README's screenshots of the dashboard and the settings page (desktop + phone).

    .venv/bin/python docs/screenshots/make_screenshots.py

Desktop pages are shot whole; phone ones show the first screen. Seeds a month of sample usage (and snapshots from three instances) into a temporary
database, starts a real server on it, and shoots the pages in headless Chromium.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

from e2e.telemetry_support import seed_usage, utc_now  # noqa: E402
from support.live_server import LiveServer  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORTS = {"": {"width": 1280, "height": 900}, "-phone": {"width": 390, "height": 844}}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "screens.db"
        seed_usage(db, utc_now(), days=30, snapshots=True)
        server = LiveServer(db, env={"USAGE_INTAKE_ENABLED": "true", "USAGE_SERVICE_NAME": "acme-analytics",
                                     "USAGE_TELEMETRY_URL": "https://telemetry.example.com/api/telemetry/v3/intake"})
        server.start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                for suffix, viewport in VIEWPORTS.items():
                    context = browser.new_context(viewport=viewport, device_scale_factor=2 if suffix else 1,
                                                  is_mobile=bool(suffix), has_touch=bool(suffix))
                    page = context.new_page()
                    page.goto(server.url + "/usage/dashboard")
                    page.wait_for_selector("body[data-rendered]")
                    page.screenshot(path=str(HERE / f"dashboard{suffix}.png"), full_page=not suffix)
                    page.goto(server.url + "/usage/settings")
                    page.locator("details.collector").first.evaluate("element => element.open = true")
                    page.screenshot(path=str(HERE / f"settings{suffix}.png"), full_page=not suffix)
                    context.close()
                browser.close()
        finally:
            server.stop()
    print("screenshots written to", HERE)


if __name__ == "__main__":
    main()
