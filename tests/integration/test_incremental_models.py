"""Incremental models equal their full rebuild, after any sequence of source changes.

Two lakes read the same SQLite shop. After each batch of changes both capture it; lake A
builds its models incrementally, lake B rebuilds every model with --full-refresh. Every
model must hold the same rows in both (hypothesis draws the changes: inserts, updates,
soft and hard deletes, late rows, lookups changing, empty and duplicate runs, and runs
that die between writing their files and committing them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batchlake.catalog import LakeCatalog
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from tests.support.incremental_shop import DAYS, MODELS, Shop, make_project, make_source, tables_of

pick = st.integers(min_value=0, max_value=50)
day = st.integers(min_value=0, max_value=len(DAYS) - 1)
change = st.one_of(
    st.tuples(st.just("order"), day, st.integers(1, 99), st.integers(1, 3)),
    st.tuples(st.just("line"), pick, st.integers(1, 9)),
    st.tuples(st.just("update"), pick, st.integers(1, 99)),
    st.tuples(st.just("move"), pick, day),
    st.tuples(st.just("soft_delete"), pick),
    st.tuples(st.just("hard_delete"), pick),
    st.tuples(st.just("line_update"), pick, st.integers(1, 9)),
    st.tuples(st.just("line_delete"), pick),
    st.tuples(st.just("rename"), st.integers(1, 3), st.sampled_from(["ann", "bo", "cy", "dee"])),
)
# A run: the changes before it, and whether it dies before committing its first model.
run = st.tuples(st.lists(change, max_size=6), st.booleans())


def _run(root: Path, *, full_refresh: bool = False) -> Any:
    return Runner(Lake.open(root)).run(full_refresh=full_refresh)


class Killed(BaseException):
    """Stands for the process dying: no handler of the runner catches it."""


def _run_killed(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that dies after writing a model's files, before its catalog commit."""
    original = LakeCatalog.commit

    def die(self: LakeCatalog, *args: Any, **kwargs: Any) -> Any:
        raise Killed()

    monkeypatch.setattr(LakeCatalog, "commit", die)
    try:
        _run(root)
    except Killed:
        pass
    finally:
        monkeypatch.setattr(LakeCatalog, "commit", original)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=st.lists(run, min_size=2, max_size=5))
# Hand-picked sequences that must hold whatever hypothesis draws: a soft delete, a late row
# and a row moving to another interval, a lookup changing, a killed run.
@example(
    runs=[
        ([("order", 0, 10, 1), ("order", 3, 20, 2), ("line", 0, 2), ("line", 1, 3)], False),
        ([("soft_delete", 0), ("order", 1, 5, 3)], False),
        ([("move", 1, 5), ("order", 0, 7, 1)], True),
        ([("rename", 2, "dee"), ("line_update", 0, 9)], False),
        ([], False),
    ]
)
def test_incremental_models_equal_their_full_rebuild(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    runs: list[tuple[list[tuple[Any, ...]], bool]],
) -> None:
    base = tmp_path_factory.mktemp("shop")
    make_source(base / "shop.sqlite")
    shop = Shop(base / "shop.sqlite")
    incremental = make_project(base / "a", shop.path)
    rebuilt = make_project(base / "b", shop.path)
    for position, (changes, killed) in enumerate(runs):
        for op in changes:
            shop.apply(op)
        if killed and position:
            _run_killed(incremental, monkeypatch)
        a = _run(incremental)
        b = _run(rebuilt, full_refresh=True)
        assert a.ok, [(s.name, s.message) for s in a.steps if s.status == "failed"]
        assert b.ok, [(s.name, s.message) for s in b.steps if s.status == "failed"]
        assert tables_of(incremental) == tables_of(rebuilt), f"after run {position + 1}"


def test_an_increment_touches_only_new_input_and_says_what_changed(tmp_path: Path) -> None:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    for op in [("order", 0, 10, 1), ("order", 2, 20, 2), ("line", 0, 3), ("line", 1, 4)]:
        shop.apply(op)
    root = make_project(tmp_path / "lake", shop.path)
    first = {s.name: s for s in _run(root).steps}
    assert first["trusted.orders"].status == "success"
    shop.apply(("update", 1, 77))  # order 2 changes
    shop.apply(("order", 4, 30, 3))  # order 3 is new
    second = {s.name: s for s in _run(root).steps}
    orders = second["trusted.orders"]
    assert orders.counts is not None
    assert (orders.counts.inserted, orders.counts.updated, orders.counts.deleted) == (1, 1, 0)
    assert orders.message and orders.message.startswith("incremental")
    # trusted.lines had no new batch (lines unchanged: a duplicate capture): nothing to do.
    assert second["trusted.lines"].status == "unchanged"
    lake = Lake.open(root)
    table = lake.catalog.load("trusted.orders")
    consumed = json.loads(table.properties["batchlake.consumed"])
    batches = [b.batch_id for b in lake.metadata.batches("shop", "orders")]
    assert consumed == {"raw.shop.orders": batches[-1]}
    summary = table.current_snapshot().summary  # the same record, in the data's commit
    assert json.loads(summary["batchlake.consumed"]) == consumed
    # The recorded counts are in the run's step records, for `batchlake runs RUN_ID`.
    steps = {s["step"]: s for s in lake.metadata.steps(lake.metadata.runs(1)[0]["run_id"])}
    assert (steps["trusted.orders"]["rows_inserted"], steps["trusted.orders"]["rows_updated"]) == (
        1,
        1,
    )


def test_a_changed_lookup_or_definition_rebuilds_in_full_and_says_why(tmp_path: Path) -> None:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    shop.apply(("order", 0, 10, 1))
    root = make_project(tmp_path / "lake", shop.path)
    _run(root)
    shop.apply(("rename", 1, "zed"))
    steps = {s.name: s for s in _run(root).steps}
    assert steps["trusted.sales"].message == (
        "rebuilt in full: trusted.customers changed and is read whole (it has no order_id column)"
    )
    sql = root / "models" / "trusted" / "orders.sql"
    sql.write_text(sql.read_text().replace("AS amount", "AS amount "), encoding="utf-8")
    steps = {s.name: s for s in _run(root).steps}
    assert steps["trusted.orders"].message == (
        "rebuilt in full: its SQL, kind, keys or quality checks changed"
    )


def test_every_write_is_one_snapshot_and_none_reads_empty(tmp_path: Path) -> None:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    root = make_project(tmp_path / "lake", shop.path)
    for op in [("order", 0, 10, 1), ("line", 0, 2), ("update", 0, 11), ("order", 3, 5, 2)]:
        shop.apply(op)
        _run(root)
    _run(root, full_refresh=True)
    lake = Lake.open(root)
    for name in MODELS:
        table = lake.catalog.load(name)
        for snapshot in table.snapshots():
            rows = table.scan(snapshot_id=snapshot.snapshot_id).to_arrow().num_rows
            first = snapshot.parent_snapshot_id is None  # empty only if built empty
            assert rows > 0 or first, f"{name} snapshot {snapshot.snapshot_id} reads empty"
            assert snapshot.summary.operation.value in ("append", "overwrite")


def test_an_increment_rewriting_most_of_a_large_table_rebuilds_it_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the size limit (lowered here), a change whose scope holds most of a table's
    rows is a full rebuild, said in the step, and the table still equals its rebuild."""
    from batchlake.transform.incremental import job

    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    for n in range(8):
        shop.apply(("order", n % 6, 10 + n, 1 + n % 3))
        shop.apply(("line", n, 2))
    root = make_project(tmp_path / "lake", shop.path)
    _run(root)
    shop.apply(("update", 3, 99))
    steps = {s.name: s for s in _run(root).steps}
    assert steps["trusted.orders"].message == "incremental: +0 ~1 -0 rows in 1 rewritten file(s)"
    assert (steps["trusted.sales"].message or "").startswith("incremental:")
    monkeypatch.setattr(job, "REBUILD_MIN_ROWS", 0)  # as if the tables were large
    shop.apply(("update", 4, 98))
    steps = {s.name: s for s in _run(root).steps}
    # A full capture of orders is a new batch of every order: the scope is all 8 rows.
    message = steps["trusted.orders"].message or ""
    assert message.startswith("rebuilt in full: the change touches 8 of its 8 rows (100%)")
    # trusted.orders was rewritten whole, so trusted.sales rebuilds before finding a scope.
    assert (steps["trusted.sales"].message or "").startswith(
        "rebuilt in full: 8 of the 8 rows of trusted.orders were rewritten since the last "
        "build (100%)"
    )
    incremental = tables_of(root)
    _run(root, full_refresh=True)
    assert incremental == tables_of(root)


def test_an_empty_partitioned_model_is_built_once_then_increments(tmp_path: Path) -> None:
    """A model whose result is empty still records what it consumed (an empty first
    snapshot), so the next run increments instead of rebuilding it in full again."""
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    shop.apply(("order", 0, 10, 1))
    root = make_project(tmp_path / "lake", shop.path)
    folder = root / "models" / "refined"
    (folder / "huge_orders.sql").write_text(
        "SELECT order_id, day, amount FROM trusted.orders WHERE amount > 1000000\n",
        encoding="utf-8",
    )
    (folder / "huge_orders.toml").write_text(
        'kind = "incremental_by_time"\ntime_column = "day"\npartition_by = ["month(day)"]\n',
        encoding="utf-8",
    )
    first = {s.name: s for s in _run(root).steps}["refined.huge_orders"]
    assert first.status == "success", first.message
    table = Lake.open(root).catalog.load("refined.huge_orders")
    assert table.current_snapshot() is not None
    assert "batchlake.consumed" in table.current_snapshot().summary
    shop.apply(("order", 2, 20, 2))
    second = {s.name: s for s in _run(root).steps}["refined.huge_orders"]
    assert "rebuilt in full" not in (second.message or ""), second.message
    assert Lake.open(root).query_table("SELECT * FROM refined.huge_orders").num_rows == 0


def test_kind_files_are_validated_with_the_key_named(tmp_path: Path) -> None:
    from batchlake.errors import ModelError
    from batchlake.transform.models import load_models

    zone = tmp_path / "models" / "trusted"
    zone.mkdir(parents=True)
    (zone / "x.sql").write_text("SELECT 1 AS id\n")
    cases = {
        'kind = "incremental_by_key"\n': "needs unique_key",
        'kind = "merge"\n': "kind",
        'kind = "incremental_by_time"\n': "needs time_column",
        'kind = "append"\nunique_key = ["id"]\n': "unique_key applies to",
        'partition_by = ["month(ts"]\n': "not a partition transform",
        'kind = "full"\nextra = 1\n': "extra",
    }
    for text, expected in cases.items():
        (zone / "x.toml").write_text(text)
        with pytest.raises(ModelError, match=r"models/trusted/x\.toml") as caught:
            load_models(tmp_path / "models")
        assert expected in str(caught.value), (text, str(caught.value))
    DAYS.index("2024-01-05")  # the shop's days are fixed: tests above rely on them


def test_changing_partition_by_evolves_the_spec_and_says_so(tmp_path: Path) -> None:
    from batchlake.transform.promote import spec_of

    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    for op in [("order", 0, 10, 1), ("order", 3, 20, 2), ("line", 0, 2)]:
        shop.apply(op)
    root = make_project(tmp_path / "lake", shop.path)
    full = root / "models" / "trusted" / "customers.toml"
    full.write_text('partition_by = ["truncate(2, customer_id)"]\n')  # a full model
    _run(root)
    by_day = root / "models" / "refined" / "by_day.toml"
    by_day.write_text(by_day.read_text().replace("month(day)", "day(day)"))
    full.unlink()  # back to unpartitioned
    steps = {s.name: s for s in _run(root).steps}
    assert steps["refined.by_day"].message == (
        "rebuilt in full: partition_by changed: the spec evolves to day(day)"
    )
    assert steps["trusted.customers"].message == (
        "partition spec evolved to unpartitioned; rebuilt in full"
    )
    lake = Lake.open(root)
    assert [f.text for f in spec_of(lake.catalog.load("refined.by_day"))] == ["day(day)"]
    assert spec_of(lake.catalog.load("trusted.customers")) == []
    # Each partition of the new spec is its own file: one per distinct day.
    days = lake.query_table("SELECT count(DISTINCT day) AS n FROM refined.by_day")["n"][0]
    files = lake.catalog.data_files(lake.catalog.load("refined.by_day"))
    assert len(files) == days.as_py()
