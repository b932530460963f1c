"""The collector value object, its constructor errors, and the schema language."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timezone

import pytest

from usage_collection.collectors import (
    DYNAMIC_KEY,
    Collector,
    FetchContext,
    SchemaError,
    SchemaMismatch,
    check,
    make_stats_collector,
    make_usage_collector,
    to_mapping,
    validate_schema,
)

LONG = {"type": "long", "_meta": {"description": "a count"}}
SCHEMA = {"clicks": LONG}


def fetch(context):
    return {"clicks": 1}


def test_make_usage_collector_gives_a_frozen_usage_collector():
    collector = make_usage_collector(type="my_plugin", schema=SCHEMA, fetch=fetch)
    assert isinstance(collector, Collector)
    assert (collector.type, collector.kind, collector.is_ready()) == ("my_plugin", "usage", True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        collector.type = "other"  # type: ignore[misc]


def test_stats_collector_may_omit_its_schema():
    collector = make_stats_collector(type="my_stats", fetch=fetch)
    assert (collector.kind, collector.schema) == ("stats", None)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"schema": SCHEMA, "fetch": fetch}, TypeError, "Collector must be instantiated with a options.type string property"),
    ({"type": "", "schema": SCHEMA, "fetch": fetch}, TypeError, "options.type string property"),
    ({"type": 7, "schema": SCHEMA, "fetch": fetch}, TypeError, "options.type string property"),
    ({"type": "x", "schema": SCHEMA}, TypeError, "Collector must be instantiated with a options.fetch function property"),
    ({"type": "x", "schema": SCHEMA, "fetch": {"clicks": 1}}, TypeError, "options.fetch function property"),
    ({"type": "x", "schema": SCHEMA, "fetch": fetch, "is_ready": True}, TypeError, "is_ready must be a function"),
    ({"type": "x", "fetch": fetch}, SchemaError, 'Usage collector "x" must declare a schema'),
    ({"type": "x", "schema": {"clicks": {"type": "int"}}, "fetch": fetch}, SchemaError, "x.clicks.type: unknown type 'int'"),
], ids=["no type", "empty type", "type not a string", "no fetch", "fetch not callable", "is_ready not callable",
        "usage collector without schema", "bad schema"])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error) as caught:
        make_usage_collector(**kwargs)
    assert message in str(caught.value)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match='kind must be "usage" or "stats"'):
        Collector("x", SCHEMA, fetch, kind="metrics")  # type: ignore[arg-type]


@pytest.mark.parametrize("schema, message", [
    ("long", "schema: expected a dict"),
    ({"a": {"type": "number"}}, "schema.a.type: unknown type 'number'"),
    ({"a": {"type": "long", "index": True}}, "schema.a: unexpected keys ['index']"),
    ({"a": {"type": "array"}}, "schema.a.items: an array needs an items schema"),
    ({"a": {"type": "array", "items": {"type": "nope"}}}, "schema.a.items.type: unknown type 'nope'"),
    ({"a": {"type": "pass_through"}}, "schema.a._meta.description: required for a pass_through value"),
    ({"a": {"type": "long", "_meta": {"descr": "x"}}}, "schema.a._meta: unknown keys ['descr']"),
    ({"a": {"type": "long", "_meta": {"optional": "yes"}}}, "schema.a._meta.optional: expected true or false"),
    ({"a": {}}, "schema.a: an object needs at least one property"),
    ({"_meta": {"description": "only a description"}}, "schema: an object needs at least one property"),
], ids=["not a dict", "unknown type", "extra key", "array without items", "bad items", "pass_through without description",
        "unknown meta key", "optional not bool", "empty object", "object with only _meta"])
def test_malformed_schemas_are_refused_with_their_path(schema, message):
    with pytest.raises(SchemaError) as caught:
        validate_schema(schema)
    assert message in str(caught.value)


def test_a_property_named_type_is_an_object_property():
    schema = {"type": {"type": "keyword"}, "count": LONG}
    validate_schema(schema)
    check({"type": "click", "count": 2}, schema)
    assert to_mapping(schema) == {"properties": {"type": {"type": "keyword"}, "count": LONG}}


NESTED = {
    "total": LONG,
    "ratio": {"type": "double"},
    "name": {"type": "keyword"},
    "small": {"type": "byte"},
    "flag": {"type": "boolean"},
    "when": {"type": "date"},
    "note": {"type": "text", "_meta": {"optional": True}},
    "items": {"type": "array", "items": {"key": {"type": "keyword"}, "value": {"type": "long"}}},
    "by_app": {DYNAMIC_KEY: {"type": "integer"}},
    "extra": {"type": "pass_through", "_meta": {"description": "anything"}},
}
GOOD = {"total": 3, "ratio": 0.5, "name": "x", "small": 127, "flag": False, "when": "2025-01-01T00:00:00Z",
        "items": [{"key": "a", "value": 1}], "by_app": {"discover": 2, "dashboards": 0}, "extra": {"any": [1, "x"]}}


def test_a_matching_value_passes():
    check(GOOD, NESTED)
    check({**GOOD, "note": None, "when": 1735689600000}, NESTED)


@pytest.mark.parametrize("change, path, reason", [
    ({"total": "3"}, "v.total", "expected long (a whole number), got str '3'"),
    ({"total": 2.5}, "v.total", "expected long"),
    ({"total": True}, "v.total", "expected long"),
    ({"small": 128}, "v.small", "128 is out of range for byte"),
    ({"ratio": "0.5"}, "v.ratio", "expected double (a number)"),
    ({"ratio": math.nan}, "v.ratio", "expected a finite double"),
    ({"name": 1}, "v.name", "expected keyword (a string)"),
    ({"flag": 0}, "v.flag", "expected boolean"),
    ({"when": "yesterday"}, "v.when", "expected date as an ISO 8601 string"),
    ({"when": datetime(2025, 1, 1, tzinfo=timezone.utc)}, "v.when", "call .isoformat()"),
    ({"total": None}, "v.total", "is None"),
    ({"items": [{"key": "a", "value": 1}, {"key": "b"}]}, "v.items[1].value", "missing"),
    ({"items": {"key": "a"}}, "v.items", "expected an array"),
    ({"items": [{"key": "a", "value": 1, "more": 2}]}, "v.items[0].more", "not declared in the schema"),
    ({"by_app": {"discover": "2"}}, "v.by_app.discover", "expected integer"),
    ({"extra": {"bad": {1, 2}}}, "v.extra.bad", "cannot be sent as JSON"),
    ({"surprise": 1}, "v.surprise", "not declared in the schema"),
], ids=lambda case: str(case) if not isinstance(case, dict) else ",".join(case))
def test_a_mismatch_names_its_path(change, path, reason):
    with pytest.raises(SchemaMismatch) as caught:
        check({**GOOD, **change}, NESTED, "v")
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_a_missing_required_key_is_a_mismatch():
    value = {key: item for key, item in GOOD.items() if key != "flag"}
    with pytest.raises(SchemaMismatch, match=r"v\.flag: missing"):
        check(value, NESTED, "v")


def test_to_mapping_is_telemetry_checks_shape():
    schema = {
        "_meta": {"description": "object descriptions are not part of the mapping"},
        "count": LONG,
        "views": {"type": "array", "items": {"name": {"type": "keyword"}}},
        "tags": {"type": "array", "items": {"type": "keyword", "_meta": {"description": "a tag"}}},
        "raw": {"type": "pass_through", "_meta": {"description": "free-form"}},
    }
    assert to_mapping(schema) == {"properties": {
        "count": {"type": "long", "_meta": {"description": "a count"}},
        "views": {"type": "array", "items": {"properties": {"name": {"type": "keyword"}}}},
        "tags": {"type": "array", "items": {"type": "keyword", "_meta": {"description": "a tag"}}},
        "raw": {"type": "pass_through", "_meta": {"description": "free-form"}},
    }}


def test_fetch_context_is_read_only_and_reads_both_ways():
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    context = FetchContext("db", now, {"USAGE_X": 1}, request_id="r1")
    assert (context.db, context["now"], context.settings["USAGE_X"], context.request_id) == ("db", now, 1, "r1")
    assert set(context) == {"db", "now", "settings", "request_id"}
    with pytest.raises(AttributeError):
        context.db = "other"
    with pytest.raises(TypeError):
        context["db"] = "other"  # type: ignore[index]
