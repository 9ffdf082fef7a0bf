"""`batchlake maintain`: expiry keeps what it must, orphans go, compaction keeps the rows."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchlake.errors import LockError
from batchlake.lake import Lake
from batchlake.ops.maintenance import RUN_LOCK, Policy, maintain
from tests.support.cli import batchlake, run_ok, table_rows

OLD = time.time() - 3 * 24 * 3600  # older than any grace period used here


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = tmp_path_factory.mktemp("maintain") / "lake"
    batchlake("demo", "--dir", str(project), "--invoices", "300", "--seed", "3")
    for _ in range(4):  # four more versions of every table (one snapshot per write): 5 each
        run_ok(project, full_refresh=True)  # in-process: the command is not under test here
    return project


def _plant(path: Path, like: Path, *, old: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(like, path)
    if old:
        os.utime(path, (OLD, OLD))
    return path


def _iceberg(project: Path, name: str):  # type: ignore[no-untyped-def]
    return Lake.open(project).catalog.load(name)  # freshly loaded from the catalog database


def test_expiry_and_orphans(lake: Path) -> None:
    name = "refined.sales_by_month"
    before_rows = table_rows(lake, name)
    table = _iceberg(lake, name)
    assert len(table.metadata.snapshots) >= 5
    data = Path(table.location().removeprefix("file://")) / "data"
    real = next(data.rglob("*.parquet"))
    old_orphan = _plant(data / "killed-run" / "part-0.parquet", real, old=True)
    fresh_orphan = _plant(data / "running-now" / "part-0.parquet", real, old=False)
    raw_folder = next((lake / "lake" / "raw" / "chinook" / "invoice").glob("ingest_date=*"))
    raw_real = next(raw_folder.glob("*.parquet"))
    raw_orphan = _plant(raw_folder / "20200101T000000000000-deadbeef.parquet", raw_real, old=True)
    raw_temp = _plant(raw_folder / ".20200101T000000000000-cafe.parquet.tmp", raw_real, old=True)

    dry = json.loads(
        batchlake(
            "maintain", "-p", str(lake), "--retain-days", "0", "--keep", "2",
            "--grace-hours", "1", "--dry-run", "--format", "json",
        ).stdout
    )  # fmt: skip
    by_name = {r["table"]: r for r in dry}
    assert by_name[name]["orphans_deleted"] == 1
    assert by_name[name]["snapshots_expired"] == len(table.metadata.snapshots) - 2
    assert by_name["raw.chinook.invoice"]["orphans_deleted"] == 2
    assert old_orphan.exists() and raw_orphan.exists()  # a dry run changes nothing
    assert len(_iceberg(lake, name).metadata.snapshots) == len(table.metadata.snapshots)

    batchlake(
        "maintain", "-p", str(lake), "--retain-days", "0", "--keep", "2", "--grace-hours", "1"
    )
    assert not old_orphan.exists() and not raw_orphan.exists() and not raw_temp.exists()
    assert fresh_orphan.exists()  # younger than the grace period: maybe a write in progress
    assert raw_real.exists()
    after = _iceberg(lake, name)
    assert len(after.metadata.snapshots) == 2
    # Every file the remaining snapshots need is still there, and each still reads.
    for snapshot in after.metadata.snapshots:
        tasks = list(after.scan(snapshot_id=snapshot.snapshot_id).plan_files())
        assert all(Path(t.file.file_path.removeprefix("file://")).exists() for t in tasks)
        after.scan(snapshot_id=snapshot.snapshot_id).to_arrow()
    assert table_rows(lake, name) == before_rows
    # The lake still runs and queries after maintenance.
    run_ok(lake)
    assert table_rows(lake, name) == before_rows


def test_compaction_keeps_the_rows(lake: Path) -> None:
    opened = Lake.open(lake)
    name = "trusted.genres"
    table = opened.catalog.load(name)
    rows = table.scan().to_arrow()
    # Spread the table over many one-row files, as many small appends would.
    folder = Path(opened.catalog.staging_location(name, "scatter").removeprefix("file://"))
    folder.mkdir(parents=True)
    files = []
    for i in range(rows.num_rows):
        path = folder / f"part-{i}.parquet"
        pq.write_table(rows.slice(i, 1), path)
        files.append(str(path))
    opened.catalog.replace(
        table, files, rows.schema, properties=dict(table.properties), run_id="scatter"
    )
    assert len(opened.catalog.data_files(opened.catalog.load(name))) == rows.num_rows

    reports = maintain(opened, [name], policy=Policy(compact_min_files=4, grace=timedelta(0)))
    assert reports[0].files_before == rows.num_rows
    assert reports[0].files_after < 4
    compacted = opened.catalog.load(name)
    assert len(opened.catalog.data_files(compacted)) == reports[0].files_after
    assert _sorted(compacted.scan().to_arrow()) == _sorted(rows)


def test_maintenance_waits_for_no_run(lake: Path) -> None:
    opened = Lake.open(lake)
    assert opened.metadata.acquire_lock(RUN_LOCK, "a-run", timedelta(minutes=5)) is None
    try:
        with pytest.raises(LockError, match="a run is in progress"):
            maintain(opened)
    finally:
        opened.metadata.release_lock(RUN_LOCK, "a-run")


def _sorted(table: pa.Table) -> list[str]:
    return sorted(json.dumps(row, default=str, sort_keys=True) for row in table.to_pylist())
