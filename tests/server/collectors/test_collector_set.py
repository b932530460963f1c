"""The collector set: registration, readiness with a deadline, failure isolation, self-timing."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from usage_collection.collectors import (
    CollectorSet,
    FetchContext,
    check,
    make_stats_collector,
    make_usage_collector,
)
from usage_collection.collectors.collector_stats import COLLECTOR_STATS_SCHEMA

from support.usage_rows import NOW

SCHEMA = {"value": {"type": "long", "_meta": {"description": "a value"}}}
CONTEXT = FetchContext(None, NOW)


def usage(type: str, value=1, **options):
    return make_usage_collector(type=type, schema=SCHEMA, fetch=options.pop("fetch", lambda ctx: {"value": value}),
                                **options)


def test_register_refuses_what_is_not_a_collector():
    with pytest.raises(TypeError, match="^CollectorSet can only have Collector instances registered$"):
        CollectorSet().register_collector({"type": "x"})  # type: ignore[arg-type]


def test_a_duplicate_type_is_refused_with_kibanas_message():
    collectors = CollectorSet([usage("dup")])
    with pytest.raises(ValueError) as caught:
        collectors.register_collector(usage("dup"))
    assert str(caught.value) == 'Usage collector\'s type "dup" is duplicated.'


def test_usage_collector_stats_is_reserved():
    with pytest.raises(ValueError, match='"usage_collector_stats" is reserved'):
        CollectorSet().register_collector(usage("usage_collector_stats"))


def test_bulk_fetch_returns_every_result_then_its_own_stats():
    seen = []
    collectors = CollectorSet([usage("a", 1), usage("b", fetch=lambda ctx: seen.append(ctx) or {"value": 2})])
    results = collectors.bulk_fetch(CONTEXT)
    assert [item["type"] for item in results] == ["a", "b", "usage_collector_stats"]
    assert CollectorSet.to_object(results)["b"] == {"value": 2}
    assert seen == [CONTEXT]
    stats = results[-1]["result"]
    assert stats["succeeded"] == {"count": 2, "names": ["a", "b"]}
    assert stats["failed"] == stats["not_ready"] == stats["not_ready_timeout"] == {"count": 0, "names": []}
    check(stats, COLLECTOR_STATS_SCHEMA)


def test_a_slow_is_ready_is_skipped_after_the_wait_and_the_rest_still_answer():
    release = threading.Event()
    blocked = usage("blocked", is_ready=lambda: release.wait(30))
    collectors = CollectorSet([blocked, usage("fine")], wait_s=0.3)
    try:
        started = time.monotonic()
        results = collectors.bulk_fetch(CONTEXT)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert 0.3 <= elapsed < 1.0
    output = CollectorSet.to_object(results)
    assert "blocked" not in output and output["fine"] == {"value": 1}
    stats = output["usage_collector_stats"]
    assert stats["not_ready_timeout"] == {"count": 1, "names": ["blocked"]}
    assert {"name": "blocked", "duration": 300.0} in stats["is_ready_duration_breakdown"]


def test_is_ready_calls_run_concurrently_within_one_total_wait():
    def slow_ready():
        time.sleep(0.25)
        return True

    collectors = CollectorSet([usage(f"slow{i}", is_ready=slow_ready) for i in range(4)], wait_s=2)
    started = time.monotonic()
    output = CollectorSet.to_object(collectors.bulk_fetch(CONTEXT))
    assert time.monotonic() - started < 0.9  # four 0.25 s waits in parallel, not in a row
    assert output["usage_collector_stats"]["succeeded"]["count"] == 4
    assert all(item["duration"] >= 200 for item in output["usage_collector_stats"]["is_ready_duration_breakdown"])


def broken_ready():
    raise RuntimeError("no connection yet")


@pytest.mark.parametrize("is_ready", [lambda: False, broken_ready, lambda: None], ids=["false", "raises", "none"])
def test_a_collector_that_is_not_ready_is_skipped_and_counted(is_ready):
    output = CollectorSet.to_object(CollectorSet([usage("later", is_ready=is_ready), usage("now")]).bulk_fetch(CONTEXT))
    assert "later" not in output and "now" in output
    assert output["usage_collector_stats"]["not_ready"] == {"count": 1, "names": ["later"]}


def test_a_failing_fetch_is_isolated_and_logged(caplog):
    def explode(context):
        raise ZeroDivisionError("boom")

    collectors = CollectorSet([usage("before"), usage("broken", fetch=explode), usage("after")])
    with caplog.at_level(logging.WARNING, logger="usage_collection.collectors"):
        output = CollectorSet.to_object(collectors.bulk_fetch(CONTEXT))
    assert set(output) == {"before", "after", "usage_collector_stats"}
    stats = output["usage_collector_stats"]
    assert stats["failed"] == {"count": 1, "names": ["broken"]}
    assert stats["succeeded"]["names"] == ["before", "after"]
    assert [item["name"] for item in stats["fetch_duration_breakdown"]] == ["before", "broken", "after"]
    assert "Unable to fetch data from broken collector: ZeroDivisionError: boom" in caplog.text


@pytest.mark.parametrize("result, path", [
    ({"value": "1"}, "wrong.value"),
    ({}, "wrong.value"),
    ({"value": 1, "extra": 2}, "wrong.extra"),
    ([1], "wrong"),
], ids=["wrong type", "missing key", "extra key", "not an object"])
def test_a_result_that_does_not_match_its_schema_is_a_failure(caplog, result, path):
    collectors = CollectorSet([usage("wrong", fetch=lambda ctx: result), usage("right")])
    with caplog.at_level(logging.WARNING, logger="usage_collection.collectors"):
        output = CollectorSet.to_object(collectors.bulk_fetch(CONTEXT))
    assert "wrong" not in output and output["right"] == {"value": 1}
    assert output["usage_collector_stats"]["failed"]["names"] == ["wrong"]
    assert "Unable to fetch data from wrong collector: its result does not match its schema" in caplog.text
    assert f"{path}:" in caplog.text


def test_a_none_result_is_omitted_but_counts_as_succeeded():
    output = CollectorSet.to_object(CollectorSet([usage("quiet", fetch=lambda ctx: None)]).bulk_fetch(CONTEXT))
    assert "quiet" not in output
    assert output["usage_collector_stats"]["succeeded"]["names"] == ["quiet"]


def test_only_usage_leaves_stats_collectors_out():
    stats_collector = make_stats_collector(type="ops", fetch=lambda ctx: {"anything": ["goes"]})
    collectors = CollectorSet([usage("u"), stats_collector])
    assert set(CollectorSet.to_object(collectors.bulk_fetch(CONTEXT))) == {"u", "ops", "usage_collector_stats"}
    assert set(CollectorSet.to_object(collectors.bulk_fetch(CONTEXT, only_usage=True))) == {"u", "usage_collector_stats"}


def test_bulk_usage_fetch_is_opensearch_dashboards_name_for_the_usage_only_fetch():
    """OSD's usage_collection README (seed opensearch-dashboards-telemetry.md): ``bulkUsageFetch``
    answers only the UsageCollectors; ours is ``bulk_fetch(only_usage=True)`` under that name."""
    collectors = CollectorSet([usage("u"), make_stats_collector(type="ops", fetch=lambda ctx: {"queue": 1})])
    assert set(CollectorSet.to_object(collectors.bulk_usage_fetch(CONTEXT))) == {"u", "usage_collector_stats"}


def test_durations_add_up():
    def slow_fetch(context):
        time.sleep(0.05)
        return {"value": 1}

    stats = CollectorSet([usage("slow", fetch=slow_fetch), usage("fast")]).bulk_fetch(CONTEXT)[-1]["result"]
    fetch_ms = {item["name"]: item["duration"] for item in stats["fetch_duration_breakdown"]}
    assert fetch_ms["slow"] >= 50 > fetch_ms["fast"]
    assert stats["total_fetch_duration"] == pytest.approx(sum(fetch_ms.values()), abs=0.01)
    assert stats["total_duration"] == pytest.approx(stats["total_fetch_duration"] + stats["total_is_ready_duration"],
                                                    abs=0.01)


def test_schemas_include_the_stats_collector():
    schemas = CollectorSet([usage("mine")]).schemas()
    assert set(schemas) == {"mine", "usage_collector_stats"}
    assert list(CollectorSet([usage("b"), usage("a")]).mapping()["properties"]) == ["a", "b", "usage_collector_stats"]
