"""The browser reporter: records events into a buffer, persists it, and flushes reports.

The equivalent of Kibana's ``Reporter`` (``@kbn/analytics``), with what its users lose
fixed: events are summed in a *current* buffer saved to storage on every change (a reload
loses nothing); a flush turns the buffer into a *pending* report with a ``reportId`` that
stays stored until the server acknowledges it, so every resend (retry, beacon, next page
load) carries the same id and the receiver counts it once. Failed sends are retried with
backoff; only a 4xx refusal drops a report. Each page stores under its own key and takes
over other tabs' data only once they are done with it (stored_state.py), so two open tabs
never send the same events twice.

Clock, storage, transport, id source and randomness are injected (see this folder's README.md); nothing here
touches the browser and nothing raises into the caller except ``report_ui_counter``'s
``ValueError``. Builtins only.

    reporter = Reporter(clock=clock, storage=storage, transport=transport, new_id=new_id)
    reporter.report_ui_counter("shop", METRIC_TYPE.CLICK, "buy")
    reporter.tick()   # the adapter calls this about once a second
"""

from .buffer import ReportBuffer, is_count, is_number
from .report import is_report_id
from .consent import Consent
from .report import FLUSH_INTERVAL_S, USER_AGENT_APP_NAME
from .retry_policy import DELIVERED, DROP, RetryPolicy, classify, status_code
from .stored_state import StoredState
from .validation import check_app_name, check_ui_counter, check_view_id


class Reporter:
    """Buffer, storage and flush policy for one page.

    Timing (seconds): a flush every ``flush_interval_s``; a stored report is sent
    ``start_delay_s`` after start; after a failed send the next try waits ``backoff_s``,
    doubling per consecutive failure up to ``max_backoff_s``, or longer if the server's
    Retry-After says so (honoured up to ``max_retry_after_s``; see retry_policy.py); a send
    with no answer after ``send_timeout_s`` counts as a network error. Size: at most
    ``max_entries`` keys per map and about ``max_report_chars`` of JSON per report; at most
    ``max_pending`` reports wait for acknowledgement before a beacon stops adding more.
    Tabs: ``tab_id`` names this page's storage key (a new id by default); a live page
    rewrites its state at least every ``heartbeat_s`` and another tab's state is adopted
    once it closed or has been silent ``stale_after_s`` (``adopt=False``: never).
    ``json_loads`` reads the stored state at start: our pure ``_json.loads`` by default; the
    Brython adapter passes Brython's native ``javascript.JSON.parse`` (whatever it returns
    is checked entry by entry anyway). ``random`` (a number in [0, 1), e.g. ``Math.random``)
    spreads retry delays by +-50% (retry_policy.py); without it they are exact.
    """

    def __init__(self, *, clock, storage, transport, new_id, log=None, flush_interval_s=FLUSH_INTERVAL_S,
                 storage_key="usage_reporter", enabled=True, global_privacy_control=False,
                 start_delay_s=1.0, backoff_s=5.0, max_backoff_s=300.0, max_retry_after_s=3600.0,
                 send_timeout_s=60.0, max_entries=1000, max_report_chars=60000, max_pending=5,
                 json_loads=None, tab_id=None, adopt=True, heartbeat_s=60.0, stale_after_s=600.0, random=None):
        self._clock = clock
        self._transport = transport
        self._new_id = new_id
        self._log = log
        self.flush_interval_s = float(flush_interval_s)
        self.start_delay_s = float(start_delay_s)
        self.retry = RetryPolicy(backoff_s, max_backoff_s, max_retry_after_s, random)
        self.send_timeout_s = float(send_timeout_s)
        self.max_pending = max_pending
        self._logged = {}
        self._buffer = ReportBuffer(max_entries, max_report_chars)
        self._pending = []  # [(report_id or None, report JSON text)], oldest first
        self._hooks = []
        self._in_flight = False
        self._send_seq = 0
        self._sent_at = 0.0
        self._flushing = False
        self._enabled = bool(enabled)
        self.heartbeat_s = float(heartbeat_s)
        self._user_agent = None
        self._checked_at = 0.0
        self.tab_id = tab_id or self._make_id() or "t" + str(int(self._now()))
        self._state = StoredState(storage, storage_key, self.tab_id, self._now, self.log_once, json_loads,
                                  float(stale_after_s) * 1000)
        self._consent = Consent(storage, storage_key + ".consent", global_privacy_control, self.log_once)
        self._next_flush_at = self._now() + self.flush_interval_s * 1000
        self._current_id = None
        if self.active:
            self._pending, self._current_id = self._state.load(self._buffer, adopt)
            self._persist()
            if self._pending or not self._buffer.is_empty():
                self._schedule(self.start_delay_s)
        else:
            self._clear_all()

    # -- state ------------------------------------------------------------------------------

    @property
    def active(self):
        """Recording and sending: enabled and not opted out."""
        return self._enabled and not self._consent.opted_out

    @property
    def enabled(self):
        return self._enabled

    @enabled.setter
    def enabled(self, value):
        self._enabled = bool(value)
        if self.active:
            self._schedule(self.flush_interval_s)
        else:
            self._clear_all()

    @property
    def opted_out(self):
        return self._consent.opted_out

    @property
    def state_key(self):
        """The storage key of this page's state (``usage_reporter.tab.<tab id>``)."""
        return self._state.key

    @property
    def pending_count(self):
        """Reports waiting for the server's acknowledgement (for adapters and diagnostics)."""
        return len(self._pending)

    def opt_out(self):
        """Remember the visitor's opt-out; drop everything recorded and stop sending."""
        self._guard("opt-out", self._consent.opt_out)
        self._clear_all()

    def opt_in(self):
        self._guard("opt-in", self._consent.opt_in)
        if self.active:
            self._schedule(self.flush_interval_s)

    def _clear_all(self):
        self._buffer.clear()
        self._pending = []
        self._in_flight = False
        self._send_seq += 1  # a send still under way is ignored when it answers
        self._state.clear()

    # -- recording ------------------------------------------------------------------------------

    def report_ui_counter(self, app_name, metric_type, event_names, count=1):
        """Add ``count`` to each event's counter (Kibana's ``reportUiCounter``).

        Raises ValueError for a bad call, even when not recording, so mistakes show up
        in development whatever the developer's own consent.
        """
        names = check_ui_counter(app_name, metric_type, event_names, count)
        if not self.active:
            return
        try:
            self._check_taken()
            for name in names:
                if not self._buffer.add_ui_counter(app_name, metric_type, name, count):
                    self._log_full()
            self._persist()
        except Exception as exc:
            self.log_once("record", "failed to record a UI counter: " + str(exc))

    def report_user_agent(self, user_agent, app_name=USER_AGENT_APP_NAME):
        """Keep the browser's user agent in the report (one per report, as in Kibana)."""
        if not self.active or not isinstance(user_agent, str) or not user_agent:
            return
        try:
            check_app_name("app_name", app_name)
            self._user_agent = (app_name, user_agent)
            if self._buffer.set_user_agent(app_name, user_agent):
                self._persist()
        except Exception as exc:
            self.log_once("user-agent", "ignored a user agent: " + str(exc))

    def report_application_usage(self, app_id, view_id, minutes_on_screen, number_of_clicks):
        """Add time on screen and clicks for a view (called by ApplicationUsageTracker)."""
        if not self.active:
            return
        try:
            self._check_taken()
            check_app_name("app_id", app_id)
            check_view_id(view_id)
            if not is_number(minutes_on_screen) or minutes_on_screen < 0 or not is_count(number_of_clicks):
                raise ValueError("minutes " + repr(minutes_on_screen) + " / clicks " + repr(number_of_clicks))
            if minutes_on_screen == 0 and number_of_clicks == 0:
                return
            if not self._buffer.add_application_usage(app_id, view_id, float(minutes_on_screen), number_of_clicks):
                self._log_full()
            self._persist()
        except Exception as exc:
            self.log_once("app-usage", "ignored application usage: " + str(exc))

    def take_current(self):
        """Remove and return the current buffer as a report dict (moving early events)."""
        report = self._buffer.to_report()
        self._buffer.clear()
        self._persist()
        return report

    def merge(self, report):
        """Add a report dict's entries to the current buffer (what ``take_current`` gave)."""
        if not self.active:
            return
        try:
            self._check_taken()
            self._buffer.merge(report)
            self._persist()
        except Exception as exc:
            self.log_once("merge", "could not merge early events: " + str(exc))

    def _log_full(self):
        self.log_once("full", "the usage buffer is full; new counters are dropped until the next flush")

    # -- flushing ------------------------------------------------------------------------------

    def add_flush_hook(self, fn):
        """``fn()`` runs right before each report is built (the tracker folds time in)."""
        self._hooks.append(fn)

    def tick(self):
        """Flush when due; the adapter calls this about once a second."""
        try:
            if not self.active:
                return
            self._check_taken()
            now = self._now()
            if now - self._state.written_at >= self.heartbeat_s * 1000:
                self._persist(force=True)  # still alive: no other tab may adopt our state
            if self._in_flight:
                if now - self._sent_at >= self.send_timeout_s * 1000:
                    self.log_once("timeout", "a usage report got no answer in time; it will be retried")
                    self._on_result(self._send_seq, None, None)
                return
            if now >= self._next_flush_at:
                self._flush()
        except Exception as exc:
            self.log_once("tick", "flush failed: " + str(exc))

    def flush(self):
        """Send now (no-op when empty, opted out, or a send is under way)."""
        try:
            self._flush()
        except Exception as exc:
            self.log_once("flush", "flush failed: " + str(exc))

    def _flush(self):
        if not self.active or self._in_flight or self._flushing:
            return
        self._check_taken()
        self._run_hooks()
        if not self._pending:
            if self._buffer.is_empty():
                self._schedule(self.flush_interval_s)
                return
            self._promote()
        self._send()

    def flush_beacon(self):
        """Page hiding or closing: queue every pending report (and the buffer) as beacons.

        The reports stay stored: a beacon's delivery is never confirmed, so the next send
        (or the next page load) repeats them with the same reportId.
        """
        try:
            if not self.active:
                return
            self._check_taken()
            self._run_hooks()
            if not self._buffer.is_empty() and len(self._pending) < self.max_pending:
                self._promote(persist=False)  # one write below, already closed: the page may die between two
            for report_id, text in self._pending:
                if not self._transport.beacon('{"report":' + text + "}"):
                    self.log_once("beacon", "the browser refused a beacon; the report is kept for later")
            self._persist(closed=True)  # the page may be gone: another tab may send what is left
        except Exception as exc:
            self.log_once("beacon-error", "beacon failed: " + str(exc))

    def _run_hooks(self):
        self._flushing = True
        try:
            for hook in self._hooks:
                self._guard("hook", hook)
        finally:
            self._flushing = False

    def _promote(self, persist=True):
        """Turn the current buffer into a pending report, under the reportId stored with it
        (a tab adopting our state would send it under the same one)."""
        report_id = self._current_id  # None: accepted by the server, just not deduplicated
        self._pending.append((report_id, self._buffer.to_json(report_id)))
        self._buffer.clear()
        self._current_id = self._make_id()
        if persist:
            self._persist()

    def _make_id(self):
        try:
            report_id = self._new_id()
        except Exception as exc:
            self.log_once("new-id", "could not make a reportId: " + str(exc))
            return None
        return report_id if is_report_id(report_id) else None

    def _check_taken(self):
        """After a sleep (or once hidden), another tab may have adopted our stored state: it
        sends our current buffer, under our current id, so we drop ours (at most once a second)."""
        now = self._now()
        if now - self._checked_at < 1000:
            return
        self._checked_at = now
        if not self._state.taken():
            return
        self._state.forget()
        self._buffer.clear()
        self._current_id = self._make_id()
        if self._user_agent is not None:
            self._buffer.set_user_agent(self._user_agent[0], self._user_agent[1])
        self.log_once("taken", "another tab took over this page's stored usage data while the page was asleep")
        self._persist()

    def _send(self):
        self._in_flight = True
        self._send_seq += 1
        seq = self._send_seq
        self._sent_at = self._now()
        body = '{"report":' + self._pending[0][1] + "}"

        def on_result(status, retry_after_s=None):
            try:
                self._on_result(seq, status, retry_after_s)
            except Exception as exc:
                self.log_once("result", "could not handle a send result: " + str(exc))

        try:
            self._transport.send(body, on_result)
        except Exception as exc:
            self.log_once("send", "could not send a usage report: " + str(exc))
            self._on_result(seq, None, None)

    def _on_result(self, seq, status, retry_after_s):
        if seq != self._send_seq or not self._in_flight:
            return  # answer to a send we gave up on, or from before an opt-out
        self._in_flight = False
        outcome = classify(status)
        if outcome == DELIVERED or outcome == DROP:
            self._pending.pop(0)
            self.retry.succeeded()
            self._persist()
            self._schedule(0 if self._pending else self.flush_interval_s)
            if outcome == DROP:
                code = str(status_code(status))
                self.log_once("refused-" + code, "the server refused a usage report (HTTP " + code
                              + ") and it was dropped; the server's log says why")
        else:
            code = status_code(status)
            what = "network error" if code is None else "HTTP " + str(code)
            self.log_once("retry", "sending usage failed (" + what + "); keeping it and retrying with backoff")
            self._schedule(self.retry.failed(retry_after_s))

    def _schedule(self, delay_s):
        self._next_flush_at = self._now() + delay_s * 1000

    # -- helpers ------------------------------------------------------------------------------

    def _persist(self, closed=False, force=False):
        if self.active:
            if self._current_id is None:  # new, or recording again after an opt-out
                self._current_id = self._make_id()
            self._state.save(self._pending, self._buffer, self._current_id, closed, force)

    def _now(self):
        return float(self._clock())

    def _guard(self, kind, fn):
        try:
            fn()
        except Exception as exc:
            self.log_once(kind, "error in " + kind + ": " + str(exc))

    def log_once(self, kind, message):
        """Log each kind of problem once per page: the console stays readable."""
        if kind in self._logged:
            return
        self._logged[kind] = True
        if self._log is not None:
            try:
                self._log("usage_reporter: " + message)
            except Exception:
                pass
