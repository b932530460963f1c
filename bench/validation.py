"""In-process benchmark of report validation: the compiled fast path against the walker.

Times ``parse_report`` (the fast path, falling back to the walker) and the walker alone
(``validate_body(parse_json(raw))``, what ``parse_report`` was before the fast path) on
reports of 20 uiCounter entries and one application_usage entry, as ``bench/report.lua``
posts them, written three ways: plain ASCII (a browser's ``JSON.stringify`` of ASCII names),
raw UTF-8 names, and ``\\u`` escapes (Python's ``json.dumps``); plus a refused report, which
pays for the fast path's attempt before the walker words the error. Prints microseconds per
report (median of the runs and their spread) and the goals; exits 1 when one is missed.

    .venv/bin/python bench/validation.py            # 9 runs
    .venv/bin/python bench/validation.py --runs 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from typing import Any, Callable

from usage_collection.errors import BadRequest
from usage_collection.validation import Limits, parse_json, parse_report, validate_body

COUNTERS_PER_REPORT = 20
GOALS = {"speedup": 4.0, "refused_overhead": 0.25}  # fast path >= 4x the walker; a refusal <= 25% dearer


def report_body(app: str = "bench", event: str = "event") -> dict[str, Any]:
    counters = {}
    for i in range(COUNTERS_PER_REPORT):
        key = f"{app}-click-{event}_{i:02d}"
        counters[key] = {"key": key, "appName": app, "eventName": f"{event}_{i:02d}", "type": "click", "total": 1}
    return {"report": {"reportVersion": 3, "reportId": "bench-1-1", "uiCounter": counters,
                       "application_usage": {f"{app}-main": {"appId": app, "viewId": "main", "minutesOnScreen": 0.5,
                                                             "numberOfClicks": 2}}}}


def bodies() -> dict[str, bytes]:
    refused = report_body()
    refused["report"]["uiCounter"]["bench-click-event_19"]["total"] = "1"
    return {
        "ascii": json.dumps(report_body(), separators=(",", ":")).encode(),
        "utf-8": json.dumps(report_body("bänch", "évènement"), ensure_ascii=False).encode(),
        "escaped": json.dumps(report_body("bänch", "évènement")).encode(),
        "refused": json.dumps(refused).encode(),
    }


def walker(raw: bytes) -> Any:
    return validate_body(parse_json(raw), Limits())


def timings_us(functions: list[Callable[[bytes], Any]], raw: bytes, runs: int) -> list[list[float]]:
    """Microseconds per call of each function, ``runs`` times, the functions taking turns so
    that a change in the machine's load falls on all of them alike."""
    def timer(function: Callable[[bytes], Any]) -> timeit.Timer:
        def call() -> None:
            try:
                function(raw)
            except BadRequest:
                pass
        return timeit.Timer(call)

    timers = [timer(function) for function in functions]
    numbers = [t.autorange()[0] for t in timers]
    results: list[list[float]] = [[] for _ in functions]
    for _ in range(runs):
        for t, number, out in zip(timers, numbers, results):
            out.append(t.timeit(number) / number * 1e6)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    figures: dict[str, tuple[float, float]] = {}
    print(f"{'body':<10}{'walker µs':>16}{'parse_report µs':>22}{'speedup':>10}")
    for name, raw in bodies().items():
        slow, fast = timings_us([walker, parse_report], raw, args.runs)
        figures[name] = statistics.median(slow), statistics.median(fast)
        print(f"{name:<10}{figures[name][0]:>9.1f} ±{(max(slow) - min(slow)) / 2:>5.1f}"
              f"{figures[name][1]:>15.1f} ±{(max(fast) - min(fast)) / 2:>5.1f}"
              f"{figures[name][0] / figures[name][1]:>9.1f}x")
    missed = [f"{name}: {slow / fast:.1f}x, goal {GOALS['speedup']}x" for name, (slow, fast) in figures.items()
              if name != "refused" and slow / fast < GOALS["speedup"]]
    overhead = figures["refused"][1] / figures["refused"][0] - 1
    if overhead > GOALS["refused_overhead"]:
        missed.append(f"refused: {overhead:.0%} dearer than the walker, goal {GOALS['refused_overhead']:.0%}")
    print(f"goals: fast path >= {GOALS['speedup']}x the walker on accepted reports; a refused report at most "
          f"{GOALS['refused_overhead']:.0%} dearer than the walker alone (here {overhead:+.0%})")
    for miss in missed:
        print(f"MISSED {miss}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
