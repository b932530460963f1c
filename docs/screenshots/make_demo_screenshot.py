"""Re-take the README's screenshot of the demo app (docs/screenshots/demo.png).

    .venv/bin/python docs/screenshots/make_demo_screenshot.py

Starts a real server with the demo on a temporary database, visits the demo the way a user
would (clicks in each view, a document flyout, the JavaScript facade, the Python-written
settings), closes that tab so everything is delivered, then shoots a fresh visit of the
Discover view with a flyout open once the live counts show what the first visit did.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from support.live_server import LiveServer  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1280, "height": 720}


def visit(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.evaluate("usage.ready")
    for _ in range(3):
        page.click("text=Add panel")
    page.click("text=Share")
    page.click("nav >> text=Discover")
    for row in (1, 3, 2):
        page.click(f".docs li:nth-child({row}) .open")
        page.click("text=Copy link")
        page.wait_for_timeout(400)
    page.click(".flyout .close")
    page.click("#export")
    page.click("nav >> text=Settings")
    page.click("#dark")
    page.click("#save")
    page.click("#advanced-toggle")
    page.click("text=Rebuild index")
    page.click("#advanced-toggle")
    page.goto("about:blank")  # hidden, then closed: the rest leaves by beacon


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp) / "demo.db", demo=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                context = browser.new_context(viewport=VIEWPORT)
                visit(context.new_page(), server.url)
                page = context.new_page()
                page.goto(server.url + "/app/discover")
                page.evaluate("usage.ready")
                page.click(".docs li:nth-child(2) .open")
                expect(page.locator("#counters tr", has_text="rows_exported")).to_be_visible(timeout=20_000)
                expect(page.locator("#usage tr", has_text="advanced")).to_be_visible(timeout=20_000)
                page.wait_for_timeout(2500)  # one more poll of the live counts
                page.screenshot(path=str(HERE / "demo.png"))
                browser.close()
        finally:
            server.stop()
    print(f"wrote {HERE / 'demo.png'}")


if __name__ == "__main__":
    main()
