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
gunicorn workers would allow twice the limit; both limits are kept in the database every
worker and every host shares (``storage/``): the request counts of concurrent requests
share one small transaction (``storage/request_counts.py``), the key limit is checked in
the report's batch.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Callable

from .access import client_address, client_ip, forwarded_by_untrusted_peer, in_networks
from .errors import ApiError
from .settings import Settings
from .storage import KeyLimitHit

RATE_SETTING = "USAGE_RATE_LIMIT_PER_MINUTE"  # named in the 429 messages
KEYS_SETTING = "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY"
WINDOW_S = 60


class LimitExceeded(ApiError):
    """429 Too Many Requests, naming the limit, with ``Retry-After`` in whole seconds."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(429, message, {"Retry-After": str(max(1, retry_after_s))})


def client_key(address: str | None, settings: Settings) -> str:
    """What the limits count under: an IPv4 address, or the IPv6 network of
    ``USAGE_LIMITS_IPV6_PREFIX`` bits holding the address (``2001:db8:1:2::/64``)."""
    return _client_key(address, settings.limits_ipv6_prefix)


@lru_cache(maxsize=4096)
def _client_key(address: str | None, prefix: int) -> str:
    """Cached per address: a client sends many requests, each would format its key again."""
    ip = client_ip(address)
    if ip is None:
        return address or "unknown"
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))
    return str(ip)


def request_client(settings: Settings) -> tuple[str, bool]:
    """(the key this request is counted under, whether the limits apply to it). A request
    carrying forwarding headers from a peer that is not a trusted proxy is never exempt."""
    address = client_address(settings)
    limited = forwarded_by_untrusted_peer(settings) or not is_exempt(address, settings)
    return client_key(address, settings), limited


def is_exempt(address: str | None, settings: Settings) -> bool:
    """True when ``address`` is inside one of the ``USAGE_LIMITS_EXEMPT`` networks (parsed
    once per value of the setting, ``access.parse_networks``)."""
    return in_networks(address, settings.limits_exempt)


def check_rate(count: Callable[[tuple[str, int, int]], int], client: str, now: datetime, limit: int) -> None:
    """Count one request for ``client`` (reports and intake posts share the count) with
    ``count`` (a batch writer over ``Storage.count_requests``); ``LimitExceeded`` past
    ``limit`` this minute."""
    if limit <= 0:
        return
    epoch = int(now.timestamp())
    window = epoch - epoch % WINDOW_S
    requests = count((client, window, WINDOW_S))
    if requests > limit:
        raise LimitExceeded(f"Too many requests from {client}: at most {limit} per minute "
                            f"({RATE_SETTING}). Retry later.", window + WINDOW_S - epoch)


def key_limit_exceeded(hit: KeyLimitHit, client: str, now: datetime) -> LimitExceeded:
    """The 429 for a report refused by the per-client new-key limit (checked in its batch)."""
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
    return LimitExceeded(f"This report would create {hit.count} new app, event or view names, and {client} has "
                         f"created {hit.used} today: at most {hit.limit} per day ({KEYS_SETTING}). Nothing was stored.",
                         int((midnight - now).total_seconds()) + 1)
