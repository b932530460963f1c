"""A real ``usage-collection serve`` process on 127.0.0.1, for API and browser tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(process: subprocess.Popen, port: int, timeout: float = 30.0) -> None:
    """Until a ``serve`` started by hand answers ``/api/status`` (fails if it exits first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1).read()
            return
        except OSError:
            assert time.monotonic() < deadline and process.poll() is None, "server did not start"
            time.sleep(0.05)


class LiveServer:
    """Starts, stops, kills and restarts one server process on a fixed port and database."""

    def __init__(self, db_path: Path | str, *, workers: int = 1, env: dict[str, str] | None = None,
                 log_path: Path | None = None, demo: bool = False, args: tuple[str, ...] = ()) -> None:
        self.db_path = db_path
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "USAGE_DB": str(db_path), **(env or {})}
        self.log_path = log_path or Path(db_path).with_suffix(".log")
        self.demo = demo
        self.args = tuple(args)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> "LiveServer":
        command = [str(BIN / "usage-collection"), "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--db", str(self.db_path), "--workers", str(self.workers)]
        if self.demo:
            command.append("--demo")
        command.extend(self.args)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                urllib.request.urlopen(self.url + "/api/status", timeout=1).read()
                return self
            except Exception:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the whole process group), as a service manager does."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Crash: SIGKILL the whole process group, nothing gets to clean up."""
        self._signal(signal.SIGKILL)

    def restart(self) -> "LiveServer":
        self.stop()
        return self.start()

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        self.process = None
