"""The Pyodide adapter on the page's main thread (library mode): the runtime and transport only.

A Pyodide or PyScript page imports ``usage_reporter`` in its own interpreter and calls
``usage_reporter.browser.boot()``; every page event and setting is ``page_events``'s (shared
with Brython and the workers). Here: the page as ``page_events``'s runtime interface, and
``sendBeacon`` (``fetch`` is ``_pyodide_worker``'s, the same on either thread). The worker
half, for ``data-runtime="pyodide"``, is ``_pyodide_worker.py``.
"""

import js
from pyodide.ffi import create_proxy

from . import page_events
from ._pyodide_worker import WorkerRuntime, fetch_sender, proxy, py



class LocalStorage:
    """``window.localStorage`` with the core's get/set/remove."""

    def keys(self):
        storage = js.localStorage
        return [py(storage.key(index)) for index in range(int(storage.length))]

    def get(self, key):
        return py(js.localStorage.getItem(key))

    def set(self, key, value):
        js.localStorage.setItem(key, value)

    def remove(self, key):
        js.localStorage.removeItem(key)


class Transport:
    def __init__(self, url):
        self.url = url
        self.send = fetch_sender(url)

    def beacon(self, body):
        return bool(js.navigator.sendBeacon(self.url, body))


def _to_py(value):
    value = py(value)
    return value.to_py() if hasattr(value, "to_py") else value


class Runtime(WorkerRuntime):
    """The page as ``page_events`` sees it (see its docstring for the interface)."""

    storage = LocalStorage()

    def log(self, level, message):
        getattr(js.console, level)(message)

    def get(self, obj, name):
        return py(getattr(obj, name, None))

    def attribute(self, node, name):
        return py(node.getAttribute(name)) if py(getattr(node, "getAttribute", None)) is not None else None

    def select(self, css):
        return js.document.querySelectorAll(css)

    def listen(self, target, name, fn, capture=False):
        target = {"document": js.document, "window": js.window}.get(target) if isinstance(target, str) else target
        handler = create_proxy(fn)
        target.addEventListener(name, handler, capture)

        def remove():
            target.removeEventListener(name, handler, capture)
            handler.destroy()

        return remove

    def wrap_history(self, fn):
        for name in ("pushState", "replaceState"):
            original = getattr(js.history, name).bind(js.history)

            def wrapper(*args, original=original):
                result = original(*args)
                fn()
                return result

            setattr(js.history, name, proxy(wrapper))

    def observe_views(self, fn):
        options = js.JSON.parse(page_events.VIEW_OBSERVER_OPTIONS)
        js.MutationObserver.new(proxy(fn)).observe(js.document.documentElement, options)

    def hidden(self):
        return js.document.visibilityState == "hidden"

    def path(self):
        return str(js.location.pathname)

    def body(self):
        return py(js.document.body)

    def facts(self):
        return {"gpc": py(getattr(js.navigator, "globalPrivacyControl", None)) is True,
                "user_agent": str(js.navigator.userAgent), "start_ms": float(js.performance.timeOrigin)}

    def url(self, path):
        return str(js.URL.new(path, js.location.href).href)

    def usage(self):
        return py(getattr(js.window, "usage", None)) if hasattr(js, "window") else None

    def to_py(self, value):
        return _to_py(value)

    def callable(self, fn):
        return proxy(fn)


_runtime = Runtime()
_session = []


def listen_clicks(element, callback):
    """For ``track_application_view(view_id, element)``: clicks inside ``element``."""
    return page_events.listen_clicks(_runtime, page_events.log_once_to(_runtime))(element, callback)


def boot(options=None, **kwargs):
    """Report usage from this page's own Pyodide (a Pyodide or PyScript app), on the main
    thread, no micropip needed::

        import pyodide_js
        await pyodide_js.loadPackage("/usage/usage_reporter-latest-py3-none-any.whl")
        import usage_reporter.browser
        usage_reporter.browser.boot({"app_id": "shop"})

    Options: ``app_id``, ``flush_interval_s`` (30), ``report_url``
    (``/api/ui_counters/_report`` of this page's origin), ``enabled``, ``honor_gpc``,
    ``app_paths``. With usage.js on the page (``data-runtime="pyodide" data-python="page"``),
    its settings and script tag come first and its queue is taken over. Returns the running
    PageSession (a second call returns the first one). Never raises: without a page (in a
    worker, where ``data-runtime="pyodide"`` starts the reporter itself) it logs why and
    returns None.
    """
    if not _session:
        session = page_events.boot_page(_runtime, Transport, options, kwargs)
        if session is None:
            return None
        _session.append(session)
    return _session[0]


__all__ = ["boot", "listen_clicks"]
