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
        everything = usage.get_collector_set().to_object(usage.bulk_fetch(app=app))  # outside a request
        assert everything["ops"] == {"queue": 0} and everything["early"] == {"exports": 3}
        with app.test_request_context():
            assert "ops" not in usage.get_collector_set().to_object(usage.bulk_fetch(only_usage=True))
        with app.app_context():
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
        assert usage.get_collector_set().to_object(usage.bulk_fetch(app=app))["ctx"] == {"exports": 0}
    finally:
        app.extensions["usage_collection"].close()
    assert seen["now"] == clock.now and seen["settings"]["USAGE_COUNTERS_REPORT_DAYS"] == 3


def test_bulk_fetch_before_init_app_or_without_an_app_says_what_to_do(db_path):
    usage = UsageCollection()
    with pytest.raises(RuntimeError, match=r"init_app\(app\) has not been called yet for this app"):
        usage.bulk_fetch(app=Flask("not_initialised"))
    app = make_app(db_path, usage)
    try:
        with pytest.raises(RuntimeError, match=r"no app: pass app=\.\.\., or call this inside `with app.app_context\(\):`"):
            usage.bulk_fetch()
    finally:
        app.extensions["usage_collection"].close()


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


def stored_counts(db_path, sql):
    db = open_db(str(db_path))
    try:
        return db.query(sql)
    finally:
        db.close()


def test_one_usage_collection_on_two_apps_keeps_them_apart(db_path, tmp_path):
    """Flask's extension guide: state in app.extensions, none on the extension object, which
    serves any number of apps. Reports, server usage counters and bulk_fetch stay per app."""
    usage = UsageCollection(clock=Clock())
    exports = usage.create_usage_counter("shop")  # at import time, before either app exists
    first, second = make_app(db_path, usage), make_app(tmp_path / "second.db", usage)
    try:
        assert not hasattr(usage, "app")
        report = {"report": {"reportVersion": 3, "uiCounter": {
            "shop-click-buy": {"key": "shop-click-buy", "appName": "shop", "eventName": "buy", "type": "click",
                               "total": 3}}}}
        assert first.test_client().post("/api/ui_counters/_report", json=report,
                                        headers={"kbn-xsrf": "t"}).status_code == 200
        with first.test_request_context():
            exports.increment_counter(counter_name="csv", increment_by=2)
        with second.app_context():
            exports.increment_counter(counter_name="csv", increment_by=7)
        second_usage = second.test_client().get("/api/stats?extended&legacy").get_json()["usage"]
        assert second_usage["ui_metric"] == {}
        first_usage = usage.get_collector_set().to_object(usage.bulk_fetch(app=first, only_usage=True))
        assert first_usage["ui_metric"] == {"shop": [{"key": "buy", "value": 3}]}
    finally:
        first.extensions["usage_collection"].close()
        second.extensions["usage_collection"].close()
    server_counts = "SELECT domain_id, counter_name, count FROM usage_counters WHERE source = 'server'"
    assert stored_counts(db_path, server_counts) == [("shop", "csv", 2)]
    assert stored_counts(tmp_path / "second.db", server_counts) == [("shop", "csv", 7)]
    assert stored_counts(tmp_path / "second.db", "SELECT COUNT(*) FROM ui_metric") == [(0,)]
