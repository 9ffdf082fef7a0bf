"""kill -9 inside incremental merges, partition overwrites and appends: old or new, never less.

A shop lake (tests/support/incremental_shop.py) is built, then taken through a fixed sequence of
source changes. After each change a reference lake on the same source is rebuilt with
--full-refresh (the new contents), and the victim lake runs `batchlake run` in a process
that SIGKILLs itself at a chosen point of one model's increment (tests/support/faults.py),
once or twice before a clean rerun (each point in the merge of trusted.sales, then, in the
next dead run, in the partition overwrite of refined.by_day):

- while the result is written (a file cut to half its bytes), after it is written;
- while the kept rows of the touched files are rewritten (a file cut short);
- inside `LakeCatalog.commit` before anything of the snapshot is written, after PyIceberg
  wrote the manifests, after it wrote the new table metadata (catalog not yet swapped);
- just after the catalog commit, and before the step is recorded.

After each kill every table reads (with batchlake's SQL and with PyIceberg) as its old or
its new contents, never empty, never a mix; the killed model is exactly old before its
catalog commit and exactly new after it. The rerun then converges: every table equals
the full rebuild, no key is duplicated, and the dead runs are recorded as killed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import batchlake
from batchlake.lake import Lake
from tests.support.cli import run_ok
from tests.support.faults import KILL_POINTS
from tests.support.incremental_shop import MODELS, Shop, make_project, make_source, tables_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
BY_KEY = "trusted.sales"  # incremental_by_key over Iceberg inputs, bucket partitions
BY_TIME = "refined.by_day"  # incremental_by_time: month partitions replaced, lookback 1
# Where the killed model must already hold its new contents (the catalog commit is done).
AFTER_COMMIT = {"committed", "step-unrecorded"}
# What identifies a row of each table: no two rows may share it.
KEYS = {
    "trusted.orders": ["order_id"],
    "trusted.lines": ["line_id"],
    "trusted.customers": ["customer_id"],
    "trusted.sales": ["order_id", "line_id"],
    "refined.by_day": ["day"],
    "refined.order_log": ["order_id", "_batch_id"],
}

Rows = dict[str, list[tuple[Any, ...]]]


@dataclass(frozen=True)
class Kill:
    model: str
    point: str


# Each step: changes to the source, then one or more killed runs, then a clean rerun.
# Every kill point is hit in both the merge (BY_KEY) and the partition overwrite
# (BY_TIME), two dead runs per step: BY_TIME reads BY_KEY's table, so the second run
# first finishes (or redoes) the merge the first left dead, then dies in BY_TIME.
STEPS: list[list[Kill]] = [
    *([Kill(BY_KEY, point), Kill(BY_TIME, point)] for point in KILL_POINTS),
    # incremental_by_key over a raw input with a tombstone column, unpartitioned.
    [Kill("trusted.orders", "kept-half-written")],
    [Kill("trusted.orders", "metadata-written")],
    # append: a re-applied delta would duplicate rows.
    [Kill("refined.order_log", "result-written")],
    [Kill("refined.order_log", "committed")],
    # Two dead runs in a row before a clean one.
    [Kill("trusted.orders", "result-half-written"), Kill(BY_TIME, "manifests-written")],
]


def _changes(step: int) -> list[tuple[Any, ...]]:
    """Changes that every incremental model must merge (no lookup change: that rebuilds).

    An existing order and line change (so touched files hold kept rows), a new order and
    line arrive, and every third step an order is soft-deleted or moves to another month.
    """
    ops: list[tuple[Any, ...]] = [
        ("update", step, 40 + step),
        ("order", step % 6, 10 + step, 1 + step % 3),
        ("line", 1000 + step, 1 + step % 9),
        ("line_update", step * 7, 1 + (step + 4) % 9),
    ]
    if step % 3 == 1:
        ops.append(("soft_delete", step * 5))
    if step % 3 == 2:
        ops.append(("move", step * 3, (step + 2) % 6))
    return ops


def _killed_run(project: Path, kill: Kill) -> None:
    """`batchlake run` in a process that SIGKILLs itself at `kill.point` of `kill.model`."""
    src = Path(batchlake.__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(src), str(REPO)]))
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.faults", kill.point, kill.model, str(project)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, (
        f"{kill}: the run was not killed (exit {done.returncode}); its increment never "
        f"reached '{kill.point}'\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )


def _check_readable(project: Path, old: Rows, new: Rows, kill: Kill) -> None:
    """Every table reads whole, as its old or new rows; the killed one as its point says."""
    state = tables_of(project)
    lake = Lake.open(project)
    for name, rows in state.items():
        assert rows, f"after {kill}: {name} reads empty"
        assert rows in (old[name], new[name]), f"after {kill}: {name} is neither old nor new"
        planned = lake.catalog.load(name).scan().to_arrow().num_rows  # PyIceberg alone
        assert planned == len(rows), f"after {kill}: PyIceberg reads {planned} rows of {name}"
    assert old[kill.model] != new[kill.model], f"{kill}: the step does not change the model"
    expected = new if kill.point in AFTER_COMMIT else old
    assert state[kill.model] == expected[kill.model], (
        f"after {kill}: {kill.model} is not the {'new' if expected is new else 'old'} table"
    )


def _check_keys(project: Path) -> None:
    lake = Lake.open(project)
    for name, keys in KEYS.items():
        columns = ", ".join(keys)
        found = lake.query_table(
            f"SELECT {columns}, count(*) AS n FROM {name} GROUP BY ALL HAVING count(*) > 1"
        )
        assert found.num_rows == 0, f"{name} has duplicate keys: {found.to_pylist()[:3]}"


def test_kill_9_inside_increments_leaves_old_or_new_and_the_rerun_converges(
    tmp_path: Path,
) -> None:
    make_source(tmp_path / "shop.sqlite")
    shop = Shop(tmp_path / "shop.sqlite")
    for op in [
        *(("order", day, 10 + day, 1 + day % 3) for day in range(6)),
        *(("order", day, 20 + day, 1 + day % 2) for day in range(6)),
        *(("line", pick, 1 + pick % 5) for pick in range(16)),
    ]:
        shop.apply(op)
    victim = make_project(tmp_path / "victim", shop.path)
    rebuilt = make_project(tmp_path / "rebuilt", shop.path)
    run_ok(victim)
    run_ok(rebuilt, full_refresh=True)
    old = tables_of(rebuilt)
    assert tables_of(victim) == old
    assert set(KEYS) == set(MODELS)
    kills = 0
    for step, group in enumerate(STEPS):
        for op in _changes(step):
            shop.apply(op)
        run_ok(rebuilt, full_refresh=True)
        new = tables_of(rebuilt)
        for kill in group:
            _killed_run(victim, kill)
            kills += 1
            _check_readable(victim, old, new, kill)
        run_ok(victim)
        assert tables_of(victim) == new, f"the rerun after {group} did not converge"
        _check_keys(victim)
        old = new
    runs = Lake.open(victim).metadata.runs(200)
    assert sum(r["status"] == "killed" for r in runs) == kills
    assert not any(r["status"] == "running" for r in runs)
