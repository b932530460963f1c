"""The compiled fast path (``validation_fast.fast_report``) against the walker
(``validate_body(parse_json(raw))``): for every body, either the fast path steps aside
(``None``) or it returns exactly the walker's report; and ``parse_report`` (what the routes
call) always answers what the walker answers, the same report or the same message.

Bodies come from the hostile-input strategies (valid, mutated, re-encoded, byte-flipped)
and from a serializer of our own that writes the same value many ways: duplicate keys at
any depth (also spelled with escapes), ``\\u`` escapes, whitespace, numbers as ``3.0`` or
``30e-1``. Hand-written cases pin each rule, and that the fast path takes the usual bodies
(otherwise it would be "correct" by never being used).
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from test_hostile_input import JUNK, NAMES, VALID_NAMES, encoded, mutated_reports, valid_reports
from usage_collection.errors import BadRequest
from usage_collection.validation import Limits, Report, parse_json, parse_report, validate_body
from usage_collection.validation_fast import _PRINTABLE_IS_VISIBLE, fast_report

PROPERTY = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
UC = "request body.report.uiCounter.discover-click-open"


def walker(raw: bytes, limits: Limits = Limits()) -> Report | str:
    """Today's answer: the report, or the refusal's message."""
    try:
        return validate_body(parse_json(raw), limits)
    except BadRequest as refused:
        return refused.message


def answer(raw: bytes, limits: Limits = Limits()) -> Report | str:
    try:
        return parse_report(raw, limits)
    except BadRequest as refused:
        return refused.message


def assert_agree(raw: bytes, limits: Limits = Limits()) -> Report | None:
    """The property; returns what the fast path said. ``repr`` tells 3 from 3.0 and 0.0 from -0.0."""
    want = walker(raw, limits)
    fast = fast_report(raw, limits)
    if fast is not None:
        assert isinstance(want, Report), f"the fast path accepted a body the walker refuses: {want}"
        assert repr(fast) == repr(want)
    got = answer(raw, limits)
    assert repr(got) == repr(want)
    return fast


# -- a serializer that writes one value many ways ------------------------------------------------

class Pairs(list):
    """A JSON object as a list of (key, value): it may hold a key twice."""


def to_pairs(value: Any) -> Any:
    if isinstance(value, dict):
        return Pairs((key, to_pairs(child)) for key, child in value.items())
    if isinstance(value, list):
        return [to_pairs(child) for child in value]
    return value


def objects(value: Any, out: list) -> list:
    if isinstance(value, Pairs):
        out.append(value)
    if isinstance(value, list):
        for child in value:
            objects(child[1] if isinstance(value, Pairs) else child, out)
    return out


def write(value: Any, rng: random.Random, escape: float, space: list[str]) -> str:
    ws = lambda: rng.choice(space)  # noqa: E731
    if isinstance(value, Pairs):
        members = [f"{write_string(key, rng, escape)}{ws()}:{ws()}{write(child, rng, escape, space)}"
                   for key, child in value]
        return "{" + ws() + ("," + ws()).join(members) + ws() + "}"
    if isinstance(value, list):
        return "[" + ",".join(write(child, rng, escape, space) for child in value) + "]"
    if isinstance(value, str):
        return write_string(value, rng, escape)
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int) and rng.random() < 0.2 and abs(value) < 10**15:
        return rng.choice([f"{value}.0", f"{value}e0", f"{value * 10}E-1", f"{value}.000"])
    return json.dumps(value)  # floats as repr (NaN/Infinity literals included: the walker refuses them)


SHORT_ESCAPES = {"/": "\\/", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def write_string(text: str, rng: random.Random, escape: float) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append(rng.choice(["\\" + char, f"\\u{code:04x}"]))
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF or rng.random() < escape:
            if code > 0xFFFF:
                high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
                out.append(f"\\u{high:04x}\\u{low:04X}")
            else:
                short = SHORT_ESCAPES.get(char)
                out.append(rng.choice([f"\\u{code:04x}", f"\\u{code:04X}"] + ([short] if short else [])))
        else:
            out.append(char)
    return "".join(out) + '"'


@st.composite
def rewritten(draw: st.DrawFn) -> bytes:
    """A body written by ``write``, maybe with a key repeated in one of its objects."""
    body = to_pairs(draw(st.one_of(valid_reports(), valid_reports(), mutated_reports())))
    rng = draw(st.randoms(use_true_random=False))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        target = rng.choice(objects(body, []))
        if target:
            key, value = rng.choice(target)
            again = value if rng.random() < 0.5 else draw(JUNK)
            target.insert(rng.randrange(len(target) + 1), (key, to_pairs(again)))
    escape = draw(st.sampled_from([0.0, 0.0, 0.05, 0.5, 1.0]))
    space = draw(st.sampled_from([[""], [""], ["", " "], ["", "\n", "\t ", "\r\n  "]]))
    return write(body, rng, escape, space).encode("utf-8", "surrogatepass")


LIMITS = st.one_of(st.just(Limits()), st.builds(Limits, max_entries=st.integers(0, 5),
                                                max_name_length=st.integers(0, 300),
                                                max_user_agent_length=st.integers(0, 30)))


@PROPERTY
@given(raw=st.one_of(encoded(st.one_of(valid_reports(), mutated_reports())), rewritten()), limits=LIMITS)
def test_fast_path_and_walker_agree_on_every_body(raw, limits):
    fast = assert_agree(raw, limits)
    event("fast path" if fast is not None else "walker accepts" if isinstance(walker(raw, limits), Report)
          else "refused")


@PROPERTY
@given(body=valid_reports(), ascii_only=st.booleans())
def test_fast_path_takes_every_valid_report_without_duplicates(body, ascii_only):
    """Valid reports, as clients write them (duplicates impossible): the fast path answers."""
    raw = json.dumps(body, ensure_ascii=ascii_only).encode()
    assert assert_agree(raw) is not None


@PROPERTY
@given(name=st.one_of(NAMES, VALID_NAMES, st.text()), where=st.sampled_from(
    ["eventName", "appName", "type", "key", "namespace", "map key"]))
def test_any_name_in_any_place(name, where):
    entry = {"key": "discover-click-open", "appName": "discover", "eventName": "open", "type": "click", "total": 1}
    map_key = "discover-click-open"
    if where == "map key":
        map_key = name
    else:
        entry[where] = name
    body = {"report": {"uiCounter": {map_key: entry}}}
    for ensure_ascii in (True, False):
        assert_agree(json.dumps(body, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass"))


# -- each rule by hand ---------------------------------------------------------------------------

def body(counter: str = "", report: str = "", usage: str = "") -> bytes:
    """A valid report (one uiCounter entry), with raw JSON text spliced into the entry, the report
    or an application_usage entry. Written by hand so duplicates and escapes survive."""
    entry = '"key": "discover-click-open", "appName": "discover", "eventName": "open", "type": "click"'
    entry += counter if '"total"' in counter else ', "total": 1' + counter
    app = '"appId": "discover", "viewId": "main"'
    app += usage if '"minutesOnScreen"' in usage else ', "minutesOnScreen": 1.5, "numberOfClicks": 2' + usage
    return (f'{{"report": {{"reportVersion": 3{report}, "uiCounter": {{"discover-click-open": {{{entry}}}}}, '
            f'"application_usage": {{"discover-main": {{{app}}}}}}}}}').encode()


REFUSED = [
    ("number as string", body(', "total": "4"'), f"[{UC}.total]: expected value of type [number] but got [string]"),
    ("boolean count", body(', "total": true'), f"[{UC}.total]: expected value of type [number] but got [boolean]"),
    ("version 2", body(report=', "reportVersion": 2').replace(b'"reportVersion": 3, ', b""),
     "[request body.report.reportVersion]: expected value to equal [3]"),
    ("unknown entry field", body(', "extra": 1'), f"[{UC}.extra]: definition for this key is missing"),
    ("unknown report field", body(report=', "extra": {}'),
     "[request body.report.extra]: definition for this key is missing"),
    ("unknown top field", body().replace(b'{"report"', b'{"x": 1, "report"'),
     "[request body.x]: definition for this key is missing"),
    ("missing field", body().replace(b'"eventName": "open", ', b""),
     f"[{UC}.eventName]: expected value of type [string] but got [undefined]"),
    ("name too long", body(', "namespace": "' + "n" * 257 + '"'),
     f"[{UC}.namespace]: value has length [257] but it must have a maximum length of [256]."),
    ("empty name", body().replace(b'"type": "click"', b'"type": ""'),
     f"[{UC}.type]: value has length [0] but it must have a minimum length of [1]."),
    ("fraction count", body(', "total": 2.5'), f"[{UC}.total]: expected a whole number (a count) but got [2.5]"),
    ("negative", body(', "total": -1'), f"[{UC}.total]: Value must be equal to or greater than [0]."),
    ("too large", body(', "total": 1000000001'), f"[{UC}.total]: Value must be equal to or lower than [1000000000]."),
    ("infinite minutes", body(usage=', "minutesOnScreen": 1e400, "numberOfClicks": 2'),
     "[request body.report.application_usage.discover-main.minutesOnScreen]: expected a finite number but got [inf]"),
    ("colon in app name", body().replace(b'"appName": "discover"', b'"appName": "dis:cover"'),
     f'[{UC}.appName]: value "dis:cover" must not contain ":" (it separates app and event in stored ids).'),
    ("colon in app id", body().replace(b'"appId": "discover"', b'"appId": "a:b"'),
     '[request body.report.application_usage.discover-main.appId]: value "a:b" must not contain ":" '
     "(it separates app and event in stored ids)."),
    ("reportId with a space", body(report=', "reportId": "a b"'),
     '[request body.report.reportId]: expected 1 to 64 characters from A-Z a-z 0-9 . _ : - but got "a b"'),
    ("duplicate entry field", body(', "total": 2, "total": 3'),
     '[request body]: the key "total" appears twice in one JSON object; send each key once.'),
    ("duplicate spelled with an escape", body(', "total": 2, "tot\\u0061l": 3'),
     '[request body]: the key "total" appears twice in one JSON object; send each key once.'),
    ("a NUL in a userAgent map key (stored, and PostgreSQL cannot hold it)",
     b'{"report": {"userAgent": {"k\\u0000": {"key": "k", "type": "user_agent", "appName": "a", "userAgent": "b"}}}}',
     '[request body.report.userAgent.k\x00]: key "k\\u0000" contains the control or format character U+0000; '
     'names must not hold tabs, newlines, bidi or zero-width characters.'),
    ("a zero-width character in a user agent",
     b'{"report": {"userAgent": {"k": {"key": "k", "type": "user_agent", "appName": "a", "userAgent": "b\\u200b"}}}}',
     '[request body.report.userAgent.k.userAgent]: value "b\\u200b" contains the control or format character '
     'U+200B; names must not hold tabs, newlines, bidi or zero-width characters.'),
    ("duplicate map key", body().replace(b'"uiCounter": {', b'"uiCounter": {"discover-click-open": {}, '),
     '[request body]: the key "discover-click-open" appears twice in one JSON object; send each key once.'),
    ("duplicate report field", body(report=', "reportVersion": 3'),
     '[request body]: the key "reportVersion" appears twice in one JSON object; send each key once.'),
    ("duplicate top key", body()[:-1] + b', "report": {}}',
     '[request body]: the key "report" appears twice in one JSON object; send each key once.'),
    ("escaped tab in a name", body().replace(b'"open"', b'"op\\ten"'),
     f'[{UC}.eventName]: value "op\\ten" contains the control or format character U+0009; '
     "names must not hold tabs, newlines, bidi or zero-width characters."),
    ("raw bidi override in a name", body().replace(b'"open"', '"op\u202een"'.encode()),
     f'[{UC}.eventName]: value "op\\u202een" contains the control or format character U+202E; '
     "names must not hold tabs, newlines, bidi or zero-width characters."),
    ("raw DEL in an ASCII name", body().replace(b'"open"', b'"op\x7fen"'),
     f'[{UC}.eventName]: value "op\\u007fen" contains the control or format character U+007F; '
     "names must not hold tabs, newlines, bidi or zero-width characters."),
    ("lone surrogate", body().replace(b'"open"', b'"\\ud800x"'),
     f"[{UC}.eventName]: value is not valid Unicode text (it holds a lone surrogate)."),
    ("NaN", body(', "total": NaN'), "[request body]: the body is not valid JSON (NaN is not a JSON number)."),
    ("trailing data", body() + b" {}",
     "[request body]: the body is not valid JSON (Extra data: line 1 column 303 (char 302))."),
    ("not UTF-8", body().replace(b"open", b"op\xffen"),
     "[request body]: the body is not UTF-8 text (invalid start byte at byte 64)."),
]


@pytest.mark.parametrize("raw, message", [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_each_rule_is_refused_with_the_walkers_message(raw, message):
    assert fast_report(raw, Limits()) is None
    assert answer(raw) == message
    assert_agree(raw)


def test_max_entries_per_map():
    two = b'{"report": {"userAgent": {"a": {"key": "k", "type": "t", "appName": "x", "userAgent": ""}, ' \
          b'"b": {"key": "k", "type": "t", "appName": "x", "userAgent": "u"}}}}'
    assert fast_report(two, Limits(max_entries=2)) is not None
    assert fast_report(two, Limits(max_entries=1)) is None
    assert answer(two, Limits(max_entries=1)) == ("[request body.report.userAgent]: has 2 entries but at most [1] "
                                                  "are accepted per report (USAGE_MAX_ENTRIES); send smaller reports.")


def test_name_limits_follow_the_limits():
    raw = body().replace(b'"open"', b'"' + b"e" * 25 + b'"')
    assert fast_report(raw, Limits(max_name_length=25)) is not None
    assert answer(raw, Limits(max_name_length=24)) == (f"[{UC}.eventName]: value has length [25] but it must have "
                                                       "a maximum length of [24].")
    agent = b'{"report": {"userAgent": {"a": {"key": "k", "type": "t", "appName": "x", "userAgent": "%s"}}}}'
    assert fast_report(agent % (b"u" * 1024), Limits()) is not None
    assert answer(agent % (b"u" * 1025), Limits()) == ("[request body.report.userAgent.a.userAgent]: value has length "
                                                       "[1025] but it must have a maximum length of [1024].")
    long_key = body().replace(b'"discover-click-open": {', b'"' + b"k" * 20 + b'": {')
    assert fast_report(long_key, Limits(max_name_length=19)) is None
    assert answer(long_key, Limits(max_name_length=19)).endswith("key has length [20] but it must have a maximum "
                                                                 "length of [19].")


ACCEPTED = [
    ("as bench/report.lua posts", body(report=', "reportId": "bench-1-1"')),
    ("compact", json.dumps(json.loads(body()), separators=(",", ":")).encode()),
    ("whole float count", body(', "total": 3.0')),
    ("exponent count", body(', "total": 30E-1')),
    ("zero and minus zero", body(', "total": -0.0', usage=', "minutesOnScreen": -0.0, "numberOfClicks": 0')),
    ("integer minutes", body(usage=', "minutesOnScreen": 2, "numberOfClicks": 2.0')),
    ("the maximum", body(', "total": 1000000000', usage=', "minutesOnScreen": 1e9, "numberOfClicks": 1000000000')),
    ("namespace, even empty", body(', "namespace": ""')),
    ("utf-8 names", body().replace(b'"open"', '"öffnen 日本 😀"'.encode())),
    ("escaped names", body().replace(b'"open"', b'"\\u00f6ffnen \\ud83d\\ude00 \\/"')),
    ("quotes and backslashes in names", body().replace(b'"open"', b'"a\\"b\\\\\\" \\\\"')),
    ("a quote right after an escaped backslash", body(', "namespace": "x\\\\"')),
    ("colon in an event name", body().replace(b'"open"', b'"ev:ent"')),
    ("invisible characters where the walker allows them (the namespace, not stored)",
     body(', "namespace": "\\t\\u202e"')),
    ("empty maps", b'{"report": {"uiCounter": {}, "userAgent": {}, "application_usage": {}}}'),
    ("empty report", b'{"report": {}}'),
    ("pretty printed", json.dumps(json.loads(body(report=', "reportId": "x"')), indent=2).encode()),
]


@pytest.mark.parametrize("raw", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED])
def test_the_fast_path_takes_valid_bodies_and_returns_the_walkers_report(raw):
    assert isinstance(walker(raw), Report)
    assert fast_report(raw, Limits()) is not None
    assert_agree(raw)


def test_counts_are_ints_and_minutes_floats():
    report = fast_report(body(', "total": 3.0', usage=', "minutesOnScreen": 2, "numberOfClicks": 7.0'), Limits())
    assert report is not None
    assert (report.ui_counters[0].total, type(report.ui_counters[0].total)) == (3, int)
    usage = report.application_usage[0]
    assert (usage.minutes_on_screen, type(usage.minutes_on_screen)) == (2.0, float)
    assert (usage.number_of_clicks, type(usage.number_of_clicks)) == (7, int)


@pytest.mark.parametrize("bad", [b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"],
                         ids=["overlong", "surrogate", "beyond-U+10FFFF", "lone-continuation", "truncated"])
@pytest.mark.parametrize("where", [b'"discover-click-open": {', b'"open"', b'"namespace"'])
def test_msgspec_refuses_what_is_not_utf8_wherever_it_is(bad, where):
    """The fast path relies on msgspec for UTF-8 (it does not decode the body again)."""
    raw = body(', "namespace": "n"').replace(where, where[:2] + bad + where[2:], 1)
    assert fast_report(raw, Limits()) is None
    assert answer(raw).startswith("[request body]: the body is not UTF-8 text")


def test_walker_only_forms_fall_back_and_are_still_accepted():
    """``"reportVersion": 3.0`` and a lone surrogate in a map key: the walker accepts them,
    the fast path leaves them to it."""
    for raw in (b'{"report": {"reportVersion": 3.0}}',
                b'{"report": {"userAgent": {"\\ud800": {"key": "k", "type": "t", "appName": "x", "userAgent": "u"}}}}'):
        assert fast_report(raw, Limits()) is None
        assert isinstance(answer(raw), Report)
        assert_agree(raw)


def test_python_calls_every_invisible_character_unprintable():
    """The premise of the fast path's one-call name check (``_visible``)."""
    assert _PRINTABLE_IS_VISIBLE
