"""The whole Chinook pipeline on S3-compatible storage (a moto server on loopback).

Raw batches and the Iceberg warehouse live in a bucket; the only local files are the
project, its SQLite metadata and catalog. Results are checked against the independent
oracle (tests/support/oracle/chinook.py) computed from the SQLite source.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchlake.engines.connection import s3_secret_sql
from batchlake.lake import Lake
from batchlake.ops.storage_checks import storage_checks
from batchlake.run.runner import Runner
from tests.support.oracle.chinook import REFINED_TABLES, refined_tables
from tests.support.oracle.compare import assert_same_rows, normalise
from tests.support.scale_helpers import (
    CREDENTIALS,
    KEY_VAR,
    S3Server,
    chinook_project,
    generated_source,
    json_rows,
    moto_server,
    storage_block,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUCKET = "scale-lake"


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        with moto_server() as server:
            server.create_bucket(BUCKET)
            yield server


@pytest.fixture(scope="module")
def s3_lake(s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("s3-chinook")
    source = generated_source(base, invoices=300, seed=7)
    project = chinook_project(
        base / "project", source, storage=storage_block(s3.endpoint, f"s3://{BUCKET}/chinook")
    )
    result = Runner(Lake.open(project)).run()
    failed = [(s.name, s.message) for s in result.steps if s.status != "success"]
    assert result.ok, f"the run on S3 failed: {failed[:3]}"
    return project, source


def test_zones_live_in_the_bucket(s3: S3Server, s3_lake: tuple[Path, Path]) -> None:
    project, _ = s3_lake
    # pyarrow keeps empty "folder/" markers where it deleted a folder's last object.
    keys = [k for k in s3.keys(BUCKET, "chinook/") if not k.endswith("/")]
    raw = [k for k in keys if k.startswith("chinook/raw/chinook/invoice_line/ingest_date=")]
    assert raw and all(k.endswith(".parquet") for k in raw)
    for zone in ("trusted", "refined"):
        data = [k for k in keys if k.startswith(f"chinook/warehouse/{zone}/") and "/data/" in k]
        meta = [k for k in keys if k.startswith(f"chinook/warehouse/{zone}/") and "/metadata/" in k]
        assert data and meta, f"no Iceberg data or metadata files for the {zone} zone in S3"
    assert not (project / "lake").exists(), "a local lake folder was written"
    lake = Lake.open(project)
    info = lake.catalog.info("refined.sales_by_day")
    assert info.location.startswith(f"s3://{BUCKET}/chinook/warehouse/refined/")


def test_refined_tables_match_the_oracle(s3_lake: tuple[Path, Path]) -> None:
    project, source = s3_lake
    expected = refined_tables(source)
    lake = Lake.open(project)
    for table in REFINED_TABLES:
        got = json_rows(lake, f"SELECT * FROM refined.{table}")
        assert_same_rows(table, normalise(table, expected[table]), normalise(table, got))


def test_rerun_on_s3_is_unchanged(s3: S3Server, s3_lake: tuple[Path, Path]) -> None:
    project, _ = s3_lake
    before = set(s3.keys(BUCKET, "chinook/"))
    result = Runner(Lake.open(project)).run()
    assert result.ok
    assert {s.status for s in result.steps} <= {"unchanged", "duplicate"}
    after = set(s3.keys(BUCKET, "chinook/"))
    # A rerun writes no table data (captures are duplicates, models unchanged).
    assert {k for k in after - before if k.endswith(".parquet")} == set()


# --------------------------------------------------------------------------- storage checks


def _lake_with_storage(directory: Path, storage: str) -> Lake:
    directory.mkdir(parents=True)
    (directory / "batchlake.toml").write_text(f'name = "probe"\n\n{storage}')
    return Lake.open(directory)


def test_storage_checks_pass_on_a_writable_bucket(s3: S3Server, tmp_path: Path) -> None:
    lake = _lake_with_storage(tmp_path / "p", storage_block(s3.endpoint, f"s3://{BUCKET}/probe"))
    results = storage_checks(lake)
    assert [(r.name, r.ok) for r in results] == [
        ("storage reachable", True),
        ("storage write/read/delete", True),
    ]
    assert not [k for k in s3.keys(BUCKET, "probe/") if not k.endswith("/")], "probe left behind"


def test_storage_checks_name_the_missing_bucket(s3: S3Server, tmp_path: Path) -> None:
    lake = _lake_with_storage(tmp_path / "p", storage_block(s3.endpoint, "s3://no-such-bucket/x"))
    (result,) = storage_checks(lake)
    assert not result.ok
    assert result.fix == "create the bucket 'no-such-bucket' or fix storage.root"


def test_storage_checks_name_an_unreachable_endpoint(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    lake = _lake_with_storage(tmp_path / "p", storage_block(endpoint, f"s3://{BUCKET}/x"))
    (result,) = storage_checks(lake)
    assert not result.ok
    assert result.fix is not None and "storage.endpoint" in result.fix and endpoint in result.fix


def test_storage_checks_name_an_unset_credential_variable(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VAR)
    lake = _lake_with_storage(tmp_path / "p", storage_block(s3.endpoint, f"s3://{BUCKET}/x"))
    (result,) = storage_checks(lake)
    assert not result.ok
    assert result.fix is not None and f"export {KEY_VAR}=" in result.fix


def test_storage_checks_on_a_local_folder(tmp_path: Path) -> None:
    lake = _lake_with_storage(tmp_path / "p", '[storage]\nroot = "lake"\n')
    assert all(r.ok for r in storage_checks(lake))
    assert (tmp_path / "p" / "lake").is_dir()


# ------------------------------------------------------------ one setting, every library


def test_every_library_reaches_the_bucket_with_the_one_setting(
    s3: S3Server, s3_lake: tuple[Path, Path]
) -> None:
    import s3fs

    from batchlake.engines import connection

    project, _ = s3_lake
    lake = Lake.open(project)
    raw = f"{BUCKET}/chinook/raw/chinook/genre"
    # fsspec / s3fs
    fs = s3fs.S3FileSystem(**lake.s3.fsspec_options())
    listed = [p for p in fs.find(raw) if p.endswith(".parquet")]
    assert listed
    # boto3
    assert lake.s3.boto3_client().head_object(Bucket=BUCKET, Key=listed[0].split("/", 1)[1])
    # DuckDB httpfs, through the secret batchlake renders
    con = connection.connect()
    try:
        con.execute(s3_secret_sql(lake.s3))
        (count,) = con.execute(f"SELECT count(*) FROM read_parquet('s3://{listed[0]}')").fetchone()
    finally:
        con.close()
    assert count == len(lake.query_table("SELECT * FROM raw.chinook.genre"))
    # Spark: the s3a conf carries the same endpoint and keys (hadoop-aws is not offline here).
    conf = lake.s3.spark_conf()
    assert conf["spark.hadoop.fs.s3a.endpoint"] == s3.endpoint
    assert conf["spark.hadoop.fs.s3a.access.key"] == CREDENTIALS[KEY_VAR]
    assert conf["spark.hadoop.fs.s3a.path.style.access"] == "true"


def test_doctor_names_the_missing_bucket(s3: S3Server, tmp_path: Path) -> None:
    from tests.support.cli import batchlake

    project = tmp_path / "p"
    _lake_with_storage(project, storage_block(s3.endpoint, "s3://no-such-bucket/x"))
    result = batchlake("doctor", "-p", str(project), check=False)
    assert result.returncode == 1
    text = result.stdout + result.stderr
    assert "bucket 'no-such-bucket' does not exist" in text
    assert "create the bucket 'no-such-bucket' or fix storage.root" in text
