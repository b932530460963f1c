"""Telemetry wired into an app: its config, the snapshot, and the server sender's thread.

``setup_telemetry(app)`` runs once when the routes are registered: it checks the
``USAGE_TELEMETRY_*`` settings (a bad value stops the start, with the setting's name) and,
with ``USAGE_TELEMETRY_SEND_FROM=server``, makes the sender, whose thread the first request
starts. ``build_snapshot`` is
Kibana's collection manager reduced to one instance: ``[{clusterUuid, stats}]`` where
``stats`` is exactly what ``usage-collection stats`` prints and ``/api/stats`` answers.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from ..state import UsageState, get_state
from ..stats_payload import build_stats_payload
from ..storage import Storage
from .sender import ServerSender
from .state import TelemetryConfig

def setup_telemetry(app: Flask) -> TelemetryConfig:
    state = get_state(app)
    config = TelemetryConfig.from_settings(state.settings)
    state.telemetry_config = config
    if config.send_from == "server":
        sender = ServerSender(state.storage, config, lambda: build_snapshot(state), state.clock,
                              timeout=state.settings.telemetry_timeout_s)
        state.telemetry_sender = sender

        @app.before_request
        def _start_sender() -> None:
            """Like the rollups: started by the first request, so a CLI command that builds the
            app (``usage-collection stats``) never sends anything."""
            sender.start()
    return config


def telemetry_config(app: Flask | None = None) -> TelemetryConfig:
    """The app's telemetry settings, checked when its routes were mounted."""
    config = get_state(app).telemetry_config
    if config is None:
        raise RuntimeError("telemetry is not set up for this app: setup_telemetry(app) runs when the routes are mounted")
    return config


def build_snapshot(state: UsageState, storage: Storage | None = None) -> list[dict[str, Any]]:
    """``[{clusterUuid, stats}]``: this instance's stats payload, unencrypted."""
    stats = build_stats_payload(state, storage or state.storage, state.clock(), extended=True, legacy=True)
    return [{"clusterUuid": state.instance_uuid, "stats": stats}]


def opt_in_status_snapshot(instance_uuid: str, opted_in: bool) -> list[dict[str, Any]]:
    """Kibana's optIn answer: ``[{clusterUuid, stats: {cluster_uuid, opt_in_status}}]``, unencrypted."""
    return [{"clusterUuid": instance_uuid, "stats": {"cluster_uuid": instance_uuid, "opt_in_status": opted_in}}]
