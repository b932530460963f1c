"""bundle.py: the Brython bundle of usage_reporter, docstring stripping, the JS minifier."""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from usage_collection.bundle import brython_bundle, minify_js, package_dir, strip_comments, strip_docstrings

REPO = Path(__file__).resolve().parents[2]


def vfs(body: bytes) -> dict:
    text = body.decode()
    prefix, suffix = "__BRYTHON__.loadBrythonPackage(", ")\n"
    assert text.startswith(prefix) and text.endswith(suffix)
    return json.loads(text[len(prefix):-len(suffix)])


def test_the_bundle_holds_every_module_brython_runs_in_make_packages_format() -> None:
    modules = vfs(brython_bundle(package_dir()).body)
    assert isinstance(modules.pop("$timestamp"), int)
    assert modules["usage_reporter"][0] == ".py" and modules["usage_reporter"][3] == 1  # the package
    for name in ("report", "reporter", "api", "_json", "_brython", "browser", "page_calls"):
        entry = modules[f"usage_reporter.{name}"]
        assert entry[0] == ".py" and len(entry) == 3, name
        ast.parse(entry[1])  # still Python
    assert "usage_reporter._pyodide" not in modules  # imports js: never runs under Brython
    assert "usage_reporter.report" in modules["usage_reporter.reporter"][2]  # imports, made absolute


def test_the_bundle_is_the_same_bytes_every_time_and_changes_with_the_sources(tmp_path: Path) -> None:
    package = tmp_path / "usage_reporter"
    package.mkdir()
    (package / "__init__.py").write_text('"""Doc."""\nfrom . import a\n')
    (package / "a.py").write_text("X = 1\n")
    first, second = brython_bundle(package), brython_bundle(package)
    assert first.body == second.body and first.short_hash == second.short_hash
    (package / "a.py").write_text("X = 2\n")
    assert brython_bundle(package).short_hash != first.short_hash


def test_stripping_docstrings_keeps_every_line_where_it_was() -> None:
    source = textwrap.dedent('''\
        """Module doc,
        on two lines."""


        class A:
            """Class doc."""

            def f(self):
                """Method doc."""
                return 1  # a comment stays

            def g(self): """same line"""; return 2


        def h():
            "only a docstring"
        ''')
    stripped = strip_docstrings(source)
    assert stripped.count("\n") == source.count("\n")
    assert "doc" not in stripped.replace("same line", "")
    namespace: dict = {}
    exec(compile(stripped, "stripped", "exec"), namespace)
    assert namespace["A"]().f() == 1 and namespace["A"]().g() == 2 and namespace["h"]() is None
    assert stripped.splitlines()[9] == source.splitlines()[9]  # "return 1" still on line 10


def test_stripping_comments_keeps_strings_and_every_line_where_it_was() -> None:
    source = textwrap.dedent('''\
        # a module comment
        URL = "/a#b"  # a hash inside a string is not a comment
        TEXT = """
        # nor inside a triple-quoted string
        """


        def f():  # trailing
            return URL + TEXT
        ''')
    stripped = strip_comments(source)
    assert stripped.count("\n") == source.count("\n")
    assert "comment" not in stripped and "trailing" not in stripped
    assert stripped.splitlines()[1] == 'URL = "/a#b"' and "# nor inside" in stripped
    namespace: dict = {}
    exec(compile(stripped, "stripped", "exec"), namespace)
    assert namespace["f"]() == "/a#b\n# nor inside a triple-quoted string\n"
    assert stripped.splitlines()[8] == "    return URL + TEXT"  # still on line 9


@pytest.mark.parametrize(("source", "expected"), [
    ("var a = 1\nvar b = 2\n", "var a=1\nvar b=2"),
    ("f(a,\n  b)\n", "f(a,b)"),
    ("x = 'it''s'  // comment\n", "x='it''s'"),
    ('s = "a // not a comment /* nor this */"', 's="a // not a comment /* nor this */"'),
    ('s = "say \\"hi\\"  there"', 's="say \\"hi\\"  there"'),
    ("/* block\ncomment */ return x\n", "return x"),
    ("a\n.b()\n", "a.b()"),
    ("if (a) return\nb()\n", "if(a)return\nb()"),
    ("typeof x === 'y'", "typeof x==='y'"),
])
def test_minify_js(source: str, expected: str) -> None:
    assert minify_js(source) == expected


@pytest.mark.parametrize("source", ["x = `template`", "x = 'unterminated", "/* open"])
def test_minify_js_refuses_what_it_cannot_handle(source: str) -> None:
    with pytest.raises(ValueError):
        minify_js(source)


@pytest.mark.parametrize("name", ["usage.js", "boot-brython.template.js", "boot-pyodide.template.js"])
def test_our_scripts_minify_to_valid_javascript(name: str) -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not installed (scripts/setup needs it for npm)")
    minified = minify_js((REPO / "server" / "usage_collection" / "static" / name).read_text())
    if name == "usage.js":
        # On every page's critical path. What costs the visitor is a round trip, not bytes:
        # browsers download it gzipped, and under 1 KB it fits in one 1,460 B TCP segment
        # with its ~400 B of response headers.
        assert len(gzip.compress(minified.encode(), 6)) < 1024, "usage.js must fit in one TCP segment"
    node = subprocess.run(["node", "--check", "-"], input=minified.replace("__USAGE_BRYTHON_CONFIG__", "{}"),
                          capture_output=True, text=True, timeout=30)
    assert node.returncode == 0, node.stderr
