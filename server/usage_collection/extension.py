"""The Flask extension: ``UsageCollection(app)`` or ``usage.init_app(app)``.

Per-app state lives in ``app.extensions["usage_collection"]`` (a ``UsageState``); the
database is opened lazily once per request and closed at teardown, never a module global.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import sqlite_utils
from flask import Flask, current_app, g

from . import storage
from .errors import register_error_handlers
from .settings import load_settings

Clock = Callable[[], datetime]

EXTENSION_KEY = "usage_collection"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class UsageState:
    """Everything one app's usage collection holds; reachable as ``app.extensions["usage_collection"]``."""

    settings: dict[str, Any]
    clock: Clock
    instance_uuid: str
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def db_path(self) -> str:
        return str(self.settings["USAGE_DB"])

    def connect(self) -> sqlite_utils.Database:
        return storage.connect(self.db_path)


def get_state(app: Flask | None = None) -> UsageState:
    return (app or current_app).extensions[EXTENSION_KEY]


def get_db() -> sqlite_utils.Database:
    """This request's database connection, opened on first use."""
    if "usage_db" not in g:
        g.usage_db = get_state().connect()
    return g.usage_db


def _close_db(_exc: BaseException | None) -> None:
    db = g.pop("usage_db", None)
    if db is not None:
        db.conn.close()


class UsageCollection:
    """Usage collection for a Flask app: the report receiver, collectors, stats and telemetry."""

    def __init__(self, app: Flask | None = None, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or utc_now
        self.app: Flask | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        overrides = {key: value for key, value in app.config.items() if key.startswith("USAGE_")}
        settings = load_settings(overrides)
        app.config.update(settings)
        db = storage.connect(str(settings["USAGE_DB"]))
        try:
            storage.migrate(db)
            instance_uuid = _instance_uuid(db)
        finally:
            db.conn.close()
        state = UsageState(settings=settings, clock=self.clock, instance_uuid=instance_uuid)
        app.extensions[EXTENSION_KEY] = state
        app.teardown_appcontext(_close_db)
        register_error_handlers(app)
        from .routes import register_routes

        register_routes(app)
        self.app = app


def _instance_uuid(db: sqlite_utils.Database) -> str:
    """A stable id for this deployment (Kibana's server uuid), created with the database."""
    with storage.transaction(db):
        row = db.conn.execute("SELECT value FROM meta WHERE key = 'instance_uuid'").fetchone()
        if row:
            return row[0]
        value = str(uuid.uuid4())
        db.conn.execute("INSERT INTO meta (key, value) VALUES ('instance_uuid', ?)", [value])
        return value
