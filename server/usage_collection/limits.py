"""Abuse limits on the report route, kept in SQLite so they hold across gunicorn workers.

Two limits per client. A client is counted by ``client_key``: an IPv4 address on its own,
an IPv6 address by its network of ``USAGE_LIMITS_IPV6_PREFIX`` bits (64 by default: one
subscriber usually gets a whole /64, so counting single IPv6 addresses would give one
person billions of quotas). Behind a reverse proxy listed in ``USAGE_TRUSTED_PROXIES``,
the address is the one the proxy put in ``X-Forwarded-For`` (``access.client_address``).

* ``USAGE_RATE_LIMIT_PER_MINUTE`` report requests per client per clock minute (a fixed
  window), counted before the body is read, so refused requests cost one small write.
* ``USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY`` keys a client may create per UTC day: a key
  is a UI counter (app, event, type), an application usage (app, view) or a user agent
  string not stored before. Checked inside the report's own transaction, so a report
  over the limit stores nothing, and two workers cannot both let a client past it.

Both answer 429 in the JSON error shape with ``Retry-After`` (seconds), which the browser
client honours. ``0`` turns a limit off; addresses in ``USAGE_LIMITS_EXEMPT`` (loopback by
default: the operator's machine, benchmarks and tests) are never limited.

In-memory limiters (Flask-Limiter's default storage) count per worker process, so two
gunicorn workers would allow twice the limit; without Redis here, SQLite is the one
store every worker shares, and one more tiny write per report is cheap next to storing
it (``bench/load.py``).
"""

from __future__ import annotations

import ipaddress
import sqlite3
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from .access import client_address, client_ip, forwarded_by_untrusted_peer
from .errors import ApiError
from .storage.db import transaction
from .timeutil import utc_day
from .validation import Report

RATE_SETTING = "USAGE_RATE_LIMIT_PER_MINUTE"
KEYS_SETTING = "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY"
EXEMPT_SETTING = "USAGE_LIMITS_EXEMPT"
IPV6_PREFIX_SETTING = "USAGE_LIMITS_IPV6_PREFIX"
WINDOW_S = 60

_COUNT_REQUEST = ("INSERT INTO client_requests (window_start, client, requests) VALUES (?, ?, 1) "
                  "ON CONFLICT (window_start, client) DO UPDATE SET requests = requests + 1 RETURNING requests")
_NEW_COUNTERS = ("WITH k(a, e, t) AS (VALUES {rows}) SELECT COUNT(*) FROM k WHERE NOT EXISTS ("
                 "SELECT 1 FROM usage_counters u WHERE u.domain_id = k.a AND u.counter_name = k.e "
                 "AND u.counter_type = k.t AND u.source = 'ui')")
_NEW_VIEWS = ("WITH k(a, v) AS (VALUES {rows}) SELECT COUNT(*) FROM k WHERE NOT EXISTS ("
              "SELECT 1 FROM application_usage_daily d WHERE d.app_id = k.a AND d.view_id = k.v) AND NOT EXISTS ("
              "SELECT 1 FROM application_usage_totals t WHERE t.app_id = k.a AND t.view_id = k.v)")
_NEW_AGENTS = ("WITH k(a, u) AS (VALUES {rows}) SELECT COUNT(*) FROM k WHERE NOT EXISTS ("
               "SELECT 1 FROM user_agents x WHERE x.key = k.a AND x.user_agent = k.u)")
_ADD_KEYS = ("INSERT INTO client_new_keys (day, client, new_keys) VALUES (?, ?, ?) "
             "ON CONFLICT (day, client) DO UPDATE SET new_keys = new_keys + excluded.new_keys")


class LimitExceeded(ApiError):
    """429 Too Many Requests, naming the limit, with ``Retry-After`` in whole seconds."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(429, message, {"Retry-After": str(max(1, retry_after_s))})


def client_key(address: str | None, settings: Mapping[str, Any]) -> str:
    """What the limits count under: an IPv4 address, or the IPv6 network of
    ``USAGE_LIMITS_IPV6_PREFIX`` bits holding the address (``2001:db8:1:2::/64``)."""
    ip = client_ip(address)
    if ip is None:
        return address or "unknown"
    if ip.version == 6:
        prefix = int(settings.get(IPV6_PREFIX_SETTING) or 64)
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
    return str(ip)


def request_client(settings: Mapping[str, Any]) -> tuple[str, bool]:
    """(the key this request is counted under, whether the limits apply to it). A request
    carrying forwarding headers from a peer that is not a trusted proxy is never exempt."""
    address = client_address(settings)
    limited = forwarded_by_untrusted_peer(settings) or not is_exempt(address, settings)
    return client_key(address, settings), limited


def is_exempt(address: str | None, settings: Mapping[str, Any]) -> bool:
    """True when ``address`` is inside one of the ``USAGE_LIMITS_EXEMPT`` networks."""
    ip = client_ip(address)
    if ip is None:
        return False
    return any(ip.version == network.version and ip in network
               for network in _networks(settings.get(EXEMPT_SETTING) or []))


def _networks(values: Iterable[str] | str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    if isinstance(values, str):
        values = values.split(",")
    return [ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip()]


def check_rate(db: Any, client: str, now: datetime, limit: int) -> None:
    """Count one request for ``client`` (reports and intake posts share the count);
    ``LimitExceeded`` past ``limit`` this minute."""
    if limit <= 0:
        return
    epoch = int(now.timestamp())
    window = epoch - epoch % WINDOW_S
    with transaction(db):
        requests = db.conn.execute(_COUNT_REQUEST, (window, client)).fetchone()[0]
        if requests == 1:  # first request of this client in this window: forget old windows
            db.conn.execute("DELETE FROM client_requests WHERE window_start < ?", (window - WINDOW_S,))
    if requests > limit:
        raise LimitExceeded(f"Too many requests from {client}: at most {limit} per minute "
                            f"({RATE_SETTING}). Retry later.", window + WINDOW_S - epoch)


def new_keys(conn: sqlite3.Connection, report: Report) -> int:
    """How many keys in ``report`` are not stored yet (run inside the report's transaction)."""
    counters = sorted({(c.app_name, c.event_name, c.type) for c in report.ui_counters if c.total})
    views = sorted({(u.app_id, u.view_id) for u in report.application_usage
                    if u.minutes_on_screen or u.number_of_clicks})
    agents = sorted({(a.key, a.user_agent) for a in report.user_agents})
    total = 0
    for sql, rows in ((_NEW_COUNTERS, counters), (_NEW_VIEWS, views), (_NEW_AGENTS, agents)):
        width = len(rows[0]) if rows else 0
        for start in range(0, len(rows), 200):
            chunk = rows[start:start + 200]
            group = "(" + ", ".join(["?"] * width) + ")"
            total += conn.execute(sql.format(rows=", ".join([group] * len(chunk))),
                                  [value for row in chunk for value in row]).fetchone()[0]
    return total


def check_new_keys(conn: sqlite3.Connection, report: Report, client: str, now: datetime, limit: int) -> None:
    """Record the keys ``report`` creates for ``client`` today; ``LimitExceeded`` (and the
    caller's transaction rolls back) when that would pass ``limit``."""
    if limit <= 0:
        return
    count = new_keys(conn, report)
    if not count:
        return
    day = utc_day(now)
    row = conn.execute("SELECT new_keys FROM client_new_keys WHERE day = ? AND client = ?", (day, client)).fetchone()
    used = row[0] if row else 0
    if used + count > limit:
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
        raise LimitExceeded(f"This report would create {count} new app, event or view names, and {client} has "
                            f"created {used} today: at most {limit} per day ({KEYS_SETTING}). Nothing was stored.",
                            int((midnight - now).total_seconds()) + 1)
    if row is None:
        conn.execute("DELETE FROM client_new_keys WHERE day < ?", (day,))
    conn.execute(_ADD_KEYS, (day, client, count))
