"""Who may read operator data (/api/stats, the telemetry admin routes): ``require_admin()``.

With ``USAGE_STATS_TOKEN`` set, a request needs ``Authorization: Bearer <token>`` (401 with
``WWW-Authenticate: Bearer`` otherwise), compared in constant time. Without a token only
loopback clients (127.0.0.0/8, ::1) may read: usage data is not for anonymous remote
users, and an operator on the machine should not need set-up to look. Behind a reverse
proxy every client looks local, so set the token there (or apply werkzeug's ``ProxyFix``)::

    @blueprint.get("/api/my_admin_data")
    @admin_required
    def my_admin_data(): ...
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from typing import Any, Callable, TypeVar

from flask import request

from .errors import ApiError
from .extension import get_state

TOKEN_SETTING = "USAGE_STATS_TOKEN"
# Headers a cross-site form cannot send: Kibana's, and OpenSearch Dashboards' names for them.
XSRF_HEADERS = ("kbn-xsrf", "kbn-version", "osd-xsrf", "osd-version")
View = TypeVar("View", bound=Callable[..., Any])


def has_xsrf_header(headers: Any) -> bool:
    """True when a write carries one of ``XSRF_HEADERS`` (any value), as Kibana and OSD require."""
    return any(name in headers for name in XSRF_HEADERS)


def client_ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A client's address as an IP (IPv4-mapped IPv6 unwrapped, zone dropped), or None."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback (``::ffff:127.0.0.1``)."""
    ip = client_ip(address)
    return bool(ip is not None and ip.is_loopback)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    scheme, _, token = (header or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def require_admin(what: str | None = None) -> None:
    """Raise ``ApiError`` (401 or 403) unless this request may read operator data."""
    route = what or f"{request.method} {request.path}"
    token = get_state().settings.get(TOKEN_SETTING)
    if token:
        supplied = bearer_token(request.headers.get("Authorization"))
        if supplied is None:
            raise ApiError(401, f"{route} requires a bearer token: send the header "
                                f"'Authorization: Bearer <{TOKEN_SETTING}>'.", {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(supplied.encode("utf-8"), str(token).encode("utf-8")):
            raise ApiError(401, f"The bearer token sent to {route} is not valid.",
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return
    if not is_loopback(request.remote_addr):
        raise ApiError(403, f"{route} is only readable from this machine (127.0.0.1 or ::1) while "
                            f"{TOKEN_SETTING} is not set. Set {TOKEN_SETTING} on the server and send "
                            f"'Authorization: Bearer <token>' to read it remotely.")


def admin_required(view: View) -> View:
    """Decorator form of ``require_admin`` for a Flask view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_admin()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
