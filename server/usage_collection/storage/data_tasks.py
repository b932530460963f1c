"""Data telemetry tasks in the database: schedule, claim, saved result, ``took`` and last error.

The storage half of ``usage_collection.data_tasks`` (the APM plugin's "Data Telemetry": a
task periodically runs expensive queries and saves the result, and a usage collector
serves the saved copy). One row per task.

One run per interval across every process and host sharing the database: a process runs a
task only after ``claim_data_task`` moved its ``next_run_at`` forward, in one ``UPDATE ...
WHERE next_run_at <= now`` that a single writer can win (SQLite serialises writers; the
statement is atomic on PostgreSQL)::

    storage.register_data_task("exports", 3600, now)   # due at once the first time, kept after
    if storage.claim_data_task("exports", now, owner="host-a:4242"):
        storage.save_data_task_result("exports", {"total": 12}, took_ms=8.5, now=now)
    storage.data_tasks()                                # [DataTaskRow(name="exports", ...)]

Times are ``iso_timestamp`` strings (``2025-04-10T12:00:00.000Z``), which sort as they
compare, so ``next_run_at <= ?`` needs no date functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..timeutil import iso_timestamp
from .core import StorageCore

_COLUMNS = ("name, interval_s, next_run_at, claimed_by, runs, result, result_at, took_ms, last_run_at, "
            "last_error, last_error_at")


@dataclass(frozen=True)
class DataTaskRow:
    """One task as stored: its schedule, its saved result (JSON-decoded) and how its runs went."""

    name: str
    interval_s: float
    next_run_at: str
    claimed_by: str | None
    runs: int
    result: Any
    result_at: str | None
    took_ms: float | None
    last_run_at: str | None
    last_error: str | None
    last_error_at: str | None


class DataTaskStore(StorageCore):
    def register_data_task(self, name: str, interval_s: float, now: datetime) -> None:
        """Add a task, due now; a task already stored keeps its schedule and result (a restart
        does not run it early) and takes the new interval."""
        self.execute("INSERT INTO data_tasks (name, interval_s, next_run_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (name) DO UPDATE SET interval_s = excluded.interval_s",
                     (name, float(interval_s), iso_timestamp(now)))

    def claim_data_task(self, name: str, now: datetime, owner: str) -> bool:
        """Take this interval's run of ``name`` if it is due: ``True`` for exactly one caller.

        The ``UPDATE`` moves ``next_run_at`` one interval past ``now`` only while it is still
        ``<= now``, so of several processes (or hosts) asking at once the first writer wins
        and the others find the task no longer due. A run that crashes is not retried before
        the next interval."""
        stamp = iso_timestamp(now)
        with self.connection() as conn, conn.transaction():
            interval = conn.one("SELECT interval_s FROM data_tasks WHERE name = ? AND next_run_at <= ?", (name, stamp))
            if interval is None:
                return False
            next_run = iso_timestamp(now + timedelta(seconds=float(interval)))
            return conn.execute("UPDATE data_tasks SET next_run_at = ?, claimed_by = ?, runs = runs + 1 "
                                "WHERE name = ? AND next_run_at <= ?", (next_run, owner, name, stamp)).rowcount == 1

    def save_data_task_result(self, name: str, result: Any, took_ms: float, now: datetime) -> None:
        """Keep a successful run's result (as JSON) and how long it took."""
        stamp = iso_timestamp(now)
        self.execute("UPDATE data_tasks SET result = ?, result_at = ?, took_ms = ?, last_run_at = ? WHERE name = ?",
                     (json.dumps(result, separators=(",", ":")), stamp, float(took_ms), stamp, name))

    def save_data_task_error(self, name: str, error: str, took_ms: float, now: datetime) -> None:
        """Record a failed run; the last good result stays (the collector keeps serving it)."""
        stamp = iso_timestamp(now)
        self.execute("UPDATE data_tasks SET took_ms = ?, last_run_at = ?, last_error = ?, last_error_at = ? "
                     "WHERE name = ?", (float(took_ms), stamp, error, stamp, name))

    def data_tasks(self, names: list[str] | None = None) -> list[DataTaskRow]:
        """Every stored task (or those named), by name."""
        sql = f"SELECT {_COLUMNS} FROM data_tasks"
        params: list[Any] = []
        if names is not None:
            if not names:
                return []
            sql += f" WHERE name IN ({', '.join('?' * len(names))})"
            params = list(names)
        rows = self.query(sql + " ORDER BY name", params)
        return [DataTaskRow(row[0], float(row[1]), *row[2:5], json.loads(row[5]) if row[5] is not None else None,
                            row[6], None if row[7] is None else float(row[7]), *row[8:]) for row in rows]
