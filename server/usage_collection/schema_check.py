"""``usage-collection schema-check``: the collectors' mapping against the stored JSON.

Kibana's ``telemetry_check`` compares the mapping generated from every collector's schema
with the JSON committed next to the code, so a change to what is sent is always a
reviewed change to that file. Same here: ``expected_mapping`` from the registered
collectors, ``diff_mappings`` as readable lines (``+`` only in the code, ``-`` only in the
file, ``~`` changed), and ``write_mapping`` for ``--fix``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from .collectors import CollectorSet

SCHEMA_FILE = Path(__file__).resolve().parent / "schema" / "collectors.json"


def expected_mapping(collector_set: CollectorSet) -> dict[str, Any]:
    return collector_set.mapping()


def read_mapping(path: Path) -> dict[str, Any]:
    """The stored mapping; a missing file is an empty one (everything shows as to add)."""
    if not path.exists():
        return {}
    mapping = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(mapping, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return mapping


def _flatten(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _flatten(value, f"{path}.{key}" if path else key)
    else:
        yield path, node


def diff_mappings(expected: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """One line per differing leaf, sorted by path; empty when the file is up to date."""
    want, have = dict(_flatten(expected)), dict(_flatten(stored))
    lines = []
    for path in sorted(want.keys() | have.keys()):
        if path not in have:
            lines.append(f"+ {path}: {json.dumps(want[path])}")
        elif path not in want:
            lines.append(f"- {path}: {json.dumps(have[path])}")
        elif want[path] != have[path]:
            lines.append(f"~ {path}: {json.dumps(have[path])} -> {json.dumps(want[path])}")
    return lines


def write_mapping(path: Path, mapping: dict[str, Any]) -> None:
    """Kibana's format: ``JSON.stringify(mapping, null, 2) + "\\n"``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mapping, indent=2) + "\n", encoding="utf-8")
