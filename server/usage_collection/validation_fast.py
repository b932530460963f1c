"""The compiled fast path of report validation: msgspec structs that accept exactly what
``validation.validate_body`` accepts, so a good report costs one C-level decode instead of
a Python walk of every field.

It only ever says "this is the report" or "not sure" (``None``): ``validation.parse_report``
then runs the walker, which words the error exactly as before (or accepts a body this path
leaves to it, such as ``"reportVersion": 3.0``). Most rules are struct types built from the
field tables (``REPORT_FIELDS`` / ``ENTRY_FIELDS``) once per ``Limits``: strict types,
``reportVersion`` 3, required and unknown fields, lengths, non-empty names, 0 to
``MAX_ENTRY_VALUE``, at most ``max_entries`` per map, the reportId alphabet. msgspec refuses
bytes that are not UTF-8, lone surrogates, raw control characters in strings, NaN and
trailing data on its own (``test_validation_fast_path.py`` pins each). The rest is checked
after decoding, on the decoded values:

* **duplicate keys**: msgspec keeps the last of two equal keys where the walker refuses the
  body. Every JSON string (key or value) is delimited by two unescaped ``"``, and a body that
  decoded into these structs holds no other ``"``; the decoded report says exactly how many
  strings a body without duplicates has (a key per field present, a value per string field).
  A duplicate adds at least its key's string, so the counts differ and the walker decides.
* whole counts (``3.0`` is 3, ``2.5`` is not), no ``:`` in app names, no control or format
  character in names (skipped when the body is printable ASCII without escapes, where none
  can hide).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal, NamedTuple

import msgspec
from msgspec import UNSET, Meta, UnsetType

from usage_reporter.report import ENTRY_FIELDS, MAX_ENTRY_VALUE, REPORT_FIELDS, REPORT_ID_ALPHABET, REPORT_ID_MAX_LENGTH
from usage_reporter.validation import INVISIBLE_RANGES

from .report_types import (NO_COLON_FIELDS, NON_EMPTY_FIELDS, WHOLE_NUMBER_FIELDS, ApplicationUsage, Limits, Report,
                           UiCounter, UserAgent)

# The client's table of control and format characters (``invisible_character``) as one regex.
_INVISIBLE = re.compile("[" + "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}"
                                      for low, high in INVISIBLE_RANGES) + "]")
# True unless this Python's Unicode database calls one of the table's characters printable.
_PRINTABLE_IS_VISIBLE = not any(chr(code).isprintable() for low, high in INVISIBLE_RANGES
                                for code in range(low, high + 1))
_REPORT_ID_PATTERN = f"^[{re.escape(REPORT_ID_ALPHABET)}]{{1,{REPORT_ID_MAX_LENGTH}}}\\Z"
_Amount = Meta(ge=0, le=MAX_ENTRY_VALUE)
_WholeAmount = Annotated[int, _Amount] | Annotated[float, _Amount]  # a float is checked whole after decoding
# What the Report is built from below, per map: a change to the field tables or the rules
# that this module does not follow fails at import (``_check_tables``), not silently.
_HANDLED = {
    "uiCounter": {"no_colon": ("appName",), "named": ("key", "type", "appName", "eventName"),
                  "whole": ("total",), "optional": ("namespace",)},
    "userAgent": {"no_colon": ("appName",), "named": ("key", "type", "appName"), "whole": (), "optional": ()},
    "application_usage": {"no_colon": ("appId",), "named": ("appId", "viewId"), "whole": ("numberOfClicks",),
                          "optional": ()},
}


class _FastPath(NamedTuple):
    decoder: msgspec.json.Decoder
    entry_strings: dict[str, int]  # JSON strings in one entry of each map (its key, field names, string values)


def fast_report(raw: bytes, limits: Limits) -> Report | None:
    """The report ``validate_body(parse_json(raw), limits)`` would return, or ``None`` when this
    path refuses or cannot tell (the walker then decides and words the error)."""
    path = _fast_path(limits)
    try:
        report = path.decoder.decode(raw).report
    except (msgspec.MsgspecError, ValueError):  # ValueError: msgspec's UnicodeDecodeError
        return None
    # Printable ASCII without escapes: no string can hold a control or format character.
    # Otherwise the names are gathered and checked at the end.
    names: list[str] | None = None if raw.isascii() and b"\\" not in raw and b"\x7f" not in raw else []
    strings = 1  # "report"
    report_id = report.reportId
    if report_id is UNSET:
        report_id = None
    else:
        strings += 2
    if report.reportVersion is not UNSET:
        strings += 1

    ui_counters: list[UiCounter] = []
    entries = report.uiCounter
    if entries is not UNSET:
        strings += 1 + len(entries) * path.entry_strings["uiCounter"]
        if names is not None:
            names += entries  # map keys hold no control or format character either
        for e in entries.values():
            total = e.total
            if total.__class__ is float:
                if not total.is_integer():
                    return None
                total = int(total)
            namespace = e.namespace
            if namespace is UNSET:
                namespace = None
            else:
                strings += 2
            if ":" in e.appName:
                return None
            if names is not None:
                names += (e.key, e.type, e.appName, e.eventName)
            ui_counters.append(UiCounter(e.appName, e.eventName, e.type, total, e.key, namespace))

    user_agents: list[UserAgent] = []
    entries = report.userAgent
    if entries is not UNSET:
        strings += 1 + len(entries) * path.entry_strings["userAgent"]
        for map_key, e in entries.items():
            if ":" in e.appName:
                return None
            if names is not None:
                names += (map_key, e.key, e.type, e.appName, e.userAgent)
            user_agents.append(UserAgent(map_key, e.type, e.appName, e.userAgent))

    application_usage: list[ApplicationUsage] = []
    entries = report.application_usage
    if entries is not UNSET:
        strings += 1 + len(entries) * path.entry_strings["application_usage"]
        if names is not None:
            names += entries
        for e in entries.values():
            clicks = e.numberOfClicks
            if clicks.__class__ is float:
                if not clicks.is_integer():
                    return None
                clicks = int(clicks)
            if ":" in e.appId:
                return None
            if names is not None:
                names += (e.appId, e.viewId)
            application_usage.append(ApplicationUsage(e.appId, e.viewId, e.minutesOnScreen, clicks))

    if names is not None and not _visible(names):
        return None
    if _delimiting_quotes(raw) != 2 * strings:  # a duplicate key (see the module's docstring)
        return None
    return Report(report_id, tuple(ui_counters), tuple(user_agents), tuple(application_usage))


def _delimiting_quotes(raw: bytes) -> int:
    """The ``"`` that open or close a JSON string. Outside strings valid JSON has no backslash;
    inside, escapes read left to right, so dropping ``\\\\`` pairs leaves ``\\"`` as the only
    escaped quotes."""
    if b"\\" not in raw or b'\\"' not in raw:  # no escaped quote, no quote after an escaped backslash
        return raw.count(b'"')
    unpaired = raw.replace(b"\\\\", b"")
    return unpaired.count(b'"') - unpaired.count(b'\\"')


def _visible(names: list[str]) -> bool:
    """No control or format character in any of ``names`` (the walker's ``_refuse_invisible``).
    Every such character is unprintable to Python, so one ``isprintable`` call clears the
    usual report; the table's regex only looks at reports holding some unprintable name."""
    if _PRINTABLE_IS_VISIBLE and "".join(names).isprintable():
        return True
    return not any(_INVISIBLE.search(name) for name in names)


@lru_cache(maxsize=32)
def _fast_path(limits: Limits) -> _FastPath:
    """The structs and decoder for one set of limits, built once (settings rarely change)."""
    entry_structs = {name: _struct(f"{name}Entry", fields, limits) for name, fields in ENTRY_FIELDS.items()}
    key_type = Annotated[str, Meta(max_length=limits.max_name_length)]
    report_fields: list[tuple[str, Any, Any]] = []
    for name, (kind, required) in REPORT_FIELDS.items():
        if kind == "map":
            kind_type: Any = Annotated[dict[key_type, entry_structs[name]],  # type: ignore[valid-type]
                                       Meta(max_length=limits.max_entries)]
        else:
            kind_type = _field_type(name, kind, limits)
        report_fields.append((name, kind_type, None) if required else (name, kind_type | UnsetType, UNSET))
    report_struct = _defstruct("Report", report_fields)
    body_struct = _defstruct("Body", [("report", report_struct, None)])
    entry_strings = {name: 1 + sum(1 + (kind == "string") for kind, required in fields.values() if required)
                     for name, fields in ENTRY_FIELDS.items()}
    return _FastPath(msgspec.json.Decoder(body_struct), entry_strings)


def _struct(name: str, fields: dict[str, tuple[Any, bool]], limits: Limits) -> type[msgspec.Struct]:
    return _defstruct(name, [(field, _field_type(field, kind, limits), None) if required
                             else (field, _field_type(field, kind, limits) | UnsetType, UNSET)
                             for field, (kind, required) in fields.items()])


def _defstruct(name: str, fields: list[tuple[str, Any, Any]]) -> type[msgspec.Struct]:
    specs = [(field, kind) if default is None else (field, kind, default) for field, kind, default in fields]
    return msgspec.defstruct(name, specs, kw_only=True, forbid_unknown_fields=True, gc=False)


def _field_type(name: str, kind: Any, limits: Limits) -> Any:
    """The walker's ``_value`` rules for one field, as a type msgspec checks while decoding."""
    if kind == "version":
        return Literal[3]
    if kind == "number":
        return _WholeAmount if name in WHOLE_NUMBER_FIELDS else Annotated[float, _Amount]
    if kind == "string":
        if name == "reportId":
            return Annotated[str, Meta(pattern=_REPORT_ID_PATTERN)]
        if name == "userAgent":
            return Annotated[str, Meta(max_length=limits.max_user_agent_length)]
        return Annotated[str, Meta(min_length=1 if name in NON_EMPTY_FIELDS else 0,
                                   max_length=limits.max_name_length)]
    raise AssertionError(f"no fast path for the field kind {kind!r} of {name}")


def _check_tables() -> None:
    """The per-map rules ``fast_report`` applies by hand are those the tables ask for."""
    problems = [] if set(ENTRY_FIELDS) == set(_HANDLED) else ["the maps differ"]
    for name, fields in ENTRY_FIELDS.items():
        handled = _HANDLED.get(name, {})
        expected = {"no_colon": set(fields) & NO_COLON_FIELDS, "named": set(fields) & NON_EMPTY_FIELDS,
                    "whole": set(fields) & WHOLE_NUMBER_FIELDS,
                    "optional": {field for field, (kind, required) in fields.items() if not required}}
        problems += [f"{name}.{rule}" for rule, want in expected.items() if set(handled.get(rule, ())) != want]
        problems += [f"{name}.{field} is not a string" for field in expected["optional"]
                     if fields[field][0] != "string"]
    if {kind for kind, _ in REPORT_FIELDS.values()} - {"version", "string", "map"} or any(
            required for _, required in REPORT_FIELDS.values()) or REPORT_FIELDS.get("reportId", ("",))[0] != "string":
        problems.append("REPORT_FIELDS")
    if problems:
        raise RuntimeError(f"validation_fast.py does not follow the field tables: {', '.join(problems)}")


_check_tables()
