"""The ``usage-collection`` command: serve, stats, schema-check, rollup.

Library errors become one-line ``click`` errors, never tracebacks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import click

from .app import create_app


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Usage telemetry for web apps: a Kibana-compatible receiver on SQLite."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option("--db", "db_path", default=None, help="SQLite file (default: $USAGE_DB or usage.db).")
@click.option("--workers", default=1, show_default=True, type=int, help="More than 1 runs gunicorn with that many worker processes.")
@click.option("--demo", is_flag=True, help="Also serve the demo app at /.")
def serve(host: str, port: int, db_path: str | None, workers: int, demo: bool) -> None:
    """Run the receiver, stats API, dashboard and (with --demo) the demo app."""
    if db_path:
        os.environ["USAGE_DB"] = db_path
    if demo:
        os.environ["USAGE_DEMO"] = "true"
    if workers > 1:
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or shutil.which("gunicorn")
        if gunicorn is None:
            raise click.ClickException("--workers needs gunicorn: pip install 'usage-collection[server]'")
        command = [gunicorn, "--workers", str(workers), "--bind", f"{host}:{port}",
                   "--access-logfile", "-", "--graceful-timeout", "10", "usage_collection.wsgi:app"]
        raise SystemExit(subprocess.call(command))
    try:
        app = create_app()
    except (ValueError, RuntimeError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"usage-collection: serving on http://{host}:{port}/ (database {app.config['USAGE_DB']})")
    app.run(host=host, port=port, threaded=True, use_reloader=False)
