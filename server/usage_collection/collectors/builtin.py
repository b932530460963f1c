"""The built-in collectors, registered through the same ``register_collector`` users call.

Like Datasette's ``DEFAULT_PLUGINS``: nothing here is special-cased by the collector set,
so a built-in can be read, replaced in a fork, or imitated by a user's own collector.
"""

from __future__ import annotations

from .application_usage import application_usage_collector
from .collector import Collector
from .ui_counters import ui_counters_collector
from .ui_metric import ui_metric_collector
from .usage_counters import usage_counters_collector

BUILTIN_COLLECTORS = (ui_metric_collector, ui_counters_collector, usage_counters_collector,
                      application_usage_collector)


def builtin_collectors() -> list[Collector]:
    """A fresh instance of every built-in collector, in registration order."""
    return [make() for make in BUILTIN_COLLECTORS]
