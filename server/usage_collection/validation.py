"""Strict validation of a posted report body, at the edge, before anything is stored.

The field list is not repeated here: the walk follows ``REPORT_FIELDS`` / ``ENTRY_FIELDS``
from ``usage_reporter.report``, the module the browser builds reports with, so client and
server cannot drift apart. On top of those tables this module adds the rules a shared
store needs (names non-empty and bounded, counts whole and non-negative, no colon in app
names) and answers every refusal the way Kibana's config-schema does, naming the path::

    [request body.report.uiCounter.discover-click-open.total]: expected value of type [number] but got [string]

Choices that differ from Kibana (documented in the README): numeric strings such as
``"4"`` are refused (Kibana coerces them), ``total`` and ``numberOfClicks`` must be whole
numbers, a ``total`` of 0 is accepted and stores nothing, and names have length limits.

Fast path: ``parse_report`` first tries ``validation_fast.fast_report``, msgspec structs built
from the same tables and rules (about 6x cheaper on a 20-counter report, ``bench/validation.py``).
It answers only with the report this walk would return, or "not sure"; every refused body is
then walked here, so each message is the walker's. ``tests/server/test_validation_fast_path.py``
checks the two agree on generated valid, mutated and duplicate-key bodies.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping

from usage_reporter.report import (ENTRY_FIELDS, MAX_ENTRY_VALUE, REPORT_FIELDS, REPORT_ID_MAX_LENGTH, REPORT_VERSION,
                                   is_report_id)
from usage_reporter.validation import invisible_character

from .errors import BadRequest
from .report_types import (NO_COLON_FIELDS, NON_EMPTY_FIELDS, USER_AGENT_MAX_LENGTH, WHOLE_NUMBER_FIELDS,
                           ApplicationUsage, Limits, Report, UiCounter, UserAgent)
from .validation_fast import fast_report

REPORT_ID_CHARS = "A-Z a-z 0-9 . _ : -"
_ROOT = "request body"
_SHAPE_HINT = 'A report is posted as {"report": {"reportVersion": 3, "uiCounter": {...}}}.'


def parse_json(raw: bytes) -> Any:
    """Decode a body as strict JSON: UTF-8, no NaN/Infinity literals, no duplicate keys."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"[{_ROOT}]: the body is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicates)
    except BadRequest:
        raise
    except RecursionError:
        raise BadRequest(f"[{_ROOT}]: the JSON is nested too deeply.") from None
    except ValueError as exc:  # JSONDecodeError, and ints beyond Python's digit limit
        raise BadRequest(f"[{_ROOT}]: the body is not valid JSON ({exc}).") from None


def validate_body(body: Any, limits: Limits = Limits()) -> Report:
    """Check a decoded body ``{"report": {...}}`` and return the typed report, or raise ``BadRequest``."""
    if type(body) is not dict:
        raise _error(_ROOT, f"expected a plain object value, but found [{js_type(body)}] instead. {_SHAPE_HINT}")
    _object(body, _ROOT, {"report": None})
    if "report" not in body:
        raise _error(_ROOT + ".report", f"expected a plain object value, but found [undefined] instead. {_SHAPE_HINT}")
    path = _ROOT + ".report"
    report = body["report"]
    values = check_fields(report, path, REPORT_FIELDS, ENTRY_FIELDS, limits)
    return Report(
        report_id=values.get("reportId"),
        ui_counters=tuple(UiCounter(e["appName"], e["eventName"], e["type"], e["total"], e["key"], e.get("namespace"))
                          for _, e in values.get("uiCounter", ())),
        user_agents=user_agents(values.get("userAgent", ())),
        application_usage=tuple(ApplicationUsage(e["appId"], e["viewId"], e["minutesOnScreen"], e["numberOfClicks"])
                                for _, e in values.get("application_usage", ())),
    )


def check_fields(report: Any, path: str, fields: Mapping[str, tuple[Any, bool]],
                 entry_fields: Mapping[str, Mapping[str, tuple[Any, bool]]], limits: Limits) -> dict[str, Any]:
    """Check ``report``'s fields against a field table; maps become ``[(map key, entry), ...]``.

    Shared by report v3 (``REPORT_FIELDS``) and OpenSearch Dashboards' v1 (``report_v1.py``),
    so both answer bad input with the same rules and the same messages."""
    _object(report, path, fields)
    values: dict[str, Any] = {}
    for name, (kind, required) in fields.items():
        if name in report or required:
            values[name] = _value(report.get(name, _MISSING), f"{path}.{name}", name, kind, limits, entry_fields)
    return values


def user_agents(entries: Iterable[tuple[str, dict[str, Any]]]) -> tuple[UserAgent, ...]:
    """``UserAgent``s keyed by their map key (see ``UserAgent``), from checked ``userAgent`` entries."""
    return tuple(UserAgent(map_key, e["type"], e["appName"], e["userAgent"]) for map_key, e in entries)


def parse_report(raw: bytes, limits: Limits = Limits()) -> Report:
    """``parse_json`` then ``validate_body``: raw request bytes to a typed report. A body the
    compiled fast path (``validation_fast.py``) accepts skips the walk; any other goes
    through it, so every refusal is worded by ``validate_body``."""
    report = fast_report(raw, limits)
    if report is not None:
        return report
    return validate_body(parse_json(raw), limits)


class _Missing:
    pass


_MISSING = _Missing()


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"[{_ROOT}]: the body is not valid JSON ({name} is not a JSON number).")


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise BadRequest(f"[{_ROOT}]: the key {_show(key)} appears twice in one JSON object; "
                                 "send each key once.")
            seen.add(key)
    return result


def _value(value: Any, path: str, name: str, kind: Any, limits: Limits,
           entry_fields: Mapping[str, Mapping[str, tuple[Any, bool]]] = ENTRY_FIELDS) -> Any:
    """One field by its kind: "string", "boolean", "number", "version" (the literal 3), "map" (a record
    of ``entry_fields[name]`` entries), a tuple of allowed literals, or a dict (a nested object)."""
    if kind == "string":
        return _string(value, path, name, limits)
    if kind == "boolean":
        if type(value) is not bool:
            raise _error(path, f"expected value of type [boolean] but got [{js_type(value)}]")
        return value
    if kind == "number":
        return _number(value, path, name)
    if kind == "version":
        kind = (REPORT_VERSION,)
    if kind == "map":
        return _entries(value, path, entry_fields[name], limits)
    if isinstance(kind, tuple):
        for allowed in kind:
            if type(value) is not bool and isinstance(value, str) == isinstance(allowed, str) and value == allowed:
                return allowed
        if len(kind) == 1:
            raise _error(path, f"expected value to equal [{kind[0]}]")
        shown = _show(value) if isinstance(value, str) else f"[{js_type(value)}]"
        raise _error(path, f"expected one of [{', '.join(map(str, kind))}] but got {shown}")
    if isinstance(kind, dict):
        return _fields(value, path, kind, limits)
    raise AssertionError(f"unknown field kind {kind!r} for {name}")  # a bug in a field table


def _entries(value: Any, path: str, fields: Mapping[str, tuple[Any, bool]],
             limits: Limits) -> list[tuple[str, dict[str, Any]]]:
    if type(value) is not dict:
        raise _error(path, f"expected value of type [object] but got [{js_type(value)}]")
    if len(value) > limits.max_entries:
        raise _error(path, f"has {len(value)} entries but at most [{limits.max_entries}] are accepted "
                           "per report (USAGE_MAX_ENTRIES); send smaller reports.")
    entries = []
    for map_key, entry in value.items():
        if len(map_key) > limits.max_name_length:
            raise _error(f"{path}.{_segment(map_key)}", f"key has length [{len(map_key)}] but it must have "
                         f"a maximum length of [{limits.max_name_length}].")
        _refuse_invisible(map_key, f"{path}.{_segment(map_key)}", "key")  # a userAgent key is stored
        entries.append((map_key, _fields(entry, f"{path}.{_segment(map_key)}", fields, limits)))
    return entries


def _fields(entry: Any, path: str, fields: Mapping[str, tuple[Any, bool]], limits: Limits) -> dict[str, Any]:
    _object(entry, path, fields)
    checked = {}
    for field, (kind, required) in fields.items():
        if field in entry or required:
            checked[field] = _value(entry.get(field, _MISSING), f"{path}.{field}", field, kind, limits)
    return checked


def _object(value: Any, path: str, fields: Mapping[str, Any]) -> None:
    if type(value) is not dict:
        raise _error(path, f"expected a plain object value, but found [{js_type(value)}] instead.")
    for key in value:
        if key not in fields:
            raise _error(f"{path}.{_segment(key)}", "definition for this key is missing")


def _string(value: Any, path: str, name: str, limits: Limits) -> str:
    if type(value) is not str:
        raise _error(path, f"expected value of type [string] but got [{js_type(value)}]")
    if name == "reportId":
        if not is_report_id(value):
            raise _error(path, f"expected 1 to {REPORT_ID_MAX_LENGTH} characters from {REPORT_ID_CHARS} "
                               f"but got {_show(value)}")
        return value
    limit = limits.max_user_agent_length if name == "userAgent" else limits.max_name_length
    if len(value) > limit:
        raise _error(path, f"value has length [{len(value)}] but it must have a maximum length of [{limit}].")
    if not value and name in NON_EMPTY_FIELDS:
        raise _error(path, "value has length [0] but it must have a minimum length of [1].")
    if name in NO_COLON_FIELDS and ":" in value:
        raise _error(path, f'value {_show(value)} must not contain ":" (it separates app and event in stored ids).')
    if name in NON_EMPTY_FIELDS or name == "userAgent":  # a real user agent is printable text
        _refuse_invisible(value, path)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _error(path, "value is not valid Unicode text (it holds a lone surrogate).") from None
    return value


def _refuse_invisible(value: str, path: str, what: str = "value") -> None:
    """Names (app, event, type, view, key) hold no control or format characters: bidi overrides
    and zero-width characters make a name look like another one in the dashboard's legends.
    The client refuses the same characters (``usage_reporter.validation.INVISIBLE_RANGES``)."""
    if value.isascii() and value.isprintable():
        return
    char = invisible_character(value)
    if char is not None:
        raise _error(path, f"{what} {_show(value)} contains the control or format character U+{ord(char):04X}; "
                           "names must not hold tabs, newlines, bidi or zero-width characters.")


def _number(value: Any, path: str, name: str) -> int | float:
    kind = type(value)
    if kind is not int and kind is not float:
        raise _error(path, f"expected value of type [number] but got [{js_type(value)}]")
    if kind is float and not math.isfinite(value):
        raise _error(path, f"expected a finite number but got [{value}]")
    if value < 0:
        raise _error(path, "Value must be equal to or greater than [0].")
    if value > MAX_ENTRY_VALUE:
        raise _error(path, f"Value must be equal to or lower than [{MAX_ENTRY_VALUE}].")
    if name in WHOLE_NUMBER_FIELDS:
        if kind is float:
            if not value.is_integer():
                raise _error(path, f"expected a whole number (a count) but got [{value}]")
            return int(value)
        return value
    return float(value)


def js_type(value: Any) -> str:
    """The name Kibana's messages use for a value's type (JavaScript's ``typeDetect``)."""
    if value is _MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "Array"
    return "Object"


def _segment(key: str, limit: int = 80) -> str:
    """A map key as it appears in an error path, cut short so a huge key cannot bloat the answer."""
    return key if len(key) <= limit else key[:limit] + "…"


def _show(value: str, limit: int = 80) -> str:
    return json.dumps(_segment(value, limit))


def _error(path: str, message: str) -> BadRequest:
    return BadRequest(f"[{path}]: {message}")


def field_rules() -> Iterable[str]:
    """Every field name a rule above refers to (a test checks each exists in the field tables)."""
    return NON_EMPTY_FIELDS | NO_COLON_FIELDS | WHOLE_NUMBER_FIELDS | {"userAgent", "reportId"}


__all__ = ["NON_EMPTY_FIELDS", "NO_COLON_FIELDS", "REPORT_ID_CHARS", "USER_AGENT_MAX_LENGTH", "WHOLE_NUMBER_FIELDS",
           "ApplicationUsage", "Limits", "Report", "UiCounter", "UserAgent", "check_fields", "field_rules", "js_type",
           "parse_json", "parse_report", "user_agents", "validate_body"]
