// Runs the client core's pytest-free unit tests inside real Pyodide (CPython compiled to
// WebAssembly) under Node, to prove the core and its tests run in the browser's interpreter.
//
//   node tests/client/run_in_pyodide.mjs <repo root> client.test_json client.test_api ...
//
// Copies the core package (without the runtime adapters) and tests/client's fakes and the
// named test modules into Pyodide's file system, imports each module, runs every test_*
// function in it, and prints one line: RESULT {"passed": n, "failed": [...], "tests": [...]}.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [repo, ...modules] = process.argv.slice(2);
if (!repo || modules.length === 0) {
  console.error("usage: node run_in_pyodide.mjs <repo root> <test module> ...");
  process.exit(2);
}
const ADAPTERS = new Set(["_brython.py", "_brython_worker.py", "_pyodide.py", "_pyodide_worker.py", "browser.py"]);
const { loadPyodide } = await import(
  pathToFileURL(join(repo, "node_modules", "pyodide", "pyodide.mjs")).href);

const started = Date.now();
const pyodide = await loadPyodide({ stdout: () => {}, stderr: (line) => console.error(line) });
const bootMs = Date.now() - started;

const root = "/tests_root";
const write = (relative, text) => {
  const target = `${root}/${relative}`;
  pyodide.FS.mkdirTree(target.slice(0, target.lastIndexOf("/")));
  pyodide.FS.writeFile(target, text);
};
const core = join(repo, "client", "usage_reporter");
for (const name of readdirSync(core)) {
  if (name.endsWith(".py") && !ADAPTERS.has(name)) {
    write(`usage_reporter/${name}`, readFileSync(join(core, name), "utf8"));
  }
}
const tests = join(repo, "tests", "client");
for (const name of ["__init__.py", "fakes.py"]) {
  write(`client/${name}`, readFileSync(join(tests, name), "utf8"));
}
for (const module of modules) {
  write(`${module.replaceAll(".", "/")}.py`, readFileSync(join(repo, "tests", `${module.replaceAll(".", "/")}.py`), "utf8"));
}

pyodide.globals.set("ROOT", root);
pyodide.globals.set("MODULES", pyodide.toPy(modules));
const result = pyodide.runPython(`
import importlib, inspect, json, sys, time, traceback

sys.path.insert(0, ROOT)
tests, failed = [], []
for module_name in MODULES:
    module = importlib.import_module(module_name)
    for name, fn in list(vars(module).items()):
        if not (name.startswith("test_") and inspect.isfunction(fn) and fn.__module__ == module_name):
            continue
        test_id = module_name + "::" + name
        tests.append(test_id)
        began = time.perf_counter()
        try:
            fn()
        except BaseException:
            failed.append({"test": test_id, "error": traceback.format_exc(limit=6)})
json.dumps({"python": sys.version.split()[0], "platform": sys.platform, "tests": tests,
            "passed": len(tests) - len(failed), "failed": failed,
            "usage_reporter": sys.modules["usage_reporter"].__file__})
`);
const summary = JSON.parse(result);
summary.boot_ms = bootMs;
summary.total_ms = Date.now() - started;
console.log("RESULT " + JSON.stringify(summary));
