"""Large arrays of flat records (daily events) are checked a column at a time; a mismatch
anywhere still names its exact path, and whatever the column pass does not recognise is
left to the per-item checker, so both paths accept and refuse the same values."""

from __future__ import annotations

import math
from collections import UserDict
from datetime import datetime, timezone

import pytest

from usage_collection.collectors import SchemaMismatch, check
from usage_collection.collectors.ui_counters import UI_COUNTERS_SCHEMA

RECORDS = 5000


def events(count: int = RECORDS) -> list[dict]:
    return [{"appName": f"app{n % 100}", "eventName": f"event_{n}", "counterType": "click",
             "lastUpdatedAt": f"2025-01-0{1 + n % 3}T11:43:00.961Z", "fromTimestamp": f"2025-01-0{1 + n % 3}T00:00:00Z",
             "total": n + 1} for n in range(count)]


def test_a_large_valid_array_passes():
    check({"dailyEvents": events()}, UI_COUNTERS_SCHEMA)
    check({"dailyEvents": []}, UI_COUNTERS_SCHEMA)


@pytest.mark.parametrize("change, field, reason", [
    ({"total": "3"}, "total", "expected long (a whole number), got str '3'"),
    ({"total": True}, "total", "expected long"),
    ({"total": 2.0}, "total", "expected long"),
    ({"total": 2**63}, "total", "out of range for long"),
    ({"total": -(2**63) - 1}, "total", "out of range for long"),
    ({"total": None}, "total", "is None"),
    ({"appName": 7}, "appName", "expected keyword (a string)"),
    ({"lastUpdatedAt": "yesterday"}, "lastUpdatedAt", "expected date as an ISO 8601 string"),
    ({"lastUpdatedAt": datetime(2025, 1, 1, tzinfo=timezone.utc)}, "lastUpdatedAt", "call .isoformat()"),
    ({"fromTimestamp": 1.5}, "fromTimestamp", "expected date (ISO 8601 string or epoch milliseconds)"),
    ({"surprise": 1}, "surprise", "not declared in the schema"),
], ids=lambda case: ",".join(case) if isinstance(case, dict) else None)
@pytest.mark.parametrize("index", [0, 2345, RECORDS - 1])
def test_one_bad_record_among_thousands_is_named_by_its_index(change, field, reason, index):
    records = events()
    records[index] = {**records[index], **change}
    with pytest.raises(SchemaMismatch) as caught:
        check({"dailyEvents": records}, UI_COUNTERS_SCHEMA, "ui_counters")
    assert caught.value.path == f"ui_counters.dailyEvents[{index}].{field}"
    assert reason in caught.value.reason


def test_a_missing_key_is_named_even_when_another_key_keeps_the_width():
    records = events()
    del records[10]["total"]
    records[10]["other"] = 1
    with pytest.raises(SchemaMismatch) as caught:
        check({"dailyEvents": records}, UI_COUNTERS_SCHEMA, "v")
    assert caught.value.path == "v.dailyEvents[10].total" and "missing" in caught.value.reason


def test_a_record_that_is_not_an_object_is_named():
    records = events()
    records[3] = ["not", "a", "record"]
    with pytest.raises(SchemaMismatch, match=r"v\.dailyEvents\[3\]: expected an object"):
        check({"dailyEvents": records}, UI_COUNTERS_SCHEMA, "v")


def test_what_the_column_pass_does_not_know_still_passes_item_by_item():
    class Count(int):
        pass

    records = events(50)
    records[0] = UserDict(records[0])  # a Mapping that is not a dict
    records[1] = {**records[1], "total": Count(4)}  # an int subclass
    records[2] = {**records[2], "lastUpdatedAt": 1735689600000}  # epoch milliseconds
    check({"dailyEvents": records}, UI_COUNTERS_SCHEMA)
    check({"dailyEvents": tuple(events(5))}, UI_COUNTERS_SCHEMA)


DOUBLES = {"values": {"type": "array", "items": {"type": "double"}}}
FLAT_DOUBLES = {"rows": {"type": "array", "items": {"ratio": {"type": "double"}, "flag": {"type": "boolean"}}}}


@pytest.mark.parametrize("value, path", [
    ({"values": [0.5] * 1000 + [math.nan]}, "v.values[1000]"),
    ({"values": [1] * 10 + [10**400]}, "v.values[10]"),
    ({"values": [1.0, "2"]}, "v.values[1]"),
    ({"rows": [{"ratio": 1.0, "flag": True}] * 100 + [{"ratio": math.inf, "flag": False}]}, "v.rows[100].ratio"),
    ({"rows": [{"ratio": 1.0, "flag": True}, {"ratio": 1.0, "flag": 1}]}, "v.rows[1].flag"),
])
def test_columns_of_numbers_and_booleans_refuse_what_items_refuse(value, path):
    schema = DOUBLES if "values" in value else FLAT_DOUBLES
    with pytest.raises(SchemaMismatch) as caught:
        check(value, schema, "v")
    assert caught.value.path == path
