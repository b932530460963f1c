"""Brython delivery and the demo: what each URL serves, its type, its caching, its encoding."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from usage_collection import create_app
from usage_collection.bundle import brython_version
from usage_reporter.page_session import SERVER_DEFAULTS

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"


def make_app(tmp_path: Path, **config):
    return create_app({"TESTING": True, "USAGE_DB": str(tmp_path / "usage.db"), "USAGE_ROLLUP_INTERVAL_S": 0,
                       **config})


@pytest.fixture
def client(tmp_path: Path):
    return make_app(tmp_path).test_client()


def boot_config(client) -> dict:
    text = client.get("/usage/boot-brython.js").get_data(as_text=True)
    return json.loads(re.search(r"\}\)\((\{.*\}),document,window\)$", text.strip()).group(1))


@pytest.mark.parametrize(("path", "cache"), [
    ("/usage/usage.js", SHORT),
    ("/usage/boot-brython.js", SHORT),
    (f"/usage/brython/{brython_version()}/brython.js", IMMUTABLE),
    ("/usage/usage_reporter.brython.js", SHORT),
])
def test_scripts_are_javascript_with_their_caching_and_an_etag(client, path: str, cache: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == cache
    assert client.get(path, headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_usage_js_is_the_minified_loader_in_one_tcp_segment(client) -> None:
    body = client.get("/usage/usage.js").data
    zipped = client.get("/usage/usage.js", headers={"Accept-Encoding": "gzip"})
    assert len(zipped.data) < 1024  # + ~360 B of headers: one 1,460 B segment
    assert b"/*" not in body and b"usage.ready" not in body  # comments gone
    assert b"reportUiCounter reportUiStats setAppId optOut optIn" in body


def vfs_modules(body: bytes) -> set[str]:
    text = body.decode()
    prefix = "__BRYTHON__.loadBrythonPackage("
    assert text.startswith(prefix)
    end = text.index(")\n")  # a precompiled bundle has its compiled modules after this
    return set(json.loads(text[len(prefix):end])) - {"$timestamp"}


def test_the_telemetry_sender_is_in_the_admin_pages_bundle_only(tmp_path: Path) -> None:
    client = make_app(tmp_path, USAGE_TELEMETRY_URL="http://127.0.0.1:9/intake").test_client()
    visitor = vfs_modules(client.get(boot_config(client)["bundle"]).data)
    assert "usage_reporter.browser" in visitor and "usage_reporter.telemetry_sender" not in visitor
    page = client.get("/usage/settings").get_data(as_text=True)
    admin_url = re.search(r'src="(/usage/usage_reporter_admin\.\w+\.brython\.js)"', page).group(1)
    admin = client.get(admin_url)
    assert admin.status_code == 200 and admin.headers["Cache-Control"] == IMMUTABLE
    assert vfs_modules(admin.data) == {"usage_reporter.telemetry_sender"}
    assert page.index(boot_config(client)["bundle"]) < page.index(admin_url) < page.index("sender_boot.py")


def test_gzip_when_accepted(client) -> None:
    path = f"/usage/brython/{brython_version()}/brython.js"
    plain = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 4
    assert zipped.headers["ETag"] != plain.headers["ETag"]


def test_the_boot_script_points_at_the_immutable_runtime_and_bundle(client) -> None:
    config = boot_config(client)
    assert config["runtime"] == f"/usage/brython/{brython_version()}/brython.js"
    bundle = client.get(config["bundle"])
    assert bundle.status_code == 200 and bundle.headers["Cache-Control"] == IMMUTABLE
    assert bundle.data.startswith(b"__BRYTHON__.loadBrythonPackage(")
    assert bundle.data == client.get("/usage/usage_reporter.brython.js").data
    assert config["settings"]["report_url"] == "/api/ui_counters/_report"


@pytest.mark.parametrize(("settings", "expected"), [
    ({}, {"report_url": "/api/ui_counters/_report", "flush_interval_s": 30.0, "enabled": True, "honor_gpc": True}),
    ({"USAGE_FLUSH_INTERVAL_S": 5, "USAGE_UI_COUNTERS_ENABLED": False, "USAGE_HONOR_GPC": False},
     {"report_url": "/api/ui_counters/_report", "flush_interval_s": 5.0, "enabled": False, "honor_gpc": False}),
])
def test_the_boot_script_carries_the_settings_with_the_clients_names(tmp_path: Path, settings: dict,
                                                                      expected: dict) -> None:
    """One browser config, built on the server with the keys the client reads: the Brython
    boot, the worker forwarder and the Pyodide forwarder all carry the same object."""
    client = make_app(tmp_path, **settings).test_client()
    config = boot_config(client)
    assert config["settings"] == expected
    assert set(expected) == set(SERVER_DEFAULTS)  # the keys page_events.settings reads
    pyodide = client.get("/usage/boot-pyodide.js").get_data(as_text=True)
    assert json.dumps(expected, sort_keys=True) in pyodide


@pytest.mark.parametrize("path", [
    "/usage/brython/3.0.0/brython.js",
    "/usage/usage_reporter.0000000000000000.brython.js",
    "/usage/usage_reporter_admin.0000000000000000.brython.js",
    "/usage/boot-nonesuch.js",
])
def test_unknown_versions_and_runtimes_are_404(client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_brython_js_redirects_to_the_current_version(client) -> None:
    response = client.get("/usage/brython.js")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/usage/brython/{brython_version()}/brython.js")


def test_the_demo_is_served_only_when_enabled(tmp_path: Path) -> None:
    off = make_app(tmp_path).test_client()
    assert off.get("/").status_code == 404 and off.get("/demo/demo.js").status_code == 404
    on = make_app(tmp_path, USAGE_DEMO=True).test_client()
    for path in ("/", "/app/discover"):
        page = on.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert b'src="/usage/usage.js"' in page.data
    assert on.get("/demo/demo.css").mimetype == "text/css"
    assert on.get("/demo/../../pyproject.toml").status_code == 404


def test_test_pages_are_served_only_with_their_environment_variable(tmp_path: Path, monkeypatch) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "p.html").write_text('<p data-x="{{name|none}}">{{other}}</p>')
    assert make_app(tmp_path).test_client().get("/e2e/p.html").status_code == 404
    monkeypatch.setenv("E2E_TEST_PAGES_DIR", str(pages))
    client = make_app(tmp_path).test_client()
    assert client.get("/e2e/p.html").data == b'<p data-x="none"></p>'
    assert client.get("/e2e/p.html?name=a%22b&other=%3Cb%3E").data == b'<p data-x="a&quot;b">&lt;b&gt;</p>'
    assert client.get("/e2e/missing.html").status_code == 404
