"""The Pyodide adapter inside a module Web Worker: the runtime and transport only.

``data-runtime="pyodide"``: ``/usage/boot-pyodide.js`` (the main-thread forwarder) starts
``/usage/pyodide-worker.mjs`` so Pyodide's ~2 s boot never blocks the page; once Python runs,
the worker script calls ``start_worker``. The session and its message loop are
``boot_worker``'s; here only the worker as a runtime, and ``fetch`` (which the
main-thread adapter, ``_pyodide.py``, uses too).

Pyodide specifics: callbacks handed to JavaScript are ``create_proxy`` objects kept alive
here; JS ``null`` arrives as ``jsnull`` (Pyodide 0.28+), not None.
"""

import asyncio
import json
import os

import js
from pyodide.ffi import create_once_callable, create_proxy

from .page_session import guarded, log_once_to
from .worker_session import boot_worker

try:
    from pyodide.ffi import jsnull
except ImportError:  # Pyodide before 0.28 turns JS null into None itself
    jsnull = None

FETCH_OPTIONS = {"method": "POST", "credentials": "same-origin",
                 "headers": {"Content-Type": "application/json", "kbn-xsrf": "usage_reporter"}}
_keep = []  # proxies JavaScript holds for the page's lifetime: never collected


def py(value):
    """JS ``null`` and ``undefined`` both as None."""
    return None if value is None or value is jsnull else value


def proxy(fn):
    """``fn`` as a JavaScript function that lives as long as the page."""
    handle = create_proxy(fn)
    _keep.append(handle)
    return handle


def _seconds(text):
    try:
        seconds = float(text) if text is not None else None
    except ValueError:
        return None  # an HTTP date: the reporter's own backoff applies
    return seconds if seconds is not None and seconds == seconds and seconds >= 0 else None


def fetch_sender(url):
    """``send(body, on_result)`` for the core: POST with fetch, in a worker or on the page."""
    tasks = set()

    async def post(body, on_result):
        try:
            response = await js.fetch(url, js.JSON.parse(json.dumps(dict(FETCH_OPTIONS, body=body))))
            status, retry_after = int(response.status), _seconds(py(response.headers.get("Retry-After")))
        except Exception:
            status, retry_after = None, None
        on_result(status, retry_after)

    def send(body, on_result):
        task = asyncio.ensure_future(post(body, on_result))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return send


class WorkerRuntime:
    """A worker (or the page) as the page-event layer sees it: clock, randomness, timers, logging
    (to the page, through ``post``)."""

    def __init__(self, post_json=None):
        self.post_json = post_json

    def now(self):
        return float(js.Date.now())

    def random(self):
        return js.Math.random()

    def uuid(self):
        return os.urandom(16).hex()  # ``uuid`` costs 25 ms to import in Pyodide

    def post(self, message):
        self.post_json(json.dumps(message))

    def log(self, level, message):
        self.post({"t": "log", "message": message})

    def every(self, ms, fn):
        js.setInterval(proxy(fn), ms)

    def later(self, fn):
        js.setTimeout(create_once_callable(fn), 0)


def start_worker(start_json, post_json):
    """Called by /usage/pyodide-worker.mjs once Pyodide is up: the handler for the
    forwarder's later messages (JSON text), or None if the session could not start (the page
    was told why). Never raises."""
    try:
        runtime = WorkerRuntime(post_json)
        deliver = boot_worker(runtime, json.loads(start_json), fetch_sender)
        if deliver is None:
            return None
        return proxy(guarded(log_once_to(runtime), "message",
                                         lambda text: deliver(json.loads(text))))
    except Exception as exc:
        post_json(json.dumps({"t": "error", "message": "usage_reporter: could not start: " + str(exc)}))
        return None


__all__ = ["fetch_sender", "start_worker"]
