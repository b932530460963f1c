"""Pyodide delivery: the runtime from ``node_modules/pyodide``, our client as a wheel, and
the two scripts that run it off the main thread.

- ``/usage/pyodide/<version>/<file>``: Pyodide's own files (``.wasm`` as ``application/wasm``,
  ``.mjs`` as ``text/javascript``), cached for a year: the version is in the URL. A
  ``<file>.gz`` beside a file (made by scripts/setup) goes out to browsers that accept gzip.
- ``/usage/wheel/<hash>/usage_reporter-<ver>-py3-none-any.whl``: the ``usage_reporter``
  package, zipped in memory at start; the content hash in the URL makes it immutable.
  ``/usage/usage_reporter-latest-py3-none-any.whl`` is the same wheel at a stable URL and
  ``/usage/pyodide-info.json`` lists the current URLs, for pages that run their own Pyodide
  (library mode).
- ``/usage/pyodide-snapshot/<key>.bin``: Pyodide's memory with ``usage_reporter`` imported
  (pyodide_snapshot.py), so the worker starts in ~1 s; brotli or gzip, immutable, and only
  once the background build is done (``snapshotURL`` is null until then).
- ``/usage/boot-pyodide.js`` (the main-thread forwarder usage.js loads after ``load``) with
  this server's settings and URLs filled in, and ``/usage/pyodide-worker.mjs`` (the module
  worker running Python).

The server works without Pyodide installed: it warns once at start, and ``boot-pyodide.js``
then only logs one console error saying what to do.
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, request, send_file, send_from_directory, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from werkzeug.security import safe_join

from ..bundle import Asset, minify_js, package_dir
from ..client_wheel import Wheel, build_wheel
from ..state import get_state
from ..pyodide_snapshot import SnapshotBuilder, brotli_path
from ..version import __version__
from .assets import IMMUTABLE, browser_settings, send_asset

blueprint = Blueprint("usage_pyodide_assets", __name__)

CONFIG_TOKEN = "__USAGE_PYODIDE_CONFIG__"
REVALIDATE = "no-cache"
# Only Pyodide's runtime files are served, by suffix: never its demo pages (console.html, an
# interactive Python console) or anything else an HTML page could be made of on our origin.
MIME_TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
              ".json": "application/json", ".zip": "application/zip", ".map": "application/json",
              ".whl": "application/zip"}
MISSING_MESSAGE = ("usage-collection: Pyodide is not installed on this server; run scripts/setup "
                   "(it puts pyodide in USAGE_NODE_MODULES) or use data-runtime=\"brython\". "
                   "Usage is not recorded on this page.")
STABLE_WHEEL = "usage_reporter-latest-py3-none-any.whl"


@dataclass
class PyodideAssets:
    """What this app serves for Pyodide, found and built once at start."""

    pyodide_dir: Path | None
    pyodide_version: str | None
    wheel: Wheel | None
    wheel_error: str | None
    boot_template: str
    worker: Asset
    snapshot: SnapshotBuilder | None
    lock_info: dict | None = None  # pyodide-lock.json's "info" (the worker's lock file, see lock_info)


def find_pyodide(node_modules: Path) -> tuple[Path | None, str | None]:
    """``(folder, version)`` of the npm ``pyodide`` package, or ``(None, None)`` if missing."""
    folder = node_modules / "pyodide"
    try:
        version = json.loads((folder / "package.json").read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    if not (folder / "pyodide.mjs").is_file() or not (folder / "pyodide.asm.wasm").is_file():
        return None, None
    return folder, str(version)


def lock_info(pyodide_dir: Path | None) -> dict | None:
    """The ``info`` of Pyodide's lock file (ABI, platform, Python), or None.

    The worker hands Pyodide a lock file with it and no packages instead of fetching the
    357-package index (27 KB gzipped on every cold visit): it loads our wheel by URL and
    nothing else, so the index would only serve the "install it with loadPackage" hints.
    """
    if pyodide_dir is None:
        return None
    try:
        info = json.loads((pyodide_dir / "pyodide-lock.json").read_text(encoding="utf-8"))["info"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) and info.get("abi_version") else None


def load_assets(node_modules: Path, static_dir: Path, snapshot_wanted: bool) -> PyodideAssets:
    """Pyodide from ``node_modules``, our boot and worker scripts from ``static_dir``, the
    reporter's wheel, and (``snapshot_wanted``, USAGE_PYODIDE_SNAPSHOT) the snapshot builder."""
    pyodide_dir, pyodide_version = find_pyodide(node_modules)
    wheel, wheel_error = None, None
    try:
        wheel = build_wheel(package_dir(), __version__)
    except (OSError, RuntimeError) as exc:
        wheel_error = f"usage-collection: could not build the usage_reporter wheel: {exc}"
    boot_template = minify_js((static_dir / "boot-pyodide.template.js").read_text(encoding="utf-8"))
    worker = Asset((static_dir / "pyodide-worker.mjs").read_bytes())
    snapshot = None
    if snapshot_wanted and pyodide_dir is not None and wheel is not None:
        snapshot = SnapshotBuilder(pyodide_dir, wheel)
    return PyodideAssets(pyodide_dir, pyodide_version, wheel, wheel_error, boot_template, worker, snapshot,
                         lock_info(pyodide_dir))


@functools.lru_cache(maxsize=8)
def shared_assets(node_modules: str, static_dir: str, snapshot: bool) -> PyodideAssets:
    """``load_assets`` once per process and settings (the wheel build costs a few ms per app,
    the snapshot seconds)."""
    return load_assets(Path(node_modules), Path(static_dir), snapshot)


@blueprint.record_once
def _setup(setup_state: BlueprintSetupState) -> None:
    app: Flask = setup_state.app
    state = get_state(app)
    settings = state.settings
    assets = state.pyodide_assets = shared_assets(settings.node_modules, settings.static_dir,
                                                  settings.pyodide_snapshot)
    if assets.pyodide_dir is None:
        app.logger.warning("usage-collection: Pyodide is not installed in %s (run scripts/setup); pages "
                           "with data-runtime=\"pyodide\" record nothing and log a console error. "
                           "Brython pages are not affected.", Path(settings.node_modules) / "pyodide")
    if assets.wheel_error:
        app.logger.error("%s", assets.wheel_error)


def _assets() -> PyodideAssets:
    assets = get_state().pyodide_assets
    assert assets is not None, "built when the blueprint was registered"
    return assets


def wheel_url() -> str | None:
    wheel = _assets().wheel
    if wheel is None:
        return None
    return url_for("usage_pyodide_assets.wheel_file", digest=wheel.short_hash, filename=wheel.filename)


def index_url() -> str | None:
    """The folder URL ``loadPyodide({indexURL})`` wants (ends with a slash)."""
    assets = _assets()
    if assets.pyodide_dir is None:
        return None
    mjs = url_for("usage_pyodide_assets.pyodide_file", version=assets.pyodide_version, filename="pyodide.mjs")
    return mjs.rsplit("/", 1)[0] + "/"


def _snapshot() -> tuple[str, Path] | None:
    """``(key, gzipped file)`` of the snapshot on offer: None while it builds, or without one."""
    builder = _assets().snapshot
    return builder.current if builder else None


def snapshot_url() -> str | None:
    current = _snapshot()
    return url_for("usage_pyodide_assets.snapshot_file", key=current[0]) if current else None


def error_message() -> str | None:
    """Why Pyodide pages cannot record on this server, or None."""
    assets = _assets()
    if assets.pyodide_dir is None:
        return MISSING_MESSAGE
    return assets.wheel_error


def client_config() -> dict:
    """What boot-pyodide.js needs: the browser's settings, our URLs, or why it cannot run."""
    config = {"settings": browser_settings()}
    config.update({"indexURL": index_url(), "wheelURL": wheel_url(), "snapshotURL": snapshot_url(),
                   "lockInfo": _assets().lock_info,
                   "workerUrl": url_for("usage_pyodide_assets.worker_script"), "error": error_message()})
    return config


def _wheel_response(wheel: Wheel, cache_control: str) -> Response:
    response = Response(wheel.data, mimetype="application/zip")
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.set_etag(wheel.short_hash)
    return response.make_conditional(request)


@blueprint.get("/usage/pyodide/<version>/<path:filename>")
def pyodide_file(version: str, filename: str) -> ResponseReturnValue:
    assets = _assets()
    if assets.pyodide_dir is None:
        abort(404, description=MISSING_MESSAGE)
    if version != assets.pyodide_version:
        abort(404, description=f"This server has Pyodide {assets.pyodide_version}, not {version}.")
    mimetype = MIME_TYPES.get(Path(filename).suffix)
    if mimetype is None:
        abort(404, description=f"Only Pyodide's runtime files ({', '.join(sorted(MIME_TYPES))}) are served here.")
    gzipped = safe_join(str(assets.pyodide_dir), filename + ".gz")
    use_gzip = ("gzip" in request.accept_encodings and gzipped is not None
                and Path(gzipped).is_file())
    response = send_from_directory(assets.pyodide_dir, filename + (".gz" if use_gzip else ""),
                                   mimetype=mimetype, conditional=True, etag=True)
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/usage/wheel/<digest>/<filename>")
def wheel_file(digest: str, filename: str) -> ResponseReturnValue:
    wheel = _assets().wheel
    if wheel is None or digest != wheel.short_hash or filename != wheel.filename:
        abort(404, description="No such wheel; /usage/pyodide-info.json has the current URL.")
    return _wheel_response(wheel, IMMUTABLE)


@blueprint.get(f"/usage/{STABLE_WHEEL}")
def wheel_stable() -> ResponseReturnValue:
    """The current wheel at a URL that never changes, revalidated on each use (library mode).

    Pyodide takes the package name from the last part of the URL, so this alias must itself
    be a valid wheel file name: a redirect from ``/usage/usage_reporter.whl`` would not do.
    """
    wheel = _assets().wheel
    if wheel is None:
        abort(404, description=error_message() or "The usage_reporter wheel is not available.")
    return _wheel_response(wheel, REVALIDATE)


@blueprint.get("/usage/pyodide-info.json")
def pyodide_info() -> ResponseReturnValue:
    """Where everything is, for pages that run their own Pyodide (library mode)."""
    assets = _assets()
    wheel = assets.wheel
    body = {"pyodideVersion": assets.pyodide_version, "indexURL": index_url(), "wheelURL": wheel_url(),
            "stableWheelURL": url_for("usage_pyodide_assets.wheel_stable"), "snapshotURL": snapshot_url(),
            "wheelFilename": wheel.filename if wheel else None, "sha256": wheel.sha256 if wheel else None,
            "error": error_message()}
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = REVALIDATE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/usage/pyodide-snapshot/<key>.bin")
def snapshot_file(key: str) -> ResponseReturnValue:
    current = _snapshot()
    if current is None or key != current[0]:
        abort(404, description="No such Pyodide snapshot; /usage/pyodide-info.json has the current URL.")
    encoding = next((name for name in ("br", "gzip") if name in request.accept_encodings), None)
    if encoding == "br" and not brotli_path(current[1]).is_file():
        encoding = "gzip"
    if encoding:
        path = brotli_path(current[1]) if encoding == "br" else current[1]
        response = send_file(path, mimetype="application/octet-stream", conditional=True, etag=True)
        response.headers["Content-Encoding"] = encoding
    else:  # rare (browsers all take gzip): ~31 MB
        response = Response(gzip.decompress(current[1].read_bytes()), mimetype="application/octet-stream")
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = IMMUTABLE
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/usage/boot-pyodide.js")
def boot_script() -> ResponseReturnValue:
    text = _assets().boot_template.replace(CONFIG_TOKEN, json.dumps(client_config(), sort_keys=True))
    return send_asset(Asset(text.encode()), REVALIDATE)


@blueprint.get("/usage/pyodide-worker.mjs")
def worker_script() -> ResponseReturnValue:
    return send_asset(_assets().worker, REVALIDATE)
