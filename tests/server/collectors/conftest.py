"""Fixtures for the collector tests: a migrated ``db`` and a thread-leak guard."""

from support.usage_rows import db, no_leaked_threads  # noqa: F401
