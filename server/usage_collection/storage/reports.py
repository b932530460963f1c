"""Storing validated reports: Kibana's ``storeUiReport``, a batch at a time.

``store_batch`` takes the reports of several concurrent requests (``group_commit.py``
gathers them) and stores them in ONE transaction: a commit costs a disk flush, so one
per report capped PostgreSQL at about 700 reports/s. Inside the batch:

* a ``reportId`` seen before (in ``reports_seen``, or earlier in the same batch) stores
  nothing and answers ``duplicate``: a beacon and its retry count once, on any host;
* a client with a per-day key limit (``limits.py``) is checked in a savepoint, so a
  report over its limit is refused (its reportId not kept) while the rest of the batch
  is stored;
* past the deployment's daily cap on new names (``USAGE_MAX_NEW_NAMES_PER_DAY``), the
  entries naming something new are dropped and counted, while known names still count;
* identical keys are summed in Python, then each table gets a few multi-row upserts;
* on PostgreSQL, a batch whose every name is already stored (nearly all of them) is one
  statement instead (``pg_batch.py``).

Every increment is ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` with the
sum saturating at the int64 maximum, so concurrent processes and hosts never lose an
increment and a count can never overflow into a REAL or an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from ..timeutil import iso_timestamp, utc_day
from ..validation import Report
from .connection import CHUNK_ROWS, INT64_MAX, Conn, saturating_add
from .core import StorageCore
from .pg_batch import store_known
from .upkeep import NAMES_DELETED

UI_METRIC_ID_PREFIX = "ui-metric"
CAP_DOMAIN = "usage_collection"
"""Server usage counter domain under which the caps count what they dropped."""

STORED = "stored"
DUPLICATE = "duplicate"



@dataclass(frozen=True)
class Pending:
    """One request's report waiting for a batch: who sent it and their key limit (0: none)."""

    report: Report
    now: datetime
    client: str | None = None
    key_limit: int = 0


@dataclass(frozen=True)
class KeyLimitHit:
    """The report would create ``count`` new names; its client created ``used`` today."""

    count: int
    used: int
    limit: int


@dataclass(frozen=True)
class Caps:
    """Caps on what the deployment stores (issue 11): 0 turns one off."""

    new_names_per_day: int = 20_000
    user_agents_per_key: int = 1_000
    report_ids: int = 1_000_000


Outcome = str | KeyLimitHit


def ui_metric_id(app_name: str, event_name: str) -> str:
    """The legacy ``ui-metric`` row id (Kibana's saved-object id, with its type as prefix)."""
    return f"{UI_METRIC_ID_PREFIX}:{app_name}:{event_name}"


_UPSERTS = {
    "ui_metric": ("INSERT INTO ui_metric (id, app_name, event_name, count, updated_at) VALUES {rows} "
                  "ON CONFLICT (id) DO UPDATE SET count = " + saturating_add("ui_metric", "count") +
                  ", updated_at = excluded.updated_at", 5),
    "usage_counters": ("INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, "
                       "updated_at) VALUES {rows} ON CONFLICT (domain_id, counter_name, counter_type, source, day) "
                       "DO UPDATE SET count = " + saturating_add("usage_counters", "count") +
                       ", updated_at = CASE WHEN excluded.updated_at > usage_counters.updated_at "
                       "THEN excluded.updated_at ELSE usage_counters.updated_at END", 7),
    "application_usage_daily": (
        "INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, number_of_clicks, "
        "updated_at) VALUES {rows} ON CONFLICT (app_id, view_id, day) DO UPDATE SET "
        "minutes_on_screen = application_usage_daily.minutes_on_screen + excluded.minutes_on_screen, "
        "number_of_clicks = " + saturating_add("application_usage_daily", "number_of_clicks") +
        ", updated_at = excluded.updated_at", 6),
    "user_agents": ("INSERT INTO user_agents (key, user_agent, first_seen, last_seen, reports) VALUES {rows} "
                    "ON CONFLICT (key, user_agent) DO UPDATE SET last_seen = excluded.last_seen, "
                    "reports = " + saturating_add("user_agents", "reports"), 5),
}


def upsert(conn: Conn, table: str, rows: Sequence[Sequence[Any]]) -> None:
    """Add ``rows`` into ``table`` with multi-row upserts (one statement per chunk)."""
    sql, width = _UPSERTS[table]
    group = "(" + ", ".join(["?"] * width) + ")"
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        conn.execute(sql.format(rows=", ".join([group] * len(chunk))), [value for row in chunk for value in row])


# -- new names ---------------------------------------------------------------------------

# Each name is looked up through its table's primary key. A row-value ``IN (VALUES ...)``
# made SQLite scan the whole table instead: 139 ms a chunk of 100 names at a year of
# usage_counters, against 1.7 ms, and every name is asked again after each start and each
# retention run that deleted rows, on any host (``ReportStore._forget_deleted_names``).
_KNOWN = {
    "counters": ("SELECT column1, column2, column3 FROM (VALUES {rows}) AS wanted WHERE EXISTS (SELECT 1 "
                 "FROM usage_counters u WHERE u.domain_id = wanted.column1 AND u.counter_name = wanted.column2 "
                 "AND u.counter_type = wanted.column3 AND u.source = 'ui')", 3),
    "views": ("SELECT column1, column2 FROM (VALUES {rows}) AS wanted WHERE EXISTS (SELECT 1 FROM "
              "application_usage_daily d WHERE d.app_id = wanted.column1 AND d.view_id = wanted.column2) "
              "OR EXISTS (SELECT 1 FROM application_usage_totals t WHERE t.app_id = wanted.column1 "
              "AND t.view_id = wanted.column2)", 2),
    "agents": ("SELECT column1, column2 FROM (VALUES {rows}) AS wanted WHERE EXISTS (SELECT 1 FROM user_agents a "
               "WHERE a.key = wanted.column1 AND a.user_agent = wanted.column2)", 2),
}


@dataclass
class Keys:
    """The names a report (or batch) would count under, by table."""

    counters: set[tuple[str, str, str]]
    views: set[tuple[str, str]]
    agents: set[tuple[str, str]]

    @classmethod
    def of(cls, reports: Iterable[Report]) -> "Keys":
        keys = cls(set(), set(), set())
        for report in reports:
            keys.counters.update((c.app_name, c.event_name, c.type) for c in report.ui_counters if c.total)
            keys.views.update((u.app_id, u.view_id) for u in report.application_usage
                              if u.minutes_on_screen or u.number_of_clicks)
            keys.agents.update((a.key, a.user_agent) for a in report.user_agents)
        return keys

    def count(self) -> int:
        return len(self.counters) + len(self.views) + len(self.agents)


class KnownKeys:
    """Keys this process saw stored: the "is this name new?" queries skip them.

    A receiver sees the same few thousand names again and again; asking the database about
    each of them in every batch cost more than storing the batch. A key enters once it is
    committed (or found stored). Retention can delete a key: ``ReportStore`` empties the
    cache within seconds of a retention run on any host, and the cache also empties itself
    every ``ttl_s`` (and when it holds ``limit`` keys), so a deleted name is counted as new
    again, as it should be."""

    def __init__(self, limit: int = 200_000, ttl_s: float = 3600.0) -> None:
        self.limit, self.ttl_s = limit, ttl_s
        self.clear()

    def clear(self) -> None:
        self.keys: dict[str, set[Any]] = {"counters": set(), "views": set(), "agents": set()}
        self.born = time.monotonic()
        self.size = 0

    def unknown(self, keys: "Keys") -> "Keys":
        if time.monotonic() - self.born > self.ttl_s:
            self.clear()
        return Keys(keys.counters - self.keys["counters"], keys.views - self.keys["views"],
                    keys.agents - self.keys["agents"])

    def add(self, keys: "Keys") -> None:
        if self.size > self.limit:
            self.clear()
        for name in self.keys:
            added = getattr(keys, name) - self.keys[name]
            self.keys[name] |= added
            self.size += len(added)


def new_keys(conn: Conn, keys: Keys, known: KnownKeys | None = None) -> Keys:
    """The subset of ``keys`` not stored yet (``known``: keys already seen stored, not asked about)."""
    if known is not None:
        keys = known.unknown(keys)
    found = Keys(set(), set(), set())
    stored = Keys(set(), set(), set())
    for name, (sql, width) in _KNOWN.items():
        wanted = sorted(getattr(keys, name))
        known_rows: set[Any] = getattr(stored, name)
        group = "(" + ", ".join(["?"] * width) + ")"
        for start in range(0, len(wanted), CHUNK_ROWS):
            chunk = wanted[start:start + CHUNK_ROWS]
            values = ", ".join([group] * len(chunk))
            params = [value for row in chunk for value in row]
            known_rows.update(tuple(row) for row in conn.all(sql.format(rows=values), params))
        getattr(found, name).update(set(wanted) - known_rows)
    if known is not None:
        known.add(stored)  # stored by someone already: true whatever becomes of this transaction
    return found


def _check_client_keys(conn: Conn, pending: Pending, day: str, known: KnownKeys) -> KeyLimitHit | None:
    """Record the names ``pending`` creates for its client today, or refuse past its limit."""
    count = new_keys(conn, Keys.of([pending.report]), known).count()
    if not count:
        return None
    client = pending.client or "unknown"
    used = conn.one("SELECT new_keys FROM client_new_keys WHERE day = ? AND client = ?", [day, client]) or 0
    if used + count > pending.key_limit:
        return KeyLimitHit(count, used, pending.key_limit)
    if not used:
        conn.execute("DELETE FROM client_new_keys WHERE day < ?", [day])
    conn.execute("INSERT INTO client_new_keys (day, client, new_keys) VALUES (?, ?, ?) ON CONFLICT (day, client) "
                 "DO UPDATE SET new_keys = client_new_keys.new_keys + excluded.new_keys", [day, client, count])
    return None


class _Refused(Exception):
    def __init__(self, hit: KeyLimitHit) -> None:
        self.hit = hit


class ReportStore(StorageCore):
    """The write path: reports and server usage counters."""

    caps: Caps = Caps()
    names_check_s: float = 10.0
    """How often a process asks whether retention deleted names (on any host) since it last looked."""
    _ids_since_prune: int = 0
    _known: KnownKeys | None = None
    _names_checked: float = float("-inf")
    _names_token: str | None = None

    @property
    def known_keys(self) -> KnownKeys:
        if self._known is None:
            self._known = KnownKeys()
        return self._known

    def _forget_deleted_names(self) -> None:
        """Empty ``known_keys`` when retention deleted counter rows since the last look, in
        any process or on any host (``upkeep.py`` leaves a new token in ``meta``): a name it
        deleted must count as new again against the daily cap, within ``names_check_s``."""
        now = time.monotonic()
        if now - self._names_checked < self.names_check_s:
            return
        self._names_checked = now
        token = self.get_meta(NAMES_DELETED)
        if token != self._names_token:
            self._names_token = token
            self.known_keys.clear()

    def store_report(self, report: Report, now: datetime) -> bool:
        """One report in its own batch; ``False`` (nothing written) if its reportId was seen."""
        return self.store_batch([Pending(report, now)])[0] == STORED

    def store_batch(self, batch: Sequence[Pending]) -> list[Outcome]:
        """Store ``batch`` in one transaction; one outcome per report, in order. Raises
        ``StorageError`` (and nothing of the batch is stored) when the commit fails."""
        self._forget_deleted_names()
        outcomes: list[Outcome] = [STORED] * len(batch)
        created = Keys(set(), set(), set())
        # Only a report that names something this process has not seen stored can pass its
        # client's new-name limit; the others (nearly all) skip the per-report savepoint.
        # On PostgreSQL a batch naming nothing new is one statement; each report is asked once.
        one_statement = self.dialect == "postgresql"
        names_new = [(one_statement or p.key_limit > 0) and self.known_keys.unknown(Keys.of([p.report])).count() > 0
                     for p in batch]
        if one_statement and not any(names_new):
            return self._store_known(batch)
        checked = [p.key_limit > 0 and new for p, new in zip(batch, names_new)]
        with self.connection() as conn, conn.transaction():
            fresh = _remember_all(conn, [p for p, check in zip(batch, checked)
                                         if not check and p.report.report_id is not None])
            seen: set[str] = set()
            accepted: list[Pending] = []
            for index, pending in enumerate(batch):
                outcome = self._admit(conn, pending, seen, fresh, checked[index])
                outcomes[index] = outcome
                if outcome == STORED:
                    accepted.append(pending)
            if accepted:
                created = self._add(conn, accepted)
        self.known_keys.add(created)  # committed: these names exist now
        self._count_ids(len(seen))
        return outcomes

    def _store_known(self, batch: Sequence[Pending]) -> list[Outcome]:
        """A batch whose every name is stored already, in one statement (``pg_batch.py``)."""
        outcomes: list[Outcome] = []
        unique: list[tuple[str | None, Report, datetime]] = []
        ids: set[str] = set()
        for pending in batch:
            report_id = pending.report.report_id
            if report_id is not None and report_id in ids:
                outcomes.append(DUPLICATE)
                continue
            if report_id is not None:
                ids.add(report_id)
            outcomes.append(STORED)
            unique.append((report_id, pending.report, pending.now))
        with self.connection() as conn:
            fresh = store_known(conn, unique)
        outcomes = [DUPLICATE if outcome == STORED and p.report.report_id is not None
                    and p.report.report_id not in fresh else outcome for p, outcome in zip(batch, outcomes)]
        self._count_ids(len(fresh))
        return outcomes

    def _count_ids(self, stored: int) -> None:
        """Prune the oldest reportIds now and then (every 1% of the cap)."""
        self._ids_since_prune += stored
        if self.caps.report_ids and self._ids_since_prune >= max(1000, self.caps.report_ids // 100):
            self._ids_since_prune = 0
            self.cap_report_ids()

    def _admit(self, conn: Conn, pending: Pending, seen: set[str], fresh: set[str], check_keys: bool) -> Outcome:
        report_id = pending.report.report_id
        if report_id is not None and report_id in seen:
            return DUPLICATE
        if not check_keys:
            if report_id is not None:
                if report_id not in fresh:  # stored before this batch
                    return DUPLICATE
                seen.add(report_id)
            return STORED
        try:
            with conn.transaction():  # a savepoint: a refused report leaves no trace
                if report_id is not None and not _remember(conn, report_id, pending.now):
                    return DUPLICATE
                hit = _check_client_keys(conn, pending, utc_day(pending.now), self.known_keys)
                if hit is not None:
                    raise _Refused(hit)
        except _Refused as refused:
            return refused.hit
        if report_id is not None:
            seen.add(report_id)
        return STORED

    def _add(self, conn: Conn, accepted: list[Pending]) -> Keys:
        """Upsert the accepted reports' sums; the keys they now hold (for ``known_keys``).

        The sums are taken first, per key, and everything after works on the batch's few
        distinct keys: at 20 counters a report, the per-entry work was most of a batch's
        cost on SQLite. Python's integers do not overflow, so a sum saturates once, at the
        end. Every row gets the batch's newest time as ``updated_at``: it is committed then."""
        counts: dict[tuple[str, str, str, str], int] = {}
        usage: dict[tuple[str, str, str], list[Any]] = {}
        agents: dict[tuple[str, str], int] = {}
        for pending in accepted:
            day = utc_day(pending.now)
            report = pending.report
            for c in report.ui_counters:
                if c.total:
                    key = (c.app_name, c.event_name, c.type, day)
                    counts[key] = counts.get(key, 0) + c.total
            for u in report.application_usage:
                if u.minutes_on_screen or u.number_of_clicks:
                    entry = usage.setdefault((u.app_id, u.view_id, day), [0.0, 0])
                    entry[0] += u.minutes_on_screen
                    entry[1] += u.number_of_clicks
            for pair in {(a.key, a.user_agent) for a in report.user_agents}:
                agents[pair] = agents.get(pair, 0) + 1
        wanted = Keys({key[:3] for key in counts}, {key[:2] for key in usage}, set(agents))
        fresh = new_keys(conn, wanted, self.known_keys)  # usually nothing to ask: every key known
        if self.caps.new_names_per_day and fresh.count():
            dropped = self._over_name_cap(conn, fresh, utc_day(accepted[-1].now))
            if dropped:
                counts = {key: n for key, n in counts.items() if key[:3] not in dropped.counters}
                usage = {key: entry for key, entry in usage.items() if key[:2] not in dropped.views}
                agents = {pair: n for pair, n in agents.items() if pair not in dropped.agents}
                wanted = Keys(wanted.counters - dropped.counters, wanted.views - dropped.views,
                              wanted.agents - dropped.agents)
        stamp = iso_timestamp(max(pending.now for pending in accepted))
        metrics: dict[str, list[Any]] = {}
        for (app, event, _type, _day), n in counts.items():
            metric_id = ui_metric_id(app, event)
            row = metrics.get(metric_id)
            if row is None:
                metrics[metric_id] = [metric_id, app, event, n, stamp]
            else:
                row[3] += n
        # In key order: two hosts' batches touching the same rows lock them in the same order,
        # so PostgreSQL never has to break a deadlock between them.
        upsert(conn, "ui_metric", [(*row[:3], min(row[3], INT64_MAX), stamp)
                                   for _id, row in sorted(metrics.items())])
        upsert(conn, "usage_counters", [(app, event, kind, "ui", day, min(n, INT64_MAX), stamp)
                                        for (app, event, kind, day), n in sorted(counts.items())])
        upsert(conn, "application_usage_daily", [(*key, minutes, min(clicks, INT64_MAX), stamp)
                                                 for key, (minutes, clicks) in sorted(usage.items())])
        upsert(conn, "user_agents", [(*pair, stamp, stamp, n) for pair, n in sorted(agents.items())])
        if fresh.agents and self.caps.user_agents_per_key:  # only a key that got a new agent can pass its cap
            _cap_user_agents(conn, {key for key, _agent in fresh.agents if (key, _agent) in agents},
                             self.caps.user_agents_per_key)
        return wanted

    def _over_name_cap(self, conn: Conn, fresh: Keys, day: str) -> Keys | None:
        """Count the batch's new names against today's cap; the names past it, to drop."""
        count = fresh.count()
        if not count:
            return None
        used = conn.one("SELECT names FROM daily_new_names WHERE day = ?", [day]) or 0
        room = max(0, self.caps.new_names_per_day - used)
        allowed = min(room, count)
        if allowed:
            if not used:
                conn.execute("DELETE FROM daily_new_names WHERE day < ?", [day])
            conn.execute("INSERT INTO daily_new_names (day, names) VALUES (?, ?) ON CONFLICT (day) DO UPDATE SET "
                         "names = daily_new_names.names + excluded.names", [day, allowed])
        if allowed == count:
            return None
        # Keep the first ``allowed`` new names (in a stable order), drop the rest.
        ordered = [("counters", key) for key in sorted(fresh.counters)] + \
                  [("views", key) for key in sorted(fresh.views)] + [("agents", key) for key in sorted(fresh.agents)]
        dropped = Keys(set(), set(), set())
        for name, key in ordered[allowed:]:
            getattr(dropped, name).add(key)
        stamp = f"{day}T00:00:00.000Z"
        _add_server_counters(conn, [(CAP_DOMAIN, "new_names_dropped", "count", day, count - allowed, stamp)])
        return dropped

    def cap_report_ids(self) -> int:
        """Forget the oldest reportIds past ``caps.report_ids``; returns how many."""
        if not self.caps.report_ids:
            return 0
        with self.connection() as conn, conn.transaction():
            cutoff = conn.one("SELECT received_at FROM reports_seen ORDER BY received_at DESC LIMIT 1 OFFSET ?",
                              [self.caps.report_ids])
            if cutoff is None:
                return 0
            return conn.execute("DELETE FROM reports_seen WHERE received_at <= ?", [cutoff]).rowcount

    def add_server_counters(self, rows: Sequence[tuple[str, str, str, str, int, str]]) -> None:
        """Add server usage counters ``(domain, name, type, day, count, updated_at)`` in one transaction."""
        with self.connection() as conn, conn.transaction():
            _add_server_counters(conn, rows)


def _remember_all(conn: Conn, batch: Sequence[Pending]) -> set[str]:
    """Keep the reportIds of ``batch`` in one statement; those that were not kept before."""
    rows: dict[str, str] = {}
    for pending in batch:
        rows.setdefault(pending.report.report_id or "", iso_timestamp(pending.now))
    fresh: set[str] = set()
    items = list(rows.items())
    for start in range(0, len(items), CHUNK_ROWS):
        chunk = items[start:start + CHUNK_ROWS]
        fresh.update(row[0] for row in conn.all(
            "INSERT INTO reports_seen (report_id, received_at) VALUES " + ", ".join(["(?, ?)"] * len(chunk)) +
            " ON CONFLICT (report_id) DO NOTHING RETURNING report_id", [value for row in chunk for value in row]))
    return fresh


def _remember(conn: Conn, report_id: str, now: datetime) -> bool:
    """Keep ``report_id``; False when it was already there."""
    return conn.execute("INSERT INTO reports_seen (report_id, received_at) VALUES (?, ?) "
                        "ON CONFLICT (report_id) DO NOTHING", [report_id, iso_timestamp(now)]).rowcount == 1


def _add_server_counters(conn: Conn, rows: Sequence[tuple[str, str, str, str, int, str]]) -> None:
    upsert(conn, "usage_counters", sorted((d, n, t, "server", day, min(c, INT64_MAX), s) for d, n, t, day, c, s in rows))


def _cap_user_agents(conn: Conn, keys: set[str], cap: int) -> None:
    """Keep the ``cap`` most recently seen user agents of each key in ``keys``."""
    marks = ", ".join(["?"] * len(keys))
    for (key,) in conn.all(f"SELECT key FROM user_agents WHERE key IN ({marks}) GROUP BY key HAVING COUNT(*) > ?",
                           [*sorted(keys), cap]):
        conn.execute("DELETE FROM user_agents WHERE key = ? AND user_agent IN (SELECT user_agent FROM user_agents "
                     "WHERE key = ? ORDER BY last_seen DESC, user_agent LIMIT -1 OFFSET ?)"
                     if conn.dialect == "sqlite" else
                     "DELETE FROM user_agents WHERE key = ? AND user_agent IN (SELECT user_agent FROM user_agents "
                     "WHERE key = ? ORDER BY last_seen DESC, user_agent OFFSET ?)", [key, key, cap])
