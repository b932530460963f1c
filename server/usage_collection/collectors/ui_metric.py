"""``ui_metric``: Kibana's legacy UI metric collector, ``{app: [{key, value}]}`` (§5.1).

Read from the ``ui_metric`` rows the receiver keeps (every type of one event summed, as
Kibana's ``ui-metric`` saved objects), plus the user agents seen, which Kibana stores as
``ui-metric`` documents too and so reports under their key (``kibana-user_agent``) with
``/`` replaced by ``-`` and a value of 1::

    {"discover": [{"key": "open_doc_flyout", "value": 3}],
     "kibana-user_agent": [{"key": "Mozilla-5.0 (X11; Linux x86_64)", "value": 1}]}
"""

from __future__ import annotations

from typing import Any

from .collector import Collector, FetchContext, make_usage_collector
from .schema import DYNAMIC_KEY, Schema

UI_METRIC_SCHEMA: Schema = {
    "_meta": {"description": "Legacy UI metrics and user agents, keyed by app name (Kibana's ui_metric)"},
    DYNAMIC_KEY: {"type": "array", "items": {
        "key": {"type": "keyword", "_meta": {"description": "The event that is tracked (or the user agent)"}},
        "value": {"type": "long", "_meta": {"description": "How many times it happened, all days and types summed"}},
    }},
}


def fetch_ui_metric(context: FetchContext) -> dict[str, list[dict[str, Any]]]:
    storage = context.storage
    output: dict[str, list[dict[str, Any]]] = {}
    for app_name, event_name, count in storage.ui_metric_rows():
        output.setdefault(app_name, []).append({"key": event_name, "value": count})
    for key, user_agent in storage.user_agent_rows():
        output.setdefault(key, []).append({"key": user_agent.replace("/", "-"), "value": 1})
    return output


def ui_metric_collector() -> Collector:
    return make_usage_collector(type="ui_metric", schema=UI_METRIC_SCHEMA, fetch=fetch_ui_metric)
