"""pyodide_snapshot.py and its route: a memory snapshot of Pyodide with usage_reporter
imported, made by Node once per Pyodide build and wheel, cached, and served gzipped at an
immutable URL; nothing on offer while it builds, without Node, or when it cannot be made.

(That a browser starts from it, and starts the normal way when it is unusable, is in
tests/e2e/test_pyodide_worker.py.)
"""

from __future__ import annotations

import gzip
import logging
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from usage_collection import create_app
from usage_collection.bundle import package_dir
from usage_collection.client_wheel import build_wheel
from usage_collection.pyodide_snapshot import SnapshotBuilder, brotli_path, cached_snapshot, snapshot_key
from usage_collection.settings import REPO_ROOT

PYODIDE = REPO_ROOT / "node_modules" / "pyodide"
needs_pyodide = pytest.mark.skipif(not (PYODIDE / "pyodide.mjs").is_file() or shutil.which("node") is None,
                                   reason="needs node and the npm pyodide package (scripts/setup)")


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "usage-collection"


@pytest.fixture
def wheel():
    return build_wheel(package_dir(), "1.0.0")


def fake_node(tmp_path: Path, script: str) -> str:
    path = tmp_path / "node"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return str(path)


@needs_pyodide
def test_the_key_names_the_pyodide_build_and_the_wheel(wheel) -> None:
    assert snapshot_key(PYODIDE, wheel) == snapshot_key(PYODIDE, build_wheel(package_dir(), "1.0.0"))
    assert snapshot_key(PYODIDE, wheel) != snapshot_key(PYODIDE, build_wheel(package_dir(), "1.0.1"))


@needs_pyodide
def test_node_makes_a_snapshot_once_and_later_starts_take_it_from_the_cache(
        wheel, own_cache: Path, tmp_path: Path) -> None:
    built = cached_snapshot(PYODIDE, wheel)
    assert built is not None
    key, path = built
    assert path == own_cache / f"pyodide-snapshot-{key}.bin.gz"
    memory = gzip.decompress(path.read_bytes())
    # Pyodide's layout: a header (magic, where the memory starts, ...), the JavaScript side's
    # references as JSON, then the wasm memory.
    _, memory_start, _ = struct.unpack_from("<III", memory)
    assert 0 < memory.index(b'{"hiwireKeys"') < memory_start < 1_000_000 < len(memory)
    assert b"usage_reporter.worker_session" in memory[memory_start:]  # our modules are imported in it
    unbrotli = subprocess.run(["node", "-e", "process.stdout.write(require('zlib').brotliDecompressSync("
                               "require('fs').readFileSync(process.argv[1])))", str(brotli_path(path))],
                              capture_output=True, check=True, timeout=60)
    assert unbrotli.stdout == memory  # the same snapshot for browsers that take brotli (HTTPS)
    failing = fake_node(tmp_path, "exit 1")
    assert cached_snapshot(PYODIDE, wheel, node=failing) == built  # from the cache: Node not run


@needs_pyodide
def test_a_failing_node_leaves_no_snapshot_and_says_why(wheel, own_cache: Path, tmp_path: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    for script in ("echo 'boom' >&2; exit 3", "echo not-gzip"):
        with caplog.at_level(logging.WARNING):
            assert cached_snapshot(PYODIDE, wheel, node=fake_node(tmp_path, script)) is None
    assert "node exited with 3: boom" in caplog.text and "no gzipped snapshot" in caplog.text
    assert not list(own_cache.glob("pyodide-snapshot-*.bin.gz"))


def snapshot_app(tmp_path: Path, **config):
    return create_app({"TESTING": True, "USAGE_DB": str(tmp_path / "usage.db"), "USAGE_ROLLUP_INTERVAL_S": 0,
                       **config})


@needs_pyodide
def test_the_route_serves_the_built_snapshot_gzipped_and_immutable(tmp_path: Path) -> None:
    app = snapshot_app(tmp_path)
    builder: SnapshotBuilder = app.extensions["usage_collection"].pyodide_assets.snapshot
    builder.current  # noqa: B018 - built again if an earlier test's cache folder is gone
    key, path = builder.wait(120)
    client = app.test_client()
    info = client.get("/usage/pyodide-info.json").json
    assert info["snapshotURL"] == f"/usage/pyodide-snapshot/{key}.bin"
    assert f'"snapshotURL": "/usage/pyodide-snapshot/{key}.bin"' in client.get("/usage/boot-pyodide.js",
                                                                               headers={"Accept-Encoding": ""}).text
    for accepted, encoding, body in [("gzip, deflate", "gzip", path), ("gzip, deflate, br, zstd", "br", brotli_path(path))]:
        response = client.get(info["snapshotURL"], headers={"Accept-Encoding": accepted})
        assert response.status_code == 200 and response.headers["Content-Encoding"] == encoding
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.data == body.read_bytes() and "Accept-Encoding" in response.headers["Vary"]
        response.close()  # send_file's open file
    plain = client.get(info["snapshotURL"], headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == gzip.decompress(path.read_bytes())
    missing = client.get("/usage/pyodide-snapshot/0123456789abcdef.bin")
    assert missing.status_code == 404 and "pyodide-info.json" in missing.json["message"]


def test_turned_off_there_is_no_snapshot_on_offer(tmp_path: Path) -> None:
    client = snapshot_app(tmp_path, USAGE_PYODIDE_SNAPSHOT=False).test_client()
    assert client.get("/usage/pyodide-info.json").json["snapshotURL"] is None
    assert '"snapshotURL": null' in client.get("/usage/boot-pyodide.js", headers={"Accept-Encoding": ""}).text


@needs_pyodide
def test_a_snapshot_removed_from_the_cache_is_built_again(wheel, own_cache: Path) -> None:
    builder = SnapshotBuilder(PYODIDE, wheel)
    key, path = builder.wait(120)
    path.unlink()
    assert builder.current is None  # not served while it is rebuilt
    assert builder.wait(120) == (key, path) and path.is_file()
