"""Pyodide delivery: the in-memory wheel, Pyodide's files and MIME types, and a server
without Pyodide installed."""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from usage_collection import create_app
from usage_collection.bundle import package_dir
from usage_collection.client_wheel import build_wheel
from usage_collection.routes.pyodide_assets import MISSING_MESSAGE, STABLE_WHEEL

ROOT = Path(__file__).resolve().parents[3]
PYODIDE = ROOT / "node_modules" / "pyodide"
needs_pyodide = pytest.mark.skipif(not (PYODIDE / "pyodide.mjs").is_file(),
                                   reason="npm pyodide not installed (scripts/setup)")


def make_app(tmp_path: Path, **config):
    return create_app({"TESTING": True, "USAGE_DB": str(tmp_path / "usage.db"), "USAGE_ROLLUP_INTERVAL_S": 0, **config})


def info(client) -> dict:
    response = client.get("/usage/pyodide-info.json")
    assert response.status_code == 200
    return response.json


# --- the wheel -------------------------------------------------------------------------

def test_wheel_holds_every_module_and_valid_dist_info():
    wheel = build_wheel(package_dir(), "1.2.3")
    assert wheel.filename == "usage_reporter-1.2.3-py3-none-any.whl"
    archive = zipfile.ZipFile(io.BytesIO(wheel.data))
    names = archive.namelist()
    sources = sorted(p.relative_to(package_dir().parent).as_posix() for p in package_dir().glob("*.py")
                     if p.name not in ("_brython.py", "_brython_worker.py", "telemetry_sender.py"))
    assert sources and set(sources) <= set(names)
    assert "usage_reporter/__init__.py" in names and "usage_reporter/_pyodide.py" in names
    assert "usage_reporter/_brython.py" not in names  # Brython-only: imports Brython's browser module
    assert "usage_reporter/telemetry_sender.py" not in names  # the admin pages', under Brython
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    metadata = archive.read("usage_reporter-1.2.3.dist-info/METADATA").decode()
    assert "Name: usage_reporter\n" in metadata and "Version: 1.2.3\n" in metadata
    assert "Tag: py3-none-any" in archive.read("usage_reporter-1.2.3.dist-info/WHEEL").decode()
    record = list(csv.reader(io.StringIO(archive.read("usage_reporter-1.2.3.dist-info/RECORD").decode())))
    assert sorted(row[0] for row in record) == sorted(names)
    for name, digest, size in record:
        if name.endswith("RECORD"):
            assert digest == size == ""
            continue
        data = archive.read(name)
        expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (digest, int(size)) == (f"sha256={expected}", len(data)), name


def test_wheel_bytes_are_the_same_on_every_build():
    """Every worker process must serve the same bytes under the same content-hashed URL."""
    assert build_wheel(package_dir(), "0.1.0") == build_wheel(package_dir(), "0.1.0")


@pytest.mark.parametrize("version, expected", [("0.1.0", "0.1.0"), ("1.0-dev", "1.0_dev"), ("", "0")])
def test_wheel_file_name_escapes_the_version(version, expected):
    assert build_wheel(package_dir(), version).filename == f"usage_reporter-{expected}-py3-none-any.whl"


def test_wheel_refuses_a_folder_that_is_not_the_package(tmp_path):
    (tmp_path / "module.py").write_text("x = 1\n")
    with pytest.raises(RuntimeError, match="no __init__.py"):
        build_wheel(tmp_path, "0.1.0")


def test_pip_installs_the_wheel(tmp_path):
    wheel = build_wheel(package_dir(), "0.1.0")
    path = tmp_path / wheel.filename
    path.write_bytes(wheel.data)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(target), str(path)],
                   check=True, timeout=60, capture_output=True)
    assert (target / "usage_reporter" / "report.py").read_bytes() == (package_dir() / "report.py").read_bytes()
    assert (target / "usage_reporter-0.1.0.dist-info" / "METADATA").is_file()


@needs_pyodide
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_pyodide_load_package_installs_the_served_wheel(tmp_path):
    """The real Pyodide (in Node) installs the wheel the server serves and imports the API."""
    client = make_app(tmp_path).test_client()
    wheel_path = tmp_path / STABLE_WHEEL
    wheel_path.write_bytes(client.get(info(client)["wheelURL"]).data)
    script = tmp_path / "load.mjs"
    script.write_text(
        f'import {{ loadPyodide }} from "{PYODIDE / "pyodide.mjs"}";\n'
        "const py = await loadPyodide();\n"
        f'await py.loadPackage("{wheel_path}", {{messageCallback: () => {{}}}});\n'
        'console.log(py.runPython("import usage_reporter, importlib.metadata as m; '
        "usage_reporter.METRIC_TYPE.CLICK + ' ' + m.version('usage_reporter') + ' ' + usage_reporter.__file__\"));\n")
    result = subprocess.run(["node", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:-1] == ["click", "0.1.0"]
    assert "/site-packages/usage_reporter/__init__.py" in result.stdout


# --- the routes ----------------------------------------------------------------------

@needs_pyodide
@pytest.mark.parametrize("filename, mimetype", [
    ("pyodide.asm.wasm", "application/wasm"),
    ("pyodide.mjs", "text/javascript"),
    ("pyodide.asm.mjs", "text/javascript"),
    ("pyodide-lock.json", "application/json"),
    ("python_stdlib.zip", "application/zip"),
])
def test_pyodide_files_are_served_with_their_mime_type_and_cached_for_a_year(tmp_path, filename, mimetype):
    client = make_app(tmp_path).test_client()
    with client.get(info(client)["indexURL"] + filename, headers={"Accept-Encoding": "identity"}) as response:
        assert response.status_code == 200
        assert response.mimetype == mimetype
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Content-Encoding" not in response.headers
        assert response.data == (PYODIDE / filename).read_bytes()


@needs_pyodide
def test_a_precompressed_copy_goes_to_browsers_that_accept_gzip(tmp_path):
    node_modules = tmp_path / "node_modules"
    (node_modules / "pyodide").mkdir(parents=True)
    for path in PYODIDE.iterdir():
        (node_modules / "pyodide" / path.name).symlink_to(path)
    original = (PYODIDE / "pyodide.asm.mjs").read_bytes()
    (node_modules / "pyodide" / "pyodide.asm.mjs.gz").write_bytes(gzip.compress(original))
    client = make_app(tmp_path, USAGE_NODE_MODULES=str(node_modules)).test_client()
    url = info(client)["indexURL"] + "pyodide.asm.mjs"
    with client.get(url, headers={"Accept-Encoding": "gzip, deflate"}) as response:
        assert response.headers["Content-Encoding"] == "gzip" and response.mimetype == "text/javascript"
        assert "Accept-Encoding" in response.headers["Vary"]
        assert gzip.decompress(response.data) == original
    with client.get(url, headers={"Accept-Encoding": "identity"}) as response:
        assert "Content-Encoding" not in response.headers and response.data == original


@needs_pyodide
@pytest.mark.parametrize("path", [
    "/usage/pyodide/0.0.1/pyodide.mjs",            # another version than the installed one
    "/usage/pyodide/{version}/no-such-file.js",
    "/usage/pyodide/{version}/../package.json",
    "/usage/pyodide/{version}/%2e%2e/%2e%2e/pyproject.toml",
])
def test_unknown_pyodide_paths_are_404(tmp_path, path):
    client = make_app(tmp_path).test_client()
    with client.get(path.format(version=info(client)["pyodideVersion"])) as response:
        assert response.status_code == 404
        assert response.json["statusCode"] == 404


@needs_pyodide
@pytest.mark.parametrize("filename", ["console.html", "console-v2.html", "README.md", "pyodide.d.ts"])
def test_pyodides_demo_pages_are_not_served_from_our_origin(tmp_path, filename):
    """console.html is an interactive Python console: on our origin it would be a page of ours."""
    client = make_app(tmp_path).test_client()
    with client.get(f"/usage/pyodide/{info(client)['pyodideVersion']}/{filename}") as response:
        assert response.status_code == 404
        assert response.json["message"].startswith("Only Pyodide's runtime files")


def test_wheel_is_served_under_its_content_hash_and_at_a_stable_url(tmp_path):
    client = make_app(tmp_path).test_client()
    described = info(client)
    expected = build_wheel(package_dir(), described["wheelFilename"].split("-")[1])
    assert described["sha256"] == expected.sha256
    assert described["wheelURL"] == f"/usage/wheel/{expected.sha256[:16]}/{expected.filename}"
    hashed = client.get(described["wheelURL"])
    assert hashed.status_code == 200 and hashed.data == expected.data
    assert hashed.mimetype == "application/zip"
    assert hashed.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    stable = client.get(f"/usage/{STABLE_WHEEL}")
    assert stable.status_code == 200 and stable.data == expected.data
    assert stable.headers["Cache-Control"] == "no-cache"
    assert client.get(f"/usage/{STABLE_WHEEL}", headers={"If-None-Match": stable.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", [
    "/usage/wheel/0000000000000000/{filename}",
    "/usage/wheel/{digest}/usage_reporter-9.9.9-py3-none-any.whl",
])
def test_stale_wheel_urls_are_404(tmp_path, path):
    client = make_app(tmp_path).test_client()
    described = info(client)
    response = client.get(path.format(filename=described["wheelFilename"], digest=described["sha256"][:16]))
    assert response.status_code == 404


@needs_pyodide
def test_boot_script_carries_the_urls_of_this_server(tmp_path):
    client = make_app(tmp_path).test_client()
    response = client.get("/usage/boot-pyodide.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    described = info(client)
    text = response.get_data(as_text=True)
    assert json.dumps(described["wheelURL"]) in text and json.dumps(described["indexURL"]) in text
    assert "__USAGE_PYODIDE_CONFIG__" not in text and MISSING_MESSAGE not in text
    worker = client.get("/usage/pyodide-worker.mjs")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert "loadPyodide" in worker.get_data(as_text=True)
    # The worker's lock file: Pyodide's own "info" (its ABI must match), no package index.
    lock = json.loads((PYODIDE / "pyodide-lock.json").read_text())
    config = json.loads(re.search(r"\}\)\((\{.*\}),document,window\)$", text.strip()).group(1))
    assert config["lockInfo"] == lock["info"] and lock["info"]["abi_version"]


# --- without Pyodide -----------------------------------------------------------------

def test_server_without_pyodide_warns_once_and_the_boot_script_says_what_to_do(tmp_path, caplog):
    empty = tmp_path / "node_modules"
    empty.mkdir()
    with caplog.at_level(logging.WARNING):
        app = make_app(tmp_path, USAGE_NODE_MODULES=str(empty))
    warnings = [record.getMessage() for record in caplog.records if "Pyodide is not installed" in record.getMessage()]
    assert len(warnings) == 1 and str(empty) in warnings[0]
    client = app.test_client()
    described = info(client)
    assert described["indexURL"] is None and described["error"] == MISSING_MESSAGE
    assert described["wheelURL"]  # library mode in a page's own Pyodide still works
    boot = client.get("/usage/boot-pyodide.js").get_data(as_text=True)
    assert json.dumps(MISSING_MESSAGE) in boot
    with client.get("/usage/pyodide/314.0.7/pyodide.mjs") as response:
        assert response.status_code == 404 and response.json["message"] == MISSING_MESSAGE
