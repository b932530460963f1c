"""``POST /api/ui_metric/report``: report v1 of OpenSearch Dashboards and Kibana <= 7.10.

The same edge as the v3 route (``ui_counters.accept_report``: cross-site check with
``osd-xsrf`` accepted like ``kbn-xsrf``, media type, rate limit, size limit), the v1 body
read into the same ``Report`` (``report_v1.py``), stored through the same
``store_and_answer``. So the answers are the v3 route's, and a report is stored whole or
not at all::

    curl -X POST http://127.0.0.1:5000/api/ui_metric/report -H 'osd-xsrf: true' \\
      -H 'Content-Type: application/json' -d '{"report": {"reportVersion": 1, "uiStatsMetrics":
      {"console-count-GET_cat.indices": {"key": "console-count-GET_cat.indices", "appName": "console",
      "eventName": "GET_cat.indices", "type": "count", "stats": {"min": 0, "max": 1, "avg": 0.5, "sum": 21}}}}}'
    # {"status":"ok"}   ui_metric.console then lists {"key": "GET_cat.indices", "value": 21}
"""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from ..state import get_state
from ..report_v1 import parse_report_v1
from ..validation import Limits
from .ui_counters import V1_REPORT_PATH, accept_report, store_and_answer

# OSD's own message for a write without its header.
OSD_XSRF_MESSAGE = "Request must contain a osd-xsrf header."

blueprint = Blueprint("usage_ui_metric", __name__)


@blueprint.post(V1_REPORT_PATH)
def report_v1() -> ResponseReturnValue:
    """Validate a v1 report and store it like a v3 one (OSD's storeReport)."""
    request_info, raw = accept_report(OSD_XSRF_MESSAGE)
    return store_and_answer(parse_report_v1(raw, Limits.from_settings(get_state().settings)), request_info)
