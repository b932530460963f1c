"""Storage: every SQL statement of the server, behind one interface with two backends.

    storage = open_storage("usage.db")                      # SQLite (the default)
    storage = open_storage("postgresql://user@db/usage")   # PostgreSQL, shared by many hosts
    storage.migrate()
    storage.store_report(report, now)
"""

from __future__ import annotations

from .base import Storage
from .connection import INT64_MAX
from .core import StorageError
from .reports import Caps, KeyLimitHit, Pending
from .schema import SCHEMA_VERSION, TABLES, SchemaTooNew
from .telemetry import IntakeCaps, IntakeRefused
from .urls import POSTGRES_SCHEMES, describe_url, is_postgres_url


def open_storage(url: str) -> Storage:
    """The backend for ``url``: a ``postgresql://`` (or ``postgres://``) URL, else a file path."""
    if is_postgres_url(url):
        try:
            from .postgres import PostgresStorage
        except ImportError:
            raise StorageError("a postgresql:// USAGE_DB needs psycopg: pip install 'usage-collection[postgres]'") \
                from None

        return PostgresStorage(str(url))
    from .sqlite import SQLiteStorage

    return SQLiteStorage(str(url))


__all__ = ["POSTGRES_SCHEMES", "describe_url", "INT64_MAX", "SCHEMA_VERSION", "TABLES", "Caps", "IntakeCaps",
           "IntakeRefused", "KeyLimitHit", "Pending", "SchemaTooNew", "Storage", "StorageError", "is_postgres_url",
           "open_storage"]
