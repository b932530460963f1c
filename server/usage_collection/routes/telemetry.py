"""Telemetry routes: the admin's opt-in API (Kibana's ``/api/telemetry/v2/*``) and the intake.

Admin routes (``require_admin``: the ``USAGE_STATS_TOKEN`` bearer, or loopback when no
token is set, like ``/api/stats``; also HTTP Basic with the token as password, for the
admin pages); their writes also need a ``kbn-xsrf`` header or this server's own ``Origin``::

    GET  /api/telemetry/v2/config              the opt-in state and settings, for pages
    POST /api/telemetry/v2/optIn               {"enabled": bool}
    PUT  /api/telemetry/v2/userHasSeenNotice   the admin dismissed the notice
    GET  /api/telemetry/v2/last_reported       {"lastReported": epoch ms | null}
    PUT  /api/telemetry/v2/last_reported       a browser sent the snapshot just now
    POST /api/telemetry/v2/clusters/_stats     {"unencrypted": true} -> [{clusterUuid, stats}]

Public intake (``USAGE_INTAKE_ENABLED``; 404 otherwise), CORS open to every origin so
other deployments' browsers can post, strictly validated and size-limited::

    POST /api/telemetry/v3/intake                 one snapshot's stats
    POST /api/telemetry/v3/intake/opt_in_status   {"cluster_uuid", "opt_in_status"}
"""

from __future__ import annotations

import zlib
from typing import Any, Callable, TypeVar

from flask import Blueprint, Flask, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from ..access import require_admin_access
from ..errors import ApiError, BadRequest
from ..state import get_db, get_state
from ..storage import IntakeRefused
from ..telemetry import intake, state as telemetry_state
from ..telemetry.bodies import parse_body
from ..telemetry.sender import epoch_ms, report_opt_in_status
from ..telemetry.service import build_snapshot, opt_in_status_snapshot, setup_telemetry, telemetry_config
from ..validation import parse_json
from .checks import (BODY_SETTING, JSON_ONLY, XSRF_MESSAGE, check_cross_site, check_media_type, rate_limit,
                     read_body, storage_errors)

blueprint = Blueprint("usage_telemetry", __name__)
T = TypeVar("T")

INTAKE_PATH = "/api/telemetry/v3/intake"
OPT_IN_STATUS_INTAKE_PATH = INTAKE_PATH + "/opt_in_status"
NOT_ALLOWED = "Not allowed to change Opt-in Status."
NOT_CHANGED = "nothing was changed"
JSON_ADVICE = "send application/json."
ENCRYPTION_MESSAGE = ('Encrypted snapshots are not supported: usage-collection sends them unencrypted '
                      '(use an https telemetry URL). Post {"unencrypted": true}.')
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Content-Encoding, X-Usage-Instance-ID, X-Usage-Version",
    "Access-Control-Max-Age": "600",
}


@blueprint.record_once
def _setup(setup_state: BlueprintSetupState) -> None:
    app: Flask = setup_state.app
    setup_telemetry(app)


def check_admin_write() -> None:
    """An admin write: authorised, and not forged by another site (kbn-xsrf or our own Origin).

    Stricter than the report route: ``USAGE_ALLOWED_ORIGINS`` (sites allowed to post
    *reports*) are not trusted to change telemetry settings.
    """
    require_admin_access()
    check_cross_site(XSRF_MESSAGE, allow_listed=False)


def _body(fields: dict[str, tuple[str, bool]], *, empty_ok: bool = False) -> dict[str, Any]:
    check_media_type(JSON_ONLY, JSON_ADVICE)
    return parse_body(read_body(get_state().settings.max_body_bytes, BODY_SETTING), fields, empty_ok=empty_ok)


def read_encoded(limit: int, setting: str) -> bytes:
    """The body, gunzipped when sent with ``Content-Encoding: gzip`` (how senders fit a large
    snapshot under the limit); ``limit`` applies to the bytes sent and to the bytes they
    unpack to, so a gzip bomb gets 413 after at most limit + 1 bytes of output."""
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", "gzip", "x-gzip"):
        raise ApiError(415, f"Unsupported Content-Encoding {encoding!r}: send the body as is or with gzip.")
    raw = read_body(limit, setting)
    if encoding == "identity":
        return raw
    unpacker = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing only
    try:
        body = unpacker.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"[request body]: Content-Encoding is gzip but the body is not gzip data ({exc}).") from None
    if len(body) > limit:
        raise ApiError(413, f"Request body unpacks to more than the limit of {limit} bytes ({setting}).")
    if not unpacker.eof or unpacker.unused_data:
        raise BadRequest("[request body]: the gzip data is truncated or followed by other data.")
    return body


def config_json() -> dict[str, Any]:
    """Kibana's telemetry config as the browser sees it, plus the stored state it needs."""
    state = get_state()
    config = telemetry_config()
    stored = telemetry_state.read_state(get_db())
    opted_in = telemetry_state.resolve_opt_in(config, stored)
    return {
        "optIn": opted_in,
        "allowChangingOptInStatus": config.allow_changing and not config.is_fixed,
        "sendUsageFrom": config.send_from,
        "telemetryUrl": config.telemetry_url,
        "optInStatusUrl": config.opt_in_status_url,
        "banner": config.banner,
        "userHasSeenNotice": telemetry_state.has_seen_notice(config, stored, opted_in),
        "telemetryNotifyUserAboutOptInDefault": telemetry_state.notify_about_opt_in_default(config, stored, opted_in),
        "showNotice": telemetry_state.should_show_notice(config, stored),
        "lastReported": stored.last_reported,
        "reportFailureCount": stored.report_failure_count,
        "version": config.version,
        "instanceUuid": state.instance_uuid,
        "intakeEnabled": state.settings.intake_enabled,
    }


def _storage(action: Callable[[], T]) -> T:
    """``action()``, a 503 if the database fails (``checks.storage_errors``)."""
    with storage_errors(NOT_CHANGED):
        return action()


@blueprint.get("/api/telemetry/v2/config")
def get_config() -> ResponseReturnValue:
    require_admin_access()
    return jsonify(config_json())


@blueprint.post("/api/telemetry/v2/optIn")
def opt_in() -> ResponseReturnValue:
    """Kibana's optIn route: 400 when the settings fix the choice, else store it and report it."""
    check_admin_write()
    enabled = _body({"enabled": ("boolean", True)})["enabled"]
    config = telemetry_config()
    if not config.allow_changing:
        raise BadRequest(NOT_ALLOWED)
    state = get_state()
    _storage(lambda: telemetry_state.set_opt_in(get_db(), enabled, config.version))
    if config.opt_in_status_url:
        thread = report_opt_in_status(config.opt_in_status_url, state.instance_uuid, enabled, config.version,
                                      state.settings.telemetry_timeout_s)
        state.opt_in_report = thread
    return jsonify(opt_in_status_snapshot(state.instance_uuid, enabled))


@blueprint.put("/api/telemetry/v2/userHasSeenNotice")
def user_has_seen_notice() -> ResponseReturnValue:
    check_admin_write()
    _body({}, empty_ok=True)
    stored = _storage(lambda: telemetry_state.mark_notice_seen(get_db(), telemetry_config().version))
    return jsonify(stored.as_json())


@blueprint.get("/api/telemetry/v2/last_reported")
def get_last_reported() -> ResponseReturnValue:
    require_admin_access()
    return jsonify({"lastReported": telemetry_state.read_state(get_db()).last_reported})


@blueprint.put("/api/telemetry/v2/last_reported")
def put_last_reported() -> ResponseReturnValue:
    check_admin_write()
    _body({}, empty_ok=True)
    now_ms = epoch_ms(get_state().clock())
    stored = _storage(lambda: telemetry_state.set_last_reported(get_db(), now_ms))
    return jsonify({"lastReported": stored.last_reported})


@blueprint.post("/api/telemetry/v2/clusters/_stats")
def snapshot() -> ResponseReturnValue:
    """The snapshot a sender posts: ``[{clusterUuid, stats}]``, never encrypted here."""
    check_admin_write()
    body = _body({"unencrypted": ("boolean", False), "refreshCache": ("boolean", False)}, empty_ok=True)
    if body.get("unencrypted") is not True:
        raise BadRequest(ENCRYPTION_MESSAGE)
    return jsonify(build_snapshot(get_state(), get_db()))


# -- the intake ----------------------------------------------------------------------------

def _intake_body() -> tuple[Any, str | None, str]:
    """The checks of both intake routes: enabled, rate, media type, size; (body, instance header, client)."""
    state = get_state()
    if not state.settings.intake_enabled:
        raise ApiError(404, "This server is not a telemetry intake (USAGE_INTAKE_ENABLED is off).")
    client, _ = rate_limit(state, state.clock(), NOT_CHANGED)  # the report route's per-minute limit, shared
    check_media_type(JSON_ONLY, JSON_ADVICE)
    raw = read_encoded(state.settings.intake_max_bytes, "USAGE_INTAKE_MAX_BYTES")
    if not raw.strip():
        raise BadRequest("[request body]: expected a plain object value, but found [undefined] instead.")
    return parse_json(raw), request.headers.get(intake.INSTANCE_HEADER), client


@blueprint.route(INTAKE_PATH, methods=["POST", "OPTIONS"])
def intake_snapshot() -> ResponseReturnValue:
    """Store one snapshot from another deployment (Kibana's ``/v3/send/kibana-snapshot``)."""
    if request.method == "OPTIONS":
        return Response(status=204)
    body, header, client = _intake_body()  # client: an address, or an IPv6 /64, as the rate limit counts
    instance, payload = intake.validate_snapshot(body, header)
    state = get_state()
    try:
        row = _storage(lambda: intake.store_snapshot(get_db(), instance, payload, state.clock(), client,
                                                     state.intake_caps))
    except IntakeRefused as exc:  # a per-day cap: try tomorrow; the total cap: 507 until retention frees room
        raise ApiError(507 if exc.full else 429, f"Snapshot refused: {exc}",
                       None if exc.full else {"Retry-After": "3600"}) from None
    return jsonify(status="ok", id=row)


@blueprint.route(OPT_IN_STATUS_INTAKE_PATH, methods=["POST", "OPTIONS"])
def intake_opt_in_status() -> ResponseReturnValue:
    """Store an opt-in change from another deployment (Kibana's ``kibana-opt_in_status`` channel)."""
    if request.method == "OPTIONS":
        return Response(status=204)
    body, header, _ = _intake_body()
    instance, opted_in = intake.validate_opt_in_status(body, header)
    row = _storage(lambda: intake.store_opt_in_status(get_db(), instance, opted_in, get_state().clock()))
    return jsonify(status="ok", id=row)


@blueprint.after_app_request
def _intake_cors(response: Response) -> Response:
    """CORS on every intake answer, errors included, so a browser sender can read a 400."""
    if request.path in (INTAKE_PATH, OPT_IN_STATUS_INTAKE_PATH):
        response.headers.update(CORS_HEADERS)
    return response
