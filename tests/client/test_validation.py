"""report_ui_counter's checks: every bad call fails at once with a message that says why."""

from client.fakes import Harness, raises
from usage_reporter import METRIC_TYPE
from usage_reporter.validation import check_ui_counter

LONG = "x" * 257

# (app_name, metric_type, event_names, count) -> the exact ValueError message
BAD_CALLS = [
    (("a:b", "click", "e", 1), 'app_name "a:b" must not contain ":" (colons separate the parts of stored ids)'),
    (("", "click", "e", 1), "app_name must not be empty or blank"),
    (("   ", "click", "e", 1), "app_name must not be empty or blank"),
    ((None, "click", "e", 1), "app_name must be a string, not NoneType None"),
    ((3, "click", "e", 1), "app_name must be a string, not int 3"),
    ((LONG, "click", "e", 1), 'app_name "' + "x" * 37 + '..." is 257 characters long; the limit is 256'),
    (("app", "", "e", 1), "metric_type must not be empty or blank"),
    (("app", None, "e", 1), "metric_type must be a string, not NoneType None"),
    (("app", "click", [], 1), "event_names must name at least one event (got an empty list)"),
    (("app", "click", (), 1), "event_names must name at least one event (got an empty list)"),
    (("app", "click", "", 1), "event name must not be empty or blank"),
    (("app", "click", ["ok", ""], 1), "event name must not be empty or blank"),
    (("app", "click", ["ok", 5], 1), "event name must be a string, not int 5"),
    (("app", "click", None, 1), "event_names must be a string or a list of strings, not NoneType"),
    (("app", "click", {"e"}, 1), "event_names must be a string or a list of strings, not set"),
    (("app", "click", "e", 0), "count must be at least 1 (got 0); counters only go up"),
    (("app", "click", "e", -2), "count must be at least 1 (got -2); counters only go up"),
    (("app", "click", "e", 1.5), "count must be a positive whole number, not float 1.5"),
    (("app", "click", "e", 2.0), "count must be a positive whole number, not float 2.0"),
    (("app", "click", "e", True), "count must be a positive whole number, not bool True"),
    (("app", "click", "e", "3"), 'count must be a positive whole number, not str "3"'),
    (("app", "click", "e", None), "count must be a positive whole number, not NoneType None"),
    (("app", "click", "e", 10**9 + 1), "count 1000000001 is too large; the limit is 1000000000"),
    (("a" * 100, "click", "e" * 150, 1),
     'the counter key "' + "a" * 37 + '..." (app_name-metric_type-event_name) is 257 characters long; '
     "the limit is 256"),
]

GOOD_CALLS = [
    ("app", METRIC_TYPE.CLICK, "e", 1),
    ("app", METRIC_TYPE.LOADED, ["a", "b"], 3),
    ("app", METRIC_TYPE.COUNT, ("a",), 10**9),
    ("app", "custom_type", "event:with:colons", 1),  # only app names are parts of stored ids
    ("my-app_2", "click", "日本語", 1),
    ("a" * 100, "click", "e" * 149, 1),  # key of exactly 256 characters
]


def test_bad_calls_raise_value_error_saying_why():
    wrong = []
    for args, message in BAD_CALLS:
        error = raises(ValueError, check_ui_counter, *args)
        if str(error) != message:
            wrong.append((args, str(error), message))
    assert not wrong, wrong


def test_reporter_raises_the_same_errors_and_records_nothing():
    harness = Harness()
    for args, message in BAD_CALLS:
        error = raises(ValueError, harness.reporter.report_ui_counter, *args)
        assert str(error) == message
    assert harness.stored() is None
    harness.reporter.flush()
    assert harness.transport.sent == []


def test_a_list_with_one_bad_name_records_none_of_it():
    harness = Harness()
    raises(ValueError, harness.reporter.report_ui_counter, "app", "click", ["good", ""])
    assert harness.stored() is None


def test_good_calls_are_accepted():
    for app_name, metric_type, event_names, count in GOOD_CALLS:
        names = check_ui_counter(app_name, metric_type, event_names, count)
        expected = [event_names] if isinstance(event_names, str) else list(event_names)
        assert names == expected


def test_validation_applies_even_when_opted_out():
    harness = Harness()
    harness.reporter.opt_out()
    error = raises(ValueError, harness.reporter.report_ui_counter, "a:b", "click", "e")
    assert "must not contain" in str(error)
