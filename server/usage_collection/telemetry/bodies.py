"""Strict validation of the telemetry routes' small JSON bodies, with the report route's messages.

Each route declares its fields as ``{name: (kind, required)}`` (``"boolean"`` or
``"string"``, checked by the report route's own walk); anything else is refused with a 400
naming the path, the way Kibana's config-schema (and our report route) do::

    [request body.enabled]: expected value of type [boolean] but got [string]
    [request body.foo]: definition for this key is missing
"""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import BadRequest
from ..validation import Limits, check_fields, parse_json

ROOT = "request body"
_LIMITS = Limits()  # the report route's default name-length limits

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
    """The body itself must be an object holding only ``fields``, each of its kind: the
    report route's field walk (``validation.check_fields``), so its rules and messages."""
    check_fields(body, path, fields, {}, _LIMITS)
    return body
