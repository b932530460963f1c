"""The Pyodide adapter: runs the pure core under Pyodide, in a Web Worker or on the page.

Two ways in, one ``Session`` (the core's reporter and tracker, and the calls of usage.js's
protocol: ``[name, args]``):

- **Worker** (``data-runtime="pyodide"``): ``/usage/boot-pyodide.js`` starts a module worker
  so Pyodide's ~2 s boot never blocks the page; the worker calls ``start_worker``. A worker
  has no DOM, localStorage or sendBeacon, so the page's forwarder sends every event as a
  message, gives us a copy of our localStorage keys at start and writes back what we post
  (``{"t": "set"}``). Because a closing page cannot wait for us, we keep it told, after
  every change, of what a beacon would carry now (``{"t": "preview"}``: the bodies and the
  storage that results, computed by a throwaway reporter on a copy of the storage, using
  the reportId the real one will use next). Each call carries the time it happened, and
  the clock answers that time while the call is handled, so time on screen is counted
  from the moment the page loaded, not from when Python was up.
- **Main thread** (library mode, a page that runs its own Pyodide): ``boot(options)`` uses
  localStorage, fetch, sendBeacon and DOM listeners directly, like the Brython adapter.
"""

import asyncio
import json
import os

import js
from pyodide.ffi import create_proxy

try:
    from pyodide.ffi import jsnull
except ImportError:  # Pyodide before 0.28 turns JS null into None itself
    jsnull = None

from . import api
from .application_usage import ApplicationUsageTracker
from .reporter import Reporter

STORAGE_KEY = "usage_reporter"
QUEUE_PREFIX = STORAGE_KEY + ".q."
REPORT_PATH = "/api/ui_counters/_report"
_proxies = []  # JS callbacks live as long as the page: keep them from being collected


def py(value):
    """JS ``null`` (``jsnull`` in Pyodide 0.28+) and ``undefined`` both as None."""
    return None if value is None or value is jsnull else value


class Clock:
    """``Date.now()``, or, while a forwarded call is handled, the time it happened."""

    def __init__(self):
        self.at = None
        self._last = 0.0

    def __call__(self):
        now = float(js.Date.now()) if self.at is None else float(self.at)
        self._last = max(self._last, now)  # never backwards, whatever the replay order
        return self._last


def new_id():
    """A random reportId: 32 hex digits (``uuid`` costs 25 ms to import in Pyodide)."""
    return os.urandom(16).hex()


class Ids:
    """reportIds; ``peek`` is the one the next ``take`` returns (previews use it)."""

    def __init__(self):
        self._next = new_id()

    def peek(self):
        return self._next

    def take(self):
        current, self._next = self._next, new_id()
        return current


class MemoryStorage:
    """The worker's copy of our localStorage keys; every write goes to ``on_write`` too."""

    def __init__(self, data, on_write=None):
        self.data = dict(data)
        self.on_write = on_write

    def keys(self):
        return list(self.data)

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value):
        self.data[key] = value
        if self.on_write is not None:
            self.on_write(key, value)

    def remove(self, key):
        self.data.pop(key, None)
        if self.on_write is not None:
            self.on_write(key, None)


class LocalStorage:
    """``window.localStorage`` (main thread)."""

    def keys(self):
        storage = js.localStorage
        return [py(storage.key(i)) for i in range(storage.length)]

    def get(self, key):
        return py(js.localStorage.getItem(key))

    def set(self, key, value):
        js.localStorage.setItem(key, value)

    def remove(self, key):
        js.localStorage.removeItem(key)


class Transport:
    """POST with ``fetch`` (main thread or worker); beacons through ``beacon_fn``."""

    def __init__(self, url, beacon_fn):
        self.url = url
        self._beacon = beacon_fn
        self._tasks = set()

    def send(self, body, on_result):
        task = asyncio.ensure_future(self._post(body, on_result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, body, on_result):
        options = {"method": "POST", "body": body, "credentials": "same-origin",
                   "headers": {"Content-Type": "application/json", "kbn-xsrf": "usage_reporter"}}
        try:
            response = await js.fetch(self.url, js.JSON.parse(json.dumps(options)))
            status, retry_after = int(response.status), _seconds(py(response.headers.get("Retry-After")))
        except Exception:
            status, retry_after = None, None
        on_result(status, retry_after)

    def beacon(self, body):
        return bool(self._beacon(body))


def _seconds(text):
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None  # an HTTP date: the reporter's own backoff applies


class Session:
    """The core's reporter and tracker, driven by usage.js's calls ``[name, args]``."""

    def __init__(self, page, storage, transport, clock, new_id, log, listen_clicks=None):
        self.page = page
        self.storage = storage
        self.clock = clock
        self.log = log
        self.replaying = False
        self.views = {}  # data-usage-view id -> its ViewTracking
        self.reporter = Reporter(clock=clock, storage=storage, transport=transport, new_id=new_id, log=log,
                                 flush_interval_s=page.get("flushIntervalS") or 30.0,
                                 enabled=page.get("enabled", True) is not False,
                                 global_privacy_control=bool(page.get("honorGpc") and page.get("gpc")))
        self.tracker = ApplicationUsageTracker(self.reporter, clock)
        api.install(self.reporter, self.tracker, listen_clicks)

    def start(self):
        """Replay what earlier pages saved before their Python ran, then start this page."""
        self.clock.at = self.page.get("bootAt")
        try:
            self.reporter.report_user_agent(self.page.get("userAgent"))
            self.replaying = True
            for key in sorted(k for k in self.storage.keys() if k and k.startswith(QUEUE_PREFIX)):
                self._replay(key)
            self.replaying = False
            if self.page.get("appId"):
                self.handle(["setAppId", [self.page["appId"]]])
            self.tracker.pause() if self.page.get("hidden") else self.tracker.resume()
        finally:
            self.replaying = False
            self.clock.at = None

    def _replay(self, key):
        text = self.storage.get(key)
        self.storage.remove(key)
        try:
            calls = json.loads(text or "[]")
        except ValueError:
            return self.log("usage_reporter: discarded an unreadable saved queue " + key)
        for item in calls if isinstance(calls, list) else []:
            self.handle(item)

    def handle(self, call, at=None):
        """One call; never raises (the host page must not see our errors)."""
        self.clock.at = at if at is not None else self.clock.at
        try:
            name, args = call[0], list(call[1] or [])
            method = getattr(self, "_call_" + str(name), None)
            if method is None:
                raise ValueError("unknown call " + repr(name))
            method(*args)
        except Exception as exc:
            self.log("usage_reporter: " + str(exc))
        finally:
            if at is not None:
                self.clock.at = None

    def _call_reportUiCounter(self, app_name, metric_type, event_names, count=1):
        api.report_ui_counter(app_name, metric_type, event_names, 1 if count is None else count)

    def _call_setAppId(self, app_id):
        if app_id:
            api.set_app_id(app_id)

    def _call_optOut(self):
        api.opt_out()

    def _call_optIn(self):
        api.opt_in()

    def _call_flush(self):
        api.flush()

    def _call_click(self, event_name=None, view_ids=()):
        self.tracker.click(list(view_ids or ()))
        if event_name and self.tracker.app_id:
            api.report_ui_counter(self.tracker.app_id, "click", event_name)

    def _call_views(self, view_ids):
        """The data-usage-view ids now in the document: start new ones, end gone ones."""
        wanted = [view_id for view_id in view_ids or () if view_id]
        for view_id in list(self.views):
            if view_id not in wanted:
                self.views.pop(view_id).stop()
        for view_id in wanted:
            if view_id not in self.views:
                self.views[view_id] = api.track_application_view(view_id)
                self.views[view_id].start()

    def _call_visibility(self, hidden):
        if not hidden:
            return self.tracker.resume()
        self.tracker.pause()
        if not self.replaying:
            self.reporter.flush_beacon()

    def _call_pagehide(self):
        self.tracker.pause()
        self.reporter.flush_beacon()

    def _call_navigate(self, href=None):
        pass  # the app id follows setAppId calls; the URL alone does not name an app


class WorkerSession(Session):
    """A Session in the worker: keeps the page's forwarder told of acks, writes and previews."""

    def __init__(self, page, storage_data, post):
        self.post = post
        self.ids = Ids()
        self.seq = 0
        self._published = None
        self._scheduled = False
        storage = MemoryStorage(storage_data, self._mirror)
        transport = Transport(page["reportUrl"], self._beacon)
        super().__init__(page, storage, transport, Clock(), self.ids.take, self._log)

    def _mirror(self, key, value):
        self.post({"t": "set", "k": key, "v": value})

    def _beacon(self, body):
        self.post({"t": "beacon", "body": body})
        return True

    def _log(self, message):
        self.post({"t": "log", "message": message})

    def receive(self, message):
        kind = message.get("t")
        if kind == "call":
            self.seq = max(self.seq, int(message.get("s") or 0))
            self.handle(message.get("c") or ["?", []], message.get("at"))
        elif kind == "storage":
            key, value = message.get("k"), message.get("v")
            if key is None:
                self.storage.data.clear()
            elif value is None:
                self.storage.data.pop(key, None)
            else:
                self.storage.data[key] = value
        self.schedule_publish()

    def tick(self):
        """Every second: fold time on screen in (a closing page beacons it) and flush if due."""
        self.tracker.fold_elapsed()
        self.reporter.tick()
        self.publish()

    def schedule_publish(self):
        """Publish once after a burst of messages rather than after each of them."""
        if not self._scheduled:
            self._scheduled = True
            js.setTimeout(_publish_proxy(self), 0)

    def publish(self):
        self._scheduled = False
        state = (self.seq, json.dumps(self.storage.data, sort_keys=True))
        if state == self._published:
            return
        self._published = state
        bodies, writes = self.preview()
        self.post({"t": "preview", "s": self.seq, "bodies": bodies, "writes": writes})

    def preview(self):
        """What ``flush_beacon`` would send now, and the storage it would leave, without
        touching the real reporter: a throwaway reporter on a copy, with the next reportId."""
        copy = MemoryStorage(self.storage.data)
        bodies = []

        class Capture:
            def send(self, body, on_result):
                pass

            def beacon(self, body):
                bodies.append(body)
                return True

        page = self.page
        Reporter(clock=self.clock, storage=copy, transport=Capture(), new_id=self.ids.peek,
                 enabled=self.reporter.enabled,
                 global_privacy_control=bool(page.get("honorGpc") and page.get("gpc"))).flush_beacon()
        keys = set(self.storage.data) | set(copy.data) | {STORAGE_KEY, STORAGE_KEY + ".consent"}
        return bodies, {key: copy.data.get(key) for key in sorted(keys)}


def _publish_proxy(session):
    proxy = getattr(session, "_publish_callback", None)
    if proxy is None:
        proxy = session._publish_callback = create_proxy(session.publish)
    return proxy


def start_worker(start_json, post_js):
    """Entry point of /usage/pyodide-worker.mjs: returns the handler of later messages."""
    message = json.loads(start_json)
    session = WorkerSession(message["page"], message.get("storage") or {},
                            lambda data: post_js(json.dumps(data)))
    session.start()
    ticker = create_proxy(session.tick)
    _proxies.append(ticker)
    js.setInterval(ticker, 1000)
    timing = message.get("timing") or {}
    timing["python"] = float(js.performance.timeOrigin) + float(js.performance.now())
    session.post({"t": "ready", "timing": timing})
    session.publish()

    def handle(text):
        try:
            session.receive(json.loads(text))
        except Exception as exc:
            session._log("usage_reporter: " + str(exc))

    return create_proxy(handle)


# -- main thread (library mode) -------------------------------------------------------------

def _keep(fn):
    proxy = create_proxy(fn)
    _proxies.append(proxy)
    return proxy


def _guarded(session, fn):
    def callback(*args):
        try:
            fn(*args)
        except Exception as exc:
            session.log("usage_reporter: " + str(exc))
    return _keep(callback)


def _options(options, kwargs):
    """``boot({...})`` from Python or JS, in JS (``appId``) or Python (``app_id``) spelling."""
    if options is not None and hasattr(options, "to_py"):
        options = options.to_py()
    merged = {}
    for key, value in list((options or {}).items()) + list(kwargs.items()):
        parts = str(key).split("_")
        merged[parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])] = value
    return merged


def _console_log(message):
    js.console.warn(message)


def listen_clicks(element, callback):
    """For ``track_application_view(view_id, element)``: clicks inside ``element``."""
    proxy = create_proxy(lambda event: callback())
    element.addEventListener("click", proxy)

    def remove():
        element.removeEventListener("click", proxy)
        proxy.destroy()
    return remove


def _clicked(session, event):
    target, name, view_ids = event.target, None, []
    while py(target) is not None and hasattr(target, "getAttribute"):
        name = name or py(target.getAttribute("data-usage-click"))
        view_id = py(target.getAttribute("data-usage-view"))
        if view_id:
            view_ids.append(view_id)
        target = target.parentNode
    session.handle(["click", [name, view_ids]])


def _scanner(session):
    seen = []

    def scan(*_):
        ids = []
        for element in js.document.querySelectorAll("[data-usage-view]"):
            view_id = py(element.getAttribute("data-usage-view"))
            if view_id not in ids:
                ids.append(view_id)
        if ids != seen:
            seen[:] = ids
            session.handle(["views", [ids]])
    return scan


def boot(options=None, **kwargs):
    """Run the reporter on this page's own Pyodide (a Pyodide or PyScript app)::

        await pyodide.loadPackage("/usage/usage_reporter-latest-py3-none-any.whl")
        import usage_reporter.browser
        usage_reporter.browser.boot({"app_id": "shop"})

    Options (either spelling): ``app_id``, ``flush_interval_s`` (30), ``report_url``
    (``/api/ui_counters/_report`` on this page's origin), ``enabled``, ``honor_gpc``. When
    the page also has usage.js, its settings are the defaults and its queue is taken over.
    Returns the running Session; a second call returns the first one.
    """
    if getattr(boot, "session", None) is not None:
        return boot.session
    if not hasattr(js, "document"):
        raise RuntimeError("usage_reporter.browser.boot() runs on a page's main thread; in a worker, "
                           "/usage/boot-pyodide.js starts the reporter")
    usage = py(getattr(js.window, "usage", None))
    config = _options(py(getattr(usage, "config", None)) if usage is not None else None, {})
    config.update(_options(options, kwargs))
    script = py(getattr(usage, "s", None)) if usage is not None else None
    app_id = config.get("appId") or (py(script.getAttribute("data-app-id")) if script else None)
    interval = config.get("flushIntervalS") or (py(script.getAttribute("data-flush-interval")) if script else None)
    report_url = str(js.URL.new(config.get("reportUrl") or REPORT_PATH, js.location.href).href)
    page = {"appId": app_id, "flushIntervalS": float(interval or 30.0), "reportUrl": report_url,
            "enabled": config.get("enabled", True), "honorGpc": config.get("honorGpc", True),
            "gpc": bool(getattr(js.navigator, "globalPrivacyControl", False)),
            "userAgent": js.navigator.userAgent, "hidden": js.document.visibilityState == "hidden",
            "bootAt": js.Date.now()}
    transport = Transport(report_url, lambda body: js.navigator.sendBeacon(report_url, body))
    session = boot.session = Session(page, LocalStorage(), transport, Clock(), new_id,
                                     _console_log, listen_clicks)
    session.start()
    document, window = js.document, js.window
    document.addEventListener("click", _guarded(session, lambda event: _clicked(session, event)), True)
    document.addEventListener("visibilitychange", _guarded(session, lambda *_: session.handle(
        ["visibility", [document.visibilityState == "hidden"]])))
    window.addEventListener("pagehide", _guarded(session, lambda *_: None if session.tracker.paused
                                                 else session.handle(["pagehide", []])))
    scan = _scanner(session)
    js.MutationObserver.new(_guarded(session, scan)).observe(document.documentElement, js.JSON.parse(
        '{"childList": true, "subtree": true, "attributes": true, "attributeFilter": ["data-usage-view"]}'))
    scan()
    js.setInterval(_guarded(session, lambda *_: session.reporter.tick()), 1000)
    if usage is not None and getattr(usage, "q", None) is not None and not getattr(usage, "h", None):
        for call in usage.q.to_py():
            session.handle(call)
        usage.q.length = 0
        usage.h = _guarded(session, lambda call: session.handle(call.to_py() if hasattr(call, "to_py") else call))
        usage.r()
    return session
