"""``GET /usage/settings``: the admin's telemetry settings page (Kibana's Advanced Settings >
Usage collection): the opt-in toggle, what is collected, and the real current snapshot.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue

from ..access import require_admin_access
from ..security_headers import protect
from ..state import get_db, get_state
from ..telemetry.sender import last_failure
from ..telemetry.service import build_snapshot
from .pages import admin_context, describe_collectors

blueprint = Blueprint("usage_settings_page", __name__, template_folder="../templates")
protect(blueprint)  # no framing, sniffing or referrer; a CSP (security_headers.py)


@blueprint.get("/usage/settings")
def settings_page() -> ResponseReturnValue:
    require_admin_access(page=True)
    state = get_state()
    snapshot = build_snapshot(state, get_db())
    response = Response(render_template(
        "usage_collection/settings.html",
        collectors=describe_collectors(),
        example_payload=json.dumps(snapshot[0]["stats"], indent=2, sort_keys=True),
        honor_gpc=state.settings.honor_gpc,
        intake_enabled=state.settings.intake_enabled,
        last_failure=last_failure(get_db()),
        **admin_context("settings")))
    response.headers["Cache-Control"] = "no-store"
    return response
