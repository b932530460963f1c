"""Where the server keeps what it builds once with Node: precompiled Brython modules, the
Pyodide memory snapshot.

``~/.cache/usage-collection`` (``$XDG_CACHE_HOME``), never a shared temporary folder: what
is there is served to browsers as code. Files are written whole or not at all, so several
server processes (gunicorn workers) may build the same file at once and readers never see
half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "usage-collection"


def write_atomic(path: Path, data: bytes) -> None:
    """``data`` at ``path`` by rename; raises OSError if the folder cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, prefix=path.name + ".", delete=False) as out:
        out.write(data)
    try:
        os.replace(out.name, path)
    except OSError:
        os.unlink(out.name)
        raise
