"""``ui_metric``: Kibana's legacy UI metric collector, ``{app: [{key, value}]}`` (§5.1).

Read from the ``ui_metric`` rows the receiver keeps (every type of one event summed, as
Kibana's ``ui-metric`` saved objects), plus the user agents seen, which Kibana stores as
``ui-metric`` documents with the id ``<userAgent map key>:<user agent>`` and so reports
under the map key (``kibana-user_agent``), verbatim, with a value of 1 (Kibana's
``collectors/ui_metric/index.test.ts``)::

    {"discover": [{"key": "open_doc_flyout", "value": 3}],
     "kibana-user_agent": [{"key": "Mozilla/5.0 (X11; Linux x86_64)", "value": 1}]}

(Kibana 8.x+ writes the saved-object id with ``/`` replaced by ``-``, for its saved-object
path rules, and so reports ``Mozilla-5.0``; we have no such rule and keep the string as
the browser sent it, as Kibana 7.x and OpenSearch Dashboards do.)
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
        output.setdefault(key, []).append({"key": user_agent, "value": 1})
    return output


def ui_metric_collector() -> Collector:
    return make_usage_collector(type="ui_metric", schema=UI_METRIC_SCHEMA, fetch=fetch_ui_metric)
