"""Telemetry: the deployment's opt-in, its daily snapshot, sending it, and receiving others'.

Kibana's ``telemetry`` and ``telemetry_collection_manager`` plugins for one service:

- ``state``: the opt-in ``true | false | null`` and Kibana's rules for it (the re-prompt
  after an upgrade for an admin who said no, the notice);
- ``service``: the snapshot ``[{clusterUuid, stats}]`` (``stats`` is the payload of
  ``usage-collection stats``) and the app wiring;
- ``sender``: the server-side sender (``USAGE_TELEMETRY_SEND_FROM=server``); the browser
  one is ``usage_reporter.telemetry_sender``;
- ``intake``: storing snapshots sent by other deployments.

What the admin pages show (the settings page, the dashboard) is ``admin/``.
"""

from .service import build_snapshot, opt_in_status_snapshot, telemetry_config
from .state import (
    StoredState,
    TelemetryConfig,
    is_report_interval_expired,
    read_state,
    resolve_opt_in,
    should_show_notice,
)

__all__ = [
    "StoredState",
    "TelemetryConfig",
    "build_snapshot",
    "is_report_interval_expired",
    "opt_in_status_snapshot",
    "read_state",
    "resolve_opt_in",
    "should_show_notice",
    "telemetry_config",
]
