"""Every type of each relational source, column by column, against the real servers.

A scratch table holds one column per case of tests/support/type_cases.py (the data of
docs/types.md) and two rows: the case's value, and NULL (where the column allows it). The
capture must give each column the documented Arrow type, NOT NULL columns as required
fields, and the exact value back from the raw Parquet file. Then what PostgreSQL cannot
give exactly is refused naming the column, and `tables = "*"` is checked on Sakila.
The commands run in this process (tests.support.cli.batchlake_in_process): capture is
the subject here, not the CLI's process.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchlake.lake import Lake
from tests.conftest import dataset, require_program
from tests.integration.test_sql_capture import fresh_mariadb, fresh_pg, pg
from tests.support.cli import batchlake_in_process
from tests.support.type_cases import MARIADB, POSTGRES, POSTGRES_SETUP, SQLITE, Case


def _project(tmp_path: Path, url: str, extra: str = "") -> Path:
    folder = tmp_path / "lake"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "batchlake.toml").write_text(
        textwrap.dedent(f"""\
        name = "types"
        [sources.db]
        type = "sql"
        url = "{url}"
        """)
        + textwrap.dedent(extra)
    )
    return folder


def _raw(folder: Path, entity: str) -> pa.Table:
    """The latest raw batch of `raw.db.<entity>`, as written (Arrow types and values)."""
    files = Lake.open(folder).table_source(f"raw.db.{entity}").files
    return pq.read_table(files[-1])


def _ddl(cases: list[Case], quote: str) -> str:
    columns = [f"{quote}c{i}{quote} {c.column_ddl}" for i, c in enumerate(cases)]
    return ", ".join(
        [f"{quote}id{quote} INTEGER NOT NULL PRIMARY KEY", *columns],
    )


def _rows(cases: list[Case]) -> tuple[str, str]:
    """The VALUES of the row of values (id 1) and of the row of NULLs (id 2)."""
    values = ", ".join(["1", *(c.literal for c in cases)])
    nulls = ", ".join(["2", *(c.literal if c.required else "NULL" for c in cases)])
    return f"({values})", f"({nulls})"


def _check(table: pa.Table, cases: list[Case]) -> None:
    """Every column's Arrow type, nullability and values; all problems at once."""
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [1, 2]
    assert not table.schema.field("id").nullable  # the primary key is NOT NULL
    problems = []
    for i, case in enumerate(cases):
        field = table.schema.field(f"c{i}")
        got, null = rows[0][f"c{i}"], rows[1][f"c{i}"]
        if str(field.type) != case.arrow:
            problems.append(f"{case.declared}: Arrow type {field.type}, documented {case.arrow}")
        if field.nullable == case.required:
            problems.append(f"{case.declared}: nullable={field.nullable}")
        if got != case.value or type(got) is not type(case.value):
            problems.append(f"{case.declared}: read {got!r}, expected {case.value!r}")
        if not case.required and null is not None:
            problems.append(f"{case.declared}: NULL read as {null!r}")
    assert not problems, "\n".join(problems)


def test_postgresql_every_type(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_every_type")
    for statement in POSTGRES_SETUP:
        pg(url, statement)
    pg(url, f"CREATE TABLE every ({_ddl(POSTGRES, chr(34))})")
    values, nulls = _rows(POSTGRES)
    pg(url, f"INSERT INTO every VALUES {values}, {nulls}")
    folder = _project(tmp_path, url)
    batchlake_in_process("ingest", "db", "-p", str(folder))
    _check(_raw(folder, "every"), POSTGRES)
    described = json.loads(
        batchlake_in_process(
            "catalog", "raw.db.every", "-p", str(folder), "--format", "json"
        ).stdout
    )
    nullable = {c["name"]: c["nullable"] for c in described["columns"]}
    assert nullable["id"] is False and nullable["c0"] is True


def test_mariadb_every_type(tmp_path: Path) -> None:
    conn = fresh_mariadb("batchlake_every_type")
    values, nulls = _rows(MARIADB)
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE TABLE every ({_ddl(MARIADB, '`')})")
        cursor.execute(f"INSERT INTO every VALUES {values}, {nulls}")
        # Without the wide DECIMAL the table may be read by ConnectorX (reader "auto").
        narrow = [c for c in MARIADB if c.declared != "DECIMAL(65,30)"]
        cursor.execute(f"CREATE TABLE narrow ({_ddl(narrow, '`')})")
        narrow_values, narrow_nulls = _rows(narrow)
        cursor.execute(f"INSERT INTO narrow VALUES {narrow_values}, {narrow_nulls}")
    conn.close()
    folder = _project(tmp_path, "mysql://root@127.0.0.1:3306/batchlake_every_type")
    batchlake_in_process("ingest", "db", "-p", str(folder))
    _check(_raw(folder, "every"), MARIADB)
    _check(_raw(folder, "narrow"), narrow)


def test_sqlite_every_type(tmp_path: Path) -> None:
    path = tmp_path / "every.sqlite"
    values, nulls = _rows(SQLITE)
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE every ({_ddl(SQLITE, chr(34))})")
        conn.execute(f"INSERT INTO every VALUES {values}, {nulls}")
    folder = _project(tmp_path, f"sqlite:///{path}")
    batchlake_in_process("ingest", "db", "-p", str(folder))
    _check(_raw(folder, "every"), SQLITE)


def test_sqlite_time_column_is_refused_naming_it_and_the_fix(tmp_path: Path) -> None:
    """DuckDB's SQLite scanner reads TIME as a timestamp: '13:45:01' cannot be one."""
    path = tmp_path / "times.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE shifts (id INTEGER PRIMARY KEY, starts TIME, note TEXT)")
        conn.execute("INSERT INTO shifts VALUES (1, '13:45:01', 'day')")
    folder = _project(tmp_path, f"sqlite:///{path}")
    failed = batchlake_in_process("ingest", "db", "-p", str(folder), check=False)
    assert failed.returncode == 1
    assert "column 'starts'" in failed.stderr and 'reader = "sqlalchemy"' in failed.stderr
    fixed = _project(tmp_path, f"sqlite:///{path}", 'reader = "sqlalchemy"\n')
    batchlake_in_process("ingest", "db", "-p", str(fixed))
    assert _raw(fixed, "shifts").column("starts").to_pylist()[0].isoformat() == "13:45:01"


@pytest.mark.parametrize(
    ("declared", "value", "named"),
    [
        ("numeric", "'NaN'", "'NaN'"),
        ("numeric(12,2)", "'NaN'", "'NaN'"),  # DuckDB's scanner read it as 0.00
        ("numeric", "'-Infinity'", "'-Infinity'"),
        ("numeric", "0.0000000000000000001", "'0.0000000000000000001'"),  # 19 decimals
        ("numeric", "123456789012345678901", "'123456789012345678901'"),  # 21 digits
    ],
)
def test_postgresql_numeric_that_is_not_exact_is_refused(
    tmp_path: Path, declared: str, value: str, named: str
) -> None:
    url = fresh_pg("batchlake_inexact")
    pg(url, f"CREATE TABLE amounts (id int PRIMARY KEY, amount {declared})")
    pg(url, f"INSERT INTO amounts VALUES (1, 1.5), (2, {value})")
    folder = _project(tmp_path, url)
    failed = batchlake_in_process("ingest", "db", "-p", str(folder), check=False)
    assert failed.returncode == 1
    assert f"column 'amount' ({declared}) holds {named}" in failed.stderr
    assert "custom query" in failed.stderr
    # The fix the message gives: a custom query that casts the column.
    fixed = _project(
        tmp_path,
        url,
        """
        tables = []
        [sources.db.queries.amounts]
        sql = "SELECT id, amount::text AS amount FROM amounts"
        """,
    )
    batchlake_in_process("ingest", "db", "-p", str(fixed))
    assert (
        _raw(fixed, "amounts").column("amount").to_pylist()[1]
        == pg(url, "SELECT amount::text FROM amounts WHERE id = 2")[0][0]
    )


def test_postgresql_incremental_read_is_windowed_in_postgresql(tmp_path: Path) -> None:
    """Tables are read by PostgreSQL's own SELECT: the cursor window goes with it."""
    url = fresh_pg("batchlake_window")
    pg(url, "CREATE TABLE orders (id int PRIMARY KEY, amount numeric, at timestamptz NOT NULL)")
    pg(
        url,
        "INSERT INTO orders SELECT g, g / 8.0, timestamptz '2024-01-01 00:00+00' + g * "
        "interval '1 minute' FROM generate_series(1, 100) g",
    )
    folder = _project(
        tmp_path,
        url,
        """
        [sources.db.entities.orders]
        mode = "incremental"
        cursor = "at"
        """,
    )
    batchlake_in_process("ingest", "db", "-p", str(folder))
    pg(url, "INSERT INTO orders VALUES (101, 1.25, timestamptz '2030-01-01 00:00+00')")
    batchlake_in_process("ingest", "db", "-p", str(folder))
    batches = Lake.open(folder).metadata.batches("db", "orders")
    assert [b.rows for b in batches] == [100, 1]
    assert _raw(folder, "orders").column("amount").to_pylist() == [Decimal("1.25")]
    first = pq.read_table(Lake.open(folder).table_source("raw.db.orders").files[0])
    exact = pg(url, "SELECT (g / 8.0)::text FROM generate_series(1, 3) g")
    assert [str(v.normalize()) for v in first.column("amount").to_pylist()[:3]] == [
        str(Decimal(r[0]).normalize()) for r in exact
    ]


def _sakila(name: str) -> str:
    url = fresh_pg(name)
    require_program("psql", "the PostgreSQL client loads the Sakila dump")
    for script in ("postgres-sakila-schema.sql", "postgres-sakila-insert-data-using-copy.sql"):
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=0", url, "-f", str(dataset(f"sakila/{script}"))],
            check=True,
            capture_output=True,
        )
    return url


def test_sakila_star_is_every_base_table_once(tmp_path: Path) -> None:
    """No views; payment's partitions (inheritance children) through payment only."""
    url = _sakila("batchlake_sakila_star")
    # Rows in the children too, as the partition rules route 2007 payments: read once.
    pg(
        url,
        "INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date) "
        "SELECT customer_id, staff_id, rental_id, amount, payment_date + interval '2 years' "
        "FROM payment WHERE payment_id <= 300",
    )
    # A declaratively partitioned table beside them (DuckDB's ctid scan of it never ended).
    pg(url, "CREATE TABLE sales (id int NOT NULL, day date NOT NULL) PARTITION BY RANGE (day)")
    for year in (2020, 2021):
        pg(
            url,
            f"CREATE TABLE sales_{year} PARTITION OF sales "
            f"FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')",
        )
    pg(
        url,
        "INSERT INTO sales SELECT g, date '2020-01-01' + mod(g, 700) "
        "FROM generate_series(1, 5000) g",
    )
    folder = _project(tmp_path, url, 'tables = "*"\n')
    batchlake_in_process("ingest", "db", "-p", str(folder))
    lake = Lake.open(folder)
    captured = {e for s, e in lake.metadata.raw_entities() if s == "db"}
    views = {r[0] for r in pg(url, "SELECT viewname FROM pg_views WHERE schemaname = 'public'")}
    children = {r[0] for r in pg(url, "SELECT inhrelid::regclass::text FROM pg_inherits")}
    assert len(views) == 7 and not captured & views
    assert {f"payment_p2007_0{m}" for m in range(1, 7)} | {"sales_2020", "sales_2021"} == children
    assert not captured & children
    bases = {
        r[0]
        for r in pg(
            url,
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)",
        )
    }
    assert captured == bases and len(bases) == 16
    for table in bases:
        batches = lake.metadata.batches("db", table)
        assert sum(b.rows for b in batches) == pg(url, f'SELECT count(*) FROM "{table}"')[0][0]
    in_children = (
        pg(url, "SELECT count(*) FROM payment")[0][0]
        - pg(url, "SELECT count(*) FROM ONLY payment")[0][0]
    )
    assert in_children > 0  # and they were counted once, in payment, above
    film = _raw(folder, "film")
    assert str(film.schema.field("release_year").type) == "int32"  # the domain `year`
    assert film.column("release_year").to_pylist()[0] == 2006
    # Views are captured when asked for, by name or with views = true.
    both = _project(tmp_path / "views", url, "views = true\n")
    listed = batchlake_in_process("sources", "-p", str(both), "--format", "json").stdout
    assert views <= {r["entity"] for r in json.loads(listed)}
    named = _project(tmp_path / "named", url, 'tables = ["actor_info", "payment_p2007_01"]\n')
    batchlake_in_process("ingest", "db", "-p", str(named))
    assert {e for _, e in Lake.open(named).metadata.raw_entities()} == {
        "actor_info",
        "payment_p2007_01",
    }


def test_mariadb_star_leaves_views_out(tmp_path: Path) -> None:
    conn = fresh_mariadb("batchlake_views")
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(10) NOT NULL)")
        cursor.execute("INSERT INTO items VALUES (1, 'a'), (2, 'b')")
        cursor.execute("CREATE VIEW named_items AS SELECT name FROM items")
    conn.close()
    url = "mysql://root@127.0.0.1:3306/batchlake_views"
    folder = _project(tmp_path, url)
    batchlake_in_process("ingest", "db", "-p", str(folder))
    assert {e for _, e in Lake.open(folder).metadata.raw_entities()} == {"items"}
    assert not _raw(folder, "items").schema.field("name").nullable
    views = _project(tmp_path / "views", url, "views = true\n")
    batchlake_in_process("ingest", "db", "-p", str(views))
    assert {e for _, e in Lake.open(views).metadata.raw_entities()} == {"items", "named_items"}
