"""Settings are parsed and range-checked once, at start: a bad one stops the start with one
line naming it (exit 2 from the CLI), whether it comes from the environment or from the
config given to ``create_app``."""

from __future__ import annotations

import os
import subprocess

import pytest

from support.live_server import BIN
from usage_collection import create_app
from usage_collection.settings import SettingError, load_settings

# (setting, value, what the one-line error must say) — the five, and more.
BAD_ENVIRONMENT = [
    ("USAGE_LIMITS_EXEMPT", "localhost", "'localhost' is not an IP address or network"),
    ("USAGE_UI_COUNTERS_KEEP_DAYS", "0", "0 is out of range: expected 1 to 36500 days"),
    ("USAGE_REPORT_IDS_KEEP_DAYS", "-1", "-1 is out of range: expected 1 to 36500 days"),
    ("USAGE_MAX_BODY_BYTES", "-1", "-1 is out of range: expected 1024 to 1073741824"),
    ("USAGE_TELEMETRY_URL", "not-a-url", "'not-a-url' is not an http:// or https:// URL with a host"),
    ("USAGE_TELEMETRY_OPT_IN_STATUS_URL", "ftp://x.example/", "is not an http:// or https:// URL"),
    ("USAGE_RATE_LIMIT_PER_MINUTE", "²", "expected a whole number, got '²'"),
    ("USAGE_COLLECTOR_WAIT_S", "nan", "expected a number, got 'nan'"),
    ("USAGE_DEMO", "maybe", "expected true or false, got 'maybe'"),
    ("USAGE_TELEMETRY_SEND_FROM", "cloud", "must be 'browser' or 'server', got 'cloud'"),
    ("USAGE_ALLOWED_ORIGINS", "shop.example", "'shop.example' is not an origin"),
    ("USAGE_TRUSTED_PROXIES", "proxy.internal", "'proxy.internal' is not an IP address or network"),
    ("USAGE_ALLOWED_HOSTS", "https://stats.example", "is not a host name"),
    ("USAGE_LIMITS_IPV6_PREFIX", "129", "129 is out of range: expected 16 to 128"),
    ("USAGE_COUNTERS_FLUSH_S", "0", "0.0 is out of range"),
    ("USAGE_TELEMETRY_ALLOW_CHANGING", "false", "false needs USAGE_TELEMETRY_OPT_IN set to true or false"),
]


@pytest.mark.parametrize("name, value, message", BAD_ENVIRONMENT, ids=[row[0] for row in BAD_ENVIRONMENT])
def test_serve_refuses_a_bad_environment_variable_in_one_line(tmp_path, name, value, message):
    result = subprocess.run([str(BIN / "usage-collection"), "serve", "--port", "1", "--db", str(tmp_path / "u.db")],
                            env={**os.environ, name: value}, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"Error: environment variable {name}: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "u.db").exists()


@pytest.mark.parametrize("command", ["stats", "rollup"])
def test_other_commands_refuse_a_bad_environment_variable_too(tmp_path, command):
    result = subprocess.run([str(BIN / "usage-collection"), command, "--db", str(tmp_path / "u.db")],
                            env={**os.environ, "USAGE_LIMITS_EXEMPT": "localhost"}, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == ("Error: environment variable USAGE_LIMITS_EXEMPT: 'localhost' is not an IP "
                                     "address or network (e.g. 127.0.0.0/8 or ::1)")


@pytest.mark.parametrize("name, value, message", [
    ("USAGE_MAX_BODY_BYTES", -1, "-1 is out of range"),
    ("USAGE_MAX_BODY_BYTES", True, "expected a number, got True"),
    ("USAGE_MAX_ENTRIES", 2.5, "expected a whole number, got 2.5"),
    ("USAGE_LIMITS_EXEMPT", ["localhost"], "'localhost' is not an IP address or network"),
    ("USAGE_LIMITS_EXEMPT", 127, "expected a comma-separated string or a list of strings"),
    ("USAGE_DEMO", "maybe", "expected true or false"),
    ("USAGE_TELEMETRY_URL", "not-a-url", "is not an http:// or https:// URL"),
    ("USAGE_SERVICE_NAME", "", "expected a non-empty string"),
    ("USAGE_ROLLUP_INTERVAL_S", float("inf"), "inf is out of range"),
    ("USAGE_ROLLUP_INTERVAL_S", -1, "-1.0 is out of range"),
])
def test_create_app_checks_the_values_it_is_given(tmp_path, name, value, message):
    with pytest.raises(SettingError, match=f"^setting {name}: .*{message}"):
        create_app({"USAGE_DB": str(tmp_path / "u.db"), name: value})
    assert not (tmp_path / "u.db").exists()


def test_good_values_are_parsed_to_the_types_the_code_reads():
    settings = load_settings({"USAGE_ROLLUP_INTERVAL_S": 0, "USAGE_DEMO": "yes", "USAGE_MAX_ENTRIES": "7"},
                             environ={"USAGE_LIMITS_EXEMPT": "10.0.0.0/8, ::1", "USAGE_INTAKE_KEEP_DAYS": "0",
                                      "USAGE_ALLOWED_ORIGINS": "https://shop.example,http://localhost:8000"})
    assert settings["USAGE_ROLLUP_INTERVAL_S"] == 0.0 and isinstance(settings["USAGE_ROLLUP_INTERVAL_S"], float)
    assert settings["USAGE_DEMO"] is True
    assert settings["USAGE_MAX_ENTRIES"] == 7
    assert settings["USAGE_LIMITS_EXEMPT"] == ("10.0.0.0/8", "::1")
    assert settings["USAGE_INTAKE_KEEP_DAYS"] == 0
    assert settings["USAGE_ALLOWED_ORIGINS"] == ("https://shop.example", "http://localhost:8000")
