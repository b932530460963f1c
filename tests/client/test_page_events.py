"""The page-event layer (``page_events``, and its shared and worker halves in
``page_session`` and ``worker_session``) in CPython, with a fake runtime:
the one copy of the settings precedence, of the ``data-*`` translation, of the main-thread
boot and of the worker's message loop that both Brython and Pyodide run (their adapters
only give the runtime; tests/e2e drives the real ones in Chromium)."""

import json

import pytest

from client.fake_runtime import Event, Node, PageRuntime, Usage, WorkerRuntime
from client.fakes import START_MS
from usage_reporter import api, page_events
from usage_reporter.page_session import CONSENT_KEY, EventClock, PageSession, new_id, settings
from usage_reporter.worker_session import boot_worker


@pytest.fixture(autouse=True)
def fresh_api():
    api._reset_state()
    yield
    api._reset_state()


# -- settings: server < script tag < boot options ------------------------------------------------

SERVER = {"report_url": "/base/api/ui_counters/_report", "flush_interval_s": 20.0, "enabled": True,
          "honor_gpc": True}


@pytest.mark.parametrize(("server", "script", "options", "expected"), [
    (None, None, None, {"report_url": "/api/ui_counters/_report", "flush_interval_s": 30.0, "enabled": True,
                        "honor_gpc": True}),
    (SERVER, None, None, SERVER),
    (SERVER, {"data-flush-interval": "5"}, None, dict(SERVER, flush_interval_s=5.0)),
    (SERVER, {"data-flush-interval": "5"}, {"flush_interval_s": 2}, dict(SERVER, flush_interval_s=2.0)),
    (SERVER, {"data-flush-interval": ""}, None, SERVER),  # an empty attribute sets nothing
    (SERVER, {"data-app-id": "shop", "data-app-paths": '{"/": "home"}', "data-runtime": "brython"}, None,
     dict(SERVER, app_id="shop", app_paths='{"/": "home"}')),
    (SERVER, {"data-app-id": "shop"}, {"app_id": "cart"}, dict(SERVER, app_id="cart")),
    (dict(SERVER, enabled=False, honor_gpc=False), None, None, dict(SERVER, enabled=False, honor_gpc=False)),
    (dict(SERVER, enabled=False), None, {"enabled": True}, SERVER),
    (dict(SERVER, flush_interval_s=None), None, None, dict(SERVER, flush_interval_s=30.0)),
    (SERVER, {"data-flush-interval": "soon"}, None, dict(SERVER, flush_interval_s=30.0)),
])
def test_settings_take_the_server_then_the_script_tag_then_boot_options(server, script, options, expected):
    assert settings(server, script, options) == expected


# -- the data-* translation ------------------------------------------------------------------------

def page_tree():
    body = Node(data_usage_app=None)
    panel = Node(body, data_usage_view="panel")
    form = Node(panel, data_usage_click="save", data_usage_view="form")
    inner = Node(form, data_usage_click="icon")
    plain = Node(inner)
    return body, panel, form, inner, plain


def test_a_click_names_the_nearest_data_usage_click_and_every_view_around_it():
    runtime = PageRuntime()
    body, panel, form, inner, plain = page_tree()
    assert page_events.clicked(runtime, plain) == ["click", ["icon", ["form", "panel"]]]
    assert page_events.clicked(runtime, form) == ["click", ["save", ["form", "panel"]]]
    assert page_events.clicked(runtime, panel) == ["click", [None, ["panel"]]]
    assert page_events.clicked(runtime, body) == ["click", [None, []]]
    assert page_events.clicked(runtime, None) == ["click", [None, []]]


def test_document_views_are_in_document_order_once_each_and_never_empty():
    runtime = PageRuntime(nodes=[Node(data_usage_view="b"), Node(data_usage_view="a"), Node(data_usage_view="b"),
                                 Node(data_usage_view=""), Node(data_usage_click="x")])
    assert page_events.document_views(runtime) == ["b", "a"]


def test_a_report_id_is_the_runtimes_uuid_or_32_hex_digits():
    assert new_id(WorkerRuntime(uuid="6f1c-uuid")) == "6f1c-uuid"
    assert new_id(WorkerRuntime()) == "8" * 32  # random() is 0.5 in the fake


# -- boot on the page's main thread (library mode) -------------------------------------------------

def booted_page(**page):
    runtime = PageRuntime(**page)
    session = page_events.boot_page(runtime, runtime.transport, {"flush_interval_s": 5})
    assert session is not None, runtime.logs
    return runtime, session


def flushed(runtime, session):
    """Flush now; what the server would count from the report: ({counter key: total},
    {app usage key: clicks})."""
    runtime.clock.advance(10)
    session.reporter.flush()
    report = runtime.transports[-1].reports[-1]
    return ({key: entry["total"] for key, entry in report.get("uiCounter", {}).items()},
            {key: entry["numberOfClicks"] for key, entry in report.get("application_usage", {}).items()})


def test_boot_takes_usage_js_queue_its_settings_and_script_tag_then_listens():
    script = Node(data_app_id="shop", data_flush_interval="7")
    usage = Usage(config=SERVER, script=script,
                  queue=[["reportUiCounter", ["shop", "loaded", "early"]], ["click", ["buy", []]]])
    body, panel, form, inner, plain = page_tree()
    runtime, session = booted_page(usage=usage, body=body, nodes=[panel, form])
    assert session.config["app_id"] == "shop"
    assert session.config["flush_interval_s"] == 5.0  # boot's option beats the tag's 7
    assert runtime.transports[-1].url == "http://page.test/base/api/ui_counters/_report"
    assert usage.q == [] and usage.h is not None and usage.resolved == 1
    assert api.is_installed()

    runtime.click(plain)
    usage.h(["reportUiCounter", ["shop", "count", "later", 3]])
    counters, clicks = flushed(runtime, session)
    assert counters == {"shop-loaded-early": 1, "shop-click-buy": 1, "shop-click-icon": 1, "shop-count-later": 3}
    assert clicks == {"shop-main": 2, "shop-panel": 1, "shop-form": 1}


def test_views_follow_the_document_and_the_app_follows_navigation():
    body = Node(data_usage_app="home")
    runtime, session = booted_page(body=body, nodes=[Node(body, data_usage_view="list")])
    assert session.tracker.app_id == "home"
    assert sorted(session.views) == ["list"]
    runtime.mutate([Node(body, data_usage_view="detail")])
    assert sorted(session.views) == ["detail"]

    runtime.push_state("/settings", body_app="settings")
    assert session.tracker.app_id == "home"  # the router renders first: a zero timeout later
    runtime.run_later()
    assert session.tracker.app_id == "settings"


def test_hiding_the_page_beacons_and_another_tabs_opt_out_applies_here():
    body = Node()
    runtime, session = booted_page(usage=Usage(script=Node(data_app_id="shop")), body=body)
    runtime.click(body)
    runtime.is_hidden = True
    runtime.fire("document", "visibilitychange")
    [beacon] = runtime.transports[-1].beacon_reports
    assert beacon["application_usage"]["shop-main"]["numberOfClicks"] == 1

    runtime.fire("window", "storage", Event(key="unrelated", newValue="out"))
    assert not api.is_opted_out()
    runtime.fire("window", "storage", Event(key=CONSENT_KEY, newValue="out"))
    assert api.is_opted_out()


def test_track_application_view_counts_clicks_inside_its_element_through_the_runtime():
    body = Node()
    runtime, session = booted_page(usage=Usage(script=Node(data_app_id="shop")), body=body)
    cart = Node(body)
    with api.track_application_view("cart", element=cart):
        runtime.click(cart)
    runtime.click(cart)  # after the block: no listener on the element any more
    _, clicks = flushed(runtime, session)
    assert clicks == {"shop-main": 2, "shop-cart": 1}


def test_a_listener_that_fails_is_logged_once_and_never_throws_into_the_page():
    runtime, session = booted_page(body=Node())

    def broken(*args):
        raise RuntimeError("boom")

    session.handle = broken
    runtime.fire("document", "visibilitychange")
    runtime.fire("document", "visibilitychange")
    assert runtime.logs == [("error", "usage_reporter: error in visibilitychange handler: boom")]


class NoDocument(PageRuntime):
    """A runtime with no page (Pyodide in a worker: ``js.document`` is missing)."""

    def hidden(self):
        raise AttributeError("'global' has no attribute 'document'")


@pytest.mark.parametrize(("runtime", "options", "why"), [
    (NoDocument(), None, "'global' has no attribute 'document'"),
    (PageRuntime(body=Node()), "not a dict", "dictionary update sequence"),
    (PageRuntime(body=Node(), usage=Usage(config="garbage")), None, "'str' object has no attribute 'items'"),
])
def test_boot_never_raises_it_logs_why_and_returns_none(runtime, options, why):
    assert page_events.boot_page(runtime, runtime.transport, options) is None
    [(level, message)] = runtime.logs
    assert level == "error" and message.startswith("usage_reporter: could not start: ") and why in message


def test_a_page_session_changes_no_global_installing_it_is_the_creators_step():
    runtime = PageRuntime()
    session = PageSession({"app_id": "shop", "start_ms": START_MS}, runtime.storage, runtime.transport("/r"),
                          EventClock(runtime.now), lambda: "id-1", lambda kind, message: None)
    assert not api.is_installed()
    api.install(session.reporter, session.tracker)
    assert api.is_installed()


# -- in a worker, behind the forwarder --------------------------------------------------------------

def start_message(**more):
    message = {"settings": SERVER, "script": {"data-app-id": "shop", "data-flush-interval": "9"},
               "page": {"user_agent": "UA", "start_ms": START_MS, "hidden": False, "path": "/", "views": []},
               "storage": {}, "timing": {"worker": 1.0}}
    message.update(more)
    return message


def booted_worker(**more):
    runtime, sent = WorkerRuntime(), []

    def sender(url):
        sent.append(url)
        return lambda body, on_result: sent.append(body)

    deliver = boot_worker(runtime, start_message(**more), sender)
    assert deliver is not None, runtime.posted
    return runtime, deliver, sent


def test_the_worker_applies_the_precedence_says_ready_and_previews_each_call():
    runtime, deliver, sent = booted_worker()
    assert sent == ["/base/api/ui_counters/_report"]
    [ready] = runtime.messages("ready")
    assert ready["timing"] == {"worker": 1.0, "python": START_MS}
    assert api.is_installed()

    deliver({"t": "call", "s": 1, "at": START_MS + 500, "c": ["click", ["buy", []]]})
    preview = runtime.messages("preview")[-1]
    assert preview["s"] == 1 and preview["app"] == "shop"
    [body] = preview["bodies"]
    assert json.loads(body)["report"]["uiCounter"]["shop-click-buy"]["total"] == 1


def test_the_page_state_wins_over_the_script_tag_in_the_worker():
    """Back from the back/forward cache the forwarder names the app of the last setAppId."""
    runtime, deliver, sent = booted_worker(page={"app_id": "cart", "start_ms": START_MS})
    deliver({"t": "call", "s": 1, "at": START_MS, "c": ["click", [None, []]]})
    assert runtime.messages("preview")[-1]["app"] == "cart"


def test_a_burst_of_messages_is_previewed_once_per_task_turn():
    runtime, deliver, sent = booted_worker()
    before = len(runtime.messages("preview"))
    for seq in (1, 2, 3):
        deliver({"t": "call", "s": seq, "at": START_MS, "c": ["click", [None, []]]})
    assert [m["s"] for m in runtime.messages("preview")[before:]] == [1]  # at once, then wait a turn
    runtime.run_later()
    assert [m["s"] for m in runtime.messages("preview")[before:]] == [1, 3]


@pytest.mark.parametrize("start", ["not a dict", {"settings": "garbage"}, {"page": ["not", "a", "dict"]}])
def test_a_worker_that_cannot_start_tells_the_page_and_never_raises(start):
    runtime = WorkerRuntime()
    assert boot_worker(runtime, start, lambda url: None) is None
    [error] = runtime.messages("error")
    assert error["message"].startswith("usage_reporter: could not start: ")
