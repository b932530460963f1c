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
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Iterator, NamedTuple

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_cors import CORS

from .. import limits
from ..errors import ApiError, BadRequest, StorageUnavailable
from ..access import XSRF_HEADERS, has_xsrf_header
from ..state import get_state
from ..request_metrics import mark_client_disconnected
from ..storage import KeyLimitHit, Pending, StorageError
from ..validation import Limits, Report, parse_report

REPORT_PATH = "/api/ui_counters/_report"
V1_REPORT_PATH = "/api/ui_metric/report"  # OpenSearch Dashboards' route, served by routes/ui_metric.py
XSRF_MESSAGE = "Request must contain a kbn-xsrf header."
ACCEPTED_MEDIA_TYPES = ("application/json", "text/plain")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}

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
    settings = state.settings
    check_xsrf(xsrf_message)
    check_media_type()
    dry_run = _flag("dry_run")
    client, limited = limits.request_client(settings)  # address or IPv6 /64; proxies and exemptions
    now = state.clock()
    if limited:  # per-client abuse limits, shared by every worker and host (limits.py)
        with storage_errors():
            limits.check_rate(state.storage, client, now, settings.rate_limit_per_minute)
    raw = read_body(settings.max_body_bytes)
    return ReportRequest(client, limited, now, dry_run), raw


def store_and_answer(parsed: Report, request_info: ReportRequest) -> ResponseReturnValue:
    """The one place a parsed report (v3 or v1) is stored: handed to this process's group
    commit with its client's new-key limit, answered once its batch is committed (``ok``,
    ``duplicate``, ``dry_run``; 429 past the key limit; 503 when storage fails)."""
    if request_info.dry_run:
        return jsonify(status="ok", dry_run=True)
    state = get_state()
    key_limit = state.settings.max_new_keys_per_client_per_day if request_info.limited else 0
    with storage_errors():
        outcome = state.group_commit.submit(Pending(parsed, request_info.now, request_info.client, key_limit))
    if isinstance(outcome, KeyLimitHit):
        raise limits.key_limit_exceeded(outcome, request_info.client, request_info.now)
    if outcome == "duplicate":
        return jsonify(status="ok", duplicate=True)
    return jsonify(status="ok")


@contextmanager
def storage_errors(what: str = "the report was not stored") -> Iterator[None]:
    """503 in the JSON error shape when the database fails: the client keeps its data and retries."""
    try:
        yield
    except StorageError as exc:
        raise StorageUnavailable(f"Storage is unavailable ({exc}); {what}. Retry later.") from exc


def allowed_origins(app: Flask) -> list[str]:
    """``USAGE_ALLOWED_ORIGINS``, each origin normalised as a browser sends it."""
    return [_origin(origin) for origin in get_state(app).settings.allowed_origins]


def check_xsrf(message: str = XSRF_MESSAGE) -> None:
    """Kibana's rule (a ``kbn-xsrf`` or ``kbn-version`` header, or OpenSearch Dashboards'
    ``osd-xsrf`` / ``osd-version``), plus same or allow-listed ``Origin``.

    A cross-site page cannot add a custom header without a CORS preflight that only
    allow-listed origins pass, and browsers always send ``Origin`` on a cross-site POST.
    """
    headers = request.headers
    if has_xsrf_header(headers):
        return
    origin = headers.get("Origin")
    if origin:
        origin = _origin(origin)
        if origin == _origin(request.host_url):
            return
        allowed = allowed_origins(current_app)
        if origin in allowed or "*" in allowed:
            return
    raise BadRequest(message)


def check_media_type() -> None:
    """JSON, or ``text/plain`` as ``navigator.sendBeacon`` sends a string; UTF-8 only."""
    content_type = request.headers.get("Content-Type")
    if content_type is None:  # like Kibana (hapi), a body without a type is read as JSON
        return
    mimetype, options = request.mimetype, request.mimetype_params
    charset = options.get("charset", "utf-8").lower()
    if mimetype not in ACCEPTED_MEDIA_TYPES or charset not in ("utf-8", "utf8"):
        raise ApiError(415, f"Unsupported Media Type {content_type!r}: send the report as application/json "
                            "or text/plain, in UTF-8.")


def read_body(limit: int) -> bytes:
    """At most ``limit`` bytes, else 413: checks Content-Length, and reads at most limit + 1
    bytes so a chunked body without a length cannot get past the limit either."""
    too_large = ApiError(413, f"Request body is larger than the limit of {limit} bytes (USAGE_MAX_BODY_BYTES).")
    length = request.content_length
    if length is not None and length > limit:
        raise too_large
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise too_large
    if length is not None and size < length:  # the client went away mid-body (gunicorn reads EOF)
        mark_client_disconnected(request.environ)
        raise BadRequest(f"[request body]: the body ended after {size} of its {length} bytes "
                         "(the client disconnected); nothing was stored.")
    return b"".join(chunks)


def _flag(name: str) -> bool:
    value = request.args.get(name)
    if value is None:
        return False
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadRequest(f"[request query.{name}]: expected value of type [boolean] but got [string]")


def _origin(url: str) -> str:
    """``scheme://host[:port]`` in lower case, without a trailing slash or path."""
    url = url.strip().lower()
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.rstrip("/")
    return scheme + "://" + rest.split("/", 1)[0]

