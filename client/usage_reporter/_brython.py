"""The Brython adapter: the only module that touches the page under Brython.

It gives the core the browser (``localStorage``, ``fetch``/``sendBeacon``, ``Date.now``,
``crypto.randomUUID``) and turns page events into core calls: every click counts for
``main`` (and reports ``data-usage-click``, and counts for each ``data-usage-view``
ancestor); ``data-usage-view`` elements are sub-views while in the document; the app id
follows ``pushState``/``replaceState``/``popstate`` (``<body data-usage-app>``, else the
script tag's ``data-app-paths``); a hidden tab stops the clock and beacons; an opt-out
applies in every tab at once (``storage`` event). Every callback is guarded: nothing throws
into the host page. Only ``from browser import window, document``: no Brython stdlib.
"""

from browser import document, window

from . import _json, api
from .application_usage import ApplicationUsageTracker
from .page_calls import PageCalls, app_for_path, flush_interval
from .reporter import Reporter

STORAGE_KEY = "usage_reporter"
CONSENT_KEY = STORAGE_KEY + ".consent"
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
    return _json.loads(text) if isinstance(text, str) else None  # JS null/undefined: None


def log_once(kind, message, level="error"):
    """Each kind of problem once per page: our bugs and bad calls as console errors, the
    reporter's news (a failed send, a refused report) as warnings."""
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


class Clock:
    """``Date.now()`` in ms; ``at`` pins it while boot replays what happened earlier."""

    def __init__(self):
        self.at = None

    def __call__(self):
        return float(window.Date.now()) if self.at is None else float(self.at)


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
    text = _text(header)
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


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


class BrythonPage:
    """The reporter and tracker of this page, fed by usage.js's queue and the page's events."""

    def __init__(self, config):
        self.config = config
        self.clock = Clock()
        self.storage = LocalStorage()
        report_url = str(window.URL.new(config.get("report_url") or REPORT_PATH, window.location.href).href)
        gpc = bool(config.get("honor_gpc", True)) and getattr(window.navigator, "globalPrivacyControl", None) is True
        self.reporter = Reporter(clock=self.clock, storage=self.storage, transport=FetchTransport(report_url),
                                 new_id=new_id, log=lambda message: log_once(message, message, "warn"),
                                 flush_interval_s=flush_interval(config.get("flush_interval_s")),
                                 storage_key=STORAGE_KEY, enabled=config.get("enabled", True) is not False,
                                 global_privacy_control=gpc)
        self.tracker = ApplicationUsageTracker(self.reporter, self.clock)
        self.calls = PageCalls(self.tracker, log_once)
        api.install(self.reporter, self.tracker, listen_clicks)

    def handle(self, call):
        """A facade call from JavaScript (``usage.h``): converted, then handled; never raises."""
        try:
            self.calls.handle(_to_py(call))
        except Exception as exc:
            log_once("facade", "usage_reporter: could not read a call: " + str(exc))

    def start(self, usage):
        """Replay what earlier pages saved, start this page's app and views, take over the queue."""
        self.reporter.report_user_agent(_text(window.navigator.userAgent))
        self.clock.at = float(window.performance.timeOrigin)  # time on screen counts from page start
        try:
            self.calls.replay_saved(self.storage, self.storage.keys())
            self.calls.call_setAppId(self.app_from_page() or self.config.get("app_id"))
            self.scan_views()
        finally:
            self.clock.at = None
        if document.visibilityState == "hidden":
            self.tracker.pause()
        if usage is not None and getattr(usage, "q", None) is not None:
            for call in _to_py(usage.q.splice(0)):
                self.calls.handle(call)
            usage.h = guarded("usage facade", self.handle)
        self.listen()
        if usage is not None and getattr(usage, "r", None) is not None:
            usage.r()

    def listen(self):
        document.addEventListener("click", guarded("click", self.on_click), True)
        document.addEventListener("visibilitychange", guarded("visibility", self.on_visibility))
        window.addEventListener("pagehide", guarded("pagehide", self.on_pagehide))
        window.addEventListener("pageshow", guarded("pageshow", self.on_pageshow))
        window.addEventListener("storage", guarded("storage", self.on_storage))
        window.addEventListener("popstate", guarded("popstate", self.on_navigate))
        for name in ("pushState", "replaceState"):
            self.wrap_history(name)
        self.observer = window.MutationObserver.new(guarded("views", self.scan_views))
        self.observer.observe(document.documentElement, window.JSON.parse(VIEW_OBSERVER_OPTIONS))
        window.setInterval(guarded("timer", self.reporter.tick), 1000)

    def on_click(self, event):
        target, event_name, view_ids = event.target, None, []
        while target is not None and getattr(target, "getAttribute", None) is not None:
            event_name = event_name or _text(target.getAttribute("data-usage-click"))
            view_id = _text(target.getAttribute("data-usage-view"))
            if view_id:
                view_ids.append(view_id)
            target = target.parentNode
        self.calls.call_click(event_name, view_ids)

    def on_visibility(self, event=None):
        if document.visibilityState == "hidden":
            self.tracker.pause()
            self.reporter.flush_beacon()
        else:
            self.tracker.resume()

    def on_pagehide(self, event=None):
        if not self.tracker.paused:  # otherwise visibilitychange has sent it already
            self.tracker.pause()
            self.reporter.flush_beacon()

    def on_pageshow(self, event):
        if event.persisted and document.visibilityState != "hidden":
            self.tracker.resume()  # back from the back/forward cache

    def on_storage(self, event):
        """Another tab changed the visitor's choice: follow it here at once."""
        if _text(event.key) == CONSENT_KEY:
            value = _text(event.newValue)
            if value == "out" and not self.reporter.opted_out:
                self.reporter.opt_out()
            elif value == "in" and self.reporter.opted_out:
                self.reporter.opt_in()

    def on_navigate(self, event=None):
        window.setTimeout(guarded("navigation", self.follow_location), 0)  # let the router render first

    def wrap_history(self, name):
        history = window.history
        original = getattr(history, name).bind(history)
        navigated = guarded("navigation", self.on_navigate)

        def wrapper(*args):
            result = original(*args)
            navigated()
            return result

        setattr(history, name, wrapper)

    def follow_location(self):
        self.calls.call_setAppId(self.app_from_page())

    def app_from_page(self):
        """``<body data-usage-app>``, else the longest ``data-app-paths`` prefix of the path."""
        body = document.body
        app_id = _text(body.getAttribute("data-usage-app")) if body is not None else None
        return app_id or app_for_path(self.config.get("app_paths"), str(window.location.pathname))

    def scan_views(self, *args):
        view_ids = []
        for element in document.querySelectorAll("[data-usage-view]"):
            view_id = _text(element.getAttribute("data-usage-view"))
            if view_id and view_id not in view_ids:
                view_ids.append(view_id)
        self.calls.show_views(view_ids)


def page_config(options=None):
    """Settings from boot-brython.js (``usage.config``), then the script tag, then ``options``."""
    usage = getattr(window, "usage", None)
    script = getattr(usage, "s", None) if usage is not None else None
    server = _to_py(usage.config) if usage is not None and getattr(usage, "config", None) is not None else {}
    config = {"report_url": server.get("reportUrl"), "enabled": server.get("enabled", True),
              "honor_gpc": server.get("honorGpc", True), "flush_interval_s": server.get("flushIntervalS")}
    if script is not None and getattr(script, "getAttribute", None) is not None:
        config["app_id"] = _text(script.getAttribute("data-app-id"))
        config["flush_interval_s"] = _text(script.getAttribute("data-flush-interval")) or config["flush_interval_s"]
        paths = _text(script.getAttribute("data-app-paths"))
        try:
            config["app_paths"] = _json.loads(paths) if paths else None
        except ValueError as exc:
            log_once("app paths", "usage_reporter: data-app-paths is not a JSON object, ignored: " + str(exc))
    config.update(options or {})
    return config


_pages = []


def boot(options=None, **kwargs):
    """Start reporting on this Brython page (usage.js's boot-brython.js calls it).

    In library mode a page that runs Brython itself calls it once; with usage.js on the
    page too, usage.js's settings are the defaults and its queue is taken over::

        import usage_reporter.browser
        usage_reporter.browser.boot({"app_id": "shop", "flush_interval_s": 30})

    Options: ``app_id``, ``flush_interval_s``, ``report_url``, ``enabled``, ``honor_gpc``,
    ``app_paths`` ({path prefix: app id}). Returns the running BrythonPage; a second call
    returns the first one. Never raises: a failure is logged to the console.
    """
    if _pages:
        return _pages[0]
    try:
        config = page_config(dict(options or {}, **kwargs))
        page = BrythonPage(config)
        _pages.append(page)
        page.start(getattr(window, "usage", None))
        return page
    except Exception as exc:
        log_once("boot", "usage_reporter: could not start: " + str(exc))
        return None
