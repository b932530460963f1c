"""The smart set: registers collectors, waits for readiness, isolates failures, times itself.

Kibana's ``CollectorSet``: every ``is_ready`` runs at once (one daemon thread each) and the
set waits at most ``wait_s`` in total; a collector that says no, raises, or has not
answered by then is skipped. Ready collectors are fetched one after the other in the
calling thread because they share its SQLite connection. A fetch that raises, or returns
something its schema does not describe, is logged and counted as failed; the others are
unaffected. ``usage_collector_stats`` is appended to every result, so what was skipped is
visible in the output rather than only in a debug log::

    results = collector_set.bulk_fetch(FetchContext(db, now))
    usage = collector_set.to_object(results)   # {"ui_metric": {...}, "usage_collector_stats": {...}}
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable, Mapping

from .collector import Collector, FetchContext, always_ready
from .collector_stats import COLLECTOR_STATS_SCHEMA, USAGE_COLLECTOR_STATS_TYPE, collector_stats
from .schema import Schema, SchemaMismatch, collectors_mapping

logger = logging.getLogger("usage_collection.collectors")

DEFAULT_WAIT_S = 1.0
FetchResult = dict[str, Any]


class CollectorSet:
    """Every registered collector of one app; ``bulk_fetch`` is the only way they are run."""

    def __init__(self, collectors: Iterable[Collector] = (), *, wait_s: float = DEFAULT_WAIT_S) -> None:
        self.wait_s = wait_s
        self._collectors: dict[str, Collector] = {}
        self._lock = threading.Lock()
        for collector in collectors:
            self.register_collector(collector)

    def register_collector(self, collector: Collector) -> None:
        """Add a collector; a second one with the same type is refused (Kibana's messages)."""
        if not isinstance(collector, Collector):
            raise TypeError("CollectorSet can only have Collector instances registered")
        if collector.type == USAGE_COLLECTOR_STATS_TYPE:
            raise ValueError(f'Usage collector\'s type "{collector.type}" is reserved: '
                             "the collector set reports its own statistics under it.")
        with self._lock:
            if collector.type in self._collectors:
                raise ValueError(f'Usage collector\'s type "{collector.type}" is duplicated.')
            self._collectors[collector.type] = collector

    def get_collector_by_type(self, type: str) -> Collector | None:
        return self._collectors.get(type)

    @property
    def collectors(self) -> tuple[Collector, ...]:
        with self._lock:
            return tuple(self._collectors.values())

    def schemas(self) -> dict[str, Schema]:
        """Every declared schema by type, ``usage_collector_stats`` included (what schema-check compares)."""
        found = {c.type: c.schema for c in self.collectors if c.schema is not None}
        return {**found, USAGE_COLLECTOR_STATS_TYPE: COLLECTOR_STATS_SCHEMA}

    def mapping(self) -> dict[str, Any]:
        return collectors_mapping(self.schemas())

    def bulk_fetch(self, context: FetchContext, *, only_usage: bool = False,
                   wait_s: float | None = None) -> list[FetchResult]:
        """``[{"type", "result"}, ...]`` for every ready collector, then ``usage_collector_stats``."""
        wait_s = self.wait_s if wait_s is None else wait_s
        candidates = [c for c in self.collectors if c.kind == "usage" or not only_usage]
        ready, not_ready, timed_out, is_ready_ms = _wait_for_readiness(candidates, wait_s)
        results: list[FetchResult] = []
        succeeded: list[str] = []
        failed: list[str] = []
        fetch_ms: list[tuple[str, float]] = []
        for collector in ready:
            started = time.perf_counter()
            ok, result = _fetch_one(collector, context)
            fetch_ms.append((collector.type, (time.perf_counter() - started) * 1000))
            (succeeded if ok else failed).append(collector.type)
            if ok and result is not None:
                results.append({"type": collector.type, "result": result})
        stats = collector_stats(not_ready=not_ready, timed_out=timed_out, succeeded=succeeded, failed=failed,
                                is_ready_ms=is_ready_ms, fetch_ms=fetch_ms)
        results.append({"type": USAGE_COLLECTOR_STATS_TYPE, "result": stats})
        return results

    def bulk_usage_fetch(self, context: FetchContext, *, wait_s: float | None = None) -> list[FetchResult]:
        """Only the usage collectors (OpenSearch Dashboards' ``bulkUsageFetch``): ``bulk_fetch(only_usage=True)``."""
        return self.bulk_fetch(context, only_usage=True, wait_s=wait_s)

    @staticmethod
    def to_object(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """``{type: result}`` from ``bulk_fetch``'s list (Kibana's ``toObject``)."""
        return {item["type"]: item["result"] for item in results}


def _fetch_one(collector: Collector, context: FetchContext) -> tuple[bool, Any]:
    try:
        result = collector.fetch(context)
        if result is not None:
            collector.check_result(result)
        return True, result
    except SchemaMismatch as exc:
        logger.warning("Unable to fetch data from %s collector: its result does not match its schema: %s",
                       collector.type, exc)
    except Exception as exc:  # noqa: BLE001 - one broken collector never breaks the others
        logger.warning("Unable to fetch data from %s collector: %s: %s", collector.type,
                       type(exc).__name__, exc, exc_info=True)
    return False, None


def _wait_for_readiness(collectors: list[Collector], wait_s: float
                        ) -> tuple[list[Collector], list[str], list[str], list[tuple[str, float]]]:
    """Run every is_ready at once; wait at most ``wait_s`` in total for the answers."""
    answers: dict[str, tuple[bool, float]] = {}
    lock = threading.Lock()

    def ask(collector: Collector) -> None:
        started = time.perf_counter()
        try:
            answer = bool(collector.is_ready())
        except Exception as exc:  # noqa: BLE001 - a throwing is_ready means "not ready"
            logger.debug("Collector %s failed to get ready: %s", collector.type, exc)
            answer = False
        with lock:
            answers[collector.type] = (answer, (time.perf_counter() - started) * 1000)

    threads = []
    for collector in collectors:
        if collector.is_ready is always_ready:
            answers[collector.type] = (True, 0.0)
            continue
        thread = threading.Thread(target=ask, args=(collector,), daemon=True,
                                  name=f"usage-collection-is-ready-{collector.type}")
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + wait_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        settled = dict(answers)

    ready = [c for c in collectors if settled.get(c.type, (False, 0.0))[0]]
    not_ready = [c.type for c in collectors if c.type in settled and not settled[c.type][0]]
    timed_out = [c.type for c in collectors if c.type not in settled]
    if timed_out:
        logger.debug("Some collectors timed out getting ready (%s). Waited for %ss and will return data "
                     "from collectors that are ready.", ", ".join(timed_out), wait_s)
    durations = [(c.type, settled[c.type][1]) for c in ready]
    durations += [(name, settled[name][1]) for name in not_ready]
    durations += [(name, wait_s * 1000) for name in timed_out]
    return ready, not_ready, timed_out, durations
