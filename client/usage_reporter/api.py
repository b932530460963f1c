"""The module-level API, the same under CPython, Brython and Pyodide.

Until an adapter calls ``install`` at boot, calls go to an in-memory reporter, so a page's
own Python code may report before the runtime adapter is up (and CPython unit tests need no
browser). ``install`` moves what was recorded early into the real reporter and replays an
early ``set_app_id``, ``opt_out``/``opt_in`` and open views. Builtins only.
"""

from .application_usage import ApplicationUsageTracker
from .reporter import Reporter
from .validation import check_app_name, check_view_id


class _MemoryStorage:
    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = value

    def remove(self, key):
        self.data.pop(key, None)


class _NoTransport:
    """Before install nothing is sent: events wait to be moved into the real reporter."""

    def send(self, body, on_result):
        pass

    def beacon(self, body):
        return False


def _no_time():
    return 0.0


def _no_id():
    return None


class _State:
    def __init__(self):
        self.reporter = Reporter(clock=_no_time, storage=_MemoryStorage(), transport=_NoTransport(),
                                 new_id=_no_id)
        self.tracker = ApplicationUsageTracker(self.reporter, _no_time)
        self.listen_clicks = None
        self.installed = False
        self.early_app_id = None
        self.early_consent = None  # "out" / "in" when opt_out()/opt_in() came before install
        self.view_refs = {}  # view_id -> number of open ViewTracking objects for it
        self.open_views = []  # active ViewTracking objects
        self.slots = []  # ViewTracking objects started by a decorated render function


_state = _State()


def _reset_state():
    """Back to the state before install (for tests)."""
    global _state
    _state = _State()


def install(reporter: "Reporter", tracker: "ApplicationUsageTracker", listen_clicks=None) -> None:
    """Make ``reporter`` and ``tracker`` the ones the module API uses (an adapter's boot step).

    ``listen_clicks(element, callback) -> remove`` lets ``track_application_view`` count
    clicks inside an element without the core touching the DOM.
    """
    state = _state
    early_reporter = state.reporter if not state.installed else None
    state.reporter = reporter
    state.tracker = tracker
    state.listen_clicks = listen_clicks
    if early_reporter is not None:
        state.installed = True
        if state.early_consent == "out":
            reporter.opt_out()
        elif state.early_consent == "in":
            reporter.opt_in()
        reporter.merge(early_reporter.take_current())
        if state.early_app_id is not None:
            tracker.set_app_id(state.early_app_id)
    for view_id in state.view_refs:
        tracker.track_view(view_id)
    for view in state.open_views:
        view._listen()


def is_installed() -> bool:
    return _state.installed


def report_ui_counter(app_name: str, metric_type: str, event_names, count: int = 1) -> None:
    """Count UI events (Kibana's ``reportUiCounter``): one event name or a list of them.

        report_ui_counter("shop", METRIC_TYPE.CLICK, "add_to_cart")
        report_ui_counter("shop", METRIC_TYPE.LOADED, ["cart", "checkout"])
        report_ui_counter("shop", METRIC_TYPE.COUNT, "items_added", count=3)

    Raises ValueError saying why for a colon in ``app_name``, an empty name, a non-positive
    or non-integer count.
    """
    _state.reporter.report_ui_counter(app_name, metric_type, event_names, count)


def report_ui_stats(app_name: str, metric_type: str, event_names, count: int = 1) -> None:
    """OpenSearch Dashboards' name for ``report_ui_counter`` (its ``reportUiStats(appName,
    type, eventNames, count?)``), so code written for OSD reads the same: same arguments,
    same checks, the same counters.

        report_ui_stats("shop", METRIC_TYPE.CLICK, "add_to_cart")
    """
    report_ui_counter(app_name, metric_type, event_names, count)


def set_app_id(app_id: str) -> None:
    """Name the current app (single-page apps call it on every route change)."""
    check_app_name("app_id", app_id)
    if not _state.installed:
        _state.early_app_id = app_id
    _state.tracker.set_app_id(app_id)


def opt_out() -> None:
    """This browser records and sends nothing from now on (remembered in localStorage)."""
    if not _state.installed:
        _state.early_consent = "out"
    _state.reporter.opt_out()


def opt_in() -> None:
    """Undo ``opt_out`` (also overrides Global Privacy Control when that is honoured)."""
    if not _state.installed:
        _state.early_consent = "in"
    _state.reporter.opt_in()


def is_opted_out() -> bool:
    return _state.reporter.opted_out


def flush() -> None:
    """Send what is buffered now, instead of at the next interval (no-op before install)."""
    if _state.installed:
        _state.reporter.flush()


def track_application_view(view_id: str, element=None) -> "ViewTracking":
    """Track a sub-view's time on screen and clicks (Kibana's ``TrackApplicationView``).

    As a context manager, the view is on screen inside the ``with`` block::

        with track_application_view("cart", element=cart_div):
            run_cart_dialog()

    As a decorator of a render function, the view starts when the function is called and
    lasts until another decorated render function for the same element runs (or
    ``render.stop_tracking()``)::

        @track_application_view("settings", element=main_div)
        def render_settings():
            main_div.html = "..."

    Clicks inside ``element`` count for the view (and, like every click, for ``main``).
    """
    check_view_id(view_id)
    return ViewTracking(view_id, element)


def _same_element(first, second):
    if first is None or second is None:
        return first is second
    try:
        return first is second or bool(first == second)
    except Exception:
        return False


class ViewTracking:
    """One use of ``track_application_view``: a context manager and a decorator."""

    def __init__(self, view_id, element=None):
        self.view_id = view_id
        self.element = element
        self.active = False
        self._remove_listener = None

    def start(self) -> None:
        if self.active:
            _state.tracker.track_view(self.view_id)  # e.g. after an app change dropped it
            return
        self.active = True
        _state.open_views.append(self)
        count = _state.view_refs.get(self.view_id, 0)
        _state.view_refs[self.view_id] = count + 1
        _state.tracker.track_view(self.view_id)
        self._listen()

    def stop(self) -> None:
        if not self.active:
            return
        self.active = False
        _discard(_state.open_views, self)
        _discard(_state.slots, self)
        self._unlisten()
        count = _state.view_refs.get(self.view_id, 1) - 1
        if count > 0:
            _state.view_refs[self.view_id] = count
        else:
            _state.view_refs.pop(self.view_id, None)
            _state.tracker.untrack_view(self.view_id)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.stop()
        return False

    def __call__(self, render):
        view = self

        def tracked_render(*args, **kwargs):
            view._take_slot()
            try:
                return render(*args, **kwargs)
            except BaseException:
                view.stop()
                raise

        tracked_render.stop_tracking = self.stop
        tracked_render.view = self
        tracked_render.__wrapped__ = render
        for name in ("__name__", "__qualname__", "__doc__", "__module__"):
            try:
                setattr(tracked_render, name, getattr(render, name))
            except Exception:
                pass
        return tracked_render

    def _take_slot(self):
        """Another view rendered into the same element is no longer on screen."""
        for other in list(_state.slots):
            if other is not self and _same_element(other.element, self.element):
                other.stop()
        self.start()
        if self not in _state.slots:
            _state.slots.append(self)

    def _listen(self):
        listen = _state.listen_clicks
        if self.element is None or listen is None or self._remove_listener is not None or not self.active:
            return
        try:
            self._remove_listener = listen(self.element, self._on_click)
        except Exception as exc:
            _state.reporter.log_once("listen", "could not listen to clicks in a view: " + str(exc))

    def _unlisten(self):
        remove = self._remove_listener
        self._remove_listener = None
        if remove is not None:
            try:
                remove()
            except Exception as exc:
                _state.reporter.log_once("unlisten", "could not stop listening to clicks: " + str(exc))

    def _on_click(self, *event):
        """A click inside the element: count it for this view (the page counts ``main``)."""
        try:
            _state.tracker.click((self.view_id,), include_main=False)
        except Exception as exc:
            _state.reporter.log_once("click", "could not count a click: " + str(exc))


def _discard(items, item):
    for index in range(len(items)):
        if items[index] is item:
            del items[index]
            return
