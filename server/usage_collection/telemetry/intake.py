"""The receiving end of telemetry: snapshots and opt-in changes from other deployments.

Kibana sends to Elastic's telemetry cluster (``/v3/send/kibana-snapshot`` and
``/v3/send/kibana-opt_in_status``); a deployment of this package with
``USAGE_INTAKE_ENABLED`` plays that part at ``/api/telemetry/v3/intake`` and
``/api/telemetry/v3/intake/opt_in_status``. The body is whatever the sender posts: a
snapshot's ``stats`` (the same payload as ``usage-collection stats``), or
``{"cluster_uuid", "opt_in_status"}``. The sending instance is named by the
``X-Usage-Instance-ID`` header, or by the body's own uuid when the header is absent.

Validation is strict about the shape (it is a public endpoint) but not about every
collector's fields: a newer sender may carry collectors this intake has never heard of.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from ..errors import BadRequest
from ..storage import IntakeCaps, Storage
from ..timeutil import utc_day
from ..validation import js_type
from .bodies import check_object

INSTANCE_HEADER = "X-Usage-Instance-ID"
VERSION_HEADER = "X-Usage-Version"
_INSTANCE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}\Z")
OPT_IN_STATUS_FIELDS = {"cluster_uuid": ("string", True), "opt_in_status": ("boolean", True)}
ROOT = "request body"


def _instance(value: Any, where: str) -> str:
    if type(value) is not str or not _INSTANCE_ID.match(value):
        raise BadRequest(f"[{where}]: expected 1 to 64 characters from A-Z a-z 0-9 . _ : - "
                         f"but got {json.dumps(value)[:80] if type(value) is str else '[' + js_type(value) + ']'}")
    return value


def body_instance_uuid(payload: dict[str, Any]) -> Any:
    """The uuid a snapshot carries itself: ``clusterUuid`` (or ``cluster_uuid``), else its
    service block's ``uuid`` (``usage_collection``, or Kibana's and OSD's names for it)."""
    for key in ("clusterUuid", "cluster_uuid"):
        if key in payload:
            return payload[key]
    for section in ("usage_collection", "kibana", "opensearch_dashboards"):
        if isinstance(payload.get(section), dict) and "uuid" in payload[section]:
            return payload[section]["uuid"]
    return None


def validate_snapshot(body: Any, header_instance: str | None) -> tuple[str, dict[str, Any]]:
    """A snapshot must be an object whose ``usage`` is an object; returns (instance uuid, body)."""
    if type(body) is not dict:
        raise BadRequest(f"[{ROOT}]: expected a plain object value, but found [{js_type(body)}] instead. "
                         "Post one snapshot's stats (the output of `usage-collection stats`).")
    if "usage" not in body:
        raise BadRequest(f"[{ROOT}.usage]: expected value of type [object] but got [undefined]")
    if type(body["usage"]) is not dict:
        raise BadRequest(f"[{ROOT}.usage]: expected value of type [object] but got [{js_type(body['usage'])}]")
    for name, value in body["usage"].items():
        if type(value) is not dict:
            raise BadRequest(f"[{ROOT}.usage.{name[:80]}]: expected value of type [object] "
                             f"but got [{js_type(value)}]")
    if header_instance is not None:
        return _instance(header_instance, f"request headers.{INSTANCE_HEADER.lower()}"), body
    from_body = body_instance_uuid(body)
    if from_body is None:
        raise BadRequest(f"[request headers.{INSTANCE_HEADER.lower()}]: the sending instance is unknown: "
                         f"send the {INSTANCE_HEADER} header or a clusterUuid in the body.")
    return _instance(from_body, f"{ROOT}.clusterUuid"), body


def validate_opt_in_status(body: Any, header_instance: str | None) -> tuple[str, bool]:
    """``{"cluster_uuid": str, "opt_in_status": bool}``; the header, when sent, must agree."""
    check_object(body, OPT_IN_STATUS_FIELDS)
    instance = _instance(body["cluster_uuid"], f"{ROOT}.cluster_uuid")
    if header_instance is not None and header_instance != instance:
        raise BadRequest(f"[request headers.{INSTANCE_HEADER.lower()}]: {json.dumps(header_instance[:80])} "
                         f"does not match the body's cluster_uuid {json.dumps(instance)}.")
    return instance, body["opt_in_status"]


def store_snapshot(storage: Storage, instance_uuid: str, payload: dict[str, Any], now: datetime,
                   client: str = "", caps: IntakeCaps = IntakeCaps()) -> int:
    """One row per received snapshot; its id. ``IntakeRefused`` past a cap."""
    return storage.store_snapshot(instance_uuid, client, json.dumps(payload, separators=(",", ":")), now, caps)


def store_opt_in_status(storage: Storage, instance_uuid: str, opted_in: bool, now: datetime) -> int:
    return storage.store_opt_in_status(instance_uuid, opted_in, now)


def snapshots_per_day(storage: Storage, now: datetime, days: int) -> list[dict[str, Any]]:
    """``[{instance, day, snapshots}]`` for the last ``days`` UTC days, for the dashboard."""
    rows = storage.snapshots_per_day(utc_day(now - timedelta(days=days - 1)))
    return [{"instance": instance, "day": day, "snapshots": count} for instance, day, count in rows]


def latest_opt_in_status(storage: Storage) -> dict[str, bool]:
    """Each reporting instance's most recent opt-in status."""
    return storage.latest_opt_in_status()
