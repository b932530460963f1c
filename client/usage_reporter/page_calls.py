"""usage.js's call protocol, handled with the core: the runtime-independent half of an adapter.

usage.js queues what happens before Python runs as calls ``[name, [args]]`` (see
``usage_collection/static/usage.js``): the facade's ``reportUiCounter`` (and OpenSearch
Dashboards' name for it, ``reportUiStats``), ``setAppId``, ``optOut``, ``optIn``, and
``click`` with ``[data-usage-click or None, [data-usage-view ids]]``. Arguments arrive as
JSON data (usage.js copies them so); a call the core refuses is logged once and dropped,
never raised. usage.js saves the queue in storage (``usage_reporter.q.<ms>``) when a tab
closes before Python is up. An adapter hands each call to ``PageCalls.handle``, and so do
its own listeners once it runs: one code path for early and live events. Builtins only
(runs under Brython without its stdlib).
"""

from . import _json, api
from .report import FLUSH_INTERVAL_S, METRIC_TYPE, MIN_FLUSH_INTERVAL_S

QUEUE_PREFIX = "usage_reporter.q."


def app_for_path(paths, path):
    """The app id of the longest path prefix of ``path`` in ``paths`` ({prefix: app id}).

    Prefixes match whole path segments: ``/app/discover`` matches ``/app/discover`` and
    ``/app/discover/doc/1``, not ``/app/discovery``.

        >>> app_for_path({"/app/discover": "discover", "/": "home"}, "/app/discover/doc/1")
        'discover'
    """
    if not isinstance(paths, dict):
        return None
    best = None
    for prefix in paths:
        if not isinstance(prefix, str) or not prefix:
            continue
        matches = path == prefix or path.startswith(prefix if prefix.endswith("/") else prefix + "/")
        if matches and (best is None or len(prefix) > len(best)):
            best = prefix
    return paths[best] if best is not None else None


def flush_interval(value, default=FLUSH_INTERVAL_S, minimum=MIN_FLUSH_INTERVAL_S):
    """A flush interval in seconds from a setting or a data attribute (text or number)."""
    try:
        seconds = float(value) if value not in (None, "") else float(default)
    except (TypeError, ValueError):
        seconds = float(default)
    if seconds != seconds:  # NaN
        seconds = float(default)
    return max(seconds, minimum)


class PageCalls:
    """Turns calls into core calls; never raises (the host page must not see our errors)."""

    def __init__(self, tracker, log_once, json_loads=None):
        self.tracker = tracker
        self.log_once = log_once
        self.json_loads = json_loads or _json.loads
        self.views = {}  # data-usage-view id -> its api.ViewTracking

    def handle(self, call):
        try:
            method = None
            if isinstance(call, list) and len(call) == 2 and isinstance(call[1] or [], list):
                method = getattr(self, "call_" + str(call[0]), None)
            if method is None:
                raise ValueError("unknown call " + repr(call))
            method(*(call[1] or []))
        except Exception as exc:
            self.log_once("call " + str(exc), "usage_reporter: " + str(exc))

    def call_reportUiCounter(self, app_name=None, metric_type=None, event_names=None, count=None):
        api.report_ui_counter(app_name, metric_type, event_names, 1 if count is None else count)

    call_reportUiStats = call_reportUiCounter  # OpenSearch Dashboards' name for it

    def call_setAppId(self, app_id=None):
        if app_id:
            api.set_app_id(app_id)

    def call_optOut(self, *ignored):
        """Arguments are ignored: ``button.addEventListener("click", usage.optOut)`` passes
        the click, and an opt-out button must opt out whatever it is given."""
        api.opt_out()

    def call_optIn(self, *ignored):
        api.opt_in()

    def call_click(self, event_name=None, view_ids=None):
        """One click: for main and each view it was in, and a CLICK counter for data-usage-click."""
        view_ids = [view_id for view_id in view_ids or [] if view_id]
        tracked = self.tracker.tracked_views
        gone = [view_id for view_id in view_ids if view_id not in tracked]
        for view_id in gone:  # its element left before Python saw it: count the click anyway
            self.tracker.track_view(view_id)
        self.tracker.click(view_ids)
        for view_id in gone:
            self.tracker.untrack_view(view_id)
        if event_name and self.tracker.app_id:
            api.report_ui_counter(self.tracker.app_id, METRIC_TYPE.CLICK, event_name)

    def show_views(self, view_ids):
        """The data-usage-view ids now in the document: start the new ones, end the gone ones."""
        for view_id in list(self.views):
            if view_id not in view_ids:
                self.views.pop(view_id).stop()
        for view_id in view_ids:
            if view_id and view_id not in self.views:
                try:
                    view = api.track_application_view(view_id)
                    view.start()
                    self.views[view_id] = view
                except Exception as exc:
                    self.log_once("view " + str(exc), "usage_reporter: data-usage-view: " + str(exc))

    def replay_saved(self, storage, keys):
        """Replay, oldest first, the queues earlier pages saved before their Python ran."""
        for key in sorted(key for key in keys if isinstance(key, str) and key.startswith(QUEUE_PREFIX)):
            try:
                text = storage.get(key)
                storage.remove(key)  # first: a broken queue must not come back on every load
                calls = self.json_loads(text) if text else []
            except Exception as exc:
                self.log_once("saved queue", "usage_reporter: discarded a saved queue " + key + ": " + str(exc))
                continue
            for call in calls if isinstance(calls, list) else []:
                self.handle(call)
