"""The deployment's telemetry opt-in state and Kibana's rules for reading it.

The stored row (``telemetry_state``, id ``telemetry``) is Kibana's ``telemetry`` saved
object; the settings are its ``telemetry.*`` config. Resolving the two into ``true``,
``false`` or ``null`` (not asked yet) follows Kibana's ``getTelemetryOptIn`` so that an
admin who opted *out* is asked again after a minor or major upgrade, while an opt-in
stays. Everything here takes the database and the time as arguments, so tests pass their
own.

    >>> config = TelemetryConfig(opt_in=None, allow_changing=True, version="1.3.0")
    >>> resolve_opt_in(config, StoredState(enabled=False, last_version_checked="1.2.0"))
    >>> resolve_opt_in(config, StoredState(enabled=True, last_version_checked="1.2.0"))
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from ..settings import DEFAULTS, Settings
from ..storage import Storage
from ..storage.telemetry import StateRow
from ..version import __version__

REPORT_INTERVAL_MS = 86_400_000
"""Kibana's REPORT_INTERVAL_MS: a snapshot is sent at most once a day."""
REPORT_INTERVAL_BUFFER_MS = 120_000
"""Kibana's REPORT_INTERVAL_BUFFER_MS: due two minutes early, so a daily check never slips a day."""

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$")


@dataclass(frozen=True)
class TelemetryConfig:
    """The ``USAGE_TELEMETRY_*`` settings, checked once (Kibana's ``telemetry.*`` config)."""

    opt_in: bool | None = DEFAULTS.telemetry_opt_in
    allow_changing: bool = DEFAULTS.telemetry_allow_changing
    send_from: str = DEFAULTS.telemetry_send_from
    telemetry_url: str | None = DEFAULTS.telemetry_url
    opt_in_status_url: str | None = DEFAULTS.telemetry_opt_in_status_url
    banner: bool = DEFAULTS.telemetry_banner
    version: str = __version__

    @classmethod
    def from_settings(cls, settings: Settings) -> "TelemetryConfig":
        """The settings' telemetry share; checked by ``load_settings`` (the send_from choice,
        and that a fixed opt-in names its value)."""
        return cls(opt_in=settings.telemetry_opt_in, allow_changing=settings.telemetry_allow_changing,
                   send_from=settings.telemetry_send_from, telemetry_url=settings.telemetry_url,
                   opt_in_status_url=settings.telemetry_opt_in_status_url, banner=settings.telemetry_banner,
                   version=settings.telemetry_version or __version__)

    @property
    def is_fixed(self) -> bool:
        """True when the settings decide the opt-in and nobody may change it."""
        return self.opt_in is not None and not self.allow_changing


@dataclass(frozen=True)
class StoredState:
    """One read of the ``telemetry_state`` row (Kibana's telemetry saved object)."""

    enabled: bool | None = None
    last_version_checked: str | None = None
    last_reported: int | None = None
    user_has_seen_notice: bool = False
    report_failure_count: int = 0
    report_failure_version: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The saved object's attributes, as Kibana's routes echo them."""
        return {"enabled": self.enabled, "lastVersionChecked": self.last_version_checked,
                "lastReported": self.last_reported, "userHasSeenNotice": self.user_has_seen_notice,
                "reportFailureCount": self.report_failure_count,
                "reportFailureVersion": self.report_failure_version}


def parse_version(text: str | None) -> tuple[int, int, int] | None:
    """``major.minor.patch`` of a semver string, or None when it is not one."""
    match = _SEMVER.match(text or "")
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def resolve_opt_in(config: TelemetryConfig, stored: StoredState) -> bool | None:
    """Kibana's ``getTelemetryOptIn``: ``True``, ``False`` or ``None`` (ask the admin)."""
    if config.is_fixed:
        return config.opt_in
    saved = stored.enabled if stored.enabled is not None else config.opt_in
    if saved is True:
        return True
    if not isinstance(stored.last_version_checked, str):
        return None
    if stored.last_version_checked == config.version:
        return saved
    previous, current = parse_version(stored.last_version_checked), parse_version(config.version)
    if previous is None or current is None:
        return None
    if current[0] > previous[0] or (current[0] == previous[0] and current[1] > previous[1]):
        return None  # opted out (or never chose) before a minor/major upgrade: ask again
    return saved


def notify_about_opt_in_default(config: TelemetryConfig, stored: StoredState, opted_in: bool | None) -> bool:
    """Kibana's ``telemetryNotifyUserAboutOptInDefault``: opted in by the default, not told yet."""
    if not config.allow_changing or stored.user_has_seen_notice:
        return False
    return opted_in is True and config.opt_in is True


def has_seen_notice(config: TelemetryConfig, stored: StoredState, opted_in: bool | None) -> bool:
    """Seen, unless an upgrade re-opened the question since the admin dismissed the notice."""
    if not stored.user_has_seen_notice:
        return False
    return not (opted_in is None and stored.last_version_checked != config.version)


def should_show_notice(config: TelemetryConfig, stored: StoredState) -> bool:
    """The admin notice: banner on, changeable, not dismissed, and a choice is due (§9.10)."""
    opted_in = resolve_opt_in(config, stored)
    if not config.banner or not config.allow_changing or has_seen_notice(config, stored, opted_in):
        return False
    return opted_in is None or notify_about_opt_in_default(config, stored, opted_in)


def is_report_interval_expired(last_reported_ms: int | None, now_ms: int) -> bool:
    """Kibana's ``isReportIntervalExpired``: never reported, or more than a day (minus 2 min) ago."""
    if last_reported_ms is None:
        return True
    return now_ms - last_reported_ms > REPORT_INTERVAL_MS - REPORT_INTERVAL_BUFFER_MS


def _stored(row: StateRow) -> StoredState:
    if row is None:
        return StoredState()
    enabled, version, last_reported, seen, failures, failure_version = row
    return StoredState(enabled=None if enabled is None else bool(enabled), last_version_checked=version,
                       last_reported=last_reported, user_has_seen_notice=bool(seen),
                       report_failure_count=failures or 0, report_failure_version=failure_version)


def read_state(storage: Storage) -> StoredState:
    return _stored(storage.telemetry_state_row())


def update_state(storage: Storage, **columns: Any) -> StoredState:
    """Upsert some columns of the one row, atomically, and return the new state."""
    return _stored(storage.update_telemetry_state(**columns))


def set_opt_in(storage: Storage, enabled: bool, version: str) -> StoredState:
    """The admin chose: remember it and the version it was chosen at (Kibana's optIn route)."""
    return update_state(storage, enabled=int(enabled), last_version_checked=version)


def mark_notice_seen(storage: Storage, version: str) -> StoredState:
    """The admin dismissed the notice (Kibana's userHasSeenNotice route)."""
    return update_state(storage, user_has_seen_notice=1, last_version_checked=version)


def set_last_reported(storage: Storage, now_ms: int) -> StoredState:
    return update_state(storage, last_reported=now_ms)


def record_send_success(storage: Storage, now_ms: int) -> StoredState:
    """Sent: remember when, reset the failures and any retry back-off."""
    return _stored(storage.record_send_success(now_ms))


def record_send_failure(storage: Storage, version: str, next_attempt_ms: Callable[[int], int]) -> StoredState:
    """One more failure; ``next_attempt_ms(failures)`` is when to try again."""
    return _stored(storage.record_send_failure(version, next_attempt_ms))
