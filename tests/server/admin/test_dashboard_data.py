"""The dashboard's data with more apps and events than a chart can show: the database's sums
(SQLite's and PostgreSQL's) against a plain Python sum of the same rows, at most MAX_SERIES series per chart with the
rest in "other", and nothing lost from the totals."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from support.postgres import BACKENDS
from usage_collection.storage import open_storage
from usage_collection.admin.dashboard_data import (
    EVENT_APPS,
    MAX_SERIES,
    OTHER,
    TOP_EVENTS,
    TOP_VIEWS,
    dashboard_data,
    day_range,
)

NOW = datetime(2025, 6, 30, 12, tzinfo=timezone.utc)
APPS, EVENTS, VIEWS, DAYS_STORED = 25, 12, 3, 40


@pytest.fixture(scope="module", params=BACKENDS)
def stored(request, tmp_path_factory):
    """Random counters and application usage over 40 days on each backend; returns (db, counter rows, usage rows)."""
    rng = random.Random(3)
    if request.param == "sqlite":
        url = str(tmp_path_factory.mktemp("dash") / "dash.db")
    else:
        url = request.getfixturevalue("postgres_cluster").new_database()
    db = open_storage(url)
    db.migrate()
    counters, usage = [], []
    for offset in range(DAYS_STORED):
        day = (NOW - timedelta(days=offset)).date().isoformat()
        for a in range(APPS):
            for e in range(5 if a % 2 else EVENTS):  # odd apps: 5 events, all kept by name
                for kind in ("click", "loaded")[: 1 + e % 2]:
                    counters.append((f"app{a:02d}", f"event{e:02d}", kind, "ui", day, rng.randint(1, 100 * (a + 1))))
            counters.append((f"app{a:02d}", "export", "count", "server", day, 5))  # server counters are not charted
            for v in range(VIEWS):
                usage.append((f"app{a:02d}", "main" if v == 0 else f"view{v}", day, round(rng.uniform(0, 60), 2),
                              rng.randint(0, 90)))
    with db.connection() as conn, conn.transaction():
        conn.executemany("INSERT INTO usage_counters (domain_id, counter_name, counter_type, source, day, count, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?, '2025-06-30T12:00:00.000Z')", counters)
        conn.executemany("INSERT INTO application_usage_daily (app_id, view_id, day, minutes_on_screen, "
                         "number_of_clicks, updated_at) VALUES (?, ?, ?, ?, ?, '2025-06-30T12:00:00.000Z')", usage)
    yield db, counters, usage
    db.close()


def per_day(rows, days):
    """{name: [sum per day]} from (name, day, value) rows."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for name, day, value in rows:
        sums[name][day] += value
    return {name: [round(values.get(day, 0), 2) for day in days] for name, values in sums.items()}


def check_capped(series, expected):
    """``series`` is the biggest MAX_SERIES - 1 of ``expected`` then ``other`` summing the rest."""
    ranked = sorted(expected, key=lambda name: (-sum(expected[name]), name))
    assert len(series) == min(len(expected), MAX_SERIES)
    if len(expected) <= MAX_SERIES:
        assert [item["name"] for item in series] == ranked
        assert all(item["data"] == expected[item["name"]] for item in series)
        return
    assert [item["name"] for item in series] == ranked[:MAX_SERIES - 1] + [OTHER]
    assert all(item["data"] == expected[item["name"]] for item in series[:-1])
    rest = [sum(expected[name][i] for name in ranked[MAX_SERIES - 1:]) for i in range(len(series[0]["data"]))]
    assert series[-1]["data"] == pytest.approx(rest)


@pytest.mark.parametrize("days", [1, 7, 30, 90])
def test_ui_counters_are_summed_and_capped(stored, days):
    db, counters, _ = stored
    day_list = day_range(NOW, days)
    rows = [row for row in counters if row[3] == "ui" and row[4] >= day_list[0]]
    ui = dashboard_data(db, NOW, days)["ui_counters"]

    by_app = per_day([(app, day, count) for app, _e, _k, _s, day, count in rows], day_list)
    check_capped(ui["per_app"], by_app)
    assert ui["apps"] == sorted(by_app, key=lambda name: (-sum(by_app[name]), name))
    assert ui["total"] == sum(row[5] for row in rows) == sum(sum(item["data"]) for item in ui["per_app"])

    assert list(ui["per_event"]) == ui["apps"][:EVENT_APPS]
    for app, series in ui["per_event"].items():
        check_capped(series, per_day([(e, day, count) for a, e, _k, _s, day, count in rows if a == app], day_list))

    totals: dict[tuple[str, str, str], int] = defaultdict(int)
    for app, event, kind, _s, _day, count in rows:
        totals[(app, event, kind)] += count
    top = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:TOP_EVENTS]
    assert ui["top_events"] == [{"app": a, "event": e, "type": k, "total": t} for (a, e, k), t in top]


def test_application_usage_is_summed_and_capped(stored):
    db, _, usage = stored
    day_list = day_range(NOW, 30)
    rows = [row for row in usage if row[2] >= day_list[0]]
    data = dashboard_data(db, NOW, 30)["application_usage"]
    main = [row for row in rows if row[1] == "main"]
    minutes = per_day([(app, day, mins) for app, _v, day, mins, _c in main], day_list)
    check_capped(data["minutes_per_day"], minutes)
    assert data["apps"] == sorted(minutes, key=lambda name: (-sum(minutes[name]), name))
    assert data["minutes_total"] == pytest.approx(sum(row[3] for row in main), abs=0.01)
    assert data["clicks_total"] == sum(row[4] for row in main)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for app, view, _day, mins, clicks in rows:
        sums[(app, view)][0] += mins
        sums[(app, view)][1] += clicks
    top = sorted(sums.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))[:TOP_VIEWS]
    assert [(v["app"], v["view"], v["clicks"]) for v in data["views"]] == [(a, v, c) for (a, v), (_m, c) in top]
    assert [v["minutes"] for v in data["views"]] == pytest.approx([m for _k, (m, _c) in top], abs=0.01)


def test_an_app_with_few_events_keeps_them_all_without_other(stored):
    db, _, _ = stored
    per_event = dashboard_data(db, NOW, 90)["ui_counters"]["per_event"]
    few = [series for app, series in per_event.items() if int(app[3:]) % 2]  # odd apps: 5 events
    assert few and all(sorted(item["name"] for item in series) == [f"event0{e}" for e in range(5)] for series in few)
