"""A memory snapshot of Pyodide with ``usage_reporter`` imported, so a worker starts in ~1 s.

Starting Pyodide is ~2.5 s of CPU on this kind of machine, nearly all of it CPython
initialising itself and importing its start-up modules; fetching and compiling the wasm is
~0.4 s. Pyodide can restore a started interpreter from a copy of its memory instead
(``loadPyodide({_loadSnapshot})``, the mechanism Cloudflare's Python Workers use). The
server makes that copy once, under Node (which ``scripts/setup`` needs for npm anyway):
Pyodide started, our wheel unpacked, the worker's modules imported (``_pyodide_worker`` and
what it imports: not the main-thread adapter, whose code would only make the snapshot
bigger). A worker given the snapshot skips both the start-up and the wheel.

The snapshot is ~31 MB of memory, 6.4 MB gzipped or 5.2 MB with brotli (which browsers
accept over HTTPS): a first visit downloads that on top of Pyodide's own ~6.4 MB (later
visits take it from the HTTP cache). ``USAGE_PYODIDE_SNAPSHOT
=false`` turns it off where bandwidth matters more than start-up time.

It only fits the Pyodide build and the wheel it was made from, so it is cached (build
cache) under a hash of both and served at an immutable URL naming that hash. Building runs
in a background thread; until it is ready, or without Node, or if it fails, workers start
the normal way (pyodide-worker.mjs also falls back if a snapshot does not load). What a
snapshot freezes is the same for every visitor: CPython's string-hash seed and the state
of ``random`` if something imported it. ``usage_reporter`` draws its reportIds from
``os.urandom``, which asks the browser each time.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import threading
from pathlib import Path

from .build_cache import cache_dir, prune, write_atomic
from .client_wheel import Wheel

try:
    import fcntl
except ImportError:  # Windows: no lock; concurrent builds only cost time
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Writes the snapshot to stdout gzipped and with brotli: the gzip's length (4 bytes, little
# endian), the gzip, the brotli. Anything our modules would need later that is not in the
# snapshot's memory must be importable then, so every module is imported now.
NODE_SNAPSHOT = r"""
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
const dir = process.argv[process.argv.length - 1];
const { loadPyodide } = await import(pathToFileURL(dir + "/pyodide.mjs").href);
const pyodide = await loadPyodide({ indexURL: dir + "/", _makeSnapshot: true, env: { PYTHONHASHSEED: "0" },
                                    stdout: () => {}, stderr: (line) => process.stderr.write(line + "\n") });
pyodide.unpackArchive(new Uint8Array(readFileSync(0)), "wheel");
// What the worker runs, nothing else; then a collected heap. With a fixed hash seed (which
// the snapshot fixes per build anyway), builds of the same code differ by ~100 B instead of
// ~75 KB, so what a visitor downloads can be compared from one change to the next.
pyodide.runPython("import usage_reporter._pyodide_worker; import gc; gc.collect()");
const memory = pyodide.makeMemorySnapshot(), gzipped = gzipSync(memory, { level: 6 }), size = Buffer.alloc(4);
size.writeUInt32LE(gzipped.length);
const brotli = brotliCompressSync(memory, { params: { [constants.BROTLI_PARAM_QUALITY]: 6,
                                                      [constants.BROTLI_PARAM_SIZE_HINT]: memory.length } });
process.stdout.write(Buffer.concat([size, gzipped, brotli]));
"""
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip")


def snapshot_key(pyodide_dir: Path, wheel: Wheel) -> str:
    """What the snapshot depends on: the Pyodide build, our wheel and the way it is made."""
    digest = hashlib.sha256(NODE_SNAPSHOT.encode())
    digest.update(wheel.sha256.encode())
    for name in PYODIDE_FILES:
        digest.update(hashlib.sha256((pyodide_dir / name).read_bytes()).digest())
    return digest.hexdigest()[:16]


def brotli_path(gzipped: Path) -> Path:
    """The same snapshot with brotli: ``pyodide-snapshot-<key>.bin.br`` beside the ``.gz``."""
    return gzipped.with_suffix(".br")


def make_snapshot(pyodide_dir: Path, wheel: Wheel, node: str, timeout: float = 180.0) -> tuple[bytes, bytes]:
    """``(gzipped, brotli)`` snapshot, made by Node; raises on any failure."""
    result = subprocess.run([node, "--input-type=module", "-e", NODE_SNAPSHOT, str(pyodide_dir)],
                            input=wheel.data, capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"node exited with {result.returncode}: {result.stderr.decode(errors='replace').strip()[-800:]}")
    size = int.from_bytes(result.stdout[:4], "little")
    gzipped, brotli = result.stdout[4:4 + size], result.stdout[4 + size:]
    if gzipped[:2] != b"\x1f\x8b" or not brotli:
        raise RuntimeError("node gave no gzipped snapshot")
    return gzipped, brotli


def cached_snapshot(pyodide_dir: Path, wheel: Wheel, node: str | None = None) -> tuple[str, Path] | None:
    """``(key, path of the gzipped snapshot)``, from the cache or built now; None without
    Node or on failure. One process builds while the others wait for its result."""
    node = node or shutil.which("node")
    if node is None:
        return None
    key = snapshot_key(pyodide_dir, wheel)
    path = cache_dir() / f"pyodide-snapshot-{key}.bin.gz"
    if path.is_file():
        return key, path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / "pyodide-snapshot.lock", "wb") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():
                gzipped, brotli = make_snapshot(pyodide_dir, wheel, node)
                write_atomic(brotli_path(path), brotli)
                write_atomic(path, gzipped)  # last: the .gz there means both are
                prune(path, "pyodide-snapshot-*.bin.gz")
                prune(brotli_path(path), "pyodide-snapshot-*.bin.br")
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        log.warning("usage-collection: no Pyodide snapshot (Pyodide pages start the slower way): %s", exc)
        return None
    return key, path


class SnapshotBuilder:
    """The snapshot on offer: ``current`` is None until the background build is done."""

    def __init__(self, pyodide_dir: Path, wheel: Wheel) -> None:
        self._inputs = (pyodide_dir, wheel)
        self._built: tuple[str, Path] | None = None
        self._lock = threading.Lock()
        self._thread = self._start()

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._build, name="pyodide-snapshot", daemon=True)
        thread.start()
        return thread

    def _build(self) -> None:
        try:
            self._built = cached_snapshot(*self._inputs)
        except Exception:  # noqa: BLE001 - a background nicety must never take the server down
            log.exception("usage-collection: building the Pyodide snapshot failed")

    @property
    def current(self) -> tuple[str, Path] | None:
        """``(key, gzipped file)``; None while building. If the cache was cleared under a
        running server, it is built again."""
        built = self._built
        if built is None or built[1].is_file():
            return built
        with self._lock:
            if self._built is built and not self._thread.is_alive():
                self._built = None
                self._thread = self._start()
        return None

    def wait(self, timeout: float | None = None) -> tuple[str, Path] | None:
        self._thread.join(timeout)
        return self.current
