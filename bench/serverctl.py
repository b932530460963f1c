"""Starting and talking to a real ``usage-collection serve`` for the benches (no test code).

    port = free_port()
    proc = start_server(db_path, port, workers=2, log_path=tmp / "server.log")
    status, body = post(port, request_bytes(port, "/api/ui_counters/_report", payload))
    stop_server(proc)
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(selects: Callable[[int, list[str]], bool]) -> float:
    """CPU time (user + system) used so far by every process ``selects(pid, fields)`` picks;
    ``fields`` are those of ``/proc/<pid>/stat`` after the command name (state, ppid, pgrp...)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rpartition(")")[2].split()
        except OSError:
            continue
        if selects(int(entry), fields):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(pgid: int) -> float:
    """CPU time used so far by every process of the server's process group."""
    return cpu_seconds(lambda _pid, fields: int(fields[2]) == pgid)


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
