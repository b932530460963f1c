"""Benchmark of what usage.js costs a page: a plain page with and without the script tag.

Starts the real server (``usage-collection serve`` on 127.0.0.1, pages from bench/pages
served at /e2e/ via E2E_TEST_PAGES_DIR) and loads each page in headless Chromium (Debian's
/usr/bin/chromium through Playwright), each time in a fresh browser context (cold: empty
HTTP cache, localStorage and IndexedDB), then once more in the same context (warm: cached
runtime, compiled Python kept in IndexedDB). Prints, as medians over ``--runs``:

- bytes before ``load``: transferred bytes (resource timing) of everything that ended before
  the load event, page included; the goal for the tag is < 1 KB;
- total blocking time before ``load`` (PerformanceObserver longtask from <head>; TBT = sum of
  duration - 50 ms); the goal is < 10 ms added. The blocking of the boot *after* load is
  printed too, because a visitor can feel it;
- time from ``load`` until ``window.usage.ready`` resolves (goal: within 1 s);
- the cost of one ``report_ui_counter`` call (µs, median of batches, measured in the page),
  from Python and through the JavaScript facade.

    .venv/bin/python bench/client_page.py                      # brython, 5 runs
    .venv/bin/python bench/client_page.py --runtime both --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "bench" / "pages"
RUNTIMES = ("brython", "pyodide")
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"

PAGE_FIGURES = """() => {
  const nav = performance.getEntriesByType("navigation")[0], load = nav.loadEventStart;
  const before = [nav, ...performance.getEntriesByType("resource")].filter(e => e.responseEnd <= load);
  const tbt = (from, to) => window.longTasks.filter(([start]) => start >= from && start < to)
    .reduce((sum, [, duration]) => sum + Math.max(0, duration - 50), 0);
  const loader = before.find(e => e.name.endsWith("/usage/usage.js"));
  return {
    bytes: before.reduce((sum, e) => sum + e.transferSize, 0),
    loaderBody: loader ? loader.encodedBodySize : null,
    loaderTransfer: loader ? loader.transferSize : null,
    tbtBeforeLoad: tbt(0, load),
    tbtAfterLoad: tbt(load, Infinity),
    readyAfterLoad: window.readyAt === undefined ? null : window.readyAt - nav.loadEventEnd,
  };
}"""

# Batches of calls: performance.now() is coarsened to 0.1 ms outside cross-origin isolation.
PYTHON_CALL_COST = """
from browser import window
import usage_reporter
batches = []
for batch in range(BATCHES):
    start = window.performance.now()
    for i in range(PER_BATCH):
        usage_reporter.report_ui_counter("bench", "click", "event_" + str(i % 10))
    batches.append((window.performance.now() - start) * 1000 / PER_BATCH)
window.pythonCallCosts = batches
"""

FACADE_CALL_COST = """([batches, perBatch]) => {
  const costs = [];
  for (let b = 0; b < batches; b++) {
    const start = performance.now();
    for (let i = 0; i < perBatch; i++) usage.reportUiCounter("bench", "click", "event_" + (i % 10));
    costs.push((performance.now() - start) * 1000 / perBatch);
  }
  return costs;
}"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "E2E_TEST_PAGES_DIR": str(PAGES), "USAGE_DB": str(db_dir / "bench.db"),
           "USAGE_ROLLUP_INTERVAL_S": "0"}
    binary = Path(sys.executable).parent / "usage-collection"
    process = subprocess.Popen([str(binary), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api/status", timeout=1).read()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the server did not start")


def load(page: Page, url: str, wait_ready: bool) -> dict[str, Any]:
    page.goto(url, wait_until="load")
    if wait_ready:
        page.wait_for_function("window.readyAt !== undefined", timeout=60_000)
    page.wait_for_timeout(300)  # long tasks are reported a little after they end
    return page.evaluate(PAGE_FIGURES)


def call_costs(page: Page, runtime: str, batches: int, per_batch: int) -> dict[str, float | None]:
    facade = statistics.median(page.evaluate(FACADE_CALL_COST, [batches, per_batch]))
    python = None
    if runtime == "brython":  # Pyodide runs the reporter in a worker: no in-page Python to time
        source = PYTHON_CALL_COST.replace("BATCHES", str(batches)).replace("PER_BATCH", str(per_batch))
        page.evaluate("source => __BRYTHON__.runPythonSource(source)", source)
        python = statistics.median(page.evaluate("window.pythonCallCosts"))
    return {"python_us": python, "facade_us": facade}


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None


def measure(browser: Browser, base: str, runtime: str, runs: int) -> dict[str, Any]:
    plain, cold, warm = [], [], []
    costs: dict[str, float | None] = {}
    for run in range(runs):
        context = browser.new_context()
        try:
            plain.append(load(context.new_page(), f"{base}/e2e/plain.html", wait_ready=False))
            page = context.new_page()
            cold.append(load(page, f"{base}/e2e/tagged.html?runtime={runtime}", wait_ready=True))
            page.wait_for_timeout(500)  # the compiled-module cache is written after boot
            warm.append(load(context.new_page(), f"{base}/e2e/tagged.html?runtime={runtime}", wait_ready=True))
            if run == 0:
                costs = call_costs(page, runtime, batches=40, per_batch=25)
        finally:
            context.close()
    return {"plain": plain, "cold": cold, "warm": warm, "costs": costs}


def report(runtime: str, figures: dict[str, Any], loader_bytes: int) -> None:
    fmt: Callable[[float | None, str], str] = lambda value, unit: "n/a" if value is None else f"{value:,.0f} {unit}"
    plain, cold, warm = figures["plain"], figures["cold"], figures["warm"]
    added_bytes = median_of(cold, "bytes") - median_of(plain, "bytes")
    print(f"\n== data-runtime=\"{runtime}\" (medians of {len(cold)} runs; cold = fresh context) ==")
    print(f"usage.js as served (minified)        {loader_bytes} B raw, {fmt(median_of(cold, 'loaderBody'), 'B')} "
          f"gzipped, {fmt(median_of(cold, 'loaderTransfer'), 'B')} with HTTP headers")
    print(f"bytes before load, plain page        {fmt(median_of(plain, 'bytes'), 'B')}")
    print(f"bytes before load, with the tag      {fmt(median_of(cold, 'bytes'), 'B')}  (+{added_bytes:,.0f} B; goal < 1 KB)")
    print(f"TBT before load, plain / with tag    {fmt(median_of(plain, 'tbtBeforeLoad'), 'ms')} / "
          f"{fmt(median_of(cold, 'tbtBeforeLoad'), 'ms')}  (goal: < 10 ms added)")
    print(f"TBT after load (the boot), cold/warm {fmt(median_of(cold, 'tbtAfterLoad'), 'ms')} / "
          f"{fmt(median_of(warm, 'tbtAfterLoad'), 'ms')}")
    print(f"load -> usage.ready, cold / warm     {fmt(median_of(cold, 'readyAfterLoad'), 'ms')} / "
          f"{fmt(median_of(warm, 'readyAfterLoad'), 'ms')}  (goal: < 1000 ms)")
    costs = figures["costs"]
    print(f"one report_ui_counter call, Python   {fmt(costs.get('python_us'), 'µs')}")
    print(f"one usage.reportUiCounter (facade)   {fmt(costs.get('facade_us'), 'µs')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runtime", choices=[*RUNTIMES, "both"], default="brython")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runtimes = RUNTIMES if args.runtime == "both" else (args.runtime,)
    with tempfile.TemporaryDirectory() as tmp:
        server, base = start_server(Path(tmp))
        try:
            loader_bytes = len(urllib.request.urlopen(base + "/usage/usage.js").read())
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM)
                print(f"Chromium {browser.version}, server {base}")
                for runtime in runtimes:
                    report(runtime, measure(browser, base, runtime, args.runs), loader_bytes)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)


if __name__ == "__main__":
    main()
