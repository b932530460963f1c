"""Kibana's ``toApiFieldNames``: snake_case every key, recursively, for non-legacy /api/stats.

Kibana 7.x applied it to ``usage`` when ``legacy`` was false, so ``dailyEvents`` became
``daily_events`` and ``appName`` ``app_name`` (and map keys such as app ids are converted
too). ``snake_case`` follows lodash's word splitting: case changes, digit runs and any
non-alphanumeric character separate words::

    >>> snake_case("dailyEvents"), snake_case("kibana-user_agent"), snake_case("XMLHttp2")
    ('daily_events', 'kibana_user_agent', 'xml_http_2')
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain, repeat
from typing import Any

_LOAD = re.compile(r"^(1|5|15)_m")


def _kind(char: str) -> str:
    if char.isdigit():
        return "digit"
    if char.isupper():
        return "upper"
    if char.isalpha() or char.islower():
        return "lower"
    return "other"


def words(text: str) -> list[str]:
    """lodash ``words``: split on separators, lower→upper changes, ``XMLHttp``-style acronyms and digits."""
    found: list[str] = []
    current = ""
    for index, char in enumerate(text):
        kind = _kind(char)
        if kind == "other":
            if current:
                found.append(current)
            current = ""
            continue
        if current:
            previous = _kind(current[-1])
            following = _kind(text[index + 1]) if index + 1 < len(text) else "other"
            boundary = (
                (kind == "digit") != (previous == "digit")
                or (kind == "upper" and previous == "lower")
                or (kind == "upper" and previous == "upper" and following == "lower")
            )
            if boundary:
                found.append(current)
                current = ""
        current += char
    if current:
        found.append(current)
    return found


def snake_case(text: str) -> str:
    return "_".join(word.lower() for word in words(text))


@lru_cache(maxsize=4096)  # the same few keys repeat in every daily event: 90% of /api/stats time without it
def api_field_name(key: str) -> str:
    """Kibana's renaming of one key: snake_case, ``1_m`` → ``1m``, ``_in_bytes`` → ``_bytes``, ``_in_millis`` → ``_ms``."""
    name = _LOAD.sub(r"\1m", snake_case(key))
    return name.replace("_in_bytes", "_bytes", 1).replace("_in_millis", "_ms", 1)


def to_api_field_names(value: Any) -> Any:
    """Rename every dict key inside ``value`` (lists included); values are left alone."""
    if isinstance(value, dict):
        return {api_field_name(str(key)): to_api_field_names(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        records = _flat_records(value)
        return records if records is not None else [to_api_field_names(item) for item in value]
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _flat_records(items: list[Any] | tuple[Any, ...]) -> list[dict[str, Any]] | None:
    """A list of dicts with the same keys in the same order and only scalar values (daily
    events: tens of thousands of them), renamed with the key set converted once and every
    record rebuilt in C; None for any other list, which is converted item by item."""
    if not items or set(map(type, items)) != {dict}:
        return None
    key_sets = set(map(tuple, items))
    if len(key_sets) != 1 or not _SCALARS.issuperset(map(type, chain.from_iterable(map(dict.values, items)))):
        return None
    names = tuple(api_field_name(str(key)) for key in key_sets.pop())
    return list(map(dict, map(zip, repeat(names), map(dict.values, items))))
