"""Every ``USAGE_*`` setting, declared once, and parsed once into a frozen ``Settings``.

The declaration is the ``Settings`` dataclass itself: one typed field per setting, with its
default, parser, help and whether the browser sees it (Kibana's ``exposeToBrowser``). That
one list drives the defaults, the parsing of the environment and of ``create_app``'s
values, the CLI help and the README table (a test checks each one is documented), the way
Datasette declares its settings. The code reads typed attributes::

    settings = load_settings({"USAGE_MAX_BODY_BYTES": "65536"})
    settings.max_body_bytes              # 65536, an int, range-checked at start
    settings["USAGE_MAX_BODY_BYTES"]     # the same, for collectors written against a dict
    settings.for_browser()               # {"flush_interval_s": 30.0, "enabled": True, ...}
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from usage_reporter.report import FLUSH_INTERVAL_S, MIN_FLUSH_INTERVAL_S

from . import setting_parsers as parse
from .setting_parsers import Parser

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = Path(__file__).resolve().parent
PREFIX = "USAGE_"
DAY_S = 86_400.0
DAYS = parse.number(int, 1, 36_500, " days (these keep no data for ever: only USAGE_INTAKE_KEEP_DAYS has a 0)")


class SettingError(ValueError):
    """A setting whose value is refused; the message is one line naming the setting."""


def declare(default: Any, parser: Parser, help: str, *, browser: bool | str = False, secret: bool = False) -> Any:
    """One setting's declaration, as a field of ``Settings``. ``browser``: the pages see it
    (Kibana's ``exposeToBrowser``; ``True``: under the attribute's name, a string: under that
    key). ``secret``: it may hold a password or token, so ``repr(settings)`` leaves it out."""
    return field(default=default, repr=not secret, metadata={"parse": parser, "help": help, "browser": browser})


@dataclass(frozen=True)
class Settings(Mapping[str, Any]):
    """The app's ``USAGE_*`` settings, parsed and range-checked: build it with ``load_settings``.

    Frozen, so what was checked at start is what every request reads; a test that needs
    other values builds another one (``settings.updated({...})``). Also a read-only mapping
    by setting name (``settings["USAGE_DB"]``), for collectors and apps written when the
    settings were a dict; ``USAGE_*`` keys that are not declared (an app's own) are kept in
    ``extra`` and read the same way.
    """

    db: str = declare("usage.db", parse.database,
        "Where every aggregate is kept: a SQLite file path (the embedded default), or a "
        "postgresql:// (or postgres://) URL for a PostgreSQL database shared by any number of "
        "receiver hosts. Created and migrated on start.", secret=True)
    stats_token: str | None = declare(None, parse.optional_text,
        "Bearer token required by /api/stats and the telemetry admin routes; unset means loopback "
        "clients only.", secret=True)
    allowed_origins: tuple[str, ...] = declare((), parse.origins,
        "Comma-separated origins allowed to post reports cross-site (CORS and the kbn-xsrf "
        "exemption).")
    max_body_bytes: int = declare(256 * 1024, parse.number(int, 1024, 1 << 30),
        "Largest report body accepted; bigger bodies get 413.")
    max_entries: int = declare(1000, parse.number(int, 1, 1_000_000),
        "Most entries accepted in each map of a report (uiCounter, application_usage, userAgent).")
    max_name_length: int = declare(256, parse.number(int, 1, 65_536),
        "Longest app, event, view or key name accepted.")
    rate_limit_per_minute: int = declare(600, parse.number(int, 0, 10**9, " (0: no limit)"),
        "Report requests (and intake posts, counted together) one client (an IPv4 address, or an "
        "IPv6 /64: USAGE_LIMITS_IPV6_PREFIX) may send per minute across all workers; more get 429 "
        "with Retry-After. 0 means no limit.")
    max_new_keys_per_client_per_day: int = declare(2000, parse.number(int, 0, 10**9, " (0: no limit)"),
        "New app, event, view and user-agent names one client (IP address) may create per UTC day; "
        "a report past it gets 429 and stores nothing. 0 means no limit.")
    limits_exempt: tuple[str, ...] = declare(("127.0.0.0/8", "::1"), parse.networks,
        "Comma-separated addresses or networks the two limits above never apply to (loopback by "
        "default). Behind a reverse proxy set USAGE_TRUSTED_PROXIES so the client's own address is "
        "checked; a request with forwarding headers from an untrusted peer is never exempt.")
    limits_ipv6_prefix: int = declare(64, parse.number(int, 16, 128),
        "IPv6 clients are counted per network of this prefix length (one /64 is one subscriber's); "
        "IPv4 clients per address.")
    trusted_proxies: tuple[str, ...] = declare((), parse.networks,
        "Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed"
        " (serve --trusted-proxy); unset: no proxy is trusted and forwarded requests are never "
        "treated as local.")
    allowed_hosts: tuple[str, ...] = declare((), parse.hosts,
        "Comma-separated Host names (besides localhost, 127.0.0.1 and [::1]) under which loopback "
        "clients get operator access without a token; others get 403 (DNS rebinding).")
    collector_wait_s: float = declare(1.0, parse.number(float, 0, 600),
        "How long bulk fetch waits for a collector's is_ready (Kibana's "
        "maximumWaitTimeForAllCollectorsInS).")
    counters_flush_s: float = declare(5.0, parse.number(float, 0.01, DAY_S),
        "How often buffered server usage counters are written (Kibana's "
        "usageCounters.bufferDuration).")
    counters_report_days: int = declare(3, DAYS,
        "Days of daily UI and server counters the ui_counters and usage_counters collectors report:"
        " today and the days before it, N calendar days in all (Kibana 7.11 reported what its "
        "rollup kept, counters up to 3 days old: set 4 to match; older days stay stored for the "
        "dashboard until USAGE_UI_COUNTERS_KEEP_DAYS).")
    ui_counters_keep_days: int = declare(90, DAYS,
        "Days of daily UI and server usage counters kept before retention deletes them.")
    app_usage_keep_days: int = declare(90, DAYS,
        "Days of daily application usage kept before being rolled into totals.")
    rollup_interval_s: float = declare(3600.0, parse.number(float, 0, 31 * DAY_S, " (0: no rollups in the server)"),
        "How often rollups and retention run in the server (first run after the first request); 0: "
        "none in the server, run `usage-collection rollup` from cron.")
    report_ids_keep_days: int = declare(7, DAYS,
        "Days a seen reportId is remembered so a retried report is not counted twice.")
    flush_interval_s: float = declare(FLUSH_INTERVAL_S, parse.number(float, MIN_FLUSH_INTERVAL_S, DAY_S),
        "How often browsers flush their buffered report (also on hide and close).", browser=True)
    ui_counters_enabled: bool = declare(True, parse.boolean,
        "When false, browsers record and send nothing (Kibana's "
        "usageCollection.uiCounters.enabled).", browser="enabled")
    honor_gpc: bool = declare(True, parse.boolean,
        "Treat a browser sending the Global Privacy Control signal as opted out.", browser=True)
    service_name: str = declare("usage-collection", parse.text,
        "Service name reported by /api/stats and in telemetry snapshots.")
    static_dir: str = declare(str(PACKAGE_DIR / "static"), parse.path,
        "Folder holding usage.js, the boot scripts, the demo and admin assets (the package's own by"
        " default).")
    demo: bool = declare(False, parse.boolean,
        "Serve the demo app at / (the README's demo command turns it on).")
    node_modules: str = declare(str(REPO_ROOT / "node_modules"), parse.path,
        "Folder where the set-up installed pyodide and the chart library from npm.")
    pyodide_snapshot: bool = declare(True, parse.boolean,
        "Start Pyodide workers from a memory snapshot with usage_reporter imported (built once with"
        " Node, kept in ~/.cache/usage-collection): ready in ~1 s instead of ~3.5 s, for 5.2-6.4 MB"
        " more on a first visit. Without it, or until it is built, workers start the normal way.")
    telemetry_opt_in: bool | None = declare(None, parse.optional_boolean,
        "The deployment's telemetry opt-in default: true, false, or unset (ask an admin on the "
        "settings page).")
    telemetry_allow_changing: bool = declare(True, parse.boolean,
        "When false, USAGE_TELEMETRY_OPT_IN is fixed and the settings page and optIn route cannot "
        "change it.")
    telemetry_url: str | None = declare(None, parse.url,
        "Where opted-in snapshots are sent (another deployment's /api/telemetry/v3/intake); unset "
        "means nothing is sent.")
    telemetry_opt_in_status_url: str | None = declare(None, parse.url,
        "Where an opt-in change is reported, best effort (e.g. "
        ".../api/telemetry/v3/intake/opt_in_status); unset means not reported.")
    telemetry_send_from: Literal["browser", "server"] = declare("browser", parse.choice("browser", "server"),
        "Who sends snapshots: 'browser' (admin pages, once a day per browser) or 'server' (a "
        "background thread).")
    telemetry_banner: bool = declare(True, parse.boolean,
        "Show admins who have not chosen yet a notice asking about telemetry on the settings page "
        "and dashboard.")
    telemetry_version: str | None = declare(None, parse.optional_text,
        "Version compared by the opt-in re-prompt rule and sent in snapshot headers; unset means "
        "the package version (set it to rehearse an upgrade).")
    telemetry_timeout_s: float = declare(10.0, parse.number(float, 0.1, 600),
        "Timeout of each server-side telemetry POST (snapshots and opt-in status).")
    intake_enabled: bool = declare(False, parse.boolean,
        "Accept snapshots from other deployments at /api/telemetry/v3/intake and chart them on the "
        "dashboard.")
    intake_max_bytes: int = declare(1024 * 1024, parse.number(int, 1024, 1 << 30),
        "Largest snapshot body the intake accepts; bigger bodies get 413.")
    group_commit_ms: float = declare(0.0, parse.number(float, 0, 1000),
        "Group commit: reports that arrive while a transaction commits share the next one, always. "
        "With a window (milliseconds) a busy writer also waits this long for more before it begins:"
        " worth it only when a commit is slow next to a request (a distant database); measured "
        "here, a 2 ms window cost a third of SQLite's throughput.")
    group_commit_max_reports: int = declare(200, parse.number(int, 1, 10_000),
        "Most reports stored in one transaction by group commit.")
    max_new_names_per_day: int = declare(20_000, parse.number(int, 0, 10**9, " (0: no cap)"),
        "New app, event, view and user-agent names the deployment accepts per UTC day from all "
        "clients together; past it, entries with new names are dropped (counted in the server usage"
        " counter usage_collection/new_names_dropped) while known names still count. 0 means no "
        "cap.")
    max_user_agents_per_key: int = declare(1000, parse.number(int, 0, 10**7, " (0: no cap)"),
        "User agents kept per userAgent key; past it, the least recently seen are forgotten. 0 "
        "means no cap.")
    max_report_ids: int = declare(1_000_000, parse.number(int, 0, 10**10, " (0: no cap)"),
        "reportIds remembered for deduplication (about 100 bytes each); past it, the oldest are "
        "forgotten before their USAGE_REPORT_IDS_KEEP_DAYS. 0 means no cap.")
    intake_max_per_instance_per_day: int = declare(4, parse.number(int, 0, 10**6, " (0: no cap)"),
        "Snapshots the intake keeps per sending instance id per UTC day; more get 429. 0 means no "
        "cap.")
    intake_max_per_client_per_day: int = declare(10, parse.number(int, 0, 10**6, " (0: no cap)"),
        "Snapshots the intake keeps per client address (an IPv6 /64 counts as one) per UTC day, "
        "whatever instance ids they carry; more get 429. 0 means no cap.")
    intake_max_total_bytes: int = declare(1024 ** 3, parse.number(int, 0, 1 << 50, " (0: no cap)"),
        "Total size of the snapshots the intake keeps; past it new snapshots get 507 until "
        "retention frees room. 0 means no cap.")
    intake_keep_days: int = declare(365, parse.number(int, 0, 36_500, " (0: for ever)"),
        "Days of received snapshots and opt-in changes the intake keeps (deleted by the rollups); 0"
        " keeps them for ever.")

    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False, repr=False)

    def __getitem__(self, name: str) -> Any:
        setting = SETTINGS_BY_NAME.get(name)
        return getattr(self, setting.attribute) if setting is not None else self.extra[name]

    def __iter__(self) -> Iterator[str]:
        yield from SETTINGS_BY_NAME
        yield from self.extra

    def __len__(self) -> int:
        return len(SETTINGS_BY_NAME) + len(self.extra)

    def for_browser(self) -> dict[str, Any]:
        """Exactly the settings marked ``browser``, keyed as the client's ``boot`` options are
        (``flush_interval_s``, ``enabled``, ``honor_gpc``): all a page may learn of them."""
        return {setting.browser_key: getattr(self, setting.attribute) for setting in BROWSER_SETTINGS}

    def updated(self, values: Mapping[str, Any]) -> Settings:
        """A copy with ``values`` (by setting name) parsed and checked as ``create_app``'s are."""
        return load_settings({**self, **values}, environ={})


@dataclass(frozen=True)
class Setting:
    """One declared setting, as the loader, the CLI help and the README test see it."""

    name: str
    attribute: str
    default: Any
    help: str
    parse: Parser
    browser_key: str | None


def _declared() -> list[Setting]:
    declared = []
    for item in fields(Settings):
        if "parse" not in item.metadata:
            continue
        browser = item.metadata["browser"]
        declared.append(Setting(PREFIX + item.name.upper(), item.name, item.default, item.metadata["help"],
                                item.metadata["parse"], item.name if browser is True else browser or None))
    return declared


SETTINGS: list[Setting] = _declared()
DEFAULTS = Settings()  # each default as the code reads it, for the classes that need one (report_types.Limits)
SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
BROWSER_SETTINGS: list[Setting] = [setting for setting in SETTINGS if setting.browser_key]


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the environment, then explicit overrides (create_app's config), every
    value parsed and range-checked here, once, by the same parser whichever its source, so a
    bad one stops the start with one line naming it (``SettingError``) instead of failing
    later on every request."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.name in overrides:
            source, raw = "setting", overrides[setting.name]
        elif setting.name in environ:
            source, raw = "environment variable", environ[setting.name]
        else:
            continue
        sources[setting.name] = source
        try:
            values[setting.attribute] = setting.parse(raw)
        except ValueError as exc:
            raise SettingError(f"{source} {setting.name}: {exc}") from None
    extra = {key: value for key, value in overrides.items() if key not in SETTINGS_BY_NAME}
    settings = Settings(**values, extra=MappingProxyType(extra))
    if settings.telemetry_opt_in is None and not settings.telemetry_allow_changing:
        raise SettingError(f"{sources['USAGE_TELEMETRY_ALLOW_CHANGING']} USAGE_TELEMETRY_ALLOW_CHANGING: false needs "
                           "USAGE_TELEMETRY_OPT_IN set to true or false (the value it fixes)")
    return settings
