"""WSGI entry point for gunicorn and other servers: settings come from USAGE_* variables.

    USAGE_DB=/var/lib/usage.db gunicorn -c python:usage_collection.gunicorn_conf -w 2 -b 127.0.0.1:5000 \
        usage_collection.wsgi:app

``usage_collection.gunicorn_conf`` gives gevent workers (slow clients hold no thread), the
request limits and a clean stop; ``usage-collection serve`` runs exactly this.
"""

from .app import create_app

app = create_app()
