"""The core's unit tests, run again inside real Pyodide under Node.

CPython passing is not proof the core runs in the browser's interpreter: this boots
Pyodide (node_modules/pyodide) in Node, copies the core package (without the adapters)
and the pytest-free test modules into its file system, runs every ``test_*`` function and
checks that all of them ran and passed, so a module that silently failed to load fails here.
"""

import ast
import importlib
import inspect
import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNER = Path(__file__).with_name("run_in_pyodide.mjs")
PYODIDE = REPO / "node_modules" / "pyodide" / "pyodide.mjs"
PURE_TEST_MODULES = [
    "client.test_json",
    "client.test_validation",
    "client.test_reporter",
    "client.test_application_usage",
    "client.test_api",
]


def cpython_test_ids():
    ids = []
    for name in PURE_TEST_MODULES:
        module = importlib.import_module(name)
        ids += [f"{name}::{attr}" for attr, fn in vars(module).items()
                if attr.startswith("test_") and inspect.isfunction(fn) and fn.__module__ == name]
    return ids


def test_the_pure_test_modules_do_not_need_pytest():
    for name in PURE_TEST_MODULES + ["client.fakes"]:
        path = REPO / "tests" / (name.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert "pytest" not in imported and "hypothesis" not in imported, name


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_core_unit_tests_pass_in_pyodide():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (scripts/setup installs the npm packages; Node 18+ is needed)")
    if not PYODIDE.exists():
        pytest.skip(f"pyodide is not installed at {PYODIDE} (run scripts/setup)")
    expected = cpython_test_ids()
    run = subprocess.run([node, str(RUNNER), str(REPO), *PURE_TEST_MODULES], capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, f"runner failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    summary = json.loads(lines[-1][len("RESULT "):])
    assert summary["platform"] == "emscripten"  # really Pyodide, not the host Python
    assert summary["usage_reporter"].startswith("/tests_root/")  # the copied core, not an installed one
    failures = "\n\n".join(f"{item['test']}\n{item['error']}" for item in summary["failed"])
    assert summary["failed"] == [], failures
    assert summary["tests"] == expected
    assert summary["passed"] == len(expected) > 80
