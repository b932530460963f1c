"""A collector is a dumb value: a type, a schema, a fetch and an is_ready (Kibana's ``Collector``).

Everything clever (readiness timeouts, isolation, timing) lives in ``CollectorSet``; the
value object only refuses to exist in a broken state, with Kibana's constructor messages,
so a mistake surfaces when the collector is made rather than in the middle of a fetch::

    collector = make_usage_collector(
        type="my_plugin",
        schema={"clicks": {"type": "long", "_meta": {"description": "Clicks so far"}}},
        fetch=lambda context: {"clicks": 42},
    )
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Literal, Mapping

from ..settings import Settings, load_settings
from .schema import Schema, SchemaError, validate_schema
from .validator import Checker, compile_checker, run_checker

CollectorKind = Literal["usage", "stats"]
Fetch = Callable[["FetchContext"], Any]
IsReady = Callable[[], bool]


def always_ready() -> bool:
    """Kibana's default ``isReady``."""
    return True


class FetchContext(Mapping[str, Any]):
    """What a fetch receives, read-only like Kibana's frozen ``{esClient, soClient}``.

    ``context.storage`` is the app's ``Storage`` on either backend: read with
    ``context.storage.query("SELECT ... WHERE x = ?", [value])`` (``?`` placeholders on
    SQLite and PostgreSQL alike). ``context.db`` is a sqlite-utils ``Database`` on SQLite,
    for collectors written before PostgreSQL, and ``None`` on PostgreSQL. ``context.now``
    is the clock's aware UTC datetime, ``context.settings`` the app's ``Settings``: typed
    attributes (``context.settings.counters_report_days``), also readable by name
    (``context.settings["USAGE_COUNTERS_REPORT_DAYS"]``). A plain mapping given here (a
    test's ``{"USAGE_X": 1}``) is parsed into ``Settings`` over the defaults.
    """

    __slots__ = ("_values",)

    def __init__(self, db: Any, now: datetime, settings: Mapping[str, Any] | None = None, **extra: Any) -> None:
        if not isinstance(settings, Settings):
            settings = load_settings(settings or {}, environ={})
        object.__setattr__(self, "_values", {"db": db, "now": now, "settings": settings, **extra})

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a fetch context is read-only")


@dataclass(frozen=True, eq=False)
class Collector:
    """One source of usage data. Make it with ``make_usage_collector`` / ``make_stats_collector``."""

    type: str
    schema: Schema | None
    fetch: Fetch
    is_ready: IsReady = always_ready
    kind: CollectorKind = "usage"
    _checker: Checker | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.type, str) or not self.type:
            raise TypeError("Collector must be instantiated with a options.type string property")
        if not callable(self.fetch):
            raise TypeError("Collector must be instantiated with a options.fetch function property")
        if self.is_ready is None:
            object.__setattr__(self, "is_ready", always_ready)
        if not callable(self.is_ready):
            raise TypeError(f'Collector "{self.type}": is_ready must be a function returning True or False')
        if self.kind not in ("usage", "stats"):
            raise ValueError(f'Collector "{self.type}": kind must be "usage" or "stats", got {self.kind!r}')
        if self.schema is None:
            if self.kind == "usage":
                raise SchemaError(f'Usage collector "{self.type}" must declare a schema describing what fetch returns')
            return
        try:
            validate_schema(self.schema, self.type)
        except SchemaError as exc:
            raise SchemaError(f'Collector "{self.type}" has an invalid schema: {exc}') from None
        object.__setattr__(self, "_checker", compile_checker(self.schema))

    def check_result(self, result: Any) -> None:
        """Raise ``SchemaMismatch`` (path starting with the type) if ``result`` does not match the schema."""
        if self._checker is not None:
            run_checker(self._checker, result, self.type)


def make_usage_collector(*, type: str | None = None, schema: Schema | None = None, fetch: Fetch | None = None,
                         is_ready: IsReady | None = None) -> Collector:
    """A collector whose output goes under ``usage`` in /api/stats and telemetry (Kibana's makeUsageCollector).

    Arguments are keyword-only and checked here, so a missing one gives Kibana's message
    (``Collector must be instantiated with a options.type string property``).
    """
    return Collector(type=type, schema=schema, fetch=fetch, is_ready=is_ready or always_ready,  # type: ignore[arg-type]
                     kind="usage")


def make_stats_collector(*, type: str | None = None, fetch: Fetch | None = None, schema: Schema | None = None,
                         is_ready: IsReady | None = None) -> Collector:
    """A collector fetched by ``bulk_fetch()`` but not listed under ``usage`` (Kibana's makeStatsCollector).

    Its schema is optional; when given, results are checked against it like a usage collector's.
    """
    return Collector(type=type, schema=schema, fetch=fetch, is_ready=is_ready or always_ready,  # type: ignore[arg-type]
                     kind="stats")
