"""One page's reporting, whatever thread it runs on: the core's reporter and tracker, fed
with usage.js's calls by a runtime adapter that only translates page events.

``page_events.boot_page`` runs it on the page's main thread (library mode) and
``worker_session.boot_worker``, through ``WorkerSession``, in a Web Worker; the page's own
events arrive as the same calls either way. Besides ``PageCalls``'s facade calls, the adapters' listeners send:

- ``["views", [ids]]``: the ``data-usage-view`` ids now in the document;
- ``["visibility", [hidden]]``, ``["pagehide", []]``, ``["pageshow", [hidden]]``;
- ``["navigate", [body data-usage-app, location.pathname]]`` after pushState/popstate;
- ``["consent", [value]]``: another tab changed the visitor's opt-out.

Settings (``config``, snake_case as the server sends them, see ``settings`` below): ``app_id``,
``flush_interval_s``, ``enabled``, ``honor_gpc``, ``app_paths`` ({path prefix: app id}, or
its JSON text), and what the adapter read from the page: ``gpc``, ``user_agent``,
``hidden``, ``start_ms`` (when the page started: time on screen counts from there),
``body_app``, ``path`` and ``views``. Builtins only.
"""

from . import api
from .application_usage import ApplicationUsageTracker
from .page_calls import PageCalls, app_for_path, flush_interval
from .report import FLUSH_INTERVAL_S, REPORT_PATH
from .reporter import Reporter

STORAGE_KEY = "usage_reporter"
CONSENT_KEY = STORAGE_KEY + ".consent"
# What both threads share of the page-event layer (page_events.py is the main thread's, the
# worker's is at the end of worker_session.py): settings, logging once, guard, report ids.
# The server's share of the settings (routes/assets.py ``browser_settings`` sends these keys).
SERVER_DEFAULTS = {"report_url": REPORT_PATH, "flush_interval_s": FLUSH_INTERVAL_S, "enabled": True, "honor_gpc": True}
# usage.js's script tag: the attribute each setting may come from.
SCRIPT_ATTRIBUTES = (("app_id", "data-app-id"), ("flush_interval_s", "data-flush-interval"),
                     ("app_paths", "data-app-paths"))


def log_once_to(runtime, level="warn"):
    """``log_once(kind, text, level=None)``: each kind of problem once per page, through
    ``runtime.log`` (a closure, not a class: Brython's compiled classes cost visitors bytes)."""
    logged = {}

    def log_once(kind, message, how=None):
        if kind not in logged:
            logged[kind] = True
            try:
                runtime.log(how or level, message)
            except Exception:
                pass

    return log_once


def guarded(log_once, kind, fn):
    """``fn`` as a callback for the browser: an exception is logged once, never thrown."""

    def callback(*args):
        try:
            return fn(*args)
        except Exception as exc:
            log_once(kind, "usage_reporter: error in " + kind + " handler: " + str(exc), "error")

    return callback


def new_id(runtime):
    """A reportId: ``crypto.randomUUID()`` where the page is a secure context, else 32 hex digits."""
    made = runtime.uuid()
    if made:
        return str(made)
    digits = ""
    while len(digits) < 32:
        digits += "0123456789abcdef"[int(runtime.random() * 16) % 16]
    return digits


def settings(server=None, script=None, options=None):
    """The page's settings: the server's, then the script tag's ``data-*`` (raw text, as the
    tag has them), then ``boot``'s options; each later one wins when it gives a value.

        >>> settings({"flush_interval_s": 30}, {"data-flush-interval": "5"})["flush_interval_s"]
        5.0
    """
    config = dict(SERVER_DEFAULTS)
    for key, value in (server or {}).items():
        if value is not None:
            config[key] = value
    for key, attribute in SCRIPT_ATTRIBUTES:
        value = (script or {}).get(attribute)
        if value:
            config[key] = value
    config.update(options or {})
    config["flush_interval_s"] = flush_interval(config.get("flush_interval_s"))
    return config


class EventClock:
    """``now()`` (ms since the epoch), or the time an event happened while it is handled.

    Never goes backwards: events stamped on another thread may arrive after a tick.
    """

    def __init__(self, now):
        self._now = now
        self.at = None
        self._last = 0.0

    def __call__(self):
        value = float(self._now() if self.at is None else self.at)
        if value > self._last:
            self._last = value
        return self._last


def reporter_options(config):
    """The Reporter keyword arguments a page's settings ask for."""
    return {"flush_interval_s": flush_interval(config.get("flush_interval_s")), "storage_key": STORAGE_KEY,
            "enabled": config.get("enabled", True) is not False,
            "global_privacy_control": config.get("honor_gpc", True) is not False and config.get("gpc") is True}


class PageSession(PageCalls):
    """The reporter, tracker and calls of one page (``handle(call)`` never raises)."""

    def __init__(self, config, storage, transport, clock, new_id, log_once, random=None, json_loads=None):
        """``random``: the runtime's ``Math.random`` (retry jitter); ``json_loads``: a native
        JSON parser if the runtime has a faster one than ``_json.loads`` (Brython).

        Making this session the one ``usage_reporter``'s module API reports to is the
        creator's explicit step (``api.install(session.reporter, session.tracker, ...)``, as
        ``page_events.boot_page`` and ``worker_session.boot_worker`` do): constructing one
        changes no global."""
        self.config = config
        self.storage = storage
        self.clock = clock
        self.replaying = False
        self.reporter = Reporter(clock=clock, storage=storage, transport=transport, new_id=new_id,
                                 log=lambda message: log_once(message, message), random=random,
                                 json_loads=json_loads, **reporter_options(config))
        PageCalls.__init__(self, ApplicationUsageTracker(self.reporter, clock), log_once, json_loads)
        self.app_paths = self._app_paths(config.get("app_paths"))

    def _app_paths(self, paths):
        if isinstance(paths, str):
            try:
                paths = self.json_loads(paths)
            except Exception as exc:
                self.log_once("app paths", "usage_reporter: data-app-paths is not JSON: " + str(exc))
                return None
        return paths if isinstance(paths, dict) else None

    def start(self, storage_keys):
        """Replay what earlier pages saved, then start this page's app and views, as of when
        the page started (events before Python ran are timed right)."""
        self.reporter.report_user_agent(self.config.get("user_agent"))
        self.clock.at = self.config.get("start_ms")
        try:
            self.replaying = True
            self.replay_saved(self.storage, storage_keys)
            self.replaying = False
            app_id = self.app_from(self.config.get("body_app"), self.config.get("path")) or self.config.get("app_id")
            if app_id:
                self.handle(["setAppId", [app_id]])
            self.call_views(self.config.get("views"))
        finally:
            self.replaying = False
            self.clock.at = None
        if self.config.get("hidden"):
            self.tracker.pause()
        else:
            self.tracker.resume()  # a replayed hide must not stop this page's clock

    def app_from(self, body_app, path):
        """``<body data-usage-app>``, else the longest ``app_paths`` prefix of the path."""
        if isinstance(body_app, str) and body_app:
            return body_app
        return app_for_path(self.app_paths, path) if isinstance(path, str) else None

    def call_views(self, view_ids=None):
        self.show_views([view_id for view_id in view_ids or [] if isinstance(view_id, str) and view_id])

    def call_visibility(self, hidden=False):
        """Hidden: time stops and what is buffered leaves by beacon (not for a replayed hide:
        that page is gone, and its data is sent with this one's)."""
        if not hidden:
            self.tracker.resume()
            return
        self.tracker.pause()
        if not self.replaying:
            self.reporter.flush_beacon()

    def call_pagehide(self):
        if not self.tracker.paused:  # visibilitychange already sent it otherwise
            self.call_visibility(True)

    def call_pageshow(self, hidden=False):
        if not hidden:
            self.tracker.resume()  # back from the back/forward cache

    def call_navigate(self, body_app=None, path=None):
        app_id = self.app_from(body_app, path)
        if app_id:
            api.set_app_id(app_id)

    def call_consent(self, value=None):
        """Another tab changed the visitor's choice: follow it here at once."""
        if value == "out" and not self.reporter.opted_out:
            self.reporter.opt_out()
        elif value == "in" and self.reporter.opted_out:
            self.reporter.opt_in()
