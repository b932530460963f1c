"""WSGI entry point for gunicorn and other servers: settings come from USAGE_* variables.

    USAGE_DB=/var/lib/usage.db gunicorn -w 2 -b 127.0.0.1:5000 usage_collection.wsgi:app
"""

from .app import create_app

app = create_app()
