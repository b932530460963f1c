"""Data telemetry tasks: expensive queries run on a schedule, their saved result served by a collector.

Kibana's APM plugin calls it "Data Telemetry": a task-manager task periodically queries the
APM indices and saves the result in a saved object, the ``apm`` usage collector serves
that saved copy, and each task reports the time it ``took``. Here::

    def count_exports(context):          # context.storage, context.now, context.settings
        total = context.storage.query("SELECT COUNT(*) FROM exports")[0][0]
        return {"exports": total}

    usage.register_data_task("exports", 3600, count_exports, schema={
        "exports": {"type": "long", "_meta": {"description": "Reports exported, all time"}}})

- The result is saved in the database (``Storage``, ``storage/data_tasks.py``), so it survives a
  restart and every process and host sharing the database serves the same copy.
- A usage collector of the task's name serves the saved result under ``usage.<name>``
  (nothing until the first run succeeds); a result its schema does not describe is a
  failed run, and the previous result stays.
- The ``data_tasks`` collector lists every task with its ``took_ms``, ``runs``, last run,
  next run and last error (``usage.data_tasks`` in ``/api/stats?extended=true``).
- One run per interval across every process and host: a process runs a task only after
  winning its claim in the database (``claim_data_task``).

Each server process checks for due tasks in a daemon thread started by its first request,
every ``min(5 s, shortest interval)``; ``UsageState.run_data_tasks()`` is that check.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, ContextManager

from .collectors import Collector, FetchContext, make_usage_collector
from .collectors.schema import Schema
from .storage import Storage
from .storage.data_tasks import DataTaskRow

logger = logging.getLogger("usage_collection.data_tasks")

DATA_TASKS_TYPE = "data_tasks"
MAX_TICK_S = 5.0
TaskRun = Callable[[FetchContext], Any]


@dataclass(frozen=True)
class DataTask:
    """A registered task: what to run, how often, and the collector serving its saved result."""

    name: str
    interval_s: float
    run: TaskRun
    collector: Collector


def _text(description: str, kind: str = "keyword", optional: bool = False) -> Schema:
    meta: dict[str, Any] = {"description": description}
    if optional:
        meta["optional"] = True
    return {"type": kind, "_meta": meta}


DATA_TASKS_SCHEMA: Schema = {"tasks": {"type": "array", "items": {
    "name": _text("The task's name (also the collector serving its result)"),
    "interval_s": _text("Seconds between two runs, across all processes and hosts", "double"),
    "runs": _text("How many times the task was claimed and started", "long"),
    "took_ms": _text("How long the last run took, in milliseconds (APM's tasks.<name>.took.ms)", "double", True),
    "last_run_at": _text("When the last run ended", "date", True),
    "next_run_at": _text("When the task is due next", "date"),
    "last_error": _text("The error of the last failed run", "text", True),
    "last_error_at": _text("When the last failed run ended", "date", True),
    "result_at": _text("When the result now served was saved", "date", True),
    "claimed_by": _text("Host and process id that ran it last", "keyword", True),
}}}


class DataTasks:
    """The tasks registered on one ``UsageCollection`` (before or after ``init_app``)."""

    def __init__(self) -> None:
        self._tasks: dict[str, DataTask] = {}
        self._lock = threading.Lock()

    @staticmethod
    def build(name: str, interval_s: float, run: TaskRun, schema: Schema) -> DataTask:
        """A checked task and the collector serving its saved result (not kept yet: see ``add``)."""
        if not isinstance(interval_s, (int, float)) or isinstance(interval_s, bool) or not interval_s > 0:
            raise ValueError(f'Data task "{name}": interval_s must be a positive number of seconds, got {interval_s!r}')
        if not callable(run):
            raise TypeError(f'Data task "{name}": run must be a function taking the fetch context')
        collector = make_usage_collector(type=name, schema=schema, fetch=_saved_result(name))
        return DataTask(name, float(interval_s), run, collector)

    def check_new(self, name: str) -> None:
        if any(task.name == name for task in self.tasks):
            raise ValueError(f'Data task "{name}" is already registered.')

    def add(self, task: DataTask) -> None:
        with self._lock:
            if task.name in self._tasks:
                raise ValueError(f'Data task "{task.name}" is already registered.')
            self._tasks[task.name] = task

    @property
    def tasks(self) -> tuple[DataTask, ...]:
        with self._lock:
            return tuple(self._tasks.values())

    def tick_s(self) -> float:
        """How often a process checks for due tasks: the shortest interval, at most 5 s."""
        return min([MAX_TICK_S, *(task.interval_s for task in self.tasks)])

    def store_schedules(self, storage: Storage, now: datetime) -> None:
        """Write every task's row (due at once if new; a stored one keeps its schedule)."""
        for task in self.tasks:
            storage.register_data_task(task.name, task.interval_s, now)

    def run_due(self, storage: Storage, clock: Callable[[], datetime],
                context: Callable[[datetime], ContextManager[FetchContext]]) -> list[str]:
        """Claim and run every due task in this process; the names it ran (a failed run included)."""
        owner = f"{socket.gethostname()}:{os.getpid()}"
        ran = []
        for task in self.tasks:
            now = clock()
            if not storage.claim_data_task(task.name, now, owner):
                continue
            ran.append(task.name)
            started = time.perf_counter()
            try:
                with context(now) as fetch_context:
                    result = task.run(fetch_context)
                task.collector.check_result(result)  # a result the schema does not describe fails the run
                json.dumps(result)
            except Exception as exc:  # noqa: BLE001 - a failing task is recorded, never raised into the server
                took = (time.perf_counter() - started) * 1000
                logger.warning("data task %s failed: %s: %s", task.name, type(exc).__name__, exc)
                storage.save_data_task_error(task.name, f"{type(exc).__name__}: {exc}", took, clock())
            else:
                storage.save_data_task_result(task.name, result, (time.perf_counter() - started) * 1000, clock())
        return ran

    def status_collector(self) -> Collector:
        """The ``data_tasks`` collector: each registered task's schedule, ``took`` and last error."""
        def fetch(context: FetchContext) -> dict[str, Any]:
            rows = context.storage.data_tasks([task.name for task in self.tasks])
            return {"tasks": [_status(row) for row in rows]}

        return make_usage_collector(type=DATA_TASKS_TYPE, schema=DATA_TASKS_SCHEMA, fetch=fetch)


def _saved_result(name: str) -> Callable[[FetchContext], Any]:
    def fetch(context: FetchContext) -> Any:
        rows = context.storage.data_tasks([name])
        return rows[0].result if rows else None  # None until a run succeeds: left out, as Kibana leaves undefined
    return fetch


def _status(row: DataTaskRow) -> dict[str, Any]:
    status = {"name": row.name, "interval_s": row.interval_s, "runs": row.runs, "next_run_at": row.next_run_at}
    optional = {"took_ms": row.took_ms, "last_run_at": row.last_run_at, "last_error": row.last_error,
                "last_error_at": row.last_error_at, "result_at": row.result_at, "claimed_by": row.claimed_by}
    return {**status, **{key: value for key, value in optional.items() if value is not None}}
