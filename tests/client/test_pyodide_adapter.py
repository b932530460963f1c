"""The Pyodide adapter itself, in real Pyodide under Node (no page: no ``document``, no
``window``), which is where ``boot`` used to raise: it must log why and return None.

The adapter's page behaviour is tested in Chromium (tests/e2e/test_pyodide_library_mode.py)
and its logic in CPython (test_page_events.py); this checks only the no-page path.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYODIDE = REPO / "node_modules" / "pyodide" / "pyodide.mjs"
SCRIPT = r"""
import { readFileSync, readdirSync } from "node:fs";
import { pathToFileURL } from "node:url";
const [pyodideMjs, core] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(pyodideMjs).href);
const pyodide = await loadPyodide({ stdout: () => {}, stderr: () => {} });
const logged = [];
console.error = console.warn = (...args) => logged.push(args.join(" "));
pyodide.FS.mkdirTree("/pkg/usage_reporter");
for (const name of readdirSync(core)) {
  if (!name.endsWith(".py")) continue;
  pyodide.FS.writeFile("/pkg/usage_reporter/" + name, readFileSync(core + "/" + name, "utf8"));
}
const result = pyodide.runPython(`
import json, sys
sys.path.insert(0, "/pkg")
import usage_reporter.browser as browser
outcome = []
for options in ({"app_id": "notebook"}, None, "not a dict"):
    try:
        outcome.append(repr(browser.boot(options)))
    except BaseException as exc:
        outcome.append("raised " + type(exc).__name__ + ": " + str(exc))
json.dumps({"runtime": browser.RUNTIME, "outcome": outcome})
`);
console.log("RESULT " + JSON.stringify({...JSON.parse(result), logged}));
"""


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_boot_without_a_page_logs_why_and_returns_none_in_real_pyodide(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None or not PYODIDE.exists():
        pytest.skip("needs node and node_modules/pyodide (scripts/setup)")
    script = tmp_path / "boot_without_page.mjs"
    script.write_text(SCRIPT, encoding="utf-8")
    run = subprocess.run([node, str(script), str(PYODIDE), str(REPO / "client" / "usage_reporter")],
                         capture_output=True, text=True, timeout=80)
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, f"node failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["runtime"] == "pyodide"
    assert result["outcome"] == ["None", "None", "None"]
    assert result["logged"] and all(line.startswith("usage_reporter: could not start: ") for line in result["logged"])
