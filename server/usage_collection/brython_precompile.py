"""Our Brython modules compiled to JavaScript on the server, so browsers need not compile them.

Brython compiles Python in the page: for ``usage_reporter`` that is ~0.6 s of main-thread
work on a visitor's first load (later loads take it from IndexedDB, see boot-brython.js).
When Node.js is installed (``scripts/setup`` needs it for npm anyway), the server runs
Brython's own compiler once, under Node, on the bundle's sources, and appends the result to
the bundle: ``__BRYTHON__.precompiled`` is where Brython's importer looks first. Without
Node, or if anything fails, the bundle goes out as it is and browsers compile it themselves.

The result is kept in the build cache (build_cache.py), keyed by the bundle's content hash
and Brython's, so a restart costs nothing. Compiling runs in a
background thread: the server starts at once and serves the plain bundle meanwhile (the
same URL; both are correct).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import threading
from pathlib import Path

from .build_cache import cache_dir, prune, write_atomic
from .bundle import Asset

log = logging.getLogger(__name__)

# Brython's importer names a module's file "VFS.<name>.py" ("VFS.<name>/__init__.py" for a
# package) and maps that file back to the module name: the compiler takes the name from
# there. Node has no DOM, so the few globals brython.js touches while loading are stubbed.
NODE_COMPILER = r"""
const fs = require("fs"), path = require("path"), g = globalThis;
g.window = g.self = g;
g.addEventListener = () => {};
g.customElements = {define() {}};
g.HTMLElement = class {};
g.location = {href: "http://localhost/", origin: "http://localhost", pathname: "/"};
g.document = {querySelectorAll: () => [], getElementsByTagName: () => [], dispatchEvent() {},
              addEventListener() {}, currentScript: {src: "http://localhost/brython.js"}};
const B = require(path.resolve(process.argv[1])).__BRYTHON__;
g.__BRYTHON__ = g.$B = B;
const vfs = JSON.parse(fs.readFileSync(0, "utf8")), out = {};
for (const name of Object.keys(vfs)) {
  const entry = vfs[name], file = "VFS." + name + (entry[3] ? "/__init__.py" : ".py");
  B.url2name[file] = name;
  const js = B.py2js({src: entry[1], filename: file, imported: true}, name, name).to_js();
  out[name] = entry[3] ? [js] : js;
}
process.stdout.write(JSON.stringify({timestamp: B.timestamp, modules: out}));
"""
INSTALL = (";(function(B,T,P){if(B.timestamp===T)for(var k in P)if(!(k in B.precompiled))B.precompiled[k]=P[k]})"
           "(__BRYTHON__,TIMESTAMP,MODULES);\n")


# What brython-worker.js imports: visitors' pages run the reporter in a worker. A page that
# runs Brython itself imports usage_reporter.browser too; boot-brython.js compiles the few
# modules only it needs there, one per task (they would cost every visitor ~10 KB).
WORKER_MODULE = "usage_reporter._brython_worker"


def vfs_of(bundle: Asset, entries: tuple[str, ...] = (WORKER_MODULE,)) -> dict:
    """The modules of a ``loadBrythonPackage`` bundle that ``entries`` need: themselves, their
    packages and what they import, transitively."""
    text = bundle.body.decode()
    vfs = json.loads(text[text.index("(") + 1: text.rindex(")")])
    needed: dict = {}
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in needed or name not in vfs or name == "$timestamp":
            continue
        needed[name] = vfs[name]
        todo.extend(vfs[name][2])
        if "." in name:
            todo.append(name.rsplit(".", 1)[0])
    return needed


def compile_with_node(bundle: Asset, runtime: Path, node: str, timeout: float = 120.0) -> dict:
    """``{"timestamp": brython's build, "modules": {name: js}}``; raises on any failure."""
    result = subprocess.run([node, "-e", NODE_COMPILER, str(runtime)], input=json.dumps(vfs_of(bundle)),
                            capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"node exited with {result.returncode}: {result.stderr.strip()[-500:]}")
    compiled = json.loads(result.stdout)
    if not isinstance(compiled.get("timestamp"), int) or not isinstance(compiled.get("modules"), dict):
        raise RuntimeError("node gave no compiled modules")
    return compiled


def precompiled(bundle: Asset, runtime: Path, node: str | None = None) -> dict | None:
    """The compiled modules, from the cache or from Node; None without Node or on failure."""
    node = node or shutil.which("node")
    if node is None:
        return None
    runtime_hash = hashlib.sha256(runtime.read_bytes()).hexdigest()[:16]
    modules_hash = hashlib.sha256(" ".join(sorted(vfs_of(bundle))).encode()).hexdigest()[:8]  # which are compiled
    path = cache_dir() / f"brython-{bundle.short_hash}-{runtime_hash}-{modules_hash}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    try:
        compiled = compile_with_node(bundle, runtime, node)
    except (OSError, ValueError, RuntimeError, subprocess.SubprocessError) as exc:
        log.warning("usage-collection: could not precompile the Brython bundle (browsers will compile it): %s", exc)
        return None
    try:
        write_atomic(path, json.dumps(compiled).encode())
        prune(path, "brython-*.json")
    except OSError as exc:
        log.info("usage-collection: not caching the precompiled Brython bundle: %s", exc)
    return compiled


def squeeze(js: str) -> str:
    """Brython's JavaScript without its indentation and blank lines: a fifth of the bytes.

    Line breaks stay (statements may end there). Leading blanks only matter inside a
    string that spans lines, which JavaScript writes with a backtick or a backslash at the
    end of a line: a module with either is left as it is.
    """
    lines = js.split("\n")
    if "`" in js or any(line.endswith("\\") for line in lines):
        return js
    return "\n".join(stripped for stripped in (line.strip() for line in lines) if stripped)


def squeezed(modules: dict) -> dict:
    """``squeeze`` each compiled module (a package's is wrapped in a list)."""
    return {name: [squeeze(js[0])] if isinstance(js, list) else squeeze(js) for name, js in modules.items()}


def with_precompiled(bundle: Asset, compiled: dict) -> Asset:
    """The bundle plus a statement that hands Brython the compiled modules (same Brython only)."""
    modules = json.dumps(squeezed(compiled["modules"]), separators=(",", ":"))
    install = INSTALL.replace("TIMESTAMP", str(int(compiled["timestamp"])), 1).replace("MODULES", modules, 1)
    return Asset(bundle.body + install.encode(), bundle.mimetype)


class PrecompiledBundle:
    """The bundle to serve: the plain one until the compiled one is ready (background thread)."""

    def __init__(self, bundle: Asset, runtime: Path) -> None:
        self.plain = bundle
        self.compiled: Asset | None = None
        self._thread = threading.Thread(target=self._build, args=(runtime,), name="brython-precompile", daemon=True)
        self._thread.start()

    def _build(self, runtime: Path) -> None:
        try:
            result = precompiled(self.plain, runtime)
            if result is not None:
                asset = with_precompiled(self.plain, result)
                asset.gzipped  # compressed here, not in a request
                self.compiled = asset
        except Exception:  # noqa: BLE001 - a background nicety must never take the server down
            log.exception("usage-collection: precompiling the Brython bundle failed")

    def wait(self, timeout: float | None = None) -> Asset:
        self._thread.join(timeout)
        return self.current

    @property
    def current(self) -> Asset:
        return self.compiled or self.plain
