"""HTTP routes, one blueprint per concern; ``register_routes`` mounts them all."""

from __future__ import annotations

from flask import Flask


def register_routes(app: Flask) -> None:
    from . import assets, dashboard, pyodide_assets, settings_page, stats, status, telemetry, ui_counters, ui_metric

    for module in (status, ui_counters, ui_metric, stats, assets, pyodide_assets, telemetry, dashboard, settings_page):
        app.register_blueprint(module.blueprint)
