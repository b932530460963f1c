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
import time
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


def prune(keep: Path, pattern: str, older_than_s: float = 86400.0) -> int:
    """Remove the other builds matching ``pattern`` beside ``keep`` that are over a day old:
    each change of our code or of a runtime makes a new one (a snapshot is ~6 MB). A server
    still offering a removed one builds it again. Returns how many were removed."""
    removed = 0
    cutoff = time.time() - older_than_s
    for path in keep.parent.glob(pattern):
        try:
            if path != keep and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            pass  # another process removed it, or it is not ours to remove
    return removed
