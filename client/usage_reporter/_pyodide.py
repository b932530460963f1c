"""The Pyodide adapter: the only module that touches the browser under Pyodide.

Two ways in, both running a ``PageSession`` (the core plus usage.js's calls):

- ``start_worker`` (``data-runtime="pyodide"``): ``/usage/boot-pyodide.js`` starts a module
  Web Worker so Pyodide's ~2 s boot never blocks the page, and the worker script calls
  this. Page events, localStorage and sendBeacon stay on the main thread and come and go
  as messages (``WorkerSession`` holds that protocol); here we only add ``fetch`` and the
  timers.
- ``boot(options)`` (library mode: a Pyodide or PyScript page imports ``usage_reporter`` in
  its own interpreter): localStorage, fetch, sendBeacon and DOM listeners directly, like
  the Brython adapter.

Pyodide specifics: callbacks handed to JavaScript are ``create_proxy`` objects kept alive
here; JS ``null`` arrives as ``jsnull`` (Pyodide 0.28+), not None.
"""

import asyncio
import json
import os

import js
from pyodide.ffi import create_proxy

from .page_calls import flush_interval
from .page_session import CONSENT_KEY, STORAGE_KEY, EventClock, PageSession
from .worker_session import WorkerSession

try:
    from pyodide.ffi import jsnull
except ImportError:  # Pyodide before 0.28 turns JS null into None itself
    jsnull = None

REPORT_PATH = "/api/ui_counters/_report"
_keep = []  # proxies JavaScript holds for the page's lifetime: never collected
_logged = {}
_console = []  # in a worker: where log lines go instead of the worker's own console


def py(value):
    """JS ``null`` and ``undefined`` both as None."""
    return None if value is None or value is jsnull else value


def proxy(fn):
    handle = create_proxy(fn)
    _keep.append(handle)
    return handle


def new_id():
    """A random reportId: 32 hex digits (``uuid`` costs 25 ms to import in Pyodide)."""
    return os.urandom(16).hex()


def now_ms():
    return float(js.Date.now())


def log_once(kind, message):
    """Each problem once, on the page's console (from a worker, through the page)."""
    if kind not in _logged:
        _logged[kind] = True
        (_console[0] if _console else js.console.warn)(message)


def guarded(kind, fn):
    """``fn`` as a browser callback: exceptions are logged once, never thrown."""

    def callback(*args):
        try:
            return fn(*args)
        except Exception as exc:
            log_once(kind, "usage_reporter: error in " + kind + " handler: " + str(exc))

    return callback


def _seconds(text):
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None  # an HTTP date: the reporter's own backoff applies


def fetch_sender(url):
    """``send(body, on_result)`` for the core: POST with fetch, in a worker or on the page."""
    tasks = set()
    options = {"method": "POST", "credentials": "same-origin",
               "headers": {"Content-Type": "application/json", "kbn-xsrf": "usage_reporter"}}

    async def post(body, on_result):
        try:
            response = await js.fetch(url, js.JSON.parse(json.dumps(dict(options, body=body))))
            status, retry_after = int(response.status), _seconds(py(response.headers.get("Retry-After")))
        except Exception:
            status, retry_after = None, None
        on_result(status, retry_after)

    def send(body, on_result):
        task = asyncio.ensure_future(post(body, on_result))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return send


# -- in a Web Worker --------------------------------------------------------------------------

def start_worker(start_json, post_json):
    """Called by /usage/pyodide-worker.mjs once Pyodide is up; returns the message handler.

    ``start_json``: ``{"config": {...PageSession settings, "report_url"}, "storage": {...},
    "timing": {...}}``; ``post_json(text)`` posts a message to the page.
    """
    start = json.loads(start_json)
    config = start["config"]

    def post(message):
        post_json(json.dumps(message))

    _console.append(lambda text: post({"t": "log", "message": text}))

    session = WorkerSession(config, start.get("storage") or {}, fetch_sender(config["report_url"]), post,
                            now_ms, new_id, random=js.Math.random)
    session.start(session.storage.keys())
    throttle = {"busy": False, "again": False}

    def publish():
        """At once after a quiet spell (a click may be followed by the tab closing within
        ~20 ms), then at most once per task turn during a burst of messages."""
        session.publish()
        throttle["busy"] = True
        js.setTimeout(release, 0)

    def after_turn():
        throttle["busy"] = False
        if throttle["again"]:
            throttle["again"] = False
            publish()

    release = proxy(guarded("preview", after_turn))
    js.setInterval(proxy(guarded("timer", session.tick)), 1000)
    timing = start.get("timing") or {}
    timing["python"] = float(js.performance.timeOrigin) + float(js.performance.now())
    post({"t": "ready", "timing": timing})
    session.publish()

    def handle(text):
        session.receive(json.loads(text))
        if throttle["busy"]:
            throttle["again"] = True
        else:
            publish()

    return proxy(guarded("message", handle))


# -- on the page's main thread (library mode) --------------------------------------------------

class LocalStorage:
    """``window.localStorage`` with the core's get/set/remove."""

    def keys(self):
        storage = js.localStorage
        return [py(storage.key(index)) for index in range(int(storage.length))]

    def get(self, key):
        return py(js.localStorage.getItem(key))

    def set(self, key, value):
        js.localStorage.setItem(key, value)

    def remove(self, key):
        js.localStorage.removeItem(key)


class Transport:
    def __init__(self, url):
        self.url = url
        self.send = fetch_sender(url)

    def beacon(self, body):
        return bool(js.navigator.sendBeacon(self.url, body))


def listen_clicks(element, callback):
    """For ``track_application_view(view_id, element)``: clicks inside ``element``."""
    handler = create_proxy(guarded("view click", lambda event: callback()))
    element.addEventListener("click", handler)

    def remove():
        element.removeEventListener("click", handler)
        handler.destroy()

    return remove


def _to_py(value):
    value = py(value)
    return value.to_py() if hasattr(value, "to_py") else value


def page_config(options):
    """Settings from usage.js (``usage.config`` and its script tag) if present, then ``options``."""
    usage = py(getattr(js.window, "usage", None))
    server = _to_py(getattr(usage, "config", None)) if usage is not None else None
    server = server or {}
    config = {"report_url": server.get("reportUrl"), "enabled": server.get("enabled", True),
              "honor_gpc": server.get("honorGpc", True), "flush_interval_s": server.get("flushIntervalS")}
    script = py(getattr(usage, "s", None)) if usage is not None else None
    if script is not None:
        for name, attribute in (("app_id", "data-app-id"), ("flush_interval_s", "data-flush-interval"),
                                ("app_paths", "data-app-paths")):
            config[name] = py(script.getAttribute(attribute)) or config.get(name)
    config.update(_to_py(options) or {})
    body = js.document.body
    config.update({
        "report_url": str(js.URL.new(config.get("report_url") or REPORT_PATH, js.location.href).href),
        "flush_interval_s": flush_interval(config.get("flush_interval_s")),
        "gpc": py(getattr(js.navigator, "globalPrivacyControl", None)) is True,
        "user_agent": str(js.navigator.userAgent), "hidden": js.document.visibilityState == "hidden",
        "start_ms": float(js.performance.timeOrigin), "path": str(js.location.pathname),
        "body_app": py(body.getAttribute("data-usage-app")) if py(body) is not None else None,
        "views": document_views()})
    return config


def document_views():
    views = []
    for element in js.document.querySelectorAll("[data-usage-view]"):
        view_id = py(element.getAttribute("data-usage-view"))
        if view_id and view_id not in views:
            views.append(view_id)
    return views


def clicked(event):
    target, event_name, view_ids = py(event.target), None, []
    while target is not None and hasattr(target, "getAttribute"):
        event_name = event_name or py(target.getAttribute("data-usage-click"))
        view_id = py(target.getAttribute("data-usage-view"))
        if view_id:
            view_ids.append(view_id)
        target = py(target.parentNode)
    return ["click", [event_name, view_ids]]


def listen(session):
    document, window = js.document, js.window

    def on(target, name, make_call, capture=False):
        """Listen to ``name``; ``make_call(event)`` gives the call to handle, or None."""
        def listener(*args):
            call = make_call(*args)
            if call is not None:
                session.handle(call)

        target.addEventListener(name, proxy(guarded(name, listener)), capture)

    def navigated(*_):
        body = py(document.body)
        app = py(body.getAttribute("data-usage-app")) if body is not None else None
        session.handle(["navigate", [app, str(js.location.pathname)]])

    later = proxy(guarded("navigation", navigated))
    on(document, "click", clicked, True)
    on(document, "visibilitychange", lambda *_: ["visibility", [document.visibilityState == "hidden"]])
    on(window, "pagehide", lambda *_: ["pagehide", []])
    on(window, "pageshow", lambda event: ["pageshow", [document.visibilityState == "hidden"]]
       if event.persisted else None)
    on(window, "storage", lambda event: ["consent", [py(event.newValue)]] if py(event.key) == CONSENT_KEY else None)
    window.addEventListener("popstate", proxy(lambda *_: js.setTimeout(later, 0)))
    for name in ("pushState", "replaceState"):
        original = getattr(js.history, name).bind(js.history)

        def wrapper(*args, original=original):
            result = original(*args)
            js.setTimeout(later, 0)  # let the router render first
            return result

        setattr(js.history, name, proxy(wrapper))
    js.MutationObserver.new(proxy(guarded("views", lambda *_: session.handle(["views", [document_views()]])))).observe(
        document.documentElement,
        js.JSON.parse('{"childList":true,"subtree":true,"attributes":true,"attributeFilter":["data-usage-view"]}'))
    js.setInterval(proxy(guarded("timer", session.reporter.tick)), 1000)


_session = []


def boot(options=None, **kwargs):
    """Report usage from this page's own Pyodide (a Pyodide or PyScript app), on the main
    thread, no micropip needed::

        import pyodide_js
        await pyodide_js.loadPackage("/usage/usage_reporter-latest-py3-none-any.whl")
        import usage_reporter.browser
        usage_reporter.browser.boot({"app_id": "shop"})

    Options: ``app_id``, ``flush_interval_s`` (30), ``report_url``
    (``/api/ui_counters/_report`` of this page's origin), ``enabled``, ``honor_gpc``,
    ``app_paths``. With usage.js on the page (``data-runtime="pyodide" data-python="page"``),
    its settings are the defaults and its queue is taken over. Returns the running
    PageSession (a second call returns the first one).
    """
    if _session:
        return _session[0]
    if not hasattr(js, "document"):
        raise RuntimeError("usage_reporter.browser.boot() runs on a page's main thread; "
                           "data-runtime=\"pyodide\" starts the worker itself")
    try:
        config = page_config(dict(_to_py(options) or {}, **kwargs))
        session = PageSession(config, LocalStorage(), Transport(config["report_url"]), EventClock(now_ms),
                              new_id, log_once, listen_clicks, random=js.Math.random)
        _session.append(session)
        session.start(session.storage.keys())
        usage = py(getattr(js.window, "usage", None))
        if usage is not None and py(getattr(usage, "q", None)) is not None and py(getattr(usage, "h", None)) is None:
            facade = guarded("usage facade", lambda call: session.handle(_to_py(call)))
            for call in usage.q.splice(0):  # one at a time: a call we cannot read is dropped alone
                facade(call)
            usage.h = proxy(facade)
        listen(session)
        if usage is not None and py(getattr(usage, "r", None)) is not None:
            usage.r()
        return session
    except Exception as exc:
        log_once("boot", "usage_reporter: could not start: " + str(exc))
        return None


__all__ = ["STORAGE_KEY", "boot", "listen_clicks", "start_worker"]
