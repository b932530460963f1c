"""Benchmark of the report receiver: what storing costs compared with not storing.

Starts the real server (``usage-collection serve --workers 2``: gunicorn, fresh SQLite file
in WAL mode) on 127.0.0.1 and drives it from several client processes, each keeping one
request in flight, for a bounded time per phase. Each report carries 20 uiCounter entries
and one application_usage entry and a unique reportId. The same server is measured twice
in one run: ``?dry_run=true`` (parsed and validated, nothing stored: the no-op endpoint)
and the real endpoint. Prints requests/s, counters/s, p50/p99 latency, the storage
overhead ``(noop_rate - real_rate) / noop_rate``, and checks that the totals in SQLite
equal what the server acknowledged.

    .venv/bin/python bench/receiver.py              # 10 s per endpoint, 4 client processes
    .venv/bin/python bench/receiver.py --seconds 4 --rounds 2 --clients 8
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

COUNTERS_PER_REPORT = 20
APP = "bench"
PATH = "/api/ui_counters/_report"


def build_body(report_id: str) -> bytes:
    counters = {}
    for i in range(COUNTERS_PER_REPORT):
        event = f"event_{i:02d}"
        key = f"{APP}-click-{event}"
        counters[key] = {"key": key, "appName": APP, "eventName": event, "type": "click", "total": 1}
    report = {"reportVersion": 3, "reportId": report_id, "uiCounter": counters,
              "application_usage": {f"{APP}-main": {"appId": APP, "viewId": "main",
                                                    "minutesOnScreen": 0.5, "numberOfClicks": 2}}}
    return json.dumps({"report": report}, separators=(",", ":")).encode()


def request_bytes(port: int, path: str, body: bytes) -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"kbn-xsrf: bench\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return head.encode() + body


def post(port: int, payload: bytes) -> tuple[int, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close after each answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    response = b"".join(chunks)
    status = int(response[9:12])
    return status, response.partition(b"\r\n\r\n")[2]


def client(port: int, path: str, seconds: float, seed: str, results: "multiprocessing.Queue[dict]") -> None:
    """Closed loop: post reports with unique ids until the time is up; report counts and latencies."""
    latencies: list[float] = []
    acked = duplicates = errors = 0
    n = 0
    deadline = time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        if start >= deadline:
            break
        n += 1
        payload = request_bytes(port, path, build_body(f"{seed}-{n}"))
        try:
            status, body = post(port, payload)
        except OSError:
            errors += 1
            continue
        latencies.append(time.perf_counter() - start)
        if status == 200 and b'"duplicate"' not in body:
            acked += 1
        elif status == 200:
            duplicates += 1
        else:
            errors += 1
    results.put({"acked": acked, "duplicates": duplicates, "errors": errors, "latencies": latencies})


def run_phase(port: int, path: str, clients: int, seconds: float) -> dict:
    """``clients`` processes posting for ``seconds``; their counts and latencies combined."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client, args=(port, path, seconds, f"{uuid.uuid4().hex[:12]}-{i}", results))
             for i in range(clients)]
    for proc in procs:
        proc.start()
    parts = [results.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    return {
        "requests": sum(len(p["latencies"]) for p in parts), "seconds": seconds,
        "acked": sum(p["acked"] for p in parts), "errors": sum(p["errors"] for p in parts),
        "duplicates": sum(p["duplicates"] for p in parts),
        "latencies": [lat for p in parts for lat in p["latencies"]],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by every process of the server's process group."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state; pgrp is the 5th field of stat
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def prepare_database(db_path: Path) -> None:
    """A fresh file already in WAL mode: workers racing to switch a new file to WAL can fail to boot."""
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()


def start_server(db_path: Path, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    exe = shutil.which("usage-collection", path=os.path.dirname(sys.executable)) or "usage-collection"
    env = {**os.environ, "USAGE_ROLLUP_INTERVAL_S": "0"}
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db_path),
                                 "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{_tail(log_path)}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    stop_server(proc)
    raise SystemExit(f"server did not start:\n{_tail(log_path)}")


def _tail(log_path: Path, lines: int = 30) -> str:
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-lines:])


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, 9)
        proc.wait()


def check_totals(db_path: Path, acked: int) -> list[str]:
    """Every acknowledged report, and nothing else, is in the aggregates."""
    conn = sqlite3.connect(db_path)
    try:
        want = acked * COUNTERS_PER_REPORT
        got = {
            "usage_counters": conn.execute("SELECT COALESCE(SUM(count), 0) FROM usage_counters").fetchone()[0],
            "ui_metric": conn.execute("SELECT COALESCE(SUM(count), 0) FROM ui_metric").fetchone()[0],
        }
        clicks = conn.execute("SELECT COALESCE(SUM(number_of_clicks), 0) FROM application_usage_daily").fetchone()[0]
        seen = conn.execute("SELECT COUNT(*) FROM reports_seen").fetchone()[0]
    finally:
        conn.close()
    problems = [f"{table}: {value} counted, {want} acknowledged" for table, value in got.items() if value != want]
    if clicks != 2 * acked:
        problems.append(f"application_usage_daily clicks: {clicks}, expected {2 * acked}")
    if seen != acked:
        problems.append(f"reports_seen: {seen} rows, {acked} reports acknowledged")
    return problems


def summarize(runs: list[dict]) -> dict:
    requests = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    latencies = sorted(lat for r in runs for lat in r["latencies"])
    return {
        "requests": requests, "acked": sum(r["acked"] for r in runs),
        "errors": sum(r["errors"] + r["duplicates"] for r in runs),
        "rate": requests / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan"),
        "cpu_us": 1e6 * sum(r["cpu"] for r in runs) / max(requests, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per endpoint (default 10)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="split each endpoint's time into this many alternating no-op/real rounds, so "
                             "other load on the machine hits both alike (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="client processes, one request in flight each")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="usage-bench-"))
    port = free_port()
    db_path = tmp / "bench.db"
    prepare_database(db_path)
    proc = start_server(db_path, port, args.workers, tmp / "server.log")
    endpoints = {"no-op": PATH + "?dry_run=true", "real": PATH}
    runs: dict[str, list[dict]] = {name: [] for name in endpoints}
    try:
        run_phase(port, endpoints["no-op"], args.clients, min(1.0, args.seconds))  # warm-up
        for _ in range(args.rounds):
            for name, path in endpoints.items():
                cpu = server_cpu_seconds(proc.pid)
                result = run_phase(port, path, args.clients, args.seconds / args.rounds)
                result["cpu"] = server_cpu_seconds(proc.pid) - cpu
                runs[name].append(result)
    finally:
        stop_server(proc)
    noop, real = summarize(runs["no-op"]), summarize(runs["real"])
    problems = check_totals(db_path, real["acked"])

    print(f"receiver benchmark: {os.cpu_count()} CPUs, {args.workers} gunicorn workers, {args.clients} client "
          f"processes, {COUNTERS_PER_REPORT} counters + 1 application_usage entry per report, "
          f"{args.seconds:g} s per endpoint in {args.rounds} alternating rounds; load average "
          f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other processes share the CPUs)")
    print(f"{'endpoint':<8} {'requests':>9} {'req/s':>8} {'counters/s':>11} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'server CPU us/req':>18} {'errors':>6}")
    for name, row in (("no-op", noop), ("real", real)):
        print(f"{name:<8} {row['requests']:>9} {row['rate']:>8.0f} {row['rate'] * COUNTERS_PER_REPORT:>11.0f} "
              f"{row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f} {row['cpu_us']:>18.0f} {row['errors']:>6}")
    overhead = (noop["rate"] - real["rate"]) / noop["rate"]
    cpu_share = (real["cpu_us"] - noop["cpu_us"]) / real["cpu_us"]
    print(f"storage overhead: {100 * overhead:.1f}% of the no-op rate (goal: under 25%); storing is "
          f"{100 * cpu_share:.1f}% of the server CPU per stored report")
    if problems:
        print("TOTALS MISMATCH: " + "; ".join(problems))
        return 1
    print(f"totals check: {real['acked']} acknowledged reports = {real['acked'] * COUNTERS_PER_REPORT} "
          "counters, exactly what SQLite holds")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not (noop["errors"] or real["errors"]) else 1


if __name__ == "__main__":
    sys.exit(main())
