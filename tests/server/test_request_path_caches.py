"""What the report route caches between requests (parsed networks, addresses, limits keys,
``Limits``) is keyed by the settings' values: two apps in one process keep their own
exemptions, and a setting changed at run time applies to the next request."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from flask import Flask

from usage_collection import UsageCollection
from usage_collection.access import parse_networks
from usage_collection.settings import load_settings
from usage_collection.validation import Limits

URL = "/api/ui_counters/_report"
BODY = {"report": {"reportVersion": 3}}
NOW = datetime(2025, 3, 1, 12, 0, 10, tzinfo=timezone.utc)  # one rate window for the whole test


def make_app(db_path: Path, **config: Any) -> Flask:
    app = Flask("caches_test")
    app.config.update({"TESTING": True, "USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": 0,
                       "USAGE_RATE_LIMIT_PER_MINUTE": 2, **config})
    UsageCollection(app, clock=lambda: NOW)
    return app


def statuses(app: Flask, address: str, times: int = 3, headers: dict[str, str] | None = None) -> list[int]:
    client = app.test_client()
    return [client.post(URL, json=BODY, headers={"kbn-xsrf": "t", **(headers or {})},
                        environ_base={"REMOTE_ADDR": address}).status_code for _ in range(times)]


def test_two_apps_in_one_process_keep_their_own_exemptions(tmp_path):
    exempt = make_app(tmp_path / "a.db", USAGE_LIMITS_EXEMPT=["203.0.113.0/24"])
    limited = make_app(tmp_path / "b.db", USAGE_LIMITS_EXEMPT=["127.0.0.1"])
    try:
        # alternate, so neither app can live on the other's cached answer
        assert statuses(exempt, "203.0.113.7") == [200, 200, 200]
        assert statuses(limited, "203.0.113.7") == [200, 200, 429]
        assert statuses(exempt, "203.0.113.7") == [200, 200, 200]
        assert statuses(limited, "203.0.113.7") == [429, 429, 429]
    finally:
        exempt.extensions["usage_collection"].close()
        limited.extensions["usage_collection"].close()


def test_an_exemption_changed_at_run_time_applies_to_the_next_request(tmp_path):
    app = make_app(tmp_path / "a.db", USAGE_LIMITS_EXEMPT=["198.51.100.0/24"])
    state = app.extensions["usage_collection"]
    try:
        assert statuses(app, "198.51.100.9") == [200, 200, 200]
        state.settings = state.settings.updated({"USAGE_LIMITS_EXEMPT": ["192.0.2.1"]})  # not counted: 2 more pass
        assert statuses(app, "198.51.100.9") == [200, 200, 429]
        state.settings = state.settings.updated({"USAGE_LIMITS_EXEMPT": "192.0.2.1, 198.51.100.9"})
        assert statuses(app, "198.51.100.9") == [200, 200, 200]
    finally:
        app.extensions["usage_collection"].close()


def test_a_trusted_proxy_changed_at_run_time_applies_to_the_next_request(tmp_path):
    """Behind a trusted proxy the forwarded client is counted (and is not loopback-exempt)."""
    app = make_app(tmp_path / "a.db")
    state = app.extensions["usage_collection"]
    forwarded = {"X-Forwarded-For": "203.0.113.50"}
    try:
        # An untrusted peer: counted under its own address, and never exempt.
        assert statuses(app, "127.0.0.1", 3, forwarded) == [200, 200, 429]
        state.settings = state.settings.updated({"USAGE_TRUSTED_PROXIES": ["127.0.0.1"]})
        assert statuses(app, "127.0.0.1", 3, forwarded) == [200, 200, 429]  # now the forwarded client, afresh
        assert statuses(app, "127.0.0.1", 3, {"X-Forwarded-For": "127.0.0.1"}) == [200, 200, 200]  # exempt
        state.settings = state.settings.updated({"USAGE_TRUSTED_PROXIES": []})
        assert statuses(app, "127.0.0.1", 1, forwarded) == [429]  # the peer's own count again
    finally:
        app.extensions["usage_collection"].close()


def test_networks_are_parsed_once_per_value():
    first = parse_networks(["10.0.0.0/8", " ::1 "])
    assert parse_networks(["10.0.0.0/8", " ::1 "]) is first
    assert [str(network) for network in first] == ["10.0.0.0/8", "::1/128"]
    assert parse_networks("10.0.0.0/8, ::1") == first
    assert parse_networks([]) == ()


def test_limits_from_the_same_settings_are_one_object():
    settings = load_settings({"USAGE_MAX_ENTRIES": 7, "USAGE_MAX_NAME_LENGTH": 9}, environ={})
    limits = Limits.from_settings(settings)
    assert Limits.from_settings(load_settings({"USAGE_MAX_ENTRIES": "7", "USAGE_MAX_NAME_LENGTH": "9"},
                                              environ={})) is limits
    assert Limits.from_settings(settings.updated({"USAGE_MAX_ENTRIES": 8})) == Limits(8, 9)
