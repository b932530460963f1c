"""What a Brython page downloads, built once when the server starts.

- The ``usage_reporter`` package as ONE Brython bundle (the ``brython-cli make_package``
  format, ``__BRYTHON__.loadBrythonPackage({...})``), made here because ``make_package``
  needs Python 3.12+ and because every worker process must make the same bytes: the
  content hash is in the bundle's URL, so it can be cached for a year.
- The Brython runtime (``brython.js``) from the installed ``brython`` package.
- A small, conservative JavaScript minifier for ``usage.js`` (the page's only blocking
  script), so the source stays commented and readable in ``usage_collection/static/usage.js``.

    >>> bundle = brython_bundle(package_dir())
    >>> bundle.body.startswith(b"__BRYTHON__.loadBrythonPackage(")
    True
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import json
import tokenize
from pathlib import Path

PACKAGE = "usage_reporter"
JS_MIMETYPE = "text/javascript"
# Modules a Brython page never runs: the Pyodide adapter (it imports ``js``).
BRYTHON_EXCLUDED = frozenset({"_pyodide.py", "_pyodide_worker.py"})  # Pyodide-only modules
# Only the admin pages run these (the telemetry sender): a bundle of their own, not the visitor's.
ADMIN_ONLY = frozenset({"telemetry_sender.py"})


class Asset:
    """Bytes served as one file, with their sha256 (ETag, URL hash) and a lazy gzip copy."""

    def __init__(self, body: bytes, mimetype: str = JS_MIMETYPE) -> None:
        self.body = body
        self.mimetype = mimetype
        self.sha256 = hashlib.sha256(body).hexdigest()
        self._gzipped: bytes | None = None

    @property
    def short_hash(self) -> str:
        return self.sha256[:16]

    @property
    def gzipped(self) -> bytes:
        """Compressed once, on first use, as small as gzip goes (brython.js: 1.46 MB down to
        about 286 KB; level 9 costs ~0.05 s once and saves visitors ~2 KB over level 6)."""
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)
        return self._gzipped


def package_dir() -> Path:
    """Where the ``usage_reporter`` sources are (the source tree or site-packages)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"cannot find the {PACKAGE} package; is usage-collection installed?")
    return Path(next(iter(spec.submodule_search_locations)))


def brython_version() -> str:
    return importlib.metadata.version("brython")


def brython_runtime_path() -> Path:
    """``brython.js`` of the installed ``brython`` package (never copied into the repo)."""
    spec = importlib.util.find_spec("brython")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the brython package is not installed: pip install brython")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "brython.js"
    if not path.is_file():
        raise RuntimeError(f"{path} is missing; reinstall the brython package")
    return path


def _imports(source: str, package: list[str], modules: set[str]) -> list[str]:
    """Modules a source imports, absolute, as make_package lists them (Brython prefetches them)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in modules)
    return sorted(name for name in found if name)


def strip_docstrings(source: str) -> str:
    """The source without its docstrings, every line where it was (tracebacks stay right).

    Brython compiles the bundle in the page on every cold load; docstrings are a quarter
    of our source and nobody reads them there.
    """
    lines = source.split("\n")
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) or not node.body:
            continue
        first = node.body[0]
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str) and first.end_lineno is not None):
            continue
        start, end = first.lineno - 1, first.end_lineno - 1
        if lines[start][: first.col_offset].strip() or lines[end][first.end_col_offset or 0 :].strip():
            continue  # shares a line with code: leave it
        lines[start] = " " * first.col_offset + "pass"
        for index in range(start + 1, end + 1):
            lines[index] = ""
    return "\n".join(lines)


def strip_comments(source: str) -> str:
    """The source without its comments, every line where it was: like docstrings, ~8% of
    what a visitor downloads that no browser reads (measured on the bundle, gzipped)."""
    lines = source.split("\n")
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row, column = token.start
            lines[row - 1] = lines[row - 1][:column].rstrip()
    return "\n".join(lines)


def brython_bundle(source_dir: Path, name: str = PACKAGE, only: frozenset[str] | None = None) -> Asset:
    """The package at ``source_dir`` as a ``loadBrythonPackage`` script, deterministic.

    By default what a visitor's page runs: every module but the Pyodide-only and admin-only
    ones. ``only`` (file names, e.g. ``ADMIN_ONLY``) makes a bundle of just those modules,
    loaded after the visitor's bundle: ``loadBrythonPackage`` adds to what is there.
    """
    sources: dict[str, tuple[str, bool]] = {}
    for path in sorted(source_dir.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        wanted = path.name in only if only is not None else path.name not in BRYTHON_EXCLUDED | ADMIN_ONLY
        if not wanted:
            continue
        parts = [name, *path.relative_to(source_dir).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        sources[".".join(parts)] = (strip_comments(strip_docstrings(path.read_text(encoding="utf-8"))), is_package)
    modules: dict[str, list] = {}
    for module, (source, is_package) in sources.items():
        parts = module.split(".")
        entry: list = [".py", source, _imports(source, parts if is_package else parts[:-1], set(sources))]
        if is_package:
            entry.append(1)
        modules[module] = entry
    if only is None and name not in modules:
        raise RuntimeError(f"{source_dir} has no __init__.py: not a package")
    if not modules:
        raise RuntimeError(f"{source_dir} has none of {sorted(only or ())}")
    text = json.dumps(modules, sort_keys=True, separators=(",", ":"))
    # Brython keys its compiled-module cache on this number: derive it from the content.
    timestamp = int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)
    vfs = json.dumps({"$timestamp": timestamp, **modules}, separators=(",", ":"))
    return Asset(f"__BRYTHON__.loadBrythonPackage({vfs})\n".encode())


_IDENT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$")
# A line break can go when the line before cannot end a statement, or the next line
# continues it; anywhere else it may be a statement end (no semicolons in our style).
_OPEN_ENDS = frozenset("{([,;=:?&|+")
_CONTINUED_STARTS = frozenset("})],;.=:?&|")


def minify_js(source: str) -> str:
    """Drop comments and the whitespace JavaScript does not need; strings stay intact.

    Deliberately small and safe rather than clever: it does not rename anything and keeps
    line breaks wherever automatic semicolon insertion could depend on them. Regular
    expression literals must not contain quotes, ``//``, ``/*`` or spaces, and template
    literals are not supported (usage.js has neither problem; a test runs the result).
    """
    out: list[str] = []
    i, n = 0, len(source)
    pending_space = pending_newline = False
    while i < n:
        char = source[i]
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            if end < 0:
                raise ValueError("unterminated /* comment")
            i = end + 2
            pending_space = True
            continue
        if source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            continue
        if char.isspace():
            pending_space = True
            pending_newline = pending_newline or char == "\n"
            i += 1
            continue
        if pending_space and out:
            prev = out[-1][-1]
            if pending_newline and prev not in _OPEN_ENDS and char not in _CONTINUED_STARTS:
                out.append("\n")
            elif prev in _IDENT and char in _IDENT:
                out.append(" ")
        pending_space = pending_newline = False
        if char in "\"'":
            end = i + 1
            while end < n and source[end] != char:
                if source[end] == "\n":
                    raise ValueError(f"unterminated string at offset {i}")
                end += 2 if source[end] == "\\" else 1
            if end >= n:
                raise ValueError(f"unterminated string at offset {i}")
            out.append(source[i : end + 1])
            i = end + 1
            continue
        if char == "`":
            raise ValueError("template literals are not supported by minify_js")
        out.append(char)
        i += 1
    return "".join(out)
