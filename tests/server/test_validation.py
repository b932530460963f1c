"""validate_body / parse_report as plain functions: what is accepted, how it is normalised,
and that no input makes them fail any other way than BadRequest. (The table of refused
bodies, with their exact messages, is in tests/server/routes/test_ui_counters.py.)"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from usage_collection.errors import BadRequest
from usage_collection.settings import load_settings
from usage_collection.validation import (ApplicationUsage, Limits, Report, UiCounter, UserAgent, field_rules,
                                         parse_json, parse_report, validate_body)
from usage_reporter.report import (ENTRY_FIELDS, REPORT_FIELDS, application_usage_key, new_report, ui_counter_key,
                                   user_agent_key)


def client_report() -> dict:
    """A report built with the client's own wire-format helpers."""
    report = new_report()
    report["reportId"] = "0123456789abcdef0123456789abcdef"
    key = ui_counter_key("discover", "click", "open")
    report["uiCounter"] = {key: {"key": key, "appName": "discover", "eventName": "open", "type": "click",
                                 "total": 3, "namespace": "default"}}
    key = user_agent_key("kibana")
    report["userAgent"] = {key: {"key": key, "appName": "kibana", "type": "user_agent", "userAgent": "Mozilla/5.0"}}
    key = application_usage_key("discover", "main")
    report["application_usage"] = {key: {"appId": "discover", "viewId": "main", "minutesOnScreen": 2,
                                         "numberOfClicks": 7.0}}
    return {"report": report}


def test_a_client_built_report_becomes_a_typed_report():
    assert validate_body(client_report()) == Report(
        report_id="0123456789abcdef0123456789abcdef",
        ui_counters=(UiCounter("discover", "open", "click", 3, "discover-click-open", "default"),),
        user_agents=(UserAgent("kibana-user_agent", "user_agent", "kibana", "Mozilla/5.0"),),
        application_usage=(ApplicationUsage("discover", "main", 2.0, 7),),
    )


def test_numbers_are_normalised_counts_to_int_minutes_to_float():
    parsed = validate_body(client_report())
    assert type(parsed.ui_counters[0].total) is int
    assert type(parsed.application_usage[0].number_of_clicks) is int
    assert type(parsed.application_usage[0].minutes_on_screen) is float


@pytest.mark.parametrize("report", [{}, {"reportVersion": 3}, {"uiCounter": {}, "userAgent": {}}],
                         ids=["empty", "version-only", "empty-maps"])
def test_every_report_field_is_optional(report):
    assert validate_body({"report": report}) == Report()


def test_zero_total_is_accepted():
    body = client_report()
    next(iter(body["report"]["uiCounter"].values()))["total"] = 0
    assert validate_body(body).ui_counters[0].total == 0


def test_limits_come_from_the_settings():
    limits = Limits.from_settings(load_settings({"USAGE_MAX_ENTRIES": "7", "USAGE_MAX_NAME_LENGTH": 9}, environ={}))
    assert (limits.max_entries, limits.max_name_length, limits.max_user_agent_length) == (7, 9, 1024)
    body = client_report()
    body["report"]["uiCounter"]["discover-click-open"]["eventName"] = "e" * 10
    with pytest.raises(BadRequest, match=r"maximum length of \[9\]"):
        validate_body(body, limits)


def test_the_rules_name_fields_the_wire_format_has():
    from usage_collection.report_v1 import V1_ENTRY_FIELDS, V1_REPORT_FIELDS

    known = set(REPORT_FIELDS) | {name for fields in ENTRY_FIELDS.values() for name in fields}
    known |= set(V1_REPORT_FIELDS) | {name for fields in V1_ENTRY_FIELDS.values() for name in fields}
    known |= set(V1_ENTRY_FIELDS["uiStatsMetrics"]["stats"][0])
    assert set(field_rules()) <= known


@pytest.mark.parametrize("map_name, field", [(m, f) for m, fields in ENTRY_FIELDS.items()
                                             for f, (_, required) in fields.items() if required])
def test_every_required_field_of_the_wire_format_is_required(map_name, field):
    body = client_report()
    entry_key, entry = next(iter(body["report"][map_name].items()))
    del entry[field]
    kind = ENTRY_FIELDS[map_name][field][0]
    with pytest.raises(BadRequest) as refused:
        validate_body(body)
    assert refused.value.message == (f"[request body.report.{map_name}.{entry_key}.{field}]: "
                                      f"expected value of type [{kind}] but got [undefined]")


def test_integers_beyond_pythons_digit_limit_are_a_bad_request():
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_json(b'{"report": {"reportVersion": ' + b"9" * 5000 + b"}}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
entry_fields = {name: st.fixed_dictionaries({}, optional={
    field: json_values | (st.text(max_size=5) if kind == "string" else st.integers(-2, 5))
    for field, (kind, _) in fields.items()}) for name, fields in ENTRY_FIELDS.items()}
almost_reports = st.fixed_dictionaries({}, optional={
    "reportVersion": st.sampled_from([3, 2, "3", None, 3.0]),
    "reportId": st.text(max_size=70) | json_values,
    **{name: st.dictionaries(st.text(max_size=6), entries | json_values, max_size=3)
       for name, entries in entry_fields.items()},
})


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values, almost_reports.map(lambda report: {"report": report})))
def test_any_json_is_either_a_report_or_a_bad_request(body):
    try:
        report = parse_report(json.dumps(body).encode())
    except BadRequest as refused:
        assert refused.status == 400
        assert refused.message.startswith("[request ")
    else:
        assert isinstance(report, Report)
        assert all(c.total >= 0 and ":" not in c.app_name for c in report.ui_counters)
