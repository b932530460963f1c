"""Placeholder blueprint: being built (see the issue that owns routes/stats.py)."""

from flask import Blueprint

blueprint = Blueprint("usage_stats", __name__)
