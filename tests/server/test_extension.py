"""The extension's public methods: collectors and counters before and after init_app, close()."""

from __future__ import annotations

import pytest
from flask import Flask

from usage_collection import UsageCollection

from support.usage_rows import Clock, no_leaked_threads, open_db  # noqa: F401

pytestmark = pytest.mark.usefixtures("no_leaked_threads")

SCHEMA = {"exports": {"type": "long", "_meta": {"description": "CSV exports"}}}


def make_app(db_path, usage, **config):
    app = Flask("extension_test")
    app.config.update({"USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0, **config})
    usage.init_app(app)
    return app


def test_collectors_registered_before_init_app_are_in_stats(db_path):
    usage = UsageCollection(clock=Clock())
    usage.register_collector(usage.make_usage_collector(type="early", schema=SCHEMA, fetch=lambda ctx: {"exports": 3}))
    usage.register_collector(usage.make_stats_collector(type="ops", fetch=lambda ctx: {"queue": 0}))
    app = make_app(db_path, usage)
    try:
        body = app.test_client().get("/api/stats?extended&legacy").json
        assert body["usage"]["early"] == {"exports": 3}
        assert "ops" not in body["usage"]  # stats collectors are not usage
        everything = usage.get_collector_set().to_object(usage.bulk_fetch())  # outside a request
        assert everything["ops"] == {"queue": 0} and everything["early"] == {"exports": 3}
        with app.test_request_context():
            assert "ops" not in usage.get_collector_set().to_object(usage.bulk_fetch(only_usage=True))
        only_usage = usage.get_collector_set().to_object(usage.bulk_usage_fetch())  # OSD's bulkUsageFetch
        assert "ops" not in only_usage and only_usage["early"] == {"exports": 3}
    finally:
        app.extensions["usage_collection"].close()


def test_fetch_context_carries_db_now_and_settings(db_path):
    seen = {}

    def fetch(context):
        seen.update(context)
        return {"exports": context.db.conn.execute("SELECT COUNT(*) FROM ui_metric").fetchone()[0]}

    clock = Clock()
    usage = UsageCollection(clock=clock)
    usage.register_collector(usage.make_usage_collector(type="ctx", schema=SCHEMA, fetch=fetch))
    app = make_app(db_path, usage, USAGE_COUNTERS_REPORT_DAYS=3)
    try:
        assert usage.get_collector_set().to_object(usage.bulk_fetch())["ctx"] == {"exports": 0}
    finally:
        app.extensions["usage_collection"].close()
    assert seen["now"] == clock.now and seen["settings"]["USAGE_COUNTERS_REPORT_DAYS"] == 3


def test_bulk_fetch_before_init_app_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"init_app\(app\) has not been called"):
        UsageCollection().bulk_fetch()


def test_close_stops_threads_flushes_counters_and_stops_the_sender(db_path):
    usage = UsageCollection(clock=Clock())
    app = make_app(db_path, usage, USAGE_ROLLUP_INTERVAL_S=60, USAGE_COUNTERS_FLUSH_S=60,
                   USAGE_TELEMETRY_SEND_FROM="server", USAGE_TELEMETRY_URL="http://127.0.0.1:9/v3/send")
    state = app.extensions["usage_collection"]
    usage.create_usage_counter("d").increment_counter(counter_name="x")
    app.test_client().get("/api/status")
    assert state.rollup_task is not None and state.rollup_task.running
    assert state.telemetry_sender is not None and state.telemetry_sender.running
    state.close()
    state.close()
    assert state.rollup_task is None and not state.telemetry_sender.running
    db = open_db(str(db_path))
    assert db.query("SELECT domain_id, count FROM usage_counters") == [("d", 1)]
    db.close()
    app.test_client().get("/api/status")  # a request after close starts nothing again
    assert state.rollup_task is None


def test_one_usage_collection_per_database(db_path, tmp_path):
    usage = UsageCollection()
    first = make_app(db_path, usage)
    try:
        with pytest.raises(RuntimeError, match="use one UsageCollection per app"):
            make_app(tmp_path / "other.db", usage)
    finally:
        first.extensions["usage_collection"].close()
