"""Collectors: Kibana's ``Collector`` / ``CollectorSet`` and the built-in collectors.

    from usage_collection.collectors import CollectorSet, make_usage_collector
"""

from .builtin import builtin_collectors
from .collector import Collector, FetchContext, always_ready, make_stats_collector, make_usage_collector
from .collector_set import CollectorSet
from .collector_stats import USAGE_COLLECTOR_STATS_TYPE
from .schema import DYNAMIC_KEY, SchemaError, SchemaMismatch, collectors_mapping, to_mapping, validate_schema
from .validator import check

__all__ = [
    "DYNAMIC_KEY",
    "USAGE_COLLECTOR_STATS_TYPE",
    "Collector",
    "CollectorSet",
    "FetchContext",
    "SchemaError",
    "SchemaMismatch",
    "always_ready",
    "builtin_collectors",
    "check",
    "collectors_mapping",
    "make_stats_collector",
    "make_usage_collector",
    "to_mapping",
    "validate_schema",
]
