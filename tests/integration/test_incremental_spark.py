"""Spark runs every model kind with DuckDB's results, run after run.

Three lakes read the same SQLite shop (tests/support/incremental_shop.py): its incremental
project on Spark (`local[2]`), the same project on DuckDB, and a DuckDB project rebuilt
with --full-refresh every time. After each of a fixed sequence of source changes (new
orders and lines, updates, a soft delete, a row moving to another month, a late row,
a lookup change that rebuilds, a run that dies before its commit) every model holds the
same rows and the same column types in all three, and the Spark project's models ran on
Spark, incrementally where the kind allows. The shop's `bucket(4, ...)` partitions are
written by Spark too (PyIceberg's bucket transform in an Arrow UDF): each data file of
each partitioned table holds only rows of the partition its metadata names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchlake.catalog import LakeCatalog
from batchlake.catalog.partitioning import fields_of, transform_of
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.conftest import require_java
from tests.support.cli import run_ok
from tests.support.incremental_shop import MODELS, Shop, make_project, make_source, tables_of
from tests.support.scale_helpers import SPARK_ENGINE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DUCKDB_ENGINE = '[engine]\nmemory_limit = "1GB"\nthreads = 2\n'

# (changes before the run, whether a first attempt of the run dies before its commit)
RUNS: list[tuple[list[tuple[Any, ...]], bool]] = [
    (
        [
            *(("order", day, 10 + day, 1 + day % 3) for day in range(6)),
            *(("line", pick, 1 + pick % 4) for pick in range(8)),
        ],
        False,
    ),
    # Updates, a new order and line, a soft delete (tombstone), an order moving month.
    (
        [
            ("update", 1, 70),
            ("order", 2, 33, 2),
            ("line", 6, 9),
            ("line_update", 3, 2),
            ("soft_delete", 4),
            ("move", 0, 5),
        ],
        False,
    ),
    # A late row for January (lookback), a line deleted at the source; the first attempt
    # dies after writing its files, before the catalog commit.
    ([("order", 0, 5, 3), ("line_delete", 2), ("update", 5, 12)], True),
    # A lookup changes: trusted.sales reads customers whole and is rebuilt in full.
    ([("rename", 2, "dee"), ("line", 1, 6)], False),
]


class Killed(BaseException):
    """Stands for the process dying: no handler of the runner catches it."""


@pytest.fixture(autouse=True, scope="module")
def _java() -> None:
    require_java()


def _run_killed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that dies after writing its first model's files, before the catalog commit."""

    def die(self: LakeCatalog, *args: Any, **kwargs: Any) -> Any:
        raise Killed()

    with monkeypatch.context() as patched:
        patched.setattr(LakeCatalog, "commit", die)
        with pytest.raises(Killed):
            Runner(Lake.open(root)).run()


def _schemas(root: Path) -> dict[str, list[tuple[str, str]]]:
    lake = Lake.open(root)
    found = {}
    for name in MODELS:
        schema = lake.catalog.load(name).schema()
        found[name] = [(f.name, str(f.field_type)) for f in schema.fields]
    return found


def _check_partitions(root: Path) -> int:
    """Every data file of every partitioned table holds rows of its own partition only."""
    import pyarrow.parquet as pq

    lake = Lake.open(root)
    checked = 0
    for name in MODELS:
        table = lake.catalog.load(name)
        fields = fields_of(table.spec(), table.schema())
        if not fields:
            continue
        for data_file in lake.catalog.data_file_entries(table):
            spec = table.specs()[data_file.spec_id]
            if not spec.fields:
                continue
            rows = pq.read_table(data_file.file_path.removeprefix("file://"))
            for position, field in enumerate(fields_of(spec, table.schema())):
                source = table.schema().find_field(field.column)
                transform = transform_of(field).transform(source.field_type)
                values = {transform(v) for v in rows.column(field.column).to_pylist()}
                assert values == {data_file.partition[position]}, (name, data_file.file_path)
            checked += 1
    return checked


def test_spark_builds_every_kind_as_duckdb_and_the_full_rebuild_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    spark = make_project(tmp_path / "spark", shop.path)
    config = spark / "batchlake.toml"
    assert DUCKDB_ENGINE in config.read_text()
    config.write_text(config.read_text().replace(DUCKDB_ENGINE, SPARK_ENGINE))
    duck = make_project(tmp_path / "duckdb", shop.path)
    rebuilt = make_project(tmp_path / "rebuilt", shop.path)
    how: dict[str, set[str]] = {name: set() for name in MODELS}
    for position, (changes, killed) in enumerate(RUNS, start=1):
        for op in changes:
            shop.apply(op)
        if killed:
            _run_killed(spark, monkeypatch)
        result = run_ok(spark)
        run_ok(duck)
        run_ok(rebuilt, full_refresh=True)
        for step in result.steps:
            if step.name in MODELS and step.status == "success":
                assert step.engine == "spark", (step.name, step.engine)
                how[step.name].add((step.message or "").split(":")[0].split(" ")[0])
        expected = tables_of(rebuilt)
        assert tables_of(duck) == expected, f"DuckDB, after run {position}"
        assert tables_of(spark) == expected, f"Spark, after run {position}"
        assert _schemas(spark) == _schemas(duck), f"column types, after run {position}"
    # Each incremental model was merged (or appended) on Spark, not only rebuilt.
    for name in ("trusted.orders", "trusted.lines", "trusted.sales", "refined.by_day"):
        assert "incremental" in how[name], (name, how[name])
    assert "appended" in how["refined.order_log"], how["refined.order_log"]
    assert _check_partitions(spark) >= 8
    assert _check_partitions(duck) >= 8
