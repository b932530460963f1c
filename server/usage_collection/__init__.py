"""usage_collection: the Flask side of usage-collection (Kibana's usage_collection + telemetry).

    from usage_collection import UsageCollection, create_app

    usage = UsageCollection(app)                       # or usage.init_app(app) in a factory
    usage.register_collector(usage.make_usage_collector(type=..., schema=..., fetch=...))
    counter = usage.create_usage_counter("my_plugin")
    counter.increment_counter(counter_name="export_csv")
"""

from .access import admin_required, require_admin
from .app import create_app
from .collectors import (
    DYNAMIC_KEY,
    Collector,
    CollectorSet,
    FetchContext,
    SchemaError,
    SchemaMismatch,
    make_stats_collector,
    make_usage_collector,
)
from .extension import UsageCollection, UsageState, get_db, get_state
from .stats_payload import build_stats_payload
from .usage_counters import UsageCounter, UsageCounters

__all__ = [
    "DYNAMIC_KEY",
    "Collector",
    "CollectorSet",
    "FetchContext",
    "SchemaError",
    "SchemaMismatch",
    "UsageCollection",
    "UsageCounter",
    "UsageCounters",
    "UsageState",
    "admin_required",
    "build_stats_payload",
    "create_app",
    "get_db",
    "get_state",
    "make_stats_collector",
    "make_usage_collector",
    "require_admin",
]
