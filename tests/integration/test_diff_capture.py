"""Diff capture of SQL tables (SQLite, PostgreSQL, MariaDB): after random inserts, updates
and deletes in the source, each raw batch holds exactly the changes an independent
comparison of the source's snapshots finds; tombstones for deletes; nothing when nothing
changed; a killed capture reruns without losing or repeating a change."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchlake.capture import open_source
from batchlake.capture.ingest import IngestResult, ingest_entity
from batchlake.errors import ConfigError, SourceError
from batchlake.lake import Lake
from batchlake.ops.maintenance import Policy, maintain
from tests.integration.test_sql_capture import fresh_mariadb, fresh_pg
from tests.support.cli import batchlake

Row = tuple[Any, ...]  # (name, qty, price) by id

DDL = {
    "sqlite": "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL)",
    "postgres": "CREATE TABLE items (id integer PRIMARY KEY, name varchar(40), qty integer, "
    "price numeric(10, 2))",
    "mariadb": "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), qty INT, "
    "price DECIMAL(10, 2))",
}


class Database:
    """A source database the test changes and reads back, with its own driver."""

    def __init__(self, kind: str, url: str, connect: Callable[[], Any], mark: str) -> None:
        self.kind, self.url, self.connect, self.mark = kind, url, connect, mark

    def execute(self, sql: str, rows: list[tuple[Any, ...]] | None = None) -> None:
        conn = self.connect()
        try:
            cursor = conn.cursor()
            sql = sql.replace("?", self.mark)
            if rows is None:
                cursor.execute(sql)
            elif rows:
                cursor.executemany(sql, rows)
            conn.commit()
        finally:
            conn.close()

    def snapshot(self) -> dict[int, Row]:
        conn = self.connect()
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT id, name, qty, price FROM items")
            return {r[0]: (r[1], r[2], _number(r[3])) for r in cursor.fetchall()}
        finally:
            conn.close()


def _number(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal | float | int) and value is not None else value


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    kind = request.param
    if kind == "sqlite":
        path = tmp_path / "shop.sqlite"
        db = Database(kind, f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
    elif kind == "postgres":
        url = fresh_pg("batchlake_diff")
        import psycopg

        db = Database(kind, url, lambda: psycopg.connect(url), "%s")
    else:
        fresh_mariadb("batchlake_diff").close()
        import pymysql

        db = Database(
            kind,
            "mysql://root@127.0.0.1:3306/batchlake_diff",
            lambda: pymysql.connect(
                host="127.0.0.1", user="root", password="", database="batchlake_diff"
            ),
            "%s",
        )
    db.execute(DDL[kind])
    yield db


def make_project(root: Path, url: str, entity_toml: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "batchlake.toml").write_text(
        textwrap.dedent(
            f"""\
            name = "diff"
            [sources.src]
            type = "sql"
            url = "{url}"
            tables = ["items"]
            [sources.src.entities.items]
            mode = "diff"
            primary_key = ["id"]
            """
        )
        + entity_toml
    )
    return root


def capture(root: Path, entity: str = "items", *, full_refresh: bool = False) -> IngestResult:
    lake = Lake.open(root)
    source = open_source(lake.project, "src")
    try:
        return ingest_entity(
            source, entity, storage=lake.storage, metadata=lake.metadata, full_refresh=full_refresh
        )
    finally:
        source.close()
        lake.metadata.dispose()


def batch_rows(root: Path, batch_id: str) -> list[dict[str, Any]]:
    table = Lake.open(root).query_table(
        "SELECT id, name, qty, price, _deleted FROM raw.src.items "
        f"WHERE _batch_id = '{batch_id}' ORDER BY id"
    )
    return table.to_pylist()


def expected_diff(
    before: dict[int, Row], after: dict[int, Row]
) -> tuple[set[int], set[int], set[int]]:
    """Inserted, updated and deleted keys, computed from two snapshots in Python."""
    inserted = set(after) - set(before)
    deleted = set(before) - set(after)
    updated = {k for k in set(after) & set(before) if after[k] != before[k]}
    return inserted, updated, deleted


def mutate(db: Database, rng: random.Random, current: dict[int, Row], next_id: int) -> int:
    """A random round of inserts, updates (some to the same value), deletes; or none."""
    if rng.random() < 0.2:
        return next_id  # an unchanged source
    keys = sorted(current)
    news = [
        (next_id + i, f"n{next_id + i}", rng.randint(0, 9), rng.randint(0, 9999) / 100)
        for i in range(rng.randint(0, 5))
    ]
    db.execute("INSERT INTO items VALUES (?, ?, ?, ?)", news)
    for key in rng.sample(keys, min(len(keys), rng.randint(0, 6))):
        change = rng.choice(["name", "null", "qty", "price", "same"])
        if change == "name":
            db.execute("UPDATE items SET name = ? WHERE id = ?", [(f"r{rng.random():.4f}", key)])
        elif change == "null":
            db.execute("UPDATE items SET name = NULL WHERE id = ?", [(key,)])
        elif change == "qty":
            db.execute("UPDATE items SET qty = qty + 1 WHERE id = ?", [(key,)])
        elif change == "price":
            db.execute("UPDATE items SET price = ? WHERE id = ?", [(rng.randint(0, 99) / 4, key)])
        else:
            db.execute("UPDATE items SET qty = qty WHERE id = ?", [(key,)])  # no real change
    gone = rng.sample(keys, min(len(keys), rng.randint(0, 3)))
    db.execute("DELETE FROM items WHERE id = ?", [(k,) for k in gone])
    return next_id + len(news)


def check_batch(
    root: Path, result: IngestResult, before: dict[int, Row], after: dict[int, Row]
) -> None:
    inserted, updated, deleted = expected_diff(before, after)
    if not (inserted or updated or deleted):
        assert result.status == "unchanged", result
        return
    assert result.status == "written", result
    assert result.changes is not None
    assert (result.changes.inserted, result.changes.updated, result.changes.deleted) == (
        len(inserted),
        len(updated),
        len(deleted),
    )
    rows = batch_rows(root, result.batch_id)
    live = {r["id"]: (r["name"], r["qty"], _number(r["price"])) for r in rows if not r["_deleted"]}
    assert live == {k: after[k] for k in inserted | updated}
    tombstones = [r for r in rows if r["_deleted"]]
    assert {r["id"] for r in tombstones} == deleted
    assert all(r["name"] is None and r["qty"] is None and r["price"] is None for r in tombstones)


def rebuilt(root: Path) -> dict[int, Row]:
    """The entity as a key-merging model rebuilds it from every raw batch."""
    table = Lake.open(root).query_table(
        "SELECT id, name, qty, price FROM (SELECT *, row_number() OVER "
        "(PARTITION BY id ORDER BY _batch_id DESC) AS n FROM raw.src.items) "
        "WHERE n = 1 AND NOT _deleted"
    )
    return {r["id"]: (r["name"], r["qty"], _number(r["price"])) for r in table.to_pylist()}


def test_batches_hold_exactly_the_changes(database: Database, tmp_path: Path) -> None:
    rng = random.Random(15)
    start = [(i, f"n{i}", i % 7, i / 4) for i in range(1, 201)]
    database.execute("INSERT INTO items VALUES (?, ?, ?, ?)", start)
    root = make_project(tmp_path / "lake", database.url)
    before: dict[int, Row] = {}
    next_id = 201
    statuses = []
    for _ in range(6 if database.kind == "sqlite" else 4):
        after = database.snapshot()
        result = capture(root)
        if not before:  # the first capture: every row, no tombstone
            assert result.status == "written" and result.changes is not None
            assert (result.changes.inserted, result.changes.deleted) == (200, 0)
        check_batch(root, result, before, after)
        statuses.append(result.status)
        before = after
        next_id = mutate(database, rng, after, next_id)
    assert rebuilt(root) == before
    # Unchanged source: nothing written, no new file.
    lake = Lake.open(root)
    files = sorted(str(p) for p in (root / "lake" / "raw").rglob("*.parquet"))
    after = database.snapshot()
    result = capture(root)
    check_batch(root, result, before, after)
    if result.status == "unchanged":
        again = capture(root)
        assert again.status == "unchanged" and again.rows == 0
        assert sorted(str(p) for p in (root / "lake" / "raw").rglob("*.parquet")) == files
    manifest = lake.metadata.batches("src", "items", status=None)
    assert {b.status for b in manifest} <= {"written", "unchanged"}
    assert all(b.state_path for b in manifest)
    # One current state file: the superseded ones were deleted after each switch.
    states = list((root / "lake" / "raw" / "src" / "items" / "_state").iterdir())
    assert [str(p) for p in states] == [lake.metadata.diff_state("src", "items")]


def test_full_refresh_rewrites_every_row_and_the_deletes(tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite"
    db = Database("sqlite", f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
    db.execute(DDL["sqlite"])
    db.execute("INSERT INTO items VALUES (?, ?, ?, ?)", [(i, "a", i, 1.0) for i in range(1, 6)])
    root = make_project(tmp_path / "lake", db.url)
    capture(root)
    db.execute("DELETE FROM items WHERE id = 5")
    result = capture(root, full_refresh=True)
    assert result.changes is not None
    assert (result.changes.inserted, result.changes.updated, result.changes.deleted) == (0, 4, 1)
    rows = batch_rows(root, result.batch_id)
    assert [(r["id"], r["_deleted"]) for r in rows] == [(i, i == 5) for i in range(1, 6)]
    assert capture(root).status == "unchanged"


def test_composite_key_and_key_errors(tmp_path: Path) -> None:
    path = tmp_path / "shop.sqlite"
    db = Database("sqlite", f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
    db.execute("CREATE TABLE Lines (OrderId INTEGER, LineNo INTEGER, Amount REAL, Note TEXT)")
    db.execute("INSERT INTO Lines VALUES (?, ?, ?, ?)", [(1, 1, 2.0, "x"), (1, 2, 3.0, None)])
    root = tmp_path / "lake"
    root.mkdir()

    def configure(key: str) -> None:
        (root / "batchlake.toml").write_text(
            f'name = "diff"\n[sources.src]\ntype = "sql"\nurl = "{db.url}"\n'
            f'[sources.src.entities.Lines]\nmode = "diff"\nprimary_key = {key}\n'
        )

    configure('["OrderId", "line_no"]')  # as in the source, or as in the lake
    assert capture(root, "lines").rows == 2
    db.execute("UPDATE Lines SET Note = 'y' WHERE LineNo = 2")
    db.execute("INSERT INTO Lines VALUES (?, ?, ?, ?)", [(2, 1, 1.0, None)])
    result = capture(root, "lines")
    assert result.changes is not None and (result.changes.inserted, result.changes.updated) == (
        1,
        1,
    )
    configure('["order_id"]')  # the key changed: refused, with what to do
    with pytest.raises(ConfigError, match=r"primary_key.*--full-refresh"):
        capture(root, "lines")
    db.execute("INSERT INTO Lines VALUES (?, ?, ?, ?)", [(3, 1, 1.0, None)])
    with pytest.raises(SourceError, match=r"not unique \(repeated: 1\).*entities.Lines"):
        capture(root, "lines", full_refresh=True)
    configure('["line_number"]')
    with pytest.raises(ConfigError, match="'line_number', which is not a column"):
        capture(root, "lines")
    configure('["note"]')
    with pytest.raises(SourceError, match=r"NULL in the primary key.*primary_key"):
        capture(root, "lines", full_refresh=True)
    (root / "batchlake.toml").write_text(
        f'name = "diff"\n[sources.src]\ntype = "sql"\nurl = "{db.url}"\n'
        '[sources.src.entities.Lines]\nmode = "diff"\n'
    )
    failed = batchlake("ingest", "src", "-p", str(root), check=False)
    assert failed.returncode == 2
    assert "sources.src.entities.Lines" in failed.stderr and "primary_key" in failed.stderr


# -- a capture killed between its steps ----------------------------------------------------

KILLER = """
import os, signal, sys
from batchlake.capture import diff, open_source
from batchlake.capture.ingest import ingest_entity
from batchlake.lake import Lake
from batchlake.metadata import MetadataStore

point = sys.argv[2]
def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

publish, calls = diff.publish, []
def publish_then(storage, local, final):
    calls.append(final)
    if point == "before_state" and len(calls) == 2:
        die()
    return publish(storage, local, final)

if point == "compare":
    diff._Diff._compare = die
elif point == "before_record":
    MetadataStore.record_batch = die
elif point == "before_retire":
    diff.retire_state = die
diff.publish = publish_then
lake = Lake.open(sys.argv[1])
ingest_entity(open_source(lake.project, "src"), "items", storage=lake.storage,
              metadata=lake.metadata)
"""


@pytest.mark.parametrize("point", ["compare", "before_state", "before_record", "before_retire"])
def test_killed_capture_neither_loses_nor_repeats_a_change(tmp_path: Path, point: str) -> None:
    path = tmp_path / "shop.sqlite"
    db = Database("sqlite", f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
    db.execute(DDL["sqlite"])
    db.execute("INSERT INTO items VALUES (?, ?, ?, ?)", [(i, "a", i, 1.0) for i in range(1, 21)])
    root = make_project(tmp_path / "lake", db.url)
    first = db.snapshot()
    capture(root)
    db.execute("UPDATE items SET name = 'b' WHERE id <= 3")
    db.execute("DELETE FROM items WHERE id IN (19, 20)")
    db.execute("INSERT INTO items VALUES (?, ?, ?, ?)", [(21, "c", 1, 2.0)])
    second = db.snapshot()
    script = tmp_path / "killer.py"
    script.write_text(KILLER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, str(script), str(root), point], env=env, capture_output=True, text=True
    )
    assert killed.returncode == -9, killed.stderr
    lake = Lake.open(root)
    recorded = lake.metadata.batches("src", "items", status=None)
    rerun = capture(root)
    batches = lake.metadata.batches("src", "items")
    if point == "before_retire":  # the batch was recorded: the rerun finds nothing new
        assert len(recorded) == 2 and rerun.status == "unchanged"
        check_batch(root, _as_result(batches[-1]), first, second)
    else:  # nothing was recorded: the rerun finds the same changes, once
        assert len(recorded) == 1
        check_batch(root, rerun, first, second)
    assert len(batches) == 2
    assert rebuilt(root) == second
    # What the killed capture left (files never recorded, a superseded state) is orphaned:
    # maintenance deletes it, and the lake reads the same.
    maintain(lake, policy=Policy(grace=timedelta(0)))
    files = {str(p) for p in (root / "lake" / "raw").rglob("*") if p.is_file()}
    assert files == {b.path for b in batches} | {lake.metadata.diff_state("src", "items")}
    assert rebuilt(root) == second
    assert capture(root).status == "unchanged"


def _as_result(batch: Any) -> IngestResult:
    from batchlake.capture.diff import Changes

    return IngestResult(
        batch.source,
        batch.entity,
        batch.batch_id,
        batch.status,
        batch.rows,
        batch.bytes,
        0.0,
        changes=Changes(batch.inserted, batch.updated, batch.deleted),
    )


def test_a_new_hash_function_rewrites_rows_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A DuckDB whose `hash` differs from the state's: every kept row is written as updated
    once (correct, only larger), then captures compare normally again."""
    from batchlake.capture import diff

    path = tmp_path / "shop.sqlite"
    db = Database("sqlite", f"sqlite:///{path}", lambda: sqlite3.connect(path), "?")
    db.execute(DDL["sqlite"])
    db.execute("INSERT INTO items VALUES (?, ?, ?, ?)", [(i, "a", i, 1.0) for i in range(1, 6)])
    root = make_project(tmp_path / "lake", db.url)
    capture(root)
    monkeypatch.setattr(diff, "_PROBE", "SELECT 12345")  # as if DuckDB's hash had changed
    db.execute("DELETE FROM items WHERE id = 1")
    result = capture(root)
    assert result.changes is not None
    assert (result.changes.inserted, result.changes.updated, result.changes.deleted) == (0, 4, 1)
    assert capture(root).status == "unchanged"
    assert rebuilt(root) == db.snapshot()
