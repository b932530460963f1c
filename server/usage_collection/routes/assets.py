"""Placeholder blueprint: being built (see the issue that owns routes/assets.py)."""

from flask import Blueprint

blueprint = Blueprint("usage_assets", __name__)
