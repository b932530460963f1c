"""HTTP routes, one blueprint per concern; ``register_routes`` mounts them all (the admin
pages are ``admin/``, mounted by ``admin.register_admin``)."""

from __future__ import annotations

from flask import Flask


def register_routes(app: Flask) -> None:
    from . import assets, pyodide_assets, stats, status, telemetry, ui_counters, ui_metric

    for module in (status, ui_counters, ui_metric, stats, assets, pyodide_assets, telemetry):
        app.register_blueprint(module.blueprint)
