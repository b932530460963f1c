"""How each kind of ``USAGE_*`` value is parsed, from the environment's text or a config value.

A parser takes what was given (a string from the environment, or any Python value handed
to ``create_app``) and returns the typed value the code reads, or raises ``ValueError``
with a message that ``settings.load_settings`` prefixes with the setting's name. Both
sources go through the same parser, so ``create_app({"USAGE_MAX_BODY_BYTES": -1})`` is
refused exactly as ``USAGE_MAX_BODY_BYTES=-1`` in the environment is.

Lists come back as tuples and paths as strings: the parsed settings are frozen.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from typing import Any, Callable

Parser = Callable[[Any], Any]

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def boolean(value: Any) -> bool:
    """``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``, or a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def optional_boolean(value: Any) -> bool | None:
    """A boolean, or unset (``None``, or an empty, ``none`` or ``null`` string)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "none", "null"}):
        return None
    return boolean(value)


def number(kind: type, low: float, high: float, meaning: str = "") -> Parser:
    """An int or float in [low, high]: from the environment's text or a config value.
    Strings must be plain ASCII numbers (``int("²")`` would be accepted by Python)."""
    def parse(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, str):
            text = value.strip()
            pattern = r"[+-]?[0-9]+" if kind is int else r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
            if not re.fullmatch(pattern, text):
                raise ValueError(f"expected {'a whole' if kind is int else 'a'} number, got {value!r}")
            value = kind(text)
        elif kind is int and (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected a whole number, got {value!r}")
        value = kind(value)
        if not (low <= value <= high):  # also refuses NaN
            raise ValueError(f"{value!r} is out of range: expected {_shown(low)} to {_shown(high)}{meaning}")
        return value
    return parse


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def text(value: Any) -> str:
    """A non-empty string without control characters (a path-like object is accepted)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value!r} contains a control character")
    return value


def path(value: Any) -> str:
    """A file or folder, given as a string or a ``Path``; kept as a string."""
    return text(value)


def database(value: Any) -> str:
    """A SQLite file path, or a ``postgresql://`` / ``postgres://`` URL naming a database."""
    given = text(value)
    if "://" in given:
        scheme, _, rest = given.partition("://")
        if scheme.lower() not in ("postgresql", "postgres"):
            raise ValueError(f"expected a file path or a postgresql:// URL, got a {scheme}:// URL")
        if not rest or rest.startswith("/"):
            raise ValueError("a postgresql:// URL needs a host: postgresql://user:password@host:5432/database")
    return given


def optional_text(value: Any) -> str | None:
    """A string as ``text`` does, or unset (``None`` or empty)."""
    return None if value is None or value == "" else text(value)


def strings(value: Any) -> tuple[str, ...]:
    """A comma-separated string (the environment) or a list of strings (config)."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return tuple(item.strip() for item in value if item.strip())
    raise ValueError(f"expected a comma-separated string or a list of strings, got {value!r}")


def networks(value: Any) -> tuple[str, ...]:
    """IP addresses or networks (``10.0.0.0/8``, ``::1``); a host name is refused."""
    items = strings(value)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 127.0.0.0/8 or ::1)") from None
    return items


def url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, or unset."""
    given = optional_text(value)
    if given is None:
        return None
    parts = urllib.parse.urlsplit(given)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{given!r} is not an http:// or https:// URL with a host")
    try:
        parts.port
    except ValueError as exc:
        raise ValueError(f"{given!r}: {exc}") from None
    return given


def origins(value: Any) -> tuple[str, ...]:
    """``*`` or ``scheme://host[:port]`` origins (no path)."""
    items = strings(value)
    for item in items:
        parts = urllib.parse.urlsplit(item)
        if item != "*" and (parts.scheme not in ("http", "https") or not parts.hostname
                            or parts.path not in ("", "/") or parts.query or parts.fragment):
            raise ValueError(f"{item!r} is not an origin such as https://shop.example or http://localhost:8000")
    return items


def hosts(value: Any) -> tuple[str, ...]:
    """Host names (``stats.example.org``, ``*.example.org``) without scheme or port, lowercased."""
    items = strings(value)
    for item in items:
        if not re.fullmatch(r"(\*\.)?[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]", item):
            raise ValueError(f"{item!r} is not a host name (no scheme, port or path: e.g. stats.example.org)")
    return tuple(item.lower() for item in items)


def choice(*choices: str) -> Parser:
    """One of ``choices``, spelled exactly."""
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be {' or '.join(repr(c) for c in choices)}, got {value!r}")
        return value
    return parse
