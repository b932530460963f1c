"""One page's reporting, whatever thread it runs on: the core's reporter and tracker, fed
with usage.js's calls by a runtime adapter that only translates page events.

The Pyodide adapter uses it on the page's main thread (library mode) and, through
``WorkerSession``, in a Web Worker; the page's own events arrive as the same calls either
way. Besides ``PageCalls``'s facade calls, the adapters' listeners send:

- ``["views", [ids]]``: the ``data-usage-view`` ids now in the document;
- ``["visibility", [hidden]]``, ``["pagehide", []]``, ``["pageshow", [hidden]]``;
- ``["navigate", [body data-usage-app, location.pathname]]`` after pushState/popstate;
- ``["consent", [value]]``: another tab changed the visitor's opt-out.

Settings (``config``, snake_case like the Brython adapter's): ``app_id``,
``flush_interval_s``, ``enabled``, ``honor_gpc``, ``app_paths`` ({path prefix: app id}, or
its JSON text), and what the adapter read from the page: ``gpc``, ``user_agent``,
``hidden``, ``start_ms`` (when the page started: time on screen counts from there),
``body_app``, ``path`` and ``views``. Builtins only.
"""

from . import api
from .application_usage import ApplicationUsageTracker
from .page_calls import PageCalls, app_for_path, flush_interval
from .reporter import Reporter

STORAGE_KEY = "usage_reporter"
CONSENT_KEY = STORAGE_KEY + ".consent"


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

    def __init__(self, config, storage, transport, clock, new_id, log_once, listen_clicks=None, random=None,
                 json_loads=None):
        """``random``: the runtime's ``Math.random`` (retry jitter); ``json_loads``: a native
        JSON parser if the runtime has a faster one than ``_json.loads`` (Brython)."""
        self.config = config
        self.storage = storage
        self.clock = clock
        self.replaying = False
        self.reporter = Reporter(clock=clock, storage=storage, transport=transport, new_id=new_id,
                                 log=lambda message: log_once(message, message), random=random,
                                 json_loads=json_loads, **reporter_options(config))
        PageCalls.__init__(self, ApplicationUsageTracker(self.reporter, clock), log_once, json_loads)
        self.app_paths = self._app_paths(config.get("app_paths"))
        api.install(self.reporter, self.tracker, listen_clicks)

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
