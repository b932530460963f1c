"""One app's usage collection state (``UsageState``) and how code reaches it (``get_state``).

A module of its own, below the routes and the admin pages, so that everything a request
handler needs (settings, ``Storage``, clock, collectors) is importable without importing the
extension, which mounts the routes: that is what kept ``extension`` and ``routes`` in one
import loop. It imports nothing of ``routes`` or ``admin``; the types of what they keep here
(their built assets) are named for type checkers only.

Per-app state lives in ``app.extensions["usage_collection"]``, never on the extension object
nor in a module global, so one ``UsageCollection`` can serve several apps (Flask's extension
guide).
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator

from flask import Flask, current_app

from .background import PeriodicTask
from .collectors import CollectorSet, FetchContext
from .data_tasks import DataTasks
from .group_commit import GroupCommit
from .request_metrics import RequestMetrics
from .rollups import RollupSummary, run_rollups
from .settings import Settings
from .storage import IntakeCaps, Storage
from .usage_counters import UsageCounters

if TYPE_CHECKING:  # built by the modules that serve them; only their types are named here
    from .routes.assets import BrythonAssets
    from .routes.pyodide_assets import PyodideAssets
    from .telemetry.sender import ServerSender
    from .telemetry.state import TelemetryConfig

Clock = Callable[[], datetime]

EXTENSION_KEY = "usage_collection"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class UsageState:
    """Everything one app's usage collection holds; reachable as ``app.extensions["usage_collection"]``."""

    settings: Settings
    clock: Clock
    instance_uuid: str
    storage: Storage
    intake_caps: IntakeCaps = field(default_factory=IntakeCaps)
    collector_set: CollectorSet = field(default_factory=CollectorSet)
    usage_counters: UsageCounters | None = None
    rollup_task: PeriodicTask | None = None
    group_commit: GroupCommit = field(init=False, repr=False)  # reports
    request_counts: GroupCommit = field(init=False, repr=False)  # the rate limit's counts
    data_tasks: DataTasks = field(default_factory=DataTasks)
    data_task_thread: PeriodicTask | None = None
    # What the app's parts build at start (each set by its owner, None until then):
    request_metrics: RequestMetrics | None = None  # extension.init_app: every request counted for /api/stats
    brython_assets: BrythonAssets | None = None  # routes/assets.py: loader, runtime, bundles
    pyodide_assets: PyodideAssets | None = None  # routes/pyodide_assets.py: wheel, snapshot
    telemetry_config: TelemetryConfig | None = None  # telemetry/service.py: the USAGE_TELEMETRY_* settings
    telemetry_sender: ServerSender | None = None  # telemetry/service.py, with USAGE_TELEMETRY_SEND_FROM=server
    opt_in_report: threading.Thread | None = None  # routes/telemetry.py: the last opt-in status report sent
    scheduled_tasks: set[str] = field(default_factory=set, repr=False)  # data tasks whose row this app stored
    _background_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _closed: bool = False

    def __post_init__(self) -> None:
        self.group_commit = GroupCommit(self.storage.store_batch, window_s=self.settings.group_commit_ms / 1000,
                                        max_reports=self.settings.group_commit_max_reports)
        self.request_counts = GroupCommit(self.storage.count_requests, name="group-commit-rate")

    @property
    def db_url(self) -> str:
        return self.settings.db

    @contextmanager
    def fetch_context(self, now: datetime | None = None) -> Iterator[FetchContext]:
        """What collectors' ``fetch`` receive: ``storage``, the clock's now, the settings and,
        on SQLite, ``db`` (a sqlite-utils Database, for collectors written before PostgreSQL;
        ``None`` on PostgreSQL)."""
        sqlite_db = getattr(self.storage, "sqlite_db", None)
        with (sqlite_db() if sqlite_db is not None else nullcontext(None)) as db:
            yield FetchContext(db, now or self.clock(), self.settings, storage=self.storage)

    def run_rollups(self) -> RollupSummary:
        """Rollups and retention now (skipped when another process or host runs them)."""
        domains = self.usage_counters.retention_by_domain() if self.usage_counters else {}
        return run_rollups(self.storage, self.clock(), self.settings, domains)

    def run_data_tasks(self) -> list[str]:
        """Run every data task that is due and that this process wins the claim for; their names.
        A task registered after ``init_app`` gets its schedule row here first (the extension
        keeps no app to store it in when it is registered)."""
        unscheduled = [task for task in self.data_tasks.tasks if task.name not in self.scheduled_tasks]
        for task in unscheduled:
            self.storage.register_data_task(task.name, task.interval_s, self.clock())
            self.scheduled_tasks.add(task.name)
        return self.data_tasks.run_due(self.storage, self.clock, self.fetch_context)

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
        interval = self.settings.rollup_interval_s
        if interval <= 0:
            return
        with self._background_lock:
            if self.rollup_task is None and not self._closed:
                self.rollup_task = PeriodicTask("rollups", interval, self.run_rollups, run_at_start=True)
                self.rollup_task.start()

    def close(self) -> None:
        """Stop background threads (rollups, data tasks, the telemetry sender), write buffered
        usage counters, then close the storage. Idempotent."""
        with self._background_lock:
            self._closed = True
            task, self.rollup_task = self.rollup_task, None
            data_thread, self.data_task_thread = self.data_task_thread, None
        for thread in (task, data_thread):
            if thread is not None:
                thread.stop()
        closers: list[tuple[str, Callable[[], Any]]] = []
        if self.telemetry_sender is not None:
            closers.append(("the telemetry sender", self.telemetry_sender.stop))
        closers.append(("group commit", self.group_commit.close))
        closers.append(("the request counts", self.request_counts.close))
        if self.usage_counters is not None:
            closers.append(("the usage counters", self.usage_counters.close))
        closers.append(("the storage", self.storage.close))
        for name, closer in closers:
            try:
                closer()
            except Exception:  # noqa: BLE001 - one failing clean-up must not skip the others
                logging.getLogger("usage_collection").exception("closing %s failed", name)


def get_state(app: Flask | None = None) -> UsageState:
    """The state of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION_KEY]


def get_storage(app: Flask | None = None) -> Storage:
    """The app's storage (SQLite or PostgreSQL): every read and write goes through it."""
    return get_state(app).storage


get_db = get_storage  # the name before PostgreSQL, kept for users' code
