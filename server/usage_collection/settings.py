"""Every ``USAGE_*`` setting, declared once.

One list drives the defaults, the environment parsing, the CLI help and the README table
(a test checks each one is documented), the way Datasette declares its settings.
"""

from __future__ import annotations

import ipaddress
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent


class SettingError(ValueError):
    """A setting whose value is refused; the message is one line naming the setting."""


Parser = Callable[[Any], Any]


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _optional_bool(value: Any) -> bool | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "none", "null"}):
        return None
    return _bool(value)


def _number(kind: type, low: float, high: float, meaning: str = "") -> Parser:
    """An int or float in [low, high]: from the environment's text or a config value.
    Strings must be plain ASCII numbers (``int("²")`` would be accepted by Python)."""
    def parse(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"expected a number, got {value!r}")
        if isinstance(value, str):
            text = value.strip()
            pattern = r"[+-]?[0-9]+" if kind is int else r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
            if not re.fullmatch(pattern, text):
                raise ValueError(f"expected {'a whole' if kind is int else 'a'} number, got {value!r}")
            value = kind(text)
        elif kind is int and (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected a whole number, got {value!r}")
        value = kind(value)
        if not (low <= value <= high):  # also refuses NaN
            raise ValueError(f"{value!r} is out of range: expected {_shown(low)} to {_shown(high)}{meaning}")
        return value
    return parse


def _shown(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _text(value: Any) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {value!r}")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError(f"{value!r} contains a control character")
    return value


def _path(value: Any) -> Any:
    """A file or folder: kept as given (a str or a Path), which readers pass to str()."""
    _text(value)
    return value


def _database(value: Any) -> Any:
    """A SQLite file path, or a ``postgresql://`` / ``postgres://`` URL naming a database."""
    text = _text(value)
    if "://" in str(text):
        scheme, _, rest = str(text).partition("://")
        if scheme.lower() not in ("postgresql", "postgres"):
            raise ValueError(f"expected a file path or a postgresql:// URL, got a {scheme}:// URL")
        if not rest or rest.startswith("/"):
            raise ValueError("a postgresql:// URL needs a host: postgresql://user:password@host:5432/database")
    return value


def _optional_str(value: Any) -> str | None:
    return None if value is None or value == "" else _text(value)


def _list(value: Any) -> list[str]:
    """A comma-separated string (the environment) or a list of strings (config)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise ValueError(f"expected a comma-separated string or a list of strings, got {value!r}")


def _networks(value: Any) -> list[str]:
    """IP addresses or networks (``10.0.0.0/8``, ``::1``); a host name is refused."""
    items = _list(value)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 127.0.0.0/8 or ::1)") from None
    return items


def _url(value: Any) -> str | None:
    """An absolute http(s) URL with a host, or unset."""
    text = _optional_str(value)
    if text is None:
        return None
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http:// or https:// URL with a host")
    try:
        parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return text


def _origins(value: Any) -> list[str]:
    """``*`` or ``scheme://host[:port]`` origins (no path)."""
    items = _list(value)
    for item in items:
        parts = urllib.parse.urlsplit(item)
        if item != "*" and (parts.scheme not in ("http", "https") or not parts.hostname
                            or parts.path not in ("", "/") or parts.query or parts.fragment):
            raise ValueError(f"{item!r} is not an origin such as https://shop.example or http://localhost:8000")
    return items


def _hosts(value: Any) -> list[str]:
    """Host names (``stats.example.org``, ``*.example.org``) without scheme or port."""
    items = _list(value)
    for item in items:
        if not re.fullmatch(r"(\*\.)?[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]", item):
            raise ValueError(f"{item!r} is not a host name (no scheme, port or path: e.g. stats.example.org)")
    return [item.lower() for item in items]


def _choice(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be {' or '.join(repr(c) for c in choices)}, got {value!r}")
        return value
    return parse


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Parser = _text


DAY_S = 86_400.0
_DAYS = _number(int, 1, 36_500, " days (these keep no data for ever: only USAGE_INTAKE_KEEP_DAYS has a 0)")


SETTINGS: list[Setting] = [
    Setting("USAGE_DB", "usage.db", "Where every aggregate is kept: a SQLite file path (the embedded default), or a postgresql:// (or postgres://) URL for a PostgreSQL database shared by any number of receiver hosts. Created and migrated on start.", _database),
    Setting("USAGE_STATS_TOKEN", None, "Bearer token required by /api/stats and the telemetry admin routes; unset means loopback clients only.", _optional_str),
    Setting("USAGE_ALLOWED_ORIGINS", [], "Comma-separated origins allowed to post reports cross-site (CORS and the kbn-xsrf exemption).", _origins),
    Setting("USAGE_MAX_BODY_BYTES", 256 * 1024, "Largest report body accepted; bigger bodies get 413.", _number(int, 1024, 1 << 30)),
    Setting("USAGE_MAX_ENTRIES", 1000, "Most entries accepted in each map of a report (uiCounter, application_usage, userAgent).", _number(int, 1, 1_000_000)),
    Setting("USAGE_MAX_NAME_LENGTH", 256, "Longest app, event, view or key name accepted.", _number(int, 1, 65_536)),
    Setting("USAGE_RATE_LIMIT_PER_MINUTE", 600, "Report requests (and intake posts, counted together) one client (an IPv4 address, or an IPv6 /64: USAGE_LIMITS_IPV6_PREFIX) may send per minute across all workers; more get 429 with Retry-After. 0 means no limit.", _number(int, 0, 10**9, ' (0: no limit)')),
    Setting("USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY", 2000, "New app, event, view and user-agent names one client (IP address) may create per UTC day; a report past it gets 429 and stores nothing. 0 means no limit.", _number(int, 0, 10**9, ' (0: no limit)')),
    Setting("USAGE_LIMITS_EXEMPT", ["127.0.0.0/8", "::1"], "Comma-separated addresses or networks the two limits above never apply to (loopback by default). Behind a reverse proxy set USAGE_TRUSTED_PROXIES so the client's own address is checked; a request with forwarding headers from an untrusted peer is never exempt.", _networks),
    Setting("USAGE_LIMITS_IPV6_PREFIX", 64, "IPv6 clients are counted per network of this prefix length (one /64 is one subscriber's); IPv4 clients per address.", _number(int, 16, 128)),
    Setting("USAGE_TRUSTED_PROXIES", [], "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed (serve --trusted-proxy); unset: no proxy is trusted and forwarded requests are never treated as local.", _networks),
    Setting("USAGE_ALLOWED_HOSTS", [], "Comma-separated Host names (besides localhost, 127.0.0.1 and [::1]) under which loopback clients get operator access without a token; others get 403 (DNS rebinding).", _hosts),
    Setting("USAGE_COLLECTOR_WAIT_S", 1.0, "How long bulk fetch waits for a collector's is_ready (Kibana's maximumWaitTimeForAllCollectorsInS).", _number(float, 0, 600)),
    Setting("USAGE_COUNTERS_FLUSH_S", 5.0, "How often buffered server usage counters are written (Kibana's usageCounters.bufferDuration).", _number(float, 0.01, DAY_S)),
    Setting("USAGE_COUNTERS_REPORT_DAYS", 3, "Days of daily UI and server counters the ui_counters and usage_counters collectors report: today and the days before it, N calendar days in all (Kibana 7.11 reported what its rollup kept, counters up to 3 days old: set 4 to match; older days stay stored for the dashboard until USAGE_UI_COUNTERS_KEEP_DAYS).", _DAYS),
    Setting("USAGE_UI_COUNTERS_KEEP_DAYS", 90, "Days of daily UI and server usage counters kept before retention deletes them.", _DAYS),
    Setting("USAGE_APP_USAGE_KEEP_DAYS", 90, "Days of daily application usage kept before being rolled into totals.", _DAYS),
    Setting("USAGE_ROLLUP_INTERVAL_S", 3600.0, "How often rollups and retention run in the server (first run after the first request); 0: none in the server, run `usage-collection rollup` from cron.", _number(float, 0, 31 * DAY_S, ' (0: no rollups in the server)')),
    Setting("USAGE_REPORT_IDS_KEEP_DAYS", 7, "Days a seen reportId is remembered so a retried report is not counted twice.", _DAYS),
    Setting("USAGE_FLUSH_INTERVAL_S", 30.0, "How often browsers flush their buffered report (also on hide and close).", _number(float, 0.1, DAY_S)),
    Setting("USAGE_UI_COUNTERS_ENABLED", True, "When false, browsers record and send nothing (Kibana's usageCollection.uiCounters.enabled).", _bool),
    Setting("USAGE_HONOR_GPC", True, "Treat a browser sending the Global Privacy Control signal as opted out.", _bool),
    Setting("USAGE_SERVICE_NAME", "usage-collection", "Service name reported by /api/stats and in telemetry snapshots.", _text),
    Setting("USAGE_STATIC_DIR", str(PACKAGE_DIR / "static"), "Folder holding usage.js, the boot scripts, the demo and admin assets (the package's own by default).", _path),
    Setting("USAGE_DEMO", False, "Serve the demo app at / (the README's demo command turns it on).", _bool),
    Setting("USAGE_NODE_MODULES", str(REPO_ROOT / "node_modules"), "Folder where the set-up installed pyodide and the chart library from npm.", _path),
    Setting("USAGE_PYODIDE_SNAPSHOT", True, "Start Pyodide workers from a memory snapshot with usage_reporter imported (built once with Node, kept in ~/.cache/usage-collection): ready in ~1 s instead of ~3.5 s, for 5.2-6.4 MB more on a first visit. Without it, or until it is built, workers start the normal way.", _bool),
    Setting("USAGE_TELEMETRY_OPT_IN", None, "The deployment's telemetry opt-in default: true, false, or unset (ask an admin on the settings page).", _optional_bool),
    Setting("USAGE_TELEMETRY_ALLOW_CHANGING", True, "When false, USAGE_TELEMETRY_OPT_IN is fixed and the settings page and optIn route cannot change it.", _bool),
    Setting("USAGE_TELEMETRY_URL", None, "Where opted-in snapshots are sent (another deployment's /api/telemetry/v3/intake); unset means nothing is sent.", _url),
    Setting("USAGE_TELEMETRY_OPT_IN_STATUS_URL", None, "Where an opt-in change is reported, best effort (e.g. .../api/telemetry/v3/intake/opt_in_status); unset means not reported.", _url),
    Setting("USAGE_TELEMETRY_SEND_FROM", "browser", "Who sends snapshots: 'browser' (admin pages, once a day per browser) or 'server' (a background thread).", _choice('browser', 'server')),
    Setting("USAGE_TELEMETRY_BANNER", True, "Show admins who have not chosen yet a notice asking about telemetry on the settings page and dashboard.", _bool),
    Setting("USAGE_TELEMETRY_VERSION", None, "Version compared by the opt-in re-prompt rule and sent in snapshot headers; unset means the package version (set it to rehearse an upgrade).", _optional_str),
    Setting("USAGE_TELEMETRY_TIMEOUT_S", 10.0, "Timeout of each server-side telemetry POST (snapshots and opt-in status).", _number(float, 0.1, 600)),
    Setting("USAGE_INTAKE_ENABLED", False, "Accept snapshots from other deployments at /api/telemetry/v3/intake and chart them on the dashboard.", _bool),
    Setting("USAGE_INTAKE_MAX_BYTES", 1024 * 1024, "Largest snapshot body the intake accepts; bigger bodies get 413.", _number(int, 1024, 1 << 30)),
    Setting("USAGE_GROUP_COMMIT_MS", 0.0, "Group commit: reports that arrive while a transaction commits share the next one, always. With a window (milliseconds) a busy writer also waits this long for more before it begins: worth it only when a commit is slow next to a request (a distant database); measured here, a 2 ms window cost a third of SQLite's throughput.", _number(float, 0, 1000)),
    Setting("USAGE_GROUP_COMMIT_MAX_REPORTS", 200, "Most reports stored in one transaction by group commit.", _number(int, 1, 10_000)),
    Setting("USAGE_MAX_NEW_NAMES_PER_DAY", 20_000, "New app, event, view and user-agent names the deployment accepts per UTC day from all clients together; past it, entries with new names are dropped (counted in the server usage counter usage_collection/new_names_dropped) while known names still count. 0 means no cap.", _number(int, 0, 10**9, ' (0: no cap)')),
    Setting("USAGE_MAX_USER_AGENTS_PER_KEY", 1000, "User agents kept per userAgent key; past it, the least recently seen are forgotten. 0 means no cap.", _number(int, 0, 10**7, ' (0: no cap)')),
    Setting("USAGE_MAX_REPORT_IDS", 1_000_000, "reportIds remembered for deduplication (about 100 bytes each); past it, the oldest are forgotten before their USAGE_REPORT_IDS_KEEP_DAYS. 0 means no cap.", _number(int, 0, 10**10, ' (0: no cap)')),
    Setting("USAGE_INTAKE_MAX_PER_INSTANCE_PER_DAY", 4, "Snapshots the intake keeps per sending instance id per UTC day; more get 429. 0 means no cap.", _number(int, 0, 10**6, ' (0: no cap)')),
    Setting("USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY", 10, "Snapshots the intake keeps per client address (an IPv6 /64 counts as one) per UTC day, whatever instance ids they carry; more get 429. 0 means no cap.", _number(int, 0, 10**6, ' (0: no cap)')),
    Setting("USAGE_INTAKE_MAX_TOTAL_BYTES", 1024 ** 3, "Total size of the snapshots the intake keeps; past it new snapshots get 507 until retention frees room. 0 means no cap.", _number(int, 0, 1 << 50, ' (0: no cap)')),
    Setting("USAGE_INTAKE_KEEP_DAYS", 365, "Days of received snapshots and opt-in changes the intake keeps (deleted by the rollups); 0 keeps them for ever.", _number(int, 0, 36_500, ' (0: for ever)')),
]

SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then explicit overrides (create_app's config), every
    value parsed and range-checked here, once, so a bad one stops the start with one line
    naming it (``SettingError``) instead of failing later on every request."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            source, raw = "setting", overrides[setting.name]
        elif setting.name in environ:
            source, raw = "environment variable", environ[setting.name]
        else:
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise SettingError(f"{source} {setting.name}: {exc}") from None
    values.update({key: value for key, value in overrides.items() if key not in SETTINGS_BY_NAME})
    return values
