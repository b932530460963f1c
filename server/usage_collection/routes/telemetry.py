"""Placeholder blueprint: being built (see the issue that owns routes/telemetry.py)."""

from flask import Blueprint

blueprint = Blueprint("usage_telemetry", __name__)
