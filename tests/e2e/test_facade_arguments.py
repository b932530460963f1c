"""window.usage's facade given arguments no reporter can use (issue 14), in both runtimes.

Pages pass whatever they have: a DOM element, an Event, an object with a method, an
object that refers to itself; and they hand facade functions to ``addEventListener``
directly, so the function gets the Event. The facade must refuse such a call alone: the
calls around it are counted, ``usage.ready`` resolves, nothing throws into the page, and
``optOut``/``optIn`` ignore their arguments (an opt-out button must opt out).
"""

from __future__ import annotations

from typing import Callable

import pytest
from playwright.sync_api import BrowserContext, Route

from e2e.usage_pages import UsagePage, clicks, counters, eventually

pytestmark = pytest.mark.e2e

CONSENT_KEY = "usage_reporter.consent"

# Calls no reporter can use, each between two good ones. ``app`` is the test's app name.
BAD_CALLS = """app => {
    const looped = {name: "looped"};
    looped.self = looped;
    const good = name => usage.reportUiCounter(app, "count", name);
    good("first");
    usage.reportUiCounter(app, "count", document.body);                   // a DOM element
    good("second");
    usage.reportUiCounter(app, "count", new MouseEvent("click"));         // an Event
    good("third");
    usage.reportUiCounter(app, "count", {name: "x", toString() { return "x" }});  // with a method
    good("fourth");
    usage.reportUiCounter(app, "count", looped);                           // not JSON at all
    usage.setAppId(new Event("click"));                                    // an Event for a string
    usage.reportUiStats(app, "count", [document.head]);
    good("fifth");
    return window.usage.h === undefined;                                   // true: all were queued
}"""

def hold_the_runtime(usage_page: UsagePage) -> Callable[[], None]:
    """Keep the page's boot script back until ``release()``: however fast the runtime boots,
    calls made meanwhile are surely queued by usage.js."""
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)

    usage_page.page.route("**/usage/boot-*.js", hold)

    def release() -> None:
        eventually(lambda: len(held), lambda count: count == 1, page=usage_page.page)  # requested after load
        held[0].continue_()

    return release


EXPECTED = {("first", "count"): 1, ("second", "count"): 1, ("third", "count"): 1, ("fourth", "count"): 1,
            ("fifth", "count"): 1}


def test_uncloneable_arguments_before_ready_are_refused_alone(usage_page: UsagePage, app_name: str) -> None:
    release = hold_the_runtime(usage_page)
    usage_page.open(app=app_name)
    assert usage_page.page.evaluate(BAD_CALLS, app_name) is True, "Python was up already: nothing was queued"
    release()
    usage_page.ready()  # the queue replay went through every call
    usage_page.page.click("#buy")  # and the app id is still the page's own
    usage_page.page.evaluate("app => usage.reportUiCounter(app, 'count', 'live')", app_name)

    expected = {**EXPECTED, ("buy", "click"): 1, ("live", "count"): 1}
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == expected,
               page=usage_page.page)
    assert clicks(usage_page.base_url, app_name)["main"] == 1


def test_uncloneable_arguments_after_ready_are_refused_alone(usage_page: UsagePage, app_name: str) -> None:
    usage_page.open(app=app_name)
    usage_page.ready()
    assert usage_page.page.evaluate(BAD_CALLS, app_name) is False  # each went to Python at once
    usage_page.page.click("#buy")

    expected = {**EXPECTED, ("buy", "click"): 1}
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == expected,
               page=usage_page.page)


def test_a_queue_saved_with_a_bad_call_in_it_still_delivers_the_rest(usage_page: UsagePage, app_name: str,
                                                                       context: BrowserContext) -> None:
    # The runtime never arrives: usage.js saves its queue at pagehide, the next page replays it.
    usage_page.page.route("**/usage/boot-*.js", lambda route: None)
    usage_page.open(app=app_name, flush=3600)
    assert usage_page.page.evaluate(BAD_CALLS, app_name) is True
    usage_page.page.goto("about:blank")

    later = UsagePage(context.new_page(), usage_page.base_url, usage_page.runtime)
    later.open(app=app_name + "_next")
    later.ready()
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == EXPECTED, page=later.page)
    assert later.unexpected_problems() == []


@pytest.mark.parametrize("when", ["before_ready", "after_ready"])
def test_opt_out_as_a_click_handler_opts_out(usage_page: UsagePage, app_name: str, when: str) -> None:
    page = usage_page.page
    release = hold_the_runtime(usage_page)
    usage_page.open(app=app_name)
    page.evaluate("""app => {
        usage.reportUiCounter(app, "count", "before_opt_out");
        const button = document.createElement("button");
        button.id = "opt-out";
        button.addEventListener("click", usage.optOut);
        const again = document.createElement("button");
        again.id = "opt-in";
        again.addEventListener("click", usage.optIn);
        document.body.append(button, again);
    }""", app_name)
    if when == "before_ready":
        assert page.evaluate("window.usage.h === undefined")
        page.click("#opt-out")  # usage.optOut(event), queued
        release()
    else:
        release()
        usage_page.ready()
        eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == {
            ("before_opt_out", "count"): 1}, page=page)
        page.click("#opt-out")  # usage.optOut(event), handled at once
    page.wait_for_function("key => localStorage.getItem(key) === 'out'", arg=CONSENT_KEY)
    usage_page.ready()
    page.click("#buy")
    page.evaluate("app => usage.reportUiCounter(app, 'count', 'while_out')", app_name)
    usage_page.set_hidden(True)  # would beacon
    usage_page.set_hidden(False)
    page.click("#opt-in")  # usage.optIn(event): what follows counts again
    page.wait_for_function("key => localStorage.getItem(key) === 'in'", arg=CONSENT_KEY)
    page.evaluate("app => usage.reportUiCounter(app, 'count', 'after_opt_in')", app_name)

    # Once what came after the opt-in landed, nothing of what happened while out did.
    expected = {("after_opt_in", "count"): 1}
    if when == "after_ready":
        expected[("before_opt_out", "count")] = 1  # sent before the visitor opted out
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == expected, page=page)
    sent = [request.post_data or "" for request in usage_page.reports]
    assert not [body for body in sent if "while_out" in body or '"buy"' in body], sent


def test_report_ui_stats_counts_as_report_ui_counter(usage_page: UsagePage, app_name: str) -> None:
    """OpenSearch Dashboards' ``reportUiStats(appName, type, eventNames, count?)``."""
    release = hold_the_runtime(usage_page)
    usage_page.open(app=app_name)
    usage_page.page.evaluate("app => usage.reportUiStats(app, 'loaded', ['home', 'menu'])", app_name)  # queued
    release()
    usage_page.ready()
    usage_page.page.evaluate("""app => {
        usage.reportUiStats(app, "count", "rows_exported", 25);
        usage.reportUiStats(app, "click", "open_doc");
        usage.reportUiCounter(app, "click", "open_doc");
    }""", app_name)

    expected = {("home", "loaded"): 1, ("menu", "loaded"): 1, ("rows_exported", "count"): 25,
                ("open_doc", "click"): 2}
    eventually(lambda: counters(usage_page.base_url, app_name), lambda value: value == expected,
               page=usage_page.page)
