"""Fixtures for the admin-page tests: apps with their own settings and a clock the test moves."""

from support.telemetry_apps import app, client, clock, make_app, rows  # noqa: F401
