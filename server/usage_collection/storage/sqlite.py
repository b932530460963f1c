"""The embedded backend: one SQLite file, WAL mode, connections pooled per process.

Every connection runs in WAL mode with a generous busy timeout, so several worker
processes can write at once (group commit keeps them to one transaction per batch).
Locks between processes (the rollups') are leases in ``meta``: SQLite has no advisory
locks, and a lease also frees itself when its holder dies.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from typing import Iterator

import sqlite_utils

from .base import Storage
from .connection import Conn, SQLiteConn, WriteLock
from .core import StorageError, _set_meta
from .pool import ConnectionPool


class SQLiteStorage(Storage):
    dialect = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = self.url = str(path)
        self.pool = ConnectionPool(self._connect)

    def _connect(self) -> SQLiteConn:
        try:
            raw = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            raw.execute("PRAGMA busy_timeout = 30000")
            _ensure_wal(raw)
            raw.execute("PRAGMA synchronous = NORMAL")
            raw.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the SQLite database {self.path!r}: {exc}") from exc
        return SQLiteConn(raw, None if self.path == ":memory:" else WriteLock(self.path + "-writelock"))

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        try:
            with self.pool.connection() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise StorageError(str(exc)) from exc

    @contextmanager
    def sqlite_db(self) -> Iterator[sqlite_utils.Database]:
        """A sqlite-utils ``Database`` on a pooled connection: what collectors written for
        SQLite read through ``context.db``."""
        with self.connection() as conn:
            assert isinstance(conn, SQLiteConn)
            yield sqlite_utils.Database(conn.raw)

    def columns(self, table: str) -> list[str]:
        with self.sqlite_db() as db:
            return [column.name for column in db[table].columns]

    @contextmanager
    def try_lock(self, name: str, lease_s: float = 3600.0) -> Iterator[bool]:
        key = f"lock:{name}"
        now = time.time()
        with self.connection() as conn, conn.transaction():
            held = conn.one("SELECT value FROM meta WHERE key = ?", [key])
            got = held is None or float(held) < now
            if got:
                _set_meta(conn, key, repr(now + lease_s))
        try:
            yield got
        finally:
            if got:
                self.set_meta(key, None)

    def close(self) -> None:
        self.pool.close()


def _ensure_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch a new file to WAL. The switch ignores busy_timeout, so two processes opening a
    brand-new file at once can see "database is locked": retry briefly. A file already in
    WAL (the usual case) costs one read."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
