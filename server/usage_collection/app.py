"""The standalone application: ``create_app(config)``, used by the CLI and the tests."""

from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from .extension import UsageCollection


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app with usage collection mounted; ``config`` overrides USAGE_* settings."""
    app = Flask("usage_collection")
    app.config.update(config or {})
    UsageCollection(app)
    return app
