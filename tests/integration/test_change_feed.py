"""The change feed: a merge names the rows it recomputed, and the next model reads only them.

A merge rewrites whole data files to change a few rows, so the files it added and removed
hold many rows it did not change. Each merge also writes the before and after images of
its touched scope (its change feed, named in the snapshot summary); a downstream model
finds its own touched scope there instead of in the rewritten files, so a small change
does not look like a rewrite of most of the upstream table.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchlake.catalog import changed_row_files
from batchlake.lake import Lake
from batchlake.ops.maintenance import Policy, maintain
from batchlake.run.runner import Runner
from batchlake.storage import path_of
from tests.support.incremental_shop import DAYS, Shop, make_project, make_source, tables_of

pytestmark = pytest.mark.integration

# Lines are captured by diff, so a changed line is the only row of its new raw batch.
DIFF_LINES = '\n[sources.shop.entities.lines]\nmode = "diff"\nprimary_key = ["line_id"]\n'


def _run(
    root: Path, *, full_refresh: bool = False, select: list[str] | None = None
) -> dict[str, Any]:
    result = Runner(Lake.open(root)).run(select, full_refresh=full_refresh)
    assert result.ok, [(s.name, s.message) for s in result.steps if s.status == "failed"]
    return {s.name: s for s in result.steps}


def _shop(tmp_path: Path) -> tuple[Shop, Path]:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    for n in range(8):
        shop.apply(("order", n % 6, 10 + n, 1 + n % 3))
        for qty in (1, 2, 3):
            shop.apply(("line", n, qty))
    root = make_project(tmp_path / "lake", shop.path)
    with (root / "batchlake.toml").open("a", encoding="utf-8") as toml:
        toml.write(DIFF_LINES)
    return shop, root


def _feed_rows(root: Path, table: str) -> list[dict[str, Any]]:
    snapshot = Lake.open(root).catalog.load(table).current_snapshot()
    files = changed_row_files(snapshot.summary)
    assert files is not None, f"{table}'s last commit has no change feed"
    rows = [row for f in files for row in pq.read_table(path_of(f)).to_pylist()]
    return sorted(rows, key=lambda r: sorted(r.items()))


def test_a_downstream_model_finds_its_scope_in_the_change_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchlake.transform.incremental import job

    shop, root = _shop(tmp_path)
    _run(root)
    # As if the tables were large, and a rewrite of a fifth of a table's rows "most" of
    # it: the merge of one line rewrites that line's bucket file (about a quarter of the
    # 24 lines), which without a feed makes trusted.sales rebuild before finding a scope.
    monkeypatch.setattr(job, "REBUILD_MIN_ROWS", 0)
    monkeypatch.setattr(job, "REBUILD_SHARE", 0.2)
    line = shop.lines[4]  # order 2's second line, qty 2
    shop.apply(("line_update", 4, 9))
    steps = _run(root)
    assert (steps["trusted.lines"].message or "").startswith("incremental: +0 ~1 -0 rows")
    # The feed holds the line before and after, and nothing else.
    assert _feed_rows(root, "trusted.lines") == [
        {"line_id": line, "order_id": 2, "qty": 2},
        {"line_id": line, "order_id": 2, "qty": 9},
    ]
    # trusted.sales recomputes order 2 only: its three lines, one of them changed.
    assert (steps["trusted.sales"].message or "").startswith("incremental: +0 ~1 -0 rows")
    feed = _feed_rows(root, "trusted.sales")
    assert {r["order_id"] for r in feed} == {2}
    assert sorted(r["qty"] for r in feed) == [1, 1, 2, 3, 3, 9]
    incremental = tables_of(root)
    _run(root, full_refresh=True)
    assert incremental == tables_of(root)


def test_the_feeds_of_several_commits_are_read_together(tmp_path: Path) -> None:
    """A model that missed commits of its input reads the feeds of all of them."""
    shop, root = _shop(tmp_path)
    _run(root)
    shop.apply(("line_update", 1, 7))  # order 1
    _run(root, select=["raw.shop.lines", "trusted.lines"])
    shop.apply(("line_update", 13, 8))  # order 5
    shop.apply(("line", 6, 4))  # a new line of order 7
    _run(root, select=["raw.shop.lines", "trusted.lines"])
    steps = _run(root)
    assert (steps["trusted.sales"].message or "").startswith("incremental: +1 ~2 -0 rows")
    assert {r["order_id"] for r in _feed_rows(root, "trusted.sales")} == {1, 5, 7}
    incremental = tables_of(root)
    _run(root, full_refresh=True)
    assert incremental == tables_of(root)


def test_maintenance_keeps_the_feeds_of_live_snapshots_only(tmp_path: Path) -> None:
    shop, root = _shop(tmp_path)
    _run(root)
    for pick, qty in ((1, 7), (9, 8)):
        shop.apply(("line_update", pick, qty))
        _run(root)
    lake = Lake.open(root)
    table = lake.catalog.load("trusted.lines")
    feeds = [changed_row_files(s.summary) for s in table.metadata.snapshots]
    assert feeds[0] is None  # the first build: any row may have changed
    older, current = feeds[1], feeds[2]
    assert older and current
    assert all(Path(path_of(f)).exists() for f in [*older, *current])
    policy = Policy(retain=timedelta(0), keep_last=1, grace=timedelta(0))
    maintain(lake, ["trusted.lines"], policy=policy, compact=False)
    # A feed's "before" half is its own files (under changes/); its "after" half is the
    # commit's new data files, kept while a snapshot holds them.
    gone = [f for f in older if "/changes/" in f]
    assert gone and not any(Path(path_of(f)).exists() for f in gone)
    assert all(Path(path_of(f)).exists() for f in current)
    # The models built on trusted.lines still consumed its live snapshot: they increment.
    shop.apply(("line_update", 2, 6))
    steps = _run(root)
    assert (steps["trusted.sales"].message or "").startswith("incremental:")
    incremental = tables_of(root)
    _run(root, full_refresh=True)
    assert incremental == tables_of(root)


pick = st.integers(min_value=0, max_value=40)
change = st.one_of(
    st.tuples(st.just("order"), st.integers(0, len(DAYS) - 1), st.integers(1, 99), st.just(1)),
    st.tuples(st.just("line"), pick, st.integers(1, 9)),
    st.tuples(st.just("update"), pick, st.integers(1, 99)),
    st.tuples(st.just("line_update"), pick, st.integers(1, 9)),
    st.tuples(st.just("line_delete"), pick),
)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(runs=st.lists(st.lists(change, min_size=1, max_size=4), min_size=2, max_size=4))
def test_models_reading_change_feeds_equal_their_full_rebuild(
    tmp_path_factory: pytest.TempPathFactory, runs: list[list[tuple[Any, ...]]]
) -> None:
    """Chains of merges, each finding its scope in the feed of the one before, equal the
    same models rebuilt."""
    base = tmp_path_factory.mktemp("feed")
    shop, incremental = _shop(base)
    rebuilt = base / "rebuilt"
    make_project(rebuilt, shop.path)
    with (rebuilt / "batchlake.toml").open("a", encoding="utf-8") as toml:
        toml.write(DIFF_LINES)
    for position, changes in enumerate(runs):
        for op in changes:
            shop.apply(op)
        _run(incremental)
        _run(rebuilt, full_refresh=True)
        assert tables_of(incremental) == tables_of(rebuilt), f"after run {position + 1}"
