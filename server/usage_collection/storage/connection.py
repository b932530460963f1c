"""One small connection interface over sqlite3 and psycopg, so the SQL lives once.

Every statement in ``storage/`` is written with ``?`` placeholders and portable SQL
(``INSERT ... ON CONFLICT DO UPDATE``, ``RETURNING``, window functions: both engines
have them). ``Conn.execute`` hands SQLite the text as it is and gives PostgreSQL ``%s``
placeholders (``postgres.py``); ``Conn.transaction()`` is all-or-nothing and nests as a savepoint, which
is what lets group commit refuse one report of a batch and keep the others.

SQLite takes the write lock up front (``BEGIN IMMEDIATE``) so two writers never deadlock
on a lock upgrade; PostgreSQL runs in autocommit outside ``transaction()``.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import sqlite3
import time
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence

INT64_MAX = 9_223_372_036_854_775_807
"""Stored counts saturate here instead of overflowing (SQLite would store a REAL, PostgreSQL raise)."""

CHUNK_ROWS = 100
"""Rows per multi-row statement: well under both engines' parameter limits."""


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Conn:
    """A database connection as ``storage/`` uses it; subclasses adapt one driver."""

    dialect: str = ""
    errors: tuple[type[BaseException], ...] = ()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    @contextmanager
    def transaction(self) -> Iterator["Conn"]:
        raise NotImplementedError
        yield self

    def close(self) -> None:
        raise NotImplementedError

    def relaxed_commit(self) -> None:
        """Let this transaction's commit return before its flush to disk: for counts that
        answer no one (a request-rate window), never for a report. A crash can then lose
        the last fraction of a second of them; nothing is corrupted. SQLite in WAL mode
        with ``synchronous = NORMAL`` does not flush at commit anyway."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        row = self.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.execute(sql, params).fetchall()]

    # Dialect pieces: the few places where portable SQL does not exist.

    def sum_int(self, expr: str) -> str:
        """An integer SUM that cannot overflow: saturates at INT64_MAX."""
        raise NotImplementedError

    def sum_float(self, expr: str) -> str:
        return f"COALESCE(SUM({expr}), 0.0)"

    def not_by_index(self, column: str) -> str:
        """``column`` in a condition that must not choose the index a query is searched by:
        for when a planner without statistics (SQLite's) would take the wrong one."""
        return column


def saturating_add(table: str, column: str) -> str:
    """``column + excluded.column`` for an upsert, capped at INT64_MAX (both dialects)."""
    return (f"CASE WHEN {table}.{column} > {INT64_MAX} - excluded.{column} THEN {INT64_MAX} "
            f"ELSE {table}.{column} + excluded.{column} END")


class WriteLock:
    """SQLite's write lock, taken first in a file lock that waits politely.

    Two worker processes writing one file fight for SQLite's lock, and the loser sleeps in
    SQLite's busy handler: 1, 2, 5, 10 ms... inside C, where a gevent worker cannot serve
    anyone else meanwhile. Taking an ``flock`` on ``<db>-writelock`` first, polled with
    ``time.sleep`` (a greenlet switch under gevent), makes writers queue without blocking
    their process; ``BEGIN IMMEDIATE`` then finds SQLite's lock free."""

    POLL_S = 0.0005
    TIMEOUT_S = 30.0

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.TIMEOUT_S
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise sqlite3.OperationalError("database is locked (another writer held it for 30 s)") from None
                time.sleep(self.POLL_S)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class SQLiteConn(Conn):
    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, raw: sqlite3.Connection, write_lock: WriteLock | None = None) -> None:
        self.raw = raw
        self.write_lock = write_lock
        self._depth = 0
        self._names = itertools.count()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.raw.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator["SQLiteConn"]:
        if self._depth:
            name = f"sp{next(self._names)}"
            self.raw.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self.raw.execute(f"ROLLBACK TO {name}")
                self.raw.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.raw.execute(f"RELEASE {name}")
            return
        if self.write_lock is not None:
            self.write_lock.acquire()
        try:
            self.raw.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                if self.raw.in_transaction:
                    self.raw.execute("ROLLBACK")
                raise
            self._depth = 0
            self.raw.execute("COMMIT")
        finally:
            if self.write_lock is not None:
                self.write_lock.release()

    def close(self) -> None:
        self.raw.close()
        if self.write_lock is not None:
            self.write_lock.close()

    def sum_int(self, expr: str) -> str:
        # SUM raises "integer overflow" past int64; TOTAL is a float (exact to 2^53) and the
        # CAST of a too-large REAL gives INT64_MAX.
        return f"CAST(MIN(TOTAL({expr}), 9.2233720368547758e18) AS INTEGER)"

    def not_by_index(self, column: str) -> str:
        return f"+{column}"  # SQLite's documented way to keep a term from choosing an index
