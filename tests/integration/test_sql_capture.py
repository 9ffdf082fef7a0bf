"""Relational capture against the real PostgreSQL and MariaDB servers: types, incremental
cursors, custom queries, schema drift, deletes under full capture, and Sakila with "*"."""

from __future__ import annotations

import itertools
import json
import subprocess
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

from batchlake.lake import Lake
from tests.conftest import dataset, require_program, require_service
from tests.support.cli import batchlake, batchlake_in_process, query_json

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def fresh_pg(name: str) -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def fresh_mariadb(name: str) -> Any:
    """An autocommit PyMySQL connection to a new, empty MariaDB database `name` (in use)."""
    require_service("MariaDB", "127.0.0.1", 3306)
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        cur.execute(f"USE {name}")  # the SEQUENCE engine's seq_* tables live per database
    return conn


def pg(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


def project(tmp_path: Path, source_toml: str, models: dict[str, str] | None = None) -> Path:
    folder = tmp_path / "lake"
    folder.mkdir()
    (folder / "batchlake.toml").write_text('name = "capture"\n' + textwrap.dedent(source_toml))
    for name, sql in (models or {}).items():
        zone, table = name.split(".")
        path = folder / "models" / zone / f"{table}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return folder


def raw_rows(folder: Path, entity: str, order: str = "1") -> list[dict[str, Any]]:
    table = Lake.open(folder).query_table(
        f"SELECT * EXCLUDE (_loaded_at) FROM {entity} ORDER BY {order}"
    )
    return table.to_pylist()


# Tests whose subject is what capture wrote run their commands in this process
# (batchlake_in_process: no interpreter start per command). Those about the process keep
# `batchlake()`: what a dead source prints (no secret), which sources a command opens,
# which reader library is loaded, memory.
def _query_in_process(project: Path, sql: str) -> list[dict[str, Any]]:
    out = batchlake_in_process("query", "-p", str(project), "--format", "json", sql).stdout
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def test_postgres_types_are_kept_faithfully(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_types")
    pg(url, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')")
    pg(
        url,
        """CREATE TABLE typed (id int PRIMARY KEY, amount numeric(12,2), ratio numeric(20,10),
        ts timestamp, tstz timestamptz, d date, flag boolean, doc json, docb jsonb, uid uuid,
        raw bytea, feeling mood, note text, big bigint, small smallint, dbl double precision)""",
    )
    pg(
        url,
        """INSERT INTO typed VALUES (1, 12345.67, 0.1234567891, '2024-02-29 13:45:01.123456',
        '2024-02-29 13:45:01.5+02', '2024-02-29', true, '{"a": [1, 2]}', '{"b": {"c": null}}',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef', 'happy', 'héllo ☃',
        9007199254740993, -32768, 2.25),
        (2, -0.01, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
        NULL)""",
    )
    folder = project(
        tmp_path,
        f"""
        [sources.pg]
        type = "sql"
        url = "{url}"
        """,
    )
    batchlake_in_process("ingest", "pg", "-p", str(folder))
    schema = Lake.open(folder).table_source("raw.pg.typed").schema
    types = {f.name: str(f.type) for f in schema}
    assert types["amount"] == "decimal128(12, 2)" and types["ratio"] == "decimal128(20, 10)"
    assert types["ts"] == "timestamp[us]" and types["tstz"].startswith("timestamp[us, tz=")
    assert types["d"] == "date32[day]" and types["flag"] == "bool" and types["raw"] == "binary"
    got = raw_rows(folder, "raw.pg.typed", "id")
    expected = pg(
        url,
        "SELECT id, amount, ratio, ts, tstz, d, flag, doc::text, docb::text, "
        "uid::text, raw, feeling::text, note, big, small, dbl FROM typed ORDER BY id",
    )
    for row, want in zip(got, expected, strict=True):
        assert row["amount"] == want[1] and row["ratio"] == want[2]
        assert row["ts"] == want[3] and row["tstz"] == want[4] and row["d"] == want[5]
        assert row["flag"] == want[6] and row["raw"] == (bytes(want[10]) if want[10] else None)
        assert (json.loads(row["doc"]) if row["doc"] else None) == (
            json.loads(want[7]) if want[7] else None
        )
        assert (json.loads(row["docb"]) if row["docb"] else None) == (
            json.loads(want[8]) if want[8] else None
        )
        assert row["uid"] == want[9] and row["feeling"] == want[11] and row["note"] == want[12]
        assert row["big"] == want[13] and row["small"] == want[14] and row["dbl"] == want[15]
    assert got[0]["amount"] == Decimal("12345.67") and got[1]["amount"] == Decimal("-0.01")


def test_mariadb_types_are_kept_faithfully(tmp_path: Path) -> None:
    conn = fresh_mariadb("batchlake_types")
    with conn.cursor() as cur:
        cur.execute("""CREATE TABLE batchlake_types.typed (id INT PRIMARY KEY,
            amount DECIMAL(12,2), d DATE, dt DATETIME(6), flag BOOLEAN,
            mood ENUM('sad','ok','happy'), note TEXT, payload BLOB, big BIGINT)""")
        cur.execute("""INSERT INTO batchlake_types.typed VALUES
            (1, 12345.67, '2024-02-29', '2024-02-29 13:45:01.123456', TRUE, 'ok', 'héllo',
             X'DEADBEEF', 9007199254740993),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)""")
    conn.close()
    folder = project(
        tmp_path,
        """
        [sources.my]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_types"
        """,
    )
    batchlake_in_process("ingest", "my", "-p", str(folder))
    rows = raw_rows(folder, "raw.my.typed", "id")
    first = rows[0]
    assert first["amount"] == Decimal("12345.67") and str(first["d"]) == "2024-02-29"
    assert first["dt"].isoformat() == "2024-02-29T13:45:01.123456"
    assert bool(first["flag"]) is True and first["mood"] == "ok" and first["note"] == "héllo"
    assert first["payload"] == b"\xde\xad\xbe\xef" and first["big"] == 9007199254740993
    assert all(v is None for k, v in rows[1].items() if k not in ("id", "_batch_id"))


def test_incremental_capture_by_cursor_and_merge_by_key(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_incremental")
    pg(
        url,
        "CREATE TABLE orders (id int PRIMARY KEY, amount numeric(10,2), "
        "updated_at timestamp NOT NULL)",
    )
    pg(
        url,
        "INSERT INTO orders SELECT g, g * 1.5, timestamp '2024-01-01' + g * interval '1 hour' "
        "FROM generate_series(1, 500) g",
    )
    merge = (
        "SELECT id, amount, updated_at FROM raw.pg.orders "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1"
    )
    folder = project(
        tmp_path,
        f"""
        [sources.pg]
        type = "sql"
        url = "{url}"
        [sources.pg.entities.orders]
        mode = "incremental"
        cursor = "updated_at"
        primary_key = ["id"]
        """,
        {"trusted.orders": merge},
    )
    batchlake_in_process("run", "-p", str(folder))
    lake = Lake.open(folder)
    cursor, _ = lake.metadata.entity_state("pg", "orders")
    assert cursor is not None and cursor.startswith("2024-01-21T20:00")  # hour 500
    pg(url, "UPDATE orders SET amount = 0, updated_at = timestamp '2025-01-01' WHERE id <= 10")
    pg(url, "INSERT INTO orders VALUES (501, 9.99, timestamp '2025-01-02')")
    batchlake_in_process("run", "-p", str(folder))
    batches = lake.metadata.batches("pg", "orders")
    assert [b.rows for b in batches] == [500, 11]  # only the new and the updated rows
    assert batches[-1].cursor_from == cursor
    trusted = _query_in_process(folder, "SELECT id, amount FROM trusted.orders ORDER BY id")
    source = pg(url, "SELECT id, amount FROM orders ORDER BY id")
    assert [(r["id"], Decimal(r["amount"])) for r in trusted] == source
    third = batchlake_in_process("run", "-p", str(folder))
    assert "nothing new since the last capture" in third.stderr
    again = batchlake_in_process("ingest", "pg.orders", "--full-refresh", "-p", str(folder))
    assert "duplicate" not in again.stderr  # everything captured again, as a new batch
    assert lake.metadata.batches("pg", "orders")[-1].rows == 501


def test_full_capture_sees_deletes_and_custom_queries(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_full")
    pg(url, "CREATE TABLE items (id int PRIMARY KEY, name text)")
    pg(url, "INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 20) g")
    latest = (
        "SELECT id, name FROM raw.pg.items "
        "WHERE _batch_id = (SELECT max(_batch_id) FROM raw.pg.items)"
    )
    folder = project(
        tmp_path,
        f"""
        [sources.pg]
        type = "sql"
        url = "{url}"
        [sources.pg.queries.big_items]
        sql = "SELECT id, upper(name) AS loud FROM items WHERE id > 15"
        """,
        {"trusted.items": latest},
    )
    batchlake_in_process("run", "-p", str(folder))
    pg(url, "DELETE FROM items WHERE mod(id, 2) = 0")
    batchlake_in_process("run", "-p", str(folder))
    ids = [r["id"] for r in _query_in_process(folder, "SELECT id FROM trusted.items ORDER BY id")]
    assert ids == [i for i in range(1, 21) if i % 2]
    loud = _query_in_process(
        folder,
        "SELECT id, loud FROM raw.pg.big_items "
        "WHERE _batch_id = (SELECT max(_batch_id) FROM raw.pg.big_items) "
        "ORDER BY id",
    )
    assert loud == [{"id": i, "loud": f"ITEM {i}"} for i in (17, 19)]
    listed = json.loads(
        batchlake_in_process("sources", "-p", str(folder), "--format", "json").stdout
    )
    by_entity = {r["entity"]: r for r in listed}
    assert by_entity["big_items"]["reads"] == "query" and by_entity["items"]["rows"] == 30


def test_schema_drift(tmp_path: Path) -> None:
    # The commands run in this process: the subject is capture, not the CLI's process.
    url = fresh_pg("batchlake_drift")
    pg(url, "CREATE TABLE people (id int PRIMARY KEY, name text, age int)")
    pg(url, "CREATE TABLE pets (id int PRIMARY KEY, name text)")
    pg(url, "INSERT INTO people VALUES (1, 'Ada', 36), (2, 'Linus', 28)")
    pg(url, "INSERT INTO pets VALUES (1, 'Rex')")
    model = (
        "SELECT * EXCLUDE (_batch_id, _loaded_at) FROM raw.pg.people "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _batch_id DESC) = 1"
    )
    folder = project(
        tmp_path,
        f"""
        [sources.pg]
        type = "sql"
        url = "{url}"
        """,
        {"trusted.people": model},
    )
    batchlake_in_process("run", "-p", str(folder))
    # A new column appears in raw and in trusted (the Iceberg schema evolves).
    pg(url, "ALTER TABLE people ADD COLUMN email text")
    pg(url, "UPDATE people SET email = 'ada@example.org' WHERE id = 1")
    batchlake_in_process("run", "-p", str(folder))
    described = json.loads(
        batchlake_in_process(
            "catalog", "trusted.people", "-p", str(folder), "--format", "json"
        ).stdout
    )
    assert "email" in [c["name"] for c in described["columns"]]
    assert len(described["snapshots"]) >= 2
    rows = _query_in_process(folder, "SELECT id, email FROM trusted.people ORDER BY id")
    assert rows == [{"id": 1, "email": "ada@example.org"}, {"id": 2, "email": None}]
    # A dropped column reads as NULL in the new batch.
    pg(url, "ALTER TABLE people DROP COLUMN age")
    batchlake_in_process("run", "-p", str(folder))
    ages = _query_in_process(
        folder,
        "SELECT DISTINCT age FROM raw.pg.people WHERE _batch_id = "
        "(SELECT max(_batch_id) FROM raw.pg.people)",
    )
    assert ages == [{"age": None}]
    # An incompatible type change fails that entity only, naming the column and types.
    pg(url, "ALTER TABLE people ALTER COLUMN id TYPE text")
    pg(url, "INSERT INTO pets VALUES (2, 'Tom')")
    failed = batchlake_in_process("run", "-p", str(folder), check=False)
    assert failed.returncode == 1
    assert "column 'id' changed type from int32 to string" in failed.stderr
    pets = Lake.open(folder).metadata.batches("pg", "pets")
    assert [b.rows for b in pets] == [1, 2]  # the other entity carried on


def test_sakila_every_table_captured_with_star(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_sakila")
    schema = dataset("sakila/postgres-sakila-schema.sql")
    data = dataset("sakila/postgres-sakila-insert-data-using-copy.sql")
    require_program("psql", "the PostgreSQL client loads the Sakila dump")
    for script in (schema, data):
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=0", url, "-f", str(script)],
            check=True,
            capture_output=True,
        )
    folder = project(
        tmp_path,
        f"""
        [sources.sakila]
        type = "sql"
        url = "{url}"
        tables = "*"
        """,
    )
    batchlake_in_process("ingest", "sakila", "-p", str(folder))
    tables = [
        r[0]
        for r in pg(
            url,
            "SELECT table_name FROM information_schema.tables WHERE "
            "table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
    ]
    assert len(tables) >= 15
    lake = Lake.open(folder)
    for table in tables:
        expected = pg(url, f'SELECT count(*) FROM "{table}"')[0][0]
        captured = sum(b.rows for b in lake.metadata.batches("sakila", table))
        assert captured == expected, table


def test_sqlalchemy_fallback_reads_the_same_rows(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_fallback")
    pg(
        url,
        "CREATE TABLE sales (id int PRIMARY KEY, amount numeric(12,2), at timestamptz, "
        "day date, ok boolean, note text)",
    )
    pg(
        url,
        "INSERT INTO sales SELECT g, g * 1.25, timestamptz '2024-01-01 00:00+00' + "
        "g * interval '1 minute', date '2024-01-01' + g, mod(g, 2) = 0, 'n' || g "
        "FROM generate_series(1, 2500) g",
    )
    folder = project(
        tmp_path,
        f"""
        [sources.duck]
        type = "sql"
        url = "{url}"
        [sources.alchemy]
        type = "sql"
        url = "{url.replace("postgresql://", "postgresql+psycopg://")}"
        reader = "sqlalchemy"
        batch_rows = 1000
        [sources.alchemy.entities.sales]
        mode = "incremental"
        cursor = "at"
        [sources.alchemy.queries.even_sales]
        sql = "SELECT id, amount FROM sales WHERE ok"
        """,
    )
    batchlake("ingest", "duck", "-p", str(folder))
    batchlake("ingest", "alchemy", "-p", str(folder))
    duck_rows = raw_rows(folder, "raw.duck.sales", "id")
    alchemy_rows = raw_rows(folder, "raw.alchemy.sales", "id")

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "_batch_id"} for r in rows]

    assert strip(alchemy_rows) == strip(duck_rows) and len(duck_rows) == 2500
    schema = Lake.open(folder).table_source("raw.alchemy.sales").schema
    types = {f.name: str(f.type) for f in schema}
    assert types["amount"] == "decimal128(12, 2)" and types["at"] == "timestamp[us, tz=UTC]"
    even = raw_rows(folder, "raw.alchemy.even_sales", "id")
    assert len(even) == 1250 and even[0]["amount"] == Decimal("2.50")
    pg(
        url,
        "INSERT INTO sales VALUES (2501, 1.00, timestamptz '2030-01-01 00:00+00', "
        "date '2030-01-01', true, 'late')",
    )
    batchlake("ingest", "alchemy.sales", "-p", str(folder))
    assert [b.rows for b in Lake.open(folder).metadata.batches("alchemy", "sales")] == [2500, 1]


def test_mariadb_connectorx_and_duckdb_readers_agree(tmp_path: Path) -> None:
    conn = fresh_mariadb("batchlake_readers")
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE batchlake_readers.orders (id INT PRIMARY KEY, "
            "amount DECIMAL(12,2), at DATETIME(6), ok BOOLEAN, note VARCHAR(20))"
        )
        cur.executemany(
            "INSERT INTO batchlake_readers.orders VALUES (%s, %s, %s, %s, %s)",
            [
                (
                    i,
                    f"{i}.{i % 100:02d}",
                    f"2024-01-01 00:{i // 60 % 60:02d}:{i % 60:02d}",
                    i % 3 == 0,
                    None if i % 7 == 0 else f"n{i}",
                )
                for i in range(1, 3001)
            ],
        )
    folder = project(
        tmp_path,
        """
        [sources.cx]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_readers"
        reader = "connectorx"
        [sources.cx.entities.orders]
        mode = "incremental"
        cursor = "id"
        primary_key = ["id"]
        [sources.duck]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_readers"
        reader = "duckdb"
        [sources.cxfull]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_readers"
        reader = "connectorx"
        [sources.cxfull.entities.orders]
        primary_key = ["id"]
        """,
    )
    batchlake("ingest", "cx", "-p", str(folder))
    batchlake("ingest", "duck", "-p", str(folder))
    batchlake("ingest", "cxfull", "-p", str(folder))
    again = batchlake("ingest", "cxfull", "-p", str(folder))
    assert "duplicate" in again.stderr  # unchanged data through ConnectorX is not kept twice
    lake = Lake.open(folder)
    assert lake.table_source("raw.cx.orders").schema == lake.table_source("raw.duck.orders").schema
    cx_rows = raw_rows(folder, "raw.cx.orders", "id")
    duck_rows = raw_rows(folder, "raw.duck.orders", "id")
    assert [{k: v for k, v in r.items() if k != "_batch_id"} for r in cx_rows] == [
        {k: v for k, v in r.items() if k != "_batch_id"} for r in duck_rows
    ]
    assert cx_rows[0]["amount"] == Decimal("1.01") and len(cx_rows) == 3000
    conn.cursor().execute(
        "INSERT INTO batchlake_readers.orders VALUES (3001, 1.00, '2030-01-01', 1, 'late')"
    )
    conn.close()
    batchlake("ingest", "cx.orders", "-p", str(folder))
    assert [b.rows for b in lake.metadata.batches("cx", "orders")] == [3000, 1]


def peak_rss_of(args: list[str]) -> int:
    """Run a command and sample the peak RSS of its process tree (bytes)."""
    import sys
    import threading

    import psutil

    process = subprocess.Popen(
        [sys.executable, "-m", "batchlake", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        watched = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [watched, *watched.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, errors = process.communicate(timeout=600)
    done.set()
    sampler.join()
    assert process.returncode == 0, errors.decode()
    return peak


def test_memory_does_not_grow_with_the_table(tmp_path: Path) -> None:
    url = fresh_pg("batchlake_big")
    for name, rows in (("small", 300_000), ("big", 3_000_000)):
        pg(
            url,
            f"CREATE TABLE {name} AS SELECT g AS id, g::bigint * 7 AS big, 'row ' || g AS note, "
            f"mod(g, 100000)::numeric(12,2) / 100 AS amount, timestamp '2024-01-01' + "
            f"g * interval '1 second' AS at, mod(g, 2) = 0 AS flag "
            f"FROM generate_series(1, {rows}) g",
        )
    folder = project(
        tmp_path,
        f"""
        [sources.pg]
        type = "sql"
        url = "{url}"
        """,
    )
    small = peak_rss_of(["ingest", "pg.small", "-p", str(folder)])
    big = peak_rss_of(["ingest", "pg.big", "-p", str(folder)])
    captured = sum(b.rows for b in Lake.open(folder).metadata.batches("pg", "big"))
    assert captured == 3_000_000
    # Ten times the rows, (nearly) the same memory: the capture streams.
    assert big < 1024**3, f"peak RSS {big / 1024**2:.0f} MB"
    assert big < small + 200 * 1024**2, f"{small / 1024**2:.0f} MB -> {big / 1024**2:.0f} MB"


def test_a_dead_source_does_not_stop_the_others(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "alive.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO things VALUES (?, ?)", [(i, f"t{i}") for i in range(50)])
    folder = project(
        tmp_path,
        f"""
        [sources.alive]
        type = "sql"
        url = "sqlite:///{db}"
        [sources.dead]
        type = "sql"
        url = "postgresql://postgres:hunter2@127.0.0.1:1/nowhere"
        """,
        {
            "trusted.things": "SELECT id, name FROM raw.alive.things",
            "trusted.ghosts": "SELECT * FROM raw.dead.ghosts",
        },
    )
    result = batchlake("run", "-p", str(folder), check=False)
    assert result.returncode == 1
    assert "raw.dead.ghosts" in result.stderr and "cannot connect" in result.stderr
    assert "hunter2" not in result.stderr
    assert query_json(folder, "SELECT count(*) AS n FROM trusted.things") == [{"n": 50}]
    steps = {
        s["step"]: s["status"]
        for s in json.loads(
            batchlake(
                "runs",
                Lake.open(folder).metadata.runs(1)[0]["run_id"],
                "-p",
                str(folder),
                "--format",
                "json",
            ).stdout
        )
    }
    assert steps["trusted.ghosts"] == "upstream_failed" and steps["trusted.things"] == "success"


def test_mariadb_partitioned_read_is_complete_and_recognised_unchanged(tmp_path: Path) -> None:
    """A read split into key ranges gets every row once, and hashes the same every time."""
    conn = fresh_mariadb("batchlake_split")
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE batchlake_split.events (id BIGINT PRIMARY KEY, "
            "amount DECIMAL(12,2), note VARCHAR(20))"
        )
        # 60,000 rows with gaps in the key (every third id) and negative ids.
        cur.execute(
            "INSERT INTO batchlake_split.events SELECT CAST(seq AS SIGNED) * 3 - 20000, seq / 100, "
            "CONCAT('n', seq) FROM seq_1_to_60000"
        )
    folder = project(
        tmp_path,
        """
        [sources.split]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_split"
        reader = "connectorx"
        partitions = 4
        [sources.split.entities.events]
        mode = "incremental"
        cursor = "id"
        primary_key = ["id"]
        [sources.whole]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_split"
        reader = "connectorx"
        partitions = 4
        [sources.whole.entities.events]
        primary_key = ["id"]
        [sources.duck]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_split"
        reader = "duckdb"
        """,
    )
    # The reader itself: four streams, each a contiguous range of the key.
    from batchlake.capture import EntityState, open_source
    from batchlake.config import load_project

    source = open_source(load_project(folder), "whole")
    capture = source.read("events", EntityState(None, {}))
    assert capture.stream_of is not None
    ranges: dict[int, list[int]] = {}
    for batch in capture.batches:
        if batch.num_rows:
            ids = batch.column("id").to_pylist()
            ranges.setdefault(capture.stream_of(batch), []).extend(ids)
    assert sorted(ranges) == [1, 2, 3, 4]
    spans = [(min(ids), max(ids)) for _, ids in sorted(ranges.items())]
    assert all(a[1] < b[0] for a, b in itertools.pairwise(spans))
    assert sum(len(ids) for ids in ranges.values()) == 60_000
    source.close()

    batchlake("ingest", "whole", "-p", str(folder))
    batchlake("ingest", "duck", "-p", str(folder))
    for _ in range(2):  # streams interleave differently on every read: still a duplicate
        again = batchlake("ingest", "whole", "-p", str(folder))
        assert "duplicate" in again.stderr
    whole = raw_rows(folder, "raw.whole.events", "id")
    duck = raw_rows(folder, "raw.duck.events", "id")
    strip = [{k: v for k, v in r.items() if k != "_batch_id"} for r in whole]
    assert strip == [{k: v for k, v in r.items() if k != "_batch_id"} for r in duck]
    assert len(whole) == 60_000 and whole[0]["id"] == -19997

    batchlake("ingest", "split", "-p", str(folder))
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO batchlake_split.events SELECT 500000 + seq, 1, 'late' FROM seq_1_to_250"
        )
    conn.close()
    batchlake("ingest", "split", "-p", str(folder))
    lake = Lake.open(folder)
    assert [b.rows for b in lake.metadata.batches("split", "events")] == [60_000, 250]
    rows = raw_rows(folder, "raw.split.events", "id")
    assert len(rows) == 60_250 and len({r["id"] for r in rows}) == 60_250


def test_capturing_one_source_opens_no_other(tmp_path: Path) -> None:
    """`ingest alive` neither opens nor fails on another source that has gone away."""
    import sqlite3

    from batchlake.run.runner import Runner

    for name in ("alive", "gone"):
        with sqlite3.connect(tmp_path / f"{name}.sqlite") as conn:
            conn.execute("CREATE TABLE things (id INTEGER PRIMARY KEY)")
            conn.executemany("INSERT INTO things VALUES (?)", [(i,) for i in range(5)])
    folder = project(
        tmp_path,
        f"""
        [sources.alive]
        type = "sql"
        url = "sqlite:///{tmp_path / "alive.sqlite"}"
        [sources.gone]
        type = "sql"
        url = "sqlite:///{tmp_path / "gone.sqlite"}"
        """,
    )
    batchlake("ingest", "gone", "-p", str(folder))
    (tmp_path / "gone.sqlite").unlink()  # its entities are known, the source is dead
    everything = batchlake("run", "--select", "raw.*", "-p", str(folder), check=False)
    assert everything.returncode == 1 and "gone.sqlite does not exist" in everything.stderr
    runner = Runner(Lake.open(folder))
    assert list(runner.build_dag(["raw.alive.*"]).nodes) == ["raw.alive.things"]
    assert set(runner._sources) == {"alive"} and not runner._unreachable  # gone: not opened
    alone = batchlake("ingest", "alive", "-p", str(folder))
    assert "raw.alive.things" in alone.stderr and "does not exist" not in alone.stderr


def test_mariadb_connectorx_quotes_names_and_cursor_values(tmp_path: Path) -> None:
    """Backticks, quotes and backslashes in names and cursor values reach MySQL intact."""
    conn = fresh_mariadb("batchlake_quoting")
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE batchlake_quoting.`odd``table` (`key id` INT PRIMARY KEY, "
            "`it's` VARCHAR(20), `code` VARCHAR(20))"
        )
        cur.executemany(
            "INSERT INTO batchlake_quoting.`odd``table` VALUES (%s, %s, %s)",
            [(i, f"v{i}", f"a'\\{i:05d}") for i in range(1, 25_001)],
        )
    folder = project(
        tmp_path,
        """
        [sources.q]
        type = "sql"
        url = "mysql://root@127.0.0.1:3306/batchlake_quoting"
        reader = "connectorx"
        [sources.q.entities.odd_table]
        mode = "incremental"
        cursor = "code"
        primary_key = ["key_id"]
        """,
    )
    batchlake_in_process("ingest", "q", "-p", str(folder))
    with conn.cursor() as cur:  # rows past the cursor value a'\25000, one before it
        cur.execute(
            "INSERT INTO batchlake_quoting.`odd``table` VALUES "
            "(30001, 'late', 'a''\\\\30001'), (30002, 'late', 'b'), (30003, 'old', 'a')"
        )
    conn.close()
    batchlake_in_process("ingest", "q", "-p", str(folder))
    lake = Lake.open(folder)
    assert [b.rows for b in lake.metadata.batches("q", "odd_table")] == [25_000, 2]
    rows = raw_rows(folder, "raw.q.odd_table", "key_id")
    assert len(rows) == 25_002 and rows[0]["it_s"] == "v1" and rows[0]["code"] == "a'\\00001"
    assert [r["key_id"] for r in rows[-2:]] == [30001, 30002]
