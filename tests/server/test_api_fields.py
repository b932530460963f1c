"""Kibana's snake_case renaming for non-legacy /api/stats: lists of flat records (daily
events) are renamed with their key set converted once; every other value item by item.
Expected names are written out by hand, never computed with the module under test."""

from __future__ import annotations

import pytest

from usage_collection.api_fields import api_field_name, snake_case, to_api_field_names


@pytest.mark.parametrize("text, expected", [
    ("dailyEvents", "daily_events"), ("kibana-user_agent", "kibana_user_agent"), ("XMLHttp2", "xml_http_2"),
    ("minutes_on_screen_7_days", "minutes_on_screen_7_days"), ("appId", "app_id"),
])
def test_snake_case(text, expected):
    assert snake_case(text) == expected


@pytest.mark.parametrize("key, expected", [
    ("heapInBytes", "heap_bytes"), ("uptime_in_millis", "uptime_ms"), ("1_min", "1min"), ("15m", "15m"),
    ("5minutes", "5minutes"), ("loadAverage", "load_average"), ("counterType", "counter_type"),
])
def test_api_field_name(key, expected):
    assert api_field_name(key) == expected


EVENTS = [{"appName": "discover", "eventName": "openDoc", "total": n, "ratio": 0.5, "flag": None} for n in range(1000)]

# (input, its renaming written out by hand): keys renamed, values (also string values) untouched.
CASES = [
    ({"dailyEvents": EVENTS},
     {"daily_events": [{"app_name": "discover", "event_name": "openDoc", "total": n, "ratio": 0.5, "flag": None}
                       for n in range(1000)]}),
    ({"rows": [{"aB": 1}, {"aB": {"cD": 2}}]}, {"rows": [{"a_b": 1}, {"a_b": {"c_d": 2}}]}),  # nested: item by item
    ({"rows": [{"aB": 1, "cD": 2}, {"cD": 3, "aB": 4}]},                                        # same keys, other order
     {"rows": [{"a_b": 1, "c_d": 2}, {"c_d": 3, "a_b": 4}]}),
    ({"rows": [{"aB": 1}, {"bC": 1}]}, {"rows": [{"a_b": 1}, {"b_c": 1}]}),                    # different keys
    ({"rows": [{"aB": [1, {"xY": 2}]}]}, {"rows": [{"a_b": [1, {"x_y": 2}]}]}),                # a list inside a record
    ({"rows": [{"aB": 1}, "text", 3]}, {"rows": [{"a_b": 1}, "text", 3]}),                     # not only records
    ({"rows": [], "values": [1, "two", None], "pair": ({"aB": 1}, {"aB": 2})},
     {"rows": [], "values": [1, "two", None], "pair": [{"a_b": 1}, {"a_b": 2}]}),
    ({"usage": {"myApp": {"appId": "myApp", "views": [{"viewId": "v", "clicks_7_days": 1}]}}},
     {"usage": {"my_app": {"app_id": "myApp", "views": [{"view_id": "v", "clicks_7_days": 1}]}}}),
    ({"1_min": [{"loadAverage": 1.0}], "heap_in_bytes": 1, "uptime_in_millis": 2},
     {"1min": [{"load_average": 1.0}], "heap_bytes": 1, "uptime_ms": 2}),
]


@pytest.mark.parametrize("value, expected", CASES, ids=[f"case{n}" for n in range(len(CASES))])
def test_records_are_renamed_as_written_by_hand(value, expected):
    renamed = to_api_field_names(value)
    assert renamed == expected
    assert [list(r) for r in renamed.get("rows", []) if isinstance(r, dict)] == [  # key order kept, record by record
        list(r) for r in expected.get("rows", []) if isinstance(r, dict)]


def test_renamed_records_are_new_dicts_and_the_input_is_unchanged():
    records = [{"appName": "a", "total": 1}, {"appName": "b", "total": 2}]
    renamed = to_api_field_names(records)
    assert renamed == [{"app_name": "a", "total": 1}, {"app_name": "b", "total": 2}]
    assert records == [{"appName": "a", "total": 1}, {"appName": "b", "total": 2}]
    renamed[0]["total"] = 9
    assert renamed[1]["total"] == 2
