"""Benchmark of the report receiver against the framework's ceiling, on both backends.

One run measures, each under the server that ``usage-collection serve --workers N`` runs
(gunicorn with its gevent workers and settings), driven by ``wrk`` with keep-alive and 8
connections, reports of 20 uiCounter entries and one application_usage entry, each with
its own reportId:

    plain       a Flask endpoint that only parses the JSON (bench/plain_app.py): the ceiling
    dry_run     the receiver with ?dry_run=true: checked and validated, nothing stored
    sqlite      the receiver storing into a fresh SQLite file
    postgresql  the receiver storing into a fresh PostgreSQL database (a throwaway cluster,
                fsync on, as a real one)

With ``--limits`` two more phases store as a visitor's reports are stored: the bench's
client (127.0.0.1) is not exempt from the limits, so every request is counted by the rate
limiter (set to its maximum, so none is refused) and checked against the per-client
new-name limit, on each backend (printed, no goal: the goals are for the receiver alone).

It prints req/s, counters/s, p50, p99 and max latency for each, the CPU a request cost in
the receiver processes, PostgreSQL and wrk (they share the cores: ``cputime.py``) and the
share left idle, checks that the database holds exactly what was acknowledged, prints its
goals and exits 1 when one is missed: storing on SQLite at 75% or more of the plain rate,
PostgreSQL at 50% or more, p99 under 50 ms and no request over 250 ms while storing.
Needs wrk (``apt-get install wrk``).

    .venv/bin/python bench/receiver.py                      # 10 s a phase, one run
    .venv/bin/python bench/receiver.py --seconds 10 --runs 3 --workers 2
    .venv/bin/python bench/receiver.py --limits              # also as visitors' reports are stored
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the throwaway PostgreSQL cluster of the tests

from cputime import CpuMeter, postgres_cpu_seconds  # noqa: E402
from serverctl import free_port, server_cpu_seconds  # noqa: E402
from support.postgres import PostgresCluster, find_bindir  # noqa: E402

from usage_collection.cli import gunicorn_command  # noqa: E402
from usage_collection.storage import open_storage  # noqa: E402

COUNTERS_PER_REPORT = 20
PATH = "/api/ui_counters/_report"
CONNECTIONS = 8
GOALS = {"sqlite_share": 0.75, "postgresql_share": 0.50, "p99_ms": 50.0, "max_ms": 250.0}


def start(command: list[str], env: dict[str, str], port: int, log: Path, cwd: Path | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                cwd=cwd)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"server did not start:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wrk(port: int, path: str, seconds: float, prefix: str, connections: int = CONNECTIONS) -> dict[str, float]:
    """One wrk run; requests, req/s, p50/p99/max in ms and non-2xx answers."""
    done = subprocess.run(["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
                           "--timeout", "10s", "-s", str(ROOT / "bench" / "report.lua"),
                           f"http://127.0.0.1:{port}{path}"],
                          capture_output=True, text=True, env={**os.environ, "BENCH_PREFIX": prefix},
                          timeout=seconds + 60)
    out = done.stdout
    if "requests in" not in out:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{out}\n{done.stderr}")
    def ms(text: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    return {
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rate": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "max": ms(latency.group(3)) if latency else float("nan"),
        "errors": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        "socket_errors": sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    }


def phase(name: str, db: str | None, workers: int, seconds: float, tmp: Path, run: int,
          pg_data: Path) -> dict[str, float]:
    port = free_port()
    env = {**os.environ, "USAGE_ROLLUP_INTERVAL_S": "0"}
    command = gunicorn_command("127.0.0.1", port, workers)
    cwd = None
    if name == "plain":
        command[-1] = "plain_app:app"
        cwd = ROOT / "bench"
    else:
        if name.endswith("_limits"):
            env.update({"USAGE_LIMITS_EXEMPT": "", "USAGE_RATE_LIMIT_PER_MINUTE": "1000000000"})
        env["USAGE_DB"] = db or ""
        storage = open_storage(db or "")
        storage.migrate()  # as serve does before the workers start
        storage.close()
    path = PATH + "?dry_run=true" if name == "dry_run" else PATH
    proc = start(command, env, port, tmp / f"{name}.log", cwd)
    try:
        warm = wrk(port, path, 2, f"warm{run}")
        meter = CpuMeter(receivers=lambda: server_cpu_seconds(proc.pid),  # its own session: pgid = pid
                         postgres=lambda: postgres_cpu_seconds(pg_data) if name.startswith("postgresql") else 0.0)
        meter.start()
        result = wrk(port, path, seconds, f"run{run}")
        result.update(meter.stop(result["requests"]))
    except SystemExit as exc:
        raise SystemExit(f"{name}: {exc}\nserver log:\n{(tmp / f'{name}.log').read_text()[-3000:]}") from None
    finally:
        stop(proc)
    result["acked"] = warm["requests"] - warm["errors"] + result["requests"] - result["errors"]
    return result


def check_totals(url: str, acknowledged: int) -> str | None:
    """Everything acknowledged is stored once; at most the requests in flight when wrk stopped more."""
    storage = open_storage(url)
    try:
        seen = storage.query("SELECT COUNT(*) FROM reports_seen")[0][0]
        counters = storage.query("SELECT COALESCE(SUM(count), 0) FROM usage_counters")[0][0]
    finally:
        storage.close()
    if not acknowledged <= seen <= acknowledged + 2 * CONNECTIONS:  # two wrk runs, each may stop 8 in flight
        return f"{seen} reports stored for {acknowledged} acknowledged"
    if counters != seen * COUNTERS_PER_REPORT:
        return f"{counters} counters stored for {seen} reports ({seen * COUNTERS_PER_REPORT} expected)"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase (default 10)")
    parser.add_argument("--runs", type=int, default=1, help="runs of all four phases (medians are printed)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--limits", action="store_true", help="also store with the limits on (no goal)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench/receiver.py needs wrk: apt-get install wrk")
        return 2
    if find_bindir() is None:
        print("bench/receiver.py needs PostgreSQL's server: apt-get install postgresql")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="usage-bench-"))
    cluster = PostgresCluster(durable=True).start()
    names: tuple[str, ...] = ("plain", "dry_run", "sqlite", "postgresql")
    if args.limits:
        names += ("sqlite_limits", "postgresql_limits")
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    problems: list[str] = []
    load_before = os.getloadavg()[0]
    try:
        for run in range(args.runs):
            for name in names:
                db = {"dry_run": str(tmp / f"dry{run}.db"), "sqlite": str(tmp / f"bench{run}.db"),
                      "sqlite_limits": str(tmp / f"limits{run}.db")}.get(name)
                if name.startswith("postgresql"):
                    db = cluster.new_database()
                result = phase(name, db, args.workers, args.seconds, tmp, run, cluster.data)
                results[name].append(result)
                if name.startswith(("sqlite", "postgresql")):
                    problem = check_totals(db, int(result["acked"]))
                    if problem:
                        problems.append(f"{name} run {run + 1}: {problem}")
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"receiver benchmark, {time.strftime('%Y-%m-%d')}: {os.cpu_count()} CPUs, gunicorn gevent x "
          f"{args.workers}, wrk -t2 -c{CONNECTIONS} keep-alive, {COUNTERS_PER_REPORT} counters a report, "
          f"{args.seconds:g} s a phase, {args.runs} run(s); load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after")
    print(f"{'phase':<17} {'req/s':>16} {'counters/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'non-2xx':>7}")
    med: dict[str, dict[str, float]] = {}
    for name in names:
        rows = results[name]
        med[name] = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        rates = [row["rate"] for row in rows]
        spread = f" ({min(rates):.0f}-{max(rates):.0f})" if len(rates) > 1 else ""
        row = med[name]
        counters = "-" if name in ("plain", "dry_run") else f"{row['rate'] * COUNTERS_PER_REPORT:.0f}"
        print(f"{name:<17} {row['rate']:>7.0f}{spread:>9} {counters:>11} {row['p50']:>7.2f} {row['p99']:>7.2f} "
              f"{row['max']:>7.1f} {int(row['errors'] + row['socket_errors']):>7}")

    print(f"CPU per request, µs (medians): {'receivers':>9} {'PostgreSQL':>10} {'wrk':>5}   idle")
    for name in names:
        row = med[name]
        print(f"  {name:<28} {row['receivers']:>9.0f} {row['postgres']:>10.0f} {row['wrk']:>5.0f} {row['idle']:>5.0f}%")

    plain = med["plain"]["rate"]
    checks = [
        (f"SQLite at >= {GOALS['sqlite_share']:.0%} of plain", med["sqlite"]["rate"] / plain, GOALS["sqlite_share"], ">="),
        (f"PostgreSQL at >= {GOALS['postgresql_share']:.0%} of plain", med["postgresql"]["rate"] / plain,
         GOALS["postgresql_share"], ">="),
    ]
    for name in ("sqlite", "postgresql"):
        checks.append((f"{name} p99 < {GOALS['p99_ms']:g} ms", med[name]["p99"], GOALS["p99_ms"], "<"))
        checks.append((f"{name} max < {GOALS['max_ms']:g} ms", max(r["max"] for r in results[name]),
                       GOALS["max_ms"], "<"))
    missed = 0
    for label, value, goal, op in checks:
        ok = value >= goal if op == ">=" else value < goal
        missed += not ok
        shown = f"{value:.0%}" if "%" in label else f"{value:.1f} ms"
        print(f"goal {label}: {shown} {'ok' if ok else 'MISSED'}")
    errors = sum(r["errors"] + r["socket_errors"] for rows in results.values() for r in rows)
    if problems:
        print("TOTALS MISMATCH: " + "; ".join(problems))
    else:
        print("totals check: every acknowledged report is stored exactly once, on both backends")
    return 1 if missed or problems or errors else 0


if __name__ == "__main__":
    sys.exit(main())
