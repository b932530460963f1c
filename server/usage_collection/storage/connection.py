"""One small connection interface over sqlite3 and psycopg, so the SQL lives once.

Every statement in ``storage/`` is written with ``?`` placeholders and portable SQL
(``INSERT ... ON CONFLICT DO UPDATE``, ``RETURNING``, window functions: both engines
have them). ``Conn.execute`` hands SQLite the text as it is and gives PostgreSQL ``%s``
placeholders; ``Conn.transaction()`` is all-or-nothing and nests as a savepoint, which
is what lets group commit refuse one report of a batch and keep the others.

SQLite takes the write lock up front (``BEGIN IMMEDIATE``) so two writers never deadlock
on a lock upgrade; PostgreSQL runs in autocommit outside ``transaction()``.
"""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, Sequence

INT64_MAX = 9_223_372_036_854_775_807
"""Stored counts saturate here instead of overflowing (SQLite would store a REAL, PostgreSQL raise)."""


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


def saturating_add(table: str, column: str) -> str:
    """``column + excluded.column`` for an upsert, capped at INT64_MAX (both dialects)."""
    return (f"CASE WHEN {table}.{column} > {INT64_MAX} - excluded.{column} THEN {INT64_MAX} "
            f"ELSE {table}.{column} + excluded.{column} END")


class SQLiteConn(Conn):
    dialect = "sqlite"
    errors = (sqlite3.Error,)

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
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

    def close(self) -> None:
        self.raw.close()

    def sum_int(self, expr: str) -> str:
        # SUM raises "integer overflow" past int64; TOTAL is a float (exact to 2^53) and the
        # CAST of a too-large REAL gives INT64_MAX.
        return f"CAST(MIN(TOTAL({expr}), 9.2233720368547758e18) AS INTEGER)"


class PostgresConn(Conn):
    dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        import psycopg

        self.raw = raw
        self.errors = (psycopg.Error,)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(sql.replace("?", "%s"), params or None, prepare=None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def transaction(self) -> Iterator["PostgresConn"]:
        with self.raw.transaction():
            yield self

    def close(self) -> None:
        self.raw.close()

    def sum_int(self, expr: str) -> str:
        return f"LEAST(COALESCE(SUM({expr}), 0), {INT64_MAX})::BIGINT"
