"""The server-side telemetry sender (``USAGE_TELEMETRY_SEND_FROM=server``): Kibana's ``FetcherTask``.

A daemon thread checks every minute; ``tick()`` is one check, and tests call it directly
with their own clock. A snapshot is sent when the deployment is opted in, a telemetry URL
is set and the stored ``last_reported`` is older than a day minus two minutes. A failure
is counted (``report_failure_count``) and the next attempt waits 2, 4, 8 ... 64 minutes.

Several worker processes (gunicorn) each run a sender; they agree through the database:
``tick`` claims the send in one transaction (``Storage.claim_send``) by moving the shared
``telemetry_next_attempt_ms`` (in ``meta``) past the time a send can take, so exactly one
process on one host sends, and a failure's backoff holds for all of them and across restarts.

A body over ``COMPRESS_OVER_BYTES`` is sent gzipped (``Content-Encoding: gzip``), so a
large snapshot still fits the intake's limit (a ~20 MB snapshot of many user agents
packs to a few hundred KB). A snapshot that still does not fit is a failure like any
other: counted, retried, and its reason (``HTTP 413 ...``) is kept in ``meta`` and shown on
the settings page: never dropped silently.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any, Callable

from ..background import PeriodicTask
from ..storage import Storage
from ..storage.telemetry import StateRow
from .state import (
    TelemetryConfig,
    _stored,
    is_report_interval_expired,
    record_send_failure,
    record_send_success,
    resolve_opt_in,
)

log = logging.getLogger("usage_collection.telemetry")

CHECK_INTERVAL_S = 60.0
RETRY_UNIT_MS = 60_000
RETRY_CAP_FACTOR = 64
LAST_FAILURE_KEY = "telemetry_last_failure"
COMPRESS_OVER_BYTES = 8 * 1024

Snapshot = list[dict[str, Any]]
Poster = Callable[[str, bytes, dict[str, str], float], int]


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def retry_delay_ms(failures: int) -> int:
    """Kibana's browser backoff, used here too: 2, 4, 8 ... 64 minutes."""
    return RETRY_UNIT_MS * min(2 ** max(failures, 1), RETRY_CAP_FACTOR)


def post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the HTTP status; 0 when the server could not be reached."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("telemetry: cannot reach %s: %s", url, exc)
        return 0


def snapshot_headers(instance_uuid: str, version: str) -> dict[str, str]:
    """Kibana's X-Elastic-Cluster-ID / X-Elastic-Stack-Version, under our names."""
    return {"X-Usage-Instance-ID": instance_uuid, "X-Usage-Version": version}


def send_snapshot(url: str, snapshot: Snapshot, version: str, timeout: float, post: Poster = post_json) -> str | None:
    """POST each ``{clusterUuid, stats}``'s stats; the first problem as text, or None when all arrived."""
    for entry in snapshot:
        body = json.dumps(entry["stats"], separators=(",", ":")).encode()
        headers = snapshot_headers(entry["clusterUuid"], version)
        size = f"{len(body)} bytes"
        if len(body) > COMPRESS_OVER_BYTES:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
            size += f", {len(body)} gzipped"
        status = post(url, body, headers, timeout)
        if not 200 <= status < 300:
            if status == 413:
                return f"HTTP 413: the snapshot ({size}) is larger than the intake accepts"
            return "unreachable" if status == 0 else f"HTTP {status}"
    return None


def last_failure(storage: Storage) -> dict[str, Any] | None:
    """The server sender's last failure since its last success: ``{"at": ms, "error": text}``."""
    value = storage.get_meta(LAST_FAILURE_KEY)
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


class ServerSender:
    """Sends the snapshot from the server once a day while opted in; one ``tick`` per check."""

    def __init__(self, storage: Storage, config: TelemetryConfig,
                 build_snapshot: Callable[[], Snapshot], clock: Callable[[], datetime], *,
                 timeout: float = 10.0, post: Poster = post_json, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.storage = storage
        self.config = config
        self.build_snapshot = build_snapshot
        self.clock = clock
        self.timeout = timeout
        self.post = post
        self.interval_s = interval_s
        self._task: PeriodicTask | None = None
        self._stopped = False

    def tick(self) -> str:
        """One check. Returns what happened: sent, failed, not-opted-in, no-url, not-due, waiting."""
        if not self.config.telemetry_url:
            return "no-url"
        claim = self._claim()
        if claim != "claimed":
            return claim
        error = self._send()
        now_ms = epoch_ms(self.clock())
        if error is None:
            record_send_success(self.storage, now_ms)
            self.storage.set_meta(LAST_FAILURE_KEY, None)
            log.info("telemetry: snapshot sent to %s", self.config.telemetry_url)
            return "sent"
        failures = record_send_failure(self.storage, self.config.version,
                                       lambda count: now_ms + retry_delay_ms(count)).report_failure_count
        self.storage.set_meta(LAST_FAILURE_KEY, json.dumps({"at": now_ms, "error": error}))
        log.warning("telemetry: sending the snapshot to %s failed (%s); attempt %d, next in %d min",
                    self.config.telemetry_url, error, failures, retry_delay_ms(failures) // 60_000)
        return "failed"

    def _claim(self) -> str:
        now_ms = epoch_ms(self.clock())

        def decide(row: StateRow) -> str | None:
            stored = _stored(row)
            if resolve_opt_in(self.config, stored) is not True:
                return "not-opted-in"
            if not is_report_interval_expired(stored.last_reported, now_ms):
                return "not-due"
            return None

        lease_ms = int(self.timeout * 1000) * 4 + 60_000  # a send in flight elsewhere holds this long
        return self.storage.claim_send(decide, now_ms, lease_ms)

    def _send(self) -> str | None:
        try:
            snapshot = self.build_snapshot()
        except Exception as exc:  # a broken collector set must not kill the thread
            log.exception("telemetry: building the snapshot failed")
            return f"snapshot failed: {exc}"
        return send_snapshot(str(self.config.telemetry_url), snapshot, self.config.version, self.timeout, self.post)

    # -- the thread ------------------------------------------------------------------------
    def start(self) -> "ServerSender":
        """Check now and then every ``interval_s`` in a daemon thread, until ``stop()``."""
        if self._task is None and not self._stopped:
            self._task = PeriodicTask("telemetry-sender", self.interval_s, self.tick, run_at_start=True)
            self._task.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop for good (a later ``start`` does nothing); ``UsageState.close()`` calls it."""
        self._stopped = True
        if self._task is not None:
            self._task.stop(timeout)

    close = stop

    @property
    def running(self) -> bool:
        return self._task is not None and self._task.running

def report_opt_in_status(url: str, instance_uuid: str, opted_in: bool, version: str, timeout: float,
                         post: Poster = post_json) -> threading.Thread:
    """Tell the opt-in status URL about a change, in the background and best effort (Kibana's
    ``kibana-opt_in_status`` channel); a failure is logged, never shown to the admin."""
    body = json.dumps({"cluster_uuid": instance_uuid, "opt_in_status": opted_in}).encode()

    def deliver() -> None:
        status = post(url, body, snapshot_headers(instance_uuid, version), timeout)
        if not 200 <= status < 300:
            log.warning("telemetry: reporting the opt-in status to %s failed (%s)", url, status or "unreachable")

    thread = threading.Thread(target=deliver, name="usage-telemetry-opt-in-status", daemon=True)
    thread.start()
    return thread
