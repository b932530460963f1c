"""The core runs under Brython with only brython.js: it may import nothing but its own modules.

Every module of ``client/usage_reporter`` except the runtime adapters is parsed: an import of
anything else (stdlib included: no json, time, sys, typing, __future__ ...) fails here
instead of in a browser. Constructs Brython handles poorly are refused too (including
``str.find(sub, start, end)``: Brython 3.15 ignores ``end``, which broke our JSON parser).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "client" / "usage_reporter"
ADAPTERS = {"_brython.py", "_brython_worker.py", "_pyodide.py", "_pyodide_worker.py", "browser.py"}  # the only modules touching the browser
CORE_FILES = sorted(path for path in PACKAGE.glob("*.py") if path.name not in ADAPTERS)
CORE_MODULES = {path.stem for path in CORE_FILES} - {"__init__"}
BANNED_NAMES = {"__import__", "importlib", "exec", "eval", "compile"}
BANNED_NODES = {
    "NamedExpr": "an assignment expression (:=)",
    "Match": "a match statement",
    "AsyncFunctionDef": "an async function",
    "Await": "await",
    "TypeAlias": "a type statement",
}


def problems(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            names = ", ".join(alias.name for alias in node.names)
            found.append(f"{where}: import {names} (use a relative import of our own modules)")
        elif isinstance(node, ast.ImportFrom):
            if node.level != 1:
                found.append(f"{where}: from {node.module} import ... (only `from .module import` is allowed)")
            elif node.module is None:
                for alias in node.names:
                    if alias.name not in CORE_MODULES:
                        found.append(f"{where}: from . import {alias.name} (not a core module)")
            elif node.module.split(".")[0] not in CORE_MODULES:
                found.append(f"{where}: from .{node.module} import ... (not a core module)")
        elif isinstance(node, ast.Name) and node.id in BANNED_NAMES:
            found.append(f"{where}: {node.id} (dynamic imports and code are not allowed in the core)")
        elif type(node).__name__ in BANNED_NODES:
            found.append(f"{where}: {BANNED_NODES[type(node).__name__]} (keep the core to what Brython runs)")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in ("find", "index") and len(node.args) >= 3):
            found.append(f"{where}: .{node.func.attr}() with an end argument (Brython 3.15 ignores it)")
        elif isinstance(node, ast.FormattedValue) and any(
                isinstance(inner, ast.JoinedStr) for inner in ast.walk(node.value)):
            found.append(f"{where}: an f-string nested in an f-string")
    return found


def test_the_core_is_found():
    assert {"_json", "api", "application_usage", "reporter", "report", "validation"} <= CORE_MODULES
    assert (PACKAGE / "__init__.py") in CORE_FILES


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda path: path.name)
def test_core_module_imports_only_core_modules(path):
    assert problems(path) == []


def test_the_check_catches_what_it_must(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from __future__ import annotations\nimport json\nfrom usage_reporter import api\n"
        "from . import browser\nfrom ._brython import x\nfrom .report import METRIC_TYPE\n"
        "def f(values):\n    import time\n    if (n := len(values)):\n        return __import__('sys')\n"
        "    return values.find('x', 0, 3)\n",
        encoding="utf-8")
    found = problems(bad)
    assert sorted(int(line.split(":")[1]) for line in found) == [1, 2, 3, 4, 5, 8, 9, 10, 11], found
