"""kill -9 at many moments of a run, and two runs at once: nothing half-written, no dupes."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchlake.demo.scaffold import create_project
from batchlake.lake import Lake
from tests.support.cli import batchlake, tables_rows


def all_tables(project: Path) -> dict[str, list[str]]:
    return tables_rows(project, Lake.open(project).catalog.table_names())


def change_store(db_path: Path) -> None:
    """New values under the same keys, so 'latest batch wins' equals a clean build."""
    db = sqlite3.connect(db_path)
    db.execute("UPDATE InvoiceLine SET Quantity = Quantity + 1 WHERE InvoiceLineId % 7 = 0")
    db.execute("UPDATE Artist SET Name = Name || ' Live' WHERE ArtistId % 5 = 0")
    db.execute("UPDATE Customer SET Country = 'Iceland' WHERE CustomerId % 9 = 0")
    db.commit()
    db.close()


def check_raw_is_whole(project: Path) -> None:
    lake = Lake.open(project)
    for source, entity in lake.metadata.raw_entities():
        batches = lake.metadata.batches(source, entity)
        rows = lake.query_table(f"SELECT count(*) AS n FROM raw.{source}.{entity}")
        assert rows.column("n")[0].as_py() == sum(b.rows for b in batches), entity


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("crash")
    old = base / "old"
    batchlake("demo", "--dir", str(old), "--invoices", "3000", "--seed", "3")
    new = base / "new"
    create_project(new, example="chinook")  # as `init --example chinook --no-data` does
    (new / "data").mkdir(exist_ok=True)
    shutil.copy(old / "data" / "chinook.sqlite", new / "data" / "chinook.sqlite")
    change_store(new / "data" / "chinook.sqlite")
    started = time.perf_counter()
    batchlake("run", "-p", str(new))
    seconds = time.perf_counter() - started
    return {
        "base": base,
        "old": all_tables(old),
        "new": all_tables(new),
        "seconds": seconds,
        "old_dir": old,
        "new_db": new / "data" / "chinook.sqlite",
    }


def test_kill_9_at_any_moment_leaves_whole_tables(expected: dict[str, object]) -> None:
    base: Path = expected["base"]  # type: ignore[assignment]
    project = base / "victim"
    shutil.copytree(expected["old_dir"], project)  # type: ignore[arg-type]
    shutil.copy(expected["new_db"], project / "data" / "chinook.sqlite")  # type: ignore[arg-type]
    old: dict[str, list[str]] = expected["old"]  # type: ignore[assignment]
    new: dict[str, list[str]] = expected["new"]  # type: ignore[assignment]
    seconds: float = expected["seconds"]  # type: ignore[assignment]
    kills = 0
    # Early points too: each run after a kill has less left to do, so later runs are shorter.
    for fraction in (0.15, 0.25, 0.35, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1):
        process = subprocess.Popen(
            [sys.executable, "-m", "batchlake", "run", "-p", str(project)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:  # a run that ends before its kill moment is not waited for any longer
            process.wait(timeout=seconds * fraction)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            kills += 1
            process.wait()
        state = all_tables(project)
        for name, rows in state.items():
            assert rows in (old[name], new[name]), f"{name} is neither the old nor the new table"
        check_raw_is_whole(project)
    assert kills >= 3, "the run finished before most kill points; the test lost its purpose"
    result = batchlake("run", "-p", str(project))
    assert "success" in result.stderr
    assert all_tables(project) == new
    runs = Lake.open(project).metadata.runs(100)
    assert sum(r["status"] == "killed" for r in runs) >= 1
    assert not any(r["status"] == "running" for r in runs)


def test_second_run_refuses_or_waits(expected: dict[str, object]) -> None:
    base: Path = expected["base"]  # type: ignore[assignment]
    project = base / "busy"
    shutil.copytree(expected["old_dir"], project)  # type: ignore[arg-type]
    shutil.copy(expected["new_db"], project / "data" / "chinook.sqlite")  # type: ignore[arg-type]
    first = subprocess.Popen(
        [sys.executable, "-m", "batchlake", "run", "-p", str(project)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lake = Lake.open(project)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        from batchlake.metadata import tables as t

        with lake.metadata.engine.connect() as conn:
            if conn.execute(t.locks.select()).first() is not None:
                break
        time.sleep(0.05)
    refused = batchlake("run", "-p", str(project), check=False)
    assert refused.returncode == 3, refused.stderr
    assert "another run" in refused.stderr and "--wait" in refused.stderr
    waiting = batchlake("run", "-p", str(project), "--wait", "300")
    _, first_errors = first.communicate(timeout=300)
    assert first.returncode == 0, first_errors
    assert "unchanged" in waiting.stderr
    assert all_tables(project) == expected["new"]
