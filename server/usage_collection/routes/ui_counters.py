"""``POST /api/ui_counters/_report``: the report receiver (Kibana's ui_counters route).

A thin edge: cross-site check, media type, size limit, strict JSON, validation, then one
``store_report`` call. Answers::

    200 {"status": "ok"}                      stored
    200 {"status": "ok", "duplicate": true}   reportId already stored; nothing counted again
    200 {"status": "ok", "dry_run": true}     ?dry_run=true: validated only, nothing stored
    400 / 413 / 415                           refused; the client drops the report
    503                                       storage unavailable; the client keeps it and retries

``navigator.sendBeacon`` cannot set headers and sends ``text/plain``, so besides Kibana's
``kbn-xsrf`` / ``kbn-version`` header a write is also accepted when its ``Origin`` is this
server's own or on ``USAGE_ALLOWED_ORIGINS`` (which also get CORS headers on this route).
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_cors import CORS

from .. import limits
from ..errors import ApiError, BadRequest, StorageUnavailable
from ..extension import get_state
from ..storage.ui_report import store_report
from ..validation import Limits, parse_report

REPORT_PATH = "/api/ui_counters/_report"
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
    CORS(state.app, resources={REPORT_PATH: {}}, origins=patterns, methods=["POST"],
         allow_headers=["content-type", "kbn-xsrf", "kbn-version"], supports_credentials="*" not in origins,
         max_age=600, intercept_exceptions=False)


@blueprint.post(REPORT_PATH)
def report() -> ResponseReturnValue:
    """Validate a report and add it to the aggregates (the equivalent of Kibana's storeUiReport)."""
    state = get_state()
    settings = state.settings
    check_xsrf()
    check_media_type()
    dry_run = _flag("dry_run")
    pool = state.pool
    client, limited = limits.request_client(settings)  # address or IPv6 /64; proxies and exemptions
    now = state.clock()
    if limited:  # per-client abuse limits, shared by every worker (limits.py)
        try:
            with pool.connection() as db:
                limits.check_rate(db, client, now, int(settings[limits.RATE_SETTING]))
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"Storage is unavailable ({exc}); the report was not stored. Retry later.") from exc
    raw = read_body(int(settings["USAGE_MAX_BODY_BYTES"]))
    parsed = parse_report(raw, Limits.from_settings(settings))
    if dry_run:
        return jsonify(status="ok", dry_run=True)
    key_limit = int(settings[limits.KEYS_SETTING]) if limited else 0
    check = (lambda conn: limits.check_new_keys(conn, parsed, client, now, key_limit)) if key_limit > 0 else None
    try:
        with pool.connection() as db:
            stored = store_report(db, parsed, now, check)
    except sqlite3.Error as exc:  # locked past the busy timeout, read-only, corrupt, disk full...
        raise StorageUnavailable(f"Storage is unavailable ({exc}); the report was not stored. Retry later.") from exc
    if not stored:
        return jsonify(status="ok", duplicate=True)
    return jsonify(status="ok")


def allowed_origins(app: Flask) -> list[str]:
    """``USAGE_ALLOWED_ORIGINS`` normalised (a list, or a comma-separated string in app.config)."""
    value = get_state(app).settings.get("USAGE_ALLOWED_ORIGINS") or []
    if isinstance(value, str):
        value = value.split(",")
    return [_origin(origin) for origin in value if origin.strip()]


def check_xsrf() -> None:
    """Kibana's rule (a ``kbn-xsrf`` or ``kbn-version`` header), plus same or allow-listed ``Origin``.

    A cross-site page cannot add a custom header without a CORS preflight that only
    allow-listed origins pass, and browsers always send ``Origin`` on a cross-site POST.
    """
    headers = request.headers
    if "kbn-xsrf" in headers or "kbn-version" in headers:
        return
    origin = headers.get("Origin")
    if origin:
        origin = _origin(origin)
        if origin == _origin(request.host_url):
            return
        allowed = allowed_origins(current_app)
        if origin in allowed or "*" in allowed:
            return
    raise BadRequest(XSRF_MESSAGE)


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

