"""Connections kept open between requests, for the hot write path (the report receiver).

Opening a SQLite connection per request looks free but is not: each new connection
re-reads the schema and re-runs the PRAGMAs, loses the prepared statements, and when it is
the last one open in any process, closing it checkpoints the WAL into the database file
(with an fsync) and deletes the WAL. With two gunicorn workers that made storing a report
cost four times the rest of the request (bench/receiver.py). A pool keeps a few
connections per process and hands one to each caller.

A connection that raised a database error is closed rather than reused. The pool notices
a ``fork`` (gunicorn ``--preload``) and never touches its parent's connections in the
child. PostgreSQL uses psycopg_pool instead (``storage/postgres.py``).
"""

from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator

from .connection import Conn


class ConnectionPool:
    """Up to ``keep`` idle connections, reused last-in first-out; safe across threads."""

    def __init__(self, connect: Callable[[], Conn], keep: int = 4) -> None:
        self._connect = connect
        self._keep = keep
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._idle: list[Conn] = []
        # Closed explicitly when the pool goes away or at exit, never left to the collector.
        weakref.finalize(self, _close_all, self._idle, self._pid)

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        conn = self._take()
        try:
            yield conn
        except BaseException as exc:
            self.release(conn, broken=isinstance(exc, conn.errors))
            raise
        self._give(conn)

    def close(self) -> None:
        """Close the idle connections (those in use are closed when given back)."""
        with self._lock:
            idle, self._keep = list(self._idle), 0
            self._idle.clear()
        _close_all(idle, self._pid)

    def release(self, conn: Conn, broken: bool = False) -> None:
        """Give a connection back; a ``broken`` one (it raised a database error) is closed."""
        if broken:
            conn.close()
        else:
            self._give(conn)

    def _take(self) -> Conn:
        with self._lock:
            if self._pid != os.getpid():
                self._reset()  # a forked child: the parent's connections are not ours to use
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give(self, conn: Conn) -> None:
        with self._lock:
            if len(self._idle) < self._keep and self._pid == os.getpid():
                self._idle.append(conn)
                return
        conn.close()


def _close_all(connections: list[Conn], pid: int) -> None:
    if os.getpid() != pid:
        return
    for conn in connections:
        conn.close()
    connections.clear()
