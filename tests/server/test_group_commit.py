"""Group commit: concurrent requests' reports share transactions, each answered after its commit."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest

from usage_collection.group_commit import GroupCommit
from usage_collection.storage import Pending, StorageError
from usage_collection.validation import Report, UiCounter

NOW = datetime(2025, 4, 10, 12, tzinfo=timezone.utc)


def report(report_id: str | None, total: int = 1) -> Report:
    return Report(report_id=report_id, ui_counters=(UiCounter("app", "event", "click", total, "app-click-event"),))


def submit_all(writer: GroupCommit, reports: list[Report]) -> list[object]:
    """Submit every report from its own thread, all at once; their outcomes in order."""
    outcomes: list[object] = [None] * len(reports)
    start = threading.Barrier(len(reports))

    def run(index: int) -> None:
        start.wait(timeout=10)
        try:
            outcomes[index] = writer.submit(Pending(reports[index], NOW))
        except StorageError as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(reports))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_concurrent_reports_share_transactions_and_each_is_counted_once(storage):
    writer = GroupCommit(storage.store_batch, window_s=0.005, max_reports=50)
    # 60 distinct reports, then the same 60 again (retries): 60 stored, 60 duplicates
    reports = [report(f"r{n}", total=n + 1) for n in range(60)]
    first = submit_all(writer, reports)
    again = submit_all(writer, reports)
    writer.close()
    assert first == ["stored"] * 60
    assert again == ["duplicate"] * 60
    assert storage.query("SELECT count FROM usage_counters") == [(sum(range(1, 61)),)]
    assert writer.stats.reports == 120
    assert writer.stats.batches < 120  # some requests shared a transaction
    assert writer.stats.largest <= 50


def test_a_failed_commit_fails_every_request_of_its_batch_and_stores_none(storage):
    writer = GroupCommit(storage.store_batch, window_s=0.005)
    storage.execute("ALTER TABLE ui_metric RENAME TO ui_metric_gone")
    outcomes = submit_all(writer, [report(f"f{n}") for n in range(8)])
    assert all(isinstance(outcome, StorageError) for outcome in outcomes), outcomes
    storage.execute("ALTER TABLE ui_metric_gone RENAME TO ui_metric")
    assert storage.query("SELECT COUNT(*) FROM usage_counters") == [(0,)]
    assert storage.query("SELECT COUNT(*) FROM reports_seen") == [(0,)]
    # the same reports retried after the failure are stored
    assert submit_all(writer, [report(f"f{n}") for n in range(8)]) == ["stored"] * 8
    writer.close()
    assert storage.query("SELECT count FROM usage_counters") == [(8,)]


def test_a_closed_writer_refuses_new_reports(storage):
    writer = GroupCommit(storage.store_batch)
    assert writer.submit(Pending(report("a"), NOW)) == "stored"
    writer.close()
    with pytest.raises(StorageError, match="shutting down"):
        writer.submit(Pending(report("b"), NOW))
