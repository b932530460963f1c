"""What a second receiver host adds over one shared PostgreSQL (as far as 2 cores allow).

Starts a throwaway PostgreSQL cluster (fsync on) and measures, with the same total load
(wrk, keep-alive, 8 connections split over the hosts, reports of 20 counters):

    1 host  x 2 workers
    2 hosts x 1 worker
    2 hosts x 2 workers

and prints total req/s, counters/s, the worst host's p99, and the transactions PostgreSQL
committed per stored report (group commit: far fewer commits than reports under load).
All hosts, wrk and PostgreSQL share this machine's cores, so the figures show the
overhead of spreading the load, not the gain a second machine would bring; the README
turns them into estimates for real deployments.

    .venv/bin/python bench/scale.py --seconds 10
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from receiver import (COUNTERS_PER_REPORT, CONNECTIONS, PATH, check_totals, free_port, gunicorn_command,  # noqa: E402
                      open_storage, start, stop, wrk)
from support.postgres import PostgresCluster, find_bindir  # noqa: E402

SHAPES = ((1, 2), (2, 1), (2, 2))  # (hosts, workers per host)


def commits(url: str) -> int:
    storage = open_storage(url)
    try:
        return int(storage.query("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")[0][0])
    finally:
        storage.close()


def measure(url: str, hosts: int, workers: int, seconds: float, tmp: Path) -> dict[str, float]:
    storage = open_storage(url)
    storage.migrate()
    storage.close()
    env = {**os.environ, "USAGE_DB": url, "USAGE_ROLLUP_INTERVAL_S": "0"}
    servers = []
    for index in range(hosts):
        port = free_port()
        servers.append((port, start(gunicorn_command("127.0.0.1", port, workers), env, port,
                                    tmp / f"host{index}.log")))
    results: list[dict[str, float]] = [{} for _ in servers]
    try:
        for index, (port, _proc) in enumerate(servers):
            wrk(port, PATH, 1, f"warm{hosts}{workers}{index}")
        time.sleep(1.5)  # PostgreSQL's statistics are flushed about once a second
        before = commits(url)

        def drive(index: int, port: int) -> None:
            results[index] = wrk(port, PATH, seconds, f"h{hosts}w{workers}i{index}", CONNECTIONS // hosts)

        threads = [threading.Thread(target=drive, args=(index, port)) for index, (port, _proc) in enumerate(servers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        time.sleep(1.5)
        committed = commits(url) - before
    finally:
        for _port, proc in servers:
            stop(proc)
    stored = sum(r["requests"] - r["errors"] for r in results)
    return {"rate": sum(r["rate"] for r in results), "p99": max(r["p99"] for r in results),
            "errors": sum(r["errors"] + r["socket_errors"] for r in results),
            "commits_per_report": committed / max(stored, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None or find_bindir() is None:
        print("bench/scale.py needs wrk and PostgreSQL's server: apt-get install wrk postgresql")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="usage-scale-"))
    cluster = PostgresCluster(durable=True).start()
    rows = []
    problems = []
    try:
        for hosts, workers in SHAPES:
            url = cluster.new_database()
            row = measure(url, hosts, workers, args.seconds, tmp)
            rows.append((hosts, workers, row))
            stored = open_storage(url)
            seen = stored.query("SELECT COUNT(*) FROM reports_seen")[0][0]
            stored.close()
            problem = check_totals(url, seen)  # counters match the reports stored
            if problem:
                problems.append(f"{hosts}x{workers}: {problem}")
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"scale benchmark, {time.strftime('%Y-%m-%d')}: {os.cpu_count()} CPUs shared by the hosts, wrk and "
          f"PostgreSQL; wrk keep-alive, {CONNECTIONS} connections in all, {args.seconds:g} s a shape")
    print(f"{'hosts x workers':<16} {'req/s':>7} {'counters/s':>11} {'worst p99 ms':>13} {'commits/report':>15} "
          f"{'errors':>6}")
    for hosts, workers, row in rows:
        print(f"{hosts} x {workers:<12} {row['rate']:>7.0f} {row['rate'] * COUNTERS_PER_REPORT:>11.0f} "
              f"{row['p99']:>13.1f} {row['commits_per_report']:>15.2f} {int(row['errors']):>6}")
    if problems:
        print("TOTALS MISMATCH: " + "; ".join(problems))
    return 1 if problems or any(row["errors"] for _h, _w, row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
