"""Where a bench's CPU went: the receivers, PostgreSQL, the load generator, and what stayed idle.

On these 2 cores wrk, the receiver workers and PostgreSQL share the CPU, so a rate alone
does not say what a report costs. ``CpuMeter`` samples ``/proc`` before and after a
measured run and divides by the requests served (Linux only; processes that end during
the run are not counted, which is why it is taken around the steady part of a phase).

    meter = CpuMeter(receivers=children(server.pid), postgres=postgres_pids(cluster.data))
    meter.start(); run_wrk(); use = meter.stop(requests)   # {"receivers": µs, ..., "idle": %}
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (a gunicorn master's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def postgres_pids(data_dir: Path) -> list[int]:
    """A cluster's postmaster (from ``postmaster.pid``) and its server processes."""
    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    return [postmaster, *children(postmaster)]


def _cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * TICK_S


def _machine() -> tuple[float, float]:
    """(idle, total) seconds of every CPU since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (values[3] + values[4]) * TICK_S, sum(values) * TICK_S


def _children_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """CPU µs per request of each group of processes, plus the load generator (this process's
    children that ended during the run, such as a ``subprocess.run`` of wrk) and the idle share."""

    def __init__(self, **groups: list[int]) -> None:
        self.groups = groups
        self._before: dict[str, float] = {}

    def start(self) -> None:
        self._before = {name: _cpu_s(pids) for name, pids in self.groups.items()}
        self._before["wrk"] = _children_s()
        self._before["idle"], self._before["total"] = _machine()

    def stop(self, requests: int) -> dict[str, float]:
        idle, total = _machine()
        per = 1e6 / max(1, requests)
        use = {name: (_cpu_s(pids) - self._before[name]) * per for name, pids in self.groups.items()}
        use["wrk"] = (_children_s() - self._before["wrk"]) * per
        use["idle"] = 100.0 * (idle - self._before["idle"]) / max(1e-9, total - self._before["total"])
        return use
