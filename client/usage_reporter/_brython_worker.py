"""The Brython adapter inside a classic Web Worker: the runtime and transport only.

``data-runtime="brython"`` on a page that does not run Brython itself: ``/usage/boot-brython.js``
starts the main-thread forwarder (boot-pyodide.template.js, shared with Pyodide) with a
classic worker, ``/usage/brython-worker.js``, which loads ``brython.js`` and our bundle with
``importScripts`` and calls ``boot()``. The session and its message loop are
``boot_worker``'s; here only the worker as a runtime, and ``fetch`` (which the
main-thread adapter, ``_brython.py``, uses too: ``browser.self`` is the global scope on
either thread).

The worker script hands over ``self.usageStart`` (the forwarder's start message, JSON) and
``self.usagePost(text)``; ``boot()`` sets ``self.usageDeliver(text)`` for later messages.
Only ``from browser import self`` and ``javascript``: no Brython stdlib.
"""

from browser import self as scope
from javascript import JSON

from .page_session import guarded, log_once_to
from .worker_session import boot_worker

FETCH_OPTIONS = ('{"method":"POST","credentials":"same-origin",'
                 '"headers":{"Content-Type":"application/json","kbn-xsrf":"usage_reporter"}}')


def retry_after_seconds(header):
    """``Retry-After`` in seconds, or None (absent, or an HTTP date: the core backs off itself)."""
    try:
        seconds = float(header) if isinstance(header, str) else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds == seconds and seconds >= 0 else None  # not NaN


def fetch_sender(url, log_once):
    """``send(body, on_result)`` for the core: POST with this thread's ``fetch``."""

    def answered(on_result):
        return guarded(log_once, "fetch", lambda response: on_result(
            int(response.status), retry_after_seconds(response.headers.get("Retry-After"))))

    def send(body, on_result):
        options = scope.JSON.parse(FETCH_OPTIONS)  # a plain JS object
        options.body = body
        scope.fetch(url, options).then(answered(on_result),
                                        guarded(log_once, "fetch", lambda error: on_result(None, None)))

    return send


class WorkerRuntime:
    """The worker as the page-event layer sees it: clock, randomness, timers and the page's port."""

    def __init__(self, post_json):
        self.post_json = post_json

    def now(self):
        return float(scope.Date.now())

    def random(self):
        return scope.Math.random()

    def uuid(self):
        try:
            return str(scope.crypto.randomUUID())
        except Exception:
            return None  # not a secure context

    def post(self, message):
        self.post_json(JSON.stringify(message))

    def log(self, level, message):
        self.post({"t": "log", "message": message})

    def every(self, ms, fn):
        scope.setInterval(fn, ms)

    def later(self, fn):
        scope.setTimeout(fn, 0)


def boot():
    """Start the worker's session from ``self.usageStart``; never raises (tells the page)."""
    try:
        runtime = WorkerRuntime(scope.usagePost)
        log_once = log_once_to(runtime)
        deliver = boot_worker(runtime, JSON.parse(scope.usageStart),
                                          lambda url: fetch_sender(url, log_once))
        if deliver is not None:
            scope.usageDeliver = guarded(log_once, "message", lambda text: deliver(JSON.parse(text)))
    except Exception as exc:
        scope.usagePost(JSON.stringify({"t": "error", "message": "usage_reporter: could not start: " + str(exc)}))
