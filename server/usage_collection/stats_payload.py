"""The stats payload: one function behind ``GET /api/stats``, ``usage-collection stats`` and
telemetry snapshots (Kibana's collection manager, reduced to what a single service needs).

    payload = build_stats_payload(get_state(app), db, now, extended=True)
    payload["usage"]["ui_counters"]["dailyEvents"]

The service block is Kibana's ``kibana`` block under this product's name,
``usage_collection`` (as OpenSearch Dashboards renamed it ``opensearch_dashboards``), with
``name`` from ``USAGE_SERVICE_NAME``, ``index`` the database it keeps its state in
(Kibana's ``.kibana`` index) and ``locale`` the language of its pages and messages.
Figures are sampled when asked, so ``collection_interval_ms`` is 0. The cluster uuid is
the database's instance uuid: every worker sharing one database reports the same one,
like Kibana nodes sharing a cluster.

What each figure covers: ``process``, ``requests``, ``response_times``,
``concurrent_connections`` are the answering worker process's own (``request_metrics.py``);
``os`` is the host's; ``usage`` is read from the database, so it is summed over every
worker and host writing to it.
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import TYPE_CHECKING, Any


from .api_fields import to_api_field_names
from .collectors import CollectorSet
from .request_metrics import event_loop_delay_ms
from .storage import Storage
from .system_metrics import os_metrics, process_metrics

from .timeutil import iso_timestamp
from .version import __version__

if TYPE_CHECKING:
    from .state import UsageState

SERVICE_KEY = "usage_collection"
# The admin pages and every message are in English only (Kibana's i18n.locale default).
LOCALE = "en"


def service_status(db: Storage) -> str:
    """``green`` when the database answers, ``red`` when it does not (Kibana's status levels)."""
    return "green" if db.health() is None else "red"


def service_block(state: "UsageState", db: Storage, transport_address: str | None) -> dict[str, Any]:
    version, snapshot, _ = __version__.partition("-SNAPSHOT")
    block: dict[str, Any] = {
        "uuid": state.instance_uuid,
        "name": state.settings.service_name,
        "index": db.description,
        "host": socket.gethostname(),
        "version": version,
        "snapshot": bool(snapshot) or ".dev" in version,
        "status": service_status(db),
        "locale": LOCALE,
    }
    if transport_address:
        block["transport_address"] = transport_address
    return block


def fetch_usage(state: "UsageState", db: Storage, now: datetime, *, only_usage: bool = True) -> dict[str, Any]:
    """Every ready collector's output keyed by type, ``usage_collector_stats`` included."""
    with state.fetch_context(now) as context:
        return CollectorSet.to_object(state.collector_set.bulk_fetch(
            context, only_usage=only_usage, wait_s=state.settings.collector_wait_s))


def build_stats_payload(state: "UsageState", db: Storage, now: datetime, *, extended: bool = True,
                        legacy: bool = True, transport_address: str | None = None,
                        exclude_usage: bool = False) -> dict[str, Any]:
    """The /api/stats body; ``extended`` adds ``usage`` and the cluster uuid (snake_cased unless
    ``legacy``); ``exclude_usage`` leaves ``usage`` empty (Metricbeat's every-10-seconds poll)."""
    process = {**process_metrics(), "event_loop_delay": event_loop_delay_ms()}
    metrics = state.request_metrics
    http: dict[str, Any] = metrics.snapshot() if metrics is not None else {}
    payload: dict[str, Any] = {
        "process": process,
        "os": os_metrics(),
        **http,
        SERVICE_KEY: service_block(state, db, transport_address),
        "last_updated": iso_timestamp(now),
        "collection_interval_ms": 0,
    }
    if extended:
        usage_data = {} if exclude_usage else fetch_usage(state, db, now)
        usage = {"usage": usage_data, "clusterUuid": state.instance_uuid}
        payload.update(usage if legacy else to_api_field_names(usage))
    return payload
