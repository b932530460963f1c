"""The Brython adapter: the only module that touches the page under Brython.

It gives the core the browser (``localStorage``, ``fetch``/``sendBeacon``, ``Date.now``,
``crypto.randomUUID``) and turns page events into core calls: every click counts for
``main`` (and reports ``data-usage-click``, and counts for each ``data-usage-view``
ancestor); ``data-usage-view`` elements are sub-views while in the document; the app id
follows ``pushState``/``replaceState``/``popstate`` (``<body data-usage-app>``, else the
script tag's ``data-app-paths``); a hidden tab stops the clock and beacons; an opt-out
applies in every tab at once (``storage`` event). What to do with those events is
``PageSession``'s (pure, shared with the Pyodide adapter); this module only translates.
Every callback is guarded: nothing throws into the host page. Only ``from browser import
window, document`` and ``javascript`` (both built into brython.js): no Brython stdlib.
"""

from browser import document, window
from javascript import JSON  # built into brython.js: a native parser, not the stdlib's json

from .page_session import CONSENT_KEY, EventClock, PageSession

REPORT_PATH = "/api/ui_counters/_report"
FETCH_OPTIONS = ('{"method":"POST","credentials":"same-origin",'
                 '"headers":{"Content-Type":"application/json","kbn-xsrf":"usage_reporter"}}')
VIEW_OBSERVER_OPTIONS = '{"childList":true,"subtree":true,"attributes":true,"attributeFilter":["data-usage-view"]}'
_logged = {}


def _text(value):
    """A JS string as str; JS null/undefined (which Brython wraps, not None) as None."""
    return value if isinstance(value, str) else None


def _to_py(value):
    """A JSON-able JS value as plain Python. Arrays and scalars are converted directly (a
    facade call is an array of strings, numbers and arrays: the common, fast case); objects
    go through JSON."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if window.Array.isArray(value):
        return [_to_py(item) for item in value]
    if isinstance(value, (list, tuple)):
        return [_to_py(item) for item in value]
    text = window.JSON.stringify(value)
    return JSON.parse(text) if isinstance(text, str) else None  # JS null/undefined: None


def log_once(kind, message, level="error"):
    """Each kind of problem once per page: an exception in our own listeners as a console
    error (a bug of ours), what the session reports (a failed send, a refused report, a bad
    facade call) as a warning, as the Pyodide adapter does."""
    if kind in _logged:
        return
    _logged[kind] = True
    try:
        getattr(window.console, level)(message)
    except Exception:
        pass


def guarded(kind, fn):
    """``fn`` as a callback for the browser: exceptions are logged once, never thrown."""

    def callback(*args):
        try:
            return fn(*args)
        except Exception as exc:
            log_once(kind, "usage_reporter: error in " + kind + " handler: " + str(exc))

    return callback


def new_id():
    """A reportId: ``crypto.randomUUID()``, which only secure contexts have; else 32 hex digits."""
    crypto = getattr(window, "crypto", None)
    if crypto is not None and getattr(crypto, "randomUUID", None) is not None:
        return str(crypto.randomUUID())
    digits = "0123456789abcdef"
    return "".join(digits[int(window.Math.random() * 16) % 16] for _ in range(32))


class LocalStorage:
    """``window.localStorage`` with the core's get/set/remove (errors are the core's to log)."""

    def keys(self):
        storage = window.localStorage
        return [_text(storage.key(index)) for index in range(int(storage.length))]

    def get(self, key):
        return _text(window.localStorage.getItem(key))

    def set(self, key, value):
        window.localStorage.setItem(key, value)

    def remove(self, key):
        window.localStorage.removeItem(key)


def retry_after_seconds(header):
    """``Retry-After`` in seconds, or None (absent, or an HTTP date: the core backs off itself)."""
    try:
        seconds = float(_text(header))
    except (TypeError, ValueError):
        return None
    return seconds if seconds == seconds and seconds >= 0 else None  # not NaN, not negative


class FetchTransport:
    """Interval flushes with ``fetch``; page hide and close with ``navigator.sendBeacon``."""

    def __init__(self, url):
        self.url = url

    def send(self, body, on_result):
        options = window.JSON.parse(FETCH_OPTIONS)  # a plain JS object, whatever the runtime
        options.body = body

        def answered(response):
            on_result(int(response.status), retry_after_seconds(response.headers.get("Retry-After")))

        def failed(error):
            on_result(None, None)

        window.fetch(self.url, options).then(guarded("fetch", answered), guarded("fetch", failed))

    def beacon(self, body):
        return bool(window.navigator.sendBeacon(self.url, body))


def listen_clicks(element, callback):
    """For ``track_application_view(view_id, element)``: clicks inside ``element``."""
    handler = guarded("view click", lambda event: callback())
    element.addEventListener("click", handler)
    return lambda: element.removeEventListener("click", handler)


def document_views():
    """The ``data-usage-view`` ids now in the document, in document order, once each."""
    view_ids = []
    for element in document.querySelectorAll("[data-usage-view]"):
        view_id = _text(element.getAttribute("data-usage-view"))
        if view_id and view_id not in view_ids:
            view_ids.append(view_id)
    return view_ids


def body_app():
    body = document.body
    return _text(body.getAttribute("data-usage-app")) if body is not None else None


def clicked(event):
    """A click as usage.js's call: the nearest data-usage-click, every data-usage-view around."""
    target, event_name, view_ids = event.target, None, []
    while target is not None and getattr(target, "getAttribute", None) is not None:
        event_name = event_name or _text(target.getAttribute("data-usage-click"))
        view_id = _text(target.getAttribute("data-usage-view"))
        if view_id:
            view_ids.append(view_id)
        target = target.parentNode
    return ["click", [event_name, view_ids]]


def facade_handler(session):
    """``usage.h``: one facade call, from usage.js as JSON data. A call whose arguments are
    not (a page on an older, cached usage.js passed an Event or a DOM element) is dropped
    with one warning; it never throws into the page nor stops the calls after it."""

    def handle(call):
        try:
            call = _to_py(call)
        except Exception as exc:
            log_once("facade", "usage_reporter: dropped a facade call: " + str(exc), "warn")
            return
        session.handle(call)

    return handle


def listen(session):
    """Page events as the session's calls; every listener guarded."""

    def on(target, name, make_call, capture=False):
        def listener(event):
            call = make_call(event)
            if call is not None:
                session.handle(call)

        target.addEventListener(name, guarded(name, listener), capture)

    def hidden():
        return document.visibilityState == "hidden"

    on(document, "click", clicked, True)
    on(document, "visibilitychange", lambda event: ["visibility", [hidden()]])
    on(window, "pagehide", lambda event: ["pagehide", []])
    on(window, "pageshow", lambda event: ["pageshow", [hidden()]] if event.persisted else None)  # bfcache
    on(window, "storage", lambda event: ["consent", [_text(event.newValue)]]
       if _text(event.key) == CONSENT_KEY else None)  # another tab's opt-out or opt-in

    def follow():  # after the router rendered: a zero timeout after pushState/popstate
        session.handle(["navigate", [body_app(), str(window.location.pathname)]])

    navigated = guarded("navigation", lambda *_: window.setTimeout(guarded("navigation", follow), 0))
    window.addEventListener("popstate", navigated)
    history = window.history
    for name in ("pushState", "replaceState"):
        original = getattr(history, name).bind(history)

        def wrapper(*args, original=original):
            result = original(*args)
            navigated()
            return result

        setattr(history, name, wrapper)
    observer = window.MutationObserver.new(guarded("views", lambda *_: session.handle(["views", [document_views()]])))
    observer.observe(document.documentElement, window.JSON.parse(VIEW_OBSERVER_OPTIONS))
    window.setInterval(guarded("timer", session.reporter.tick), 1000)
    return observer


def page_config(options=None):
    """Settings from boot-brython.js (``usage.config``), the script tag, then ``options``,
    plus what the session needs to know about the page now."""
    usage = getattr(window, "usage", None)
    script = getattr(usage, "s", None) if usage is not None else None
    server = _to_py(usage.config) if usage is not None and getattr(usage, "config", None) is not None else {}
    config = {"report_url": server.get("reportUrl"), "enabled": server.get("enabled", True),
              "honor_gpc": server.get("honorGpc", True), "flush_interval_s": server.get("flushIntervalS")}
    if script is not None and getattr(script, "getAttribute", None) is not None:
        config["app_id"] = _text(script.getAttribute("data-app-id"))
        config["flush_interval_s"] = _text(script.getAttribute("data-flush-interval")) or config["flush_interval_s"]
        config["app_paths"] = _text(script.getAttribute("data-app-paths"))
    config.update(options or {})
    config.update({"gpc": getattr(window.navigator, "globalPrivacyControl", None) is True,
                   "user_agent": _text(window.navigator.userAgent), "hidden": document.visibilityState == "hidden",
                   "start_ms": float(window.performance.timeOrigin), "body_app": body_app(),
                   "path": str(window.location.pathname), "views": document_views()})
    return config


_sessions = []


def boot(options=None, **kwargs):
    """Start reporting on this Brython page (usage.js's boot-brython.js calls it).

    In library mode a page that runs Brython itself calls it once; with usage.js on the
    page too, usage.js's settings are the defaults and its queue is taken over::

        import usage_reporter.browser
        usage_reporter.browser.boot({"app_id": "shop", "flush_interval_s": 30})

    Options: ``app_id``, ``flush_interval_s``, ``report_url``, ``enabled``, ``honor_gpc``,
    ``app_paths`` ({path prefix: app id}). Returns the running PageSession; a second call
    returns the first one. Never raises: a failure is logged to the console.
    """
    if _sessions:
        return _sessions[0]
    try:
        config = page_config(dict(options or {}, **kwargs))
        report_url = str(window.URL.new(config.get("report_url") or REPORT_PATH, window.location.href).href)
        session = PageSession(config, LocalStorage(), FetchTransport(report_url), EventClock(lambda: window.Date.now()),
                              new_id, lambda kind, message: log_once(kind, message, "warn"), listen_clicks,
                              random=window.Math.random, json_loads=JSON.parse)
        _sessions.append(session)
        session.start(session.storage.keys())
        usage = getattr(window, "usage", None)
        if usage is not None and getattr(usage, "q", None) is not None:
            facade = facade_handler(session)
            for call in usage.q.splice(0):  # one at a time: a call we cannot read is dropped alone
                facade(call)
            usage.h = facade
        session.observer = listen(session)
        if usage is not None and getattr(usage, "r", None) is not None:
            usage.r()
        return session
    except Exception as exc:
        log_once("boot", "usage_reporter: could not start: " + str(exc))
        return None
