"""The Brython adapter on the page's main thread (library mode): the runtime and transport only.

A page that runs Brython itself imports ``usage_reporter.browser`` and calls ``boot()``;
every page event and setting is ``page_events``'s (shared with Pyodide and the workers).
Here: the browser as ``page_events``'s runtime interface, and ``sendBeacon`` (``fetch`` is
``_brython_worker``'s, the same on either thread).
Only ``from browser import window, document`` and ``javascript`` (both built into
brython.js): no Brython stdlib.
"""

from browser import document, window
from javascript import JSON, NullType, UndefinedType  # built into brython.js (no stdlib)

from . import page_events
from ._brython_worker import fetch_sender  # browser.self: this thread's fetch, worker or page


def py(value):
    """JS null and undefined (Brython keeps them as objects of their own) as None."""
    return None if value is None or isinstance(value, (NullType, UndefinedType)) else value


def prop(obj, name):
    """``obj.name`` with JS null/undefined, or no such property, as None. (Brython's
    ``getattr(null, name, default)`` raises instead of giving the default.)"""
    obj = py(obj)
    try:
        return py(getattr(obj, name)) if obj is not None else None
    except AttributeError:
        return None


def _text(value):
    return value if isinstance(value, str) else None


class Transport:
    """Interval flushes with ``fetch``; page hide and close with ``navigator.sendBeacon``."""

    def __init__(self, url):
        self.url = url
        self.send = fetch_sender(url, page_events.log_once_to(_runtime))

    def beacon(self, body):
        return bool(window.navigator.sendBeacon(self.url, body))


class LocalStorage:
    """``window.localStorage`` with the core's get/set/remove (errors are the core's to log)."""

    def keys(self):
        storage = window.localStorage
        return [_text(storage.key(index)) for index in range(int(storage.length))]

    def get(self, key):
        return _text(window.localStorage.getItem(key))

    def set(self, key, value):
        window.localStorage.setItem(key, value)

    def remove(self, key):
        window.localStorage.removeItem(key)


def _to_py(value):
    """A JSON-able JS value as plain Python: arrays and scalars directly (a facade call is an
    array of strings, numbers and arrays: the common, fast case), objects through JSON."""
    value = py(value)
    if value is None or isinstance(value, (str, bool, int, float, dict)):
        return value
    if isinstance(value, (list, tuple)) or window.Array.isArray(value):
        return [_to_py(item) for item in value]
    text = window.JSON.stringify(value)
    return JSON.parse(text) if isinstance(text, str) else None


class Runtime:
    """The page as ``page_events`` sees it (see its docstring for the interface)."""

    storage = LocalStorage()
    targets = {"document": document, "window": window}

    def now(self):
        return float(window.Date.now())

    def random(self):
        return window.Math.random()

    def uuid(self):
        return str(window.crypto.randomUUID()) if prop(prop(window, "crypto"), "randomUUID") is not None else None

    def log(self, level, message):
        getattr(window.console, level)(message)

    def every(self, ms, fn):
        window.setInterval(fn, ms)

    def later(self, fn):
        window.setTimeout(fn, 0)

    def get(self, obj, name):
        return prop(obj, name)

    def attribute(self, node, name):
        return _text(node.getAttribute(name)) if prop(node, "getAttribute") is not None else None

    def select(self, css):
        return document.querySelectorAll(css)

    def listen(self, target, name, fn, capture=False):
        target = self.targets.get(target, target) if isinstance(target, str) else target
        target.addEventListener(name, fn, capture)
        return lambda: target.removeEventListener(name, fn, capture)

    def wrap_history(self, fn):
        history = window.history
        for name in ("pushState", "replaceState"):
            original = getattr(history, name).bind(history)

            def wrapper(*args, original=original):
                result = original(*args)
                fn()
                return result

            setattr(history, name, wrapper)

    def observe_views(self, fn):
        options = window.JSON.parse(page_events.VIEW_OBSERVER_OPTIONS)
        window.MutationObserver.new(fn).observe(document.documentElement, options)

    def hidden(self):
        return document.visibilityState == "hidden"

    def path(self):
        return str(window.location.pathname)

    def body(self):
        return py(document.body)

    def facts(self):
        return {"gpc": prop(window.navigator, "globalPrivacyControl") is True,
                "user_agent": _text(window.navigator.userAgent), "start_ms": float(window.performance.timeOrigin)}

    def url(self, path):
        return str(window.URL.new(path, window.location.href).href)

    def usage(self):
        return prop(window, "usage")

    def to_py(self, value):
        return _to_py(value)

    def callable(self, fn):
        return fn


_runtime = Runtime()
_sessions = []


def listen_clicks(element, callback):
    """For ``track_application_view(view_id, element)``: clicks inside ``element``."""
    return page_events.listen_clicks(_runtime, page_events.log_once_to(_runtime))(element, callback)


def boot(options=None, **kwargs):
    """Start reporting on this Brython page (library mode; boot-brython.js calls it too)::

        import usage_reporter.browser
        usage_reporter.browser.boot({"app_id": "shop", "flush_interval_s": 30})

    Options: ``app_id``, ``flush_interval_s``, ``report_url``, ``enabled``, ``honor_gpc``,
    ``app_paths`` ({path prefix: app id}); with usage.js on the page its settings and script
    tag come first, and its queue is taken over. Returns the running PageSession; a second
    call returns the first one. Never raises: a failure is logged to the console.
    """
    if not _sessions:
        session = page_events.boot_page(_runtime, Transport, options, kwargs, json_loads=JSON.parse)
        if session is None:
            return None
        _sessions.append(session)
    return _sessions[0]
