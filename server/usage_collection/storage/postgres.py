"""The shared backend: PostgreSQL through psycopg 3 and psycopg_pool, for many hosts.

Receivers on any number of hosts share one database: counters, reportIds, limits, the
telemetry state and the intake all live there, so any host can answer any request.
Connections are in autocommit outside ``transaction()``; the pool is made per process
(after a fork, a child opens its own). Cross-host locks are PostgreSQL advisory locks,
released with the session if a host dies. psycopg cooperates with gevent by itself
(3.1.14 and later), so ``serve``'s gevent workers wait on the database without blocking.
"""

from __future__ import annotations

import os
import threading
import zlib
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from .base import Storage
from .connection import INT64_MAX, Conn
from .core import StorageError
from .urls import describe_url


class PostgresConn(Conn):
    dialect = "postgresql"
    errors = (psycopg.Error,)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(sql.replace("?", "%s"), params or None, prepare=None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    @contextmanager
    def transaction(self) -> Iterator["PostgresConn"]:
        with self.raw.transaction():
            yield self

    def relaxed_commit(self) -> None:
        self.raw.execute("SET LOCAL synchronous_commit = off")

    def close(self) -> None:
        self.raw.close()

    def sum_int(self, expr: str) -> str:
        return f"LEAST(COALESCE(SUM({expr}), 0), {INT64_MAX})::BIGINT"


class PostgresStorage(Storage):
    dialect = "postgresql"

    def __init__(self, url: str, max_connections: int = 8) -> None:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        self.url = url
        self.max_connections = max_connections
        self._pool: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return describe_url(self.url)

    def _get_pool(self) -> Any:
        if self._pool is None or self._pid != os.getpid():
            with self._lock:
                if self._pool is None or self._pid != os.getpid():
                    self._pool = ConnectionPool(self.url, min_size=1, max_size=self.max_connections,
                                                kwargs={"autocommit": True}, open=False, timeout=10.0,
                                                max_idle=60.0, name="usage-pg")
                    self._pool.open(wait=False)
                    self._pid = os.getpid()
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        try:
            with self._get_pool().connection() as raw:
                yield PostgresConn(raw)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StorageError(str(exc).strip() or type(exc).__name__) from exc

    def columns(self, table: str) -> list[str]:
        return [name for (name,) in self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? ORDER BY ordinal_position", [table])]

    @contextmanager
    def try_lock(self, name: str, lease_s: float = 3600.0) -> Iterator[bool]:
        key = zlib.crc32(name.encode())
        with self.connection() as conn:
            got = bool(conn.one("SELECT pg_try_advisory_lock(?)", [key]))
            try:
                yield got
            finally:
                if got:
                    conn.one("SELECT pg_advisory_unlock(?)", [key])

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()
