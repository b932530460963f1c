"""Load test: many simulated browsers posting into the real server, open-loop, with a totals check.

Starts ``usage-collection serve --workers 2`` (gunicorn, SQLite WAL, a fresh file) on
127.0.0.1 and posts reports at a fixed target rate for a bounded time, from a few client
processes with ``--browsers`` simulated browsers between them. Each report is what a tab
flushes: 2-6 UI counters picked from 10 apps x 20 events, 1-2 application usage entries,
a user agent, a unique reportId. About 2% of reports are sent a second time with the same
reportId after being acknowledged (a browser that timed out and retried) and must come
back as duplicates; a failed request is retried with the same reportId until acknowledged.

Pacing is open-loop: request i is due at ``start + i / rate`` whatever happened before, and
its latency is measured from when it was due, so a slow server shows up as latency (no
coordinated omission). Rates are completions over the real elapsed time, from the first
request's due time to the last answer: "answered/s" counts requests whose first attempt got
an answer, "stored/s" reports acknowledged as stored. A server that falls behind stretches
the elapsed time, so both drop below the target. At the end the totals in SQLite must
equal what was acknowledged.

Goals (printed; the exit status is 1 when one is missed): answered/s and stored/s at least
95% of the target rate, p99 latency at most 100 ms, and the totals check exact.

    .venv/bin/python bench/load.py --rate 200 --duration 60 --browsers 200
    .venv/bin/python bench/load.py --find-max --duration 60   # step the rate, then hold the best for 60 s
    .venv/bin/python bench/load.py --rate 200 --limits        # with the per-client limits applied
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverctl import free_port, post, request_bytes, server_cpu_seconds, start_server, stop_server  # noqa: E402

PATH = "/api/ui_counters/_report"
APPS = [f"app{a}" for a in range(10)]
EVENTS = [f"event_{e:02d}" for e in range(20)]
VIEWS = ["main", "list", "detail", "settings", "help"]
RETRY_SHARE = 0.02
P99_GOAL_MS = 100.0
RATE_GOAL = 0.95  # answered/s and stored/s, as a share of the target rate


def make_report(rng: random.Random, report_id: str) -> tuple[bytes, Counter, int]:
    """A report body, the counter totals it adds, and the clicks it adds."""
    app = rng.choice(APPS)
    counters, totals = {}, Counter()
    for event in rng.sample(EVENTS, rng.randint(2, 6)):
        kind = rng.choice(("click", "loaded"))
        total = rng.randint(1, 5)
        key = f"{app}-{kind}-{event}"
        counters[key] = {"key": key, "appName": app, "eventName": event, "type": kind, "total": total}
        totals[app, event, kind] += total
    usage, clicks = {}, 0
    for view in rng.sample(VIEWS, rng.randint(1, 2)):
        n = rng.randint(0, 9)
        usage[f"{app}-{view}"] = {"appId": app, "viewId": view, "minutesOnScreen": round(rng.uniform(0.1, 3), 3),
                                  "numberOfClicks": n}
        clicks += n
    report = {"reportVersion": 3, "reportId": report_id, "uiCounter": counters, "application_usage": usage,
              "userAgent": {"kibana-user_agent": {"key": "kibana-user_agent", "appName": "kibana",
                                                 "type": "user_agent", "userAgent": f"Mozilla/5.0 bench {rng.randint(1, 20)}"}}}
    return json.dumps({"report": report}, separators=(",", ":")).encode(), totals, clicks


def client_process(port: int, rate: float, seconds: float, threads: int, browsers: int, seed: str,
                   results: "multiprocessing.Queue[dict]") -> None:
    """``threads`` senders sharing one open-loop schedule of ``rate`` reports/s for ``seconds``."""
    due_count = int(rate * seconds)
    next_index = [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.2  # CLOCK_MONOTONIC on Linux: comparable across the client processes
    out = {"latencies": [], "acked": 0, "errors": 0, "statuses": Counter(), "totals": Counter(), "clicks": 0,
           "resent": 0, "resent_duplicate": 0, "late_starts": 0, "answered": 0, "start": start, "end": start}

    def send_until_acked(payload: bytes, due: float, scheduled: bool = True) -> tuple[int, bytes]:
        first = True
        while True:
            try:
                status, body = post(port, payload)
            except OSError:
                status, body = 0, b""
            now = time.perf_counter()
            if first:
                with lock:
                    out["latencies"].append(now - due)
                    out["answered"] += scheduled and status != 0  # the schedule's requests, not resends
                first = False
            with lock:
                out["statuses"][status] += 1
                out["end"] = max(out["end"], now)
            if status == 200:
                return status, body
            with lock:
                out["errors"] += 1
            if time.perf_counter() > start + seconds + 30:
                return status, body
            time.sleep(0.2)

    def sender(thread: int) -> None:
        rng = random.Random(f"{seed}-{thread}")
        while True:
            with lock:
                i = next_index[0]
                next_index[0] += 1
            if i >= due_count:
                return
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.001:
                with lock:
                    out["late_starts"] += 1
            browser = i % browsers
            body, totals, clicks = make_report(rng, f"{seed}-b{browser}-r{i}")
            payload = request_bytes(port, PATH, body)
            status, answer = send_until_acked(payload, due)
            if status != 200 or b'"duplicate"' in answer:
                continue  # never acknowledged as stored (or stored by an earlier try that timed out)
            with lock:
                out["acked"] += 1
                out["totals"].update(totals)
                out["clicks"] += clicks
            if rng.random() < RETRY_SHARE:  # the browser did not see the answer and sends it again
                status, answer = send_until_acked(payload, time.perf_counter(), scheduled=False)
                with lock:
                    out["resent"] += 1
                    out["resent_duplicate"] += status == 200 and b'"duplicate"' in answer

    workers = [threading.Thread(target=sender, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put(out)


def run_phase(port: int, rate: float, seconds: float, browsers: int, processes: int, threads: int) -> dict:
    results: multiprocessing.Queue = multiprocessing.Queue()
    tag = f"{int(time.time() * 1000) % 10**9}-{random.randrange(10**6)}"
    procs = [multiprocessing.Process(target=client_process, args=(
        port, rate / processes, seconds, threads, max(1, browsers // processes), f"{tag}-p{p}", results))
        for p in range(processes)]
    for proc in procs:
        proc.start()
    parts = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    merged: dict = {"rate": rate, "seconds": seconds, "latencies": sorted(l for p in parts for l in p["latencies"]),
                    "totals": sum((p["totals"] for p in parts), Counter()), "statuses": Counter()}
    for key in ("acked", "errors", "clicks", "resent", "resent_duplicate", "late_starts", "answered"):
        merged[key] = sum(p[key] for p in parts)
    # Real elapsed time: from the first due time to the last answer of any client process.
    merged["elapsed"] = max(p["end"] for p in parts) - min(p["start"] for p in parts)
    for part in parts:
        merged["statuses"].update(part["statuses"])
    lat = merged["latencies"]
    merged["p50_ms"] = 1000 * lat[len(lat) // 2] if lat else float("nan")
    merged["p99_ms"] = 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
    merged["achieved"] = merged["answered"] / merged["elapsed"] if merged["elapsed"] > 0 else 0.0
    merged["stored_rate"] = merged["acked"] / merged["elapsed"] if merged["elapsed"] > 0 else 0.0
    return merged


def check_totals(db_path: Path, totals: Counter, clicks: int, acked: int) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        stored = Counter({(a, e, t): n for a, e, t, n in conn.execute(
            "SELECT domain_id, counter_name, counter_type, SUM(count) FROM usage_counters WHERE source = 'ui' "
            "GROUP BY 1, 2, 3")})
        metric = conn.execute("SELECT COALESCE(SUM(count), 0) FROM ui_metric").fetchone()[0]
        stored_clicks = conn.execute("SELECT COALESCE(SUM(number_of_clicks), 0) FROM application_usage_daily"
                                     ).fetchone()[0]
        seen = conn.execute("SELECT COUNT(*) FROM reports_seen").fetchone()[0]
    finally:
        conn.close()
    problems = []
    if stored != totals:
        diff = {k: (stored.get(k, 0), totals.get(k, 0)) for k in set(stored) | set(totals) if stored.get(k) != totals.get(k)}
        problems.append(f"usage_counters differ from acknowledged totals in {len(diff)} counters, e.g. {list(diff.items())[:3]}")
    if metric != sum(totals.values()):
        problems.append(f"ui_metric holds {metric}, acknowledged {sum(totals.values())}")
    if stored_clicks != clicks:
        problems.append(f"clicks: {stored_clicks} stored, {clicks} acknowledged")
    if seen != acked:
        problems.append(f"reports_seen: {seen} rows, {acked} reports acknowledged")
    return problems


def describe(phase: dict) -> str:
    counters = sum(phase["totals"].values())
    return (f"target {phase['rate']:>6.0f}/s  answered {phase['achieved']:>6.0f}/s  stored {phase['stored_rate']:>6.0f}"
            f" reports/s over {phase['elapsed']:.1f} s  {counters / phase['elapsed']:>7.0f} counter increments/s  "
            f"p50 {phase['p50_ms']:>6.1f} ms  "
            f"p99 {phase['p99_ms']:>7.1f} ms  errors {phase['errors']}  late starts {phase['late_starts']}  "
            f"retries {phase['resent']} ({phase['resent_duplicate']} answered duplicate)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load at the target rate (default 60)")
    parser.add_argument("--rate", type=float, default=100.0, help="target reports per second, open-loop (default 100)")
    parser.add_argument("--browsers", type=int, default=200, help="simulated browsers (distinct reportId streams)")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--threads", type=int, default=16, help="sender threads per client process (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--find-max", action="store_true",
                        help="step the rate up (--step-seconds each) until p99 passes 100 ms, then hold the best "
                             "rate for --duration")
    parser.add_argument("--step-seconds", type=float, default=8.0, help="seconds per --find-max step (default 8)")
    parser.add_argument("--limits", action="store_true",
                        help="apply the per-client limits to these loopback clients (generous values, to measure their cost)")
    args = parser.parse_args()

    if args.limits:
        os.environ.update({"USAGE_LIMITS_EXEMPT": "", "USAGE_RATE_LIMIT_PER_MINUTE": "100000000",
                           "USAGE_MAX_NEW_KEYS_PER_CLIENT_PER_DAY": "100000000"})
    tmp = Path(tempfile.mkdtemp(prefix="usage-load-"))
    db_path = tmp / "load.db"
    port = free_port()
    load_before = os.getloadavg()[0]
    proc = start_server(db_path, port, args.workers, tmp / "server.log")
    phases = []
    try:
        run = lambda rate, seconds: run_phase(port, rate, seconds, args.browsers, args.processes, args.threads)  # noqa: E731
        phases_for_totals = [run(20, 1.0)]  # warm-up: not in the figures, in the totals check
        rate = args.rate
        if args.find_max:
            best, rate = None, 50.0
            while True:
                step = run(rate, args.step_seconds)
                phases_for_totals.append(step)
                print("step   " + describe(step), flush=True)
                if step["p99_ms"] > P99_GOAL_MS or step["errors"] or step["achieved"] < RATE_GOAL * rate:
                    break
                best, rate = rate, rate * 1.25
            rate = best or 25.0
            print(f"highest stepped rate with p99 under {P99_GOAL_MS:.0f} ms: {rate:.0f} reports/s; holding it "
                  f"for {args.duration:g} s", flush=True)
        cpu = server_cpu_seconds(proc.pid)
        held = run(rate, args.duration)
        held["cpu"] = server_cpu_seconds(proc.pid) - cpu
        phases_for_totals.append(held)
        phases.append(held)
    finally:
        stop_server(proc)
    totals = sum((p["totals"] for p in phases_for_totals), Counter())
    acked = sum(p["acked"] for p in phases_for_totals)
    clicks = sum(p["clicks"] for p in phases_for_totals)
    problems = check_totals(db_path, totals, clicks, acked)
    print(f"load test: {os.cpu_count()} CPUs shared by server and clients, {args.workers} gunicorn workers "
          f"(gevent), {args.processes} client processes x {args.threads} threads, {args.browsers} browsers, "
          f"limits {'applied' if args.limits else 'off for loopback'}; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    held = phases[0]
    print("held   " + describe(held))
    print(f"server CPU {1e6 * held['cpu'] / max(1, len(held['latencies'])):.0f} us per request; "
          f"statuses {dict(held['statuses'])}")
    if problems:
        print("TOTALS MISMATCH: " + "; ".join(problems))
    else:
        print(f"totals check: {acked} acknowledged reports ({sum(totals.values())} counter increments, {clicks} clicks) "
              "over every phase, exactly what SQLite holds; no report lost or counted twice")
        shutil.rmtree(tmp, ignore_errors=True)
    return report_goals(held, not problems)


def report_goals(held: dict, totals_ok: bool) -> int:
    """Print each goal with the figure measured against it; 1 when any is missed."""
    target = held["rate"]
    goals = [
        (f"answered/s >= {RATE_GOAL:.0%} of {target:.0f}", f"{held['achieved']:.1f}/s", held["achieved"] >= RATE_GOAL * target),
        (f"stored/s >= {RATE_GOAL:.0%} of {target:.0f}", f"{held['stored_rate']:.1f}/s",
         held["stored_rate"] >= RATE_GOAL * target),
        (f"p99 <= {P99_GOAL_MS:.0f} ms", f"{held['p99_ms']:.1f} ms", held["p99_ms"] <= P99_GOAL_MS),
        ("totals in SQLite == acknowledged", "equal" if totals_ok else "differ", totals_ok),
    ]
    for goal, figure, met in goals:
        print(f"goal {goal}: {figure} {'ok' if met else 'MISSED'}")
    return 0 if all(met for _, _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
