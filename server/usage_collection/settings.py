"""Every ``USAGE_*`` setting, declared once.

One list drives the defaults, the environment parsing, the CLI help and the README table
(a test checks each one is documented), the way Datasette declares its settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _optional_bool(text: str) -> bool | None:
    return None if text.strip().lower() in {"", "none", "null"} else _bool(text)


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _optional_str(text: str) -> str | None:
    return text or None


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str


SETTINGS: list[Setting] = [
    Setting("USAGE_DB", "usage.db", "Where every aggregate is kept: a SQLite file path (the embedded default), or a postgresql:// (or postgres://) URL for a PostgreSQL database shared by any number of receiver hosts. Created and migrated on start."),
    Setting("USAGE_STATS_TOKEN", None, "Bearer token required by /api/stats and the telemetry admin routes; unset means loopback clients only.", _optional_str),
    Setting("USAGE_ALLOWED_ORIGINS", [], "Comma-separated origins allowed to post reports cross-site (CORS and the kbn-xsrf exemption).", _list),
    Setting("USAGE_MAX_BODY_BYTES", 256 * 1024, "Largest report body accepted; bigger bodies get 413.", int),
    Setting("USAGE_MAX_ENTRIES", 1000, "Most entries accepted in each map of a report (uiCounter, application_usage, userAgent).", int),
    Setting("USAGE_MAX_NAME_LENGTH", 256, "Longest app, event, view or key name accepted.", int),
    Setting("USAGE_RATE_LIMIT_PER_MINUTE", 600, "Report requests (and intake posts, counted together) one client (IP address) may send per minute across all workers; more get 429 with Retry-After. 0 means no limit.", int),
    Setting("USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY", 2000, "New app, event, view and user-agent names one client (IP address) may create per UTC day; a report past it gets 429 and stores nothing. 0 means no limit.", int),
    Setting("USAGE_LIMITS_EXEMPT", ["127.0.0.0/8", "::1"], "Comma-separated addresses or networks the two limits above never apply to (loopback by default; behind a reverse proxy apply ProxyFix).", _list),
    Setting("USAGE_COLLECTOR_WAIT_S", 1.0, "How long bulk fetch waits for a collector's is_ready (Kibana's maximumWaitTimeForAllCollectorsInS).", float),
    Setting("USAGE_COUNTERS_FLUSH_S", 5.0, "How often buffered server usage counters are written (Kibana's usageCounters.bufferDuration).", float),
    Setting("USAGE_COUNTERS_REPORT_DAYS", 3, "Days of daily UI and server counters the ui_counters and usage_counters collectors report: today and the days before it, N calendar days in all (Kibana 7.11 reported what its rollup kept, counters up to 3 days old: set 4 to match; older days stay stored for the dashboard until USAGE_UI_COUNTERS_KEEP_DAYS).", int),
    Setting("USAGE_UI_COUNTERS_KEEP_DAYS", 90, "Days of daily UI and server usage counters kept before retention deletes them.", int),
    Setting("USAGE_APP_USAGE_KEEP_DAYS", 90, "Days of daily application usage kept before being rolled into totals.", int),
    Setting("USAGE_ROLLUP_INTERVAL_S", 3600.0, "How often rollups and retention run in the server (first run after the first request); 0: none in the server, run `usage-collection rollup` from cron.", float),
    Setting("USAGE_REPORT_IDS_KEEP_DAYS", 7, "Days a seen reportId is remembered so a retried report is not counted twice.", int),
    Setting("USAGE_FLUSH_INTERVAL_S", 30.0, "How often browsers flush their buffered report (also on hide and close).", float),
    Setting("USAGE_UI_COUNTERS_ENABLED", True, "When false, browsers record and send nothing (Kibana's usageCollection.uiCounters.enabled).", _bool),
    Setting("USAGE_HONOR_GPC", True, "Treat a browser sending the Global Privacy Control signal as opted out.", _bool),
    Setting("USAGE_SERVICE_NAME", "usage-collection", "Service name reported by /api/stats and in telemetry snapshots.", str),
    Setting("USAGE_STATIC_DIR", str(PACKAGE_DIR / "static"), "Folder holding usage.js, the boot scripts, the demo and admin assets (the package's own by default).", str),
    Setting("USAGE_DEMO", False, "Serve the demo app at / (the README's demo command turns it on).", _bool),
    Setting("USAGE_NODE_MODULES", str(REPO_ROOT / "node_modules"), "Folder where the set-up installed pyodide and the chart library from npm.", str),
    Setting("USAGE_PYODIDE_SNAPSHOT", True, "Start Pyodide workers from a memory snapshot with usage_reporter imported (built once with Node, kept in ~/.cache/usage-collection): ready in ~1 s instead of ~3.5 s, for 5.2-6.4 MB more on a first visit. Without it, or until it is built, workers start the normal way.", _bool),
    Setting("USAGE_TELEMETRY_OPT_IN", None, "The deployment's telemetry opt-in default: true, false, or unset (ask an admin on the settings page).", _optional_bool),
    Setting("USAGE_TELEMETRY_ALLOW_CHANGING", True, "When false, USAGE_TELEMETRY_OPT_IN is fixed and the settings page and optIn route cannot change it.", _bool),
    Setting("USAGE_TELEMETRY_URL", None, "Where opted-in snapshots are sent (another deployment's /api/telemetry/v3/intake); unset means nothing is sent.", _optional_str),
    Setting("USAGE_TELEMETRY_OPT_IN_STATUS_URL", None, "Where an opt-in change is reported, best effort (e.g. .../api/telemetry/v3/intake/opt_in_status); unset means not reported.", _optional_str),
    Setting("USAGE_TELEMETRY_SEND_FROM", "browser", "Who sends snapshots: 'browser' (admin pages, once a day per browser) or 'server' (a background thread).", str),
    Setting("USAGE_TELEMETRY_BANNER", True, "Show admins who have not chosen yet a notice asking about telemetry on the settings page and dashboard.", _bool),
    Setting("USAGE_TELEMETRY_VERSION", None, "Version compared by the opt-in re-prompt rule and sent in snapshot headers; unset means the package version (set it to rehearse an upgrade).", _optional_str),
    Setting("USAGE_TELEMETRY_TIMEOUT_S", 10.0, "Timeout of each server-side telemetry POST (snapshots and opt-in status).", float),
    Setting("USAGE_INTAKE_ENABLED", False, "Accept snapshots from other deployments at /api/telemetry/v3/intake and chart them on the dashboard.", _bool),
    Setting("USAGE_INTAKE_MAX_BYTES", 1024 * 1024, "Largest snapshot body the intake accepts; bigger bodies get 413.", int),
    Setting("USAGE_GROUP_COMMIT_MS", 2.0, "Group commit: once a receiver process sees concurrent reports, its writer waits up to this many milliseconds for more to share one transaction (nothing is acknowledged before its commit). 0: no waiting; batches still form under load.", float),
    Setting("USAGE_GROUP_COMMIT_MAX_REPORTS", 200, "Most reports stored in one transaction by group commit.", int),
    Setting("USAGE_MAX_NEW_NAMES_PER_DAY", 20_000, "New app, event, view and user-agent names the deployment accepts per UTC day from all clients together; past it, entries with new names are dropped (counted in the server usage counter usage_collection/new_names_dropped) while known names still count. 0 means no cap.", int),
    Setting("USAGE_MAX_USER_AGENTS_PER_KEY", 1000, "User agents kept per userAgent key; past it, the least recently seen are forgotten. 0 means no cap.", int),
    Setting("USAGE_MAX_REPORT_IDS", 1_000_000, "reportIds remembered for deduplication (about 100 bytes each); past it, the oldest are forgotten before their USAGE_REPORT_IDS_KEEP_DAYS. 0 means no cap.", int),
    Setting("USAGE_INTAKE_MAX_PER_INSTANCE_PER_DAY", 4, "Snapshots the intake keeps per sending instance id per UTC day; more get 429. 0 means no cap.", int),
    Setting("USAGE_INTAKE_MAX_PER_CLIENT_PER_DAY", 10, "Snapshots the intake keeps per client address per UTC day, whatever instance ids they carry; more get 429. 0 means no cap.", int),
    Setting("USAGE_INTAKE_MAX_TOTAL_BYTES", 1024 ** 3, "Total size of the snapshots the intake keeps; past it new snapshots get 507 until retention frees room. 0 means no cap.", int),
    Setting("USAGE_INTAKE_KEEP_DAYS", 365, "Days of received snapshots and opt-in changes the intake keeps (deleted by the rollups); 0 keeps them for ever.", int),
]

SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then explicit overrides (create_app's config)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = setting.default
        if setting.name in environ:
            try:
                value = setting.parse(environ[setting.name])
            except ValueError as exc:
                raise ValueError(f"environment variable {setting.name}: {exc}") from None
        values[setting.name] = value
    values.update(overrides or {})
    return values
