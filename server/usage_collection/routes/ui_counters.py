"""Placeholder blueprint: being built (see the issue that owns routes/ui_counters.py)."""

from flask import Blueprint

blueprint = Blueprint("usage_ui_counters", __name__)
