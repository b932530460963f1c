"""The telemetry state row, the sender's claim, and the intake's snapshots, on both engines.

``telemetry_state`` holds one row (id ``telemetry``), Kibana's telemetry saved object.
``claim_send`` decides and records, in one transaction, that THIS process sends the daily
snapshot now: the decision reads the shared row and a lease in ``meta``, so however many
processes and hosts tick at once, one sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from ..timeutil import iso_timestamp, utc_day
from .core import StorageCore, _set_meta

STATE_COLUMNS = ("enabled", "last_version_checked", "last_reported", "user_has_seen_notice",
                 "report_failure_count", "report_failure_version")
NEXT_ATTEMPT_KEY = "telemetry_next_attempt_ms"

StateRow = tuple[Any, ...] | None


@dataclass(frozen=True)
class IntakeCaps:
    """Caps on what an intake keeps (0 turns one off)."""

    per_instance_per_day: int = 4
    per_client_per_day: int = 10
    total_bytes: int = 1024 ** 3


class IntakeRefused(Exception):
    """A snapshot past one of the intake's caps; the message names the cap. ``full``: the
    total size cap (the intake is full), not a per-day one."""

    def __init__(self, message: str, full: bool = False) -> None:
        super().__init__(message)
        self.full = full


class TelemetryStore(StorageCore):
    def telemetry_state_row(self) -> StateRow:
        """The state row's ``STATE_COLUMNS``, or None before anything was saved."""
        with self.connection() as conn:
            return _read(conn)

    def update_telemetry_state(self, **columns: Any) -> StateRow:
        """Upsert some columns of the row, atomically; returns the new row."""
        unknown = set(columns) - set(STATE_COLUMNS)
        if unknown:
            raise ValueError(f"unknown telemetry state columns {sorted(unknown)}")
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{name} = excluded.{name}" for name in columns)
        with self.connection() as conn, conn.transaction():
            conn.execute(f"INSERT INTO telemetry_state (id, {names}) VALUES ('telemetry', {marks}) "
                         f"ON CONFLICT (id) DO UPDATE SET {updates}", list(columns.values()))
            return _read(conn)

    def record_send_failure(self, version: str, next_attempt_ms: Callable[[int], int]) -> StateRow:
        """One more failed send; the next attempt's time (from the failure count) goes in ``meta``."""
        with self.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO telemetry_state (id, report_failure_count, report_failure_version) "
                         "VALUES ('telemetry', 1, ?) ON CONFLICT (id) DO UPDATE SET "
                         "report_failure_count = telemetry_state.report_failure_count + 1, "
                         "report_failure_version = excluded.report_failure_version", [version])
            row = _read(conn)
            _set_meta(conn, NEXT_ATTEMPT_KEY, str(next_attempt_ms(row[4] if row else 1)))
            return row

    def record_send_success(self, now_ms: int) -> StateRow:
        with self.connection() as conn, conn.transaction():
            conn.execute("INSERT INTO telemetry_state (id, last_reported, report_failure_count) VALUES "
                         "('telemetry', ?, 0) ON CONFLICT (id) DO UPDATE SET last_reported = excluded.last_reported, "
                         "report_failure_count = 0", [now_ms])
            _set_meta(conn, NEXT_ATTEMPT_KEY, None)
            return _read(conn)

    def claim_send(self, decide: Callable[[StateRow], str | None], now_ms: int, lease_ms: int) -> str:
        """``decide(row)`` names why not to send (or None); else take a lease and answer ``claimed``.

        Answers ``waiting`` while another sender's lease or a retry back-off runs."""
        with self.connection() as conn, conn.transaction():
            verdict = decide(_read(conn))
            if verdict is not None:
                return verdict
            until = conn.one("SELECT value FROM meta WHERE key = ?", [NEXT_ATTEMPT_KEY])
            if until is not None and now_ms < int(until):
                return "waiting"
            _set_meta(conn, NEXT_ATTEMPT_KEY, str(now_ms + lease_ms))
        return "claimed"

    # -- the intake --------------------------------------------------------------------------

    def store_snapshot(self, instance_uuid: str, client: str, payload: str, now: datetime,
                       caps: IntakeCaps = IntakeCaps()) -> int:
        """One row per received snapshot; its id. ``IntakeRefused`` past a cap (nothing stored)."""
        day = utc_day(now)
        size = len(payload.encode())
        with self.connection() as conn, conn.transaction():
            if caps.per_instance_per_day:
                kept = conn.one("SELECT COUNT(*) FROM telemetry_snapshots WHERE instance_uuid = ? AND day = ?",
                                [instance_uuid, day])
                if kept >= caps.per_instance_per_day:
                    raise IntakeRefused(f"instance {instance_uuid} already sent {kept} snapshots today: at most "
                                        f"{caps.per_instance_per_day} a day (USAGE_INTAKE_MAX_PER_INSTANCE_PER_DAY).")
            if caps.per_client_per_day:
                kept = conn.one("SELECT COUNT(*) FROM telemetry_snapshots WHERE client = ? AND day = ?", [client, day])
                if kept >= caps.per_client_per_day:
                    raise IntakeRefused(f"{client} already sent {kept} snapshots today: at most "
                                        f"{caps.per_client_per_day} a day per address "
                                        "(USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY).")
            if caps.total_bytes:
                total = conn.one("SELECT COALESCE(SUM(bytes), 0) FROM telemetry_snapshots")
                if int(total) + size > caps.total_bytes:
                    raise IntakeRefused(f"the intake holds {int(total)} bytes of snapshots: at most "
                                        f"{caps.total_bytes} (USAGE_INTAKE_MAX_TOTAL_BYTES).", full=True)
            return int(conn.one(
                "INSERT INTO telemetry_snapshots (instance_uuid, received_at, day, payload, client, bytes) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING id", [instance_uuid, iso_timestamp(now), day, payload, client, size]))

    def store_opt_in_status(self, instance_uuid: str, opted_in: bool, now: datetime) -> int:
        with self.connection() as conn, conn.transaction():
            return int(conn.one("INSERT INTO telemetry_opt_in_status (instance_uuid, received_at, opt_in_status) "
                                "VALUES (?, ?, ?) RETURNING id", [instance_uuid, iso_timestamp(now), int(opted_in)]))

    def snapshots_per_day(self, first_day: str) -> list[tuple[str, str, int]]:
        """``(instance, day, snapshots)`` from ``first_day`` on."""
        return self.query("SELECT instance_uuid, day, COUNT(*) FROM telemetry_snapshots WHERE day >= ? "
                          "GROUP BY instance_uuid, day ORDER BY day, instance_uuid", [first_day])

    def latest_opt_in_status(self) -> dict[str, bool]:
        """Each reporting instance's most recent opt-in status."""
        rows = self.query("SELECT instance_uuid, opt_in_status FROM telemetry_opt_in_status AS t WHERE id = "
                          "(SELECT MAX(id) FROM telemetry_opt_in_status WHERE instance_uuid = t.instance_uuid) "
                          "ORDER BY instance_uuid")
        return {instance: bool(status) for instance, status in rows}

    def snapshot_payloads(self, limit: int = 100) -> list[tuple[str, str, str]]:
        """``(instance, received_at, payload)`` of the newest snapshots."""
        return self.query("SELECT instance_uuid, received_at, payload FROM telemetry_snapshots "
                          "ORDER BY id DESC LIMIT ?", [limit])


def _read(conn: Any) -> StateRow:
    row = conn.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM telemetry_state WHERE id = 'telemetry'").fetchone()
    return None if row is None else tuple(row)
