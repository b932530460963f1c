"""One JSON error shape for every error the server answers: ``{statusCode, error, message}``.

Kibana answers with Boom's shape; so do we, for every status, so a client needs one parser.
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import ClientDisconnected, HTTPException

from .settings import Settings


class ApiError(Exception):
    """Raised anywhere in a request to answer ``status`` with ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


class StorageUnavailable(ApiError):
    """The database could not take the write; the client keeps the data and retries."""

    def __init__(self, message: str = "Storage is unavailable; the report was not stored. Retry later.") -> None:
        super().__init__(503, message)


def error_body(status: int, message: str) -> dict[str, object]:
    from werkzeug.http import HTTP_STATUS_CODES

    return {"statusCode": status, "error": HTTP_STATUS_CODES.get(status, "Error"), "message": message}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> ResponseReturnValue:
    response = jsonify(error_body(status, message))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def register_error_handlers(app: Flask, settings: Settings) -> None:
    """Every error, ours or Werkzeug's (404, 405, 413...), leaves in the same JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> ResponseReturnValue:
        return error_response(exc.status, exc.message, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> ResponseReturnValue:
        status = exc.code or 500
        message = exc.description or exc.name
        if isinstance(exc, ClientDisconnected):  # a body cut short: a disconnect in /api/stats
            from .request_metrics import mark_client_disconnected

            mark_client_disconnected(request.environ)
            message = ("[request body]: the body ended before its Content-Length (the client disconnected); "
                       "nothing was stored.")
        if status == 413:
            limit = settings.max_body_bytes
            message = f"Request body is larger than the limit of {limit} bytes."
        return error_response(status, message)
