"""Time on screen and clicks per app (view ``main``) and per sub-view.

The equivalent of Kibana's ``ApplicationUsageTracker``, with two changes that make the
numbers complete: the time so far is folded into the report at every flush (Kibana reports
only on app change, hide and unload, so someone who stays on one view reports nothing until
then), and sub-views stay tracked across an app change until their owner ends them (their
time before the change counts for the old app). Time stops while the page is hidden.

The adapter calls ``set_app_id`` (from ``data-app-id``, ``pushState``, ``popstate``),
``click()`` for every click on the page, ``pause``/``resume`` on visibility changes.
Builtins only.
"""

from .report import MAIN_VIEW_ID
from .validation import check_app_name, check_view_id

_MS_PER_MINUTE = 60000.0


class _View:
    """A tracked view: when its unreported time started, and its unreported clicks."""

    def __init__(self, since):
        self.since = since
        self.clicks = 0


class ApplicationUsageTracker:
    """Tracks views of the current app; reports into ``reporter`` as it goes.

        tracker = ApplicationUsageTracker(reporter, clock)
        tracker.set_app_id("shop")        # starts "main"
        tracker.track_view("cart")        # a sub-view on screen
        tracker.click(["cart"])           # counts for "main" and "cart"
        tracker.untrack_view("cart")      # its time and clicks go into the report
    """

    def __init__(self, reporter, clock):
        self._reporter = reporter
        self._clock = clock
        self._app_id = None
        self._views = {}
        self._paused = False
        reporter.add_flush_hook(self.fold_elapsed)

    @property
    def app_id(self):
        return self._app_id

    @property
    def paused(self):
        return self._paused

    @property
    def tracked_views(self):
        """The view ids being timed, ``main`` first."""
        return list(self._views)

    def _now(self):
        return float(self._clock())

    def set_app_id(self, app_id):
        """Switch apps: report the old app's views, then time ``main`` and the open sub-views
        for the new one. The same id again changes nothing (like Kibana's distinctUntilChanged).
        """
        check_app_name("app_id", app_id)
        if app_id == self._app_id:
            return
        self.fold_elapsed()
        self._app_id = app_id
        now = self._now()
        views = {MAIN_VIEW_ID: _View(now)}
        for view_id in self._views:
            if view_id != MAIN_VIEW_ID:
                views[view_id] = _View(now)
        self._views = views

    def track_view(self, view_id):
        """Start timing a sub-view; tracking one already tracked keeps its start (idempotent)."""
        check_view_id(view_id)
        if self._app_id is None or view_id in self._views:
            return
        self._views[view_id] = _View(self._now())

    def untrack_view(self, view_id):
        """Report the view's time and clicks so far and stop tracking it."""
        view = self._views.get(view_id)
        if view is None:
            return
        self._fold(view_id, view, self._now())
        del self._views[view_id]

    def click(self, view_ids=(), include_main=True):
        """One click: for ``main`` (unless ``include_main`` is False) and for each given view.

        The adapter counts every page click with ``click()``; a sub-view's own click
        listener uses ``click([view_id], include_main=False)`` so main is not counted twice.
        """
        targets = [MAIN_VIEW_ID] if include_main else []
        for view_id in view_ids:
            if view_id not in targets:
                targets.append(view_id)
        for view_id in targets:
            view = self._views.get(view_id)
            if view is not None:
                view.clicks += 1

    def pause(self):
        """The page is hidden: report the time so far and stop the clocks."""
        if self._paused:
            return
        self.fold_elapsed()
        self._paused = True

    def resume(self):
        """The page is visible again: time runs again from now, for the same views."""
        if not self._paused:
            return
        self._paused = False
        now = self._now()
        for view in self._views.values():
            view.since = now

    def fold_elapsed(self):
        """Report every view's time and clicks so far into the reporter; keep tracking."""
        now = self._now()
        for view_id in list(self._views):
            self._fold(view_id, self._views[view_id], now)

    def _fold(self, view_id, view, now):
        minutes = 0.0
        if not self._paused and now > view.since:
            minutes = (now - view.since) / _MS_PER_MINUTE
        clicks = view.clicks
        view.since = now
        view.clicks = 0
        if self._app_id is not None and (minutes > 0 or clicks > 0):
            self._reporter.report_application_usage(self._app_id, view_id, minutes, clicks)
