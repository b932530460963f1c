"""Server-side usage counters (Kibana's ``usageCollection.createUsageCounter``).

``increment_counter`` only adds to an in-memory buffer (merged by key), so it never blocks
a request and never raises into it: bad arguments are logged and dropped. A daemon thread
writes the buffer every ``USAGE_COUNTERS_FLUSH_S`` seconds as source ``server`` rows of
``usage_counters``, in one transaction, retrying a failed write a few times with
``2^n × 500 ms`` backoff. When every retry fails the increments go back into the buffer
for the next flush (up to ``max_buffered`` keys, then new keys are dropped and logged)
instead of being lost silently as in Kibana. ``close()`` (also run at exit) flushes::

    counter = usage.create_usage_counter("my_plugin")
    counter.increment_counter(counter_name="export_csv")          # count, +1
    counter.increment_counter(counter_name="rows", increment_by=250)
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from datetime import datetime
from typing import Any, Callable

from .background import PeriodicTask
from .settings import DEFAULTS
from .storage import Storage, StorageError
from .timeutil import iso_timestamp, utc_day

logger = logging.getLogger("usage_collection.usage_counters")

SOURCE = "server"
RETRIES = 2
RETRY_BASE_DELAY_S = 0.5
MAX_BUFFERED_KEYS = 10_000

Key = tuple[str, str, str, str]  # domain_id, counter_name, counter_type, day


class UsageCounter:
    """One domain's counters (Kibana's ``IUsageCounter``); get it from ``create_usage_counter``."""

    def __init__(self, service: "UsageCounters", domain_id: str, retention_period_days: int | None) -> None:
        self._service = service
        self.domain_id = domain_id
        self.retention_period_days = retention_period_days

    def increment_counter(self, counter_name: str | None = None, counter_type: str = "count", increment_by: int = 1,
                          namespace: str | None = None, **unexpected: Any) -> None:
        """Add ``increment_by`` to today's ``counter_name``; never raises, never blocks on storage.

        ``namespace`` is accepted for Kibana compatibility and not stored (counts from every
        namespace are summed, as Kibana's collector reports them).
        """
        try:
            problem = _argument_problem(counter_name, counter_type, increment_by, namespace, unexpected)
            if problem:
                logger.warning("usage counter %r: increment dropped: %s", self.domain_id, problem)
                return
            self._service.route()._add(self.domain_id, str(counter_name), counter_type, increment_by)
        except Exception:  # noqa: BLE001 - counting must never break the caller
            logger.exception("usage counter %r: increment dropped", self.domain_id)

    def __repr__(self) -> str:
        return f"UsageCounter(domain_id={self.domain_id!r})"


def _argument_problem(name: Any, kind: Any, by: Any, namespace: Any, unexpected: dict[str, Any]) -> str | None:
    if unexpected:
        return f"unexpected arguments {sorted(unexpected)} (use counter_name=, counter_type=, increment_by=)"
    if not isinstance(name, str) or not name:
        return f"counter_name must be a non-empty string, got {name!r}"
    if not isinstance(kind, str) or not kind:
        return f"counter_type must be a non-empty string, got {kind!r}"
    if not isinstance(by, int) or isinstance(by, bool) or by < 1:
        return f"increment_by must be a whole number of at least 1, got {by!r}"
    if namespace is not None and not isinstance(namespace, str):
        return f"namespace must be a string or None, got {namespace!r}"
    return None


class UsageCounters:
    """The service: counter sets by domain, one shared buffer, one flush thread.

    One ``UsageCollection`` on several apps (each its own database) has one service per app
    (``for_storage``): they share the counter sets, each buffers and writes its own app's
    increments. ``router`` picks the service of the app handling the current request (or
    app context); outside any, increments go to the first app's."""

    def __init__(self, clock: Callable[[], datetime], *, storage: Storage | None = None,
                 flush_interval_s: float = DEFAULTS.counters_flush_s,
                 retries: int = RETRIES, retry_base_delay_s: float = RETRY_BASE_DELAY_S,
                 max_buffered: int = MAX_BUFFERED_KEYS) -> None:
        self.clock = clock
        self.storage = storage
        self.flush_interval_s = flush_interval_s
        self.retries = retries
        self.retry_base_delay_s = retry_base_delay_s
        self.max_buffered = max_buffered
        self._counters: dict[str, UsageCounter] = {}
        self._buffer: dict[Key, list[Any]] = {}  # key -> [count, last updated_at]
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._task: PeriodicTask | None = None
        self._started = False
        self._closed = False
        self._dropped = 0
        self.router: Callable[[], "UsageCounters | None"] | None = None

    def for_storage(self, storage: Storage, flush_interval_s: float) -> "UsageCounters":
        """This service bound to ``storage`` (the first app, or one on the same database), else
        a new service for that app's database sharing these counter sets and this router."""
        if self.storage is None or self.storage.url == storage.url:
            self.bind(storage, flush_interval_s)
            return self
        other = UsageCounters(self.clock, storage=storage, flush_interval_s=flush_interval_s, retries=self.retries,
                              retry_base_delay_s=self.retry_base_delay_s, max_buffered=self.max_buffered)
        other._counters = self._counters
        other.router = self.router
        return other

    def shares_counters_with(self, other: "UsageCounters") -> bool:
        return self._counters is other._counters

    def route(self) -> "UsageCounters":
        """Where an increment made now goes: the current app's service, else this one."""
        chosen = self.router() if self.router is not None else None
        return chosen if chosen is not None else self

    def bind(self, storage: Storage, flush_interval_s: float) -> None:
        """Point the service at an app's storage (``init_app``); buffered increments are kept."""
        if self.storage is not None and self.storage.url != storage.url:
            raise RuntimeError(f"these usage counters already write to {self.storage.description}; "
                               "use one UsageCollection per app")
        self.storage = storage
        self.flush_interval_s = flush_interval_s

    def create_usage_counter(self, domain_id: str, retention_period_days: int | None = None) -> UsageCounter:
        if not isinstance(domain_id, str) or not domain_id:
            raise ValueError(f"domain_id must be a non-empty string, got {domain_id!r}")
        if retention_period_days is not None and (not isinstance(retention_period_days, int)
                                                  or retention_period_days < 1):
            raise ValueError(f"retention_period_days must be a whole number of days >= 1, got {retention_period_days!r}")
        with self._lock:
            if domain_id in self._counters:
                raise ValueError(f'Usage counter set "{domain_id}" already exists.')
            counter = self._counters[domain_id] = UsageCounter(self, domain_id, retention_period_days)
        return counter

    def get_usage_counter_by_domain_id(self, domain_id: str) -> UsageCounter | None:
        return self._counters.get(domain_id)

    def retention_by_domain(self) -> dict[str, int]:
        """Domains created with their own ``retention_period_days`` (the rollups honour them)."""
        return {d: c.retention_period_days for d, c in self._counters.items() if c.retention_period_days}

    def pending(self) -> dict[Key, int]:
        """What is buffered and not yet written, by (domain, name, type, day)."""
        with self._lock:
            return {key: value[0] for key, value in self._buffer.items()}

    def _add(self, domain_id: str, name: str, kind: str, by: int) -> None:
        now = self.clock()
        key = (domain_id, name, kind, utc_day(now))
        stamp = iso_timestamp(now)
        with self._lock:
            if not self._merge(key, by, stamp):
                return
        self._ensure_flushing()

    def _merge(self, key: Key, count: int, stamp: str) -> bool:
        """Add into the buffer (lock held); False when a new key does not fit."""
        entry = self._buffer.get(key)
        if entry is not None:
            entry[0] += count
            entry[1] = max(entry[1], stamp)
            return True
        if len(self._buffer) < self.max_buffered:
            self._buffer[key] = [count, stamp]
            return True
        if not self._dropped:
            logger.warning("usage counters: buffer full (%d keys; is storage failing?): dropping new counters "
                           "until a flush succeeds", self.max_buffered)
        self._dropped += count
        return False

    def _ensure_flushing(self) -> None:
        """Start the flush thread and the exit hook on the first increment (no thread otherwise)."""
        if self._started or self._closed:
            return
        with self._lock:
            if self._started:
                return
            self._started = True
            atexit.register(self.close)
            if self.flush_interval_s > 0 and self.storage is not None:
                self._task = PeriodicTask("counters-flush", self.flush_interval_s, self.flush)
                self._task.start()

    def flush(self) -> int:
        """Write everything buffered now; returns how many rows were written (0 on failure)."""
        with self._flush_lock:
            with self._lock:
                batch, self._buffer = self._buffer, {}
            if not batch:
                return 0
            error: Exception | None = None
            for attempt in range(self.retries + 1 if self.storage else 0):
                try:
                    self._write(batch)
                except (StorageError, OSError) as exc:
                    error = exc
                    if attempt < self.retries:
                        time.sleep(self.retry_base_delay_s * 2**attempt)
                    continue
                with self._lock:
                    if self._dropped:
                        logger.warning("usage counters: %d increments were dropped while the buffer was full",
                                       self._dropped)
                    self._dropped = 0
                return len(batch)
            if error is not None:
                logger.warning("usage counters: could not write %d counters after %d attempts (%s); "
                               "keeping them for the next flush", len(batch), self.retries + 1, error)
            with self._lock:
                for key, (count, stamp) in batch.items():
                    self._merge(key, count, stamp)
            return 0

    def _write(self, batch: dict[Key, list[Any]]) -> None:
        assert self.storage is not None
        self.storage.add_server_counters([(d, n, t, day, count, stamp)
                                          for (d, n, t, day), (count, stamp) in batch.items()])

    def close(self) -> None:
        """Stop the flush thread and write what is left (idempotent; also registered with atexit)."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.stop()
        if self._started:
            atexit.unregister(self.close)
        self.flush()
