"""``usage-collection copy --from DB --to DB``: every table, between any two backends.

SQLite to PostgreSQL to move up to several hosts, and back for a laptop. The target is
migrated first and must be empty (no report, counter, state or snapshot in any table), so
a copy never merges into live data; rows go over in chunks inside one transaction per
table, and auto-increment keys are carried over (PostgreSQL's sequences are moved past
them).
"""

from __future__ import annotations

from typing import Callable

from .base import Storage
from .schema import TABLES

CHUNK = 1000
SERIAL_TABLES = ("telemetry_snapshots", "telemetry_opt_in_status")  # an auto-increment id each


class TargetNotEmpty(Exception):
    pass


def non_empty_tables(storage: Storage) -> list[str]:
    """Tables holding anything but the target's own instance uuid (made when it was created)."""
    found = []
    for table in TABLES:
        where = " WHERE key <> 'instance_uuid'" if table == "meta" else ""
        if storage.query(f"SELECT COUNT(*) FROM {table}{where}")[0][0]:
            found.append(table)
    return found


def copy_all(source: Storage, target: Storage, progress: Callable[[str, int], None] = lambda table, rows: None
             ) -> dict[str, int]:
    """Copy every table from ``source`` into the empty ``target``; rows copied per table."""
    source.migrate()
    target.migrate()
    busy = non_empty_tables(target)
    if busy:
        raise TargetNotEmpty(f"the target {target.description} is not empty ({', '.join(busy)} hold rows); "
                             "copy only into a new, empty database")
    copied: dict[str, int] = {}
    for table in TABLES:
        target_columns = set(target.columns(table))
        columns = [name for name in source.columns(table) if name in target_columns]
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        count = 0
        with source.connection() as reader, target.connection() as writer, writer.transaction():
            if table == "meta":  # the deployment keeps its identity: the source's uuid wins
                writer.execute("DELETE FROM meta WHERE key = 'instance_uuid'")
            cursor = reader.execute(f"SELECT {names} FROM {table}")
            while True:
                rows = cursor.fetchmany(CHUNK)
                if not rows:
                    break
                writer.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", [tuple(row) for row in rows])
                count += len(rows)
            if writer.dialect == "postgresql" and table in SERIAL_TABLES and count:
                writer.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT MAX(id) FROM {table}))")
        copied[table] = count
        progress(table, count)
    return copied
