"""usage.js's call protocol (page_calls): the part of the Brython adapter that is pure Python.

Calls come from usage.js's queue, from a queue saved by a tab that closed before Python ran,
and from the adapter's own listeners; all go through ``PageCalls.handle``, which never raises.
"""

import json

import pytest

import usage_reporter
from client.fakes import Harness
from usage_reporter import api
from usage_reporter.page_calls import QUEUE_PREFIX, PageCalls, app_for_path, flush_interval


@pytest.fixture
def booted():
    """A booted page on app "shop": a harness installed as the module API's reporter."""
    api._reset_state()
    harness = Harness()
    usage_reporter.install(harness.reporter, harness.tracker)
    logs, kinds = [], set()

    def log_once(kind, message):  # as the adapter's: one message per kind of problem
        if kind not in kinds:
            kinds.add(kind)
            logs.append(message)

    calls = PageCalls(harness.tracker, log_once)
    calls.handle(["setAppId", ["shop"]])
    yield harness, calls, logs
    api._reset_state()


def sent(harness):
    """Flush; the sent report as ({ui counter key: total}, {app usage key: clicks})."""
    harness.clock.advance(30)
    harness.reporter.flush()
    report = harness.transport.reports[-1]
    harness.transport.respond(200)
    return ({key: entry["total"] for key, entry in report.get("uiCounter", {}).items()},
            {key: entry["numberOfClicks"] for key, entry in report.get("application_usage", {}).items()})


@pytest.mark.parametrize(("paths", "path", "expected"), [
    ({"/app/discover": "discover", "/": "home"}, "/app/discover/doc/1", "discover"),
    ({"/app/discover": "discover", "/": "home"}, "/app/discover", "discover"),
    ({"/app/discover": "discover", "/": "home"}, "/app/discovery", "home"),
    ({"/app/discover": "discover", "/app/": "apps"}, "/app/maps", "apps"),
    ({"/app/discover": "discover"}, "/elsewhere", None),
    ({"/a": "short", "/a/b": "long"}, "/a/b/c", "long"),
    ({}, "/", None),
    (None, "/", None),
    (["/a", "/b"], "/a", None),  # not a mapping: ignored
    ({"": "empty prefix never matches"}, "/x", None),
])
def test_app_for_path_takes_the_longest_whole_segment_prefix(paths, path, expected):
    assert app_for_path(paths, path) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, 30.0), ("", 30.0), ("5", 5.0), (2, 2.0), ("0.2", 1.0), (-3, 1.0), ("soon", 30.0), ("nan", 30.0),
])
def test_flush_interval_reads_text_or_numbers_with_a_floor(value, expected):
    assert flush_interval(value) == expected


def test_facade_calls_reach_the_reporter(booted):
    harness, calls, logs = booted
    calls.handle(["reportUiCounter", ["shop", "count", ["a", "b"], 2]])
    calls.handle(["reportUiCounter", ["shop", "loaded", "home", None]])  # a JS call without count
    counters, _ = sent(harness)
    assert counters == {"shop-count-a": 2, "shop-count-b": 2, "shop-loaded-home": 1}
    assert logs == []


def test_report_ui_stats_is_report_ui_counter_under_opensearch_dashboards_name(booted):
    harness, calls, logs = booted
    calls.handle(["reportUiStats", ["shop", "click", "buy"]])
    calls.handle(["reportUiStats", ["shop", "count", ["a", "b"], 3]])
    calls.handle(["reportUiCounter", ["shop", "click", "buy"]])
    counters, _ = sent(harness)
    assert counters == {"shop-click-buy": 2, "shop-count-a": 3, "shop-count-b": 3}
    assert logs == []


# What usage.js makes of an Event passed to the facade (it copies arguments as JSON).
CLICK_EVENT = {"isTrusted": True}


@pytest.mark.parametrize("args", [[], [CLICK_EVENT], [CLICK_EVENT, "extra", 1]])
def test_opt_out_and_opt_in_ignore_their_arguments(booted, args):
    """``button.addEventListener("click", usage.optOut)`` hands it the click."""
    harness, calls, logs = booted
    calls.handle(["optOut", args])
    assert harness.storage.get("usage_reporter.consent") == "out" and api.is_opted_out()
    calls.handle(["optIn", args])
    assert harness.storage.get("usage_reporter.consent") == "in" and not api.is_opted_out()
    assert logs == []


@pytest.mark.parametrize(("call", "message"), [
    (["setAppId", [CLICK_EVENT]], "app_id must be a string, not dict"),
    (["reportUiCounter", [CLICK_EVENT]], "app_name must be a string, not dict"),
    (["reportUiStats", ["shop", "click", {}]], "event_names"),
])
def test_an_event_where_a_name_is_expected_is_refused_and_nothing_changes(booted, call, message):
    harness, calls, logs = booted
    calls.handle(call)
    calls.handle(["reportUiCounter", ["shop", "click", "after"]])
    counters, _ = sent(harness)
    assert counters == {"shop-click-after": 1} and harness.tracker.app_id == "shop"
    assert len(logs) == 1 and message in logs[0], logs


def test_a_click_counts_for_main_its_views_and_its_data_usage_click(booted):
    harness, calls, _ = booted
    calls.show_views(["cart"])
    calls.handle(["click", ["checkout", ["cart"]]])
    calls.handle(["click", [None, []]])
    counters, app_clicks = sent(harness)
    assert counters == {"shop-click-checkout": 1}
    assert app_clicks == {"shop-main": 2, "shop-cart": 1}


def test_a_click_in_a_view_already_gone_still_counts_for_it(booted):
    harness, calls, _ = booted
    calls.handle(["click", [None, ["flyout"]]])  # usage.js saw the view; Python never did
    _, app_clicks = sent(harness)
    assert app_clicks == {"shop-main": 1, "shop-flyout": 1}
    assert harness.tracker.tracked_views == ["main"]


def test_views_start_and_end_with_the_elements(booted):
    harness, calls, _ = booted
    calls.show_views(["cart", "help"])
    assert harness.tracker.tracked_views == ["main", "cart", "help"]
    calls.show_views(["help"])
    assert harness.tracker.tracked_views == ["main", "help"]
    calls.show_views([])
    assert harness.tracker.tracked_views == ["main"]


@pytest.mark.parametrize(("call", "message"), [
    (["reportUiCounter", ["sh:op", "click", "x"]], 'must not contain ":"'),
    (["reportUiCounter", ["shop", "click", "x", 0]], "count"),
    (["reportUiCounter", []], "app_name"),
    (["setAppId", ["a:b"]], 'must not contain ":"'),
    (["nonesuch", []], "unknown call"),
    (["click", "not a list"], "unknown call"),
    (None, "unknown call"),
    ([], "unknown call"),
])
def test_a_bad_call_is_logged_once_and_never_raises(booted, call, message):
    _, calls, logs = booted
    calls.handle(call)
    calls.handle(call)
    assert len(logs) == 1 and message in logs[0], logs


def test_saved_queues_are_replayed_oldest_first_and_removed(booted):
    harness, calls, logs = booted
    storage = harness.storage
    storage.set(QUEUE_PREFIX + "2000", json.dumps([["setAppId", ["cart"]], ["click", ["pay", []]]]))
    storage.set(QUEUE_PREFIX + "1000", json.dumps([["setAppId", ["shop"]], ["click", ["buy", []]]]))
    storage.set(QUEUE_PREFIX + "3000", "{not json")
    storage.set("unrelated", "[]")
    calls.replay_saved(storage, list(storage.data))
    assert sorted(storage.data) == ["unrelated", harness.reporter.state_key]
    assert harness.tracker.app_id == "cart"  # the later queue ran last
    counters, app_clicks = sent(harness)
    assert counters == {"shop-click-buy": 1, "cart-click-pay": 1}
    assert app_clicks == {"shop-main": 1, "cart-main": 1}
    assert len(logs) == 1 and QUEUE_PREFIX + "3000" in logs[0]
