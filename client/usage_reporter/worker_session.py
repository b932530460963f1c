"""A page's reporting from inside a Web Worker, where Pyodide runs without freezing the page.

A worker has no DOM, no localStorage and no sendBeacon. The page's forwarder
(``usage_collection/static/boot-pyodide.template.js``, served as /usage/boot-pyodide.js)
keeps those and talks to this session in messages (dicts):

- in: ``{"t": "call", "s": seq, "at": ms, "c": [name, args]}`` (each event, stamped with the
  time it happened: the clock answers that time while it is handled) and
  ``{"t": "storage", "k": key, "v": value}`` (another tab wrote one of our keys);
- out: ``{"t": "set", "k", "v"}`` (mirror a storage write; ``v`` None removes),
  ``{"t": "beacon", "body"}`` (send it with sendBeacon), ``{"t": "log", "message"}``, and
  ``{"t": "preview", "s", "app", "bodies", "writes"}``.

The preview is what makes closing a tab safe: a closing page cannot wait for the worker,
so after every change the worker tells it what a beacon would carry now and the storage
that would result (computed by a throwaway reporter on a copy of the storage, with the
reportId the real reporter will use next). At pagehide the forwarder sends those bodies
and writes that storage; a later send repeats the same reportId, which the server counts
once. ``s`` confirms every call up to that number: the forwarder saves any later ones for
the next page, after a ``setAppId`` of ``app`` (the app they happened in). Builtins only.
"""

from . import api
from .page_session import CONSENT_KEY, EventClock, PageSession, guarded, log_once_to, new_id, reporter_options, settings
from .reporter import Reporter


class NextIds:
    """reportIds from ``new_id``; ``peek`` answers the one the next ``take`` will return."""

    def __init__(self, new_id):
        self._new_id = new_id
        self._next = new_id()

    def peek(self):
        return self._next

    def take(self):
        current = self._next
        self._next = self._new_id()
        return current


class MirroredStorage:
    """Storage over a dict (the worker's copy of our localStorage keys); every write also
    goes to ``on_write(key, value or None)``."""

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


class _BeaconCapture:
    def __init__(self):
        self.bodies = []

    def send(self, body, on_result):
        pass

    def beacon(self, body):
        self.bodies.append(body)
        return True


def preview_beacon(data, clock, report_id, options, tab_id):
    """What ``flush_beacon`` would send with the storage ``data`` now, and the storage it
    would leave: ``(bodies, storage after)``, touching neither ``data`` nor any reporter.
    The preview is the tab's own reporter (``tab_id``) and adopts no other tab's state."""
    copy = MirroredStorage(data)
    capture = _BeaconCapture()
    Reporter(clock=clock, storage=copy, transport=capture, new_id=lambda: report_id, tab_id=tab_id, adopt=False,
             **options).flush_beacon()
    return capture.bodies, copy.data


class _WorkerTransport:
    def __init__(self, send, post):
        self._send = send
        self._post = post

    def send(self, body, on_result):
        self._send(body, on_result)

    def beacon(self, body):
        self._post({"t": "beacon", "body": body})
        return True


class WorkerSession(PageSession):
    """PageSession in a worker: ``receive`` the forwarder's messages, ``tick`` every second,
    ``publish`` after changes. ``send(body, on_result)`` is the adapter's fetch."""

    def __init__(self, config, storage_data, send, post, now, new_id, random=None):
        self.post = post
        self.ids = NextIds(new_id)
        self.seq = 0
        self._logged = {}
        self._published = None
        storage = MirroredStorage(storage_data, self._mirror)
        PageSession.__init__(self, config, storage, _WorkerTransport(send, post), EventClock(now),
                             self.ids.take, self._log_once, random=random)

    def _mirror(self, key, value):
        self.post({"t": "set", "k": key, "v": value})

    def _log_once(self, kind, message):
        if kind not in self._logged:
            self._logged[kind] = True
            self.post({"t": "log", "message": message})

    def receive(self, message):
        """One message from the page's forwarder; never raises."""
        try:
            kind = message.get("t")
            if kind == "call":
                seq = message.get("s")
                if isinstance(seq, int) and seq > self.seq:
                    self.seq = seq
                self.clock.at = message.get("at")
                try:
                    self.handle(message.get("c") or ["?", []])
                finally:
                    self.clock.at = None
            elif kind == "storage":
                self._storage_changed(message.get("k"), message.get("v"))
        except Exception as exc:
            self._log_once("message", "usage_reporter: bad message from the page: " + str(exc))

    def _storage_changed(self, key, value):
        """Another tab wrote localStorage: keep our copy true, and follow its opt-out."""
        data = self.storage.data
        if key is None:
            data.clear()
        elif value is None:
            data.pop(key, None)
        else:
            data[key] = value
        if key == CONSENT_KEY:
            self.call_consent(value)

    def tick(self):
        """Every second: flush when due, and keep the page's preview fresh."""
        self.reporter.tick()
        self.publish()

    def publish(self):
        """Tell the page what a beacon would carry now (only when something changed).

        Time on screen and clicks are folded into the report first, so a tab that closes
        loses at most the last second of time (the adapter publishes every second)."""
        try:
            self.tracker.fold_elapsed()
        except Exception as exc:
            self._log_once("fold", "usage_reporter: " + str(exc))
        state = (self.seq, dict(self.storage.data))
        if state == self._published:
            return
        self._published = state
        try:
            bodies, after = preview_beacon(self.storage.data, self.clock, self.ids.peek(),
                                           reporter_options(self.config), self.reporter.tab_id)
        except Exception as exc:
            self._log_once("preview", "usage_reporter: could not prepare a beacon: " + str(exc))
            bodies, after = [], dict(self.storage.data)
        # Only what the beacon changes: the page writes these at pagehide, and other tabs'
        # keys in our copy may be older than theirs by then.
        data = self.storage.data
        keys = sorted(set(data) | set(after))
        self.post({"t": "preview", "s": self.seq, "app": self.tracker.app_id, "bodies": bodies,
                   "writes": dict((key, after.get(key)) for key in keys if after.get(key) != data.get(key))})


def boot_worker(runtime, start, sender):
    """The worker's session from the forwarder's start message (``{"settings", "script",
    "page", "storage", "timing"}``, see boot-pyodide.template.js); ``sender(report_url)``
    makes the adapter's fetch, ``send(body, on_result)``. Returns ``deliver(message)`` for
    the forwarder's later messages, or None after telling the page why: never raises."""
    try:
        config = settings(start.get("settings"), start.get("script"))
        config.update(start.get("page") or {})
        session = WorkerSession(config, start.get("storage") or {}, sender(config["report_url"]), runtime.post,
                                runtime.now, lambda: new_id(runtime), random=runtime.random)
        api.install(session.reporter, session.tracker)
        session.start(session.storage.keys())
        return serve(runtime, session, start.get("timing") or {})
    except Exception as exc:
        try:
            runtime.post({"t": "error", "message": "usage_reporter: could not start: " + str(exc)})
        except Exception:
            pass
        return None


def serve(runtime, session, timing):
    """The worker's side of the message loop: tell the page Python is ready, then hand every
    message to the session; the page learns what a beacon would carry at once after a quiet
    spell (a click may be followed by the tab closing within ~20 ms), then at most once per
    task turn during a burst. Returns ``deliver(message)``."""
    log_once = log_once_to(runtime)
    state = {"busy": False, "again": False}

    def publish():
        session.publish()
        state["busy"] = True
        runtime.later(release)

    def after_turn():
        state["busy"] = False
        if state["again"]:
            state["again"] = False
            publish()

    def receive(message):
        session.receive(message)
        if state["busy"]:
            state["again"] = True
        else:
            publish()

    release = guarded(log_once, "preview", after_turn)
    runtime.every(1000, guarded(log_once, "timer", session.tick))
    timing["python"] = runtime.now()
    runtime.post({"t": "ready", "timing": timing})
    session.publish()
    return guarded(log_once, "message", receive)
