"""The report being built: entries summed by key, with their JSON kept ready.

The reporter persists the whole buffer to storage on every recorded event, as Kibana does.
To keep that cheap under Brython, each entry's JSON fragment is re-encoded only when that
entry changes; writing the buffer is then one string join. Builtins only.
"""

from . import _json
from .report import (
    REPORT_VERSION,
    application_usage_key,
    ui_counter_key,
    user_agent_key,
)
from .validation import MAX_COUNT, check_app_name, check_name

MAP_NAMES = ("uiCounter", "userAgent", "application_usage")


def is_number(value):
    """A finite int or float that is not a bool (bool is an int in Python)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value == value and value not in (float("inf"), float("-inf"))


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_COUNT


class ReportBuffer:
    """uiCounter / userAgent / application_usage entries, like Kibana's ReportManager.

    ``max_entries`` bounds each map and ``max_chars`` the JSON text, both below the
    receiver's limits: a new key beyond them is refused (the add returns False) while
    existing keys keep summing, so one busy page cannot grow a report the server rejects.
    """

    def __init__(self, max_entries=1000, max_chars=60000):
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.maps = {}
        self._fragments = {}
        self._chars = 0
        self.clear()

    def clear(self):
        for name in MAP_NAMES:
            self.maps[name] = {}
            self._fragments[name] = {}
        self._chars = 0

    def is_empty(self):
        for name in MAP_NAMES:
            if self.maps[name]:
                return False
        return True

    def _has_room(self, name, key):
        if key in self.maps[name]:
            return True
        return len(self.maps[name]) < self.max_entries and self._chars < self.max_chars

    def _store(self, name, key, entry):
        fragment = _json.quote(key) + ":" + _flat_json(entry)
        self._chars += len(fragment) - len(self._fragments[name].get(key, ""))
        self.maps[name][key] = entry
        self._fragments[name][key] = fragment

    def add_ui_counter(self, app_name, metric_type, event_name, count):
        """Sum ``count`` into ``appName-type-eventName``; False if the buffer is full."""
        key = ui_counter_key(app_name, metric_type, event_name)
        if not self._has_room("uiCounter", key):
            return False
        previous = self.maps["uiCounter"].get(key)
        total = count + (previous["total"] if previous else 0)
        entry = {"key": key, "appName": app_name, "eventName": event_name, "type": metric_type,
                 "total": min(total, MAX_COUNT)}
        self._store("uiCounter", key, entry)
        return True

    def set_user_agent(self, app_name, user_agent):
        """Replace the userAgent map with one entry (Kibana keeps one); True if it changed."""
        key = user_agent_key(app_name)
        entry = {"key": key, "appName": app_name, "type": "user_agent", "userAgent": user_agent}
        if self.maps["userAgent"].get(key) == entry and len(self.maps["userAgent"]) == 1:
            return False
        for old in self._fragments["userAgent"].values():
            self._chars -= len(old)
        self.maps["userAgent"] = {}
        self._fragments["userAgent"] = {}
        self._store("userAgent", key, entry)
        return True

    def add_application_usage(self, app_id, view_id, minutes, clicks):
        """Add minutes on screen and clicks into ``appId-viewId``; False if the buffer is full."""
        key = application_usage_key(app_id, view_id)
        if not self._has_room("application_usage", key):
            return False
        previous = self.maps["application_usage"].get(key)
        if previous:
            minutes = minutes + previous["minutesOnScreen"]
            clicks = clicks + previous["numberOfClicks"]
        entry = {"appId": app_id, "viewId": view_id, "minutesOnScreen": minutes,
                 "numberOfClicks": min(clicks, MAX_COUNT)}
        self._store("application_usage", key, entry)
        return True

    def to_json(self, report_id=None):
        """The v3 report as JSON text (what goes inside ``{"report": ...}``)."""
        parts = ['{"reportVersion":', str(REPORT_VERSION)]
        if report_id is not None:
            parts.append(',"reportId":')
            parts.append(_json.quote(report_id))
        for name in MAP_NAMES:
            fragments = self._fragments[name]
            if fragments:
                parts.append(',"' + name + '":{')
                parts.append(",".join(fragments.values()))
                parts.append("}")
        parts.append("}")
        return "".join(parts)

    def to_report(self):
        """A copy of the entries as a report dict (without reportId)."""
        report = {"reportVersion": REPORT_VERSION}
        for name in MAP_NAMES:
            if self.maps[name]:
                report[name] = dict((key, dict(entry)) for key, entry in self.maps[name].items())
        return report

    def merge(self, report):
        """Add a report dict's well-formed entries into this buffer; returns how many were not.

        Used for what storage held (which may be garbage or an older format) and for moving
        events recorded before ``install``: every entry is checked again, keys are rebuilt.
        """
        dropped = 0
        for name in MAP_NAMES:
            entries = report.get(name) or {}
            if not isinstance(entries, dict):
                dropped += 1
                continue
            for entry in entries.values():
                try:
                    ok = self._merge_entry(name, entry)
                except ValueError:
                    ok = False
                if not ok:
                    dropped += 1
        return dropped

    def _merge_entry(self, name, entry):
        if not isinstance(entry, dict):
            return False
        if name == "uiCounter":
            total = entry.get("total")
            if not is_count(total) or total == 0:
                return False
            metric_type = check_name("type", entry.get("type"))
            app_name = check_app_name("appName", entry.get("appName"))
            event_name = check_name("eventName", entry.get("eventName"))
            return self.add_ui_counter(app_name, metric_type, event_name, total)
        if name == "userAgent":
            user_agent = entry.get("userAgent")
            if not isinstance(user_agent, str) or not user_agent:
                return False
            return self.set_user_agent(check_app_name("appName", entry.get("appName")), user_agent) or True
        minutes = entry.get("minutesOnScreen")
        clicks = entry.get("numberOfClicks")
        if not is_number(minutes) or minutes < 0 or not is_count(clicks):
            return False
        app_id = check_app_name("appId", entry.get("appId"))
        view_id = check_name("viewId", entry.get("viewId"))
        return self.add_application_usage(app_id, view_id, float(minutes), clicks)


def _flat_json(entry):
    """An entry's JSON: a flat dict of strings and numbers (3 times faster than dumps in Brython)."""
    parts = []
    for field in entry:
        value = entry[field]
        parts.append(_json.quote(field) + ":" + (_json.quote(value) if isinstance(value, str) else _json.dumps(value)))
    return "{" + ",".join(parts) + "}"


