"""The operator's pages: the telemetry settings page and the dashboard, with what they show.

- ``settings_page``: ``GET /usage/settings`` (Kibana's Advanced Settings > Usage collection);
- ``dashboard``: ``GET /usage/dashboard`` and its data, Chart.js and the pages' own files;
- ``dashboard_data``: what the dashboard charts, read through ``Storage``;
- ``pages``: what both pages share (template values, the collectors described).

Who may open them is ``access.require_admin_access`` (the same rule as ``/api/stats``, plus
HTTP Basic for browsers). Telemetry itself (opt-in, sender, intake) is ``telemetry/``.
"""

from __future__ import annotations

from flask import Flask


def register_admin(app: Flask) -> None:
    """Mount the admin pages' blueprints (``extension.init_app`` does, after the routes)."""
    from . import dashboard, settings_page

    for module in (dashboard, settings_page):
        app.register_blueprint(module.blueprint)
