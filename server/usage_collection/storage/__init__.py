"""SQLite storage: plain functions that take the database as their first argument."""

from .db import SCHEMA_VERSION, connect, migrate, transaction

__all__ = ["SCHEMA_VERSION", "connect", "migrate", "transaction"]
