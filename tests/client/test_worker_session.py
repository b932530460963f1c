"""The Pyodide worker's protocol with the page (worker_session, page_session), in CPython:
what the page is told to beacon when it closes is exactly what the worker would send, the
storage it writes makes the next page resend the same reportId, calls are timed by when
they happened, and nothing here raises."""

import json

from usage_reporter import api
from usage_reporter.page_session import CONSENT_KEY, STORAGE_KEY, EventClock
from usage_reporter.worker_session import MirroredStorage, NextIds, WorkerSession, preview_beacon
from usage_reporter.reporter import Reporter

from client.fakes import START_MS, FakeClock, Ids, RecordingTransport

MINUTE = 60_000


class Page:
    """A WorkerSession wired as /usage/boot-pyodide.js wires it, with fakes for the rest."""

    def __init__(self, storage=None, random=None, **config):
        api._reset_state()
        self.clock = FakeClock()
        self.posted = []
        self.sent = []
        self.ids = Ids()
        self.seq = 0
        config = {"app_id": "shop", "start_ms": START_MS, "user_agent": "UA", "flush_interval_s": 60, **config}
        self.session = WorkerSession(config, storage or {}, lambda body, on_result: self.sent.append((body, on_result)),
                                     self.posted.append, self.clock, self.ids, random=random)
        api.install(self.session.reporter, self.session.tracker)  # as page_events.boot_worker does
        self.session.start(self.session.storage.keys())

    def call(self, name, *args, after_s=0):
        self.clock.advance(after_s)
        self.seq += 1
        self.session.receive({"t": "call", "s": self.seq, "at": self.clock.now, "c": [name, list(args)]})

    def messages(self, kind):
        return [message for message in self.posted if message["t"] == kind]

    def local_storage(self):
        """What the page's localStorage holds after applying every mirrored write."""
        data = {}
        for message in self.messages("set"):
            if message["v"] is None:
                data.pop(message["k"], None)
            else:
                data[message["k"]] = message["v"]
        return data


def report(body):
    return json.loads(body)["report"]


def test_the_preview_is_what_the_worker_beacons_when_the_tab_hides():
    page = Page()
    page.call("click", "buy", ["cart"], after_s=2)
    page.call("reportUiCounter", "shop", "count", ["a", "b"], 2)
    page.session.publish()
    preview = page.messages("preview")[-1]
    assert preview["s"] == 2 and preview["app"] == "shop"
    [body] = preview["bodies"]
    assert report(body)["reportId"] == "report-2"  # report-1 named the tab
    assert report(body)["uiCounter"]["shop-click-buy"]["total"] == 1
    assert report(body)["uiCounter"]["shop-count-a"]["total"] == 2

    page.call("visibility", True)  # the live page hides: the worker beacons itself
    [beacon] = page.messages("beacon")
    assert beacon["body"] == body  # same reportId, same content: the server counts it once
    page.session.publish()  # and if the tab then closes, the page beacons that report again
    assert page.messages("preview")[-1]["bodies"] == [body]


def test_the_preview_leaves_storage_that_resends_the_same_report_id():
    page = Page()
    page.call("click", "buy", [], after_s=1)
    page.session.publish()
    preview = page.messages("preview")[-1]
    storage = page.local_storage()  # the closing page applies the preview's writes
    for key, value in preview["writes"].items():
        if value is None:
            storage.pop(key, None)
        else:
            storage[key] = value
    transport, clock = RecordingTransport(), FakeClock(START_MS + MINUTE)
    next_page = Reporter(clock=clock, storage=MirroredStorage(storage), transport=transport, new_id=Ids())
    clock.advance(2)
    next_page.tick()
    assert transport.reports == [report(body) for body in preview["bodies"]]
    assert transport.reports[0]["reportId"] == "report-2"


def test_the_preview_writes_only_this_tabs_state_not_other_tabs_copies():
    other_tab = "usage_reporter.tab.other"
    other_state = json.dumps({"format": 2, "seen": START_MS, "closed": False, "currentId": "o-1", "pending": [],
                              "current": {"reportVersion": 3}})
    page = Page({other_tab: other_state})  # another live tab: left alone
    page.call("reportUiCounter", "shop", "count", "x")
    page.session.receive({"t": "storage", "k": other_tab, "v": other_state.replace("o-1", "o-2")})
    page.session.publish()
    writes = page.messages("preview")[-1]["writes"]
    assert list(writes) == [page.session.reporter.state_key]  # by pagehide the other tab's copy may be old
    assert json.loads(writes[page.session.reporter.state_key])["closed"] is True


def test_previewing_changes_neither_the_storage_nor_the_next_report_id():
    page = Page()
    page.call("reportUiCounter", "shop", "count", "x")
    before = dict(page.session.storage.data)
    bodies, after = preview_beacon(page.session.storage.data, page.session.clock, "peeked", {},
                                   page.session.reporter.tab_id)
    assert page.session.storage.data == before and after != before
    assert report(bodies[0])["reportId"] == "report-2"  # the id stored with the buffer
    assert json.loads(after[page.session.reporter.state_key])["currentId"] == "peeked"  # the next one
    assert page.session.ids.peek() == "report-3"


def test_calls_are_timed_by_when_they_happened_not_when_python_saw_them():
    page = Page()
    # Clicks and a sub-view from before Python ran arrive together, stamped on the page.
    page.session.receive({"t": "call", "s": 1, "at": START_MS + 30_000, "c": ["views", [["cart"]]]})
    page.session.receive({"t": "call", "s": 2, "at": START_MS + 90_000, "c": ["visibility", [True]]})
    page.clock.advance(600)  # processed much later: nothing of that counts
    usage = report(page.messages("beacon")[-1]["body"])["application_usage"]
    assert usage["shop-main"]["minutesOnScreen"] == 1.5
    assert usage["shop-cart"]["minutesOnScreen"] == 1.0


def test_every_storage_write_is_mirrored_to_the_page():
    page = Page()
    page.call("reportUiCounter", "shop", "count", "x")
    page.call("optOut")
    assert page.local_storage() == {CONSENT_KEY: "out"}
    assert page.local_storage() == page.session.storage.data


def test_an_opt_out_in_another_tab_applies_at_once():
    page = Page()
    page.call("reportUiCounter", "shop", "count", "x")
    page.session.receive({"t": "storage", "k": CONSENT_KEY, "v": "out"})
    assert page.session.reporter.opted_out
    page.call("reportUiCounter", "shop", "count", "y")
    assert not [key for key in page.session.storage.data if key.startswith(STORAGE_KEY + ".tab.")]
    page.session.publish()
    assert page.messages("preview")[-1]["bodies"] == []


def test_queues_saved_by_closed_tabs_are_replayed_once_without_beacons():
    saved = json.dumps([["setAppId", ["checkout"]], ["click", ["pay", []]], ["visibility", [True]],
                        ["reportUiCounter", ["checkout", "loaded", "form"]]])
    page = Page({"usage_reporter.q.1700000000000.3": saved})
    assert page.messages("beacon") == []
    assert not any(key.startswith("usage_reporter.q.") for key in page.local_storage())
    assert {"t": "set", "k": "usage_reporter.q.1700000000000.3", "v": None} in page.posted
    page.session.publish()
    counters = report(page.messages("preview")[-1]["bodies"][0])["uiCounter"]
    assert counters["checkout-click-pay"]["total"] == 1 and counters["checkout-loaded-form"]["total"] == 1
    assert page.session.tracker.app_id == "shop"  # this page's own app comes after the replay
    assert not page.session.tracker.paused


def test_the_app_follows_navigation_through_body_attribute_or_path_prefixes():
    page = Page(app_id=None, app_paths='{"/app/maps": "maps", "/app": "apps"}', path="/app/maps/1")
    assert page.session.tracker.app_id == "maps"
    page.call("navigate", None, "/app/other")
    assert page.session.tracker.app_id == "apps"
    page.call("navigate", "billing", "/app/maps")
    assert page.session.tracker.app_id == "billing"
    page.call("navigate", None, "/elsewhere")
    assert page.session.tracker.app_id == "billing"


def test_bad_messages_and_calls_are_logged_once_never_raised():
    page = Page()
    for message in ({"t": "call", "s": 1, "c": ["noSuchCall", []]}, {"t": "call", "s": 2, "c": ["noSuchCall", []]},
                    {"t": "call", "s": 3, "c": ["reportUiCounter", ["bad:app", "click", "x"]]}, {"t": "call"},
                    {"t": "call", "s": 4, "c": None}):
        page.session.receive(message)
    logs = [message["message"] for message in page.messages("log")]
    assert len([text for text in logs if "noSuchCall" in text]) == 1
    assert any('must not contain ":"' in text for text in logs)
    assert page.session.seq == 4


def test_the_event_clock_never_goes_back():
    clock = FakeClock()
    events = EventClock(clock)
    assert events() == START_MS
    events.at = START_MS - 5_000
    assert events() == START_MS
    events.at = None
    clock.advance(1)
    assert events() == START_MS + 1000


def test_next_ids_peek_what_take_returns():
    ids = NextIds(Ids())
    assert ids.peek() == ids.peek() == "report-1"
    assert ids.take() == "report-1" and ids.peek() == "report-2"


def test_the_session_spreads_retries_with_the_runtime_random():
    """The adapter hands ``Math.random`` to the session: a failed send retries after the
    5 s backoff times 0.5 + random (here 0.5 + 0.2)."""
    page = Page(random=lambda: 0.2)
    page.call("reportUiCounter", "shop", "click", "buy")
    page.session.reporter.flush()
    [(_body, on_result)] = page.sent
    on_result(503, None)
    for tenth in range(1, 100):
        page.clock.advance(0.1)
        page.session.tick()
        if len(page.sent) > 1:
            break
    assert tenth == 35
