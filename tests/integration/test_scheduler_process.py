"""The real `batchlake scheduler` process: kill -9 mid-run, restart, SIGTERM, metrics."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from batchlake.lake import Lake
from tests.support.cli import batchlake
from tests.support.opsproject import CUSTOMERS, make_project

PIPELINE = '[pipelines.capture]\nselect = ["raw.shop.*", "trusted.customers"]\nevery = "1s"\n'


def start(root: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # a file, not a pipe: a full pipe would block the scheduler
        return subprocess.Popen(
            [sys.executable, "-m", "batchlake", "scheduler", "-p", str(root), *args],
            stdout=subprocess.DEVNULL,
            stderr=out,
        )


def rows(root: Path) -> list[tuple[str, str, str | None]]:
    path = root / ".batchlake" / "metadata.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=30)
    try:
        return list(
            db.execute(
                "SELECT scheduled_for, status, reason FROM pipeline_runs ORDER BY scheduled_for"
            )
        )
    except sqlite3.OperationalError:  # not migrated yet
        return []
    finally:
        db.close()


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_kill_9_mid_run_then_restart_accounts_for_every_fire(tmp_path: Path) -> None:
    root = make_project(tmp_path / "lake", PIPELINE)
    first = start(root, tmp_path / "first.log")
    try:
        wait_for(lambda: sum(r[1] == "success" for r in rows(root)) >= 2, "two runs")
        wait_for(lambda: rows(root)[-1][1] == "running", "a run in progress")
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    time.sleep(2.5)  # fires pass while no scheduler runs
    restarted_at = datetime.now(UTC)
    log = tmp_path / "second.log"
    second = start(root, log, "--metrics-port", "0")
    try:
        wait_for(
            lambda: sum(r[1] == "success" for r in rows(root) if _at(r[0]) > restarted_at) >= 3,
            "three runs after the restart",
        )
        found = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", log.read_text())
        port = int(found.group(1)) if found else None
        assert port is not None
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read()
        second.send_signal(signal.SIGTERM)
        assert second.wait(120) == 0  # finishes or stops the current step, exits cleanly
    finally:
        if second.poll() is None:
            second.kill()
    history = rows(root)
    times = [_at(r[0]) for r in history]
    # Every 1 s fire from the first to the last is there exactly once.
    expected = [times[0] + timedelta(seconds=i) for i in range(len(times))]
    assert times == expected
    statuses = [r[1] for r in history]
    assert statuses.count("killed") == 1
    assert set(statuses) <= {"success", "skipped", "killed", "interrupted"}
    killed = history[statuses.index("killed")]
    assert killed[2] == "the scheduler died during the run"
    reasons = {r[2] for r in history if r[1] == "skipped"}
    assert "missed: the scheduler was not running" in reasons
    assert reasons <= {
        "missed: the scheduler was not running",
        "missed: the previous run was still going (one run at a time per pipeline)",
    }
    # The killed run is recorded as killed; nothing was captured twice or lost.
    lake = Lake.open(root)
    assert [r["status"] for r in lake.metadata.runs(1000)].count("running") == 0
    written = lake.metadata.batches("shop", "customers")
    assert len(written) == 1 and written[0].rows == len(CUSTOMERS)
    count = lake.query_table("SELECT count(*) AS n FROM raw.shop.customers").column("n")[0]
    assert count.as_py() == len(CUSTOMERS)
    # The scraped metrics count the same fires.
    text = metrics.decode()
    success = re.search(
        r'batchlake_pipeline_fires_total\{pipeline="capture",status="success"\} (\S+)', text
    )
    assert success is not None and float(success.group(1)) >= 3
    assert os.path.exists(root / ".batchlake" / "metadata.sqlite")


def _at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def test_sigterm_lets_the_current_step_finish_and_the_run_resumes(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "lake",
        '[pipelines.build]\nselect = ["refined.slow+"]\nevery = "2s"\n',
    )
    (root / "models" / "refined" / "slow.sql").write_text(
        "SELECT count(*) AS n FROM range(300000000) AS t(x) WHERE (x * 7 + 3) % 11 = 3"
    )
    (root / "models" / "refined" / "after.sql").write_text("SELECT n + 1 AS m FROM refined.slow")
    metadata = root / ".batchlake" / "metadata.sqlite"

    def slow_running() -> bool:
        if not metadata.exists():
            return False
        db = sqlite3.connect(metadata, timeout=30)
        try:
            found = db.execute(
                "SELECT 1 FROM step_runs WHERE step = 'refined.slow' AND status = 'running'"
            ).fetchone()
        except sqlite3.OperationalError:
            found = None
        db.close()
        return found is not None

    process = start(root, tmp_path / "scheduler.log")
    try:
        wait_for(slow_running, "the slow step to start")
        process.send_signal(signal.SIGTERM)
        assert process.wait(300) == 0
    finally:
        if process.poll() is None:
            process.kill()
    lake = Lake.open(root)
    (run,) = [r for r in lake.metadata.runs(10) if r["command"] == "pipeline build"]
    assert run["status"] == "interrupted"
    steps = {s["step"]: s["status"] for s in lake.metadata.steps(run["run_id"])}
    assert steps == {"refined.slow": "success", "refined.after": "cancelled"}
    assert [r[1] for r in rows(root)] == ["interrupted"]
    batchlake("run", "-p", str(root), "--resume", run["run_id"])
    resumed = lake.metadata.runs(1)[0]
    assert {s["step"]: s["status"] for s in lake.metadata.steps(resumed["run_id"])} == {
        "refined.after": "success"
    }
    # (7x + 3) % 11 == 3 exactly when 11 divides x: the multiples of 11 below 3·10^8.
    multiples = (300_000_000 - 1) // 11 + 1
    assert lake.query_table("SELECT m FROM refined.after").column("m")[0].as_py() == multiples + 1
