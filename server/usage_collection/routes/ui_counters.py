"""``POST /api/ui_counters/_report``: the report receiver (Kibana's ui_counters route).

A thin edge: cross-site check, media type, size limit, strict JSON, validation, then one
``store_report`` call. Answers::

    200 {"status": "ok"}                      stored
    200 {"status": "ok", "duplicate": true}   reportId already stored; nothing counted again
    200 {"status": "ok", "dry_run": true}     ?dry_run=true: validated only, nothing stored
    400 / 413 / 415                           refused; the client drops the report
    503                                       storage unavailable; the client keeps it and retries

``navigator.sendBeacon`` cannot set headers and sends ``text/plain``, so besides Kibana's
``kbn-xsrf`` / ``kbn-version`` header (or OpenSearch Dashboards' ``osd-xsrf`` / ``osd-version``)
a write is also accepted when its ``Origin`` is this server's own or on
``USAGE_ALLOWED_ORIGINS`` (which also get CORS headers on this route and the v1 one).
``accept_report`` and ``store_and_answer`` are shared with the v1 route (``ui_metric.py``):
every report, whatever its version, is stored through ``store_and_answer``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple

from flask import Blueprint, jsonify
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_cors import CORS
from usage_reporter.report import REPORT_PATH  # the one definition: the browser posts there

from .. import limits
from ..access import XSRF_HEADERS
from ..state import get_state
from ..storage import KeyLimitHit, Pending
from ..validation import Limits, Report, parse_report
from .checks import (REPORT_MEDIA_TYPES, XSRF_MESSAGE, allowed_origins, check_cross_site, check_media_type,
                     query_flag, rate_limit, read_body, storage_errors)

V1_REPORT_PATH = "/api/ui_metric/report"  # OpenSearch Dashboards' route, served by routes/ui_metric.py
NOT_STORED = "the report was not stored"

blueprint = Blueprint("usage_ui_counters", __name__)


@blueprint.record
def _setup(state: BlueprintSetupState) -> None:
    """Per app: CORS for the allow-listed origins on this route only (each app has its own list)."""
    origins = allowed_origins(state.app)
    if not origins:
        return
    patterns: list[Any] = ["*" if origin == "*" else re.compile(re.escape(origin) + r"\Z", re.IGNORECASE)
                           for origin in origins]
    # Credentials only for named origins: with "*" every site could make credentialed requests.
    CORS(state.app, resources={REPORT_PATH: {}, V1_REPORT_PATH: {}}, origins=patterns, methods=["POST"],
         allow_headers=["content-type", *XSRF_HEADERS], supports_credentials="*" not in origins,
         max_age=600, intercept_exceptions=False)


class ReportRequest(NamedTuple):
    """What ``accept_report`` learnt about a report request before its body is parsed."""

    client: str
    limited: bool  # the per-client abuse limits apply (not in USAGE_LIMITS_EXEMPT)
    now: datetime
    dry_run: bool


@blueprint.post(REPORT_PATH)
def report() -> ResponseReturnValue:
    """Validate a report and add it to the aggregates (the equivalent of Kibana's storeUiReport)."""
    request_info, raw = accept_report()
    return store_and_answer(parse_report(raw, Limits.from_settings(get_state().settings)), request_info)


def accept_report(xsrf_message: str = XSRF_MESSAGE) -> tuple[ReportRequest, bytes]:
    """The checks before a report body is parsed: cross-site, media type, rate limit, size.

    Shared by this route and OpenSearch Dashboards' v1 route (``routes/ui_metric.py``)."""
    state = get_state()
    check_cross_site(xsrf_message)
    check_media_type(REPORT_MEDIA_TYPES, "send the report as application/json or text/plain, in UTF-8.")
    dry_run = query_flag("dry_run")
    now = state.clock()
    client, limited = rate_limit(state, now, NOT_STORED)
    raw = read_body(state.settings.max_body_bytes)
    return ReportRequest(client, limited, now, dry_run), raw


def store_and_answer(parsed: Report, request_info: ReportRequest) -> ResponseReturnValue:
    """The one place a parsed report (v3 or v1) is stored: handed to this process's group
    commit with its client's new-key limit, answered once its batch is committed (``ok``,
    ``duplicate``, ``dry_run``; 429 past the key limit; 503 when storage fails)."""
    if request_info.dry_run:
        return jsonify(status="ok", dry_run=True)
    state = get_state()
    key_limit = state.settings.max_new_keys_per_client_per_day if request_info.limited else 0
    with storage_errors(NOT_STORED):
        outcome = state.group_commit.submit(Pending(parsed, request_info.now, request_info.client, key_limit))
    if isinstance(outcome, KeyLimitHit):
        raise limits.key_limit_exceeded(outcome, request_info.client, request_info.now)
    if outcome == "duplicate":
        return jsonify(status="ok", duplicate=True)
    return jsonify(status="ok")
