"""Connections kept open between requests, for the hot write path (the report receiver).

Opening a SQLite connection per request looks free but is not: each new connection
re-reads the schema and re-runs the PRAGMAs, loses the prepared statements, and when it is
the last one open in any process, closing it checkpoints the WAL into the database file
(with an fsync) and deletes the WAL. With two gunicorn workers that made storing a report
cost four times the rest of the request (bench/receiver.py). A pool keeps a few
connections per process and hands one to each request.

    pool = ConnectionPool(lambda: connect("usage.db"))
    with pool.connection() as db:
        store_report(db, report, now)

A connection that raised ``sqlite3.Error`` is closed rather than reused. The pool notices a
``fork`` (gunicorn ``--preload``) and never touches its parent's connections in the child.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from contextlib import contextmanager
from typing import Callable, Iterator

import sqlite_utils


class ConnectionPool:
    """Up to ``keep`` idle connections, reused last-in first-out; safe across threads."""

    def __init__(self, connect: Callable[[], sqlite_utils.Database], keep: int = 4) -> None:
        self._connect = connect
        self._keep = keep
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._idle: list[sqlite_utils.Database] = []
        # Closed explicitly when the pool goes away or at exit, never left to the collector.
        weakref.finalize(self, _close_all, self._idle, self._pid)

    @contextmanager
    def connection(self) -> Iterator[sqlite_utils.Database]:
        db = self._take()
        try:
            yield db
        except sqlite3.Error:
            db.conn.close()  # locked, read-only, corrupt...: start afresh next time
            raise
        except BaseException:
            self._give(db)
            raise
        self._give(db)

    def close(self) -> None:
        """Close the idle connections (those in use are closed when given back)."""
        with self._lock:
            idle, self._keep = list(self._idle), 0
            self._idle.clear()
        _close_all(idle, self._pid)

    def acquire(self) -> sqlite_utils.Database:
        """A connection for the caller to ``release`` (for per-request use, like Flask's ``g``)."""
        return self._take()

    def release(self, db: sqlite_utils.Database, broken: bool = False) -> None:
        """Give a connection back; a ``broken`` one (it raised ``sqlite3.Error``) is closed."""
        if broken:
            db.conn.close()
        else:
            self._give(db)

    def _take(self) -> sqlite_utils.Database:
        with self._lock:
            if self._pid != os.getpid():
                self._reset()  # a forked child: the parent's connections are not ours to use
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _give(self, db: sqlite_utils.Database) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(db)
                return
        db.conn.close()


def _close_all(connections: list[sqlite_utils.Database], pid: int) -> None:
    if os.getpid() != pid:
        return
    for db in connections:
        db.conn.close()
    connections.clear()
