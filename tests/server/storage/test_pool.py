"""ConnectionPool: connections reused between requests, dropped after a database error."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from usage_collection.storage.pool import ConnectionPool
from usage_collection.storage.sqlite import SQLiteStorage


@pytest.fixture
def pool(db_path):
    opened = []
    sqlite = SQLiteStorage(str(db_path))
    sqlite.migrate()
    sqlite.close()

    def connect():
        db = sqlite._connect()
        opened.append(db)
        return db

    pool = ConnectionPool(connect, keep=2)
    pool.opened = opened
    yield pool
    pool.close()


def is_open(db) -> bool:
    try:
        db.raw.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return False
    return True


def test_a_connection_is_reused_by_the_next_request(pool):
    with pool.connection() as first:
        first.raw.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    with pool.connection() as second:
        assert second is first
        assert second.raw.execute("SELECT value FROM meta WHERE key = 'k'").fetchone() == ("v",)
    assert len(pool.opened) == 1


def test_concurrent_requests_get_their_own_connections_and_at_most_keep_stay_open(pool):
    inside = threading.Barrier(3)
    seen = []

    def request():
        with pool.connection() as db:
            seen.append(db)
            inside.wait(timeout=10)

    threads = [threading.Thread(target=request) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len({id(db) for db in seen}) == 3
    assert sum(is_open(db) for db in seen) == 2  # keep=2: the third was closed when given back


def test_a_connection_that_raised_a_database_error_is_closed_not_reused(pool):
    with pytest.raises(sqlite3.OperationalError):
        with pool.connection() as broken:
            broken.raw.execute("SELECT * FROM no_such_table")
    assert not is_open(broken)
    with pool.connection() as fresh:
        assert fresh is not broken


def test_other_errors_give_the_connection_back(pool):
    with pytest.raises(KeyError):
        with pool.connection() as db:
            raise KeyError("a bug in the caller, not in the database")
    with pool.connection() as again:
        assert again is db


def test_close_closes_idle_connections(pool):
    with pool.connection() as db:
        pass
    pool.close()
    assert not is_open(db)
