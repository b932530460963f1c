"""The tiny JSON codec against the stdlib ``json`` (the oracle) on many values."""

import json
import random

from client.fakes import raises
from usage_reporter import _json


def stdlib_dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


EXAMPLES = [
    None, True, False, 0, 1, -1, 2**53, -(2**63), 10**30,
    0.0, -0.0, 0.1, 2.5, -1.25, 1e-7, 1e16, 1e21, 1.7976931348623157e308, 5e-324, 123456.789,
    "", "plain", 'quote " and backslash \\', "slash / stays", "tab\tnew\nline\rreturn\bback\fform",
    "".join(chr(code) for code in range(32)), "\x7f del", "é ü ß 日本語", "emoji 😀 🎉", "\u2028\u2029",
    [], {}, [1, "a", None, [True, {}]], {"a": {"b": {"c": [1, 2, {"d": "e"}]}}},
    {"key with \"quotes\"": 1, "日本": "語", "": ""},
    {"reportVersion": 3, "uiCounter": {"a-click-b": {"key": "a-click-b", "appName": "a", "eventName": "b",
                                                     "type": "click", "total": 3}}},
]


def random_value(rng, depth=0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**60), 2**60)
    if kind == 3:
        return rng.uniform(-1e6, 1e6) * (10 ** rng.randint(-20, 20))
    if kind in (4, 5):
        return random_text(rng)
    if kind in (6, 7):
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {random_text(rng): random_value(rng, depth + 1) for _ in range(rng.randrange(5))}


def random_text(rng):
    alphabet = 'ab"\\/\n\t\x00\x1f é€😀\u2028'
    return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))


def test_dumps_matches_stdlib_on_examples():
    for value in EXAMPLES:
        assert _json.dumps(value) == stdlib_dumps(value), value


def test_dumps_matches_stdlib_on_random_values():
    rng = random.Random(20261107)
    for _ in range(400):
        value = random_value(rng)
        assert _json.dumps(value) == stdlib_dumps(value), value


def test_loads_reads_stdlib_output_in_every_style():
    rng = random.Random(7)
    values = EXAMPLES + [random_value(rng) for _ in range(300)]
    for value in values:
        for options in ({}, {"ensure_ascii": False}, {"indent": 2}, {"separators": (",", ":")}):
            text = json.dumps(value, **options)
            assert _json.loads(text) == json.loads(text), (value, options)


def test_round_trip_keeps_types():
    for value in EXAMPLES:
        back = _json.loads(_json.dumps(value))
        assert back == value and type(back) is type(value), value
    assert type(_json.loads("3")) is int
    assert type(_json.loads("3.0")) is float
    assert type(_json.loads("1e2")) is float


def test_loads_reads_what_json_stringify_writes():
    # Texts as a browser's JSON.stringify writes them (exponents, \u escapes, -0 as 0).
    texts = [
        '{"a":1e+21,"b":1.5e-7,"c":-0,"d":1E5,"e":0.1}',
        '"\\u2028\\u2029\\ud83d\\ude00\\u00e9"',
        '"lone \\ud800 and \\udc00 surrogates"',
        '{"nested":[[],{},[{}],"\\/"]}',
        ' \n\t {"spaced" : [ 1 , 2 ] } \r\n',
    ]
    for text in texts:
        assert _json.loads(text) == json.loads(text), text


def test_surrogate_pair_escape_is_one_character():
    assert _json.loads('"\\ud83d\\ude00"') == "😀"
    assert len(_json.loads('"\\ud83d\\ude00"')) == 1


def test_lone_surrogates_are_escaped_like_json_stringify():
    assert _json.dumps("a\ud800b") == '"a\\ud800b"'
    assert _json.dumps("\udfff") == '"\\udfff"'
    assert _json.loads(_json.dumps("x\udc00y")) == "x\udc00y"


def test_tuples_are_written_as_lists():
    assert _json.dumps((1, (2, "x"))) == "[1,[2,\"x\"]]"


def test_dumps_refuses_what_json_cannot_hold():
    for value in (float("nan"), float("inf"), float("-inf"), {1: "a"}, {("a",): 1}, {1, 2}, object(), b"x",
                  [1, float("nan")]):
        raises(ValueError, _json.dumps, value)
    assert "NaN" in str(raises(ValueError, _json.dumps, float("nan")))
    assert "object keys must be strings" in str(raises(ValueError, _json.dumps, {1: "a"}))


def test_loads_refuses_invalid_json_as_the_stdlib_does():
    bad = ["", " ", "{", "}", "[1,]", "[1 2]", "{'a':1}", '{"a" 1}', '{"a":1,}', '{a:1}', "01", "-01", "1.",
           ".5", "+1", "-", "1e", "1e+", "--1", "1.e5", "tru", "nul", '"abc', '"\\x"',
           '"\\u12"', '"\\u12zz"', '"raw\ttab"', '"raw\nnewline"', "1 2", '{"a":1} x', "[", "[[]", '"\\']
    for text in bad:
        raises(json.JSONDecodeError, json.loads, text)  # the oracle agrees it is invalid
        error = raises(ValueError, _json.loads, text)
        assert "invalid JSON" in str(error), (text, error)
    for text in ("NaN", "Infinity", "-Infinity"):  # the stdlib accepts these; JSON does not
        raises(ValueError, _json.loads, text)
    assert "must be a str" in str(raises(ValueError, _json.loads, None))


def test_error_says_where():
    assert "at character 5" in str(raises(ValueError, _json.loads, '[1, 2'))
