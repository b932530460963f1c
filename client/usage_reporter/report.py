"""The report wire format: one source of truth for the client that builds reports and the
server that validates them (Kibana's report v3, plus our optional ``reportId``).

Runs under Brython without ``brython_stdlib.js``: builtins only, no imports at all.

A report, as posted to ``POST /api/ui_counters/_report`` inside ``{"report": ...}``::

    {"reportVersion": 3, "reportId": "4f1c...",
     "uiCounter": {"discover-click-open": {"key": "discover-click-open", "appName": "discover",
                   "eventName": "open", "type": "click", "total": 3}},
     "userAgent": {"kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana",
                   "type": "user_agent", "userAgent": "Mozilla/5.0 ..."}},
     "application_usage": {"discover-main": {"appId": "discover", "viewId": "main",
                           "minutesOnScreen": 2.5, "numberOfClicks": 7}}}
"""

REPORT_VERSION = 3
# Where a browser posts its reports (the server's route and the client's default URL).
REPORT_PATH = "/api/ui_counters/_report"
# Seconds between a browser's flushes unless the server (USAGE_FLUSH_INTERVAL_S), the script
# tag or ``boot`` says otherwise.
FLUSH_INTERVAL_S = 30.0
# The shortest flush interval a browser keeps (a smaller setting is raised to it): the
# server refuses a USAGE_FLUSH_INTERVAL_S below it at start.
MIN_FLUSH_INTERVAL_S = 1.0
REPORT_ID_MAX_LENGTH = 64
# What a reportId may hold: ids are stored as keys and shown in logs, so no spaces or quotes.
REPORT_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-"
MAIN_VIEW_ID = "main"
# The most one entry of one report may add (total, numberOfClicks, minutesOnScreen): the
# server refuses more, so no sum of stored counts comes near int64.
MAX_ENTRY_VALUE = 1000000000
USER_AGENT_APP_NAME = "kibana"


class METRIC_TYPE:
    """Kibana's METRIC_TYPE: the kinds of UI counter (any other string is allowed too)."""

    COUNT = "count"
    LOADED = "loaded"
    CLICK = "click"
    USER_AGENT = "user_agent"
    APPLICATION_USAGE = "application_usage"


def ui_counter_key(app_name, metric_type, event_name):
    return app_name + "-" + metric_type + "-" + event_name


def user_agent_key(app_name):
    return app_name + "-" + METRIC_TYPE.USER_AGENT


def application_usage_key(app_id, view_id):
    return app_id + "-" + view_id


# Field tables the server validates against: name -> (kind, required).
# kinds: "string", "number", "version" (the literal 3), "map" (a record of entries).
REPORT_FIELDS = {
    "reportVersion": ("version", False),
    "reportId": ("string", False),
    "uiCounter": ("map", False),
    "userAgent": ("map", False),
    "application_usage": ("map", False),
}

ENTRY_FIELDS = {
    "uiCounter": {
        "key": ("string", True),
        "type": ("string", True),
        "appName": ("string", True),
        "eventName": ("string", True),
        "namespace": ("string", False),
        "total": ("number", True),
    },
    "userAgent": {
        "key": ("string", True),
        "type": ("string", True),
        "appName": ("string", True),
        "userAgent": ("string", True),
    },
    "application_usage": {
        "appId": ("string", True),
        "viewId": ("string", True),
        "minutesOnScreen": ("number", True),
        "numberOfClicks": ("number", True),
    },
}


def is_report_id(value):
    """True for 1 to 64 characters of REPORT_ID_ALPHABET: what the server accepts."""
    if not isinstance(value, str) or not 0 < len(value) <= REPORT_ID_MAX_LENGTH:
        return False
    for char in value:
        if char not in REPORT_ID_ALPHABET:
            return False
    return True


def new_report():
    return {"reportVersion": REPORT_VERSION}


def is_report_empty(report):
    for name in ("uiCounter", "userAgent", "application_usage"):
        if report.get(name):
            return False
    return True
