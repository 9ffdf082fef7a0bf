"""Catalogs other than the default SQLite one, and readers other than batchlake.

The Chinook example is built with its Iceberg catalog on the real PostgreSQL
(`[catalog] type = "sql"`), on AWS Glue (moto's Glue API, with the warehouse in a moto S3
bucket) and on an Iceberg REST catalog (`tests/support/rest_catalog.py`, a test peer). A table
batchlake wrote is then read by PyIceberg alone (a fresh catalog object, no batchlake
code), by DuckDB's `iceberg_scan` and by Spark, and each reading is compared with the
independent oracle.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from batchlake.catalog.loader import catalog_properties
from batchlake.config import CatalogSettings
from batchlake.engines.connection import s3_secret_sql
from batchlake.errors import ConfigError
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from batchlake.storage.s3 import S3Options
from tests.conftest import require_service
from tests.support.oracle.chinook import refined_tables
from tests.support.oracle.compare import assert_same_rows, normalise
from tests.support.scale_helpers import (
    CREDENTIALS,
    S3Server,
    chinook_project,
    generated_source,
    moto_server,
    storage_block,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PG_DATABASE = "scale_catalog"
PG_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_DATABASE}"
TABLE = "sales_by_month"


def _json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from batchlake.serve.encode import json_value

    return [json_value(row) for row in rows]


def _check(source: Path, rows: list[dict[str, Any]], reader: str) -> None:
    expected = refined_tables(source)[TABLE]
    assert rows, f"{reader} read no rows"
    assert_same_rows(TABLE, normalise(TABLE, expected), normalise(TABLE, _json(rows)))


def _build(project: Path) -> Lake:
    lake = Lake.open(project)
    result = Runner(lake).run()
    assert result.ok, [(s.name, s.message) for s in result.steps if s.status != "success"][:3]
    return lake


def _duckdb_iceberg_scan(metadata_location: str, s3: S3Options | None = None) -> list[dict]:
    from batchlake.engines import connection

    con = connection.connect()
    try:
        if s3 is not None:
            con.execute(s3_secret_sql(s3))
        scan = f"SELECT * FROM iceberg_scan({connection.quote_literal(metadata_location)})"
        return con.execute(scan).fetch_arrow_table().to_pylist()
    finally:
        con.close()


def _spark_rows(lake: Lake) -> list[dict[str, Any]]:
    """The table as Spark reads it (the files PyIceberg plans through the lake's catalog)."""
    from batchlake.config import EngineSettings
    from batchlake.engines.spark import SparkEngine
    from tests.conftest import require_java

    require_java()
    engine = SparkEngine(EngineSettings.model_validate({"type": "spark", "master": "local[2]"}))
    try:
        rows: list[dict[str, Any]] = (
            engine.dataframe(lake.table_source(f"refined.{TABLE}")).toArrow().to_pylist()
        )
        return rows
    finally:
        engine.close()


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def pg_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lake, Path]]:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {PG_DATABASE}")
    base = tmp_path_factory.mktemp("pg-catalog")
    source = generated_source(base, invoices=200, seed=3)
    catalog = f'[catalog]\ntype = "sql"\nuri = "{PG_URL}"\n'
    lake = _build(chinook_project(base / "p", source, extra={"catalog": catalog}))
    yield lake, source
    lake.catalog.iceberg.engine.dispose()  # type: ignore[attr-defined]


def test_postgresql_catalog_holds_every_table(pg_lake: tuple[Lake, Path]) -> None:
    import psycopg

    lake, _ = pg_lake
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{PG_DATABASE}") as c:
        rows = c.execute(
            "SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = %s",
            ("batchlake",),
        ).fetchall()
    assert sorted(f"{ns}.{name}" for ns, name in rows) == lake.catalog.table_names()
    assert len(rows) == 26  # 21 SQL models + 5 outputs of the 2 Python steps


def test_postgresql_catalog_table_read_by_pyiceberg_alone(pg_lake: tuple[Lake, Path]) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    lake, source = pg_lake
    catalog = SqlCatalog("batchlake", uri=PG_URL, warehouse=lake.storage.warehouse)
    try:
        rows = catalog.load_table(("refined", TABLE)).scan().to_arrow().to_pylist()
    finally:
        catalog.engine.dispose()
    _check(source, rows, "PyIceberg")


def test_postgresql_catalog_table_read_by_duckdb_iceberg_scan(pg_lake: tuple[Lake, Path]) -> None:
    lake, source = pg_lake
    location = lake.catalog.load(f"refined.{TABLE}").metadata_location
    _check(source, _duckdb_iceberg_scan(location), "DuckDB iceberg_scan")


def test_postgresql_catalog_table_read_by_spark(pg_lake: tuple[Lake, Path]) -> None:
    lake, source = pg_lake
    _check(source, _spark_rows(lake), "Spark")


# --------------------------------------------------------------------------- AWS Glue (moto)


@pytest.fixture(scope="module")
def moto() -> Iterator[S3Server]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name, value in CREDENTIALS.items():
            mp.setenv(name, value)
        with moto_server() as server:
            server.create_bucket("scale-glue")
            yield server


@pytest.fixture(scope="module")
def glue_lake(moto: S3Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Path]:
    base = tmp_path_factory.mktemp("glue-catalog")
    source = generated_source(base, invoices=200, seed=3)
    project = chinook_project(
        base / "p",
        source,
        storage=storage_block(moto.endpoint, "s3://scale-glue/lake"),
        extra={"catalog": '[catalog]\ntype = "glue"\n'},
    )
    return _build(project), source


def test_glue_catalog_lists_the_tables_for_athena(
    moto: S3Server, glue_lake: tuple[Lake, Path]
) -> None:
    glue = moto.client("glue")
    tables = glue.get_tables(DatabaseName="refined")["TableList"]
    by_name = {t["Name"]: t for t in tables}
    assert len(by_name) == 13 and TABLE in by_name  # 8 SQL models + 5 Python-step outputs
    params = by_name[TABLE]["Parameters"]
    assert params["table_type"].upper() == "ICEBERG"
    assert params["metadata_location"].startswith("s3://scale-glue/lake/warehouse/refined/")


def test_glue_catalog_table_read_by_pyiceberg_alone(
    moto: S3Server, glue_lake: tuple[Lake, Path]
) -> None:
    from pyiceberg.catalog.glue import GlueCatalog

    _, source = glue_lake
    keys = {"glue.access-key-id": CREDENTIALS["SCALE_TEST_S3_KEY"]}
    secret = CREDENTIALS["SCALE_TEST_S3_SECRET"]
    catalog = GlueCatalog(
        "any",
        **keys,
        **{
            "glue.secret-access-key": secret,
            "glue.region": "us-east-1",
            "glue.endpoint": moto.endpoint,
            "s3.endpoint": moto.endpoint,
            "s3.access-key-id": keys["glue.access-key-id"],
            "s3.secret-access-key": secret,
            "s3.region": "us-east-1",
            "s3.force-virtual-addressing": "false",
        },
    )
    rows = catalog.load_table(("refined", TABLE)).scan().to_arrow().to_pylist()
    _check(source, rows, "PyIceberg on Glue")


def test_glue_catalog_table_read_by_duckdb_iceberg_scan_on_s3(
    glue_lake: tuple[Lake, Path],
) -> None:
    lake, source = glue_lake
    location = lake.catalog.load(f"refined.{TABLE}").metadata_location
    assert location.startswith("s3://")
    _check(source, _duckdb_iceberg_scan(location, lake.s3), "DuckDB iceberg_scan on S3")


# --------------------------------------------------------------------------- REST


@pytest.fixture(scope="module")
def rest_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lake, Path, str]]:
    """Chinook on the REST catalog test peer, built, then rebuilt in full by the CLI."""
    from tests.support.cli import batchlake
    from tests.support.rest_catalog import rest_catalog_server

    base = tmp_path_factory.mktemp("rest-catalog")
    with rest_catalog_server(base / "server") as uri:
        source = generated_source(base, invoices=200, seed=3)
        catalog = f'[catalog]\ntype = "rest"\nuri = "{uri}"\n'
        lake = _build(chinook_project(base / "p", source, extra={"catalog": catalog}))
        # Every table again, over existing ones: commits with requirements on a snapshot.
        batchlake("run", "--full-refresh", "-p", str(lake.project.root))
        yield lake, source, uri


def test_rest_catalog_holds_every_table_in_its_backing_store(
    rest_lake: tuple[Lake, Path, str],
) -> None:
    import sqlite3

    lake, _, uri = rest_lake
    db = sqlite3.connect(Path(lake.project.root).parent / "server" / "catalog.sqlite")
    try:
        rows = db.execute("SELECT table_namespace, table_name FROM iceberg_tables").fetchall()
    finally:
        db.close()
    assert sorted(f"{ns}.{name}" for ns, name in rows) == lake.catalog.table_names()
    assert len(rows) == 26  # 21 SQL models + 5 outputs of the 2 Python steps
    assert lake.catalog.iceberg.properties["uri"] == uri  # batchlake went through REST


def test_rest_catalog_table_read_by_pyiceberg_alone(rest_lake: tuple[Lake, Path, str]) -> None:
    from pyiceberg.catalog.rest import RestCatalog

    _, source, uri = rest_lake
    table = RestCatalog("any", uri=uri).load_table(("refined", TABLE))
    assert len(table.snapshots()) >= 2  # the full refresh replaced the first build's rows
    _check(source, table.scan().to_arrow().to_pylist(), "PyIceberg on REST")


def test_rest_catalog_table_read_by_duckdb_iceberg_scan(
    rest_lake: tuple[Lake, Path, str],
) -> None:
    from pyiceberg.catalog.rest import RestCatalog

    _, source, uri = rest_lake
    location = RestCatalog("any", uri=uri).load_table(("refined", TABLE)).metadata_location
    _check(source, _duckdb_iceberg_scan(location), "DuckDB iceberg_scan")


def test_rest_catalog_table_read_by_spark(rest_lake: tuple[Lake, Path, str]) -> None:
    lake, source, _ = rest_lake
    _check(source, _spark_rows(lake), "Spark on REST")


def test_rest_catalog_properties_carry_the_storage_setting() -> None:
    settings = CatalogSettings(type="rest", uri="https://catalog.example.com/api", warehouse="w")
    s3 = S3Options(endpoint="http://127.0.0.1:9000", region="eu-west-1", path_style=True)
    props = catalog_properties(settings, uri=settings.uri, warehouse="s3://b/w", s3=s3)
    assert props == {
        "uri": "https://catalog.example.com/api",
        "warehouse": "s3://b/w",
        "s3.region": "eu-west-1",
        "s3.endpoint": "http://127.0.0.1:9000",
        "s3.force-virtual-addressing": "false",
        "s3.path-style-access": "true",
    }


def test_rest_catalog_needs_an_http_uri() -> None:
    settings = CatalogSettings(type="rest")
    with pytest.raises(ConfigError, match=r"catalog\.uri .* is not an Iceberg REST endpoint"):
        catalog_properties(settings, uri=settings.uri, warehouse="w", s3=None)


def test_unreachable_rest_catalog_is_a_one_line_config_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "batchlake.toml").write_text(
        f'[catalog]\ntype = "rest"\nuri = "http://127.0.0.1:{port}/catalog"\n'
    )
    lake = Lake.open(tmp_path)
    with pytest.raises(ConfigError) as caught:
        lake.catalog.table_names()
    message = str(caught.value)
    assert f"cannot open the rest catalog at http://127.0.0.1:{port}/catalog" in message
    assert "check [catalog]" in message and "\n" not in message
