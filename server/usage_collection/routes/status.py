"""``GET /api/status``: a cheap liveness answer for load balancers and the test harness.

``green`` (200) when the database answers, ``red`` with 503 and the reason when it does not
(a corrupt file, an unreachable PostgreSQL), so a load balancer takes the host out.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from ..state import get_state
from ..version import __version__

blueprint = Blueprint("usage_status", __name__)


@blueprint.get("/api/status")
def status() -> ResponseReturnValue:
    state = get_state()
    problem = state.storage.health()
    body = {"name": state.settings.service_name, "uuid": state.instance_uuid,
            "version": __version__, "status": "green" if problem is None else "red"}
    if problem is not None:
        body["reason"] = f"database: {problem}"
        return jsonify(body), 503
    return jsonify(body)
