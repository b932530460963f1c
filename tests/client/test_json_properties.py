"""Properties of the tiny JSON codec, with Hypothesis and the stdlib ``json`` as the oracle.

pytest-only (Hypothesis), unlike test_json.py whose examples also run in Pyodide.
"""

import json

from hypothesis import given, settings, strategies as st

from usage_reporter import _json

SETTINGS = settings(max_examples=200, deadline=None, database=None)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(st.text(), children, max_size=4), max_leaves=15)
STYLES = [{}, {"ensure_ascii": False}, {"indent": 1}, {"separators": (",", ":")}, {"ensure_ascii": False, "indent": 2}]
JSONISH = '{}[]":,0123456789.eE+-truefalsn \\u/\t\n\x01é😀'


def strict_stdlib_loads(text):
    """The stdlib parser without its NaN/Infinity extension (not JSON)."""
    def refuse(name):
        raise ValueError(name)
    return json.loads(text, parse_constant=refuse)


@SETTINGS
@given(values)
def test_dumps_is_the_stdlib_compact_form(value):
    assert _json.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@SETTINGS
@given(values, st.sampled_from(STYLES))
def test_loads_reads_every_stdlib_style(value, style):
    assert _json.loads(json.dumps(value, **style)) == value


@SETTINGS
@given(st.text(alphabet=JSONISH, max_size=30) | values.map(json.dumps).flatmap(
    lambda text: st.integers(0, len(text)).map(lambda cut: text[:cut])))
def test_loads_accepts_and_refuses_what_the_stdlib_does(text):
    try:
        expected = strict_stdlib_loads(text)
    except ValueError:
        expected = ValueError
    try:
        got = _json.loads(text)
    except ValueError:
        got = ValueError
    assert got == expected
