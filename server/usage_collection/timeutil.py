"""Day arithmetic shared by the collectors and the rollups, so both draw the same lines.

Every stored day is a UTC date ``YYYY-MM-DD``. Kibana decides whether a daily document is
inside "the last N days" with ``timestamp >= now - N days`` where ``timestamp`` is the day's
UTC midnight; ``first_day_within`` turns that rule into the first day string that passes,
so a SQL ``day >= ?`` gives the same answer, and a rollup's ``day < ?`` moves exactly the
days the collector's 90-day window no longer counts::

    >>> first_day_within(datetime(2025, 4, 10, 12, tzinfo=timezone.utc), 7)
    '2025-04-04'
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone


def first_day_within(now: datetime, days: int) -> str:
    """The earliest UTC day whose midnight is at or after ``now - days``."""
    start = now.astimezone(timezone.utc) - timedelta(days=days)
    first = start.date()
    if start > datetime.combine(first, time(), tzinfo=timezone.utc):
        first += timedelta(days=1)
    return first.isoformat()


def day_start(day: str) -> str:
    """Kibana's ``fromTimestamp`` for a UTC day: ``2025-01-01T00:00:00Z``."""
    return f"{date.fromisoformat(day).isoformat()}T00:00:00Z"


def iso_timestamp(moment: datetime) -> str:
    """UTC with milliseconds and ``Z`` (``2021-11-20T11:43:00.961Z``), how Kibana writes ``updated_at``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def normalise_timestamp(text: str) -> str:
    """Any stored ISO 8601 time as ``iso_timestamp`` (rows written by older code may differ)."""
    if len(text) == 24 and text[19] == "." and text[23] == "Z":
        return text  # already 2021-11-20T11:43:00.961Z
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return iso_timestamp(parsed)


def utc_day(moment: datetime) -> str:
    """The UTC date of ``moment`` as ``YYYY-MM-DD``."""
    return moment.astimezone(timezone.utc).date().isoformat()
