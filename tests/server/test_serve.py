"""``usage-collection serve`` on the open internet: slow clients, huge headers, bad options,
signals and the gunicorn control socket, each tried against a real server process.

Every connection goes to 127.0.0.1 and every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from e2e.usage_pages import counters
from support.live_server import BIN, LiveServer, free_port, wait_until_up
from usage_collection.cli import main

URL = "/api/ui_counters/_report"
SLOW_CLIENTS = 200


def report_body(event: str) -> bytes:
    key = f"discover-click-{event}"
    return json.dumps({"report": {"reportVersion": 3, "uiCounter": {
        key: {"key": key, "appName": "discover", "eventName": event, "type": "click", "total": 1}}}}).encode()


def read_response(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.timeout(90)
@pytest.mark.parametrize("workers", [1, 2], ids=["plain", "workers-2"])
def test_200_slow_clients_are_held_while_status_answers_within_1s(tmp_path, workers):
    """Half the clients trickle their headers, half their body; /api/status must still answer
    within 1 s each time, and afterwards every slow client still gets its answer."""
    server = LiveServer(tmp_path / "slow.db", workers=workers, env={"USAGE_ROLLUP_INTERVAL_S": "0"}).start()
    body = report_body("slow")
    head = (f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nkbn-xsrf: 1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n").encode()
    slow: list[tuple[socket.socket, bytes]] = []  # (socket, what it still has to send)
    try:
        for n in range(SLOW_CLIENTS):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            if n % 2:  # trickles its headers: only the request line so far
                line_end = head.index(b"\r\n") + 2
                sock.sendall(head[:line_end])
                slow.append((sock, head[line_end:] + b"\r\n" + body))
            else:  # headers complete, trickles its body
                sock.sendall(head + b"\r\n")
                slow.append((sock, body))
        stop = threading.Event()

        def trickle() -> None:
            at = 0
            while not stop.is_set() and at < 40:  # one byte per client every 50 ms, never the last ones
                for index, (sock, rest) in enumerate(slow):
                    sock.sendall(rest[:1])
                    slow[index] = (sock, rest[1:])
                at += 1
                stop.wait(0.05)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        for _ in range(5):
            # The 1 s socket timeout is the assertion: no answer within 1 s raises.
            with urllib.request.urlopen(server.url + "/api/status", timeout=1) as response:
                assert json.loads(response.read())["status"] == "green"
        assert trickler.is_alive(), "the slow clients finished before /api/status was tried"
        stop.set()
        trickler.join()
        answers = []
        for sock, rest in slow:  # every slow client was held, not dropped: it gets its answer now
            sock.sendall(rest)
        for sock, _ in slow:
            answers.append(read_response(sock).split(b"\r\n", 1)[0])
        assert answers == [b"HTTP/1.1 200 OK"] * SLOW_CLIENTS
        assert counters(server.url, "discover") == {("slow", "click"): SLOW_CLIENTS}
    finally:
        for sock, _ in slow:
            sock.close()
        server.stop()


PIPELINED = 1500


@pytest.mark.timeout(60)
def test_pipelined_requests_on_one_connection_do_not_hold_the_worker_from_another(tmp_path):
    """A client that pipelines 1500 requests on one kept-alive connection gets them answered
    one after the other, and a second client's request is answered among the first of them,
    not after the last: the worker yields to its other connections after each request."""
    server = LiveServer(tmp_path / "pipelined.db", workers=1, env={"USAGE_ROLLUP_INTERVAL_S": "0"}).start()
    flood = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    answered = [0]  # flood responses read so far

    def read_flood() -> None:
        status = b"HTTP/1.1 200 OK"
        tail = b""
        while answered[0] < PIPELINED:
            chunk = flood.recv(65536)
            if not chunk:
                return
            answered[0] += (tail + chunk).count(status)
            tail = (tail + chunk)[-(len(status) - 1):]  # a status line split across two reads, never a whole one

    try:
        reader = threading.Thread(target=read_flood, daemon=True)
        reader.start()
        flood.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * PIPELINED)
        deadline = time.monotonic() + 20
        while answered[0] < 20:  # the flood's connection is being served
            assert time.monotonic() < deadline and reader.is_alive(), "the pipelined requests were not answered"
            time.sleep(0.001)
        with urllib.request.urlopen(server.url + "/api/status", timeout=20) as response:
            assert response.status == 200
            answered_before_probe = answered[0]
        reader.join(timeout=30)
        assert answered[0] == PIPELINED
        assert answered_before_probe < PIPELINED // 2, (
            f"the second client was answered after {answered_before_probe} of the {PIPELINED} pipelined requests")
    finally:
        flood.close()
        server.stop()


def test_5mb_of_headers_get_431(live_server):
    """gunicorn refuses header fields over 8190 bytes (limit_request_field_size) with 431."""
    sock = socket.create_connection(("127.0.0.1", live_server.port), timeout=10)
    try:
        try:
            sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (5 * 1024 * 1024) + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading all 5 MB
        status = read_response(sock).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    with urllib.request.urlopen(live_server.url + "/api/status", timeout=5) as response:
        assert response.status == 200


@pytest.mark.parametrize("args, message", [
    (["--port", "99999"], "99999 is not in the range 1<=x<=65535"),
    (["--port", "0"], "0 is not in the range 1<=x<=65535"),
    (["--workers", "-1"], "-1 is not in the range x>=1"),
    (["--workers", "0"], "0 is not in the range x>=1"),
])
def test_serve_refuses_out_of_range_options(tmp_path, args, message):
    result = CliRunner().invoke(main, ["serve", "--db", str(tmp_path / "u.db"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "u.db").exists()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.timeout(60)
def test_sigterm_to_serve_with_workers_frees_the_port_and_leaves_no_child(tmp_path):
    """SIGTERM to the process that was started (only it, as a service manager does)."""
    port = free_port()
    process = subprocess.Popen([str(BIN / "usage-collection"), "serve", "--port", str(port), "--workers", "2",
                                "--db", str(tmp_path / "serve.db")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(process, port)
        workers = _children(process.pid)
        assert len(workers) == 2, workers
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        assert [pid for pid in workers if _alive(pid)] == []
        with socket.socket() as sock:  # the port is free again: a restart can bind it
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.mark.timeout(60)
def test_two_servers_with_workers_share_no_control_socket(tmp_path):
    """gunicorn 25.1+ opens $XDG_RUNTIME_DIR/gunicorn.ctl by default: two servers would fight over it."""
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {"USAGE_ROLLUP_INTERVAL_S": "0", "XDG_RUNTIME_DIR": str(runtime)}
    first = LiveServer(tmp_path / "a.db", workers=2, env=env).start()
    try:
        second = LiveServer(tmp_path / "b.db", workers=2, env=env).start()
        try:
            for server in (first, second):
                with urllib.request.urlopen(server.url + "/api/status", timeout=5) as response:
                    assert response.status == 200
            assert list(runtime.iterdir()) == []
        finally:
            second.stop()
    finally:
        first.stop()
