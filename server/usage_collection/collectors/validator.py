"""Checking a fetch result against its schema, compiled once per collector.

A schema is turned into nested closures when the collector is made, so checking the
thousands of ``dailyEvents`` of a busy deployment costs a few microseconds each. Paths are
only built when something is wrong: each level adds its key to the mismatch on the way
out, and ``check`` raises ``SchemaMismatch`` naming the full path, e.g.
``ui_counters.dailyEvents[3].total: expected long (a whole number), got str '3'``.

Arrays of leaves and of flat records (an object of required leaves, such as a daily
event) are first checked a column at a time with C-level passes (``set(map(type, ...))``,
``min``/``max``, each distinct date parsed once): tens of thousands of records in a few
milliseconds. The column pass only ever says "certainly fine"; anything else, including a
record that would pass the per-item checker in a way the column pass does not recognise
(a ``Mapping`` that is not a dict, an ``int`` subclass), goes through the per-item checker,
which names the path of the first mismatch exactly as before.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from datetime import date, datetime
from operator import itemgetter
from typing import Any, Callable

from .schema import DYNAMIC_KEY, INTEGER_RANGES, Schema, SchemaMismatch, is_optional, node_kind

Checker = Callable[[Any], None]
ColumnCheck = Callable[[list[Any]], bool]
_OPTIONAL_HINT = ' (declare it with "_meta": {"optional": true} if it may be absent)'


class _Mismatch(Exception):
    """Raised inside compiled checkers; ``parts`` collects the path innermost first."""

    def __init__(self, reason: str, *parts: str | int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts: list[str | int] = list(parts)


def check(value: Any, schema: Schema, path: str = "value") -> None:
    """Raise ``SchemaMismatch`` if ``value`` does not match ``schema`` (wrong type, missing or extra keys)."""
    run_checker(compile_checker(schema), value, path)


def run_checker(checker: Checker, value: Any, path: str) -> None:
    try:
        checker(value)
    except _Mismatch as exc:
        where = path + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in reversed(exc.parts))
        raise SchemaMismatch(where, exc.reason) from None


def compile_checker(node: Schema) -> Checker:
    kind = node_kind(node)
    if kind == "object":
        return _object_checker(node)
    if kind == "array":
        return _array_checker(compile_checker(node["items"]), _column_checker(node["items"]))
    if kind == "pass_through":
        return _check_json
    return _leaf_checker(node["type"])


def _object_checker(node: Schema) -> Checker:
    properties = [(key, compile_checker(child), is_optional(child)) for key, child in node.items()
                  if key not in ("_meta", DYNAMIC_KEY)]
    declared = frozenset(key for key, _, _ in properties)
    dynamic_node = node.get(DYNAMIC_KEY)
    dynamic = compile_checker(dynamic_node) if dynamic_node is not None else None
    dynamic_optional = dynamic_node is not None and is_optional(dynamic_node)

    def check_object(value: Any) -> None:
        if type(value) is not dict and not isinstance(value, Mapping):
            raise _Mismatch(f"expected an object, got {_describe(value)}")
        for key, checker, optional in properties:
            item = value.get(key)
            if item is None:
                if optional:
                    continue
                raise _Mismatch(("is None" if key in value else "missing") + _OPTIONAL_HINT, key)
            try:
                checker(item)
            except _Mismatch as exc:
                exc.parts.append(key)
                raise
        if dynamic is None:
            if not declared.issuperset(value):
                extra = next(key for key in value if key not in declared)
                raise _Mismatch("not declared in the schema", extra)
            return
        for key, item in value.items():
            if key in declared:
                continue
            if not isinstance(key, str):
                raise _Mismatch(f"keys must be strings, got {key!r}")
            if item is None and dynamic_optional:
                continue
            try:
                dynamic(item)
            except _Mismatch as exc:
                exc.parts.append(key)
                raise

    return check_object


def _array_checker(items: Checker, columns: ColumnCheck | None) -> Checker:
    def check_array(value: Any) -> None:
        if type(value) is not list and not isinstance(value, (list, tuple)):
            raise _Mismatch(f"expected an array, got {_describe(value)}")
        if columns is not None and type(value) is list and columns(value):
            return
        for index, item in enumerate(value):
            try:
                items(item)
            except _Mismatch as exc:
                exc.parts.append(index)
                raise

    return check_array


def _column_checker(node: Schema) -> ColumnCheck | None:
    """A whole-array pass for arrays of leaves or of flat records, or None for anything else."""
    kind = node_kind(node)
    if kind == "leaf":
        return _LEAF_COLUMNS.get(node["type"]) or _integer_column(*INTEGER_RANGES[node["type"]])
    if kind != "object" or DYNAMIC_KEY in node:
        return None
    fields = [(key, child) for key, child in node.items() if key != "_meta"]
    if any(node_kind(child) != "leaf" or is_optional(child) for _, child in fields):
        return None
    columns = [(itemgetter(key), _column_checker(child)) for key, child in fields]
    width = len(columns)

    def check_records(records: list[Any]) -> bool:
        if not records:
            return True
        if set(map(type, records)) != {dict} or set(map(len, records)) != {width}:
            return False
        try:  # every declared key present and as many keys as declared: no extra key either
            return all(ok(list(map(get, records))) for get, ok in columns)  # type: ignore[misc]
        except KeyError:
            return False

    return check_records


def _integer_column(low: int, high: int) -> ColumnCheck:
    def check_integers(values: list[Any]) -> bool:
        return not values or (set(map(type, values)) == {int} and low <= min(values) and max(values) <= high)

    return check_integers


def _number_column(values: list[Any]) -> bool:
    try:
        return set(map(type, values)) <= {int, float} and all(map(math.isfinite, values))
    except OverflowError:  # an int too big for a float: let the per-item checker say so
        return False


def _date_column(values: list[Any]) -> bool:
    types = set(map(type, values))
    if not types <= {str, int}:
        return False
    distinct = set(values) if types == {str} else {value for value in values if type(value) is str}
    try:
        deque(map(datetime.fromisoformat, distinct), maxlen=0)  # parse each distinct string once
    except (TypeError, ValueError):
        return False
    return True


_LEAF_COLUMNS: dict[str, ColumnCheck] = {
    "keyword": lambda values: set(map(type, values)) <= {str},
    "text": lambda values: set(map(type, values)) <= {str},
    "boolean": lambda values: set(map(type, values)) <= {bool},
    "double": _number_column,
    "float": _number_column,
    "date": _date_column,
}


def _leaf_checker(kind: str) -> Checker:
    if kind in INTEGER_RANGES:
        low, high = INTEGER_RANGES[kind]

        def check_integer(value: Any) -> None:
            if type(value) is not int and (not isinstance(value, int) or isinstance(value, bool)):
                raise _Mismatch(f"expected {kind} (a whole number), got {_describe(value)}")
            if not low <= value <= high:
                raise _Mismatch(f"{value} is out of range for {kind} ({low}..{high})")

        return check_integer
    if kind in ("double", "float"):
        def check_number(value: Any) -> None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise _Mismatch(f"expected {kind} (a number), got {_describe(value)}")
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an int beyond any float
                raise _Mismatch(f"{_describe(value)} is too large for {kind}") from None
            if not finite:
                raise _Mismatch(f"expected a finite {kind}, got {value}")

        return check_number
    if kind in ("keyword", "text"):
        def check_string(value: Any) -> None:
            if not isinstance(value, str):
                raise _Mismatch(f"expected {kind} (a string), got {_describe(value)}")

        return check_string
    if kind == "boolean":
        def check_boolean(value: Any) -> None:
            if not isinstance(value, bool):
                raise _Mismatch(f"expected boolean, got {_describe(value)}")

        return check_boolean
    return _check_date


def _check_date(value: Any) -> None:
    """An ISO 8601 string or epoch milliseconds, as Elasticsearch's default date format."""
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
            return
        except ValueError:
            raise _Mismatch(f"expected date as an ISO 8601 string, got {value!r}") from None
    if isinstance(value, (datetime, date)):
        raise _Mismatch("expected date as an ISO 8601 string or epoch milliseconds, got a Python date "
                        "(call .isoformat())")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Mismatch(f"expected date (ISO 8601 string or epoch milliseconds), got {_describe(value)}")


def _check_json(value: Any) -> None:
    """pass_through accepts anything that serialises to JSON, and nothing else."""
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Mismatch(f"{value} cannot be sent as JSON")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            try:
                _check_json(item)
            except _Mismatch as exc:
                exc.parts.append(index)
                raise
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Mismatch(f"keys must be strings, got {key!r}")
            try:
                _check_json(item)
            except _Mismatch as exc:
                exc.parts.append(key)
                raise
        return
    raise _Mismatch(f"{_describe(value)} cannot be sent as JSON")


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
