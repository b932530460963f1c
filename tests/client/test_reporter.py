"""The reporter: buffer, storage, reports with reportId, flush schedule and retry policy.

Every test drives time with a fake clock and answers sends explicitly: record, let time
pass (ticking once a second like the adapters), answer, assert what was sent and stored.
"""

import json

from client.fakes import DictStorage, FakeClock, Harness, counted, raises
from usage_reporter import METRIC_TYPE
from usage_reporter.reporter import Reporter


def counter(app, kind, event, total):
    key = f"{app}-{kind}-{event}"
    return {key: {"key": key, "appName": app, "eventName": event, "type": kind, "total": total}}


def seconds_until_send(harness, limit=4000):
    """Tick once a second until a new send starts; how many seconds that took."""
    before = len(harness.transport.sent)
    for second in range(1, limit + 1):
        harness.clock.advance(1)
        harness.reporter.tick()
        if len(harness.transport.sent) > before:
            return second
    raise AssertionError(f"nothing was sent within {limit} s")


def test_counters_with_the_same_key_are_summed():
    harness = Harness()
    reporter = harness.reporter
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy")
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy", count=3)
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, ["buy", "share"])
    reporter.report_ui_counter("shop", METRIC_TYPE.LOADED, "buy")
    reporter.flush()
    [report] = harness.transport.reports
    assert report["uiCounter"] == {**counter("shop", "click", "buy", 5), **counter("shop", "click", "share", 1),
                                   **counter("shop", "loaded", "buy", 1)}


def test_every_change_is_persisted_at_once():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored()["current"]["uiCounter"] == counter("shop", "click", "buy", 1)
    harness.reporter.report_ui_counter("shop", "click", "buy", 2)
    assert harness.stored()["current"]["uiCounter"] == counter("shop", "click", "buy", 3)
    assert harness.stored()["pending"] == []
    assert harness.storage.writes == 2


def test_a_reload_loses_nothing_and_counts_nothing_twice():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy", 2)
    harness.reporter.report_application_usage("shop", "main", 1.5, 4)
    beacons = harness.transport  # the page hides: it beacons, and the next page resends
    harness.reload()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.run(31)
    harness.transport.respond(200)
    harness.run(31)
    assert len(harness.transport.reports) == 2
    assert counted(beacons.beacon_reports, harness.transport.reports) == (
        {"shop-click-buy": 3}, {"shop-main": (1.5, 4)})


def test_a_new_tab_leaves_a_live_tabs_unsent_events_alone():
    first = Harness()
    first.reporter.report_ui_counter("shop", "click", "buy", 2)
    first.reporter.flush()  # one report in flight
    first.reporter.report_ui_counter("shop", "click", "more")  # and one in the buffer
    stored = dict(first.storage.data)
    first.storage.writes = 0
    second = Harness(storage=first.storage)  # another tab opens, the first one still runs
    second.run(100)
    assert second.transport.sent == [] and first.storage.writes == 0
    assert {key: first.storage.data[key] for key in stored} == stored
    first.transport.respond(200)
    first.run(31)
    first.transport.respond(200)
    assert counted(first.transport.reports, second.transport.reports) == (
        {"shop-click-buy": 2, "shop-click-more": 1}, {})


def test_hiding_stores_the_state_in_one_write_already_marked_closed():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.storage.writes = 0
    harness.reporter.flush_beacon()  # a page may die between two writes: never leave it half-closed
    assert harness.storage.writes == 1
    stored = harness.stored()
    assert stored["closed"] is True and stored["pending"][0]["uiCounter"] == counter("shop", "click", "buy", 1)


def test_a_crashed_tabs_events_are_sent_by_a_later_page_once_it_is_stale():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy", 2)
    crashed = harness.stored()
    harness.reload(pagehide=False)  # no pagehide: the tab crashed
    harness.run(100)
    assert harness.transport.sent == []  # the state might be a live tab's: not taken yet
    harness.clock.advance(600)  # ten minutes without a heartbeat: that tab is gone
    harness.reload(pagehide=False)
    assert seconds_until_send(harness) == 1
    [report] = harness.transport.reports
    assert report["reportId"] == crashed["currentId"]  # the id its own tab would have used
    assert report["uiCounter"] == counter("shop", "click", "buy", 2)
    harness.transport.respond(200)
    assert not [key for key in harness.storage.data if key.startswith("usage_reporter.tab.")]


def test_two_pages_adopting_the_same_crashed_tab_send_it_under_one_id():
    crashed = Harness()
    crashed.reporter.report_ui_counter("shop", "click", "buy")
    crashed.clock.advance(700)
    storage_a, storage_b = (DictStorage(dict(crashed.storage.data)) for _ in range(2))  # both read it
    pages = [Harness(storage=storage, clock=FakeClock(crashed.clock.now)) for storage in (storage_a, storage_b)]
    for page in pages:
        seconds_until_send(page)
    first, second = (page.transport.reports[0] for page in pages)
    assert first == second
    assert counted([first], [second]) == ({"shop-click-buy": 1}, {})


def test_a_tab_that_wakes_up_to_find_its_state_adopted_sends_only_what_is_new():
    sleeper = Harness()
    sleeper.reporter.report_ui_counter("shop", "click", "buy", 2)
    sleeper.clock.advance(700)  # the laptop slept; another page opens first on waking
    other = Harness(storage=sleeper.storage, clock=FakeClock(sleeper.clock.now))
    assert seconds_until_send(other) == 1
    sleeper.reporter.report_ui_counter("shop", "click", "buy")  # the sleeper wakes up
    assert any("another tab took over" in line for line in sleeper.logs)
    seconds_until_send(sleeper)
    assert counted(other.transport.reports, sleeper.transport.reports) == ({"shop-click-buy": 3}, {})


def test_a_live_tab_rewrites_its_state_every_minute_so_no_tab_adopts_it():
    live = Harness()
    live.reporter.report_ui_counter("shop", "click", "buy")
    live.reporter.flush()  # the server does not answer for a long time: the report waits
    for _ in range(20):
        live.run(60)
        late = Harness(storage=live.storage, clock=FakeClock(live.clock.now))
        late.run(5)
        assert late.transport.sent == []
    assert live.stored()["seen"] >= live.clock.now - 60_000


def test_a_storage_clear_by_the_page_does_not_drop_a_live_tabs_events():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.storage.data.clear()  # the site's own localStorage.clear()
    harness.run(2)
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored()["current"]["uiCounter"]["shop-click-buy"]["total"] == 2
    seconds_until_send(harness)
    assert counted(harness.transport.reports) == ({"shop-click-buy": 2}, {})


def test_the_single_key_of_earlier_versions_is_taken_over():
    state = {"format": 1, "pending": [{"reportVersion": 3, "reportId": "old-1", **{"uiCounter": counter("a", "click", "b", 1)}}],
             "current": {"reportVersion": 3, "uiCounter": counter("a", "click", "c", 2)}}
    harness = Harness(storage=DictStorage({"usage_reporter": json.dumps(state)}))
    assert "usage_reporter" not in harness.storage.data
    seconds_until_send(harness)
    harness.transport.respond(200)
    seconds_until_send(harness)
    assert harness.transport.reports[0]["reportId"] == "old-1"
    assert counted(harness.transport.reports) == ({"a-click-b": 1, "a-click-c": 2}, {})


def test_a_stored_report_is_sent_soon_after_start_with_its_report_id():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()  # sent, but the page goes away before the answer
    [first] = harness.transport.reports
    harness.reload()
    assert seconds_until_send(harness) == 1
    [again] = harness.transport.reports
    assert again == first and again["reportId"] == "report-1"
    harness.transport.respond(200)
    assert harness.stored() is None


def test_flushes_every_interval_and_not_before():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert seconds_until_send(harness) == 30
    harness.transport.respond(200)
    harness.reporter.report_ui_counter("shop", "click", "again")
    assert seconds_until_send(harness) == 30
    assert len(harness.transport.sent) == 2


def test_the_interval_is_configurable():
    harness = Harness(flush_interval_s=5)
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert seconds_until_send(harness) == 5


def test_nothing_is_sent_when_there_is_nothing_to_report():
    harness = Harness()
    harness.run(300)
    harness.reporter.flush()
    assert harness.transport.sent == []


def test_one_flush_sends_one_report_in_the_kibana_v3_shape():
    harness = Harness()
    reporter = harness.reporter
    reporter.report_ui_counter("discover", METRIC_TYPE.CLICK, "open", 3)
    reporter.report_user_agent("Mozilla/5.0 (X11)")
    reporter.report_application_usage("discover", "main", 2.5, 7)
    reporter.flush()
    [(body, _)] = harness.transport.sent
    assert json.loads(body) == {"report": {
        "reportVersion": 3,
        "reportId": "report-1",
        "uiCounter": counter("discover", "click", "open", 3),
        "userAgent": {"kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana", "type": "user_agent",
                                            "userAgent": "Mozilla/5.0 (X11)"}},
        "application_usage": {"discover-main": {"appId": "discover", "viewId": "main", "minutesOnScreen": 2.5,
                                                "numberOfClicks": 7}},
    }}
    reporter.flush()  # a send is under way: no second report
    assert len(harness.transport.sent) == 1


def test_each_report_gets_a_new_report_id():
    harness = Harness()
    for event in ("a", "b"):
        harness.reporter.report_ui_counter("shop", "click", event)
        harness.reporter.flush()
        harness.transport.respond(200)
    assert [report["reportId"] for report in harness.transport.reports] == ["report-1", "report-2"]


def test_acknowledged_report_leaves_storage():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    assert harness.stored()["pending"][0]["reportId"] == "report-1"
    assert "uiCounter" not in harness.stored()["current"]
    harness.transport.respond(200)
    assert harness.stored() is None


def test_after_a_failure_the_pending_report_is_resent_with_the_same_report_id():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    harness.transport.respond(503)
    seconds_until_send(harness)
    first, second = harness.transport.sent
    assert first[0] == second[0]
    harness.transport.respond(200)
    assert harness.stored() is None


def test_after_a_beacon_the_pending_report_is_resent_with_the_same_report_id():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush_beacon()
    [beaconed] = harness.transport.beacon_reports
    assert beaconed["reportId"] == "report-1"
    assert harness.stored()["pending"] == [beaconed]  # kept until acknowledged
    harness.reporter.report_ui_counter("shop", "click", "later")
    seconds_until_send(harness)
    harness.transport.respond(200)
    seconds_until_send(harness)
    resent, nxt = harness.transport.reports
    assert resent == beaconed
    assert nxt["uiCounter"] == counter("shop", "click", "later", 1) and nxt["reportId"] == "report-2"


def test_a_beaconed_report_is_resent_on_the_next_page_load():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush_beacon()
    harness.reload()
    assert seconds_until_send(harness) == 1
    [resent] = harness.transport.reports
    assert resent["reportId"] == "report-1"
    assert resent["uiCounter"] == counter("shop", "click", "buy", 1)


def test_an_event_during_a_send_goes_into_the_next_report():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "first")
    harness.reporter.flush()
    harness.reporter.report_ui_counter("shop", "click", "during")
    harness.transport.respond(200)
    assert harness.stored()["current"]["uiCounter"] == counter("shop", "click", "during", 1)
    seconds_until_send(harness)
    first, second = harness.transport.reports
    assert first["uiCounter"] == counter("shop", "click", "first", 1)
    assert second["uiCounter"] == counter("shop", "click", "during", 1)
    assert first["reportId"] != second["reportId"]


def test_an_event_during_a_failing_send_never_joins_the_pending_report():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "first")
    harness.reporter.flush()
    harness.reporter.report_ui_counter("shop", "click", "during")
    harness.transport.respond(None)
    seconds_until_send(harness)
    assert harness.transport.reports[1] == harness.transport.reports[0]
    harness.transport.respond(200)
    seconds_until_send(harness)
    assert harness.transport.reports[2]["uiCounter"] == counter("shop", "click", "during", 1)


def test_backoff_doubles_after_each_failure_up_to_a_cap():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    delays = []
    for _ in range(9):
        harness.transport.respond(None)
        delays.append(seconds_until_send(harness))
    assert delays == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert len({body for body, _ in harness.transport.sent}) == 1
    harness.transport.respond(200)
    harness.reporter.report_ui_counter("shop", "click", "next")
    assert seconds_until_send(harness) == 30  # success resets the backoff
    harness.transport.respond(500)
    assert seconds_until_send(harness) == 5


def test_every_retryable_status_keeps_the_report():
    for status in (None, 500, 502, 503, 504, 408, 429):
        harness = Harness()
        harness.reporter.report_ui_counter("shop", "click", "buy")
        harness.reporter.flush()
        harness.transport.respond(status)
        assert harness.stored()["pending"][0]["reportId"] == "report-1", status
        assert seconds_until_send(harness) == 5, status
        assert harness.transport.sent[0][0] == harness.transport.sent[1][0]


def test_retry_after_is_honoured_up_to_a_cap():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    harness.transport.respond(429, 120)
    assert seconds_until_send(harness) == 120
    harness.transport.respond(503, 2)  # shorter than the backoff: the backoff wins
    assert seconds_until_send(harness) == 10
    harness.transport.respond(503, 10 * 24 * 3600)
    assert seconds_until_send(harness) == 3600


def test_a_refused_report_is_dropped_and_the_reporter_keeps_working():
    for status in (400, 413, 404, 422):
        harness = Harness()
        harness.reporter.report_ui_counter("shop", "click", "buy")
        harness.reporter.flush()
        harness.transport.respond(status)
        assert harness.stored() is None, status
        assert [line for line in harness.logs if f"HTTP {status}" in line and "dropped" in line], harness.logs
        harness.reporter.report_ui_counter("shop", "click", "next")
        assert seconds_until_send(harness) == 30
        assert harness.transport.reports[1]["uiCounter"] == counter("shop", "click", "next", 1)
        harness.transport.respond(200)
        assert harness.stored() is None


def test_each_kind_of_error_is_logged_once():
    harness = Harness()
    for _ in range(3):
        harness.reporter.report_ui_counter("shop", "click", "buy")
        harness.reporter.flush()
        harness.transport.respond(400)
    for _ in range(3):
        harness.reporter.report_ui_counter("shop", "click", "buy")
        harness.reporter.flush()
        harness.transport.respond(503)
        harness.run(400)
        harness.transport.respond(200)
    assert len([line for line in harness.logs if "HTTP 400" in line]) == 1
    assert len([line for line in harness.logs if "retrying" in line]) == 1
    assert all(line.startswith("usage_reporter: ") for line in harness.logs)


def test_a_send_without_an_answer_times_out_and_is_retried():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    assert seconds_until_send(harness) == 65  # 60 s without an answer, then a 5 s backoff
    harness.transport.respond(200)  # the first send answers late: ignored
    assert harness.stored()["pending"][0]["reportId"] == "report-1"
    harness.transport.respond(200)  # the resend's answer counts
    assert harness.stored() is None


def test_a_transport_that_raises_counts_as_a_network_error():
    harness = Harness()
    harness.transport.fail_send = True
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    assert harness.stored()["pending"][0]["reportId"] == "report-1"
    harness.transport.fail_send = False
    assert seconds_until_send(harness) == 5  # one failure so far: the first backoff
    assert harness.transport.reports[0]["reportId"] == "report-1"


def test_an_explicit_flush_does_not_wait_for_the_backoff():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    harness.transport.respond(503)
    harness.reporter.flush()
    assert len(harness.transport.sent) == 2


def test_disabled_records_nothing_sends_nothing_and_clears_storage():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    storage = harness.storage
    harness.reporter.flush_beacon()  # that page is gone; a page starting disabled drops its data
    disabled = Harness(storage=storage, enabled=False)
    assert storage.data == {}
    disabled.reporter.report_ui_counter("shop", "click", "buy")
    disabled.reporter.report_application_usage("shop", "main", 1.0, 1)
    disabled.run(100)
    disabled.reporter.flush()
    disabled.reporter.flush_beacon()
    assert disabled.transport.sent == [] and disabled.transport.beacons == []
    assert storage.data == {}


def test_disabling_a_running_reporter_drops_what_it_holds():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.enabled = False
    assert harness.stored() is None
    harness.reporter.enabled = True
    harness.reporter.report_ui_counter("shop", "click", "new")
    harness.reporter.flush()
    assert harness.transport.reports[0]["uiCounter"] == counter("shop", "click", "new", 1)


def test_opted_out_records_nothing_sends_nothing_and_clears_storage():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    harness.reporter.opt_out()
    assert harness.reporter.opted_out
    assert harness.storage.data == {"usage_reporter.consent": "out"}
    harness.transport.respond(200)  # the answer to the send before opting out changes nothing
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.report_user_agent("Mozilla")
    harness.run(100)
    harness.reporter.flush_beacon()
    assert len(harness.transport.sent) == 1 and harness.transport.beacons == []
    assert harness.storage.data == {"usage_reporter.consent": "out"}
    harness.reload()  # remembered on the next page
    assert harness.reporter.opted_out
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored() is None


def test_opting_in_again_records_again():
    harness = Harness()
    harness.reporter.opt_out()
    harness.reporter.opt_in()
    assert not harness.reporter.opted_out
    assert harness.storage.data["usage_reporter.consent"] == "in"
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert seconds_until_send(harness) == 30


def test_a_page_that_starts_opted_out_and_opts_in_sends_reports_with_ids():
    harness = Harness(global_privacy_control=True)
    harness.reporter.opt_in()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored()["currentId"] is not None  # what an adopting tab would send it under
    seconds_until_send(harness)
    assert harness.transport.reports[0]["reportId"] == harness.stored()["pending"][0]["reportId"] is not None


def test_global_privacy_control_opts_out_until_an_explicit_opt_in():
    harness = Harness(global_privacy_control=True)
    assert harness.reporter.opted_out
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored() is None
    harness.reporter.opt_in()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored() is not None
    harness.reload()
    assert not harness.reporter.opted_out


def test_storage_that_raises_on_set_does_not_break_recording():
    harness = Harness()
    harness.storage.fail_set = True
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.opt_in()
    harness.reporter.flush()
    assert harness.transport.reports[0]["uiCounter"] == counter("shop", "click", "buy", 2)
    assert len([line for line in harness.logs if "could not save usage data" in line]) == 1
    harness.storage.fail_set = False
    harness.transport.respond(200)
    harness.reporter.report_ui_counter("shop", "click", "buy")
    assert harness.stored()["current"]["uiCounter"] == counter("shop", "click", "buy", 1)


def test_storage_that_raises_on_get_starts_empty():
    storage = DictStorage()
    storage.fail_get = True
    harness = Harness(storage=storage)
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    assert len(harness.transport.sent) == 1
    assert any("could not read" in line for line in harness.logs)


GARBAGE = [
    "not json at all",
    "",
    "[]",
    "null",
    "42",
    '{"format": 0, "pending": [], "current": {"reportVersion": 3}}',
    '{"format": 2, "pending": [], "current": {"reportVersion": 3, "uiCounter": {"a-click-b": {"key": "a-click-b",'
    ' "appName": "a", "eventName": "b", "type": "click", "total": 1}}}}',  # a tab's format, not this key's
    '{"format": 1, "pending": "x", "current": {"reportVersion": 3}}',
    '{"reportVersion": 3, "uiCounter": {"a-click-b": {"key": "a-click-b", "appName": "a", "eventName": "b",'
    ' "type": "click", "total": 1}}}',  # a bare report: Kibana's older layout, not ours
    '{"format": 1, "pending": [], "current": {"reportVersion": 1, "uiStatsMetrics": {}}}',
    '{"format": 1, "pending": [{"reportVersion": 2}], "current": null}',
]


def test_garbage_or_an_older_format_in_storage_is_discarded_safely():
    tab_garbage = [text.replace('"format": 2', '"format": 3') for text in GARBAGE]
    for key, text in [("usage_reporter", text) for text in GARBAGE] + [("usage_reporter.tab.x", text) for text in tab_garbage]:
        storage = DictStorage({key: text})
        harness = Harness(storage=storage)
        assert storage.data.get(key) is None, text
        harness.run(100)
        assert harness.transport.sent == [], text
        harness.reporter.report_ui_counter("shop", "click", "buy")
        harness.reporter.flush()
        assert harness.transport.reports[0]["uiCounter"] == counter("shop", "click", "buy", 1), text


def test_malformed_stored_entries_are_dropped_and_good_ones_kept():
    good = counter("shop", "click", "buy", 2)
    bad = {
        "x1": {"key": "x1", "appName": "a:b", "eventName": "e", "type": "click", "total": 1},
        "x2": {"key": "x2", "appName": "a", "eventName": "e", "type": "click", "total": "3"},
        "x3": {"key": "x3", "appName": "a", "eventName": "", "type": "click", "total": 1},
        "x4": {"key": "x4", "appName": "a", "eventName": "e", "type": "click", "total": -1},
        "x5": "not an entry",
    }
    usage = {"a-main": {"appId": "a", "viewId": "main", "minutesOnScreen": "1", "numberOfClicks": 1}}
    state = {"format": 1, "pending": [{"reportVersion": 3, "reportId": "r" * 65, "uiCounter": good}],
             "current": {"reportVersion": 3, "uiCounter": {**good, **bad}, "application_usage": usage}}
    harness = Harness(storage=DictStorage({"usage_reporter": json.dumps(state)}))
    assert any("discarded 6 malformed stored entries" in line for line in harness.logs), harness.logs
    seconds_until_send(harness)
    harness.transport.respond(200)
    seconds_until_send(harness)
    pending, current = harness.transport.reports
    assert pending == {"reportVersion": 3, "uiCounter": good}  # an over-long reportId is left out
    assert current["uiCounter"] == good and "application_usage" not in current


def test_an_injected_json_parser_reads_the_stored_state():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy", 2)
    harness.reporter.flush()
    harness.reporter.report_ui_counter("shop", "click", "more")
    parsed = []

    def native_loads(text):
        parsed.append(text)
        return json.loads(text)

    harness.reporter.flush_beacon()  # the page hides
    stored = harness.stored()
    reloaded = Harness(storage=harness.storage, json_loads=native_loads)
    assert [json.loads(text) for text in parsed] == [stored]
    assert seconds_until_send(reloaded) == 1
    assert reloaded.transport.reports[0]["uiCounter"] == counter("shop", "click", "buy", 2)

    def broken_loads(text):
        raise TypeError("not JSON")

    reloaded.reporter.flush_beacon()
    broken = Harness(storage=harness.storage, json_loads=broken_loads)
    assert not [key for key in harness.storage.data if key.startswith("usage_reporter.tab.")]
    assert any("discarded unreadable" in line for line in broken.logs)


def test_flush_hooks_run_right_before_a_report_is_built():
    harness = Harness()
    calls = []

    def hook():
        calls.append(len(harness.transport.sent))
        harness.reporter.report_application_usage("shop", "main", 0.5, 0)

    harness.reporter.add_flush_hook(hook)
    harness.reporter.flush()
    assert calls == [0]
    assert harness.transport.reports[0]["application_usage"]["shop-main"]["minutesOnScreen"] == 0.5


def test_a_failing_hook_does_not_stop_the_flush():
    harness = Harness()

    def broken():
        raise RuntimeError("boom")

    harness.reporter.add_flush_hook(broken)
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    assert len(harness.transport.sent) == 1
    assert any("boom" in line for line in harness.logs)


def test_a_full_buffer_refuses_new_keys_but_keeps_summing():
    harness = Harness(max_entries=2)
    reporter = harness.reporter
    reporter.report_ui_counter("shop", "click", ["a", "b", "c"])
    reporter.report_ui_counter("shop", "click", "a", 4)
    reporter.flush()
    assert harness.transport.reports[0]["uiCounter"] == {**counter("shop", "click", "a", 5),
                                                         **counter("shop", "click", "b", 1)}
    assert len([line for line in harness.logs if "buffer is full" in line]) == 1
    harness.transport.respond(200)
    reporter.report_ui_counter("shop", "click", "c")  # room again after the flush
    reporter.flush()
    assert harness.transport.reports[1]["uiCounter"] == counter("shop", "click", "c", 1)


def test_the_buffer_is_bounded_in_size():
    harness = Harness(max_report_chars=2000)
    for number in range(100):
        harness.reporter.report_ui_counter("shop", "click", f"event_{number}")
    assert len(harness.storage.data[harness.reporter.state_key]) < 2300


def test_a_beacon_sends_the_pending_report_and_the_buffer():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "first")
    harness.reporter.flush()  # under way
    harness.reporter.report_ui_counter("shop", "click", "second")
    harness.reporter.flush_beacon()
    first, second = harness.transport.beacon_reports
    assert first == harness.transport.reports[0]
    assert second["uiCounter"] == counter("shop", "click", "second", 1) and second["reportId"] == "report-2"
    harness.transport.respond(200)
    assert seconds_until_send(harness) == 1  # the next pending report goes right after
    assert harness.transport.reports[1] == second


def test_a_refused_beacon_keeps_the_report():
    harness = Harness()
    harness.transport.beacon_ok = False
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush_beacon()
    assert harness.stored()["pending"][0]["reportId"] == "report-1"
    assert any("refused a beacon" in line for line in harness.logs)


def test_without_a_report_id_source_reports_are_still_sent():
    harness = Harness()

    def broken_id():
        raise RuntimeError("no crypto")

    harness.reporter = Reporter(clock=harness.clock, storage=harness.storage, transport=harness.transport,
                                new_id=broken_id, log=harness.logs.append)
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    assert "reportId" not in harness.transport.reports[0]
    assert harness.transport.reports[0]["uiCounter"] == counter("shop", "click", "buy", 1)


def test_one_user_agent_per_report():
    harness = Harness()
    harness.reporter.report_user_agent("Agent/1")
    writes = harness.storage.writes
    harness.reporter.report_user_agent("Agent/1")
    assert harness.storage.writes == writes  # unchanged: not written again
    harness.reporter.report_user_agent("Agent/2", app_name="shop")
    harness.reporter.report_user_agent("")
    harness.reporter.flush()
    assert harness.transport.reports[0]["userAgent"] == {
        "shop-user_agent": {"key": "shop-user_agent", "appName": "shop", "type": "user_agent", "userAgent": "Agent/2"}}


def test_application_usage_sums_and_skips_empty_or_bad_values():
    harness = Harness()
    reporter = harness.reporter
    reporter.report_application_usage("shop", "cart", 0.25, 1)
    reporter.report_application_usage("shop", "cart", 0.5, 2)
    reporter.report_application_usage("shop", "empty", 0.0, 0)
    for bad in ((float("nan"), 1), (-1.0, 1), (1.0, -1), (1.0, 1.5), (True, 1)):
        reporter.report_application_usage("shop", "bad", *bad)
    reporter.report_application_usage("a:b", "main", 1.0, 1)
    reporter.flush()
    assert harness.transport.reports[0]["application_usage"] == {
        "shop-cart": {"appId": "shop", "viewId": "cart", "minutesOnScreen": 0.75, "numberOfClicks": 3}}


def test_take_current_and_merge_move_events_between_reporters():
    early = Harness()
    early.reporter.report_ui_counter("shop", "click", "buy", 2)
    early.reporter.report_application_usage("shop", "main", 0.5, 1)
    moved = early.reporter.take_current()
    assert early.stored() is None
    target = Harness()
    target.reporter.report_ui_counter("shop", "click", "buy")
    target.reporter.merge(moved)
    target.reporter.flush()
    report = target.transport.reports[0]
    assert report["uiCounter"] == counter("shop", "click", "buy", 3)
    assert report["application_usage"]["shop-main"]["numberOfClicks"] == 1


def test_the_storage_key_is_configurable():
    harness = Harness(storage_key="my_app_usage")
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.opt_out()
    assert set(harness.storage.data) == {"my_app_usage.consent"}


def test_status_values_from_javascript_are_read_safely():
    harness = Harness()
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    harness.transport.respond(200.0)  # a JS number
    assert harness.stored() is None
    harness.reporter.report_ui_counter("shop", "click", "buy")
    harness.reporter.flush()
    harness.transport.respond("garbage", "soon")  # unreadable: treated as a network error
    assert harness.stored()["pending"][0]["reportId"] == "report-2"
    assert seconds_until_send(harness) == 5


def test_nothing_raises_into_the_caller_except_validation():
    harness = Harness()
    harness.storage.fail_set = True
    harness.storage.fail_get = True
    harness.transport.fail_send = True
    reporter = harness.reporter
    reporter.report_ui_counter("shop", "click", "buy")
    reporter.report_application_usage(None, None, None, None)
    reporter.report_user_agent(None)
    reporter.flush()
    reporter.tick()
    reporter.flush_beacon()
    reporter.opt_out()
    reporter.opt_in()
    raises(ValueError, reporter.report_ui_counter, "a:b", "click", "x")
