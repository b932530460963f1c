"""Where a bench's CPU went: the receivers, PostgreSQL, the load generator, and what stayed idle.

On these 2 cores wrk, the receiver workers and PostgreSQL share the CPU, so a rate alone
does not say what a report costs. ``CpuMeter`` reads each group's CPU seconds before and
after a measured run and divides by the requests served (Linux only; processes that end
during the run are not counted, which is why it is taken around the steady part of a phase).

    meter = CpuMeter(receivers=lambda: server_cpu_seconds(server.pid),
                     postgres=lambda: postgres_cpu_seconds(cluster.data))
    meter.start(); run_wrk(); use = meter.stop(requests)   # {"receivers": µs, ..., "idle": %}
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Callable

from serverctl import cpu_seconds

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(data_dir: Path) -> float:
    """A cluster's postmaster (from ``postmaster.pid``) and its server processes (each backend
    leads a process group of its own, so they are found as the postmaster's children)."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return cpu_seconds(lambda pid, fields: pid == postmaster or int(fields[1]) == postmaster)


def _machine() -> tuple[float, float]:
    """(idle, total) seconds of every CPU since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (values[3] + values[4]) * TICK_S, sum(values) * TICK_S


def _children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU µs per request of each group (a function giving its CPU seconds so far), plus the
    load generator (this process's children that ended during the run, such as a
    ``subprocess.run`` of wrk) and the idle share."""

    def __init__(self, **groups: Callable[[], float]) -> None:
        self.groups = {**groups, "wrk": _children_s}
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: seconds() for name, seconds in self.groups.items()}
        self._before["idle"], self._before["total"] = _machine()

    def stop(self, requests: int) -> dict[str, float]:
        idle, total = _machine()
        per = 1e6 / max(1, requests)
        use = {name: (seconds() - self._before[name]) * per for name, seconds in self.groups.items()}
        use["idle"] = 100.0 * (idle - self._before["idle"]) / max(1e-9, total - self._before["total"])
        return use
