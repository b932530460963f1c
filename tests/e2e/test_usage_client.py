"""The browser client end to end: pages with usage.js in Chromium, counts read from /api/stats.

Each test runs once per runtime (the ``runtime`` fixture) against a real server process.
Pages flush every second (``data-flush-interval``); waits poll /api/stats with a deadline.
"""

from __future__ import annotations

import time
from typing import Callable

import pytest
from playwright.sync_api import BrowserContext, Page

from e2e.usage_pages import (MARKER, NETWORK_NOISE, REPORT_PATH, UsagePage, app_usage, clicks, counters, eventually,
                             marker_counted, stays)
from support.live_server import LiveServer

pytestmark = pytest.mark.e2e


def test_clicks_loads_and_counts_land_with_exact_totals(usage_page: UsagePage, app_name: str) -> None:
    base = usage_page.base_url
    # While the page loads, so before Python can be up: a facade call, a declarative click, a
    # click inside a sub-view (inline scripts of the page, run before the load event).
    usage_page.open(app=app_name, early="page_start", clicks="buy,in-cart")
    usage_page.page.evaluate("app => usage.reportUiCounter(app, 'count', ['a', 'b'], 2)", app_name)
    usage_page.ready()
    usage_page.page.click("#buy")
    usage_page.page.click("#plain")
    usage_page.page.evaluate("app => usage.reportUiCounter(app, 'loaded', 'chart')", app_name)

    expected = {("page_start", "loaded"): 1, ("buy", "click"): 2, ("checkout", "click"): 1,
                ("a", "count"): 2, ("b", "count"): 2, ("chart", "loaded"): 1}
    eventually(lambda: counters(base, app_name), lambda value: value == expected)
    eventually(lambda: clicks(base, app_name), lambda value: value == {"main": 4, "cart": 1})
    marker_counted(usage_page, app_name)  # later flushes add nothing but the marker
    assert counters(base, app_name) == {**expected, (MARKER, "count"): 1}


def test_sub_view_clicks_count_for_the_view_and_for_main(usage_page: UsagePage, app_name: str) -> None:
    usage_page.open(app=app_name)
    usage_page.ready()
    usage_page.page.evaluate("""() => {
        const panel = document.createElement("div");
        panel.setAttribute("data-usage-view", "flyout");
        panel.innerHTML = '<span><button id="deep">Deep</button></span>';
        document.body.appendChild(panel);
    }""")
    usage_page.page.click("#deep")
    usage_page.page.click("#deep")
    usage_page.page.click("#plain")
    eventually(lambda: app_usage(usage_page.base_url, app_name).get("flyout", (0.0, 0))[0],
               lambda minutes: minutes > 0)  # a flush reported time on screen for the open view
    usage_page.page.evaluate("document.querySelector('[data-usage-view=flyout]').remove()")
    usage_page.page.click("#plain")  # after the view left: main only

    views = eventually(lambda: app_usage(usage_page.base_url, app_name),
                       lambda value: {view: total for view, (_m, total) in value.items()}
                       == {"main": 4, "flyout": 2, "cart": 0})
    assert views["flyout"][0] > 0, "the sub-view's time on screen was not reported"


def test_minutes_on_screen_grow_while_visible_and_stop_while_hidden(usage_page: UsagePage, app_name: str) -> None:
    base = usage_page.base_url

    def main_minutes() -> float:
        return app_usage(base, app_name).get("main", (0.0, 0))[0]

    usage_page.open(app=app_name)
    usage_page.ready()
    first = eventually(main_minutes, lambda minutes: minutes > 0)
    eventually(main_minutes, lambda minutes: minutes > first)  # every flush folds the time in

    usage_page.set_hidden(True)
    marker_counted(usage_page, app_name, "hidden_1")  # queued after what the hiding beaconed: that is stored
    hidden_at = main_minutes()
    marker_counted(usage_page, app_name, "hidden_2")  # a later flush, still hidden, a second or more on
    assert main_minutes() == hidden_at

    usage_page.set_hidden(False)
    eventually(main_minutes, lambda minutes: minutes > hidden_at)


def test_a_tab_closed_right_after_a_click_still_delivers_it(usage_page: UsagePage, app_name: str) -> None:
    usage_page.open(app=app_name, flush=3600)  # only the unload beacon can deliver in time
    usage_page.ready()
    usage_page.page.click("#buy")
    # Brython handles the click at once; Pyodide's worker confirms it ~10 ms later (a tab
    # closed before that hands the click to the next page load instead of the beacon).
    usage_page.page.wait_for_function("!window.usage.unconfirmed")
    usage_page.page.goto("about:blank")  # a real visibilitychange + pagehide

    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == {("buy", "click"): 1})
    assert clicks(usage_page.base_url, app_name)["main"] == 1


def test_two_open_tabs_count_each_event_once(usage_page: UsagePage, context: BrowserContext, app_name: str) -> None:
    first = usage_page.open(app=app_name, flush=3600)  # nothing leaves before the tabs hide
    first.ready()
    for _ in range(3):
        first.page.click("#buy")
    first.page.wait_for_function("!window.usage.unconfirmed")  # stored by the first tab
    second = UsagePage(context.new_page(), usage_page.base_url, usage_page.runtime).open(app=app_name, flush=3600)
    second.ready()  # it finds the first tab's unsent clicks in localStorage: not its to send
    for _ in range(2):
        second.page.click("#buy")
    second.page.wait_for_function("!window.usage.unconfirmed")

    for tab in (first, second):
        tab.page.goto("about:blank")  # each beacons what it holds
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == {("buy", "click"): 5})
    assert clicks(usage_page.base_url, app_name)["main"] == 5
    third = UsagePage(context.new_page(), usage_page.base_url, usage_page.runtime).open(app=app_name + "_3")
    third.ready()  # resends what the closed tabs left, under the same reportIds
    marker_counted(third, app_name)  # sent after the closed tabs' reports it resends
    assert counters(usage_page.base_url, app_name) == {("buy", "click"): 5, (MARKER, "count"): 1}
    assert second.unexpected_problems() == [] and third.unexpected_problems() == []


def test_a_tab_closed_before_the_runtime_is_up_loses_nothing(usage_page: UsagePage, app_name: str,
                                                             context: BrowserContext) -> None:
    # Hold this page's runtime back (its boot script never arrives), so the tab surely closes
    # before Python runs, however slow the machine. The next page loads normally.
    usage_page.page.route("**/usage/boot-*.js", lambda route: None)
    usage_page.open(app=app_name, flush=3600, clicks="buy")
    usage_page.page.evaluate("app => usage.reportUiCounter(app, 'count', 'early')", app_name)
    assert not usage_page.python_is_up()
    usage_page.page.goto("about:blank")  # usage.js saves its queue at pagehide

    later = UsagePage(context.new_page(), usage_page.base_url, usage_page.runtime)
    later.open(app=app_name + "_next")  # another page of the site: replays the saved queue
    later.ready()
    eventually(lambda: counters(usage_page.base_url, app_name),
               lambda value: value == {("buy", "click"): 1, ("early", "count"): 1})
    assert clicks(usage_page.base_url, app_name)["main"] == 1
    assert later.unexpected_problems() == []


def test_a_report_survives_the_tab_while_the_server_is_down_and_counts_once(
        context: BrowserContext, own_server: Callable[..., LiveServer],
        watch_page: Callable[[Page, str], UsagePage], app_name: str) -> None:
    server = own_server()
    usage = watch_page(context.new_page(), server.url)
    usage.allow(*NETWORK_NOISE)
    usage.open(app=app_name)
    usage.ready()
    eventually(lambda: len(usage.reports), lambda count: count >= 1, page=usage.page)  # user agent sent

    failed: list[str] = []  # bodies of report requests that got no answer
    context.on("requestfailed", lambda request: failed.append(request.post_data or "")
               if request.url.endswith(REPORT_PATH) else None)
    server.stop()
    usage.page.click("#buy")
    usage.page.click("#buy")
    usage.page.evaluate("app => usage.reportUiCounter(app, 'count', 'offline', 3)", app_name)
    # A flush after them failed: the events are in that report or still buffered behind the
    # unacknowledged one it retried (the client sends one report at a time); both stay in
    # localStorage for the next page.
    failures_before = len(failed)
    eventually(lambda: len(failed), lambda count: count > failures_before, page=usage.page)
    usage.page.close(run_before_unload=True)  # its beacon fails too

    server.start()  # same port, same database
    again = watch_page(context.new_page(), server.url).open(app=app_name)
    again.ready()
    expected = {("buy", "click"): 2, ("offline", "count"): 3}
    eventually(lambda: counters(server.url, app_name), lambda value: value == expected, page=again.page)
    eventually(lambda: clicks(server.url, app_name).get("main"), lambda total: total == 2, page=again.page)
    marker_counted(again, app_name)  # sent after everything the earlier tab left
    assert counters(server.url, app_name) == {**expected, (MARKER, "count"): 1}


@pytest.mark.parametrize("how", ["facade", "gpc", "other_tab"])
def test_an_opted_out_visitor_sends_nothing(usage_page: UsagePage, context: BrowserContext, app_name: str,
                                            how: str) -> None:
    if how == "gpc":
        context.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})")
    usage_page.open(app=app_name)
    if how == "facade":
        usage_page.page.evaluate("usage.optOut()")  # queued: Python applies it first thing
    elif how == "other_tab":
        other = UsagePage(context.new_page(), usage_page.base_url, usage_page.runtime).open(app=app_name)
        other.ready()
        usage_page.ready()
        eventually(lambda: len(usage_page.reports), lambda count: count >= 2, page=usage_page.page)
        other.page.evaluate("usage.optOut()")  # applies in this tab at once (storage event)
        usage_page.page.wait_for_timeout(200)
        usage_page.reports.clear()
    usage_page.ready()
    usage_page.page.click("#buy")
    usage_page.page.evaluate("app => usage.reportUiCounter(app, 'count', 'x')", app_name)
    usage_page.set_hidden(True)  # would beacon
    usage_page.set_hidden(False)
    if how == "other_tab":
        other.page.close()  # opted out too: it must not have sent anything either; it sends nothing after
    # Opting in again, with a marker in the same call: once the marker is counted, whatever
    # the page sent or kept while opted out has been sent before it or with it.
    usage_page.page.evaluate("([app, marker]) => { usage.optIn(); usage.reportUiCounter(app, 'count', marker) }",
                             [app_name, MARKER])
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value != {}, page=usage_page.page)

    assert counters(usage_page.base_url, app_name) == {(MARKER, "count"): 1}
    # Playwright may hand over the request event after the server answered: wait for it. Events
    # come in order, so every request the page made before the marker's is in the list then.
    eventually(lambda: [request.post_data or "" for request in usage_page.reports],
               lambda bodies: any(MARKER in body for body in bodies), page=usage_page.page)
    sent = [request.post_data or "" for request in usage_page.reports]
    assert sent and all(MARKER in body for body in sent), sent  # no request before opting in again


def test_global_privacy_control_is_ignored_when_the_server_says_so(
        page: Page, own_server: Callable[..., LiveServer], watch_page: Callable[[Page, str], UsagePage],
        app_name: str) -> None:
    server = own_server(USAGE_HONOR_GPC="false")
    page.context.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})")
    usage = watch_page(page, server.url).open(app=app_name)
    usage.ready()
    page.click("#buy")
    eventually(lambda: counters(server.url, app_name), lambda value: value == {("buy", "click"): 1}, page=page)


def test_a_rate_limited_page_backs_off_and_loses_nothing(
        page: Page, own_server: Callable[..., LiveServer], watch_page: Callable[[Page, str], UsagePage],
        app_name: str) -> None:
    server = own_server(USAGE_RATE_LIMIT_PER_MINUTE="2", USAGE_LIMITS_EXEMPT="")  # loopback counts too
    answers: list[tuple[float, int]] = []  # (when, status) of every report request
    page.context.on("response", lambda response: answers.append((time.monotonic(), response.status))
                    if response.url.endswith(REPORT_PATH) else None)
    usage = watch_page(page, server.url)
    usage.allow(*NETWORK_NOISE)  # Chromium logs each 429
    usage.open(app=app_name)  # flushes every second
    usage.ready()
    clicked = 0
    while not any(status == 429 for _, status in answers):  # at most 2 a minute get through
        assert clicked < 8, answers
        page.click("#buy")
        clicked += 1
        page.wait_for_timeout(1500)
    refused_at = next(when for when, status in answers if status == 429)
    page.click("#buy")  # while backing off: kept with the refused report
    clicked += 1
    # The first back-off is 5 s spread by +-50%, so at least 2.5 s (or the Retry-After, when
    # longer, which near the end of the limiter's minute may be 1 s): nothing within 2 s.
    page.wait_for_timeout(2000)
    assert [status for when, status in answers if when > refused_at] == []  # no retry before the back-off

    server.env["USAGE_RATE_LIMIT_PER_MINUTE"] = "0"  # the limit is lifted
    server.restart()
    usage.set_hidden(True)  # the visitor leaves before Retry-After (up to a minute): beacons carry it all
    eventually(lambda: counters(server.url, app_name), lambda value: value == {("buy", "click"): clicked},
               timeout=30, page=page)
    stays(lambda: counters(server.url, app_name), {("buy", "click"): clicked}, seconds=2, page=page)


def test_a_disabled_reporter_sends_nothing(page: Page, own_server: Callable[..., LiveServer],
                                           watch_page: Callable[[Page, str], UsagePage], app_name: str) -> None:
    server = own_server(USAGE_UI_COUNTERS_ENABLED="false")
    usage = watch_page(page, server.url).open(app=app_name)
    page.click("#buy")
    usage.ready()
    page.click("#buy")
    page.evaluate("app => usage.reportUiCounter(app, 'count', 'x')", app_name)
    page.wait_for_timeout(2500)
    stored = page.evaluate("Object.keys(localStorage).filter(key => key.startsWith('usage_reporter'))")
    page.goto("about:blank")

    assert usage.reports == []
    assert counters(server.url, app_name) == {}
    assert stored == []


def test_a_report_the_server_refuses_is_dropped_and_reporting_goes_on(
        page: Page, own_server: Callable[..., LiveServer], watch_page: Callable[[Page, str], UsagePage]) -> None:
    app_name = "shop"  # its own server: names must fit the 40 characters it allows
    server = own_server(USAGE_MAX_NAME_LENGTH="40")  # the client allows 256: a real 400
    usage = watch_page(page, server.url)
    usage.allow(*NETWORK_NOISE)
    statuses: list[int] = []
    page.on("response", lambda response: statuses.append(response.status)
            if response.request in usage.reports else None)
    usage.open(app=app_name)
    usage.ready()
    eventually(lambda: statuses, lambda seen: 200 in seen, page=page)
    page.evaluate("app => usage.reportUiCounter(app, 'click', 'x'.repeat(60))", app_name)
    eventually(lambda: statuses, lambda seen: 400 in seen, page=page)
    page.click("#buy")

    eventually(lambda: counters(server.url, app_name), lambda value: value == {("buy", "click"): 1})
    assert statuses.count(400) == 1, statuses  # dropped, not retried


def test_an_unknown_runtime_logs_one_console_error_and_throws_nothing(page: Page, e2e_server: LiveServer) -> None:
    usage_page = UsagePage(page, e2e_server.url, "nonesuch")  # once, whatever the runtimes under test
    usage_page.allow(*NETWORK_NOISE, "usage.js: cannot load runtime nonesuch")
    usage_page.open()
    eventually(lambda: usage_page.problems, lambda problems: problems != [], page=usage_page.page)  # it gave up
    usage_page.page.click("#buy")
    usage_page.page.evaluate("usage.reportUiCounter('shop', 'count', 'x')")
    ours = [problem for problem in usage_page.problems if "usage.js" in problem]
    assert ours == ["console.error: usage.js: cannot load runtime nonesuch"]
    assert not usage_page.python_is_up()
    assert usage_page.unexpected_problems() == []


def test_the_app_id_follows_single_page_navigation(usage_page: UsagePage, app_name: str) -> None:
    page = usage_page.page
    usage_page.open("spa.html", app=app_name)
    usage_page.ready()
    page.click("#plain")  # data-app-id
    page.evaluate("history.pushState({}, '', '/e2e/spa/discover/doc-1')")  # data-app-paths, longest prefix
    page.click("#plain")
    page.click("#plain")
    page.evaluate("""app => {
        document.body.setAttribute('data-usage-app', app + '_settings');  // wins over the paths
        history.pushState({}, '', '/e2e/spa/settings');
    }""", app_name)
    page.click("#plain")
    page.evaluate("document.body.removeAttribute('data-usage-app'); history.back()")  # popstate
    page.wait_for_function("location.pathname == '/e2e/spa/discover/doc-1'")
    page.click("#plain")
    page.evaluate("app => usage.setAppId(app + '_direct')", app_name)  # the facade always works
    page.click("#plain")

    expected = {"home": 1, "discover": 3, "settings": 1, "direct": 1}
    eventually(lambda: {app: clicks(usage_page.base_url, f"{app_name}_{app}").get("main") for app in expected},
               lambda value: value == expected)
    assert clicks(usage_page.base_url, f"{app_name}_other") == {}


def test_a_bad_call_logs_one_console_error_and_reporting_goes_on(usage_page: UsagePage, app_name: str) -> None:
    usage_page.allow('must not contain ":"')
    usage_page.open(app=app_name)
    usage_page.page.evaluate("usage.reportUiCounter('bad:app', 'click', 'x')")  # queued, then refused
    usage_page.ready()
    for _ in range(2):  # facade calls after boot return normally; the error is logged once
        assert usage_page.page.evaluate("usage.reportUiCounter('bad:app', 'click', 'x')") is None
    usage_page.page.evaluate("app => usage.reportUiCounter(app, 'click', 'good')", app_name)

    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == {("good", "click"): 1})
    ours = [text for kind, text in usage_page.console if "bad:app" in text and kind in ("error", "warning")]
    assert len(ours) == 1 and 'must not contain ":"' in ours[0], usage_page.console
