"""Server usage counters: buffered and merged, flushed on a timer and at close, never raising."""

from __future__ import annotations

import logging
import time

import pytest

from usage_collection import UsageCollection
from usage_collection.stats_payload import fetch_usage
from usage_collection.storage import open_storage
from usage_collection.usage_counters import UsageCounters

from support.usage_rows import Clock, db, no_leaked_threads, open_db, usage_threads  # noqa: F401

pytestmark = pytest.mark.usefixtures("no_leaked_threads")


def rows(url):
    database = open_db(str(url))
    try:
        return database.query(
            "SELECT domain_id, counter_name, counter_type, source, day, count, updated_at FROM usage_counters "
            "ORDER BY domain_id, counter_name, counter_type, day")
    finally:
        database.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def service(db, db_url, clock):
    counters = UsageCounters(clock, storage=db, flush_interval_s=0, retry_base_delay_s=0.01)
    yield counters
    counters.close()


def test_a_domain_is_created_once(service):
    counter = service.create_usage_counter("my_plugin", retention_period_days=3)
    assert service.get_usage_counter_by_domain_id("my_plugin") is counter
    assert service.get_usage_counter_by_domain_id("other") is None
    assert service.retention_by_domain() == {"my_plugin": 3}
    with pytest.raises(ValueError) as caught:
        service.create_usage_counter("my_plugin")
    assert str(caught.value) == 'Usage counter set "my_plugin" already exists.'


def test_increments_are_merged_in_memory_until_a_flush(service, db_url, clock):
    counter = service.create_usage_counter("my_plugin")
    counter.increment_counter(counter_name="export")
    counter.increment_counter(counter_name="export", increment_by=4)
    clock.advance(minutes=5)
    counter.increment_counter("export", "click")
    assert service.pending() == {("my_plugin", "export", "count", "2025-04-10"): 5,
                                 ("my_plugin", "export", "click", "2025-04-10"): 1}
    assert rows(db_url) == []
    assert service.flush() == 2
    assert service.pending() == {}
    assert rows(db_url) == [
        ("my_plugin", "export", "click", "server", "2025-04-10", 1, "2025-04-10T12:05:00.000Z"),
        ("my_plugin", "export", "count", "server", "2025-04-10", 5, "2025-04-10T12:00:00.000Z"),
    ]
    counter.increment_counter(counter_name="export", increment_by=2)
    service.flush()
    assert rows(db_url)[1][5] == 7


def test_the_day_is_the_utc_day_of_the_increment_not_of_the_flush(service, db_url, clock):
    counter = service.create_usage_counter("d")
    clock.now = clock.now.replace(hour=23, minute=59)
    counter.increment_counter(counter_name="late")
    clock.advance(minutes=2)
    service.flush()
    assert rows(db_url)[0][4] == "2025-04-10"


@pytest.mark.parametrize("kwargs, reason", [
    ({}, "counter_name must be a non-empty string"),
    ({"counter_name": ""}, "counter_name must be a non-empty string"),
    ({"counter_name": 5}, "counter_name must be a non-empty string"),
    ({"counter_name": "x", "counter_type": None}, "counter_type must be a non-empty string"),
    ({"counter_name": "x", "increment_by": 0}, "increment_by must be a whole number of at least 1"),
    ({"counter_name": "x", "increment_by": -2}, "increment_by must be a whole number of at least 1"),
    ({"counter_name": "x", "increment_by": 1.5}, "increment_by must be a whole number of at least 1"),
    ({"counter_name": "x", "increment_by": True}, "increment_by must be a whole number of at least 1"),
    ({"counter_name": "x", "namespace": 3}, "namespace must be a string or None"),
    ({"counterName": "x"}, "unexpected arguments ['counterName']"),
], ids=lambda case: repr(case) if isinstance(case, dict) else None)
def test_bad_arguments_are_logged_and_dropped_never_raised(service, caplog, kwargs, reason):
    counter = service.create_usage_counter("d")
    with caplog.at_level(logging.WARNING, logger="usage_collection.usage_counters"):
        assert counter.increment_counter(**kwargs) is None
    assert service.pending() == {}
    assert f"usage counter 'd': increment dropped: {reason}" in caplog.text


def test_a_broken_clock_does_not_reach_the_caller(db, caplog):
    def clock():
        raise RuntimeError("clock broke")

    counters = UsageCounters(clock, storage=db, flush_interval_s=0)
    with caplog.at_level(logging.ERROR, logger="usage_collection.usage_counters"):
        counters.create_usage_counter("d").increment_counter(counter_name="x")
    assert "increment dropped" in caplog.text
    counters.close()


def test_a_failed_write_keeps_the_counts_for_the_next_flush(tmp_path, clock, caplog):
    missing_dir = tmp_path / "not-yet" / "usage.db"
    counters = UsageCounters(clock, storage=open_storage(str(missing_dir)), flush_interval_s=0, retries=2, retry_base_delay_s=0.01)
    counter = counters.create_usage_counter("d")
    counter.increment_counter(counter_name="x", increment_by=2)
    with caplog.at_level(logging.WARNING, logger="usage_collection.usage_counters"):
        assert counters.flush() == 0
    assert "could not write 1 counters after 3 attempts" in caplog.text
    counter.increment_counter(counter_name="x", increment_by=3)
    assert counters.pending() == {("d", "x", "count", "2025-04-10"): 5}

    missing_dir.parent.mkdir()
    open_db(str(missing_dir)).close()
    assert counters.flush() == 1
    assert rows(missing_dir)[0][5] == 5
    counters.close()


def test_the_buffer_is_bounded_while_storage_fails(tmp_path, clock, caplog):
    counters = UsageCounters(clock, storage=open_storage(str(tmp_path / "no" / "db")), flush_interval_s=0, retries=0,
                             max_buffered=2)
    counter = counters.create_usage_counter("d")
    with caplog.at_level(logging.WARNING, logger="usage_collection.usage_counters"):
        for name in ("a", "b", "c"):
            counter.increment_counter(counter_name=name)
        counter.increment_counter(counter_name="a")  # an existing key still counts
    assert counters.pending() == {("d", "a", "count", "2025-04-10"): 2, ("d", "b", "count", "2025-04-10"): 1}
    assert "buffer full" in caplog.text
    counters.flush()  # fails, keeps what fits
    assert len(counters.pending()) == 2
    counters.close()


def test_a_flush_thread_writes_without_being_asked_and_close_stops_it(db, db_url, clock):
    counters = UsageCounters(clock, storage=db, flush_interval_s=0.05)
    assert not usage_threads()  # no thread before the first increment
    counters.create_usage_counter("d").increment_counter(counter_name="tick")
    assert any(t.name == "usage-collection-counters-flush" for t in usage_threads())
    deadline = time.monotonic() + 5
    while not rows(db_url) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rows(db_url)[0][:6] == ("d", "tick", "count", "server", "2025-04-10", 1)
    counters.close()
    assert not usage_threads()


def test_close_writes_what_is_left(db, db_url, clock):
    counters = UsageCounters(clock, storage=db, flush_interval_s=60)
    counter = counters.create_usage_counter("d")
    counter.increment_counter(counter_name="last", increment_by=9)
    started = time.monotonic()
    counters.close()
    assert time.monotonic() - started < 2  # stopping does not wait for the 60 s interval
    assert rows(db_url)[0][5] == 9
    counters.close()  # idempotent


def test_counters_created_before_init_app_are_written_to_the_apps_database(db_url, clock):
    from flask import Flask

    usage = UsageCollection(clock=clock)
    early = usage.create_usage_counter("early_plugin")
    early.increment_counter(counter_name="imported")
    app = Flask("counters_test")
    app.config.update(USAGE_DB=db_url, USAGE_ROLLUP_INTERVAL_S=0)
    usage.init_app(app)
    assert usage.get_usage_counter_by_domain_id("early_plugin") is early
    early.increment_counter(counter_name="imported")
    with pytest.raises(ValueError, match='Usage counter set "early_plugin" already exists.'):
        usage.create_usage_counter("early_plugin")
    app.extensions["usage_collection"].close()
    assert rows(db_url)[0][:6] == ("early_plugin", "imported", "count", "server", "2025-04-10", 2)


def test_flushed_counters_reach_the_usage_counters_collector(app):
    state = app.extensions["usage_collection"]
    state.usage_counters.create_usage_counter("reports").increment_counter(counter_name="pdf", increment_by=2)
    state.usage_counters.flush()
    usage = fetch_usage(state, state.storage, state.clock())
    assert [(e["domainId"], e["counterName"], e["total"]) for e in usage["usage_counters"]["dailyEvents"]] == [
        ("reports", "pdf", 2)]
