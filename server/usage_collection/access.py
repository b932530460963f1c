"""Who may read operator data (/api/stats, the telemetry admin routes): ``require_admin()``;
the admin pages and the routes they call: ``require_admin_access()`` (also HTTP Basic).

With ``USAGE_STATS_TOKEN`` set, a request needs ``Authorization: Bearer <token>`` (401 with
``WWW-Authenticate: Bearer`` otherwise), compared in constant time. Without a token only
local operators may read: usage data is not for anonymous remote users, and an operator on
the machine should not need set-up to look. A request is a local operator's when

* its client is loopback (127.0.0.0/8, ::1): the peer, or, when the peer is one of
  ``USAGE_TRUSTED_PROXIES``, the address the proxy put in ``X-Forwarded-For``;
* it carries no forwarding header unless its peer is a trusted proxy: behind a proxy on the
  same host every client would otherwise look local;
* its ``Host`` is a loopback name (``localhost``, ``127.0.0.1``, ``[::1]``, any port) or on
  ``USAGE_ALLOWED_HOSTS``: a page of another site whose name was re-pointed at 127.0.0.1
  (DNS rebinding) sends its own name as Host, and is refused.

::

    @blueprint.get("/api/my_admin_data")
    @admin_required
    def my_admin_data(): ...
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from typing import Any, Callable, Iterable, TypeVar

from flask import request

from .errors import ApiError
from .settings import Settings
from .state import get_state

TOKEN_SETTING = "USAGE_STATS_TOKEN"  # this and the two below are named in the 401 and 403 messages
# Headers a cross-site form cannot send: Kibana's, and OpenSearch Dashboards' names for them.
XSRF_HEADERS = ("kbn-xsrf", "kbn-version", "osd-xsrf", "osd-version")
PROXIES_SETTING = "USAGE_TRUSTED_PROXIES"
HOSTS_SETTING = "USAGE_ALLOWED_HOSTS"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto")
_FORWARDING_ENVIRON_KEYS = tuple("HTTP_" + name.upper().replace("-", "_") for name in FORWARDING_HEADERS)
BASIC_REALM = 'Basic realm="usage-collection admin", charset="UTF-8"'
PROXY_FIX_KEY = "werkzeug.proxy_fix.orig"  # set when the app applied werkzeug's ProxyFix itself
View = TypeVar("View", bound=Callable[..., Any])


def has_xsrf_header(headers: Any) -> bool:
    """True when a write carries one of ``XSRF_HEADERS`` (any value), as Kibana and OSD require."""
    return any(name in headers for name in XSRF_HEADERS)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=4096)
def client_ip(address: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """A client's address as an IP (IPv4-mapped IPv6 unwrapped, zone dropped), or None.
    Cached: one request asks up to four times (proxies, exemption, limits key), and parsing
    an address costs microseconds; the IP objects are immutable."""
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


def in_networks(address: str | None, networks: Iterable[str] | str | None) -> bool:
    """True when ``address`` is inside one of ``networks`` (addresses or CIDR networks)."""
    ip = client_ip(address)
    if ip is None or not networks:
        return False
    return any(ip.version == network.version and ip in network for network in parse_networks(networks))


def parse_networks(values: Iterable[str] | str) -> tuple[Network, ...]:
    """A networks setting (a list, or a comma-separated string) as networks. Parsed once per
    distinct value, not per request (``ip_network`` costs about 10 µs each); keyed by the
    value itself, so a setting changed at run time is read afresh."""
    return _parse_networks(values if isinstance(values, str) else tuple(values))


@functools.lru_cache(maxsize=64)
def _parse_networks(values: tuple[str, ...] | str) -> tuple[Network, ...]:
    if isinstance(values, str):
        values = tuple(values.split(","))
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value.strip())


def _settings() -> Settings:
    return get_state().settings


def peer_is_trusted_proxy(settings: Settings | None = None) -> bool:
    """The TCP peer is one of ``USAGE_TRUSTED_PROXIES`` (or the app applied ProxyFix itself)."""
    if PROXY_FIX_KEY in request.environ:
        return True
    return in_networks(request.remote_addr, (settings or _settings()).trusted_proxies)


def client_address(settings: Settings | None = None) -> str | None:
    """This request's client: the peer, or, from a trusted proxy, the right-most
    ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries to its left were
    written by the client and may be forged)."""
    settings = settings or _settings()
    peer = request.remote_addr
    if PROXY_FIX_KEY in request.environ or not in_networks(peer, settings.trusted_proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("X-Forwarded-For") for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not in_networks(hop, settings.trusted_proxies):
            return hop
    return hops[0] if hops else peer


def forwarded_by_untrusted_peer(settings: Settings | None = None) -> bool:
    """The request carries a forwarding header, but its peer is not a trusted proxy: it came
    through a proxy nobody configured (or claims to), so it is nobody's local request."""
    if peer_is_trusted_proxy(settings):
        return False
    environ = request.environ  # the WSGI keys: a tenth of the cost of five ``request.headers`` lookups
    return any(key in environ for key in _FORWARDING_ENVIRON_KEYS)


def host_name(host: str) -> str:
    """``Host`` without its port, lower case: ``[::1]:5000`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_is_allowed(host: str, allowed: Iterable[str]) -> bool:
    """A loopback name, or one of ``USAGE_ALLOWED_HOSTS`` (``*.example.org`` matches subdomains)."""
    name = host_name(host)
    if name in LOOPBACK_HOSTS:
        return True
    for pattern in allowed or ():
        pattern = pattern.lower()
        if name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    scheme, _, token = (header or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_matches(supplied: str, token: Any) -> bool:
    """The one comparison of a supplied secret with ``USAGE_STATS_TOKEN``: in constant time
    (``hmac.compare_digest``), so response times do not reveal how much of it was right."""
    return hmac.compare_digest(supplied.encode("utf-8"), str(token).encode("utf-8"))


def require_admin(what: str | None = None) -> None:
    """Raise ``ApiError`` (401 or 403) unless this request may read operator data."""
    route = what or f"{request.method} {request.path}"
    token = get_state().settings.stats_token
    if token:
        supplied = bearer_token(request.headers.get("Authorization"))
        if supplied is None:
            raise ApiError(401, f"{route} requires a bearer token: send the header "
                                f"'Authorization: Bearer <{TOKEN_SETTING}>'.", {"WWW-Authenticate": "Bearer"})
        if not token_matches(supplied, token):
            raise ApiError(401, f"The bearer token sent to {route} is not valid.",
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return
    settings = get_state().settings
    hint = (f"Set {TOKEN_SETTING} on the server and send 'Authorization: Bearer <token>' to read it "
            f"remotely.")
    if not is_loopback(client_address(settings)):
        raise ApiError(403, f"{route} is only readable from this machine (127.0.0.1 or ::1) while "
                            f"{TOKEN_SETTING} is not set. {hint}")
    if forwarded_by_untrusted_peer(settings):
        raise ApiError(403, f"{route}: this request carries forwarding headers (X-Forwarded-For...) but came "
                            f"from {request.remote_addr}, which is not in {PROXIES_SETTING}, so it is not "
                            f"treated as local. List your reverse proxy in {PROXIES_SETTING}, or {hint[0].lower()}"
                            f"{hint[1:]}")
    if not host_is_allowed(request.host, settings.allowed_hosts):
        raise ApiError(403, f"{route}: the Host {host_name(request.host)!r} is not a loopback name (localhost, "
                            f"127.0.0.1, [::1]) nor in {HOSTS_SETTING}, so this is not treated as a local "
                            f"request (a DNS-rebinding page would send its own name). Add the name to "
                            f"{HOSTS_SETTING}, or {hint[0].lower()}{hint[1:]}")


def require_admin_access(*, page: bool = False) -> None:
    """``require_admin`` for the admin pages and the routes they call, also accepting HTTP
    Basic whose password is the token: a browser cannot add a bearer header to a page it
    navigates to, so a page's 401 challenges with Basic and the browser shows its login
    prompt (any user name), then sends it on the page's own requests."""
    token = get_state().settings.stats_token
    auth = request.authorization
    if token and auth is not None and auth.type == "basic" and auth.password is not None:
        if token_matches(auth.password, token):
            return
    try:
        require_admin()
    except ApiError as exc:
        if page and exc.status == 401:
            exc.headers = {**exc.headers, "WWW-Authenticate": BASIC_REALM}
            exc.message += " In a browser, sign in with any user name and the token as the password."
        raise


def admin_required(view: View) -> View:
    """Decorator form of ``require_admin`` for a Flask view."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_admin()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
