"""build_cache.py: whole-file writes, and earlier builds removed once they are a day old."""

from __future__ import annotations

import os
import time
from pathlib import Path

from usage_collection.build_cache import prune, write_atomic


def test_writes_are_whole_and_leave_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "cache" / "pyodide-snapshot-new.bin.gz"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second" and [p.name for p in target.parent.iterdir()] == [target.name]


def test_only_other_builds_over_a_day_old_are_pruned(tmp_path: Path) -> None:
    day_and_a_bit = time.time() - 90_000
    files = {name: tmp_path / name for name in ("pyodide-snapshot-new.bin.gz", "pyodide-snapshot-old.bin.gz",
                                                "pyodide-snapshot-recent.bin.gz", "brython-old.json")}
    for path in files.values():
        path.write_bytes(b"x")
    for name in ("pyodide-snapshot-new.bin.gz", "pyodide-snapshot-old.bin.gz", "brython-old.json"):
        os.utime(files[name], (day_and_a_bit, day_and_a_bit))
    assert prune(files["pyodide-snapshot-new.bin.gz"], "pyodide-snapshot-*.bin.gz") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brython-old.json", "pyodide-snapshot-new.bin.gz",
                                                          "pyodide-snapshot-recent.bin.gz"]
