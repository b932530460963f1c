"""usage_collection: the Flask side of usage-collection (Kibana's usage_collection + telemetry)."""

from .app import create_app
from .extension import UsageCollection, UsageState, get_db, get_state

__all__ = ["UsageCollection", "UsageState", "create_app", "get_db", "get_state"]
