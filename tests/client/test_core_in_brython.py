"""The core in real Brython (3.15, in headless Chromium), the runtime most pages use.

Two pages, served from a temporary folder by a local static server:

- ``brython.js`` alone, as in production (no ``brython_stdlib.js``): the core imports,
  our JSON codec agrees with the browser's own ``JSON`` on many values, and a reporter
  records, builds a report, retries with the same reportId and clears its storage;
- ``brython.js`` + ``brython_stdlib.js`` (the tests need ``json``): the pytest-free unit
  test modules run, and every test CPython found must run and pass.

``test_json`` is left out of the second page: its oracle is the stdlib ``json``, which in
Brython is a different implementation; the first page checks the codec against the
browser's ``JSON`` instead.
"""

import functools
import http.server
import importlib.util
import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from client.test_core_in_pyodide import PURE_TEST_MODULES, cpython_test_ids

REPO = Path(__file__).resolve().parents[2]
ADAPTERS = {"_brython.py", "_brython_worker.py", "_pyodide.py", "_pyodide_worker.py", "browser.py"}
MODULES = [name for name in PURE_TEST_MODULES if name != "client.test_json"]

CORE_PAGE = r'''
from browser import window
failed = []
checks = []


def check(name, ok):
    checks.append(name)
    if not ok:
        failed.append(name)


try:
    import usage_reporter
    from usage_reporter import METRIC_TYPE, ApplicationUsageTracker, Reporter, _json

    values = [None, True, False, 0, -7, 2**53 - 1, 0.1, 2.5, -1.25, 1e-7, 1e21, 5e-324, "", "plain",
              'quote " backslash \\ slash /', "\n\r\t\b\f\x00\x1f\x7f", "é 日本語 \U0001F600 \u2028",
              "lone \ud800 \udfff", [], {}, [1, [2, [3, {"a": None}]]],
              {"k\"ey": {"nested": ["x\\y", 1.5]}, "日本": "語"}]
    # parse and stringify inside JS: a value must not pass through Python between them
    rewrite = window.eval("(function (text) { return JSON.stringify(JSON.parse(text)) })")
    for value in values:
        text = _json.dumps(value)
        native = rewrite(text)
        check("browser reads our JSON " + text, _json.loads(native) == value)
        check("our JSON round trip " + text, _json.dumps(_json.loads(text)) == text)

    class Storage:
        def __init__(self):
            self.data = {}

        def get(self, key):
            return self.data.get(key)

        def set(self, key, value):
            self.data[key] = value

        def remove(self, key):
            self.data.pop(key, None)

    class Transport:
        def __init__(self):
            self.sent = []
            self.answers = []

        def send(self, body, on_result):
            self.sent.append(body)
            self.answers.append(on_result)

        def beacon(self, body):
            return True

    now = [1700000000000.0]
    storage, transport, logs = Storage(), Transport(), []
    reporter = Reporter(clock=lambda: now[0], storage=storage, transport=transport,
                        new_id=lambda: "id-" + str(len(transport.sent)), log=logs.append)
    tracker = ApplicationUsageTracker(reporter, lambda: now[0])
    tracker.set_app_id("shop")
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, ["buy", "buy"], 2)
    reporter.report_user_agent('Agent "q" \\ é \U0001F600')
    try:
        reporter.report_ui_counter("a:b", "click", "x")
        check("a colon in app_name raises ValueError", False)
    except ValueError as exc:
        check("a colon in app_name raises ValueError", "must not contain" in str(exc))
    tracker.track_view("cart")
    tracker.click(["cart"])
    from javascript import JSON  # built into brython.js: the fast parser an adapter may inject
    # The tab's state read back as the Pyodide worker's preview reads it (its own key).
    reloaded = Reporter(clock=lambda: now[0], storage=storage, transport=Transport(), new_id=lambda: "x",
                        tab_id=reporter.tab_id, adopt=False)
    native = Reporter(clock=lambda: now[0], storage=storage, transport=Transport(), new_id=lambda: "x",
                      tab_id=reporter.tab_id, adopt=False, json_loads=JSON.parse)
    pure_copy, native_copy = reloaded.take_current(), native.take_current()
    check("a reload reads the stored buffer back", pure_copy["uiCounter"]["shop-click-buy"]["total"] == 4)
    check("javascript.JSON.parse reads the same state", native_copy == pure_copy)
    for second in range(30):
        now[0] += 1000
        reporter.tick()
    check("one report after 30 s", len(transport.sent) == 1)
    report = window.JSON.parse(transport.sent[0]).report
    check("the report is v3 with a reportId", report.reportVersion == 3 and report.reportId == "id-0")
    check("counters summed", report.uiCounter["shop-click-buy"].total == 4)
    check("user agent kept", report.userAgent["kibana-user_agent"].userAgent == 'Agent "q" \\ é \U0001F600')
    check("half a minute on main", report.application_usage["shop-main"].minutesOnScreen == 0.5)
    check("the sub-view click counted", report.application_usage["shop-cart"].numberOfClicks == 1)
    transport.answers[0](503, None)
    for second in range(5):
        now[0] += 1000
        reporter.tick()
    check("resent with the same reportId after a 503", transport.sent[1:] == transport.sent[:1])
    transport.answers[1](200, None)
    check("storage keeps only the time folded since", "uiCounter" not in storage.data[reporter.state_key])
    usage_reporter.install(reporter, tracker)
    with usage_reporter.track_application_view("dialog"):
        check("a view is tracked inside the with block", "dialog" in tracker.tracked_views)
    reporter.opt_out()
    check("opting out clears storage", storage.data == {"usage_reporter.consent": "out"})
except BaseException as exc:
    failed.append("error: " + type(exc).__name__ + ": " + str(exc))
window.result = _json.dumps({"checks": len(checks), "failed": failed})
'''

TESTS_PAGE = r'''
from browser import window
import json
tests, failed = [], []
for module_name in MODULES:
    try:
        module = __import__(module_name, fromlist=["_"])
    except BaseException as exc:
        failed.append({"test": module_name, "error": "import failed: " + repr(exc)})
        continue
    for name, fn in list(vars(module).items()):
        if name.startswith("test_") and callable(fn) and getattr(fn, "__module__", None) == module_name:
            tests.append(module_name + "::" + name)
            try:
                fn()
            except BaseException as exc:
                failed.append({"test": tests[-1], "error": type(exc).__name__ + ": " + str(exc)[:500]})
window.result = json.dumps({"tests": tests, "failed": failed})
'''


def brython_data():
    spec = importlib.util.find_spec("brython")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "data" / "brython.js").exists():
            return Path(folder) / "data"
    return None


def write_site(root):
    data = brython_data()
    for name in ("brython.js", "brython_stdlib.js"):
        shutil.copy(data / name, root / name)
    (root / "py" / "usage_reporter").mkdir(parents=True)
    (root / "py" / "client").mkdir()
    for path in (REPO / "client" / "usage_reporter").glob("*.py"):
        if path.name not in ADAPTERS:
            shutil.copy(path, root / "py" / "usage_reporter" / path.name)
    for name in ["__init__", "fakes"] + [module.split(".")[1] for module in MODULES]:
        shutil.copy(REPO / "tests" / "client" / f"{name}.py", root / "py" / "client" / f"{name}.py")
    head = '<!doctype html><html><head><meta charset="utf-8"><script src="/brython.js"></script>'
    options = '<brython-options pythonpath="/py"></brython-options></head><body><script type="text/python">'
    tests_code = f"MODULES = {json.dumps(MODULES)}\n" + TESTS_PAGE
    (root / "core.html").write_text(head + options + CORE_PAGE + "</script></body></html>", encoding="utf-8")
    (root / "tests.html").write_text(head + '<script src="/brython_stdlib.js"></script>' + options + tests_code
                                     + "</script></body></html>", encoding="utf-8")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def run_pages(root, chromium):
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    results = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            try:
                page = browser.new_page()
                for name in ("core", "tests"):
                    began = time.monotonic()
                    page.goto(base + name + ".html")
                    page.wait_for_function("window.result !== undefined", timeout=60000)
                    results[name] = json.loads(page.evaluate("window.result"))
                    results[name]["seconds"] = round(time.monotonic() - began, 1)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return results


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_core_runs_in_brython(tmp_path):
    chromium = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if chromium is None:
        pytest.skip("Chromium is not installed (scripts/setup --browser installs Debian's chromium)")
    if importlib.util.find_spec("playwright") is None or brython_data() is None:
        pytest.skip("playwright or brython is not installed (scripts/setup installs the test extras)")
    write_site(tmp_path)
    results = run_pages(tmp_path, chromium)
    core = results["core"]
    assert core["failed"] == [] and core["checks"] > 40, core
    tests = results["tests"]
    failures = "\n".join(f"{item['test']}: {item['error']}" for item in tests["failed"])
    assert tests["failed"] == [], failures
    expected = [test_id for test_id in cpython_test_ids() if not test_id.startswith("client.test_json::")]
    assert tests["tests"] == expected
