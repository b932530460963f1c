"""What the admin pages (settings, dashboard) share: the notice, the browser sender, the
collectors described. Who may open them is ``access.require_admin_access``.

The notice ("Help improve ...") is only ever rendered into these admin pages: pages that
embed ``usage.js`` are seen by every visitor, and a visitor must never be asked to decide
for the deployment.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for

from ..collectors.schema import DYNAMIC_KEY, node_kind
from ..routes.assets import admin_bundle_url, bundle_url
from ..state import get_db, get_state
from ..telemetry.service import telemetry_config
from ..telemetry.state import read_state, resolve_opt_in, should_show_notice

ASSET_FOLDERS = ("telemetry", "dashboard")


def asset_url(folder: str, filename: str) -> str:
    return url_for("usage_dashboard.admin_asset", folder=folder, filename=filename)


def brython_urls() -> dict[str, str] | None:
    """The Brython runtime, our bundle and the admin pages' own modules (the telemetry
    sender), as served by routes/assets.py (None if unavailable)."""
    try:
        assets = get_state().brython_assets
        if assets is None:
            raise LookupError("the Brython assets were not built")
        return {"runtime": url_for("usage_assets.runtime", version=assets.runtime_version), "bundle": bundle_url(),
                "admin_bundle": admin_bundle_url()}
    except Exception:  # noqa: BLE001 - a page without the sender still works
        current_app.logger.warning("telemetry: the Brython assets are unavailable; no browser sender on admin pages")
        return None


def admin_context(active: str) -> dict[str, Any]:
    """Template values every admin page needs."""
    state = get_state()
    config = telemetry_config()
    stored = read_state(get_db())
    opted_in = resolve_opt_in(config, stored)
    browser_sender = config.send_from == "browser" and bool(config.telemetry_url)
    return {
        "active": active,
        "service_name": state.settings.service_name,
        "instance_uuid": state.instance_uuid,
        "config": config,
        "stored": stored,
        "opted_in": opted_in,
        "show_notice": should_show_notice(config, stored),
        "brython": brython_urls() if browser_sender else None,
        "asset_url": asset_url,
        "page_config": {"xsrf": "usage-admin", "root": request.script_root, "active": active},
    }


def describe_schema(schema: Any, path: str = "") -> list[dict[str, str]]:
    """A collector schema as rows ``{path, type, description}``, for people to read."""
    rows: list[dict[str, str]] = []
    meta = schema.get("_meta", {}) if isinstance(schema, dict) else {}
    kind = node_kind(schema)
    if kind == "object":
        if path and meta.get("description"):
            rows.append({"path": path, "type": "object", "description": meta["description"]})
        for key, child in schema.items():
            if key == "_meta":
                continue
            name = "<any key>" if key == DYNAMIC_KEY else key
            rows.extend(describe_schema(child, f"{path}.{name}" if path else name))
    elif kind == "array":
        items = schema["items"]
        if node_kind(items) == "object":
            if meta.get("description"):
                rows.append({"path": path + "[]", "type": "array", "description": meta["description"]})
            rows.extend(describe_schema(items, path + "[]"))
        else:
            item_meta = items.get("_meta", {})
            rows.append({"path": path + "[]", "type": f"array of {items.get('type')}",
                         "description": meta.get("description") or item_meta.get("description", "")})
    else:
        rows.append({"path": path, "type": str(schema.get("type")), "description": meta.get("description", "")})
    return rows


def describe_collectors() -> list[dict[str, Any]]:
    """Every collector whose output is in the payload's ``usage``, with its fields, by type."""
    collector_set = get_state().collector_set
    described = []
    for type_name, schema in sorted(collector_set.schemas().items()):
        collector = collector_set.get_collector_by_type(type_name)
        if collector is not None and collector.kind != "usage":
            continue
        described.append({"type": type_name, "fields": describe_schema(schema)})
    return described
