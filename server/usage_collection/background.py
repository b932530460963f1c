"""One periodic daemon thread with a clean stop, for the counters flush and the rollups.

Stopping sets an event the thread waits on, so ``stop()`` returns at once instead of
after the rest of an interval, and a test (or ``UsageState.close``) never leaks a thread.
An exception in the task is logged and the schedule continues: background upkeep must
never take the server down.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

logger = logging.getLogger("usage_collection.background")


class PeriodicTask:
    """Run ``task`` every ``interval_s`` seconds (and once at start if ``run_at_start``)."""

    def __init__(self, name: str, interval_s: float, task: Callable[[], object], *, run_at_start: bool = False) -> None:
        if interval_s <= 0:
            raise ValueError(f"{name}: interval must be positive, got {interval_s}")
        self.name = name
        self.interval_s = interval_s
        self._task = task
        self._run_at_start = run_at_start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread once; later calls do nothing."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name=f"usage-collection-{self.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the schedule and wait for a run in progress to end."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        if self._run_at_start:
            self._run_once()
        while not self._stop.wait(self.interval_s):
            self._run_once()

    def _run_once(self) -> None:
        try:
            self._task()
        except Exception:  # noqa: BLE001 - upkeep must not kill the thread
            logger.exception("usage-collection %s failed; will retry in %ss", self.name, self.interval_s)
