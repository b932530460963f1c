"""``usage_collector_stats``: the collector set's report on its own bulk fetch (Kibana §5.5).

Treated as one more collector in the output, so a reader of /api/stats sees which
collectors were not ready, timed out or failed, and how long each took, instead of a
silently shorter ``usage``. Durations are milliseconds; Kibana declares them ``long`` but
sends fractions, so they are declared ``double`` here, which is what is actually sent.
"""

from __future__ import annotations

from typing import Any

from .schema import Schema

USAGE_COLLECTOR_STATS_TYPE = "usage_collector_stats"


def _names(what: str) -> Schema:
    return {
        "count": {"type": "short", "_meta": {"description": f"The number of collectors that {what}"}},
        "names": {"type": "array", "items": {"type": "keyword", "_meta": {
            "description": f"The names of the collectors that {what}"}}},
    }


def _breakdown(what: str) -> Schema:
    return {"type": "array", "items": {
        "name": {"type": "keyword", "_meta": {"description": "The type of the collector"}},
        "duration": {"type": "double", "_meta": {"description": f"How long {what} took for this collector, in milliseconds"}},
    }}


COLLECTOR_STATS_SCHEMA: Schema = {
    "not_ready": _names("returned false (or raised) from is_ready"),
    "not_ready_timeout": _names("did not answer is_ready within USAGE_COLLECTOR_WAIT_S"),
    "succeeded": _names("were fetched successfully"),
    "failed": _names("raised from fetch or returned data that does not match their schema"),
    "total_duration": {"type": "double", "_meta": {
        "description": "Total is_ready plus fetch time of all collectors, in milliseconds"}},
    "total_is_ready_duration": {"type": "double", "_meta": {
        "description": "Total time spent in is_ready by all collectors, in milliseconds"}},
    "total_fetch_duration": {"type": "double", "_meta": {
        "description": "Total time spent in fetch by the ready collectors, in milliseconds"}},
    "is_ready_duration_breakdown": _breakdown("is_ready"),
    "fetch_duration_breakdown": _breakdown("fetch"),
}


def collector_stats(*, not_ready: list[str], timed_out: list[str], succeeded: list[str], failed: list[str],
                    is_ready_ms: list[tuple[str, float]], fetch_ms: list[tuple[str, float]]) -> dict[str, Any]:
    """Kibana's ``CollectorsStats`` shape from what one bulk fetch observed."""
    total_is_ready = round(sum(ms for _, ms in is_ready_ms), 3)
    total_fetch = round(sum(ms for _, ms in fetch_ms), 3)
    return {
        "not_ready": {"count": len(not_ready), "names": not_ready},
        "not_ready_timeout": {"count": len(timed_out), "names": timed_out},
        "succeeded": {"count": len(succeeded), "names": succeeded},
        "failed": {"count": len(failed), "names": failed},
        "total_duration": round(total_is_ready + total_fetch, 3),
        "total_is_ready_duration": total_is_ready,
        "total_fetch_duration": total_fetch,
        "is_ready_duration_breakdown": [{"name": name, "duration": round(ms, 3)} for name, ms in is_ready_ms],
        "fetch_duration_breakdown": [{"name": name, "duration": round(ms, 3)} for name, ms in fetch_ms],
    }
