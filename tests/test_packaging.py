"""What a built wheel carries: every file the server serves from its package, so a plain
``pip install usage-collection`` serves usage.js, the boot scripts and the admin pages
without the repository (checked against pyproject.toml's package data, as setuptools
matches it: each pattern relative to the package folder, ``*`` not crossing a ``/``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import usage_collection
from usage_collection.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(usage_collection.__file__).resolve().parent


def packaged(pattern_list: list[str]) -> set[Path]:
    return {path for pattern in pattern_list for path in PACKAGE.glob(pattern) if path.is_file()}


def test_every_served_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    included = packaged(patterns["usage_collection"])
    for folder in ("static", "templates", "schema"):
        files = {path for path in (PACKAGE / folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts}
        assert files and files <= included, sorted(str(path.relative_to(PACKAGE)) for path in files - included)


def test_the_default_static_folder_is_the_packages_own() -> None:
    static = Path(load_settings(environ={})["USAGE_STATIC_DIR"])
    assert static == PACKAGE / "static" and (static / "usage.js").is_file()
