"""A fake page and worker for ``usage_reporter.page_events``: the runtime interface the
Brython and Pyodide adapters implement, over plain Python objects.

Elements are ``Node`` objects with attributes and a parent; events are dispatched by the
test (``click``, ``fire``); timers run only when the test says (``run_later``, ``tick``).
No sleeps, no browser.
"""

from client.fakes import START_MS, DictStorage, FakeClock, RecordingTransport


class Node:
    def __init__(self, parent=None, **attributes):
        self.parentNode = parent
        self.attributes = {name.replace("_", "-"): value for name, value in attributes.items()}

    def getAttribute(self, name):
        return self.attributes.get(name)


class Event:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class Queue(list):
    """usage.js's ``usage.q``: a JS array (``splice(0)`` takes everything)."""

    def splice(self, start):
        taken = self[start:]
        del self[start:]
        return taken


class Usage:
    """``window.usage`` as usage.js leaves it."""

    def __init__(self, config=None, script=None, queue=()):
        self.config = config
        self.s = script
        self.q = Queue(queue)
        self.h = None
        self.resolved = 0

    def r(self):
        self.resolved += 1


class WorkerRuntime:
    """A worker: clock, randomness, timers and the port to the page (``posted``)."""

    def __init__(self, uuid=None):
        self.clock = FakeClock()
        self.posted = []
        self.logs = []
        self.timers = []  # (ms, fn)
        self.pending = []  # zero timeouts not run yet
        self._uuid = uuid

    def now(self):
        return self.clock()

    def random(self):
        return 0.5

    def uuid(self):
        return self._uuid

    def post(self, message):
        self.posted.append(message)

    def log(self, level, message):
        self.logs.append((level, message))

    def every(self, ms, fn):
        self.timers.append((ms, fn))

    def later(self, fn):
        self.pending.append(fn)

    def run_later(self):
        while self.pending:
            self.pending.pop(0)()

    def tick(self, seconds=1):
        for _ in range(seconds):
            self.clock.advance(1)
            for _, fn in list(self.timers):
                fn()

    def messages(self, kind):
        return [message for message in self.posted if message.get("t") == kind]


class PageRuntime(WorkerRuntime):
    """The page's main thread: a document of ``Node``s, listeners, history, localStorage."""

    def __init__(self, usage=None, body=None, nodes=(), path="/", hidden=False, storage=None, uuid=None):
        WorkerRuntime.__init__(self, uuid)
        self.storage = storage if storage is not None else DictStorage()
        self.usage_object = usage
        self.body_node = body
        self.nodes = list(nodes)
        self.location = path
        self.is_hidden = hidden
        self.listeners = []  # (target, name, fn, capture)
        self.history = []
        self.view_observers = []
        self.transports = []

    def transport(self, url):
        transport = RecordingTransport()
        transport.url = url
        self.transports.append(transport)
        return transport

    def get(self, obj, name):
        return getattr(obj, name, None)

    def attribute(self, node, name):
        return node.getAttribute(name) if hasattr(node, "getAttribute") else None

    def select(self, css):
        assert css == "[data-usage-view]"
        return [node for node in self.nodes if node.getAttribute("data-usage-view") is not None]

    def listen(self, target, name, fn, capture=False):
        entry = (target, name, fn, capture)
        self.listeners.append(entry)
        return lambda: self.listeners.remove(entry)

    def wrap_history(self, fn):
        self.history.append(fn)

    def observe_views(self, fn):
        self.view_observers.append(fn)

    def hidden(self):
        return self.is_hidden

    def path(self):
        return self.location

    def body(self):
        return self.body_node

    def facts(self):
        return {"gpc": False, "user_agent": "FakeBrowser/1.0", "start_ms": START_MS}

    def url(self, path):
        return path if "://" in path else "http://page.test" + path

    def usage(self):
        return self.usage_object

    def to_py(self, value):
        return value

    def callable(self, fn):
        return fn

    # -- what the browser does -----------------------------------------------------------

    def fire(self, target, name, event=None):
        for listened, listened_name, fn, _ in list(self.listeners):
            if listened == target and listened_name == name:
                fn(event if event is not None else Event())

    def click(self, node):
        """A click on ``node``: element listeners from the node up, then the document's."""
        element = node
        while element is not None:
            self.fire(element, "click", Event(target=node))
            element = element.parentNode
        self.fire("document", "click", Event(target=node))

    def push_state(self, path, body_app=None):
        self.location = path
        if body_app is not None:
            self.body_node.attributes["data-usage-app"] = body_app
        for fn in self.history:
            fn()

    def mutate(self, nodes):
        self.nodes = list(nodes)
        for fn in self.view_observers:
            fn()
