"""Every snapshot of every table reads as the table was when it was made: never empty
unless the table was empty then.

The shop lake (tests/support/incremental_shop.py) goes through incremental runs, full refreshes,
partition-spec changes (bucket width, bucket to none, month to year, none to truncate and
identity), SQL changes that add and drop a column, and a run that empties the tables
built on orders. After each run every table
must equal a full rebuild of the same source, and its current snapshot and contents are
recorded. At the end each table's whole history is read back, snapshot by snapshot,
three ways: PyIceberg (`scan(snapshot_id=...)`), DuckDB `iceberg_scan` of the metadata
file in which that snapshot was current, and batchlake's time travel (`as_of` the id and
the commit time). Each reading must be the recorded contents; a snapshot no run left
current (a half-way state such as a delete before an append) fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import batchlake
from batchlake.engines import connection
from batchlake.lake import Lake
from tests.support.cli import run_ok
from tests.support.incremental_shop import MODELS, Shop, make_project, make_source, tables_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Canonical = list[str]


@dataclass(frozen=True)
class Respec:
    """Change a model's `partition_by` (None: remove it)."""

    model: str
    partition_by: list[str] | None


@dataclass(frozen=True)
class Edit:
    """Change a model's SQL: replace `old` by `new` (a column added or dropped)."""

    model: str
    old: str
    new: str


@dataclass(frozen=True)
class Run:
    changes: list[tuple[Any, ...]]
    full_refresh: bool = False
    respec: tuple[Respec, ...] = ()
    edits: tuple[Edit, ...] = ()


def _first_orders() -> list[tuple[Any, ...]]:
    return [
        *(("order", day, 10 + day, 1 + day % 3) for day in range(6)),
        *(("line", pick, 1 + pick % 4) for pick in range(8)),
    ]


RUNS = [
    Run(_first_orders()),
    Run([("update", 1, 70), ("order", 2, 33, 2), ("line", 3, 9), ("line_update", 4, 2)]),
    Run([("move", 0, 5), ("soft_delete", 2)]),
    Run([], full_refresh=True),
    Run(
        [("order", 4, 12, 3), ("line", 0, 5)],
        respec=(
            Respec("trusted.lines", ["bucket(8, line_id)"]),
            Respec("refined.by_day", ["year(day)"]),
        ),
    ),
    Run([("update", 3, 15), ("line_delete", 1)]),
    # The schema evolves: a column added to one table, one dropped from another.
    Run(
        [("line", 2, 4)],
        edits=(
            Edit("trusted.orders", "AS day,", "AS day, upper(CAST(day AS VARCHAR)) AS label,"),
            Edit("refined.by_day", "count(DISTINCT order_id) AS orders, ", ""),
        ),
    ),
    Run(
        [("update", 0, 16)],
        respec=(
            Respec("trusted.lines", None),
            Respec("trusted.orders", ["truncate(4, order_id)"]),
            Respec("trusted.customers", ["customer_id"]),
        ),
    ),
    # Every order deleted: orders, sales and by_day are empty now (lines are not).
    Run([("soft_delete", pick) for pick in range(12)]),
    Run([("order", 1, 44, 1), ("line", 0, 3)]),
    Run([("order", 3, 45, 2)], full_refresh=True),
    Run([("update", 0, 46), ("line", 1, 7)]),
]


def _canonical(rows: list[dict[str, Any]]) -> Canonical:
    return sorted(repr(sorted(row.items())) for row in rows)


def _respec(root: Path, change: Respec) -> None:
    zone, name = change.model.split(".")
    path = root / "models" / zone / f"{name}.toml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    text = re.sub(r"^partition_by = .*\n", "", text, flags=re.MULTILINE)
    if change.partition_by is not None:
        listed = ", ".join(f'"{p}"' for p in change.partition_by)
        text += f"partition_by = [{listed}]\n"
    path.write_text(text, encoding="utf-8")


def _edit(root: Path, change: Edit) -> None:
    zone, name = change.model.split(".")
    path = root / "models" / zone / f"{name}.sql"
    text = path.read_text(encoding="utf-8")
    assert change.old in text, change
    path.write_text(text.replace(change.old, change.new), encoding="utf-8")


def _current(lake: Lake, name: str) -> tuple[int | None, Canonical]:
    table = lake.catalog.load(name)
    snapshot = table.current_snapshot()
    if snapshot is None:
        return None, []
    return snapshot.snapshot_id, _canonical(table.scan().to_arrow().to_pylist())


def _metadata_files(lake: Lake, name: str) -> dict[int, str]:
    """For each snapshot id, the first metadata file of the table in which it is current."""
    from pyiceberg.serializers import FromInputFile

    table = lake.catalog.load(name)
    files = [entry.metadata_file for entry in table.metadata.metadata_log]
    files.append(table.metadata_location)
    found: dict[int, str] = {}
    for path in files:
        metadata = FromInputFile.table_metadata(table.io.new_input(path))
        if metadata.current_snapshot_id is not None:
            found.setdefault(metadata.current_snapshot_id, path)
    return found


def _readers(root: Path, name: str) -> dict[str, Callable[[int], Canonical]]:
    lake = Lake.open(root)
    table = lake.catalog.load(name)
    handle = batchlake.open(root)
    metadata = _metadata_files(lake, name)
    committed = {s.snapshot_id: s.committed_at for s in lake.catalog.snapshots(name)}
    con = connection.connect()

    def duckdb_scan(snapshot_id: int) -> Canonical:
        path = metadata[snapshot_id].removeprefix("file://")
        sql = f"SELECT * FROM iceberg_scan({connection.quote_literal(path)})"
        return _canonical(con.execute(sql).fetch_arrow_table().to_pylist())

    return {
        "PyIceberg": lambda s: _canonical(table.scan(snapshot_id=s).to_arrow().to_pylist()),
        "DuckDB iceberg_scan": duckdb_scan,
        "batchlake as_of id": lambda s: _canonical(
            handle.table(name, as_of=s).to_arrow().to_pylist()
        ),
        "batchlake as_of time": lambda s: _canonical(
            handle.table(name, as_of=committed[s]).to_arrow().to_pylist()
        ),
    }


def test_no_snapshot_reads_other_than_its_table_then(tmp_path: Path) -> None:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    root = make_project(tmp_path / "lake", shop.path)
    rebuilt = make_project(tmp_path / "rebuilt", shop.path)
    recorded: dict[str, dict[int, Canonical]] = {name: {} for name in MODELS}
    emptied: set[str] = set()
    for position, run in enumerate(RUNS, start=1):
        for op in run.changes:
            shop.apply(op)
        for change in run.respec:
            _respec(root, change)
            _respec(rebuilt, change)
        for edit in run.edits:
            _edit(root, edit)
            _edit(rebuilt, edit)
        run_ok(root, full_refresh=run.full_refresh)
        run_ok(rebuilt, full_refresh=True)
        assert tables_of(root) == tables_of(rebuilt), f"after run {position}"
        lake = Lake.open(root)
        for name in MODELS:
            snapshot_id, rows = _current(lake, name)
            assert snapshot_id is not None, f"{name} has no snapshot after run {position}"
            assert recorded[name].get(snapshot_id, rows) == rows, (
                f"{name}: snapshot {snapshot_id} reads otherwise than when it was made"
            )
            recorded[name][snapshot_id] = rows
            if not rows:
                emptied.add(name)
        for change in run.respec:
            spec = lake.catalog.load(change.model).spec()
            assert len(spec.fields) == len(change.partition_by or []), change
    assert emptied >= {"trusted.orders", "trusted.sales", "refined.by_day"}
    lake = Lake.open(root)
    for name in MODELS:
        table = lake.catalog.load(name)
        snapshots = [s.snapshot_id for s in table.snapshots()]
        unknown = {
            s: table.scan(snapshot_id=s).to_arrow().num_rows
            for s in snapshots
            if s not in recorded[name]
        }
        assert not unknown, f"{name}: snapshots never current after a run (rows): {unknown}"
        for reader, read in _readers(root, name).items():
            for snapshot_id in snapshots:
                expected = recorded[name][snapshot_id]
                rows = read(snapshot_id)
                assert rows or not expected, f"{reader}: {name}@{snapshot_id} reads empty"
                assert rows == expected, f"{reader}: {name}@{snapshot_id} reads other rows"
    specs = {len(lake.catalog.load(name).specs()) for name in MODELS}
    assert max(specs) >= 3, "the partition specs did not evolve as the runs asked"
