"""Row counts of every data table, so a test can assert that a refused report stored nothing."""

from __future__ import annotations

from pathlib import Path

from usage_collection.storage import TABLES, Storage, open_storage

# Tables that hold no usage data: schema bookkeeping and the instance id.
NOT_DATA = {"meta", "schema_version"}


def data_row_counts(db: Storage | Path | str) -> dict[str, int]:
    """``{table: rows}`` for every table of the schema except bookkeeping ones; ``db`` is a
    ``Storage``, a SQLite file path or a PostgreSQL URL."""
    storage = db if isinstance(db, Storage) else open_storage(str(db))
    try:
        return {name: storage.query(f"SELECT COUNT(*) FROM {name}")[0][0] for name in TABLES if name not in NOT_DATA}
    finally:
        if storage is not db:
            storage.close()


def stored_nothing(db: Storage | Path | str) -> bool:
    counts = data_row_counts(db)
    assert counts, "no data tables found: wrong database?"
    return not any(counts.values())
