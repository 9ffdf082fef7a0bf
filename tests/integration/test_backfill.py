"""`batchlake backfill`: re-capture a cursor window of an incremental entity."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from batchlake.lake import Lake
from tests.support.cli import batchlake


def make(root: Path) -> Path:
    root.mkdir(parents=True)
    db = sqlite3.connect(root / "app.sqlite")
    db.execute("CREATE TABLE events (id INTEGER, value TEXT)")
    db.executemany("INSERT INTO events VALUES (?, ?)", [(i, f"v{i}") for i in range(1, 11)])
    db.commit()
    db.close()
    (root / "batchlake.toml").write_text(
        'name = "app"\n\n[sources.app]\ntype = "sql"\nurl = "sqlite:///app.sqlite"\n\n'
        '[sources.app.entities.events]\nmode = "incremental"\ncursor = "id"\n'
    )
    return root


def sql(root: Path, statement: str) -> None:
    db = sqlite3.connect(root / "app.sqlite")
    db.execute(statement)
    db.commit()
    db.close()


def batch_rows(lake: Lake, path: str) -> list[tuple[int, str]]:
    table = lake.query_table(f"SELECT id, value FROM read_parquet('{path}') ORDER BY id")
    return list(zip(table.column("id").to_pylist(), table.column("value").to_pylist(), strict=True))


def test_backfill_recaptures_the_window_and_leaves_the_cursor(tmp_path: Path) -> None:
    root = make(tmp_path / "lake")
    batchlake("ingest", "app", "-p", str(root))
    sql(root, "UPDATE events SET value = value || '-fixed' WHERE id BETWEEN 3 AND 5")
    out = batchlake("backfill", "app.events", "--from", "3", "--to", "5", "-p", str(root))
    assert "success" in out.stderr
    lake = Lake.open(root)
    batches = lake.metadata.batches("app", "events")
    assert [b.rows for b in batches] == [10, 3]
    assert batch_rows(lake, str(batches[1].path)) == [(i, f"v{i}-fixed") for i in (3, 4, 5)]
    assert (batches[1].cursor_from, batches[1].cursor_to) == ("3", "5")
    assert lake.metadata.entity_state("app", "events")[0] == "10"  # the cursor did not move
    sql(root, "INSERT INTO events VALUES (11, 'v11')")
    batchlake("ingest", "app", "-p", str(root))
    last = Lake.open(root).metadata.batches("app", "events")[-1]
    assert batch_rows(lake, str(last.path)) == [(11, "v11")]
    run = lake.metadata.runs(2)[1]
    assert run["command"] == "backfill app.events [3, 5]"


def test_backfill_explains_what_it_cannot_do(tmp_path: Path) -> None:
    root = make(tmp_path / "lake")
    (root / "batchlake.toml").write_text(
        (root / "batchlake.toml").read_text() + '\n[sources.app.entities.other]\nmode = "full"\n'
    )
    out = batchlake(
        "backfill", "app.other", "--from", "1", "--to", "2", "-p", str(root), check=False
    )
    assert out.returncode == 1 and "app.other is not incremental" in out.stderr
    out = batchlake("backfill", "nope", "--from", "1", "--to", "2", "-p", str(root), check=False)
    assert out.returncode == 1 and "no source 'nope'" in out.stderr
