"""The browser side, served: the loader, the Brython runtime and our package, the demo.

- ``/usage/usage.js``: the loader a page embeds (``usage_collection/static/usage.js``, minified at start);
  cached 5 minutes, with an ETag.
- ``/usage/boot-brython.js``: loaded by usage.js after ``load``; carries this server's
  settings (flush interval, enabled, Global Privacy Control) and the URLs below.
- ``/usage/brython/<version>/brython.js``: the installed ``brython`` package's runtime;
  ``/usage/usage_reporter.<hash>.brython.js``: ``usage_reporter`` as one Brython bundle.
  Both are immutable (the version or content hash is in the URL): cached for a year. With
  Node.js installed, the bundle also carries our modules precompiled to JavaScript (see
  brython_precompile.py), which saves browsers ~0.6 s of compiling on a first visit.
  ``/usage/usage_reporter_admin.<hash>.brython.js``: the modules only the admin pages run
  (the telemetry sender), loaded there after the bundle; visitors never download them.
  For Brython pages that import ``usage_reporter`` themselves (library mode), stable names:
  ``/usage/brython.js`` (a redirect to the versioned runtime) and
  ``/usage/usage_reporter.brython.js`` (the current bundle, cached 5 minutes).
- With ``USAGE_DEMO``: the demo app at ``/`` (and its views at ``/app/<name>``), its files
  under ``/demo/``. With the environment variable ``E2E_TEST_PAGES_DIR`` (the end-to-end
  tests set it): the pages of that folder at ``/e2e/<name>``.

JavaScript goes out gzipped when the browser accepts it (brython.js: 1.46 MB -> ~290 KB).
"""

from __future__ import annotations

import functools

import html
import json
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, redirect, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from usage_reporter.report import REPORT_PATH
from werkzeug.security import safe_join

from ..brython_precompile import PrecompiledBundle
from ..bundle import (ADMIN_ONLY, Asset, brython_bundle, brython_runtime_path, brython_version, minify_js,
                      package_dir)
from ..state import get_state

blueprint = Blueprint("usage_assets", __name__)

CONFIG_TOKEN = "__USAGE_BRYTHON_CONFIG__"
SHORT_CACHE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"  # a URL naming its version or content hash
TEST_PAGES_ENV = "E2E_TEST_PAGES_DIR"
_PLACEHOLDER = re.compile(r"\{\{(\w+)(?:\|([^}]*))?\}\}")


@dataclass
class BrythonAssets:
    """Everything built once at start for Brython pages."""

    loader: Asset
    boot_template: str
    runtime: Asset
    runtime_version: str
    bundle: Asset  # the plain bundle: its hash names the URL whichever variant is served
    served_bundle: PrecompiledBundle
    admin_bundle: Asset  # what only the admin pages run, on top of the bundle
    forwarder_template: str  # boot-pyodide.template.js: also Brython's worker forwarder
    worker: Asset  # brython-worker.js


def load_assets(static_dir: Path) -> BrythonAssets:
    loader = Asset(minify_js((static_dir / "usage.js").read_text(encoding="utf-8")).encode())
    boot_template = minify_js((static_dir / "boot-brython.template.js").read_text(encoding="utf-8"))
    runtime_path = brython_runtime_path()
    runtime = Asset(runtime_path.read_bytes())
    bundle = brython_bundle(package_dir())
    admin_bundle = brython_bundle(package_dir(), only=ADMIN_ONLY)
    for asset in (loader, runtime, bundle, admin_bundle):
        asset.gzipped  # compressed now (~0.1 s for brython.js) rather than in a page's first request
    forwarder_template = minify_js((static_dir / "boot-pyodide.template.js").read_text(encoding="utf-8"))
    worker = Asset(minify_js((static_dir / "brython-worker.js").read_text(encoding="utf-8")).encode())
    return BrythonAssets(loader, boot_template, runtime, brython_version(), bundle,
                         PrecompiledBundle(bundle, runtime_path), admin_bundle, forwarder_template, worker)


@functools.lru_cache(maxsize=8)
def shared_assets(static_dir: str) -> BrythonAssets:
    """``load_assets`` once per process and folder: the sources cannot change under a running
    server, and building (bundle, minify, gzip, precompile thread) costs ~0.1 s per app."""
    return load_assets(Path(static_dir))


@blueprint.record_once
def _setup(setup_state: BlueprintSetupState) -> None:
    app: Flask = setup_state.app
    state = get_state(app)
    state.brython_assets = shared_assets(state.settings.static_dir)
    if state.settings.demo:
        app.add_url_rule("/", "usage_demo_index", demo_index)
        app.add_url_rule("/app/<name>", "usage_demo_app", demo_index)
        app.add_url_rule("/demo/<path:filename>", "usage_demo_file", demo_file)
    pages = os.environ.get(TEST_PAGES_ENV)
    if pages:
        app.config[TEST_PAGES_ENV] = pages
        app.add_url_rule("/e2e/<name>", "usage_e2e_page", test_page)


def _assets() -> BrythonAssets:
    assets = get_state().brython_assets
    assert assets is not None, "built when the blueprint was registered"
    return assets


def send_asset(asset: Asset, cache_control: str) -> Response:
    """An Asset with caching headers, gzipped when the client accepts it, 304 when unchanged."""
    gzipped = "gzip" in request.accept_encodings
    response = Response(asset.gzipped if gzipped else asset.body, mimetype=asset.mimetype)
    if gzipped:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.set_etag(asset.short_hash + ("-gz" if gzipped else ""))
    response.headers["Cache-Control"] = cache_control
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


def bundle_url() -> str:
    return url_for("usage_assets.bundle", digest=_assets().bundle.short_hash)


def admin_bundle_url() -> str:
    return url_for("usage_assets.admin_bundle", digest=_assets().admin_bundle.short_hash)


def browser_settings() -> dict:
    """The settings a browser sees, built once here with the keys the client uses
    (``usage_reporter.page_session.SERVER_DEFAULTS``): no renaming on the way. The script
    tag's ``data-*`` and ``boot``'s options may override them, in the client."""
    return {"report_url": request.script_root + REPORT_PATH, **get_state().settings.for_browser()}


def boot_config() -> dict:
    """What boot-brython.js needs: the runtime and bundle URLs (relative to it) and the settings."""
    assets = _assets()
    return {
        "runtime": url_for("usage_assets.runtime", version=assets.runtime_version),
        "bundle": bundle_url(),
        "settings": browser_settings(),
    }


@blueprint.get("/usage/usage.js")
def loader() -> ResponseReturnValue:
    return send_asset(_assets().loader, SHORT_CACHE)


FORWARDER_TOKEN = "__USAGE_PYODIDE_CONFIG__"


def worker_config() -> dict:
    """What the worker forwarder needs to run Brython's reporter in /usage/brython-worker.js."""
    config = boot_config()
    config.update({"workerUrl": url_for("usage_assets.worker_script"), "error": None})
    return config


@blueprint.get("/usage/boot-brython.js")
def boot() -> ResponseReturnValue:
    """The main-thread boot (for a page that runs Brython itself), then the worker forwarder
    (for every other page): whichever applies runs, the other returns at once."""
    assets = _assets()
    text = (assets.boot_template.replace(CONFIG_TOKEN, json.dumps(boot_config(), sort_keys=True)) + ";\n"
            + assets.forwarder_template.replace(FORWARDER_TOKEN, json.dumps(worker_config(), sort_keys=True)))
    return send_asset(Asset(text.encode()), SHORT_CACHE)


@blueprint.get("/usage/brython-worker.js")
def worker_script() -> ResponseReturnValue:
    return send_asset(_assets().worker, SHORT_CACHE)


@blueprint.get("/usage/brython/<version>/brython.js")
def runtime(version: str) -> ResponseReturnValue:
    assets = _assets()
    if version != assets.runtime_version:
        abort(404, description=f"This server has Brython {assets.runtime_version}, not {version}.")
    return send_asset(assets.runtime, IMMUTABLE)


@blueprint.get("/usage/brython.js")
def runtime_latest() -> ResponseReturnValue:
    response = redirect(url_for("usage_assets.runtime", version=_assets().runtime_version), code=302)
    response.headers["Cache-Control"] = SHORT_CACHE
    return response


@blueprint.get("/usage/usage_reporter.<digest>.brython.js")
def bundle(digest: str) -> ResponseReturnValue:
    assets = _assets()
    if digest != assets.bundle.short_hash:
        abort(404, description="No such bundle; /usage/usage_reporter.brython.js is the current one.")
    return send_asset(assets.served_bundle.current, IMMUTABLE)


@blueprint.get("/usage/usage_reporter_admin.<digest>.brython.js")
def admin_bundle(digest: str) -> ResponseReturnValue:
    assets = _assets()
    if digest != assets.admin_bundle.short_hash:
        abort(404, description="No such bundle; the admin pages link the current one.")
    return send_asset(assets.admin_bundle, IMMUTABLE)


@blueprint.get("/usage/usage_reporter.brython.js")
def bundle_latest() -> ResponseReturnValue:
    return send_asset(_assets().served_bundle.current, SHORT_CACHE)


def _demo_dir() -> Path:
    return Path(get_state().settings.static_dir) / "demo"


def _small_file(folder: Path, filename: str) -> Response:
    """A small file of ``folder`` read whole (no open file left to a WSGI server), revalidated."""
    path = safe_join(str(folder), filename)
    if path is None or not Path(path).is_file():
        abort(404, description=f"No file {filename!r} here.")
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    response = Response(Path(path).read_bytes(), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    return response.make_conditional(request)


def demo_index(name: str | None = None) -> ResponseReturnValue:
    """The demo SPA; ``/app/<name>`` serves it too, so a reload on a view works."""
    return _small_file(_demo_dir(), "index.html")


def demo_file(filename: str) -> ResponseReturnValue:
    return _small_file(_demo_dir(), filename)


def test_page(name: str) -> ResponseReturnValue:
    """A page of the end-to-end suite, its ``{{name|default}}`` placeholders filled from the query."""
    folder = Path(current_app.config[TEST_PAGES_ENV])
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        abort(404, description=f"No test page {name!r}.")

    def fill(match: re.Match[str]) -> str:
        return html.escape(request.args.get(match.group(1), match.group(2) or ""))

    response = Response(_PLACEHOLDER.sub(fill, path.read_text(encoding="utf-8")), mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
