"""brython_precompile.py: our modules compiled by Brython's own compiler under Node, cached,
appended to the bundle; and the plain bundle whenever that cannot be done."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from usage_collection import create_app
from usage_collection.brython_precompile import (PrecompiledBundle, cache_dir, precompiled, squeeze, vfs_of,
                                                 with_precompiled)
from usage_collection.bundle import brython_bundle, brython_runtime_path, package_dir

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.fixture
def bundle():
    return brython_bundle(package_dir())


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "usage-collection"


def test_only_what_the_boot_imports_is_compiled(bundle) -> None:
    names = set(vfs_of(bundle))
    assert {"usage_reporter", "usage_reporter._brython_worker", "usage_reporter.worker_session",
            "usage_reporter.reporter", "usage_reporter.page_session", "usage_reporter._json"} <= names
    # The main-thread adapter only runs on pages with Brython of their own: compiled there.
    assert "usage_reporter._brython" not in names and "usage_reporter.browser" not in names
    assert "usage_reporter.telemetry_sender" not in names  # admin pages compile it themselves


@needs_node
def test_node_compiles_every_needed_module_and_the_result_is_cached(bundle, own_cache: Path) -> None:
    runtime = brython_runtime_path()
    compiled = precompiled(bundle, runtime)
    assert compiled is not None and isinstance(compiled["timestamp"], int)
    assert set(compiled["modules"]) == set(vfs_of(bundle))
    assert isinstance(compiled["modules"]["usage_reporter"], list)  # a package: [js], as Brython keeps it
    assert "$B.set_lineno" in compiled["modules"]["usage_reporter.reporter"]
    assert cache_dir() == own_cache and len(list(own_cache.glob("brython-*.json"))) == 1
    assert precompiled(bundle, runtime, node="/nonexistent/node") == compiled  # from the cache, no Node


def test_without_node_the_bundle_stays_plain(bundle, caplog: pytest.LogCaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert precompiled(bundle, brython_runtime_path(), node="/nonexistent/node") is None
    assert "could not precompile" in caplog.text
    monkeypatch.setenv("PATH", "")  # no node to be found
    assert PrecompiledBundle(bundle, brython_runtime_path()).wait(30) is bundle


def test_the_compiled_modules_are_handed_to_the_same_brython_only(bundle) -> None:
    asset = with_precompiled(bundle, {"timestamp": 123, "modules": {"usage_reporter": ["js"], "x": "y"}})
    text = asset.body.decode()
    assert text.startswith(bundle.body.decode())  # the sources stay: tracebacks, other runtimes
    install = text[len(bundle.body.decode()):]
    assert install.startswith(";(function(B,T,P){if(B.timestamp===T)")
    assert install.rstrip().endswith('(__BRYTHON__,123,{"usage_reporter":["js"],"x":"y"});')


@needs_node
def test_the_server_serves_the_compiled_bundle_under_the_plain_bundles_url(tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "USAGE_DB": str(tmp_path / "usage.db"), "USAGE_ROLLUP_INTERVAL_S": 0})
    assets = app.extensions["usage_collection"].brython_assets
    served = assets.served_bundle.wait(120)
    assert served is not assets.bundle
    client = app.test_client()
    body = client.get(f"/usage/usage_reporter.{assets.bundle.short_hash}.brython.js").data
    assert body == served.body and b"B.precompiled[k]=P[k]" in body
    assert json.loads(body[body.index(b"(") + 1: body.index(b")\n")])  # the sources come first


@pytest.mark.parametrize(("js", "expected"), [
    ("var a = 1\n  if (a) {\n    f(a)\n  }\n\n", "var a = 1\nif (a) {\nf(a)\n}"),
    ("var s = `one\n  two`\n  f(s)", "var s = `one\n  two`\n  f(s)"),  # a template literal: as it was
    ("var s = 'one\\\n  two'\n  f(s)", "var s = 'one\\\n  two'\n  f(s)"),  # a continued string: as it was
])
def test_squeezing_drops_indentation_but_never_inside_a_string(js: str, expected: str) -> None:
    assert squeeze(js) == expected


def test_the_squeezed_modules_are_still_javascript(bundle) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    compiled = precompiled(bundle, brython_runtime_path())
    assert compiled is not None
    for name, js in compiled["modules"].items():
        js = js[0] if isinstance(js, list) else js
        small = squeeze(js)
        assert len(small) < len(js), name  # squeezed, not skipped
        node = subprocess.run(["node", "--check", "-"], input=f"function module() {{\n{small}\n}}",
                              capture_output=True, text=True, timeout=30)
        assert node.returncode == 0, f"{name}: {node.stderr}"
