"""The request checks the write routes share, each written once: cross-site, media type, body
size, the per-minute rate limit, storage failures as 503, and boolean query flags.

Used by the report routes (``ui_counters.py``, ``ui_metric.py``), the telemetry routes
(``telemetry.py``: the admin writes and the intake) and ``/api/stats`` (its flags). Every
check raises an ``ApiError`` in the JSON error shape, naming what was wrong, before anything
is stored.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from typing import Iterator

from flask import Flask, current_app, request

from .. import limits
from ..access import has_xsrf_header
from ..errors import ApiError, BadRequest, StorageUnavailable
from ..request_metrics import mark_client_disconnected
from ..state import UsageState, get_state
from ..storage import StorageError

XSRF_MESSAGE = "Request must contain a kbn-xsrf header."
BODY_SETTING = "USAGE_MAX_BODY_BYTES"
REPORT_MEDIA_TYPES = ("application/json", "text/plain")  # text/plain: navigator.sendBeacon with a string
JSON_ONLY = ("application/json",)
_UTF8 = ("utf-8", "utf8")


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` in lower case, without a trailing slash or path."""
    url = url.strip().lower()
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.rstrip("/")
    return scheme + "://" + rest.split("/", 1)[0]


def allowed_origins(app: Flask) -> list[str]:
    """``USAGE_ALLOWED_ORIGINS``, each origin normalised as a browser sends it."""
    return [origin_of(origin) for origin in get_state(app).settings.allowed_origins]


def check_cross_site(message: str = XSRF_MESSAGE, *, allow_listed: bool = True) -> None:
    """Kibana's rule (a ``kbn-xsrf`` or ``kbn-version`` header, or OpenSearch Dashboards'
    ``osd-xsrf`` / ``osd-version``), else an ``Origin`` that is this server's own or, when
    ``allow_listed``, on ``USAGE_ALLOWED_ORIGINS``; else 400 with ``message``.

    A cross-site page cannot add a custom header without a CORS preflight that only
    allow-listed origins pass, and browsers always send ``Origin`` on a cross-site POST.
    The telemetry admin writes pass ``allow_listed=False``: sites allowed to post *reports*
    are not trusted to change telemetry settings.
    """
    headers = request.headers
    if has_xsrf_header(headers):
        return
    origin = headers.get("Origin")
    if origin:
        origin = origin_of(origin)
        if origin == origin_of(request.host_url):
            return
        if allow_listed:
            allowed = allowed_origins(current_app)
            if origin in allowed or "*" in allowed:
                return
    raise BadRequest(message)


def check_media_type(accepted: tuple[str, ...], advice: str) -> None:
    """One of ``accepted``, in UTF-8 (JSON is UTF-8, RFC 8259), else 415 ending in ``advice``.
    Like Kibana (hapi), a body without a ``Content-Type`` is read as JSON."""
    content_type = request.headers.get("Content-Type")
    if content_type is None:
        return
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype not in accepted or charset not in _UTF8:
        raise ApiError(415, f"Unsupported Media Type {content_type!r}: {advice}")


def read_body(limit: int, setting: str = BODY_SETTING) -> bytes:
    """At most ``limit`` bytes, else 413 naming ``setting``: checks Content-Length, and reads
    at most limit + 1 bytes so a chunked body without a length cannot get past the limit.
    A body shorter than its Content-Length (the client went away) is a 400, never stored."""
    too_large = ApiError(413, f"Request body is larger than the limit of {limit} bytes ({setting}).")
    length = request.content_length
    if length is not None and length > limit:
        raise too_large
    stream = request.stream
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise too_large
    if length is not None and size < length:  # the client went away mid-body (gunicorn reads EOF)
        mark_client_disconnected(request.environ)
        raise BadRequest(f"[request body]: the body ended after {size} of its {length} bytes "
                         "(the client disconnected); nothing was stored.")
    return b"".join(chunks)


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """503 in the JSON error shape when the database fails, saying ``what`` did not happen:
    a client keeps its data and retries."""
    try:
        yield
    except StorageError as exc:
        raise StorageUnavailable(f"Storage is unavailable ({exc}); {what}. Retry later.") from exc


def rate_limit(state: UsageState, now: datetime, what: str) -> tuple[str, bool]:
    """The per-minute limit, before the body is read: ``(client, limited)``, where ``client``
    is the key the limits count under (an address or an IPv6 /64) and ``limited`` says
    whether they apply (not in ``USAGE_LIMITS_EXEMPT``); 429 past the limit (``limits.py``)."""
    settings = state.settings
    client, limited = limits.request_client(settings)
    if limited:  # shared by every worker and host, in the database
        with storage_errors(what):
            limits.check_rate(state.request_counts.submit, client, now, settings.rate_limit_per_minute)
    return client, limited


def query_flag(name: str, default: bool = False) -> bool:
    """A boolean query flag, as Kibana reads ``/api/stats``' ``extended`` and ``legacy``
    (``schema.boolean``, or ``''`` meaning true, so ``?extended&legacy`` turns both on):
    absent is ``default``; ``''`` and ``true`` are True, ``false`` False (any case); anything
    else, ``1``, ``0`` and ``yes`` included, is a 400 naming the flag."""
    if not request.environ.get("QUERY_STRING"):  # most reports: no query to parse
        return default
    value = request.args.get(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in ("", "true"):
        return True
    if lowered == "false":
        return False
    raise BadRequest(f"[request query.{name}]: expected value of type [boolean] but got {value[:80]!r}: "
                     "use true, false or an empty value")
