"""Fakes for the client core's unit tests: a clock you move, dict storage, a recording
transport whose answers you give explicitly, and a page that delivers clicks.

Plain Python with no pytest, so the same tests also run inside Pyodide under Node
(test_core_in_pyodide.py). No sleeps anywhere: time only moves when a test says so.
"""

import itertools
import json

from usage_reporter.application_usage import ApplicationUsageTracker
from usage_reporter.reporter import Reporter

START_MS = 1_700_000_000_000.0


def raises(exc_type, fn, *args, **kwargs):
    """Call ``fn`` and return the ``exc_type`` it raised; fail if it raised nothing."""
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise AssertionError(f"{getattr(fn, '__name__', fn)}{args!r} did not raise {exc_type.__name__}")


class FakeClock:
    """Milliseconds since the epoch, like JS ``Date.now()``; moves only with ``advance``."""

    def __init__(self, now_ms=START_MS):
        self.now = float(now_ms)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds * 1000.0


class DictStorage:
    """localStorage semantics over a dict; ``fail_set``/``fail_get`` make it raise like a full
    or blocked localStorage."""

    def __init__(self, data=None):
        self.data = dict(data or {})
        self.fail_set = False
        self.fail_get = False
        self.writes = 0

    def keys(self):
        return list(self.data)

    def get(self, key):
        if self.fail_get:
            raise RuntimeError("SecurityError: storage is blocked")
        return self.data.get(key)

    def set(self, key, value):
        if self.fail_set:
            raise RuntimeError("QuotaExceededError: storage is full")
        assert isinstance(value, str)
        self.writes += 1
        self.data[key] = value

    def remove(self, key):
        self.data.pop(key, None)


class RecordingTransport:
    """Records every send and beacon; a test answers sends with ``respond``."""

    def __init__(self):
        self.sent = []  # [(body, on_result)]
        self.waiting = []  # on_result callbacks not answered yet, oldest first
        self.beacons = []
        self.beacon_ok = True
        self.fail_send = False

    def send(self, body, on_result):
        if self.fail_send:
            raise RuntimeError("fetch is not available")
        self.sent.append((body, on_result))
        self.waiting.append(on_result)

    def beacon(self, body):
        self.beacons.append(body)
        return self.beacon_ok

    def respond(self, status, retry_after_s=None):
        """Answer the oldest unanswered send."""
        assert self.waiting, "no send is waiting for an answer"
        self.waiting.pop(0)(status, retry_after_s)

    @property
    def reports(self):
        """The ``report`` objects of every send, parsed with the stdlib json."""
        return [json.loads(body)["report"] for body, _ in self.sent]

    @property
    def beacon_reports(self):
        return [json.loads(body)["report"] for body in self.beacons]


class Ids:
    """``new_id``: report-1, report-2, ..."""

    def __init__(self):
        self.count = 0

    def __call__(self):
        self.count += 1
        return f"report-{self.count}"


_PAGES = itertools.count(1)  # tab ids unique across harnesses: they may share a storage


class Harness:
    """A reporter (and tracker) wired to fakes; ``reload()`` makes a new page on the same
    storage (with a new tab id, as in a browser)."""

    def __init__(self, storage=None, clock=None, **options):
        self.clock = clock or FakeClock()
        self.storage = storage if storage is not None else DictStorage()
        self.transport = RecordingTransport()
        self.ids = Ids()
        self.logs = []
        self.options = options
        self.reporter = self._make_reporter()
        self.tracker = ApplicationUsageTracker(self.reporter, self.clock)

    def _make_reporter(self):
        self.pages = next(_PAGES)
        options = {"tab_id": f"page-{self.pages}", **self.options}
        return Reporter(clock=self.clock, storage=self.storage, transport=self.transport,
                        new_id=self.ids, log=self.logs.append, **options)

    def reload(self, pagehide=True):
        """A new page load: fresh reporter and transport, same storage and clock. The old
        page hides first (it beacons and leaves its state to the next page), unless
        ``pagehide=False``: it crashed."""
        if pagehide:
            self.reporter.flush_beacon()
        self.transport = RecordingTransport()
        self.reporter = self._make_reporter()
        self.tracker = ApplicationUsageTracker(self.reporter, self.clock)
        return self.reporter

    def run(self, seconds):
        """Let ``seconds`` pass, ticking once a second as the adapters do."""
        for _ in range(int(seconds)):
            self.clock.advance(1)
            self.reporter.tick()

    def stored(self):
        """This page's stored state, parsed (None when nothing is stored)."""
        text = self.storage.data.get(self.reporter.state_key)
        return None if text is None else json.loads(text)


class FakePage:
    """``listen_clicks`` for tests: elements are plain objects; ``click(element)`` calls the
    element's listeners, then counts the click for ``main`` as the adapter's window listener
    does."""

    def __init__(self, tracker=None):
        self.tracker = tracker
        self.listeners = []  # [(element, callback)]

    def listen_clicks(self, element, callback):
        entry = (element, callback)
        self.listeners.append(entry)

        def remove():
            self.listeners.remove(entry)

        return remove

    def listening_on(self, element):
        return sum(1 for listened, _ in self.listeners if listened is element)

    def click(self, element=None):
        for listened, callback in list(self.listeners):
            if element is not None and listened is element:
                callback({"type": "click"})
        if self.tracker is not None:
            self.tracker.click()


class Element:
    """A stand-in DOM element."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"<Element {self.name}>"


def counted(*report_lists):
    """What the receiver counts from these reports, as the server does: a report with a
    reportId once, however often it arrives; a report without one (Kibana's) every time:
    ``{counter key: total}`` and ``{usage key: (minutes, clicks)}``."""
    seen, counters, usage = set(), {}, {}
    for report in [report for reports in report_lists for report in reports]:
        report_id = report.get("reportId")
        if report_id is not None:
            if report_id in seen:
                continue
            seen.add(report_id)
        for key, entry in (report.get("uiCounter") or {}).items():
            counters[key] = counters.get(key, 0) + entry["total"]
        for key, entry in (report.get("application_usage") or {}).items():
            minutes, clicks = usage.get(key, (0.0, 0))
            usage[key] = (minutes + entry["minutesOnScreen"], clicks + entry["numberOfClicks"])
    return counters, usage
