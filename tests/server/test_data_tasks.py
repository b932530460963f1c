"""Data telemetry tasks, as the APM plugin's "Data Telemetry" (seed apm-telemetry.md): a task
runs on an interval, its result is saved and served by a collector, each run reports its
``took``; one run per interval across every instance sharing the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any, Iterator

import pytest
from flask import Flask

from usage_collection import UsageCollection
from usage_collection.stats_payload import build_stats_payload

from support.live_server import free_port
from support.usage_rows import Clock, no_leaked_threads, usage_threads  # noqa: F401 - fixture

SCHEMA = {"exports": {"type": "long", "_meta": {"description": "Reports exported, all time"}}}


class Instance:
    """One app instance (its own UsageCollection, connections and clock) on a shared database file."""

    def __init__(self, db_url: str, clock: Clock, run: Any, interval_s: float = 3600) -> None:
        self.usage = UsageCollection(clock=clock)
        self.usage.register_data_task("exports", interval_s, run, schema=SCHEMA)
        self.app = Flask("data_tasks_test")
        self.app.config.update(USAGE_DB=db_url, USAGE_ROLLUP_INTERVAL_S=0)
        self.usage.init_app(self.app)
        self.state = self.app.extensions["usage_collection"]

    def usage_data(self, http: bool = False) -> dict[str, Any]:
        """``usage`` of /api/stats. Over HTTP only when nothing is due: a request starts the
        background runner, which would race the test's own ``run_data_tasks`` calls."""
        if http:
            return self.app.test_client().get("/api/stats?extended=true&legacy=true").get_json()["usage"]
        return build_stats_payload(self.state, self.state.storage, self.state.clock(), extended=True)["usage"]

    def close(self) -> None:
        self.state.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def runs() -> list[str]:
    return []


@pytest.fixture
def two(db_url: str, clock: Clock, runs: list[str]) -> Iterator[tuple[Instance, Instance]]:
    def count_exports(context: Any) -> dict[str, int]:
        runs.append(context.now.isoformat())
        return {"exports": len(runs)}

    a, b = Instance(db_url, clock, count_exports), Instance(db_url, clock, count_exports)
    yield a, b
    a.close()
    b.close()


def test_two_instances_on_one_database_run_the_task_once_per_interval(two, clock, runs):
    a, b = two
    assert a.state.run_data_tasks() == ["exports"]  # due at once the first time
    assert b.state.run_data_tasks() == []            # a has it for this interval
    clock.advance(minutes=59)
    assert (a.state.run_data_tasks(), b.state.run_data_tasks()) == ([], [])
    clock.advance(minutes=1)
    assert b.state.run_data_tasks() == ["exports"]
    assert a.state.run_data_tasks() == []
    assert runs == ["2025-04-10T12:00:00+00:00", "2025-04-10T13:00:00+00:00"]


def test_instances_asking_at_the_same_moment_run_it_once(two, clock, runs):
    a, b = two
    for interval in range(5):
        start = threading.Barrier(2)
        ran: list[list[str]] = []

        def tick(instance: Instance) -> None:
            start.wait()
            ran.append(instance.state.run_data_tasks())

        threads = [threading.Thread(target=tick, args=(instance,)) for instance in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(ran) == [[], ["exports"]], f"interval {interval}: {ran}"
        clock.advance(hours=1)
    assert len(runs) == 5


def test_the_saved_result_is_served_and_survives_a_restart(two, db_url, clock, runs):
    a, b = two
    assert "exports" not in a.usage_data()  # nothing saved yet: left out, as Kibana leaves undefined
    a.state.run_data_tasks()
    assert a.usage_data()["exports"] == {"exports": 1}
    assert b.usage_data()["exports"] == {"exports": 1}  # the other instance serves the same saved copy
    a.close()
    b.close()

    def must_not_run(context: Any) -> dict[str, int]:
        raise AssertionError("not due yet: a restart must not run the task early")

    restarted = Instance(db_url, clock, must_not_run)
    try:
        assert restarted.state.run_data_tasks() == []
        usage = restarted.usage_data(http=True)  # nothing due: the runner it starts finds nothing to do
        assert usage["exports"] == {"exports": 1}
        [task] = usage["data_tasks"]["tasks"]
        assert (task["name"], task["runs"], task["interval_s"]) == ("exports", 1, 3600.0)
        assert task["next_run_at"] == "2025-04-10T13:00:00.000Z"
        assert task["result_at"] == task["last_run_at"] == "2025-04-10T12:00:00.000Z"
        assert isinstance(task["took_ms"], float) and task["took_ms"] >= 0
        assert "last_error" not in task
    finally:
        restarted.close()


def test_took_and_the_last_error_are_reported_and_the_last_good_result_stays(db_url, clock):
    outcomes: list[Any] = [{"exports": 4}, RuntimeError("the exports table is locked"), {"exports": "many"}]

    def flaky(context: Any) -> Any:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    instance = Instance(db_url, clock, flaky)
    try:
        instance.state.run_data_tasks()
        clock.advance(hours=1)
        assert instance.state.run_data_tasks() == ["exports"]
        usage = instance.usage_data()
        assert usage["exports"] == {"exports": 4}
        [task] = usage["data_tasks"]["tasks"]
        assert task["last_error"] == "RuntimeError: the exports table is locked"
        assert task["last_error_at"] == task["last_run_at"] == "2025-04-10T13:00:00.000Z"
        assert task["result_at"] == "2025-04-10T12:00:00.000Z" and task["runs"] == 2
        clock.advance(hours=1)
        instance.state.run_data_tasks()  # a result its schema does not describe is a failed run too
        usage = instance.usage_data(http=True)  # nothing due now
        [task] = usage["data_tasks"]["tasks"]
        assert task["last_error"].startswith("SchemaMismatch: exports.exports: expected long")
        assert usage["exports"] == {"exports": 4}
    finally:
        instance.close()


def test_the_first_request_starts_the_background_runner_and_close_stops_it(db_url, no_leaked_threads):
    ran = threading.Event()

    def task(context: Any) -> dict[str, int]:
        ran.set()
        return {"exports": 0}

    usage = UsageCollection()
    usage.register_data_task("exports", 60, task, schema=SCHEMA)
    app = Flask("data_tasks_bg")
    app.config.update(USAGE_DB=db_url, USAGE_ROLLUP_INTERVAL_S=0)
    usage.init_app(app)
    try:
        assert not ran.is_set()
        app.test_client().get("/api/status")
        assert ran.wait(30), "the data-task thread did not run the due task"
        assert any(t.name == "usage-collection-data-tasks" for t in usage_threads())
    finally:
        app.extensions["usage_collection"].close()


@pytest.mark.parametrize("interval, error", [(0, ValueError), (-5, ValueError), ("60", ValueError), (True, ValueError)])
def test_a_task_needs_a_positive_interval(interval, error):
    with pytest.raises(error, match="interval_s must be a positive number"):
        UsageCollection().register_data_task("t", interval, lambda context: {}, schema=SCHEMA)


def test_a_task_name_is_a_collector_type_and_cannot_be_registered_twice():
    usage = UsageCollection()
    usage.register_data_task("exports", 60, lambda context: {"exports": 1}, schema=SCHEMA)
    with pytest.raises(ValueError, match='Data task "exports" is already registered.'):
        usage.register_data_task("exports", 60, lambda context: {"exports": 1}, schema=SCHEMA)
    with pytest.raises(ValueError, match='Usage collector\'s type "ui_metric" is duplicated.'):
        usage.register_data_task("ui_metric", 60, lambda context: {"exports": 1}, schema=SCHEMA)


def test_a_task_registered_after_init_app_is_scheduled_at_once(db_url, clock):
    usage = UsageCollection(clock=clock)
    app = Flask("data_tasks_late")
    app.config.update(USAGE_DB=db_url, USAGE_ROLLUP_INTERVAL_S=0)
    usage.init_app(app)
    try:
        usage.register_data_task("exports", 60, lambda context: {"exports": 7}, schema=SCHEMA)
        assert app.extensions["usage_collection"].run_data_tasks() == ["exports"]
        usage_data = app.test_client().get("/api/stats?extended&legacy").get_json()["usage"]
        assert usage_data["exports"] == {"exports": 7}
    finally:
        app.extensions["usage_collection"].close()


TASK_APP = """
import os, sys, time
from flask import Flask
from usage_collection import UsageCollection

usage = UsageCollection()

def count(context):
    with open(os.environ["RUNS_FILE"], "a") as runs:
        runs.write(f"{os.getpid()} {context.now.timestamp()}\\n")
    return {"exports": 1}

usage.register_data_task("exports", 1.0, count, schema={"exports": {"type": "long"}})
app = Flask("task_app")
app.config["USAGE_DB"] = os.environ["USAGE_DB"]
app.config["USAGE_ROLLUP_INTERVAL_S"] = 0
usage.init_app(app)
app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True, use_reloader=False)
"""


def test_two_server_processes_on_one_database_run_it_once_per_interval(tmp_path, db_url):
    """Two real processes, each with its runner thread checking every second, 1 s interval:
    the runs never come closer than one interval apart, whoever runs them."""
    script = tmp_path / "task_app.py"
    script.write_text(TASK_APP)
    runs_file = tmp_path / "runs.txt"
    env = {**os.environ, "USAGE_DB": db_url, "RUNS_FILE": str(runs_file)}
    servers = []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen([sys.executable, str(script), str(port)], env=env, start_new_session=True,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            servers.append(process)
            wait_for(lambda: answers(port), f"server on {port} did not start")  # its first request starts the runner
        wait_for(lambda: runs_file.exists() and len(runs_file.read_text().splitlines()) >= 5, "five runs")
    finally:
        for process in servers:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)
    times = sorted(float(line.split()[1]) for line in runs_file.read_text().splitlines())
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert min(gaps) >= 0.999, f"two runs within one interval: {gaps}"


def answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1).read()
        return True
    except OSError:
        return False


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
