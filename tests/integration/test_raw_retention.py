"""Raw retention (`raw_retention`, `raw_keep_batches`) applied by `batchlake maintain` and
the scheduler's [maintenance]: by age, by count, never the newest batch, never a batch an
incremental model has not consumed (its Iceberg table's `batchlake.consumed`, written on
a real table of the catalog), recorded in the manifest."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from batchlake.capture import open_source
from batchlake.capture.ingest import ingest_entity
from batchlake.errors import ConfigError
from batchlake.lake import Lake
from batchlake.metadata import tables as t
from batchlake.ops.maintenance import Policy, TableReport, maintain
from batchlake.run.scheduler import Scheduler
from tests.support.cli import batchlake

AGES_DAYS = [10, 8, 6, 4, 0]  # the five captured batches, oldest first
ENTITY = "raw.shop.items"


def make_lake(
    tmp_path: Path, source_toml: str = "", entity_toml: str = "", extra: str = ""
) -> Path:
    """Five written batches of a full-mode table, captured 10, 8, 6, 4 and 0 days ago."""
    root = tmp_path / "lake"
    root.mkdir()
    db = sqlite3.connect(root / "shop.sqlite")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, price REAL)")
    db.commit()
    write_toml(root, source_toml, entity_toml, extra)
    lake = Lake.open(root)
    for round_number, age in enumerate(AGES_DAYS):
        db.execute("INSERT INTO items VALUES (?, ?)", (round_number, round_number * 1.5))
        db.commit()
        source = open_source(lake.project, "shop")
        try:
            result = ingest_entity(source, "items", storage=lake.storage, metadata=lake.metadata)
        finally:
            source.close()
        assert result.status == "written"
        with lake.metadata.engine.begin() as conn:
            conn.execute(
                t.batches.update()
                .where(t.batches.c.batch_id == result.batch_id)
                .values(finished_at=datetime.now(UTC) - timedelta(days=age, minutes=1))
            )
    db.close()
    return root


def write_toml(root: Path, source_toml: str, entity_toml: str, extra: str = "") -> None:
    (root / "batchlake.toml").write_text(
        'name = "shop"\n[sources.shop]\ntype = "sql"\nurl = "sqlite:///shop.sqlite"\n'
        f"{source_toml}\n[sources.shop.entities.items]\n{entity_toml}\n{extra}"
    )


def ids(root: Path, status: str | None = "written") -> list[str]:
    return [b.batch_id for b in Lake.open(root).metadata.batches("shop", "items", status=status)]


def raw_report(root: Path, **policy: object) -> TableReport:
    reports = maintain(Lake.open(root), [ENTITY], policy=Policy(**policy))  # type: ignore[arg-type]
    return reports[0]


def consumed_by(
    root: Path, table: str, marks: dict[str, str] | None, upstream: str = ENTITY
) -> None:
    """A real Iceberg table in the catalog with the lineage and consumption properties."""
    lake = Lake.open(root)
    iceberg = lake.catalog.ensure_table(table, pa.schema([("id", pa.int64())]))
    properties = {"batchlake.upstream": upstream}
    if marks is not None:
        properties["batchlake.consumed"] = json.dumps(marks)
    with iceberg.transaction() as tx:
        tx.set_properties(properties)


def test_by_age_expires_old_batches_and_records_it(tmp_path: Path) -> None:
    root = make_lake(tmp_path, 'raw_retention = "5d"')
    before = ids(root)
    files = {b.batch_id: b.path for b in Lake.open(root).metadata.batches("shop", "items")}
    report = raw_report(root)
    assert report.batches_expired == 3 and report.expired_bytes > 0 and report.batches_held == 0
    assert ids(root) == before[3:]
    expired = Lake.open(root).metadata.batches("shop", "items", status="expired")
    assert [b.batch_id for b in expired] == before[:3]
    assert all(b.expired_at is not None for b in expired)
    assert all(not Path(str(files[b.batch_id])).exists() for b in expired)
    assert all(Path(str(files[i])).exists() for i in before[3:])
    seen = Lake.open(root).query_table(f"SELECT DISTINCT _batch_id FROM {ENTITY} ORDER BY 1")
    assert seen.column(0).to_pylist() == before[3:]
    assert raw_report(root).batches_expired == 0  # nothing more is due


def test_by_count_entity_overrides_source_and_both_keys_must_agree(tmp_path: Path) -> None:
    root = make_lake(tmp_path, "raw_keep_batches = 4", "raw_keep_batches = 2")
    before = ids(root)
    assert raw_report(root, dry_run=True).batches_expired == 3
    assert ids(root) == before  # a dry run changes nothing
    write_toml(root, "raw_keep_batches = 4", 'raw_retention = "7d"\nraw_keep_batches = 2')
    report = raw_report(root)  # older than 7 days AND beyond the 2 newest: the two oldest
    assert report.batches_expired == 2 and ids(root) == before[2:]
    write_toml(root, "raw_keep_batches = 4", "raw_keep_batches = 2")
    assert raw_report(root).batches_expired == 1 and ids(root) == before[3:]


def test_never_the_newest_batch(tmp_path: Path) -> None:
    root = make_lake(tmp_path, 'raw_retention = "1s"')
    before = ids(root)
    assert raw_report(root).batches_expired == 4
    assert ids(root) == before[-1:]


def test_unconsumed_batches_are_kept_for_incremental_models(tmp_path: Path) -> None:
    root = make_lake(tmp_path, "raw_keep_batches = 1")
    before = ids(root)
    consumed_by(root, "trusted.items_inc", {ENTITY: before[1]})
    consumed_by(root, "refined.items_full", None)  # a full rebuild: holds nothing back
    report = raw_report(root)
    assert report.batches_expired == 2 and report.batches_held == 2
    assert ids(root) == before[2:]
    notes = " ".join(report.notes)
    assert f"trusted.items_inc (consumed up to {before[1]})" in notes
    assert "refined.items_full rebuild(s) in full" in notes
    # Another incremental table that recorded nothing for this entity holds everything.
    consumed_by(root, "trusted.other_inc", {"raw.shop.other": before[4]})
    consumed_by(root, "trusted.items_inc", {ENTITY: before[4]})
    report = raw_report(root)
    assert report.batches_expired == 0 and report.batches_held == 2
    assert "trusted.other_inc (consumed up to nothing recorded)" in " ".join(report.notes)
    consumed_by(root, "trusted.other_inc", {ENTITY: before[3]})
    assert raw_report(root).batches_expired == 2 and ids(root) == before[4:]


def test_cli_reports_and_killed_expiry_leaves_no_file(tmp_path: Path) -> None:
    root = make_lake(tmp_path, "raw_keep_batches = 3")
    before = ids(root)
    out = batchlake("maintain", "-p", str(root), "--no-compact", "-f", "json", "--dry-run").stdout
    rows = {r["table"]: r for r in json.loads(out)}
    assert rows[ENTITY]["batches_expired"] == 2 and ids(root) == before
    out = batchlake("maintain", "-p", str(root), "--no-raw-retention", "-f", "json").stdout
    assert json.loads(out)[0]["batches_expired"] == 0 and ids(root) == before
    # A maintenance killed between marking a batch expired and deleting its file.
    lake = Lake.open(root)
    lake.metadata.expire_batches("shop", "items", before[:1])
    left = lake.metadata.batches("shop", "items", status="expired")[0].path
    assert left is not None and Path(left).exists()
    out = batchlake("maintain", "-p", str(root), "--grace-hours", "0", "-f", "json").stdout
    row = json.loads(out)[0]
    assert row["batches_expired"] == 1 and row["orphans_deleted"] == 1
    assert not Path(left).exists() and ids(root) == before[2:]
    shown = json.loads(batchlake("catalog", ENTITY, "-p", str(root), "-f", "json").stdout)
    statuses = [(b["status"], b["expired_at"] is not None) for b in shown["snapshots"]]
    assert statuses == [("expired", True)] * 2 + [("written", False)] * 3


def test_configuration_errors_name_the_key(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    write_toml(root, 'raw_retention = "soon"', "")
    with pytest.raises(ConfigError, match=r"sources.shop.raw_retention.*not a duration"):
        Lake.open(root)
    write_toml(root, "", "raw_keep_batches = 0")
    with pytest.raises(ConfigError, match="raw_keep_batches"):
        Lake.open(root)
    write_toml(root, "", "", '[maintenance]\nevery = "1d"\n[pipelines.maintenance]\nevery = "1h"')
    with pytest.raises(ConfigError, match="rename the pipeline"):
        Lake.open(root)


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        self.current += timedelta(seconds=max(seconds, 0.001))


def test_scheduler_maintenance_applies_retention(tmp_path: Path) -> None:
    root = make_lake(
        tmp_path, 'raw_retention = "5d"', extra='[maintenance]\nevery = "1h"\ngrace_hours = 1\n'
    )
    before = ids(root)
    lake = Lake.open(root)
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    scheduler = Scheduler(lake, clock=clock)
    scheduler.tick()  # notes the start
    clock.current += timedelta(hours=1)
    scheduler.tick()  # the 13:00 fire
    fires = lake.metadata.pipeline_runs("maintenance")
    assert [(f["scheduled_for"].hour, f["status"], f["run_id"]) for f in fires] == [
        (13, "success", None)
    ]
    assert fires[0]["reason"].startswith("3 raw batch(es) expired")
    assert ids(root) == before[3:]
    # A run holding the project's lock: the fire is skipped with the reason, nothing lost.
    lake.metadata.acquire_lock("run", "someone", timedelta(minutes=5))
    clock.current += timedelta(hours=1)
    scheduler.tick()
    last = lake.metadata.pipeline_runs("maintenance")[-1]
    assert last["status"] == "skipped" and "run is in progress" in last["reason"]
