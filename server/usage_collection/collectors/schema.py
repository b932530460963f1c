"""Collector schemas: declared as nested dicts, checked at make time and against every fetch.

Kibana's ``MakeSchemaFrom<T>`` is only checked by its TypeScript compiler, so a collector
can send telemetry that its declared mapping does not describe. Here the schema is data:
``validate_schema`` refuses a malformed declaration when the collector is made,
``validator.check`` refuses a fetch result that does not match (the collector counts as
failed, with the path of the first difference in the log), and ``to_mapping`` produces the
mapping that ``usage-collection schema-check`` compares with the stored JSON, like
Kibana's ``telemetry_check``.

A node is one of:

- a leaf ``{"type": "long", "_meta": {"description": "..."}}`` (types in ``LEAF_TYPES``);
- an array ``{"type": "array", "items": <node>}``;
- free-form data ``{"type": "pass_through", "_meta": {"description": "..."}}``
  (the description is required, as in Kibana);
- an object: any other dict, each key a property. The key ``DYNAMIC_KEY`` stands for every
  key not listed (for maps keyed by app name); an optional ``_meta`` describes the object.

``_meta`` may hold ``description`` and ``optional`` (``True``: the key may be absent or
``None``, Kibana's ``T | undefined``).
"""

from __future__ import annotations

from typing import Any, Mapping

Schema = Mapping[str, Any]

DYNAMIC_KEY = "DYNAMIC_KEY"
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "short": (-(2**15), 2**15 - 1),
    "byte": (-(2**7), 2**7 - 1),
}
LEAF_TYPES = frozenset({*INTEGER_RANGES, "double", "float", "keyword", "text", "boolean", "date"})
META_KEYS = frozenset({"description", "optional"})


class SchemaError(ValueError):
    """The schema declaration itself is malformed (raised when the collector is made)."""


class SchemaMismatch(ValueError):
    """A fetch result does not match its schema; ``path`` names where."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def node_kind(node: Schema) -> str:
    """``leaf``, ``array``, ``pass_through`` or ``object`` (a property named ``type`` is an object's)."""
    kind = node.get("type")
    if isinstance(kind, str):
        return kind if kind in ("array", "pass_through") else "leaf"
    return "object"


def is_optional(node: Schema) -> bool:
    meta = node.get("_meta")
    return isinstance(meta, Mapping) and meta.get("optional") is True


def validate_schema(node: Any, path: str = "schema") -> None:
    """Raise ``SchemaError`` naming the path of the first malformed node."""
    if not isinstance(node, Mapping):
        raise SchemaError(f"{path}: expected a dict describing the value, got {type(node).__name__}")
    if "_meta" in node:
        _validate_meta(node["_meta"], f"{path}._meta")
    kind = node_kind(node)
    if kind == "leaf":
        if node["type"] not in LEAF_TYPES:
            raise SchemaError(f"{path}.type: unknown type {node['type']!r}; use one of "
                              f"{', '.join(sorted(LEAF_TYPES))}, array or pass_through")
        _only_keys(node, {"type", "_meta"}, path)
    elif kind == "pass_through":
        _only_keys(node, {"type", "_meta"}, path)
        if not node.get("_meta", {}).get("description"):
            raise SchemaError(f"{path}._meta.description: required for a pass_through value")
    elif kind == "array":
        _only_keys(node, {"type", "items", "_meta"}, path)
        if "items" not in node:
            raise SchemaError(f"{path}.items: an array needs an items schema")
        validate_schema(node["items"], f"{path}.items")
    else:
        properties = [key for key in node if key != "_meta"]
        if not properties:
            raise SchemaError(f"{path}: an object needs at least one property (use pass_through for free-form data)")
        for key in properties:
            if not isinstance(key, str) or not key:
                raise SchemaError(f"{path}: property names must be non-empty strings, got {key!r}")
            validate_schema(node[key], f"{path}.{key}")


def _validate_meta(meta: Any, path: str) -> None:
    if not isinstance(meta, Mapping):
        raise SchemaError(f"{path}: expected a dict like {{'description': '...'}}")
    unknown = set(meta) - META_KEYS
    if unknown:
        raise SchemaError(f"{path}: unknown keys {sorted(unknown)}; allowed: description, optional")
    if "description" in meta and not isinstance(meta["description"], str):
        raise SchemaError(f"{path}.description: expected a string")
    if "optional" in meta and not isinstance(meta["optional"], bool):
        raise SchemaError(f"{path}.optional: expected true or false")


def _only_keys(node: Schema, allowed: set[str], path: str) -> None:
    extra = set(node) - allowed
    if extra:
        raise SchemaError(f"{path}: unexpected keys {sorted(extra)} for a {node['type']!r} node")


def to_mapping(node: Schema) -> dict[str, Any]:
    """Kibana's telemetry_check mapping of one schema: objects become ``{"properties": ...}``."""
    kind = node_kind(node)
    if kind == "object":
        return {"properties": {key: to_mapping(child) for key, child in node.items() if key != "_meta"}}
    mapping: dict[str, Any] = {"type": node["type"]}
    if kind == "array":
        mapping["items"] = to_mapping(node["items"])
    if "_meta" in node:
        mapping["_meta"] = dict(node["_meta"])
    return mapping


def collectors_mapping(schemas: Mapping[str, Schema]) -> dict[str, Any]:
    """The whole stored file: ``{"properties": {<collector type>: <mapping>}}``, types sorted."""
    return {"properties": {name: to_mapping(schemas[name]) for name in sorted(schemas)}}
