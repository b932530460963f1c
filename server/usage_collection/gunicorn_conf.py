"""The gunicorn settings ``usage-collection serve`` runs with (``-c python:usage_collection.gunicorn_conf``).

Why gevent workers: a client that trickles its headers or body must not hold a thread
or a process. With gevent each connection is a greenlet (a few KB), so hundreds of slow
clients wait cheaply while ``/api/status`` and reports are answered; gthread (one thread
per connection) and sync workers froze under 17-40 slow clients (issue 11). Monkey
patching makes the app's background threads (rollups, counters flush, telemetry sender,
Node builds via ``subprocess``) greenlets: they still run, and SQLite calls block the
worker briefly, as they are short.

Limits on what a client may send before the app sees it (gunicorn 25+ answers 431 for too
many or too large header fields, 414 for a long request line)::

    limit_request_line        4094 bytes   request line (method, path, query)
    limit_request_fields       100         header fields
    limit_request_field_size  8190 bytes   one header field
    worker_connections        1000         connections held at once per worker
    keepalive                    5 s       idle time on a kept-alive connection
    timeout                     30 s       a worker whose loop is silent this long is restarted

After each request a worker yields to its other connections (``post_request``): a request
that never waits (``/api/status``, a refused or ``dry_run`` report, a cached asset) would
otherwise let its connection's next request, already read or pipelined, run straight after
it, and a few busy keep-alive connections held everyone else's for up to 0.8 s under wrk
(p99 160-590 ms on ``?dry_run=true``; 16-18 ms with the yield, for about 6% of that
route's rate). A stored report waits for its commit, so it yielded already.

Your own settings file can still be used instead: ``gunicorn -c yours.py usage_collection.wsgi:app``.
"""

from __future__ import annotations

import ipaddress
import sys
from typing import Any

from gevent import sleep

from .settings import load_settings

worker_class = "gevent"
worker_connections = 1000
timeout = 30
graceful_timeout = 10
keepalive = 5
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = "-"
# gunicorn 25.1+ opens a control socket at one fixed path per user, so two servers would
# share it; serve does not use it.
control_socket_disable = True
# The scheme (X-Forwarded-Proto) is believed only from the proxies the app trusts for the
# client address: USAGE_TRUSTED_PROXIES, which serve --trusted-proxy sets.
forwarded_allow_ips = ",".join(str(ipaddress.ip_network(item, strict=False))
                               for item in load_settings().trusted_proxies)


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    """Let the worker's other connections run before this one's next request (see above)."""
    sleep(0)


def worker_exit(server: Any, worker: Any) -> None:
    """A stopping worker stops its background tasks and writes buffered usage counters."""
    module = sys.modules.get("usage_collection.wsgi")
    if module is not None:
        from .state import EXTENSION_KEY

        module.app.extensions[EXTENSION_KEY].close()
