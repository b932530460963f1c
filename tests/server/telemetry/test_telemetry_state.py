"""Kibana's opt-in resolution, the notice rule and the stored state, on a real SQLite file."""

from __future__ import annotations

import pytest

from usage_collection.settings import SettingError, load_settings
from usage_collection.storage import open_storage
from usage_collection.telemetry.state import (
    StoredState,
    TelemetryConfig,
    is_report_interval_expired,
    mark_notice_seen,
    parse_version,
    read_state,
    record_send_failure,
    record_send_success,
    resolve_opt_in,
    set_last_reported,
    set_opt_in,
    should_show_notice,
)

V12, V121, V13, V20 = "1.2.0", "1.2.1", "1.3.0", "2.0.0"


def config(version: str = V13, **kwargs) -> TelemetryConfig:
    return TelemetryConfig(version=version, **kwargs)


@pytest.mark.parametrize(("cfg", "stored", "expected"), [
    # nothing chosen, no default: ask
    (config(), StoredState(), None),
    # fixed by the settings, whatever is stored
    (config(opt_in=False, allow_changing=False), StoredState(enabled=True, last_version_checked=V13), False),
    (config(opt_in=True, allow_changing=False), StoredState(enabled=False, last_version_checked=V13), True),
    # a default that may be changed
    (config(opt_in=True), StoredState(), True),
    (config(opt_in=False), StoredState(), None),
    (config(opt_in=False), StoredState(enabled=False, last_version_checked=V13), False),
    # opted in stays opted in across upgrades
    (config(), StoredState(enabled=True, last_version_checked=V12), True),
    (config(V20), StoredState(enabled=True, last_version_checked=V12), True),
    # opted out: kept on the same version and on a patch upgrade...
    (config(V12), StoredState(enabled=False, last_version_checked=V12), False),
    (config(V121), StoredState(enabled=False, last_version_checked=V12), False),
    # ...asked again after a minor or major upgrade
    (config(V13), StoredState(enabled=False, last_version_checked=V12), None),
    (config(V20), StoredState(enabled=False, last_version_checked=V12), None),
    # a downgrade keeps the choice
    (config(V12), StoredState(enabled=False, last_version_checked=V13), False),
    # unparseable versions: ask
    (config("dev"), StoredState(enabled=False, last_version_checked=V12), None),
    (config(), StoredState(enabled=False, last_version_checked="nightly"), None),
    # stored false without the version it was chosen at: ask
    (config(), StoredState(enabled=False), None),
], ids=lambda value: repr(value) if not isinstance(value, (TelemetryConfig, StoredState)) else None)
def test_resolve_opt_in(cfg, stored, expected):
    assert resolve_opt_in(cfg, stored) is expected


@pytest.mark.parametrize(("cfg", "stored", "shown"), [
    (config(), StoredState(), True),  # not chosen yet
    (config(banner=False), StoredState(), False),
    (config(opt_in=False, allow_changing=False), StoredState(), False),  # nothing to choose
    (config(), StoredState(user_has_seen_notice=True, last_version_checked=V13), False),  # dismissed
    (config(), StoredState(enabled=True, last_version_checked=V13), False),  # chose yes
    (config(), StoredState(enabled=False, last_version_checked=V13), False),  # chose no
    (config(opt_in=True), StoredState(), True),  # opted in by default: tell the admin once
    (config(opt_in=True), StoredState(user_has_seen_notice=True, last_version_checked=V13), False),
    # opted out and dismissed at 1.2, upgraded to 1.3: asked again
    (config(V13), StoredState(enabled=False, user_has_seen_notice=True, last_version_checked=V12), True),
])
def test_should_show_notice(cfg, stored, shown):
    assert should_show_notice(cfg, stored) is shown


@pytest.mark.parametrize(("text", "parsed"), [
    ("1.2.3", (1, 2, 3)), ("v10.0.1", (10, 0, 1)), ("1.2.3-rc.1", (1, 2, 3)), ("1.2", None), ("", None), (None, None),
])
def test_parse_version(text, parsed):
    assert parse_version(text) == parsed


def test_interval_uses_kibanas_buffer():
    day = 86_400_000
    assert is_report_interval_expired(None, 0)
    assert not is_report_interval_expired(0, day - 120_000)
    assert is_report_interval_expired(0, day - 119_999)


@pytest.mark.parametrize(("settings", "message"), [
    ({"USAGE_TELEMETRY_SEND_FROM": "cloud"},
     "setting USAGE_TELEMETRY_SEND_FROM: must be 'browser' or 'server', got 'cloud'"),
    ({"USAGE_TELEMETRY_ALLOW_CHANGING": False},
     "setting USAGE_TELEMETRY_ALLOW_CHANGING: false needs USAGE_TELEMETRY_OPT_IN set to true or false "
     "(the value it fixes)"),
])
def test_config_refuses_inconsistent_settings(settings, message):
    """Checked with every other setting, at start, in one line (``load_settings``)."""
    with pytest.raises(SettingError) as refused:
        load_settings(settings, environ={})
    assert str(refused.value) == message


def test_a_fixed_opt_in_from_the_environment_is_named_so():
    with pytest.raises(SettingError, match=r"^environment variable USAGE_TELEMETRY_ALLOW_CHANGING: false needs"):
        load_settings(environ={"USAGE_TELEMETRY_ALLOW_CHANGING": "false"})


def test_config_reads_settings():
    cfg = TelemetryConfig.from_settings(load_settings(
        {"USAGE_TELEMETRY_OPT_IN": False, "USAGE_TELEMETRY_ALLOW_CHANGING": False,
         "USAGE_TELEMETRY_URL": "http://x/i", "USAGE_TELEMETRY_VERSION": "9.1.0",
         "USAGE_TELEMETRY_SEND_FROM": "server"}, environ={}))
    assert (cfg.opt_in, cfg.is_fixed, cfg.telemetry_url, cfg.version, cfg.send_from) == \
        (False, True, "http://x/i", "9.1.0", "server")


def test_stored_state_round_trip(tmp_path):
    db = open_storage(str(tmp_path / "t.db"))
    db.migrate()
    assert read_state(db) == StoredState()
    assert set_opt_in(db, False, V12) == StoredState(enabled=False, last_version_checked=V12)
    state = mark_notice_seen(db, V13)
    assert (state.enabled, state.user_has_seen_notice, state.last_version_checked) == (False, True, V13)
    assert set_last_reported(db, 123).last_reported == 123
    assert record_send_failure(db, V13, lambda failures: 0).report_failure_count == 1
    assert record_send_failure(db, V13, lambda failures: 0).report_failure_count == 2
    state = record_send_success(db, 456)
    assert (state.last_reported, state.report_failure_count, state.enabled) == (456, 0, False)
    assert db.query("SELECT COUNT(*) FROM telemetry_state") == [(1,)]
    db.close()
