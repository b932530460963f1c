"""Where the reporter keeps its pending reports and current buffer between page loads.

Each page (tab) writes its own key, ``usage_reporter.tab.<tab id>``, in one ``set`` so a
report is never half moved from the buffer to the pending list::

    {"format": 2, "seen": <ms>, "closed": false, "currentId": "<id>",
     "pending": [<report with reportId>, ...], "current": <report>}

Why one key per tab: with one shared key (Kibana's way, and ours before) a tab opening while
another has unsent events took them over and both tabs sent them, counted twice. Now a page
adopts another tab's state only when that tab is done with it: it hid or closed
(``closed``: it already beaconed everything), or it has not written for ``stale_after_ms``
(it crashed; a live tab rewrites ``seen`` at least every minute). The adopter removes the
key and sends what it held: pending reports keep their reportId, and the current buffer
goes out under ``currentId``, the id its own tab would have sent it with. So whoever sends
it, and however many adopt it at once, the receiver counts it once. A tab that wakes up to
find its state adopted drops its current buffer (``taken``): another tab has it.

The single ``usage_reporter`` key of format 1 is adopted like a closed tab's. What a read
cannot trust (garbage, another format, malformed entries) is dropped, never raised: a bad
stored value must not stop a page from reporting. Builtins only.
"""

from . import _json
from .buffer import ReportBuffer
from .report import is_report_id

STATE_FORMAT = 2
TAB_INFIX = ".tab."


class StoredState:
    """Reads and writes one tab's state, and adopts finished tabs' states; storage errors
    are logged, never raised."""

    def __init__(self, storage, prefix, tab_id, clock, log_once, json_loads=None, stale_after_ms=600000.0):
        self._storage = storage
        self._prefix = prefix
        self.key = prefix + TAB_INFIX + tab_id
        self._clock = clock
        self._log_once = log_once
        self._loads = json_loads or _json.loads
        self.stale_after_ms = stale_after_ms
        self._written = None  # the text last written, to tell whether another tab took it
        self._body = None  # what that text holds but "seen", to skip writing what is already there
        self._closed = False
        self.written_at = 0.0

    def save(self, pending, buffer, current_id, closed=False, force=False):
        """Persist ``pending`` ([(report_id, report JSON)]) and ``buffer``; remove when empty.

        ``closed``: every report was beaconed and the page may be gone; any tab may adopt it.
        ``force`` rewrites an unchanged state (the heartbeat that keeps a live tab's fresh)."""
        state = None
        if pending or not buffer.is_empty():
            state = (closed, current_id, [report_text for report_id, report_text in pending], buffer.to_json())
        if state == self._body and not (force and state is not None):
            return
        now = self._clock()
        text = None
        if state is not None:
            text = ('{"format":' + str(STATE_FORMAT) + ',"seen":' + str(int(now))
                    + ',"closed":' + ("true" if closed else "false")
                    + ',"currentId":' + (_json.quote(current_id) if current_id else "null")
                    + ',"pending":[' + ",".join(state[2]) + '],"current":' + state[3] + "}")
        try:
            if text is None:
                self._storage.remove(self.key)
            else:
                self._storage.set(self.key, text)
            self._written, self._body, self._closed, self.written_at = text, state, closed, now
        except Exception as exc:
            self._written = self._body = None
            self._log_once("storage-set", "could not save usage data to storage (kept in memory): " + str(exc))

    def taken(self):
        """Did another tab adopt what we last wrote? (Only possible if we had closed, or had
        not written for ``stale_after_ms``: asleep, or frozen in the background.)"""
        if self._written is None:
            return False
        if not self._closed and self._clock() - self.written_at < self.stale_after_ms:
            return False  # not adoptable: someone cleared storage; our next save restores it
        try:
            return self._storage.get(self.key) != self._written
        except Exception:
            return False

    def forget(self):
        """What we wrote is another tab's now: the next save writes whatever we hold."""
        self._written = self._body = None

    def clear(self):
        """Remove our state and every other tab's (opted out or disabled: none is sent,
        even after an opt-in); live tabs hear of the opt-out and clear their own."""
        self.forget()
        try:
            for key in [self.key] + self._other_keys():
                self._storage.remove(key)
        except Exception as exc:
            self._log_once("storage-remove", "could not clear stored usage data: " + str(exc))

    def load(self, buffer, adopt=True):
        """Our own stored state (normally none: a new page has a new tab id) merged into
        ``buffer``, and with ``adopt`` the finished states of other tabs as pending reports.

        Returns ``(pending, current_id)``: current_id is the one stored with our own buffer."""
        pending = []
        current_id = self._load_key(self.key, buffer, pending, own=True)
        if adopt:
            for key in self._other_keys():
                self._load_key(key, buffer, pending, own=False)
        return pending, current_id

    def _other_keys(self):
        if getattr(self._storage, "keys", None) is None:
            return [self._prefix]  # a storage that cannot list keys: only format 1's
        try:
            keys = self._storage.keys()
        except Exception as exc:
            self._log_once("storage-keys", "could not list stored usage data: " + str(exc))
            return []
        tabs = self._prefix + TAB_INFIX
        return sorted(key for key in keys if isinstance(key, str) and key != self.key
                      and (key == self._prefix or key.startswith(tabs)))

    def _load_key(self, key, buffer, pending, own):
        try:
            text = self._storage.get(key)
        except Exception as exc:
            self._log_once("storage-get", "could not read stored usage data: " + str(exc))
            return None
        if text is None:
            return None
        dropped = 0
        current_id = None
        start = len(pending)
        try:
            state = self._loads(text)
            legacy = key == self._prefix  # format 1: one key shared by every tab
            expected = 1 if legacy else STATE_FORMAT
            if not isinstance(state, dict) or state.get("format") != expected:
                raise ValueError("not a format " + str(expected) + " state")
            if not own and not legacy and not self._finished(state):
                return None  # a live tab's
            if not own:
                self._storage.remove(key)  # first: adopted once, and garbage never comes back
            stored_pending = state.get("pending") or []
            if not isinstance(stored_pending, list):
                raise ValueError("pending is not a list")
            known = [report_id for report_id, text in pending if report_id]
            for report in stored_pending:
                dropped += self._load_pending(report, buffer, pending, known)
            current = state.get("current")
            current_id = state.get("currentId") if is_report_id(state.get("currentId")) else None
            if current is not None and not (isinstance(current, dict) and current.get("reportVersion") == 3):
                dropped += 1
            elif current is not None and (own or legacy or current_id is None):
                dropped += buffer.merge(current)  # ours, or no id to send it under: sent with ours
            elif current is not None and current_id not in known:
                dropped += self._load_pending(dict(current, reportId=current_id), buffer, pending, known)
        except Exception as exc:
            del pending[start:]
            if own:
                buffer.clear()
            else:
                self._remove(key)
            self._log_once("storage-garbage", "discarded unreadable stored usage data: " + str(exc))
            return None
        if dropped:
            self._log_once("storage-dropped", "discarded " + str(dropped) + " malformed stored entries")
        return current_id if own else None

    def _finished(self, state):
        seen = state.get("seen")
        if state.get("closed") is True:
            return True
        return not isinstance(seen, (int, float)) or self._clock() - seen >= self.stale_after_ms

    def _remove(self, key):
        try:
            self._storage.remove(key)
        except Exception:
            pass

    def _load_pending(self, report, buffer, pending, known):
        if not isinstance(report, dict) or report.get("reportVersion") != 3:
            return 1
        report_id = report.get("reportId")
        if not is_report_id(report_id):
            report_id = None  # still sent; only deduplication needs the id
        elif report_id in known:
            return 0  # two tabs held the same report: send it once
        check = ReportBuffer(buffer.max_entries, buffer.max_chars * 2)
        dropped = check.merge(report)
        if not check.is_empty():
            pending.append((report_id, check.to_json(report_id)))
            if report_id:
                known.append(report_id)
        return dropped
