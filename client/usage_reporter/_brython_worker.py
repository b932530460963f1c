"""The Brython adapter inside a classic Web Worker: the reporter off the page's thread.

``data-runtime="brython"`` on a page that does not run Brython itself: ``/usage/boot-brython.js``
starts the same main-thread forwarder as Pyodide's (``boot-pyodide.template.js``) with a
classic worker, ``/usage/brython-worker.js``, which loads ``brython.js`` and our bundle with
``importScripts`` and calls ``boot()``. Page events, localStorage and sendBeacon stay on the
main thread and arrive as messages (``WorkerSession``); here only ``fetch`` and the timers.
A page running Brython itself (library mode) keeps the main-thread adapter, ``_brython.py``.

The worker script hands over ``self.usageStart`` (the forwarder's start message, JSON) and
``self.usagePost(text)``; ``boot()`` sets ``self.usageDeliver(text)`` for later messages.
Only ``from browser import self`` and ``javascript``: no Brython stdlib.
"""

from browser import self as worker
from javascript import JSON

from .worker_session import WorkerSession

FETCH_OPTIONS = ('{"method":"POST","credentials":"same-origin",'
                 '"headers":{"Content-Type":"application/json","kbn-xsrf":"usage_reporter"}}')
_logged = {}
_post = []


def now_ms():
    return float(worker.Date.now())


def log_once(kind, message):
    if kind not in _logged:
        _logged[kind] = True
        if _post:
            _post[0]({"t": "log", "message": message})


def guarded(kind, fn):
    """``fn`` as a callback for the worker: exceptions are logged once, never thrown."""

    def callback(*args):
        try:
            return fn(*args)
        except Exception as exc:
            log_once(kind, "usage_reporter: error in " + kind + " handler: " + str(exc))

    return callback


def new_id():
    """A reportId: ``crypto.randomUUID()`` (secure contexts), else 32 hex digits."""
    crypto = getattr(worker, "crypto", None)
    if crypto is not None and getattr(crypto, "randomUUID", None) is not None:
        return str(crypto.randomUUID())
    digits = "0123456789abcdef"
    return "".join(digits[int(worker.Math.random() * 16) % 16] for _ in range(32))


def _seconds(header):
    try:
        seconds = float(header) if isinstance(header, str) else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds == seconds and seconds >= 0 else None


def fetch_sender(url):
    """``send(body, on_result)`` for the core: POST with the worker's fetch."""

    def send(body, on_result):
        options = worker.JSON.parse(FETCH_OPTIONS)  # a JS object
        options.body = body

        def answered(response):
            on_result(int(response.status), _seconds(response.headers.get("Retry-After")))

        def failed(error):
            on_result(None, None)

        worker.fetch(url, options).then(guarded("fetch", answered), guarded("fetch", failed))

    return send


def boot():
    """Start the worker's session from ``self.usageStart``; never raises (tells the page)."""
    post_json = worker.usagePost

    def post(message):
        post_json(JSON.stringify(message))

    _post.append(post)
    try:
        start = JSON.parse(worker.usageStart)
        config = start["config"]
        session = WorkerSession(config, start.get("storage") or {}, fetch_sender(config["report_url"]), post,
                                now_ms, new_id, random=worker.Math.random)
        session.start(session.storage.keys())
    except Exception as exc:
        post({"t": "error", "message": "usage_reporter: could not start: " + str(exc)})
        return
    throttle = {"busy": False, "again": False}

    def publish():
        """At once after a quiet spell, then at most once per task turn in a burst."""
        session.publish()
        throttle["busy"] = True
        worker.setTimeout(release, 0)

    def after_turn():
        throttle["busy"] = False
        if throttle["again"]:
            throttle["again"] = False
            publish()

    release = guarded("preview", after_turn)
    worker.setInterval(guarded("timer", session.tick), 1000)
    timing = start.get("timing") or {}
    timing["python"] = float(worker.performance.timeOrigin) + float(worker.performance.now())
    post({"t": "ready", "timing": timing})
    session.publish()

    def handle(text):
        session.receive(JSON.parse(text))
        if throttle["busy"]:
            throttle["again"] = True
        else:
            publish()

    worker.usageDeliver = guarded("message", handle)
