"""Page events on the page's main thread, once for every runtime: what the Brython and
Pyodide adapters used to repeat.

An adapter hands this module a *runtime*, a small object that is the only thing touching
the browser, and keeps only that object and its transport (``fetch``/``sendBeacon``).
Everything else is plain Python that imports no browser module, tested in CPython with a
fake runtime (tests/client/test_page_events.py):

- here, the ``data-*`` translation: ``clicked`` (the nearest ``data-usage-click`` and every
  ``data-usage-view`` around), ``document_views``, ``body_app`` (``<body
  data-usage-app>``), the script tag's attributes; ``listen_clicks``, ``listen``; and
  ``boot_page`` (a main-thread session, library mode), which never raises;
- in ``page_session`` (both threads): ``settings``, the precedence rule "server < script
  tag < ``boot`` options", coded once; ``log_once_to`` (each problem logged once), ``guarded``
  (a callback that never throws into the page), ``new_id`` (a reportId);
- in ``worker_session``: ``boot_worker`` (a session in a Web Worker behind the main-thread
  forwarder, and its message loop), which never raises either.

The worker half lives apart so that a worker (all Brython visitors) downloads none of the
main-thread code: Brython's precompiled JavaScript is ~8 times the Python.

A runtime gives, on every thread: ``now()`` (ms since the epoch), ``random()``, ``uuid()``
(``crypto.randomUUID()`` or None), ``log(level, text)``, ``every(ms, fn)``, ``later(fn)``
(a zero timeout). In a worker also ``post(message)``. On the main thread also ``storage``
(keys/get/set/remove), ``get(obj, name)`` (a property, JS null/undefined as None),
``attribute(node, name)`` (``getAttribute``, None for nodes without one), ``select(css)``,
``listen(target, name, fn, capture)`` (target: a node, ``"document"`` or ``"window"``;
returns a remover), ``wrap_history(fn)`` (after ``pushState``/``replaceState``),
``observe_views(fn)`` (``data-usage-view`` elements come or go), ``hidden()``, ``path()``,
``body()``, ``facts()`` (``gpc``, ``user_agent``, ``start_ms``), ``url(path)`` (absolute),
``usage()`` (``window.usage`` or None), ``to_py(value)`` and ``callable(fn)`` (``fn`` as
something JavaScript can call and keep). Builtins only.
"""

from . import api
from .page_session import (CONSENT_KEY, SCRIPT_ATTRIBUTES, EventClock, PageSession, guarded, log_once_to, new_id,
                           settings)

CLICK, VIEW, BODY_APP = "data-usage-click", "data-usage-view", "data-usage-app"
# What ``observe_views`` watches (MutationObserver options, as JSON for the runtime to parse).
VIEW_OBSERVER_OPTIONS = '{"childList":true,"subtree":true,"attributes":true,"attributeFilter":["data-usage-view"]}'


# -- the page's main thread -----------------------------------------------------------------

def body_app(runtime):
    body = runtime.body()
    return runtime.attribute(body, BODY_APP) if body is not None else None


def document_views(runtime):
    """The ``data-usage-view`` ids now in the document, in document order, once each."""
    view_ids = []
    for element in runtime.select("[" + VIEW + "]"):
        view_id = runtime.attribute(element, VIEW)
        if view_id and view_id not in view_ids:
            view_ids.append(view_id)
    return view_ids


def clicked(runtime, target):
    """A click on ``target`` as usage.js's call: the nearest data-usage-click, every
    data-usage-view from the target up."""
    event_name, view_ids = None, []
    while target is not None:
        event_name = event_name or runtime.attribute(target, CLICK)
        view_id = runtime.attribute(target, VIEW)
        if view_id:
            view_ids.append(view_id)
        target = runtime.get(target, "parentNode")
    return ["click", [event_name, view_ids]]


def page_facts(runtime):
    """What the session must know about the page when it starts."""
    facts = dict(runtime.facts())
    facts.update({"hidden": runtime.hidden(), "path": runtime.path(), "body_app": body_app(runtime),
                  "views": document_views(runtime)})
    return facts


def listen_clicks(runtime, log_once):
    """``listen_clicks(element, callback) -> remove`` for ``track_application_view``."""

    def listen_on(element, callback):
        return runtime.listen(element, "click", guarded(log_once, "view click", lambda *_: callback()), False)

    return listen_on


def listen(runtime, session, log_once):
    """The page's events as the session's calls; every listener guarded."""

    def on(target, name, make_call, capture=False):
        def listener(event=None):
            call = make_call(event)
            if call is not None:
                session.handle(call)

        runtime.listen(target, name, guarded(log_once, name, listener), capture)

    def consent(event):
        return ["consent", [runtime.get(event, "newValue")]] if runtime.get(event, "key") == CONSENT_KEY else None

    on("document", "click", lambda event: clicked(runtime, runtime.get(event, "target")), True)
    on("document", "visibilitychange", lambda event: ["visibility", [runtime.hidden()]])
    on("window", "pagehide", lambda event: ["pagehide", []])
    on("window", "pageshow",  # back from the back/forward cache
       lambda event: ["pageshow", [runtime.hidden()]] if runtime.get(event, "persisted") else None)
    on("window", "storage", consent)  # another tab's opt-out or opt-in
    follow = guarded(log_once, "navigation",
                     lambda *_: session.handle(["navigate", [body_app(runtime), runtime.path()]]))
    navigated = guarded(log_once, "navigation", lambda *_: runtime.later(follow))  # after the router rendered
    runtime.listen("window", "popstate", navigated, False)
    runtime.wrap_history(navigated)
    runtime.observe_views(guarded(log_once, "views",
                                  lambda *_: session.handle(["views", [document_views(runtime)]])))
    runtime.every(1000, guarded(log_once, "timer", session.reporter.tick))


def script_attributes(runtime, script):
    return {attribute: runtime.attribute(script, attribute) for _, attribute in SCRIPT_ATTRIBUTES}


def boot_page(runtime, transport, options=None, extra=None, json_loads=None):
    """A session on the page's main thread (library mode), taking over usage.js's queue if
    usage.js is on the page. ``transport(report_url)`` makes the adapter's fetch/beacon
    transport; ``options`` and ``extra`` (keyword arguments) are ``boot``'s. Returns the
    PageSession, or None after logging why: never raises."""
    log_once = log_once_to(runtime)
    try:
        options = dict(runtime.to_py(options) or {}, **(extra or {}))
        usage = runtime.usage()
        server = runtime.to_py(runtime.get(usage, "config")) if usage is not None else None
        script = runtime.get(usage, "s") if usage is not None else None
        config = settings(server, script_attributes(runtime, script) if script is not None else None, options)
        config.update(page_facts(runtime))
        config["report_url"] = runtime.url(config["report_url"])
        session = PageSession(config, runtime.storage, transport(config["report_url"]), EventClock(runtime.now),
                              lambda: new_id(runtime), log_once, random=runtime.random, json_loads=json_loads)
        api.install(session.reporter, session.tracker, listen_clicks(runtime, log_once))
        session.start(runtime.storage.keys())
        if usage is not None and runtime.get(usage, "q") is not None and runtime.get(usage, "h") is None:
            facade = guarded(log_once, "usage facade", lambda call: session.handle(runtime.to_py(call)))
            for call in runtime.get(usage, "q").splice(0):
                facade(call)  # one at a time: a call we cannot read is dropped alone
            usage.h = runtime.callable(facade)
        listen(runtime, session, log_once)
        if usage is not None and runtime.get(usage, "r") is not None:
            usage.r()
        return session
    except Exception as exc:
        log_once("boot", "usage_reporter: could not start: " + str(exc), "error")
        return None


