"""What every part of the storage layer stands on: a connection, a transaction, a lock.

``StorageCore`` is the backend seam. ``SQLiteStorage`` and ``PostgresStorage`` implement
``connection()`` and ``try_lock()``; the query modules (reports, reads, dashboard,
telemetry, upkeep) are written once on top of it and mixed into ``Storage``.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from .connection import Conn


class StorageError(Exception):
    """The database could not be used (unreachable, locked, read-only, full, corrupt)."""


class StorageCore:
    """Connections, transactions and locks; the backends fill these in."""

    dialect: str = ""
    url: str = ""

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        """A connection for the caller's use; database errors surface as ``StorageError``."""
        raise NotImplementedError
        yield  # pragma: no cover

    @contextmanager
    def try_lock(self, name: str, lease_s: float = 3600.0) -> Iterator[bool]:
        """Hold ``name`` across every process and host while the block runs; yields False
        (and the block should skip its work) when another holder has it."""
        raise NotImplementedError
        yield False  # pragma: no cover

    def close(self) -> None:
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        """``table``'s column names, in order (``copy`` carries over the ones both sides have)."""
        raise NotImplementedError

    @property
    def description(self) -> str:
        """The database for messages: a file path, or the URL without its password."""
        return self.url

    # Generic access, for users' collectors and for tests (``?`` placeholders on both engines).

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement, as tuples."""
        with self.connection() as conn:
            return conn.all(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns the rows it changed."""
        with self.connection() as conn, conn.transaction():
            return conn.execute(sql, params).rowcount

    def migrate(self) -> int:
        from .schema import migrate

        with self.connection() as conn:
            return migrate(conn)

    def health(self) -> str | None:
        """None when the database answers and its schema is there; else what is wrong. Cheap
        (two tiny reads), for liveness probes: a file that is not a database, a dropped
        table or an unreachable server shows; a corrupt page deep in a table does not."""
        try:
            with self.connection() as conn:
                conn.one("SELECT version FROM schema_version")
                conn.one("SELECT value FROM meta WHERE key = 'instance_uuid'")
        except StorageError as exc:
            return str(exc)
        return None

    def instance_uuid(self) -> str:
        """A stable id for this deployment (Kibana's server uuid), created with the database."""
        with self.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO meta (key, value) VALUES ('instance_uuid', ?) ON CONFLICT (key) DO NOTHING",
                         [str(uuid.uuid4())])
            return str(conn.one("SELECT value FROM meta WHERE key = 'instance_uuid'"))

    def get_meta(self, key: str) -> str | None:
        with self.connection() as conn:
            return conn.one("SELECT value FROM meta WHERE key = ?", [key])

    def set_meta(self, key: str, value: str | None) -> None:
        """Set ``key`` (``None`` deletes it)."""
        with self.connection() as conn, conn.transaction():
            _set_meta(conn, key, value)


def _set_meta(conn: Conn, key: str, value: str | None) -> None:
    if value is None:
        conn.execute("DELETE FROM meta WHERE key = ?", [key])
    else:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
                     "value = excluded.value", [key, value])
