"""What a validated report is (``Report`` and its entries), the size ``Limits`` and the rules
layered on the client's field tables: the shared vocabulary of both validators.

A module of its own so that the walker (``validation``) and its msgspec fast path
(``validation_fast``) both import it, and neither imports the other's half-built module
(they were one import loop). ``validation`` re-exports every name, for existing imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .settings import DEFAULTS, Settings

USER_AGENT_MAX_LENGTH = 1024
# MAX_ENTRY_VALUE (10^9, from report.py): the most one entry of one report may add (total,
# numberOfClicks, minutesOnScreen). Far above what a page counts between two flushes, small
# enough that sums stay far from int64; stored counts also saturate there (storage/connection.py).

# Rules layered on the field tables, keyed by field name (whatever map it appears in).
NON_EMPTY_FIELDS = frozenset({"key", "type", "appName", "eventName", "appId", "viewId"})
NO_COLON_FIELDS = frozenset({"appName", "appId"})
# "sum": report v1's stats.sum (report_v1.py), the count it adds.
WHOLE_NUMBER_FIELDS = frozenset({"total", "numberOfClicks", "sum"})


@dataclass(frozen=True)
class Limits:
    """Size limits, from the ``USAGE_MAX_*`` settings (their defaults when built bare)."""

    max_entries: int = DEFAULTS.max_entries
    max_name_length: int = DEFAULTS.max_name_length
    max_user_agent_length: int = USER_AGENT_MAX_LENGTH

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limits":
        """The same instance for the same values (every report asks): its fast path's structs
        are looked up by it (``validation_fast``)."""
        return _limits(cls, settings.max_entries, settings.max_name_length)


@lru_cache(maxsize=32)
def _limits(cls: type[Limits], max_entries: int, max_name_length: int) -> Limits:
    return cls(max_entries=max_entries, max_name_length=max_name_length)


class UiCounter(NamedTuple):
    app_name: str
    event_name: str
    type: str
    total: int
    key: str
    namespace: str | None = None


class UserAgent(NamedTuple):
    """A user agent seen. ``key`` is the ``userAgent`` map's key, not the entry's ``key``
    field: Kibana stores it as ``<map key>:<user agent>`` (``store_ui_report.test.ts``
    expects the id ``key-user-agent:test-user-agent`` for the map key ``key-user-agent``
    and an entry whose ``key`` is ``test-key``). The entry's field is checked, then unused."""

    key: str
    type: str
    app_name: str
    user_agent: str


class ApplicationUsage(NamedTuple):
    app_id: str
    view_id: str
    minutes_on_screen: float
    number_of_clicks: int


@dataclass(frozen=True)
class Report:
    """A validated report: what ``store_report`` accepts."""

    report_id: str | None = None
    ui_counters: tuple[UiCounter, ...] = ()
    user_agents: tuple[UserAgent, ...] = ()
    application_usage: tuple[ApplicationUsage, ...] = ()
