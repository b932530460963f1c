"""The ``usage-collection`` command: serve, stats, schema-check, rollup, copy.

Library errors become one-line ``click`` errors, never tracebacks.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click
from flask import Flask

from .app import create_app
from .state import EXTENSION_KEY, UsageState
from .schema_check import SCHEMA_FILE, diff_mappings, read_mapping, write_mapping
from .settings import SettingError, Settings, load_settings
from .stats_payload import build_stats_payload
from .storage import StorageError, describe_url, is_postgres_url, open_storage

LIBRARY_ERRORS = (StorageError, RuntimeError, ValueError, OSError)
DB_HELP = "SQLite file or postgresql:// URL (default: $USAGE_DB or usage.db)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Usage telemetry for web apps: a Kibana-compatible receiver on SQLite or PostgreSQL."""


def _prepare_database(db_url: str) -> None:
    try:
        storage = open_storage(db_url)
        try:
            storage.migrate()
        finally:
            storage.close()
    except LIBRARY_ERRORS as exc:
        raise click.ClickException(str(exc)) from None


class SettingsError(click.ClickException):
    """A bad setting or option value: one line naming it, exit code 2 (a usage error)."""

    exit_code = 2


def _check_settings() -> Settings:
    """Every setting parsed and range-checked once, before anything starts."""
    try:
        return load_settings()
    except SettingError as exc:
        raise SettingsError(str(exc)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--db", "db_path", default=None, help=DB_HELP)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="gunicorn worker processes (each holds up to 1000 connections).")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS",
              help="A reverse proxy (address or network) whose X-Forwarded-For is believed; "
                   "repeatable; sets USAGE_TRUSTED_PROXIES.")
@click.option("--demo", is_flag=True, help="Also serve the demo app at /.")
def serve(host: str, port: int, db_path: str | None, workers: int, trusted_proxies: tuple[str, ...],
          demo: bool) -> None:
    """Run the receiver, stats API, dashboard and (with --demo) the demo app under gunicorn."""
    if db_path:
        os.environ["USAGE_DB"] = db_path
    if demo:
        os.environ["USAGE_DEMO"] = "true"
    if trusted_proxies:
        os.environ["USAGE_TRUSTED_PROXIES"] = ",".join(trusted_proxies)
    settings = _check_settings()
    command = gunicorn_command(host, port, workers)
    _prepare_database(settings.db)  # created, in WAL and migrated once, before the workers race to do it
    click.echo(f"usage-collection: serving on http://{_url_host(host)}:{port}/ with {workers} gunicorn "
               f"worker(s) (database {describe_url(settings.db)})")
    sys.stdout.flush()
    sys.stderr.flush()
    # The server replaces this process, so a service manager's SIGTERM reaches gunicorn's
    # arbiter itself, which stops its workers and frees the port (no orphan with PPID 1).
    os.execv(command[0], command)


def gunicorn_command(host: str, port: int, workers: int) -> list[str]:
    """The gunicorn command line ``serve`` runs: gevent workers, settings from gunicorn_conf."""
    gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
    if gunicorn is None:
        raise click.ClickException("serve needs gunicorn and gevent: pip install 'usage-collection[server]'")
    try:
        import gevent  # noqa: F401  (imported only to say so now, not in every worker)
    except ImportError:
        raise click.ClickException("serve needs gevent: pip install 'usage-collection[server]'") from None
    return [gunicorn, "--config", "python:usage_collection.gunicorn_conf", "--workers", str(workers),
            "--bind", f"{_url_host(host)}:{port}", "usage_collection.wsgi:app"]


def _url_host(host: str) -> str:
    """An IPv6 address in brackets, as URLs and gunicorn's --bind want it."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


_DB_OPTION = click.option("--db", "db_path", default=None, help=DB_HELP)
_APP_OPTION = click.option("--app", "app_path", default=None, metavar="MODULE:APP",
                           help="Your Flask app or factory (as for 'flask --app'), to include your own collectors.")


def _load_user_app(app_path: str) -> Flask:
    from flask.cli import NoAppException, ScriptInfo

    try:
        app = ScriptInfo(app_import_path=app_path).load_app()
    except NoAppException as exc:
        raise click.ClickException(str(exc).strip().splitlines()[0]) from None
    if EXTENSION_KEY not in app.extensions:
        raise click.ClickException(f"{app_path} has no UsageCollection: call UsageCollection(app) or usage.init_app(app)")
    return app


@contextmanager
def _usage_state(db_path: str | None, app_path: str | None = None) -> Iterator[UsageState]:
    """The state of ``--app``, or of the standalone app on an existing ``--db``; closed afterwards."""
    if app_path and db_path:
        raise click.ClickException("use either --app (its own USAGE_DB) or --db, not both")
    if app_path:
        app = _load_user_app(app_path)
    else:
        settings = _check_settings()  # a bad USAGE_* variable: one line naming it, exit 2
        path = db_path or settings.db
        if not is_postgres_url(path) and not Path(path).is_file():
            raise click.ClickException(f"no database file at {path} (pass --db FILE or set USAGE_DB)")
        try:
            app = create_app({"USAGE_DB": path, "USAGE_ROLLUP_INTERVAL_S": 0})
        except LIBRARY_ERRORS as exc:
            raise click.ClickException(f"cannot open database {describe_url(path)}: {exc}") from None
    state: UsageState = app.extensions[EXTENSION_KEY]
    try:
        yield state
    finally:
        state.close()


@main.command()
@_DB_OPTION
@_APP_OPTION
def stats(db_path: str | None, app_path: str | None) -> None:
    """Print the extended stats payload as JSON (Kibana's api_debug): GET /api/stats?extended&legacy."""
    with _usage_state(db_path, app_path) as state:
        try:
            payload = build_stats_payload(state, state.storage, state.clock(), extended=True, legacy=True)
        except LIBRARY_ERRORS as exc:
            raise click.ClickException(f"cannot read {state.storage.description}: {exc}") from None
    click.echo(json.dumps(payload, indent=2))


@main.command("schema-check")
@click.option("--fix", is_flag=True, help="Rewrite the stored JSON to match the collectors' schemas.")
@click.option("--file", "file_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"Stored mapping to compare with (default: the package's {SCHEMA_FILE.name}; required with --app).")
@_APP_OPTION
def schema_check(fix: bool, file_path: Path | None, app_path: str | None) -> None:
    """Compare every registered collector's schema with the stored JSON (Kibana's telemetry_check)."""
    if app_path:
        if file_path is None:
            raise click.ClickException("--app needs --file: the JSON file your project keeps its mapping in")
        app = _load_user_app(app_path)
        state: UsageState = app.extensions[EXTENSION_KEY]
        expected = state.collector_set.mapping()
        state.close()
    else:
        from .extension import UsageCollection

        expected = UsageCollection().get_collector_set().mapping()
    path = file_path or SCHEMA_FILE
    try:
        stored = read_mapping(path)
    except (ValueError, OSError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    changes = diff_mappings(expected, stored)
    count = len(expected["properties"])
    if not changes:
        click.echo(f"{path} is up to date ({count} collectors).")
        return
    if fix:
        try:
            write_mapping(path, expected)
        except OSError as exc:
            raise click.ClickException(f"cannot write {path}: {exc}") from None
        click.echo(f"Updated {path} ({len(changes)} changes, {count} collectors).")
        return
    click.echo(f"The following changes must be persisted in {path} file. Use '--fix' to update.", err=True)
    for line in changes:
        click.echo(f"  {line}", err=True)
    raise SystemExit(1)


@main.command()
@_DB_OPTION
def rollup(db_path: str | None) -> None:
    """Run rollups and retention now: old daily app usage into totals; old counters, report ids and intake rows deleted."""
    with _usage_state(db_path) as state:
        try:
            summary = state.run_rollups()
        except LIBRARY_ERRORS as exc:
            raise click.ClickException(f"cannot roll up {state.storage.description}: {exc}") from None
        settings = state.settings
    if summary.skipped:
        click.echo("rollups: skipped, another process or host is running them now")
        return
    click.echo(f"application_usage: rolled {summary.application_usage_days_rolled} daily rows into "
               f"{summary.application_usage_totals_updated} totals (days older than "
               f"{settings.app_usage_keep_days})")
    click.echo(f"usage_counters: deleted {summary.usage_counters_deleted} daily rows (older than "
               f"{settings.ui_counters_keep_days} days)")
    click.echo(f"reports_seen: forgot {summary.reports_seen_deleted} report ids (older than "
               f"{settings.report_ids_keep_days} days)")
    click.echo(f"intake: deleted {summary.intake_rows_deleted} snapshots and opt-in changes (older than "
               f"{settings.intake_keep_days} days)")


@main.command("copy")
@click.option("--from", "source_url", required=True, metavar="DB", help="SQLite file or postgresql:// URL to read.")
@click.option("--to", "target_url", required=True, metavar="DB", help="SQLite file or postgresql:// URL to fill; must be empty.")
def copy_command(source_url: str, target_url: str) -> None:
    """Copy every table between two databases, e.g. SQLite to PostgreSQL to add receiver hosts."""
    from .storage.copy import TargetNotEmpty, copy_all

    if not is_postgres_url(source_url) and not Path(source_url).is_file():
        raise click.ClickException(f"no database file at {source_url}")
    source, target = open_storage(source_url), open_storage(target_url)
    try:
        copied = copy_all(source, target, lambda table, rows: click.echo(f"{table}: {rows} rows"))
    except TargetNotEmpty as exc:
        raise click.ClickException(str(exc)) from None
    except LIBRARY_ERRORS as exc:
        raise click.ClickException(f"copy failed, nothing of the failing table was written: {exc}") from None
    finally:
        source.close()
        target.close()
    click.echo(f"copied {sum(copied.values())} rows in {len(copied)} tables from {source.description} "
               f"to {target.description}")
