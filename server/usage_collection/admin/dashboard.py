"""The dashboard (Kibana's "Viewing", for one deployment) and the admin pages' static files.

    GET /usage/dashboard                                 the page (admin)
    GET /usage/dashboard/data?days=30                    what it charts, as JSON (admin)
    GET /usage/vendor/chart.js/<version>/chart.umd.min.js  Chart.js from node_modules, cached a year
    GET /usage/admin-static/<telemetry|dashboard>/<file>   the pages' own CSS, JS and Brython adapter

Chart.js is installed by ``scripts/setup`` (npm) into ``USAGE_NODE_MODULES`` and never
committed; its version is in the URL, so a new version is a new URL.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, jsonify, render_template, request, send_from_directory
from flask.typing import ResponseReturnValue

from ..access import require_admin_access
from ..routes.assets import IMMUTABLE
from ..errors import BadRequest
from ..security_headers import protect
from ..state import get_db, get_state
from .dashboard_data import DEFAULT_DAYS, MAX_DAYS, dashboard_data
from .pages import ASSET_FOLDERS, admin_context

blueprint = Blueprint("usage_dashboard", __name__, template_folder="../templates")
protect(blueprint)  # no framing, sniffing or referrer; a CSP (security_headers.py)

CHART_JS_FILE = "chart.umd.min.js"


@lru_cache(maxsize=8)
def chart_js_version(node_modules: str) -> str | None:
    """The installed Chart.js version, or None when ``npm ci`` has not run."""
    package = Path(node_modules) / "chart.js" / "package.json"
    try:
        return str(json.loads(package.read_text(encoding="utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def _days() -> int:
    value = request.args.get("days")
    if value is None:
        return DEFAULT_DAYS
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_DAYS:  # not '²'
        raise BadRequest(f"[request query.days]: expected a whole number from 1 to {MAX_DAYS} but got {value!r}")
    return int(value)


@blueprint.get("/usage/dashboard")
def dashboard() -> ResponseReturnValue:
    require_admin_access(page=True)
    settings = get_state().settings
    version = chart_js_version(settings.node_modules)
    response = Response(render_template("usage_collection/dashboard.html", chart_js_version=version,
                                        intake_enabled=settings.intake_enabled,
                                        **admin_context("dashboard")))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/usage/dashboard/data")
def dashboard_json() -> ResponseReturnValue:
    require_admin_access()
    state = get_state()
    data = dashboard_data(get_db(), state.clock(), _days(), state.settings.intake_enabled)
    response = jsonify(data)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/usage/vendor/chart.js/<version>/" + CHART_JS_FILE)
def chart_js(version: str) -> ResponseReturnValue:
    node_modules = get_state().settings.node_modules
    installed = chart_js_version(node_modules)
    if installed is None:
        abort(404, description="Chart.js is not installed: run scripts/setup (npm ci) first.")
    if version != installed:
        abort(404, description=f"This server has Chart.js {installed}, not {version}.")
    response = send_from_directory(Path(node_modules) / "chart.js" / "dist", CHART_JS_FILE, max_age=31536000)
    response.headers["Cache-Control"] = IMMUTABLE
    return response


@blueprint.get("/usage/admin-static/<folder>/<filename>")
def admin_asset(folder: str, filename: str) -> ResponseReturnValue:
    """The admin pages' own files (public: code, not data); revalidated with an ETag."""
    if folder not in ASSET_FOLDERS:
        abort(404, description=f"No admin asset folder {folder!r}.")
    response = send_from_directory(Path(get_state().settings.static_dir) / folder, filename, max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    if filename.endswith(".py"):
        response.mimetype = "text/x-python"
    return response
