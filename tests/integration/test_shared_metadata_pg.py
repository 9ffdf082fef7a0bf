"""Shared metadata on the real PostgreSQL: migrations apply, locks hold across processes.

Several processes (on several machines in production) share one metadata database; the
run lock must let exactly one of them in. Each process here is a separate interpreter.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from batchlake.metadata import MetadataStore, utcnow
from batchlake.metadata.migrations import all_migrations
from tests.conftest import require_service
from tests.support.cli import batchlake

pytestmark = [pytest.mark.integration]

DATABASE = "scale_metadata"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"


@pytest.fixture(scope="module")
def store() -> Iterator[MetadataStore]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DATABASE}")
    opened = MetadataStore(URL)
    yield opened
    opened.dispose()


def test_migrations_apply_on_postgresql(store: MetadataStore) -> None:
    import psycopg

    assert store.schema_version() == max(m.version for m in all_migrations())
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}") as c:
        tables = {
            name
            for (name,) in c.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    assert {"schema_migrations", "runs", "locks"} <= tables
    again = MetadataStore(URL)  # a second opener applies nothing more
    try:
        assert again.migrate() == []
    finally:
        again.dispose()


CONTENDER = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    from batchlake.metadata import MetadataStore
    store = MetadataStore(sys.argv[1])
    start = float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.005)
    holder = store.acquire_lock("contended", sys.argv[2], timedelta(seconds=60))
    print("won" if holder is None else "lost:" + holder.holder, flush=True)
    sys.stdin.read()  # stay alive (a dead holder's lock is taken over) until told to go
    store.dispose()
    """
)


def test_exactly_one_of_several_processes_gets_the_lock(store: MetadataStore) -> None:
    start = time.time() + 6  # most processes are connected and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, URL, f"proc-{i}", str(start)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outcomes = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            outcomes.append(proc.stdout.readline().strip())
    finally:
        for proc in procs:
            _, err = proc.communicate(input="", timeout=120)
            assert proc.returncode == 0, err[-2000:]
    winners = [o for o in outcomes if o == "won"]
    assert len(winners) == 1, outcomes
    winner = f"proc-{outcomes.index('won')}"
    assert all(o == f"lost:{winner}" for o in outcomes if o != "won"), outcomes


def test_a_second_run_against_the_same_metadata_refuses(
    store: MetadataStore, tmp_path: Path
) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "batchlake.toml").write_text(f'name = "shared"\n\n[metadata]\nurl = "{URL}"\n')
    assert store.acquire_lock("run", "run-elsewhere", timedelta(seconds=60)) is None
    try:
        refused = batchlake("run", "-p", str(project), check=False)
    finally:
        store.release_lock("run", "run-elsewhere")
    assert refused.returncode != 0
    assert "another run (run-elsewhere" in refused.stderr
    assert "is in progress on this project" in refused.stderr
    batchlake("run", "-p", str(project))  # and once released, a run goes through


MIGRATOR = textwrap.dedent(
    """
    import sys, time
    from batchlake.metadata import MetadataStore
    start = float(sys.argv[2])
    while time.time() < start:
        time.sleep(0.005)
    MetadataStore(sys.argv[1]).dispose()
    """
)


def test_processes_opening_a_fresh_database_together_migrate_it_once() -> None:
    """Two schedulers started together on a new database: one migrates, the other waits."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = "shared_migrate_race"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    start = time.time() + 5
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATOR, url, str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-2000:]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}") as c:
        versions = [v for (v,) in c.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m.version for m in all_migrations()]
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_fire_is_claimed_by_one_of_two_stores_that_read_the_same_state(
    store: MetadataStore,
) -> None:
    """The claim is a compare-and-set: correct even when the pipeline lock failed."""
    import psycopg

    other = MetadataStore(URL)  # another process's connection pool
    try:
        begun = utcnow().replace(microsecond=123456)
        assert store.start_schedule("claimed", begun)
        assert not other.start_schedule("claimed", begun + timedelta(seconds=1))
        seen = store.last_fire("claimed")
        assert seen == other.last_fire("claimed") == begun
        fire = begun + timedelta(minutes=1)
        first = store.account_fires("claimed", [], fire, "running", after=begun, now=fire)
        second = other.account_fires("claimed", [], fire, "running", after=begun, now=fire)
    finally:
        other.dispose()
    assert first is not None and second is None
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}") as c:
        rows = c.execute(
            "SELECT scheduled_for FROM pipeline_runs WHERE pipeline = 'claimed'"
        ).fetchall()
        (last,) = c.execute(
            "SELECT last_fire_at FROM schedule_state WHERE pipeline = 'claimed'"
        ).fetchone() or (None,)
    assert rows == [(fire,)] and last == fire


def test_a_lock_holder_named_after_a_long_host_name_fits(store: MetadataStore) -> None:
    holder = f"scheduler-{'node-' * 50}x.eu-west-1.compute.internal-4194304"  # > 64 chars
    assert store.acquire_lock("long", holder, timedelta(seconds=60)) is None
    other = store.acquire_lock("long", "someone-else", timedelta(seconds=60))
    assert other is not None and other.holder == holder
    store.release_lock("long", holder)


def test_a_quarantined_check_result_is_stored_on_postgresql(store: MetadataStore) -> None:
    row = {
        "run_id": "r1",
        "table": "trusted.x",
        "check": "not_null",
        "severity": "error",
        "status": "quarantined",  # 11 characters: once too long for the column
        "failing_rows": 3,
        "message": "3 rows quarantined",
        "checked_at": utcnow(),
    }
    store.record_quality([row])
    assert store.quality_results("trusted.x")[0]["status"] == "quarantined"
