"""The SQL allow-list of POST /query: hostile statements refused with a reason, analytic
queries let through with the catalog tables they read."""

from __future__ import annotations

import pytest

from batchlake.errors import QueryError
from batchlake.serve.sql_guard import check_query

CATALOG = [
    "refined.sales_by_day",
    "refined.sales_by_month",
    "trusted.invoices",
    "trusted.customers",
    "raw.chinook.invoice",
]

HOSTILE = [
    # DDL and DML
    "CREATE TABLE x AS SELECT 1",
    "CREATE VIEW refined.v AS SELECT 1",
    "DROP TABLE refined.sales_by_day",
    "ALTER TABLE refined.sales_by_day ADD COLUMN x INT",
    "INSERT INTO refined.sales_by_day VALUES (1)",
    "UPDATE refined.sales_by_day SET year = 1",
    "DELETE FROM refined.sales_by_day",
    "TRUNCATE refined.sales_by_day",
    "CREATE MACRO m(x) AS x + 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "MERGE INTO refined.sales_by_day t USING trusted.invoices s ON t.year = 1 "
    "WHEN MATCHED THEN DELETE",
    "CREATE TEMP TABLE t AS SELECT * FROM refined.sales_by_day",
    # multiple statements
    "SELECT 1; SELECT 2",
    "SELECT * FROM refined.sales_by_day; DROP TABLE refined.sales_by_day",
    "SELECT 1;;SELECT 2",
    # session, extension and file commands
    "ATTACH '/tmp/x.db' AS x",
    "ATTACH 'postgres://u@h/db' AS pg (TYPE postgres)",
    "DETACH x",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL httpfs",
    "COPY refined.sales_by_day TO '/tmp/out.csv'",
    "COPY (SELECT 1) TO '/tmp/out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE '/tmp/dump'",
    "IMPORT DATABASE '/tmp/dump'",
    "PRAGMA version",
    "PRAGMA database_list",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET memory_limit",
    "USE raw",
    "CHECKPOINT",
    "BEGIN TRANSACTION",
    "CALL pragma_version()",
    "SHOW TABLES",
    "DESCRIBE refined.sales_by_day",
    "SUMMARIZE refined.sales_by_day",
    "EXPLAIN SELECT 1",
    "VACUUM",
    # file and network table functions
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('/tmp/x.parquet')",
    "SELECT * FROM read_json('https://example.com/a.json')",
    "SELECT * FROM read_json_auto('/tmp/a.json')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM 'https://example.com/data.parquet'",
    "FROM 's3://bucket/key.parquet'",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM parquet_metadata('/tmp/x.parquet')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM iceberg_scan('/tmp/warehouse/t')",
    "SELECT * FROM sqlite_scan('/tmp/x.db', 't')",
    "SELECT * FROM postgres_scan('host=x', 'public', 't')",
    "SELECT * FROM range(10)",
    "SELECT * FROM generate_series(1, 10)",
    "SELECT * FROM query('SELECT 1')",
    "SELECT * FROM query_table('refined.sales_by_day')",
    "SELECT count(*) FROM refined.sales_by_day WHERE year IN (SELECT 1 FROM read_csv('/x'))",
    "WITH t AS (SELECT * FROM read_parquet('/x')) SELECT * FROM t",
    "SELECT * FROM refined.sales_by_day UNION ALL SELECT * FROM read_csv('/etc/passwd')",
    "SELECT (SELECT count(*) FROM glob('/home/*'))",
    # system tables and functions revealing the host or settings
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_extensions()",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM pragma_platform()",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM pg_catalog.pg_class",
    "SELECT * FROM sqlite_master",
    "SELECT current_setting('home_directory')",
    "SELECT getenv('HOME')",
    "SELECT version()",
    "SELECT current_database()",
    "SELECT * FROM which_secret('s3://b/k', 's3')",
    # names that are not catalog tables
    "SELECT * FROM sales_by_day",
    "SELECT * FROM refined.no_such_table",
    "SELECT * FROM memory.main.t",
    "SELECT * FROM system.main.duckdb_settings",
    "SELECT * FROM temp.main.t",
    "SELECT * FROM raw.chinook.no_entity",
    "SELECT * FROM refined.sales_by_day AT (VERSION => 1)",
    # not SELECT / not parseable / empty
    "",
    "   ",
    "-- only a comment",
    "SELEKT 1",
    "VALUES (1)",
]

VALID = [
    "SELECT * FROM refined.sales_by_day",
    "FROM refined.sales_by_day SELECT year, sum(total_amount) GROUP BY ALL",
    "SELECT year, sum(total_amount) AS total FROM refined.sales_by_day GROUP BY year ORDER BY 1",
    "WITH m AS (SELECT * FROM refined.sales_by_month) SELECT month, rank FROM m WHERE rank <= 3",
    "SELECT d.year, count(*) FROM refined.sales_by_day d JOIN refined.sales_by_month m "
    "ON m.year = d.year GROUP BY 1",
    "SELECT * FROM refined.sales_by_day UNION ALL SELECT * FROM refined.sales_by_day",
    "SELECT year FROM refined.sales_by_day INTERSECT SELECT year FROM refined.sales_by_month",
    "SELECT year FROM refined.sales_by_day EXCEPT SELECT 2020",
    "SELECT month, total_amount, rank() OVER (ORDER BY total_amount DESC) FROM "
    "refined.sales_by_month QUALIFY rank() OVER (ORDER BY total_amount DESC) <= 5",
    "SELECT count(*) FROM raw.chinook.invoice i JOIN trusted.invoices t USING (invoice_id)",
    "SELECT c.country, count(*) FROM trusted.customers c GROUP BY ALL ORDER BY 2 DESC LIMIT 5",
    "SELECT * FROM (SELECT year, max(total_amount) m FROM refined.sales_by_day GROUP BY 1) s",
    "SELECT unnest([1, 2, 3]) AS n",
    "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s)",
    "SELECT dayname(DATE '2024-01-01'), strftime(DATE '2024-01-01', '%Y')",
    "(SELECT 1)",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_hostile_statements_are_refused_with_a_reason(sql: str) -> None:
    with pytest.raises(QueryError, match="query refused: ") as caught:
        check_query(sql, CATALOG)
    assert len(str(caught.value)) > len("query refused: ") + 10


def test_the_corpus_is_large_enough() -> None:
    assert len(HOSTILE) >= 60 and len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("sql", VALID)
def test_analytic_queries_pass(sql: str) -> None:
    checked = check_query(sql, CATALOG)
    assert checked.tables <= set(CATALOG)


def test_tables_read_are_reported_and_ctes_are_not_tables() -> None:
    checked = check_query(
        "WITH refined_sales AS (SELECT * FROM refined.sales_by_day) "
        "SELECT * FROM refined_sales JOIN raw.chinook.invoice ON true",
        CATALOG,
    )
    assert checked.tables == {"refined.sales_by_day", "raw.chinook.invoice"}


def test_reasons_name_the_problem() -> None:
    cases = {
        "DROP TABLE refined.sales_by_day": "only SELECT",
        "SELECT 1; SELECT 2": "exactly one statement",
        "SELECT getenv('HOME')": "getenv",
        "SELECT * FROM refined.nope": "'refined.nope' is not a catalog table",
        "SELECT * FROM read_csv('/etc/passwd')": "table functions are not allowed",
    }
    for sql, reason in cases.items():
        with pytest.raises(QueryError, match=reason):
            check_query(sql, CATALOG)


# A CTE name is a CTE only where it is in scope; anywhere else DuckDB resolves the same
# name to a catalog object (system views, settings) or, quoted, to a file.
OUT_OF_SCOPE = [
    "SELECT name, setting FROM (WITH pg_settings AS (SELECT 1) SELECT 1) t, pg_settings",
    "SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT 1) t, duckdb_tables",
    "SELECT * FROM (WITH duckdb_databases AS (SELECT 1) SELECT 1) t, duckdb_databases",
    "SELECT * FROM (WITH sqlite_master AS (SELECT 1) SELECT 1) t, sqlite_master",
    'SELECT * FROM (WITH ".tmp/leak.csv" AS (SELECT 1) SELECT 1) t, ".tmp/leak.csv"',
    "SELECT * FROM refined.sales_by_day WHERE year IN (WITH pg_settings AS (SELECT 1) "
    "SELECT 1) AND EXISTS (SELECT * FROM pg_settings)",
    "SELECT (WITH s AS (SELECT 1) SELECT count(*) FROM s), (SELECT count(*) FROM duckdb_views)"
    " UNION ALL SELECT 1, 2 FROM (WITH duckdb_views AS (SELECT 1) SELECT 1)",
    "SELECT 1 UNION ALL (WITH sqlite_master AS (SELECT 1) SELECT * FROM sqlite_master) "
    "UNION ALL SELECT * FROM sqlite_master",
    # a sibling's alias is not a table inside a LATERAL subquery
    "SELECT * FROM refined.sales_by_day AS duckdb_tables, LATERAL (SELECT * FROM duckdb_tables)",
    # a recursive CTE's base term sees the catalog, not itself
    "WITH RECURSIVE duckdb_databases AS (SELECT database_name FROM duckdb_databases "
    "UNION ALL SELECT 'z') SELECT * FROM duckdb_databases",
    "WITH RECURSIVE pg_settings AS (SELECT 'a' UNION ALL SELECT name FROM pg_settings "
    "UNION ALL SELECT x FROM pg_settings WHERE false) SELECT * FROM pg_settings",
    # a non-recursive CTE does not see itself, nor later CTEs
    "WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings",
    "WITH a AS (SELECT * FROM pg_settings), pg_settings AS (SELECT 1) SELECT * FROM a",
]


@pytest.mark.parametrize("sql", OUT_OF_SCOPE)
def test_a_cte_name_counts_only_where_the_cte_is_in_scope(sql: str) -> None:
    with pytest.raises(QueryError, match="not a catalog table"):
        check_query(sql, CATALOG)


def test_ctes_in_scope_pass_whatever_their_case() -> None:
    for sql in (
        'WITH "DUCKDB_TABLES" AS (SELECT 42 AS a) SELECT * FROM duckdb_tables',
        "WITH X AS (SELECT * FROM Refined.Sales_By_Day) SELECT * FROM x",
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
        "SELECT * FROM r",
        "WITH a AS (SELECT 1), b AS (SELECT * FROM (SELECT * FROM a) s) SELECT * FROM b",
    ):
        assert check_query(sql, CATALOG).tables <= {"refined.sales_by_day"}, sql
    assert check_query("SELECT * FROM REFINED.SALES_BY_DAY", CATALOG).tables == {
        "refined.sales_by_day"
    }


# -- the corpus (tests/unit/sql_corpus.py), against the allow-list alone -----------------


def test_the_hostile_corpus_covers_every_class() -> None:
    from tests.unit.sql_corpus import HOSTILE, VALID, hostile

    assert len(hostile()) >= 100 and len({sql for _, sql in hostile()}) == len(hostile())
    assert all(len(statements) >= 8 for statements in HOSTILE.values())
    assert len(VALID) >= 20


def _allowlist_cases() -> list[tuple[str, str]]:
    from tests.unit.sql_corpus import hostile

    # Resource abuse is SQL the allow-list may let through: the query workers stop it.
    return [(kind, sql) for kind, sql in hostile() if kind != "resource_abuse"]


@pytest.mark.parametrize(("kind", "sql"), _allowlist_cases(), ids=lambda v: str(v)[:60])
def test_the_allow_list_refuses_the_hostile_corpus(kind: str, sql: str) -> None:
    with pytest.raises(QueryError):
        check_query(sql, DEMO_CATALOG)


def _valid() -> list[str]:
    from tests.unit.sql_corpus import VALID

    return VALID


@pytest.mark.parametrize("sql", _valid(), ids=lambda v: v[:60])
def test_the_allow_list_passes_the_valid_corpus(sql: str) -> None:
    assert check_query(sql, DEMO_CATALOG).tables <= set(DEMO_CATALOG)


DEMO_CATALOG = [
    *(f"trusted.{t}" for t in ("invoices", "invoice_lines", "customers", "tracks", "genres")),
    *(f"trusted.{t}" for t in ("artists", "albums", "playlist_tracks")),
    *(f"refined.{t}" for t in ("sales_by_day", "sales_by_month", "top_artists_by_month")),
    *(f"refined.{t}" for t in ("sales_by_weekday", "segment_profiles")),
    "raw.chinook.invoice",
]
