"""Library mode for Pyodide and PyScript apps: a page that already runs Pyodide installs
usage_reporter from the server's wheel (no micropip) and boots it in its own interpreter,
on the main thread: localStorage, fetch, sendBeacon and DOM listeners used directly. The
page keeps usage.js (data-python="page") for the facade and its early queue."""

from __future__ import annotations

import pytest

from e2e.usage_pages import MARKER, UsagePage, app_usage, clicks, counters, eventually, marker_counted

pytestmark = pytest.mark.e2e


@pytest.fixture
def runtime() -> str:
    return "pyodide"


def test_a_pyodide_app_reports_through_its_own_interpreter(usage_page: UsagePage, app_name: str) -> None:
    base, page = usage_page.base_url, usage_page.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    usage_page.open("pyodide_library.html", app=app_name, flush=1)
    page.wait_for_function("window.pythonReady === true", timeout=60_000)
    installed = page.evaluate("pyodide.runPython('import usage_reporter; usage_reporter.__file__')")
    assert "/site-packages/usage_reporter/" in installed  # loadPackage installed the wheel
    assert page.evaluate("usage.ready.then(() => true)")  # the page's boot() took usage.js over
    assert not [url for url in requested if "pyodide-worker" in url]  # data-python="page": no worker

    page.click("#buy")  # declarative data-usage-click, heard by the library's own listener
    page.click("#in-settings")  # inside the element given to track_application_view
    page.click("#plain")
    page.evaluate("""app => pyodide.runPython(`
import usage_reporter
usage_reporter.report_ui_counter("${app}", "count", "from_python", count=3)
`)""", app_name)

    expected = {("before_python", "loaded"): 1, ("page", "loaded"): 1, ("charts", "loaded"): 1, ("buy", "click"): 1,
                ("from_python", "count"): 3}
    eventually(lambda: counters(base, app_name), lambda value: value == expected, page=page)
    eventually(lambda: clicks(base, app_name), lambda value: value == {"main": 3, "settings": 1}, page=page)

    page.evaluate("pyodide.runPython('settings.stop()')")
    page.click("#in-settings")  # the view ended: main only
    page.goto("about:blank")  # the page's own sendBeacon at pagehide
    eventually(lambda: clicks(base, app_name), lambda value: value == {"main": 4, "settings": 1})
    assert app_usage(base, app_name)["settings"][0] > 0
    # Nothing counted twice: a later page of the site (which also resends anything left in
    # localStorage, under the same reportIds) reports a marker; once it lands, counts are final.
    later = UsagePage(page.context.new_page(), base, "brython").open(app=app_name + "_next")
    later.ready()
    marker_counted(later, app_name)
    assert counters(base, app_name) == {**expected, (MARKER, "count"): 1}
