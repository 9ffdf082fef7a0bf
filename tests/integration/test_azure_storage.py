"""The whole Chinook pipeline on Azure Blob Storage (Azurite, the emulator, on loopback).

Raw batches and the Iceberg warehouse live in a container reached through `[storage]`
(`abfs://` root, a connection string in a named variable); DuckDB reads and writes them
through its azure extension. Every trusted and refined table must equal a build of the
same source on local disk. Maintenance and doctor's storage checks run against it too.
Azurite comes from npm (tests/support/azurite.py): without it (and without npm) these
tests skip, and fail under BATCHLAKE_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from batchlake.lake import Lake
from batchlake.ops.storage_checks import storage_checks
from batchlake.run.runner import Runner
from tests.conftest import unavailable
from tests.support.azurite import (
    ACCOUNT,
    ACCOUNT_KEY,
    CONNECTION_VAR,
    KEY_VAR,
    AzuriteServer,
    AzuriteUnavailable,
    azure_storage_block,
    azurite_server,
)
from tests.support.cli import batchlake
from tests.support.scale_helpers import (
    chinook_project,
    generated_source,
    json_rows,
    table_rows_by_files,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CONTAINER = "lake"
INVOICES = 120


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteServer]:
    try:
        with (
            azurite_server(tmp_path_factory.mktemp("azurite")) as server,
            pytest.MonkeyPatch.context() as mp,
        ):
            mp.setenv(CONNECTION_VAR, server.connection_string)
            mp.setenv(KEY_VAR, ACCOUNT_KEY)
            for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_KEY"):
                mp.delenv(name, raising=False)
            server.create_container(CONTAINER)
            yield server
    except AzuriteUnavailable as exc:
        unavailable(str(exc))


@pytest.fixture(scope="module")
def builds(azurite: AzuriteServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(project on Azure, the same project on local disk), both run once."""
    base = tmp_path_factory.mktemp("azure-chinook")
    source = generated_source(base, invoices=INVOICES, seed=7)
    on_azure = chinook_project(
        base / "azure", source, storage=azure_storage_block(f"az://{CONTAINER}/chinook")
    )
    local = chinook_project(base / "local", source)
    for project in (on_azure, local):
        result = Runner(Lake.open(project)).run()
        failed = [(s.name, s.message) for s in result.steps if s.status != "success"]
        assert result.ok, f"the run in {project.name} failed: {failed[:3]}"
    return on_azure, local


def _iceberg_tables(lake: Lake) -> list[str]:
    return sorted(n for n in lake.catalog.table_names() if not n.startswith("raw."))


def test_zones_live_in_the_container(azurite: AzuriteServer, builds: tuple[Path, Path]) -> None:
    project, _ = builds
    blobs = azurite.blobs(CONTAINER, "chinook/")
    raw = [b for b in blobs if b.startswith("chinook/raw/chinook/invoice_line/ingest_date=")]
    assert raw and all(b.endswith(".parquet") for b in raw)
    for zone in ("trusted", "refined"):
        data = [b for b in blobs if b.startswith(f"chinook/warehouse/{zone}/") and "/data/" in b]
        meta = [
            b for b in blobs if b.startswith(f"chinook/warehouse/{zone}/") and "/metadata/" in b
        ]
        assert data and meta, f"no Iceberg data or metadata files for the {zone} zone in Azure"
    assert not (project / "lake").exists(), "a local lake folder was written"
    lake = Lake.open(project)
    assert lake.storage.root == f"abfs://{CONTAINER}/chinook"  # az:// is written as abfs://
    info = lake.catalog.info("refined.sales_by_day")
    assert info.location.startswith(f"abfs://{CONTAINER}/chinook/warehouse/refined/")


def test_tables_equal_a_local_disk_build(builds: tuple[Path, Path]) -> None:
    on_azure, local = Lake.open(builds[0]), Lake.open(builds[1])
    names = _iceberg_tables(on_azure)
    assert names == _iceberg_tables(local) and len(names) >= 5
    for name in names:  # the files, read back with pyarrow alone
        assert table_rows_by_files(on_azure, name) == table_rows_by_files(local, name), name
    # ... and SQL through DuckDB's azure extension (az://), raw entities included.
    for sql in (
        "SELECT * FROM refined.sales_by_day ORDER BY ALL",
        "SELECT count(*) AS n, sum(quantity) AS q FROM raw.chinook.invoice_line",
    ):
        assert json_rows(on_azure, sql) == json_rows(local, sql), sql


def test_rerun_on_azure_is_unchanged(azurite: AzuriteServer, builds: tuple[Path, Path]) -> None:
    project, _ = builds
    before = set(azurite.blobs(CONTAINER, "chinook/"))
    result = Runner(Lake.open(project)).run()
    assert result.ok
    assert {s.status for s in result.steps} <= {"unchanged", "duplicate"}
    written = set(azurite.blobs(CONTAINER, "chinook/")) - before
    assert {b for b in written if b.endswith(".parquet")} == set()


def test_maintain_on_azure(azurite: AzuriteServer, builds: tuple[Path, Path]) -> None:
    """`batchlake maintain` deletes an orphan, expires snapshots; the tables stay equal."""
    project, local = builds
    lake = Lake.open(project)
    location = lake.catalog.table_location("trusted.invoices")
    orphan = f"{location.split('://', 1)[1]}/data/orphan-of-a-failed-write.parquet"
    fs = azurite.filesystem()
    with fs.open_output_stream(orphan) as out:
        out.write(b"not referenced by any snapshot")
    batchlake(
        "maintain", "-p", str(project), "--grace-hours", "0", "--retain-days", "0", "--keep", "1"
    )
    assert fs.get_file_info(orphan).type.name == "NotFound"
    after = Lake.open(project)
    for name in _iceberg_tables(after):
        assert len(after.catalog.load(name).metadata.snapshots) == 1, name
        assert table_rows_by_files(after, name) == table_rows_by_files(Lake.open(local), name)


# --------------------------------------------------------------------------- storage checks


def _lake_with_storage(directory: Path, storage: str) -> Lake:
    directory.mkdir(parents=True)
    (directory / "batchlake.toml").write_text(f'name = "probe"\n\n{storage}')
    return Lake.open(directory)


def test_storage_checks_pass_with_account_key_and_endpoint(
    azurite: AzuriteServer, tmp_path: Path
) -> None:
    storage = azure_storage_block(
        f"abfs://{CONTAINER}/probe", endpoint=azurite.blob_endpoint, key=True
    )
    results = storage_checks(_lake_with_storage(tmp_path / "p", storage))
    assert [(r.name, r.ok) for r in results] == [
        ("storage reachable", True),
        ("storage write/read/delete", True),
    ]
    assert f"container '{CONTAINER}' at {azurite.blob_endpoint}" in results[0].detail
    assert azurite.blobs(CONTAINER, "probe/") == [], "probe left behind"


def test_doctor_names_the_missing_container(azurite: AzuriteServer, tmp_path: Path) -> None:
    project = tmp_path / "p"
    _lake_with_storage(project, azure_storage_block("abfs://no-such-container/x"))
    result = batchlake("doctor", "-p", str(project), check=False)
    assert result.returncode == 1
    text = result.stdout + result.stderr
    assert "container 'no-such-container' does not exist" in text
    assert "create the container 'no-such-container' or fix storage.root" in text


def test_storage_checks_name_an_unreachable_endpoint(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}/{ACCOUNT}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_VAR, ACCOUNT_KEY)
        storage = azure_storage_block(f"abfs://{CONTAINER}/x", endpoint=endpoint, key=True)
        (result,) = storage_checks(_lake_with_storage(tmp_path / "p", storage))
    assert not result.ok
    assert result.fix is not None and endpoint in result.fix and "reachable" in result.fix


def test_storage_checks_name_a_wrong_key(azurite: AzuriteServer, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_VAR, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=")
        storage = azure_storage_block(
            f"abfs://{CONTAINER}/x", endpoint=azurite.blob_endpoint, key=True
        )
        results = storage_checks(_lake_with_storage(tmp_path / "p", storage))
    failed = [r for r in results if not r.ok]
    assert failed and failed[0].fix == f"fix the credentials (the account key in {KEY_VAR})"


def test_storage_checks_name_an_unset_connection_variable(
    azurite: AzuriteServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CONNECTION_VAR)
    lake = _lake_with_storage(tmp_path / "p", azure_storage_block(f"abfs://{CONTAINER}/x"))
    (result,) = storage_checks(lake)
    assert not result.ok
    assert result.fix is not None and f"export {CONNECTION_VAR}=" in result.fix


# ------------------------------------------------------------ one setting, every library


def test_duckdb_reads_the_lake_with_the_one_setting(
    azurite: AzuriteServer, builds: tuple[Path, Path]
) -> None:
    from batchlake.engines import connection

    lake = Lake.open(builds[0])
    raw = [
        b for b in azurite.blobs(CONTAINER, "chinook/raw/chinook/genre/") if b.endswith(".parquet")
    ]
    con = connection.connect()
    try:
        con.execute(connection.azure_secret_sql(lake.azure))
        (count,) = con.execute(
            f"SELECT count(*) FROM read_parquet('az://{CONTAINER}/{raw[0]}')"
        ).fetchone()
    finally:
        con.close()
    assert count == len(lake.query_table("SELECT * FROM raw.chinook.genre"))
    props = lake.catalog.iceberg.properties
    assert props["adls.account-name"] == ACCOUNT
    assert props["py-io-impl"] == "pyiceberg.io.pyarrow.PyArrowFileIO"
