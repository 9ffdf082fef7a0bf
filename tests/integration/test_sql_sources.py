"""The Chinook project on real PostgreSQL and MariaDB copies of the store gives the same
refined tables as on the SQLite file (one behaviour suite, three source databases)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import dataset, require_service
from tests.support.cli import batchlake, table_rows
from tests.support.oracle.chinook import REFINED_TABLES

REFINED = REFINED_TABLES
TRUSTED_COMPARED = [
    "invoices",
    "invoice_lines",
    "customers",
    "employees",
    "tracks",
    "customer_employee_history",
]
DATABASE = "batchlake_chinook_test"


def load_postgres() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    script = dataset("chinook/Chinook_PostgreSql.sql").read_text(encoding="utf-8")
    # The script drops/creates a database named chinook and \c's into it: use our own.
    script = re.sub(r"(?im)^(DROP DATABASE|CREATE DATABASE|\\c ).*$", "", script)
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    url = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(script)  # type: ignore[arg-type]
    return url


def load_mariadb() -> str:
    require_service("MariaDB", "127.0.0.1", 3306)
    import pymysql
    from pymysql.constants import CLIENT

    script = dataset("chinook/Chinook_MySql.sql").read_text(encoding="utf-8")
    script = re.sub(r"(?im)^(DROP DATABASE|CREATE DATABASE|USE ).*$", "", script)
    conn = pymysql.connect(
        host="127.0.0.1",
        port=3306,
        user="root",
        password="",
        client_flag=CLIENT.MULTI_STATEMENTS,
        autocommit=True,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
            cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
            cursor.execute(f"USE {DATABASE}")
            # The script writes 'Rusticana \ Act' meaning a backslash, as standard SQL does.
            cursor.execute("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')")
            cursor.execute(script)
            while cursor.nextset():
                pass
    finally:
        conn.close()
    return f"mysql://root@127.0.0.1:3306/{DATABASE}"


@pytest.fixture(scope="module")
def sqlite_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = dataset("chinook/chinook.sqlite")
    project = tmp_path_factory.mktemp("sqlite") / "lake"
    batchlake("init", "--example", "chinook", str(project))
    batchlake("run", "-p", str(project), env={"CHINOOK_URL": f"sqlite:///{source}"})
    return project


@pytest.mark.parametrize("loader", [load_postgres, load_mariadb], ids=["postgresql", "mariadb"])
def test_same_tables_from_every_database(loader, sqlite_lake: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = loader()
    project = tmp_path / "lake"
    batchlake("init", "--example", "chinook", str(project))
    result = batchlake("run", "-p", str(project), env={"CHINOOK_URL": url})
    assert "raw.chinook.invoice_line" in result.stderr
    for name in [f"refined.{t}" for t in REFINED] + [f"trusted.{t}" for t in TRUSTED_COMPARED]:
        assert table_rows(project, name) == table_rows(sqlite_lake, name), name
    # The raw zone keeps the source's own types: PostgreSQL and MySQL numerics stay exact.
    from batchlake.lake import Lake

    schema = Lake.open(project).table_source("raw.chinook.invoice_line").schema
    assert str(schema.field("unit_price").type) == "decimal128(10, 2)"


def test_dead_source_fails_with_a_clear_message(tmp_path: Path) -> None:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    project = tmp_path / "lake"
    batchlake("init", "--example", "chinook", str(project))
    result = batchlake(
        "run",
        "-p",
        str(project),
        check=False,
        env={"CHINOOK_URL": "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"},
    )
    assert result.returncode != 0
    assert "cannot connect" in result.stderr and "sources.chinook.url" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
    missing = batchlake(
        "run",
        "-p",
        str(project),
        check=False,
        env={"CHINOOK_URL": f"sqlite:///{tmp_path}/nope.sqlite"},
    )
    assert "does not exist" in missing.stderr and missing.returncode != 0
