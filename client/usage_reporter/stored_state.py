"""Where the reporter keeps its pending reports and current buffer between page loads.

One storage key (``usage_reporter`` by default) holds both, written in one ``set`` so a
report is never half moved from the buffer to the pending list::

    {"format": 1, "pending": [<report with reportId>, ...], "current": <report>}

What a read cannot trust (garbage, another format, malformed entries) is dropped, never
raised: a bad stored value must not stop a page from reporting. Builtins only.
"""

from . import _json
from .buffer import ReportBuffer
from .report import is_report_id

STATE_FORMAT = 1


class StoredState:
    """Reads and writes the reporter's state; storage errors are logged, never raised."""

    def __init__(self, storage, key, log_once, json_loads=None):
        self._storage = storage
        self._key = key
        self._log_once = log_once
        self._loads = json_loads or _json.loads
        self._written = None  # the text last written, to skip writing the same again

    def save(self, pending, buffer):
        """Persist ``pending`` ([(report_id, report JSON)]) and ``buffer``; remove when empty."""
        text = None
        if pending or not buffer.is_empty():
            text = ('{"format":' + str(STATE_FORMAT) + ',"pending":['
                    + ",".join([report_text for report_id, report_text in pending])
                    + '],"current":' + buffer.to_json() + "}")
        if text == self._written:
            return
        try:
            if text is None:
                self._storage.remove(self._key)
            else:
                self._storage.set(self._key, text)
            self._written = text
        except Exception as exc:
            self._written = None
            self._log_once("storage-set", "could not save usage data to storage (kept in memory): " + str(exc))

    def clear(self):
        self._written = None
        try:
            self._storage.remove(self._key)
        except Exception as exc:
            self._log_once("storage-remove", "could not clear stored usage data: " + str(exc))

    def load(self, buffer):
        """Merge the stored current buffer into ``buffer``; return the stored pending list."""
        try:
            text = self._storage.get(self._key)
        except Exception as exc:
            self._log_once("storage-get", "could not read stored usage data: " + str(exc))
            return []
        if text is None:
            return []
        self._written = text
        pending = []
        dropped = 0
        try:
            state = self._loads(text)
            if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
                raise ValueError("not a format " + str(STATE_FORMAT) + " state")
            stored_pending = state.get("pending") or []
            if not isinstance(stored_pending, list):
                raise ValueError("pending is not a list")
            for report in stored_pending:
                dropped += self._load_pending(report, buffer, pending)
            current = state.get("current")
            if isinstance(current, dict) and current.get("reportVersion") == 3:
                dropped += buffer.merge(current)
            elif current is not None:
                dropped += 1
        except Exception as exc:
            pending = []
            buffer.clear()
            dropped = 0
            self._log_once("storage-garbage", "discarded unreadable stored usage data: " + str(exc))
        if dropped:
            self._log_once("storage-dropped", "discarded " + str(dropped) + " malformed stored entries")
        return pending

    def _load_pending(self, report, buffer, pending):
        if not isinstance(report, dict) or report.get("reportVersion") != 3:
            return 1
        check = ReportBuffer(buffer.max_entries, buffer.max_chars * 2)
        dropped = check.merge(report)
        report_id = report.get("reportId")
        if not is_report_id(report_id):
            report_id = None  # still sent; only deduplication needs the id
        if not check.is_empty():
            pending.append((report_id, check.to_json(report_id)))
        return dropped
