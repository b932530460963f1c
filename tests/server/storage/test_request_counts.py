"""The rate limit's request counts (``storage/request_counts.py``), a batch at a time, on each backend."""

from __future__ import annotations

import threading

from support.usage_rows import db  # noqa: F401
from usage_collection.group_commit import GroupCommit
from usage_collection.storage import open_storage

WINDOW = 1_744_286_400  # a minute's start (2025-04-10 12:00 UTC)


def test_each_request_of_a_batch_gets_its_own_place_in_its_clients_count(db):
    assert db.count_requests([("a", WINDOW, 60), ("b", WINDOW, 60), ("a", WINDOW, 60), ("a", WINDOW, 60)]) == \
        [1, 1, 2, 3]
    assert db.count_requests([("b", WINDOW, 60), ("a", WINDOW, 60)]) == [2, 4]
    assert db.count_request("a", WINDOW, 60) == 5
    assert db.query("SELECT client, requests FROM client_requests ORDER BY client") == [("a", 5), ("b", 2)]


def test_a_clients_new_window_forgets_the_windows_before_the_last(db):
    db.count_requests([("a", WINDOW, 60), ("b", WINDOW, 60)])
    assert db.count_requests([("a", WINDOW + 60, 60)]) == [1]  # the previous minute is kept
    assert db.query("SELECT COUNT(*) FROM client_requests") == [(3,)]
    assert db.count_requests([("b", WINDOW + 120, 60), ("b", WINDOW + 120, 60)]) == [1, 2]
    assert db.query("SELECT window_start, client, requests FROM client_requests ORDER BY 1, 2") == [
        (WINDOW + 60, "a", 1), (WINDOW + 120, "b", 2)]


def test_requests_counted_at_once_by_several_writers_are_each_counted_once(db):
    # Two processes' writers (their own storage and batches) and 8 requests in flight each.
    counts: list[int] = []
    lock = threading.Lock()

    def process() -> None:
        storage = open_storage(db.url)
        writer = GroupCommit(storage.count_requests, name="group-commit-test")

        def request() -> None:
            for _ in range(25):
                count = writer.submit(("client", WINDOW, 60))
                with lock:
                    counts.append(count)

        threads = [threading.Thread(target=request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        writer.close()
        storage.close()

    processes = [threading.Thread(target=process) for _ in range(2)]
    for thread in processes:
        thread.start()
    for thread in processes:
        thread.join(timeout=120)
    assert sorted(counts) == list(range(1, 401))  # every count given out once: no request lost or doubled
    assert db.query("SELECT requests FROM client_requests") == [(400,)]
