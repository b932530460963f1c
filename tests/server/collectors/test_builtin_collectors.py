"""Built-in collectors: rows in, Kibana's shapes out, windows measured from an injected clock."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from usage_collection import UsageCollection
from usage_collection.collectors import CollectorSet, FetchContext, builtin_collectors, check
from usage_collection.collectors.application_usage import fetch_application_usage
from usage_collection.collectors.schema import node_kind
from usage_collection.collectors.ui_counters import fetch_ui_counters
from usage_collection.collectors.ui_metric import fetch_ui_metric
from usage_collection.collectors.usage_counters import fetch_usage_counters

from support.usage_rows import (
    NOW,
    add_app_total,
    add_app_usage,
    add_counter,
    add_ui_metric,
    add_user_agent,
    day,
)


def context(db, now=NOW, **settings):
    return FetchContext(None, now, settings, storage=db)


def test_ui_metric_lists_events_per_app_and_user_agents_like_kibana(db):
    """Kibana's collectors/ui_metric/index.test.ts ("results grouped by appName"): the user
    agent is listed verbatim under its key, slashes and all."""
    add_ui_metric(db, "discover", "open_doc_flyout", 3)
    add_ui_metric(db, "discover", "add_filter", 5)
    add_ui_metric(db, "dashboards", "dashboard_view", 1)
    add_user_agent(db, "kibana-user_agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
    assert fetch_ui_metric(context(db)) == {
        "dashboards": [{"key": "dashboard_view", "value": 1}],
        "discover": [{"key": "add_filter", "value": 5}, {"key": "open_doc_flyout", "value": 3}],
        "kibana-user_agent": [{"key": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                               "value": 1}],
    }


def test_ui_counters_are_kibanas_daily_events_for_recent_days(db):
    add_counter(db, "discover", "open", kind="click", on=day(0), count=3, updated_at=f"{day(0)}T11:43:00.961Z")
    add_counter(db, "discover", "open", kind="click", on=day(2), count=2)
    add_counter(db, "discover", "open", kind="click", on=day(3), count=9)  # before now - 3 days: not reported
    add_counter(db, "dashboards", "view", kind="loaded", on=day(1), count=1)
    add_counter(db, "discover", "zero", on=day(0), count=0)  # Kibana drops counts below 1
    add_counter(db, "my_plugin", "export", source="server", on=day(0), count=4)  # server counters elsewhere
    events = fetch_ui_counters(context(db))["dailyEvents"]
    assert events == [
        {"appName": "discover", "eventName": "open", "counterType": "click", "lastUpdatedAt": f"{day(2)}T10:00:00.000Z",
         "fromTimestamp": f"{day(2)}T00:00:00Z", "total": 2},
        {"appName": "dashboards", "eventName": "view", "counterType": "loaded",
         "lastUpdatedAt": f"{day(1)}T10:00:00.000Z", "fromTimestamp": f"{day(1)}T00:00:00Z", "total": 1},
        {"appName": "discover", "eventName": "open", "counterType": "click", "lastUpdatedAt": "2025-04-10T11:43:00.961Z",
         "fromTimestamp": "2025-04-10T00:00:00Z", "total": 3},
    ]


def test_usage_counters_use_server_field_names(db):
    add_counter(db, "my_plugin", "export", source="server", on=day(0), count=4,
                updated_at="2025-04-10T09:00:00+00:00")
    add_counter(db, "discover", "open", on=day(0), count=3)
    assert fetch_usage_counters(context(db)) == {"dailyEvents": [
        {"domainId": "my_plugin", "counterName": "export", "counterType": "count",
         "lastUpdatedAt": "2025-04-10T09:00:00.000Z", "fromTimestamp": "2025-04-10T00:00:00Z", "total": 4},
    ]}


def test_the_default_window_is_today_and_the_two_days_before(db):
    for days_ago in range(5):
        add_counter(db, "app", "event", on=day(days_ago))
        add_counter(db, "plugin", "export", source="server", on=day(days_ago))
    for fetch in (fetch_ui_counters, fetch_usage_counters):
        events = fetch(context(db))["dailyEvents"]
        assert [e["fromTimestamp"][:10] for e in events] == [day(2), day(1), day(0)]


def test_a_counter_exactly_three_days_old_is_kibanas_and_needs_four_report_days_here(db):
    """Kibana's ui_counters/rollups/rollups.test.ts: "returns false if doc is exactly x days
    old" (``diffInDays > numberOfDays``), so with 3 days Kibana still reports a counter last
    updated 3 days ago. Ours is a read window of N calendar days (the README says so): the
    default 3 leaves that counter out, and 4 covers what Kibana keeps."""
    for days_ago in (3, 4):
        add_counter(db, "app", "event", on=day(days_ago))
    assert fetch_ui_counters(context(db))["dailyEvents"] == []
    events = fetch_ui_counters(context(db, USAGE_COUNTERS_REPORT_DAYS=4))["dailyEvents"]
    assert [e["fromTimestamp"][:10] for e in events] == ["2025-04-07"]  # NOW is 2025-04-10


@pytest.mark.parametrize("report_days, expected_days", [(1, [0]), (3, [0, 2]), (30, [0, 2, 20])])
def test_the_counter_window_is_a_setting(db, report_days, expected_days):
    for days_ago in (0, 2, 20):
        add_counter(db, "app", "event", on=day(days_ago))
    events = fetch_ui_counters(context(db, USAGE_COUNTERS_REPORT_DAYS=report_days))["dailyEvents"]
    assert sorted(e["fromTimestamp"][:10] for e in events) == sorted(day(d) for d in expected_days)


def empty_usage(app, view="main"):
    return {"appId": app, "viewId": view, "clicks_total": 0, "clicks_7_days": 0, "clicks_30_days": 0,
            "clicks_90_days": 0, "minutes_on_screen_total": 0.0, "minutes_on_screen_7_days": 0.0,
            "minutes_on_screen_30_days": 0.0, "minutes_on_screen_90_days": 0.0}


def test_application_usage_sums_totals_and_windows_from_the_clock(db):
    add_app_total(db, "discover", "main", 100.0, 400)
    add_app_usage(db, "discover", "main", day(0), 1.5, 2)
    add_app_usage(db, "discover", "main", day(6), 2.0, 3)     # inside 7, 30, 90
    add_app_usage(db, "discover", "main", day(7), 4.0, 5)     # midnight before now - 7 days: 30 and 90 only
    add_app_usage(db, "discover", "main", day(45), 8.0, 10)   # 90 only
    add_app_usage(db, "discover", "main", day(95), 16.0, 20)  # not rolled up yet: total only
    add_app_usage(db, "discover", "doc_flyout", day(1), 0.25, 1)
    add_app_total(db, "discover", "doc_flyout", 1.0, 4)
    output = fetch_application_usage(context(db))
    assert output == {"discover": {
        "appId": "discover", "viewId": "main",
        "clicks_total": 440, "clicks_7_days": 5, "clicks_30_days": 10, "clicks_90_days": 20,
        "minutes_on_screen_total": 131.5, "minutes_on_screen_7_days": 3.5, "minutes_on_screen_30_days": 7.5,
        "minutes_on_screen_90_days": 15.5,
        "views": [{**empty_usage("discover", "doc_flyout"), "clicks_total": 5, "clicks_7_days": 1, "clicks_30_days": 1,
                   "clicks_90_days": 1, "minutes_on_screen_total": 1.25, "minutes_on_screen_7_days": 0.25,
                   "minutes_on_screen_30_days": 0.25, "minutes_on_screen_90_days": 0.25}],
    }}


def test_the_seven_day_window_includes_the_day_whose_midnight_is_exactly_seven_days_ago(db):
    midnight = datetime(2025, 4, 10, tzinfo=timezone.utc)
    add_app_usage(db, "app", "main", "2025-04-03", 1.0, 1)
    assert fetch_application_usage(context(db, now=midnight))["app"]["clicks_7_days"] == 1
    assert fetch_application_usage(context(db, now=midnight.replace(second=1)))["app"]["clicks_7_days"] == 0


def test_a_view_without_a_main_entry_is_kept_under_a_zero_main(db):
    add_app_usage(db, "lens", "editor", day(0), 2.0, 7)
    assert fetch_application_usage(context(db)) == {"lens": {
        **empty_usage("lens"),
        "views": [{**empty_usage("lens", "editor"), "clicks_total": 7, "clicks_7_days": 7, "clicks_30_days": 7,
                   "clicks_90_days": 7, "minutes_on_screen_total": 2.0, "minutes_on_screen_7_days": 2.0,
                   "minutes_on_screen_30_days": 2.0, "minutes_on_screen_90_days": 2.0}],
    }}


def test_minutes_are_rounded_so_float_noise_does_not_show(db):
    for offset in range(3):
        add_app_usage(db, "app", "main", day(offset), 0.1, 0)
    assert fetch_application_usage(context(db))["app"]["minutes_on_screen_total"] == 0.3


def test_every_builtin_output_matches_its_own_schema(db):
    add_ui_metric(db, "discover", "open", 1)
    add_user_agent(db, "kibana-user_agent", "curl/8")
    add_counter(db, "discover", "open", on=day(0))
    add_counter(db, "mine", "job", source="server", on=day(0))
    add_app_usage(db, "discover", "main", day(0), 1.0, 1)
    add_app_usage(db, "discover", "flyout", day(0), 1.0, 1)
    output = CollectorSet.to_object(CollectorSet(builtin_collectors()).bulk_fetch(context(db)))
    assert output["usage_collector_stats"]["succeeded"]["names"] == [
        "ui_metric", "ui_counters", "usage_counters", "application_usage"]
    for collector in builtin_collectors():
        check(output[collector.type], collector.schema, collector.type)


def test_empty_tables_give_empty_outputs(db):
    output = CollectorSet.to_object(CollectorSet(builtin_collectors()).bulk_fetch(context(db)))
    assert output["ui_metric"] == {} and output["application_usage"] == {}
    assert output["ui_counters"] == output["usage_counters"] == {"dailyEvents": []}


def undescribed_leaves(node, path):
    """Paths of leaves (and arrays of leaves) in a schema that have no _meta.description."""
    kind = node_kind(node)
    if kind == "object":
        return [p for key, child in node.items() if key != "_meta" for p in undescribed_leaves(child, f"{path}.{key}")]
    if kind == "array":
        return undescribed_leaves(node["items"], f"{path}[]")
    return [] if node.get("_meta", {}).get("description") else [path]


def test_builtins_are_registered_through_register_collector_and_cannot_be_shadowed():
    usage = UsageCollection()
    assert [c.type for c in usage.get_collector_set().collectors] == [
        "ui_metric", "ui_counters", "usage_counters", "application_usage"]
    undescribed = [path for c in usage.get_collector_set().collectors for path in undescribed_leaves(c.schema, c.type)]
    assert undescribed == []
    with pytest.raises(ValueError, match='Usage collector\'s type "ui_metric" is duplicated.'):
        usage.register_collector(usage.make_usage_collector(
            type="ui_metric", schema={"x": {"type": "long"}}, fetch=lambda ctx: {"x": 1}))
