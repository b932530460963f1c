"""``GET /api/status``: a cheap liveness answer for load balancers and the test harness."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from ..extension import get_state
from ..version import __version__

blueprint = Blueprint("usage_status", __name__)


@blueprint.get("/api/status")
def status() -> ResponseReturnValue:
    state = get_state()
    return jsonify({"name": state.settings["USAGE_SERVICE_NAME"], "uuid": state.instance_uuid,
                    "version": __version__, "status": "green"})
