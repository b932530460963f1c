"""``GET /api/stats``: service, process and OS figures; with ``extended=true`` every collector's usage.

Query flags follow Kibana 7.x (§6.2): ``extended`` and ``legacy`` are booleans where an
empty value means true (``?extended&legacy``; ``checks.query_flag``); with ``exclude_usage`` true, ``usage`` is
``{}`` as in every Kibana version (``test/api_integration/apis/stats/stats.js``: Metricbeat's
10-second poll asks for it, and then no collector runs). Any other value is a 400 naming
the flag.
Unlike newest Kibana, ``usage`` is not empty, and unlike 7.x a collector that is not ready
does not turn the answer into a 503: it is skipped and listed in ``usage_collector_stats``.
Readable with the bearer token, or from loopback when no token is set (``access.py``).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from ..access import require_admin
from ..state import get_db, get_state
from ..stats_payload import build_stats_payload
from .checks import query_flag

blueprint = Blueprint("usage_stats", __name__)

FLAGS = ("extended", "legacy", "exclude_usage")


@blueprint.get("/api/stats")
def stats() -> ResponseReturnValue:
    require_admin()
    extended, legacy, exclude_usage = (query_flag(name) for name in FLAGS)
    state = get_state()
    payload = build_stats_payload(state, get_db(), state.clock(), extended=extended, legacy=legacy,
                                  transport_address=request.host, exclude_usage=exclude_usage)
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response
