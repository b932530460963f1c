"""Kibana's snake_case renaming for non-legacy /api/stats: lists of flat records (daily
events) are renamed with their key set converted once, and give exactly what renaming
each record would."""

from __future__ import annotations

import pytest

from usage_collection.api_fields import api_field_name, snake_case, to_api_field_names


def renamed_one_by_one(value):
    """The plain recursive renaming, as the reference."""
    if isinstance(value, dict):
        return {api_field_name(str(key)): renamed_one_by_one(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [renamed_one_by_one(item) for item in value]
    return value


@pytest.mark.parametrize("text, expected", [
    ("dailyEvents", "daily_events"), ("kibana-user_agent", "kibana_user_agent"), ("XMLHttp2", "xml_http_2"),
    ("minutes_on_screen_7_days", "minutes_on_screen_7_days"), ("appId", "app_id"),
])
def test_snake_case(text, expected):
    assert snake_case(text) == expected


@pytest.mark.parametrize("value", [
    {"dailyEvents": [{"appName": "discover", "eventName": "openDoc", "total": n, "ratio": 0.5, "flag": None}
                     for n in range(1000)]},
    {"rows": [{"aB": 1}, {"aB": {"cD": 2}}]},                   # a nested value: item by item
    {"rows": [{"aB": 1, "cD": 2}, {"cD": 2, "aB": 1}]},          # same keys, other order
    {"rows": [{"aB": 1}, {"bC": 1}]},                            # different keys
    {"rows": [{"aB": [1, {"xY": 2}]}]},                          # a list inside a record
    {"rows": [{"aB": 1}, "text", 3]},                            # not only records
    {"rows": [], "values": [1, "two", None], "pair": ({"aB": 1}, {"aB": 2})},
    {"usage": {"my_app": {"appId": "myApp", "views": [{"viewId": "v", "clicks_7_days": 1}]}}},
    {"1_min": [{"loadAverage": 1.0}], "heap_in_bytes": 1, "uptime_in_millis": 2},
])
def test_records_are_renamed_as_one_by_one(value):
    assert to_api_field_names(value) == renamed_one_by_one(value)


def test_renamed_records_are_new_dicts_and_the_input_is_unchanged():
    records = [{"appName": "a", "total": 1}, {"appName": "b", "total": 2}]
    renamed = to_api_field_names(records)
    assert renamed == [{"app_name": "a", "total": 1}, {"app_name": "b", "total": 2}]
    assert records == [{"appName": "a", "total": 1}, {"appName": "b", "total": 2}]
    renamed[0]["total"] = 9
    assert renamed[1]["total"] == 2
