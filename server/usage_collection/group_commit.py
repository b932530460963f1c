"""Group commit: the reports of concurrent requests share one transaction.

A commit is the expensive part of storing a report (a disk flush: about 700 a second on
PostgreSQL here, and SQLite's single write lock fought over by worker processes), while
the upserts of a report cost a fraction of it. So each receiver process has one writer:
a request hands its validated report to ``submit`` and waits; the writer takes every
report queued meanwhile (up to ``max_reports``), stores them with ``store_batch`` in one
transaction, commits, and only then wakes each request with its own outcome.

- Nothing is acknowledged before its commit: ``submit`` returns after the commit.
- A failed commit raises ``StorageError`` in every request of that batch (503: the
  client keeps the report and retries) and stores none of them.
- Batches form by themselves: whatever arrives while a transaction commits goes into the
  next one, so a batch is one report under no load and grows with the load. ``window_s``
  adds a wait before a busy batch (off by default: ``bench/receiver.py`` measured a 2 ms
  window costing a third of SQLite's throughput at 8 connections).

The writer is a thread (a greenlet under gevent's monkey-patching, which is what ``serve``
runs); it is started on first use, again in a forked child, and ends after ``IDLE_EXIT_S``
without reports (an app that is dropped leaves no thread behind).

The same writer batches the rate limit's request counts (``Storage.count_requests``):
``GroupCommit`` takes any ``store_batch`` that maps a list of items to their outcomes in
one transaction.
"""

from __future__ import annotations

import _thread
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .storage import StorageError

log = logging.getLogger("usage_collection.group_commit")

DEFAULT_WINDOW_S = 0.0
DEFAULT_MAX_REPORTS = 200
SUBMIT_TIMEOUT_S = 60.0
IDLE_EXIT_S = 5.0


class _Item:
    """An item (a report, a request to count) waiting for its commit.

    ``done`` is a bare lock, held until the outcome is set: the waiter blocks acquiring it.
    A ``threading.Event`` is a Condition written in Python, with a lock of its own per wait;
    a bare lock (a gevent semaphore under ``serve``) is the least there is to block on. A
    submit and its wake-up cost about 8 µs under gevent here."""

    __slots__ = ("pending", "done", "outcome", "error")

    def __init__(self, pending: Any) -> None:
        self.pending = pending
        self.done = _thread.allocate_lock()
        self.done.acquire()
        self.outcome: Any = None
        self.error: BaseException | None = None

    def finish(self, outcome: Any, error: BaseException | None = None) -> None:
        self.outcome, self.error = outcome, error
        self.done.release()


@dataclass
class BatchStats:
    """What the writer did (batches, reports, the largest batch), for tests and benches."""

    batches: int = 0
    reports: int = 0
    failed_batches: int = 0
    largest: int = 0


class GroupCommit:
    """One writer per process for ``store_batch(items) -> outcomes`` (``Storage.store_batch``
    for reports, ``Storage.count_requests`` for the rate limit)."""

    def __init__(self, store_batch: Callable[[list[Any]], list[Any]], window_s: float = DEFAULT_WINDOW_S,
                 max_reports: int = DEFAULT_MAX_REPORTS, name: str = "group-commit") -> None:
        self.store_batch = store_batch
        self.name = name
        self.window_s = max(0.0, window_s)
        self.max_reports = max(1, max_reports)
        self.stats = BatchStats()
        self._mutex = _thread.allocate_lock()
        self._wake = _thread.allocate_lock()  # held while the writer sleeps; released to wake it
        self._wake.acquire()
        self._sleeping = False
        self._queue: list[_Item] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        self._last_batch = 0

    def submit(self, pending: Any, timeout_s: float = SUBMIT_TIMEOUT_S) -> Any:
        """Store ``pending`` with whatever else is queued; its outcome once committed."""
        item = _Item(pending)
        with self._mutex:
            self._ensure_writer()
            self._queue.append(item)
            self._wake_writer()
        if not item.done.acquire(True, timeout_s):
            raise StorageError(f"not committed within {timeout_s:.0f} s")
        if item.error is not None:
            raise item.error
        assert item.outcome is not None
        return item.outcome

    def close(self) -> None:
        """Store what is queued, then stop the writer (idempotent)."""
        with self._mutex:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
            self._wake_writer()
        if thread is not None:
            thread.join(timeout=10)

    def _wake_writer(self) -> None:  # holding _mutex
        if self._sleeping:
            self._sleeping = False
            self._wake.release()

    def _ensure_writer(self) -> None:  # holding _mutex
        if self._pid != os.getpid():  # a forked child: the parent's writer is not running here
            self._pid, self._thread, self._queue, self._sleeping = os.getpid(), None, [], False
            self._wake = _thread.allocate_lock()
            self._wake.acquire()
        if self._closed:
            raise StorageError("the receiver is shutting down")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"usage-collection-{self.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._mutex:
                sleep = self._sleeping = not self._queue and not self._closed
            if sleep:
                woken = self._wake.acquire(True, IDLE_EXIT_S)
                with self._mutex:
                    if not woken and self._sleeping:  # idle for IDLE_EXIT_S: end; the next submit starts a writer
                        self._sleeping = False
                        if threading.current_thread() is self._thread:
                            self._thread = None
                        return
                    if not woken:  # woken just as the wait timed out: take the release back
                        self._wake.acquire()
            if self.window_s and self._last_batch > 1 and len(self._queue) < self.max_reports:
                time.sleep(self.window_s)  # a busy writer waits for more of the batch to arrive
            with self._mutex:
                if not self._queue:
                    if self._closed:
                        if threading.current_thread() is self._thread:
                            self._thread = None
                        return
                    continue
                batch, self._queue = self._queue[:self.max_reports], self._queue[self.max_reports:]
            self._commit(batch)

    def _commit(self, batch: Sequence[_Item]) -> None:
        self._last_batch = len(batch)
        self.stats.batches += 1
        self.stats.reports += len(batch)
        self.stats.largest = max(self.stats.largest, len(batch))
        try:
            outcomes = self.store_batch([item.pending for item in batch])
        except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it
            self.stats.failed_batches += 1
            error = exc if isinstance(exc, StorageError) else StorageError(f"storing failed: {exc!r}")
            if not isinstance(exc, StorageError):
                log.exception("%s: a batch of %d failed", self.name, len(batch))
            for item in batch:
                item.finish(None, error)
            return
        for item, outcome in zip(batch, outcomes):
            item.finish(outcome)
