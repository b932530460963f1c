"""Row counts of every data table, so a test can assert that a refused report stored nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

# Tables that hold no usage data: schema bookkeeping and the instance id.
NOT_DATA = {"meta", "sqlite_sequence"}


def data_row_counts(db_path: Path | str) -> dict[str, int]:
    """``{table: rows}`` for every table of the schema except bookkeeping ones."""
    conn = sqlite3.connect(db_path)
    try:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                for name in names if name not in NOT_DATA and not name.startswith("sqlite_")}
    finally:
        conn.close()


def stored_nothing(db_path: Path | str) -> bool:
    counts = data_row_counts(db_path)
    assert counts, "no data tables found: wrong database file?"
    return not any(counts.values())
