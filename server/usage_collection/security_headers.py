"""Headers every admin response carries (the dashboard, the settings page, their data and
assets): they cannot be framed (clickjacking the opt-in switch), sniffed, or leak their URL.

The Content-Security-Policy allows only what the pages use: scripts, styles, images and
requests from this origin; ``'unsafe-eval'`` because Brython (the browser sender) runs the
JavaScript it compiles from Python; ``data:`` images for the empty favicon; and requests to
the origins of ``USAGE_TELEMETRY_URL`` and ``USAGE_TELEMETRY_OPT_IN_STATUS_URL``, where the
browser sender posts. No inline script or style is allowed (the pages have none).
"""

from __future__ import annotations

import urllib.parse

from flask import Blueprint, Response

from .settings import Settings
from .state import get_state


def content_security_policy(settings: Settings) -> str:
    """The admin pages' CSP for these settings."""
    connect = ["'self'"]
    for value in (settings.telemetry_url, settings.telemetry_opt_in_status_url):
        if value:
            parts = urllib.parse.urlsplit(value)
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in connect:
                connect.append(origin)
    return "; ".join([
        "default-src 'self'",
        "script-src 'self' 'unsafe-eval'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src " + " ".join(connect),
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def add_admin_headers(response: Response) -> Response:
    """``after_request`` hook: the security headers above on one admin response."""
    headers = response.headers
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Content-Security-Policy"] = content_security_policy(get_state().settings)
    return response


def protect(blueprint: Blueprint) -> None:
    """Every response of ``blueprint`` (pages, JSON, assets, errors) gets the admin headers."""
    blueprint.after_request(add_admin_headers)
