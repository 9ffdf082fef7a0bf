"""Two real `batchlake scheduler` processes on one PostgreSQL metadata database.

This is how failover is deployed: the same project and metadata URL on two machines
(here two processes on one), both running `batchlake scheduler`. Whatever their timing,
every scheduled fire must be handled exactly once, runs of one pipeline must never
overlap, and no fire may be lost; when the scheduler running a pipeline dies, the
other one takes over. Everything is checked with plain SQL on the database, not with
batchlake's own reading code.
"""

from __future__ import annotations

import itertools
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service
from tests.support.cli import batchlake
from tests.support.opsproject import make_project

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PERIOD = 2  # seconds between fires
PIPELINE = (
    f'[pipelines.capture]\nselect = ["raw.shop.*", "trusted.customers"]\nevery = "{PERIOD}s"\n'
)


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database `shared_<test>`; its psycopg URL."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = "shared_" + request.node.name.removeprefix("test_")[:40]
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(ADMIN, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# A run that outlasts the period: a Python step that takes 3 s, rerun on every fire.
SLOW_PIPELINE = (
    '[pipelines.capture]\nselect = ["raw.shop.customers", "refined.slow"]\n'
    f'every = "{PERIOD}s"\nfull_refresh = true\n'
)
SLOW_STEP = """
import time
import pyarrow as pa
from batchlake import step

@step(inputs=[], outputs=["refined.slow"])
def slow(ctx):
    time.sleep(3)
    return {"refined.slow": pa.table({"n": [1]})}
"""


def project(tmp_path: Path, url: str, pipeline: str = PIPELINE) -> Path:
    metadata = f'[metadata]\nurl = "{url.replace("postgresql://", "postgresql+psycopg://")}"\n\n'
    root = make_project(tmp_path / "lake", metadata + pipeline)
    if pipeline == SLOW_PIPELINE:
        (root / "python").mkdir()
        (root / "python" / "slow.py").write_text(SLOW_STEP)
    return root


def start(root: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the scheduler
        return subprocess.Popen(
            [sys.executable, "-m", "batchlake", "scheduler", "-p", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def stop(processes: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    """SIGTERM each still running scheduler; each must exit cleanly."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    try:
        for process, log in zip(processes, logs, strict=True):
            if process.returncode is not None and process.returncode < 0:
                continue  # killed on purpose by the test
            assert process.wait(120) == 0, log.read_text()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


def sql(url: str, query: str, *params: object) -> list[tuple[Any, ...]]:
    import psycopg

    try:
        with psycopg.connect(url) as c:
            return c.execute(query, params).fetchall()
    except psycopg.errors.UndefinedTable:  # not migrated yet
        return []


def fires(url: str) -> list[tuple[datetime, str, str | None, str | None]]:
    """Every handled fire of the pipeline: (scheduled_for, status, run_id, reason)."""
    return sql(
        url,
        "SELECT scheduled_for, status, run_id, reason FROM pipeline_runs "
        "WHERE pipeline = 'capture' ORDER BY scheduled_for, id",
    )


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def assert_each_fire_once(url: str) -> list[tuple[datetime, str, str | None, str | None]]:
    """No fire twice, none lost between the first and the last, no two runs overlapping."""
    history = fires(url)
    times = [row[0] for row in history]
    assert len(times) == len(set(times)), f"a fire was handled twice: {history}"
    expected = [times[0] + timedelta(seconds=PERIOD * i) for i in range(len(times))]
    assert times == expected, f"fires were lost or misplaced: {times}"
    run_ids = [row[2] for row in history if row[2] is not None]
    assert len(run_ids) == len(set(run_ids)), "one run answered two fires"
    runs = sql(
        url,
        "SELECT run_id, started_at, finished_at, status FROM runs "
        "WHERE command = 'pipeline capture' ORDER BY started_at",
    )
    assert sorted(r[0] for r in runs) == sorted(run_ids), "a run no fire accounts for"
    for before, after in itertools.pairwise(runs):
        assert before[2] is not None and before[2] <= after[1], f"runs overlap: {before} {after}"
    return history


def test_two_schedulers_run_each_fire_exactly_once(database: str, tmp_path: Path) -> None:
    root = project(tmp_path, database)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [start(root, log) for log in logs]
    began = datetime.now(UTC)
    try:
        wait_for(lambda: len(fires(database)) >= 1, "the first fire")
        time.sleep(20)
        commits_before = _commits(database)
        time.sleep(4)
        commits = _commits(database) - commits_before
    finally:
        stop(processes, logs)
    ended = datetime.now(UTC)
    history = assert_each_fire_once(database)
    statuses = [row[1] for row in history]
    assert statuses.count("success") >= 5, history
    assert set(statuses) <= {"success", "skipped", "interrupted"}, history
    reasons = {row[3] for row in history if row[1] == "skipped"}
    assert reasons <= {
        "missed: the previous run was still going (one run at a time per pipeline)"
    }, reasons
    # Fires kept coming until the end: the last one handled is at most a run's length old.
    assert history[0][0] - began < timedelta(seconds=2 * PERIOD + 10)
    assert ended - history[-1][0] < timedelta(seconds=2 * PERIOD + 10), history[-1]
    # The scheduler waiting for the other's lock sleeps; it does not spin on the database.
    assert commits < 150, f"{commits} transactions in 4 s: a scheduler polls in a tight loop"


def _commits(url: str) -> int:
    ((value,),) = sql(
        url, "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    return int(value)


def test_kill_9_of_the_running_scheduler_the_other_takes_over(
    database: str, tmp_path: Path
) -> None:
    root = project(tmp_path, database, SLOW_PIPELINE)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [start(root, log) for log in logs]
    try:
        wait_for(lambda: [r[1] for r in fires(database)].count("success") >= 2, "two runs")
        # While one runs (3 s, longer than the period), the other waits without spinning.
        wait_for(lambda: fires(database)[-1][1] == "running", "a run in progress")
        commits_before = _commits(database)
        time.sleep(2)
        commits = _commits(database) - commits_before
        ((pid, host),) = sql(
            database, "SELECT pid, host FROM locks WHERE name = 'pipeline:capture'"
        )
        assert host == socket.gethostname()
        (victim,) = [p for p in processes if p.pid == pid]
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        killed_at = datetime.now(UTC)
        (survivor,) = [p for p in processes if p is not victim]
        wait_for(
            lambda: sum(r[1] == "success" and r[0] > killed_at for r in fires(database)) >= 2,
            "two runs by the survivor",
        )
    finally:
        stop(processes, logs)
    history = assert_each_fire_once(database)
    statuses = [row[1] for row in history]
    assert statuses.count("killed") == 1, history
    killed = history[statuses.index("killed")]
    assert killed[3] == "the scheduler died during the run"
    after = sql(
        database,
        "SELECT DISTINCT pid FROM runs WHERE command = 'pipeline capture' AND started_at > %s",
        killed_at,
    )
    assert after == [(survivor.pid,)]
    reasons = {row[3] for row in history if row[1] == "skipped"}
    assert reasons == {"missed: the previous run was still going (one run at a time per pipeline)"}
    (dead,) = sql(database, "SELECT status, error FROM runs WHERE run_id = %s", killed[2])
    assert dead == ("killed", "the process died")
    assert commits < 40, f"{commits} transactions in 2 s: the waiting scheduler spins"


def test_a_lock_left_by_another_machine_is_taken_over_when_its_lease_ends(
    database: str, tmp_path: Path
) -> None:
    """A scheduler on machine `elsewhere` claimed a fire, started its run and vanished."""
    root = project(tmp_path, database)
    batchlake("scheduler", "--status", "-p", str(root))  # creates the schema
    now = datetime.now(UTC)
    claimed = datetime.fromtimestamp(now.timestamp() // PERIOD * PERIOD, UTC)
    lease_ends = now + timedelta(seconds=8)
    import psycopg

    with psycopg.connect(database) as c:
        c.execute(
            "INSERT INTO locks (name, holder, host, pid, acquired_at, expires_at) "
            "VALUES ('pipeline:capture', 'scheduler-elsewhere-4242', 'elsewhere', 4242, %s, %s)",
            (now, lease_ends),
        )
        c.execute(
            "INSERT INTO schedule_state (pipeline, last_fire_at, updated_at) "
            "VALUES ('capture', %s, %s)",
            (claimed, now),
        )
        c.execute(
            "INSERT INTO runs (run_id, command, status, started_at, host, pid, pipeline) "
            "VALUES ('elsewhere-run', 'pipeline capture', 'running', %s, 'elsewhere', 4242, "
            "'capture')",
            (now,),
        )
        c.execute(
            "INSERT INTO pipeline_runs (pipeline, scheduled_for, started_at, status, run_id) "
            "VALUES ('capture', %s, %s, 'running', 'elsewhere-run')",
            (claimed, now),
        )
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [start(root, log) for log in logs]
    try:
        wait_for(lambda: any(r[1] == "success" for r in fires(database)), "a run", 60)
        assert datetime.now(UTC) >= lease_ends  # not before the other machine's lease ended
        wait_for(lambda: [r[1] for r in fires(database)].count("success") >= 3, "three runs")
    finally:
        stop(processes, logs)
    history = assert_each_fire_once(database)
    assert history[0][:2] == (claimed, "killed")
    started = sql(
        database,
        "SELECT min(started_at) FROM runs "
        "WHERE command = 'pipeline capture' AND run_id <> 'elsewhere-run'",
    )
    assert started[0][0] >= lease_ends
    # The other machine's run is accounted for as killed, not left 'running' forever.
    (dead,) = sql(database, "SELECT status, error FROM runs WHERE run_id = 'elsewhere-run'")
    assert dead == (
        "killed",
        "its run lock expired (the process on elsewhere died or lost the metadata database)",
    )
    skipped = [row for row in history if row[1] == "skipped"]
    assert skipped and all(row[0] < lease_ends for row in skipped[:2])  # the fires it held up
