"""Strict validation of the telemetry routes' small JSON bodies, with the report route's messages.

Each route declares its fields as ``{name: (kind, required)}``; anything else is refused
with a 400 naming the path, the way Kibana's config-schema (and our report route) do::

    [request body.enabled]: expected value of type [boolean] but got [string]
    [request body.foo]: definition for this key is missing
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import BadRequest
from ..validation import js_type, parse_json

ROOT = "request body"
_PY_TYPES: dict[str, tuple[type, ...]] = {"boolean": (bool,), "string": (str,), "object": (dict,)}

Fields = Mapping[str, tuple[str, bool]]


def parse_body(raw: bytes, fields: Fields, *, empty_ok: bool = False) -> dict[str, Any]:
    """Decode and check a body against ``fields``; an empty body is ``{}`` when ``empty_ok``."""
    if not raw.strip():
        if empty_ok:
            return {}
        required = [name for name, (_, needed) in fields.items() if needed]
        raise BadRequest(f"[{ROOT}]: expected a plain object value, but found [undefined] instead. "
                         f"Send a JSON object with {', '.join(required) or 'the fields'}.")
    return check_object(parse_json(raw), fields)


def check_object(body: Any, fields: Fields, path: str = ROOT) -> dict[str, Any]:
    """The body itself must be an object holding only ``fields``, each of its kind."""
    if type(body) is not dict:
        raise BadRequest(f"[{path}]: expected a plain object value, but found [{js_type(body)}] instead.")
    for key in body:
        if key not in fields:
            raise BadRequest(f"[{path}.{key[:80]}]: definition for this key is missing")
    for name, (kind, required) in fields.items():
        if name not in body:
            if required:
                raise BadRequest(f"[{path}.{name}]: expected value of type [{kind}] but got [undefined]")
            continue
        if type(body[name]) not in _PY_TYPES[kind]:
            raise BadRequest(f"[{path}.{name}]: expected value of type [{kind}] but got [{js_type(body[name])}]")
    return body
