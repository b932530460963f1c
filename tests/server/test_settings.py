"""The settings are declared once and parsed once into a frozen, typed ``Settings``: every
source (defaults, environment, ``create_app``'s values) goes through the same parser, the
browser's share is marked in the declaration, and code written for the old dict
(``context.settings["USAGE_X"]``, ``app.config["USAGE_X"]``) keeps working."""

from __future__ import annotations

import ast
import dataclasses
import types
import typing
from pathlib import Path

import pytest
from flask import Flask

from usage_collection import UsageCollection, create_app
from usage_collection.settings import REPO_ROOT, SETTINGS, SettingError, Settings, load_settings


def conforms(value: object, hint: object) -> bool:
    """``value`` is of the declared type (the handful of shapes the declaration uses)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, tuple) and all(isinstance(item, args[0]) for item in value)
    if hint is type(None):
        return value is None
    if hint in (int, float):
        return type(value) is hint  # a bool is not an int here, nor an int a float
    return isinstance(value, hint)


HINTS = typing.get_type_hints(Settings)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_default_is_of_its_declared_type_and_passes_its_own_parser(setting):
    assert conforms(setting.default, HINTS[setting.attribute]), (setting.name, setting.default)
    assert setting.parse(setting.default) == setting.default


def test_every_setting_is_declared_once_under_its_name():
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names)) == 46
    assert [setting.attribute for setting in SETTINGS] == [
        item.name for item in dataclasses.fields(Settings) if item.name != "extra"]
    assert {setting.name: setting.attribute for setting in SETTINGS}["USAGE_FLUSH_INTERVAL_S"] == "flush_interval_s"
    assert all(setting.name == "USAGE_" + setting.attribute.upper() for setting in SETTINGS)


def reads_by_name(path: Path) -> list[str]:
    """Where ``path`` reads a ``USAGE_*`` value by its name: ``x["USAGE_..."]`` or
    ``x.get("USAGE_...")`` (whatever ``x`` is: settings, app.config, os.environ)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args:
            key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("USAGE_"):
            found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {key.value}")
    return found


def test_the_server_and_benches_read_settings_as_typed_attributes():
    """Parsed once, read typed: nothing outside settings.py reads a setting by its name and
    converts it at the point of use (storage/, the lead's, takes values, not settings)."""
    package = REPO_ROOT / "server" / "usage_collection"
    files = [path for folder in (package, REPO_ROOT / "bench") for path in sorted(folder.rglob("*.py"))
             if "static" not in path.parts and "storage" not in path.relative_to(REPO_ROOT).parts
             and path.name not in ("settings.py", "setting_parsers.py")]
    assert len(files) > 60
    assert [read for path in files for read in reads_by_name(path)] == []


# Text from the environment, as an operator writes it, and the typed value the code reads.
GOOD_ENVIRONMENT = {
    "USAGE_DB": ("postgresql://u:pw@db.internal:5432/usage", "postgresql://u:pw@db.internal:5432/usage"),
    "USAGE_STATS_TOKEN": ("s3cret", "s3cret"),
    "USAGE_ALLOWED_ORIGINS": ("https://shop.example, http://localhost:8000",
                              ("https://shop.example", "http://localhost:8000")),
    "USAGE_MAX_BODY_BYTES": ("65536", 65536),
    "USAGE_LIMITS_EXEMPT": ("10.0.0.0/8,::1", ("10.0.0.0/8", "::1")),
    "USAGE_ALLOWED_HOSTS": ("Stats.Example.org", ("stats.example.org",)),
    "USAGE_COLLECTOR_WAIT_S": ("2", 2.0),
    "USAGE_FLUSH_INTERVAL_S": ("12.5", 12.5),
    "USAGE_UI_COUNTERS_ENABLED": ("off", False),
    "USAGE_TELEMETRY_OPT_IN": ("", None),
    "USAGE_TELEMETRY_ALLOW_CHANGING": ("YES", True),
    "USAGE_TELEMETRY_URL": ("https://telemetry.example/api/telemetry/v3/intake",
                            "https://telemetry.example/api/telemetry/v3/intake"),
    "USAGE_TELEMETRY_SEND_FROM": ("server", "server"),
    "USAGE_STATIC_DIR": ("/srv/usage/static", "/srv/usage/static"),
    "USAGE_INTAKE_KEEP_DAYS": ("0", 0),
    "USAGE_GROUP_COMMIT_MS": ("1.5", 1.5),
}


def test_environment_text_is_parsed_to_the_declared_types():
    settings = load_settings(environ={name: text for name, (text, _) in GOOD_ENVIRONMENT.items()})
    for name, (_, expected) in GOOD_ENVIRONMENT.items():
        attribute = name.removeprefix("USAGE_").lower()
        assert getattr(settings, attribute) == expected, name
        assert conforms(getattr(settings, attribute), HINTS[attribute]), name
    assert settings.max_body_bytes == 65536 and type(settings.max_body_bytes) is int
    assert settings.collector_wait_s == 2.0 and type(settings.collector_wait_s) is float


def test_create_app_values_override_the_environment_which_overrides_defaults():
    settings = load_settings({"USAGE_MAX_ENTRIES": 5},
                             environ={"USAGE_MAX_ENTRIES": "7", "USAGE_MAX_NAME_LENGTH": "9"})
    assert (settings.max_entries, settings.max_name_length, settings.max_body_bytes) == (5, 9, 262144)


# One bad value per kind of parser, given to create_app: the whole one-line message.
BAD_CREATE_APP_VALUES = [
    ("bool", "USAGE_HONOR_GPC", "sometimes",
     "setting USAGE_HONOR_GPC: expected true or false, got 'sometimes'"),
    ("optional bool", "USAGE_TELEMETRY_OPT_IN", "perhaps",
     "setting USAGE_TELEMETRY_OPT_IN: expected true or false, got 'perhaps'"),
    ("int range", "USAGE_MAX_ENTRIES", 0,
     "setting USAGE_MAX_ENTRIES: 0 is out of range: expected 1 to 1000000"),
    ("int text", "USAGE_MAX_ENTRIES", "12k",
     "setting USAGE_MAX_ENTRIES: expected a whole number, got '12k'"),
    ("days", "USAGE_APP_USAGE_KEEP_DAYS", 0,
     "setting USAGE_APP_USAGE_KEEP_DAYS: 0 is out of range: expected 1 to 36500 days "
     "(these keep no data for ever: only USAGE_INTAKE_KEEP_DAYS has a 0)"),
    ("float range", "USAGE_FLUSH_INTERVAL_S", 0.5,
     "setting USAGE_FLUSH_INTERVAL_S: 0.5 is out of range: expected 1 to 86400"),
    ("float text", "USAGE_TELEMETRY_TIMEOUT_S", "10s",
     "setting USAGE_TELEMETRY_TIMEOUT_S: expected a number, got '10s'"),
    ("url", "USAGE_TELEMETRY_URL", "telemetry.example/intake",
     "setting USAGE_TELEMETRY_URL: 'telemetry.example/intake' is not an http:// or https:// URL with a host"),
    ("path", "USAGE_STATIC_DIR", "/srv/static\n",
     "setting USAGE_STATIC_DIR: '/srv/static\\n' contains a control character"),
    ("path type", "USAGE_NODE_MODULES", 42,
     "setting USAGE_NODE_MODULES: expected a non-empty string, got 42"),
    ("database", "USAGE_DB", "mysql://db.internal/usage",
     "setting USAGE_DB: expected a file path or a postgresql:// URL, got a mysql:// URL"),
    ("enum", "USAGE_TELEMETRY_SEND_FROM", "Server",
     "setting USAGE_TELEMETRY_SEND_FROM: must be 'browser' or 'server', got 'Server'"),
    ("networks", "USAGE_TRUSTED_PROXIES", ("10.0.0.1", "proxy"),
     "setting USAGE_TRUSTED_PROXIES: 'proxy' is not an IP address or network (e.g. 127.0.0.0/8 or ::1)"),
    ("origins", "USAGE_ALLOWED_ORIGINS", "https://shop.example/cart",
     "setting USAGE_ALLOWED_ORIGINS: 'https://shop.example/cart' is not an origin such as "
     "https://shop.example or http://localhost:8000"),
    ("hosts", "USAGE_ALLOWED_HOSTS", ["stats.example:8080"],
     "setting USAGE_ALLOWED_HOSTS: 'stats.example:8080' is not a host name (no scheme, port or path: "
     "e.g. stats.example.org)"),
]


@pytest.mark.parametrize("kind, name, value, message", BAD_CREATE_APP_VALUES, ids=[row[0] for row in BAD_CREATE_APP_VALUES])
def test_create_app_refuses_a_bad_value_of_each_kind_in_one_line(tmp_path, kind, name, value, message):
    config = {"USAGE_DB": str(tmp_path / "u.db"), name: value}
    with pytest.raises(SettingError) as refused:
        create_app(config)
    assert str(refused.value) == message
    assert not (tmp_path / "u.db").exists()


@pytest.mark.parametrize("kind, name, value, message", [row for row in BAD_CREATE_APP_VALUES if isinstance(row[2], str)],
                         ids=[row[0] for row in BAD_CREATE_APP_VALUES if isinstance(row[2], str)])
def test_the_environment_gets_the_same_parser_and_message(kind, name, value, message):
    with pytest.raises(SettingError) as refused:
        load_settings(environ={name: value})
    assert str(refused.value) == "environment variable " + message.removeprefix("setting ")


def test_the_browser_sees_exactly_the_settings_marked_for_it():
    settings = load_settings(environ={"USAGE_FLUSH_INTERVAL_S": "12.5", "USAGE_HONOR_GPC": "off",
                                      "USAGE_STATS_TOKEN": "s3cret", "USAGE_DEMO": "on"})
    assert settings.for_browser() == {"flush_interval_s": 12.5, "enabled": True, "honor_gpc": False}
    assert {setting.name for setting in SETTINGS if setting.browser_key} == {
        "USAGE_FLUSH_INTERVAL_S", "USAGE_UI_COUNTERS_ENABLED", "USAGE_HONOR_GPC"}


def test_settings_are_frozen_and_updated_only_through_the_parser():
    settings = load_settings(environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_entries = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings["USAGE_MAX_ENTRIES"] = 5  # type: ignore[index]
    smaller = settings.updated({"USAGE_MAX_ENTRIES": "5"})
    assert (smaller.max_entries, settings.max_entries) == (5, 1000)
    with pytest.raises(SettingError, match=r"^setting USAGE_MAX_ENTRIES: 0 is out of range: expected 1 to 1000000$"):
        settings.updated({"USAGE_MAX_ENTRIES": 0})


def test_repr_leaves_out_the_token_and_the_database_password():
    settings = load_settings(environ={"USAGE_STATS_TOKEN": "s3cret-token",
                                      "USAGE_DB": "postgresql://u:pw-9f2@db.internal/usage"})
    shown = repr(settings)
    assert "s3cret-token" not in shown and "pw-9f2" not in shown
    assert "max_body_bytes=262144" in shown


def test_settings_read_by_name_as_the_old_dict_was():
    settings = load_settings({"USAGE_SHOP_REGION": "eu"}, environ={"USAGE_MAX_BODY_BYTES": "65536"})
    assert settings["USAGE_MAX_BODY_BYTES"] == 65536
    assert settings.get("USAGE_HONOR_GPC") is True
    assert settings.get("USAGE_NOT_SET", "fallback") == "fallback"
    assert settings["USAGE_SHOP_REGION"] == "eu"  # an app's own key, kept as given
    as_dict = dict(settings)
    assert len(as_dict) == 47 and as_dict["USAGE_LIMITS_EXEMPT"] == ("127.0.0.0/8", "::1")
    with pytest.raises(KeyError):
        settings["USAGE_NOT_SET"]


SCHEMA = {"service": {"type": "keyword", "_meta": {"description": "service name"}},
          "limit": {"type": "long", "_meta": {"description": "body limit"}},
          "region": {"type": "keyword", "_meta": {"description": "the app's own setting"}},
          "window": {"type": "long", "_meta": {"description": "days of counters reported"}}}


def test_a_users_collector_and_app_config_still_read_settings_by_name(db_path):
    def fetch(context):
        settings = context.settings
        return {"service": settings["USAGE_SERVICE_NAME"], "limit": settings.get("USAGE_MAX_BODY_BYTES"),
                "region": settings["USAGE_SHOP_REGION"], "window": settings.counters_report_days}

    usage = UsageCollection()
    usage.register_collector(usage.make_usage_collector(type="shop", schema=SCHEMA, fetch=fetch))
    app = Flask("settings_test")
    app.config.update({"USAGE_DB": str(db_path), "USAGE_ROLLUP_INTERVAL_S": "0", "USAGE_SERVICE_NAME": "shop-stats",
                       "USAGE_MAX_BODY_BYTES": "65536", "USAGE_DEMO": "on", "USAGE_SHOP_REGION": "eu",
                       "USAGE_COUNTERS_REPORT_DAYS": "4"})
    usage.init_app(app)
    try:
        body = app.test_client().get("/api/stats?extended&legacy").json
        assert body["usage"]["shop"] == {"service": "shop-stats", "limit": 65536, "region": "eu", "window": 4}
        assert app.config["USAGE_MAX_BODY_BYTES"] == 65536  # parsed, not the text given
        assert app.config["USAGE_DEMO"] is True and app.config["USAGE_ROLLUP_INTERVAL_S"] == 0.0
        assert app.config["USAGE_FLUSH_INTERVAL_S"] == 30.0  # defaults are there too
        assert app.config["USAGE_SHOP_REGION"] == "eu"
    finally:
        app.extensions["usage_collection"].close()
