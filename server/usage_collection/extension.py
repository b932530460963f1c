"""The Flask extension: ``UsageCollection(app)`` or ``usage.init_app(app)``.

Per-app state lives in ``app.extensions["usage_collection"]`` (a ``UsageState``); the
database connection is taken lazily from the app's pool once per request and given back at
teardown, never a module global.

The extension object owns the collector set and the server usage counters, so both can be
used before ``init_app`` (the factory pattern: collectors registered and counters created
at import time, as Kibana plugins do in ``setup``); increments made before then are kept
and written once the app's database is known. Background upkeep (the counters flush and
the rollups) runs in daemon threads started lazily and stopped by ``UsageState.close()``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import sqlite_utils
from flask import Flask, current_app, g, has_app_context, has_request_context

from . import storage
from .background import PeriodicTask
from .collectors import Collector, CollectorSet, FetchContext, builtin_collectors
from .collectors import make_stats_collector as _make_stats_collector
from .collectors import make_usage_collector as _make_usage_collector
from .collectors.schema import Schema
from .data_tasks import DATA_TASKS_TYPE, DataTask, DataTasks
from .errors import register_error_handlers
from .request_metrics import RequestMetrics
from .settings import load_settings
from .stats_payload import REQUEST_METRICS_KEY
from .storage import data_tasks as data_task_storage
from .storage.pool import ConnectionPool
from .storage.rollups import RollupSummary, run_rollups
from .usage_counters import UsageCounter, UsageCounters

Clock = Callable[[], datetime]

EXTENSION_KEY = "usage_collection"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class UsageState:
    """Everything one app's usage collection holds; reachable as ``app.extensions["usage_collection"]``."""

    settings: dict[str, Any]
    clock: Clock
    instance_uuid: str
    extras: dict[str, Any] = field(default_factory=dict)
    collector_set: CollectorSet = field(default_factory=CollectorSet)
    usage_counters: UsageCounters | None = None
    rollup_task: PeriodicTask | None = None
    data_tasks: DataTasks = field(default_factory=DataTasks)
    data_task_thread: PeriodicTask | None = None
    pool: ConnectionPool = field(init=False, repr=False)
    _background_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = False

    def __post_init__(self) -> None:
        # Connections kept open between requests: opening one per request cost more than
        # storing a report (storage/pool.py, bench/receiver.py).
        self.pool = ConnectionPool(self.connect)

    @property
    def db_path(self) -> str:
        return str(self.settings["USAGE_DB"])

    def connect(self) -> sqlite_utils.Database:
        return storage.connect(self.db_path)

    def fetch_context(self, db: sqlite_utils.Database) -> FetchContext:
        """What collectors' ``fetch`` receive: the database, the clock's now, the settings."""
        return FetchContext(db, self.clock(), self.settings)

    def bulk_fetch(self, db: sqlite_utils.Database, *, only_usage: bool = False) -> list[dict[str, Any]]:
        return self.collector_set.bulk_fetch(self.fetch_context(db), only_usage=only_usage,
                                             wait_s=float(self.settings["USAGE_COLLECTOR_WAIT_S"]))

    def run_rollups(self) -> RollupSummary:
        """Rollups and retention now, on a connection of their own."""
        domains = self.usage_counters.retention_by_domain() if self.usage_counters else {}
        db = self.connect()
        try:
            return run_rollups(db, self.clock(), self.settings, domains)
        finally:
            db.conn.close()

    def run_data_tasks(self) -> list[str]:
        """Run every data task that is due and that this process wins the claim for; their names."""
        db = self.connect()
        try:
            return self.data_tasks.run_due(db, self.clock, self.settings)
        finally:
            db.conn.close()

    def start_background(self) -> None:
        """Start the data-task thread (when tasks exist) and the rollup thread (runs now, then
        every USAGE_ROLLUP_INTERVAL_S; 0 = never)."""
        if self.data_task_thread is None and self.data_tasks.tasks and not self._closed:
            with self._background_lock:
                if self.data_task_thread is None and not self._closed:
                    self.data_task_thread = PeriodicTask("data-tasks", self.data_tasks.tick_s(), self.run_data_tasks,
                                                         run_at_start=True)
                    self.data_task_thread.start()
        if self.rollup_task is not None or self._closed:
            return
        interval = float(self.settings["USAGE_ROLLUP_INTERVAL_S"])
        if interval <= 0:
            return
        with self._background_lock:
            if self.rollup_task is None and not self._closed:
                self.rollup_task = PeriodicTask("rollups", interval, self.run_rollups, run_at_start=True)
                self.rollup_task.start()

    def close(self) -> None:
        """Stop background threads, write buffered usage counters, and close every ``extras``
        value that has a ``close()`` (connection pools, senders). Idempotent."""
        with self._background_lock:
            self._closed = True
            task, self.rollup_task = self.rollup_task, None
            data_thread, self.data_task_thread = self.data_task_thread, None
        for thread in (task, data_thread):
            if thread is not None:
                thread.stop()
        if self.usage_counters is not None:
            self.usage_counters.close()
        self.pool.close()
        for name, extra in list(self.extras.items()):
            closer = getattr(extra, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:  # noqa: BLE001 - one failing clean-up must not skip the others
                    logging.getLogger("usage_collection").exception("closing %s failed", name)


def get_state(app: Flask | None = None) -> UsageState:
    return (app or current_app).extensions[EXTENSION_KEY]


def get_db() -> sqlite_utils.Database:
    """This request's database connection, taken from the app's pool on first use."""
    if "usage_db" not in g:
        g.usage_db = get_state().pool.acquire()
    return g.usage_db


def _release_db(exc: BaseException | None) -> None:
    db = g.pop("usage_db", None)
    if db is not None:
        get_state().pool.release(db, broken=isinstance(exc, sqlite3.Error))


class UsageCollection:
    """Usage collection for a Flask app: the report receiver, collectors, stats and telemetry."""

    def __init__(self, app: Flask | None = None, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or utc_now
        self.app: Flask | None = None
        self.collector_set = CollectorSet()
        self.usage_counters = UsageCounters(self._now)
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
        app.config.update(settings)
        db = storage.connect(str(settings["USAGE_DB"]))
        try:
            storage.migrate(db)
            data_task_storage.ensure_schema(db)
            self.data_tasks.store_schedules(db, self.clock())
            instance_uuid = _instance_uuid(db)
        finally:
            db.conn.close()
        self.collector_set.wait_s = float(settings["USAGE_COLLECTOR_WAIT_S"])
        self.usage_counters.bind(str(settings["USAGE_DB"]), float(settings["USAGE_COUNTERS_FLUSH_S"]))
        state = UsageState(settings=settings, clock=self.clock, instance_uuid=instance_uuid,
                           collector_set=self.collector_set, usage_counters=self.usage_counters,
                           data_tasks=self.data_tasks)
        app.extensions[EXTENSION_KEY] = state
        # Every request of the app counted for /api/stats (request_metrics.py), in this process.
        metrics = RequestMetrics(app.wsgi_app)
        app.wsgi_app = metrics  # type: ignore[method-assign]
        state.extras[REQUEST_METRICS_KEY] = metrics
        app.teardown_appcontext(_release_db)
        app.before_request(state.start_background)
        register_error_handlers(app)
        from .routes import register_routes

        register_routes(app)
        self.app = app

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

    def bulk_fetch(self, *, only_usage: bool = False) -> list[dict[str, Any]]:
        """Fetch every ready collector now (this request's connection, or one of its own)."""
        state = self._state()
        if has_request_context():
            return state.bulk_fetch(get_db(), only_usage=only_usage)
        db = state.connect()
        try:
            return state.bulk_fetch(db, only_usage=only_usage)
        finally:
            db.conn.close()

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
        if self.app is not None:  # registered after init_app: store its schedule now
            state = get_state(self.app)
            db = state.connect()
            try:
                data_task_storage.register_task(db, task.name, task.interval_s, state.clock())
            finally:
                db.conn.close()
        return task

    def bulk_usage_fetch(self) -> list[dict[str, Any]]:
        """Only the usage collectors, as OpenSearch Dashboards' ``bulkUsageFetch``: ``bulk_fetch(only_usage=True)``."""
        return self.bulk_fetch(only_usage=True)

    # Server usage counters (Kibana's usageCollection.createUsageCounter)

    def create_usage_counter(self, domain_id: str, retention_period_days: int | None = None) -> UsageCounter:
        """A counter set for ``domain_id``; a second one raises ``Usage counter set "<id>" already exists.``"""
        return self.usage_counters.create_usage_counter(domain_id, retention_period_days)

    def get_usage_counter_by_domain_id(self, domain_id: str) -> UsageCounter | None:
        return self.usage_counters.get_usage_counter_by_domain_id(domain_id)

    def _state(self) -> UsageState:
        if has_app_context() and EXTENSION_KEY in current_app.extensions:
            return get_state()
        if self.app is None:
            raise RuntimeError("UsageCollection.init_app(app) has not been called yet")
        return get_state(self.app)


def _instance_uuid(db: sqlite_utils.Database) -> str:
    """A stable id for this deployment (Kibana's server uuid), created with the database."""
    with storage.transaction(db):
        row = db.conn.execute("SELECT value FROM meta WHERE key = 'instance_uuid'").fetchone()
        if row:
            return row[0]
        value = str(uuid.uuid4())
        db.conn.execute("INSERT INTO meta (key, value) VALUES ('instance_uuid', ?)", [value])
        return value
