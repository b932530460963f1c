"""The Flask extension: ``UsageCollection(app)`` or ``usage.init_app(app)``.

Per-app state lives in ``app.extensions["usage_collection"]`` (a ``UsageState``, state.py),
with the app's ``Storage`` (SQLite or PostgreSQL, ``storage/``), never a module global.

The extension object owns the collector set and the server usage counters, so both can be
used before ``init_app`` (the factory pattern: collectors registered and counters created
at import time, as Kibana plugins do in ``setup``); increments made before then are kept
and written once the app's database is known. Background upkeep (the counters flush and
the rollups) runs in daemon threads started lazily and stopped by ``UsageState.close()``.

The routes and admin pages are mounted by ``init_app`` (imported there, not at module level:
they import ``state``, and ``state`` nothing of theirs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from flask import Flask, current_app, has_app_context

from .collectors import Collector, CollectorSet, FetchContext, builtin_collectors
from .collectors import make_stats_collector as _make_stats_collector
from .collectors import make_usage_collector as _make_usage_collector
from .collectors.schema import Schema
from .data_tasks import DATA_TASKS_TYPE, DataTask, DataTasks
from .errors import register_error_handlers
from .request_metrics import RequestMetrics
from .settings import load_settings
from .state import EXTENSION_KEY, Clock, UsageState, get_db, get_state, get_storage, utc_now
from .storage import Caps, IntakeCaps, StorageError, open_storage
from .usage_counters import UsageCounter, UsageCounters

__all__ = ["EXTENSION_KEY", "UsageCollection", "UsageState", "get_db", "get_state", "get_storage", "utc_now"]


class UsageCollection:
    """Usage collection for a Flask app: the report receiver, collectors, stats and telemetry."""

    def __init__(self, app: Flask | None = None, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or utc_now
        self.collector_set = CollectorSet()
        self.usage_counters = UsageCounters(self._now)  # the first app's; others get their own (for_storage)
        self.usage_counters.router = self._current_counters
        self.data_tasks = DataTasks()
        for collector in builtin_collectors():
            self.register_collector(collector)
        if app is not None:
            self.init_app(app)

    def _now(self) -> datetime:
        return self.clock()

    def init_app(self, app: Flask) -> None:
        overrides = {key: value for key, value in app.config.items() if key.startswith("USAGE_")}
        settings = load_settings(overrides)
        app.config.update(settings)  # parsed values, for apps that read app.config["USAGE_*"]
        storage = open_storage(settings.db)
        storage.caps = Caps(new_names_per_day=settings.max_new_names_per_day,
                            user_agents_per_key=settings.max_user_agents_per_key,
                            report_ids=settings.max_report_ids)
        try:
            storage.migrate()
            instance_uuid = storage.instance_uuid()
            self.data_tasks.store_schedules(storage, self.clock())
        except StorageError:
            storage.close()
            raise
        counters = self.usage_counters.for_storage(storage, settings.counters_flush_s)
        state = UsageState(settings=settings, clock=self.clock, instance_uuid=instance_uuid, storage=storage,
                           intake_caps=IntakeCaps(settings.intake_max_per_instance_per_day,
                                                  settings.intake_max_per_client_per_day,
                                                  settings.intake_max_total_bytes),
                           collector_set=self.collector_set, usage_counters=counters,
                           data_tasks=self.data_tasks)
        state.scheduled_tasks.update(task.name for task in self.data_tasks.tasks)  # stored above
        app.extensions[EXTENSION_KEY] = state
        # Every request of the app counted for /api/stats (request_metrics.py), in this process.
        metrics = RequestMetrics(app.wsgi_app)
        app.wsgi_app = metrics  # type: ignore[method-assign]
        state.request_metrics = metrics
        app.before_request(state.start_background)
        register_error_handlers(app, settings)
        from .admin import register_admin
        from .routes import register_routes

        register_routes(app)
        register_admin(app)

    # Collectors (Kibana's usageCollection.makeUsageCollector / registerCollector)

    def make_usage_collector(self, *, type: str | None = None, schema: Schema | None = None,
                             fetch: Callable[[FetchContext], Any] | None = None,
                             is_ready: Callable[[], bool] | None = None) -> Collector:
        """A usage collector (not yet registered): its output appears under ``usage.<type>``."""
        return _make_usage_collector(type=type, schema=schema, fetch=fetch, is_ready=is_ready)

    def make_stats_collector(self, *, type: str | None = None, fetch: Callable[[FetchContext], Any] | None = None,
                             schema: Schema | None = None, is_ready: Callable[[], bool] | None = None) -> Collector:
        """A stats collector: fetched by ``bulk_fetch()``, not listed under ``usage``."""
        return _make_stats_collector(type=type, fetch=fetch, schema=schema, is_ready=is_ready)

    def register_collector(self, collector: Collector) -> None:
        """Add a collector; raises ``Usage collector's type "<type>" is duplicated.`` on a second one."""
        self.collector_set.register_collector(collector)

    def get_collector_set(self) -> CollectorSet:
        return self.collector_set

    def bulk_fetch(self, *, only_usage: bool = False, app: Flask | None = None) -> list[dict[str, Any]]:
        """Fetch every ready collector now, for ``app`` (default: the current app)."""
        state = self._state(app)
        with state.fetch_context() as context:
            return state.collector_set.bulk_fetch(context, only_usage=only_usage,
                                                  wait_s=state.settings.collector_wait_s)

    # Data telemetry tasks (the APM plugin's "Data Telemetry"; data_tasks.py)

    def register_data_task(self, name: str, interval_s: float, run: Callable[[FetchContext], Any], *,
                           schema: Schema) -> DataTask:
        """Run ``run(context)`` every ``interval_s`` seconds (once per interval across every process
        and host sharing the database), save its result, and serve it as usage collector ``name``.

        ``schema`` describes the result, as for ``make_usage_collector``. Each task's ``took_ms``
        and last error appear in the ``data_tasks`` collector."""
        task = self.data_tasks.build(name, interval_s, run, schema)
        self.data_tasks.check_new(name)
        self.register_collector(task.collector)  # a name taken by another collector raises here
        self.data_tasks.add(task)
        if self.collector_set.get_collector_by_type(DATA_TASKS_TYPE) is None:
            self.register_collector(self.data_tasks.status_collector())
        return task  # each app stores its schedule before its next run (UsageState.run_data_tasks)

    def bulk_usage_fetch(self, app: Flask | None = None) -> list[dict[str, Any]]:
        """Only the usage collectors, as OpenSearch Dashboards' ``bulkUsageFetch``: ``bulk_fetch(only_usage=True)``."""
        return self.bulk_fetch(only_usage=True, app=app)

    # Server usage counters (Kibana's usageCollection.createUsageCounter)

    def create_usage_counter(self, domain_id: str, retention_period_days: int | None = None) -> UsageCounter:
        """A counter set for ``domain_id``; a second one raises ``Usage counter set "<id>" already exists.``"""
        return self.usage_counters.create_usage_counter(domain_id, retention_period_days)

    def get_usage_counter_by_domain_id(self, domain_id: str) -> UsageCounter | None:
        return self.usage_counters.get_usage_counter_by_domain_id(domain_id)

    def _state(self, app: Flask | None) -> UsageState:
        """``app``'s state, or the current app's. The extension keeps no app (Flask's extension
        guide): one ``UsageCollection`` may serve several apps, each with its own database."""
        if app is None and not has_app_context():
            raise RuntimeError("no app: pass app=..., or call this inside `with app.app_context():` "
                               "(after UsageCollection.init_app(app))")
        state = (app or current_app).extensions.get(EXTENSION_KEY)
        if state is None:
            raise RuntimeError("UsageCollection.init_app(app) has not been called yet for this app")
        return state

    def _current_counters(self) -> UsageCounters | None:
        """The usage counters of the app handling this request (or app context), when it is one
        of this extension's apps; None outside any (the counter's first app gets it)."""
        if not has_app_context():
            return None
        state = current_app.extensions.get(EXTENSION_KEY)
        counters = state.usage_counters if state is not None else None
        if counters is None or not counters.shares_counters_with(self.usage_counters):
            return None
        return counters
