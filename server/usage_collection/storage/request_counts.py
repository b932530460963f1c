"""The per-client request counts of the rate limit (``limits.py``), a batch at a time.

Every report request of a limited client is counted in the database before its body is
read, so the limit holds across worker processes and hosts. One transaction per request
was a third of SQLite's throughput (each takes the write lock) and half of PostgreSQL's,
so concurrent requests' counts are batched like reports (``group_commit.py``): one
upsert per client and window adds the batch's requests, and each request learns its own
place in the count, as if they had been counted one after the other. The commit does not
wait for the disk (``relaxed_commit``): a count answers no one.
"""

from __future__ import annotations

from typing import Sequence

from .connection import CHUNK_ROWS
from .core import StorageCore


class RequestCounts(StorageCore):
    def count_requests(self, batch: Sequence[tuple[str, int, int]]) -> list[int]:
        """Count each ``(client, window_start, window_s)`` of ``batch``; each one's count so
        far, in order (the second request of a client in the batch gets one more than the
        first). Old windows are forgotten when a client starts a new one."""
        added: dict[tuple[int, str], int] = {}
        for client, window_start, _window_s in batch:
            added[(window_start, client)] = added.get((window_start, client), 0) + 1
        totals: dict[tuple[int, str], int] = {}
        keys = sorted(added)  # in key order: two hosts lock the rows in the same order
        with self.connection() as conn, conn.transaction():
            conn.relaxed_commit()
            for start in range(0, len(keys), CHUNK_ROWS):
                chunk = keys[start:start + CHUNK_ROWS]
                rows = conn.all("INSERT INTO client_requests (window_start, client, requests) VALUES " +
                                ", ".join(["(?, ?, ?)"] * len(chunk)) +
                                " ON CONFLICT (window_start, client) DO UPDATE SET "
                                "requests = client_requests.requests + excluded.requests "
                                "RETURNING window_start, client, requests",
                                [value for key in chunk for value in (*key, added[key])])
                totals.update(((int(window), client), int(requests)) for window, client, requests in rows)
            newest = max(window for window, _client in keys) if keys else 0
            window_s = max((item[2] for item in batch), default=0)
            if any(totals[key] == added[key] for key in keys):  # a client's first requests in a window
                conn.execute("DELETE FROM client_requests WHERE window_start < ?", [newest - window_s])
        counts: list[int] = []
        seen: dict[tuple[int, str], int] = {}
        for client, window_start, _window_s in batch:
            key = (window_start, client)
            seen[key] = seen.get(key, 0) + 1
            counts.append(totals[key] - added[key] + seen[key])
        return counts

    def count_request(self, client: str, window_start: int, window_s: int) -> int:
        """Count one request of ``client`` in the window starting at ``window_start``; the count so far."""
        return self.count_requests([(client, window_start, window_s)])[0]
