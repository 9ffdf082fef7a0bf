from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from batchlake.metadata import MetadataStore
from batchlake.metadata import tables as t
from batchlake.metadata.migrations import all_migrations


def store(tmp_path: Path) -> MetadataStore:
    return MetadataStore(f"sqlite:///{tmp_path}/meta.sqlite")


def test_migrations_build_exactly_the_declared_schema(tmp_path: Path) -> None:
    meta = store(tmp_path)
    assert meta.schema_version() == max(m.version for m in all_migrations())
    inspector = sa.inspect(meta.engine)
    assert set(inspector.get_table_names()) == set(t.metadata.tables)
    for name, table in t.metadata.tables.items():
        actual = {c["name"] for c in inspector.get_columns(name)}
        assert actual == {c.name for c in table.columns}, name
    # Opening again applies nothing twice.
    assert MetadataStore(meta.url).migrate() == []


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    meta = store(tmp_path)
    ttl = timedelta(seconds=60)
    assert meta.acquire_lock("run", "a", ttl) is None
    holder = meta.acquire_lock("run", "b", ttl)
    assert holder is not None and holder.holder == "a" and holder.pid == os.getpid()
    meta.release_lock("run", "a")
    assert meta.acquire_lock("run", "b", ttl) is None


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    meta = store(tmp_path)
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(child.stdout)
    with meta.engine.begin() as conn:
        conn.execute(
            t.locks.insert().values(
                name="run",
                holder="ghost",
                host=socket.gethostname(),
                pid=dead_pid,
                acquired_at=sa.func.now(),
                expires_at=sa.func.now(),
            )
        )
    # expires_at is "now" in the past by the time we look, and the pid is gone.
    assert meta.acquire_lock("run", "me", timedelta(seconds=60)) is None


def test_expired_lock_of_another_host_is_taken_over(tmp_path: Path) -> None:
    meta = store(tmp_path)
    from batchlake.metadata import utcnow

    with meta.engine.begin() as conn:
        conn.execute(
            t.locks.insert().values(
                name="run",
                holder="far",
                host="elsewhere",
                pid=1,
                acquired_at=utcnow() - timedelta(hours=1),
                expires_at=utcnow() - timedelta(minutes=1),
            )
        )
    assert meta.acquire_lock("run", "me", timedelta(seconds=60)) is None
    with meta.engine.begin() as conn:
        conn.execute(
            t.locks.update().values(
                host="elsewhere", holder="far", expires_at=utcnow() + timedelta(minutes=5)
            )
        )
    holder = meta.acquire_lock("run", "me2", timedelta(seconds=60))
    assert holder is not None and holder.holder == "far"


def test_stale_running_runs_are_marked_killed(tmp_path: Path) -> None:
    meta = store(tmp_path)
    meta.start_run("r1", "run")
    with meta.engine.begin() as conn:
        conn.execute(t.runs.update().values(pid=2**22 + 12345))  # no such process
    assert meta.abandon_stale_runs() == 1
    assert meta.run("r1")["status"] == "killed"
    assert meta.run("r")["run_id"] == "r1"  # a unique prefix finds the run
