"""Process and OS figures for /api/stats, from the standard library and ``/proc`` when present.

Kibana's ``process`` and ``os`` blocks come from Node's ops metrics; these are the same
keys (as Kibana's ``/api/stats`` names them: ``_bytes``, ``_ms``), so Metricbeat finds
``os.load.1m`` or ``process.uptime_ms`` where it expects them. Python has no V8 heap:
``process.memory.heap`` is the process's heap as Linux accounts it (``/proc/self/status``):
``total_bytes`` the data segment reserved (``VmData``), ``used_bytes`` the anonymous memory
resident (``RssAnon``), ``size_limit`` how far it may grow (the lowest of ``RLIMIT_DATA``,
``RLIMIT_AS``, the cgroup's ``memory.max`` and physical memory). The event loop delay is
measured by ``request_metrics.event_loop_delay_ms``. Anything the platform cannot tell is left
out rather than reported as a made-up zero; every ``process`` figure is this process's.
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any

try:
    import resource
except ImportError:  # Windows
    resource = None  # type: ignore[assignment]

_IMPORTED_AT = time.monotonic()


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _system_uptime_s() -> float | None:
    text = _read("/proc/uptime")
    return float(text.split()[0]) if text else None


def _process_uptime_ms() -> int:
    """Since the process started (from ``/proc``), else since this module was imported."""
    stat, uptime = _read("/proc/self/stat"), _system_uptime_s()
    if stat and uptime is not None:
        try:
            started_ticks = int(stat.rsplit(")", 1)[1].split()[19])
            return int((uptime - started_ticks / os.sysconf("SC_CLK_TCK")) * 1000)
        except (IndexError, ValueError, OSError):
            pass
    return int((time.monotonic() - _IMPORTED_AT) * 1000)


def _resident_bytes() -> int | None:
    statm = _read("/proc/self/statm")
    if statm:
        return int(statm.split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return None


def _status_kib(text: str, name: str) -> int | None:
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024
    return None


def _heap_limit_bytes() -> int | None:
    limits: list[int] = []
    if resource is not None:
        for which in (resource.RLIMIT_DATA, getattr(resource, "RLIMIT_AS", resource.RLIMIT_DATA)):
            soft = resource.getrlimit(which)[0]
            if soft != resource.RLIM_INFINITY:
                limits.append(soft)
    cgroup = (_read("/sys/fs/cgroup/memory.max") or "").strip()
    if cgroup.isdigit():
        limits.append(int(cgroup))
    memory = _memory()
    if memory:
        limits.append(memory["total_bytes"])
    return min(limits) if limits else None


def heap_metrics() -> dict[str, int]:
    """``{total_bytes, used_bytes, size_limit}`` from ``/proc/self/status``; ``{}`` where there is none."""
    status = _read("/proc/self/status")
    if not status:
        return {}
    total, used, limit = _status_kib(status, "VmData"), _status_kib(status, "RssAnon"), _heap_limit_bytes()
    if total is None or used is None or limit is None:
        return {}
    return {"total_bytes": total, "used_bytes": used, "size_limit": limit}


def process_metrics() -> dict[str, Any]:
    metrics: dict[str, Any] = {"pid": os.getpid(), "memory": {}, "threads": threading.active_count()}
    heap = heap_metrics()
    if heap:
        metrics["memory"]["heap"] = heap
    resident = _resident_bytes()
    if resident is not None:
        metrics["memory"]["resident_set_size_bytes"] = resident
    if resource is not None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss is bytes on macOS, KiB elsewhere
        metrics["memory"]["peak_resident_set_size_bytes"] = usage.ru_maxrss * scale
        metrics["cpu_user_ms"] = int(usage.ru_utime * 1000)
        metrics["cpu_system_ms"] = int(usage.ru_stime * 1000)
    metrics["uptime_ms"] = _process_uptime_ms()
    return metrics


def _memory() -> dict[str, int] | None:
    meminfo = _read("/proc/meminfo")
    if meminfo:
        values = {}
        for line in meminfo.splitlines():
            name, _, rest = line.partition(":")
            if rest.strip():
                values[name] = int(rest.split()[0]) * 1024
        total, free = values.get("MemTotal"), values.get("MemAvailable", values.get("MemFree"))
        if total is not None and free is not None:
            return {"total_bytes": total, "free_bytes": free, "used_bytes": total - free}
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        total, free = os.sysconf("SC_PHYS_PAGES") * page, os.sysconf("SC_AVPHYS_PAGES") * page
    except (ValueError, OSError, AttributeError):
        return None
    return {"total_bytes": total, "free_bytes": free, "used_bytes": total - free}


def _distro() -> dict[str, str]:
    text = _read("/etc/os-release") or ""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    found = {"distro": fields.get("NAME", ""), "distro_release": fields.get("VERSION_ID", "")}
    return {key: value.strip().strip('"') for key, value in found.items() if value}


def os_metrics() -> dict[str, Any]:
    metrics: dict[str, Any] = {"platform": sys.platform, "platform_release": platform.release(), **_distro()}
    if hasattr(os, "getloadavg"):
        one, five, fifteen = os.getloadavg()
        metrics["load"] = {"1m": round(one, 2), "5m": round(five, 2), "15m": round(fifteen, 2)}
    memory = _memory()
    if memory:
        metrics["memory"] = memory
    uptime = _system_uptime_s()
    if uptime is not None:
        metrics["uptime_ms"] = int(uptime * 1000)
    return metrics
