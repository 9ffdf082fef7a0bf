"""Diff capture and raw retention with the lake on S3-compatible storage (a moto server):
the batch files and the comparison state live in the bucket, the previous state is read
back from it, and retention deletes expired batches' objects."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from batchlake.capture import open_source
from batchlake.capture.ingest import IngestResult, ingest_entity
from batchlake.lake import Lake
from batchlake.ops.maintenance import Policy, maintain
from tests.support.scale_helpers import CREDENTIALS, S3Server, moto_server, storage_block

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUCKET = "diff-lake"


@pytest.fixture
def s3() -> Iterator[S3Server]:
    pytest.importorskip("moto")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        with moto_server() as server:
            server.create_bucket(BUCKET)
            yield server


def capture(root: Path) -> IngestResult:
    lake = Lake.open(root)
    source = open_source(lake.project, "shop")
    try:
        return ingest_entity(source, "items", storage=lake.storage, metadata=lake.metadata)
    finally:
        source.close()


def test_diff_and_retention_on_s3(s3: S3Server, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    root.mkdir()
    db = sqlite3.connect(root / "shop.sqlite")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO items VALUES (?, ?)", [(i, f"n{i}") for i in range(1, 11)])
    db.commit()
    (root / "batchlake.toml").write_text(
        'name = "s3diff"\n'
        + storage_block(s3.endpoint, f"s3://{BUCKET}/lake")
        + '[sources.shop]\ntype = "sql"\nurl = "sqlite:///shop.sqlite"\nraw_keep_batches = 1\n'
        '[sources.shop.entities.items]\nmode = "diff"\nprimary_key = ["id"]\n'
    )
    assert capture(root).rows == 10
    db.execute("UPDATE items SET name = 'x' WHERE id = 2")
    db.execute("DELETE FROM items WHERE id = 3")
    db.commit()
    second = capture(root)
    assert second.changes is not None
    assert (second.changes.inserted, second.changes.updated, second.changes.deleted) == (0, 1, 1)
    assert capture(root).status == "unchanged"  # the state read back from the bucket
    rows = Lake.open(root).query_table(
        f"SELECT id, name, _deleted FROM raw.shop.items WHERE _batch_id = '{second.batch_id}' "
        "ORDER BY id"
    )
    assert rows.to_pylist() == [
        {"id": 2, "name": "x", "_deleted": False},
        {"id": 3, "name": None, "_deleted": True},
    ]
    keys = [k for k in s3.keys(BUCKET, "lake/raw/") if not k.endswith("/")]
    states = [k for k in keys if "/_state/" in k]
    assert len(states) == 1 and states[0].endswith(f"{second.batch_id}.parquet")
    assert not (root / "lake").exists()

    lake = Lake.open(root)
    first = lake.metadata.batches("shop", "items")[0]
    report = maintain(lake, ["raw.shop.items"], policy=Policy(grace=timedelta(0)))[0]
    assert report.batches_expired == 1
    keys = [k for k in s3.keys(BUCKET, "lake/raw/") if not k.endswith("/")]
    assert not any(first.batch_id in k for k in keys)
    assert sorted(keys) == sorted(
        [f"lake/raw/shop/items/_state/{second.batch_id}.parquet"]
        + [k for k in keys if k.endswith(f"{second.batch_id}.parquet") and "_state" not in k]
    )
    db.close()
