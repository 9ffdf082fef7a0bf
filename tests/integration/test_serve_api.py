"""The REST API against a real demo lake, checked with independent reads (PyIceberg,
DuckDB over the Iceberg data, the source SQLite database)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from batchlake.config import ServeSettings
from batchlake.serve import create_app
from tests.support.serve_support import (
    ENV_KEYS,
    OPERATOR,
    READER,
    auth,
    build_lake,
    iceberg_arrow,
)

LOCAL = ("127.0.0.1", 50000)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("serve_api"))


@pytest.fixture(scope="module")
def client(lake: Path) -> TestClient:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    return TestClient(app, raise_server_exceptions=False, headers=auth(READER), client=LOCAL)


def canon(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as sorted JSON text, values in the API's JSON form (decimals and dates as text)."""

    def value(v: Any) -> Any:
        if isinstance(v, float | int | bool | str) or v is None:
            return v
        return str(v) if not hasattr(v, "isoformat") else v.isoformat()

    return sorted(json.dumps({k: value(v) for k, v in r.items()}, sort_keys=True) for r in rows)


def api_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    names = [c["name"] for c in body["columns"]]
    return [dict(zip(names, r, strict=True)) for r in body["rows"]]


# -- health, catalog -----------------------------------------------------------------------


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    ready = client.get("/api/v1/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "metadata": "ok", "catalog": "ok"}


def test_tables_lists_every_table_with_row_counts(client: TestClient, lake: Path) -> None:
    listing = {t["full_name"]: t for t in client.get("/api/v1/tables").json()}
    catalog = sqlite3.connect(lake / ".batchlake" / "catalog.sqlite")
    iceberg = {
        f"{ns}.{name}"
        for ns, name in catalog.execute("SELECT table_namespace, table_name FROM iceberg_tables")
    }
    assert {n for n in listing if not n.startswith("raw.")} == iceberg
    store = sqlite3.connect(lake / "data" / "chinook.sqlite")
    assert (
        listing["raw.chinook.invoice"]["rows"]
        == store.execute("SELECT count(*) FROM Invoice").fetchone()[0]
    )
    for name in ("refined.sales_by_day", "trusted.invoice_lines"):
        assert listing[name]["rows"] == iceberg_arrow(lake, name).num_rows
    refined = client.get("/api/v1/tables", params={"zone": "refined"}).json()
    assert refined and {t["zone"] for t in refined} == {"refined"}


def test_table_detail_shows_the_quality_results(client: TestClient, lake: Path) -> None:
    body = client.get("/api/v1/tables/trusted/invoices").json()
    metadata = sqlite3.connect(lake / ".batchlake" / "metadata.sqlite")
    stored = metadata.execute(
        "SELECT check_name, status FROM quality_results WHERE table_name = 'trusted.invoices'"
    ).fetchall()
    assert len(stored) >= 4  # the demo declares four checks on trusted.invoices
    assert sorted((r["check"], r["status"]) for r in body["quality"]) == sorted(stored)
    assert {r["status"] for r in body["quality"]} == {"pass"}


def test_table_detail_schema_snapshots_lineage(client: TestClient, lake: Path) -> None:
    body = client.get("/api/v1/tables/refined/sales_by_month").json()
    assert [c["name"] for c in body["schema"]] == iceberg_arrow(
        lake, "refined.sales_by_month"
    ).schema.names
    assert body["upstream"] == ["refined.sales_by_day"]
    assert "refined.best_month_per_year" in body["downstream"]
    assert body["quality"] == []
    from pyiceberg.catalog.sql import SqlCatalog

    table = SqlCatalog(
        "batchlake", uri=f"sqlite:///{lake}/.batchlake/catalog.sqlite", warehouse=f"file://{lake}"
    ).load_table(("refined", "sales_by_month"))
    assert body["snapshot"] == str(table.current_snapshot().snapshot_id)
    assert {s["snapshot_id"] for s in body["snapshots"]} == {
        str(s.snapshot_id) for s in table.snapshots()
    }
    raw = client.get("/api/v1/tables/raw/chinook.invoice").json()
    assert raw["downstream"] == ["trusted.invoices"] and raw["snapshots"] == []


# -- rows ----------------------------------------------------------------------------------


def test_paging_with_cursor_and_offset_returns_every_row_once(
    client: TestClient, lake: Path
) -> None:
    expected = canon(iceberg_arrow(lake, "refined.sales_by_day").to_pylist())
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 97}
    while True:
        page = client.get("/api/v1/tables/refined/sales_by_day/rows", params=params).json()
        seen += api_rows(page)
        if not page["next_cursor"]:
            break
        params = {"limit": 97, "cursor": page["next_cursor"]}
    assert canon(seen) == expected and page["total"] == len(expected)
    by_offset: list[dict[str, Any]] = []
    for offset in range(0, len(expected), 250):
        page = client.get(
            "/api/v1/tables/refined/sales_by_day/rows", params={"limit": 250, "offset": offset}
        ).json()
        by_offset += api_rows(page)
    assert canon(by_offset) == expected


def test_filters_order_and_columns_match_duckdb(client: TestClient, lake: Path) -> None:
    days = iceberg_arrow(lake, "refined.sales_by_day")
    artists = iceberg_arrow(lake, "refined.top_artists_by_month")
    con = duckdb.connect()
    con.register("days", days)
    con.register("artists", artists)
    page = client.get(
        "/api/v1/tables/refined/sales_by_day/rows",
        params={
            "year__gte": "2023",
            "weekday__ne": "Sunday",
            "total_amount__lt": "9.5",
            "order_by": "-total_amount,sale_date",
            "columns": "sale_date,total_amount,weekday",
            "limit": 10000,
        },
    ).json()
    expected = con.execute(
        "SELECT CAST(sale_date AS VARCHAR) AS sale_date, CAST(total_amount AS VARCHAR) AS "
        "total_amount, weekday FROM days WHERE year >= 2023 AND weekday <> 'Sunday' "
        "AND total_amount < 9.5 ORDER BY total_amount DESC, sale_date"
    ).fetchall()
    assert [tuple(r) for r in page["rows"]] == expected
    assert page["total"] == len(expected) > 0
    month = artists.column("month")[0].as_py()
    page = client.get(
        "/api/v1/tables/refined/top_artists_by_month/rows",
        params={"month__in": f"{month},1999-01", "artist_name__contains": "a", "limit": 10000},
    ).json()
    count = con.execute(
        "SELECT count(*) FROM artists WHERE month IN (?, '1999-01') AND artist_name LIKE '%a%'",
        [month],
    ).fetchone()[0]
    assert page["total"] == count > 0


def test_csv_and_parquet_formats_hold_the_same_rows(client: TestClient, lake: Path) -> None:
    url = "/api/v1/tables/refined/sales_by_month/rows"
    as_json = client.get(url, params={"limit": 10000}).json()
    as_csv = client.get(url, params={"limit": 10000, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(parsed) == as_json["total"] == iceberg_arrow(lake, "refined.sales_by_month").num_rows
    assert [r["month"] for r in parsed] == [r[0] for r in as_json["rows"]]
    as_parquet = client.get(url, params={"limit": 10000, "format": "parquet"})
    table = pq.read_table(io.BytesIO(as_parquet.content))
    expected = iceberg_arrow(lake, "refined.sales_by_month")
    assert (
        table.sort_by("month")
        .select(expected.schema.names)
        .cast(expected.schema)
        .equals(expected.sort_by("month"))
    )


def test_raw_entity_rows_match_the_source_database(client: TestClient, lake: Path) -> None:
    page = client.get(
        "/api/v1/tables/raw/chinook.invoice/rows",
        params={"customer_id": "5", "order_by": "invoice_id", "columns": "invoice_id,total"},
    ).json()
    store = sqlite3.connect(lake / "data" / "chinook.sqlite")
    expected = [
        r[0]
        for r in store.execute(
            "SELECT InvoiceId FROM Invoice WHERE CustomerId = 5 ORDER BY InvoiceId"
        )
    ]
    assert [r[0] for r in page["rows"]] == expected and expected


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/tables/refined/nope/rows", {}, 404, "no table refined.nope"),
        ("/tables/refined/nope", {}, 404, "no table refined.nope"),
        ("/tables/refined/sales_by_day/rows", {"limit": 10001}, 422, "limit"),
        ("/tables/refined/sales_by_day/rows", {"limit": 0}, 422, "limit"),
        ("/tables/refined/sales_by_day/rows", {"offset": -1}, 422, "offset"),
        ("/tables/refined/sales_by_day/rows", {"format": "xml"}, 422, "format"),
        ("/tables/refined/sales_by_day/rows", {"nope": "1"}, 400, "unknown column 'nope'"),
        ("/tables/refined/sales_by_day/rows", {"year__like": "1"}, 400, "operator '__like'"),
        ("/tables/refined/sales_by_day/rows", {"year": "soon"}, 400, "'soon' is not a valid"),
        ("/tables/refined/sales_by_day/rows", {"order_by": "-x"}, 400, "in order_by"),
        ("/tables/refined/sales_by_day/rows", {"columns": "year,x"}, 400, "in columns"),
        ("/tables/refined/sales_by_day/rows", {"cursor": "garbage"}, 400, "cursor is not one"),
        ("/tables/refined/sales_by_day/rows", {"as_of": "last week"}, 400, "ISO timestamp"),
        ("/tables/refined/sales_by_day/rows", {"as_of": "12345"}, 404, "no snapshot 12345"),
        ("/tables/refined/sales_by_day/rows", {"as_of": "1990-01-01"}, 404, "no snapshot at"),
        ("/tables/raw/chinook.invoice/rows", {"as_of": "1"}, 400, "as_of applies to"),
        ("/runs/no-such-run", {}, 404, "no run 'no-such-run'"),
        ("/nowhere", {}, 404, "no such path"),
    ],
)
def test_errors_are_json_with_a_reason(
    client: TestClient, path: str, params: dict[str, Any], status: int, message: str
) -> None:
    response = client.get("/api/v1" + path if path != "/nowhere" else path, params=params)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and message in body["error"]
    assert "Traceback" not in response.text


def test_a_cursor_is_bound_to_its_query(client: TestClient) -> None:
    url = "/api/v1/tables/refined/sales_by_day/rows"
    cursor = client.get(url, params={"limit": 5, "year": "2023"}).json()["next_cursor"]
    other = client.get(url, params={"limit": 5, "year": "2024", "cursor": cursor})
    assert other.status_code == 400 and "another query" in other.json()["error"]
    same = client.get(url, params={"limit": 5, "year": "2023", "cursor": cursor}).json()
    assert same["offset"] == 5


# -- SQL -----------------------------------------------------------------------------------

ANALYTIC = [
    "SELECT year, sum(total_amount) AS total, count(*) AS days FROM refined.sales_by_day "
    "GROUP BY year ORDER BY year",
    "SELECT weekday, sum(invoices) AS invoices FROM refined.sales_by_day GROUP BY ALL "
    "ORDER BY weekday",
    "WITH m AS (SELECT * FROM refined.sales_by_month) SELECT month, total_amount FROM m "
    "WHERE rank <= 3 ORDER BY rank, month",
    "SELECT c.country, count(DISTINCT i.invoice_id) AS n FROM trusted.invoices i JOIN "
    "trusted.customers c USING (customer_id) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5",
    "SELECT month, artist_name FROM refined.top_artists_by_month QUALIFY row_number() "
    "OVER (PARTITION BY month ORDER BY rank, artist_name) = 1 ORDER BY month",
]


@pytest.mark.parametrize("sql", ANALYTIC)
def test_analytic_queries_match_duckdb_over_iceberg(
    client: TestClient, lake: Path, sql: str
) -> None:
    con = duckdb.connect()
    for name in (
        "refined.sales_by_day",
        "refined.sales_by_month",
        "trusted.invoices",
        "trusted.customers",
        "refined.top_artists_by_month",
    ):
        con.register(name.replace(".", "__"), iceberg_arrow(lake, name))
    local = sql
    for name in (
        "refined.sales_by_day",
        "refined.sales_by_month",
        "trusted.invoices",
        "trusted.customers",
        "refined.top_artists_by_month",
    ):
        local = local.replace(name, name.replace(".", "__"))
    expected = con.execute(local).fetch_arrow_table().to_pylist()
    response = client.post("/api/v1/query", json={"sql": sql})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["row_count"] == len(expected) and body["truncated"] is False
    assert canon(api_rows(body)) == canon(expected)


def test_hostile_sql_is_refused_over_http(client: TestClient) -> None:
    from tests.unit.test_api_sql_guard import HOSTILE

    for sql in HOSTILE:
        response = client.post("/api/v1/query", json={"sql": sql})
        assert response.status_code == 400, (sql, response.text)
        assert response.json()["error"].startswith("query refused: "), sql


def test_query_row_limit_and_csv(client: TestClient, lake: Path) -> None:
    total = iceberg_arrow(lake, "refined.sales_by_day").num_rows
    body = client.post(
        "/api/v1/query", json={"sql": "SELECT * FROM refined.sales_by_day", "max_rows": 10}
    ).json()
    assert body["row_count"] == 10 and body["truncated"] is True and total > 10
    response = client.post(
        "/api/v1/query",
        json={
            "sql": "SELECT year, count(*) AS n FROM refined.sales_by_day GROUP BY 1 ORDER BY 1",
            "format": "csv",
        },
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(int(r["n"]) for r in rows) == total


def test_query_runtime_errors_are_400(client: TestClient) -> None:
    response = client.post(
        "/api/v1/query", json={"sql": "SELECT no_column FROM refined.sales_by_day"}
    )
    assert response.status_code == 400 and "no_column" in response.json()["error"]
    response = client.post("/api/v1/query", json={"nosql": 1})
    assert response.status_code == 422 and "sql" in response.json()["error"]


def test_time_limit_interrupts_a_long_query(lake: Path) -> None:
    app = create_app(lake, ServeSettings(query_timeout_seconds=0.3), env_keys=ENV_KEYS)
    client = TestClient(app, raise_server_exceptions=False, headers=auth(READER))
    response = client.post(
        "/api/v1/query",
        json={
            "sql": "SELECT count(*) FROM trusted.invoice_lines a, trusted.invoice_lines b, "
            "trusted.invoice_lines c"
        },
    )
    assert response.status_code == 408 and response.json()["limit"] == "time"
    assert "longer than 0.3 s" in response.json()["error"]


def test_the_locked_connection_refuses_files_even_without_the_guard(lake: Path) -> None:
    """Second gate: SQL that skips the allow-list still cannot read a file."""
    from batchlake.errors import QueryError
    from batchlake.lake import Lake
    from batchlake.serve.query_pool import QueryRunner
    from batchlake.serve.reader import TableCache

    runner = QueryRunner(TableCache(Lake.open(lake), 1 << 28), ServeSettings())
    tables = frozenset({"refined.sales_by_day"})
    ok = runner.execute(tables, "SELECT count(*) FROM refined.sales_by_day", 5)
    expected = iceberg_arrow(lake, "refined.sales_by_day").num_rows
    assert ok.batches[0].column(0)[0].as_py() == expected
    for sql in (
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_parquet('{lake}/lake/warehouse/**/*.parquet')",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        f"ATTACH '{lake}/.batchlake/metadata.sqlite' AS m",
        f"COPY (SELECT 1) TO '{lake}/x.csv'",
        "INSTALL httpfs",
    ):
        with pytest.raises(QueryError):
            runner.execute(tables, sql, 5)
    # The database stayed sealed for the next query on it.
    sealed = runner.execute(tables, "SELECT current_setting('enable_external_access')", 1)
    assert sealed.batches[0].column(0)[0].as_py() is False
    runner.close()
    assert not (lake / "x.csv").exists()


# -- auth, CORS, metrics, errors -----------------------------------------------------------


def test_auth_401_403_and_open_read(lake: Path) -> None:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    anonymous = TestClient(app, raise_server_exceptions=False, client=LOCAL)
    for method, path in (
        ("GET", "/api/v1/tables"),
        ("POST", "/api/v1/query"),
        ("GET", "/api/v1/runs"),
        ("GET", "/metrics"),
        ("POST", "/api/v1/runs"),
    ):
        response = anonymous.request(method, path, json={"sql": "SELECT 1"})
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "API key" in response.json()["error"] or "operator key" in response.json()["error"]
    wrong = anonymous.get("/api/v1/tables", headers=auth("not-a-key"))
    assert wrong.status_code == 401 and "not valid" in wrong.json()["error"]
    assert anonymous.get("/api/v1/tables", headers=auth(OPERATOR)).status_code == 200
    forbidden = anonymous.post("/api/v1/runs", headers=auth(READER), json={})
    assert forbidden.status_code == 403 and "operator" in forbidden.json()["error"]
    assert anonymous.get("/api/v1/health").status_code == 200

    opened = create_app(lake, ServeSettings(open_read=True), env_keys=ENV_KEYS)
    local = TestClient(opened, raise_server_exceptions=False, client=LOCAL)
    assert local.get("/api/v1/tables").status_code == 200
    assert local.post("/api/v1/runs", json={}).status_code == 401
    remote = TestClient(opened, raise_server_exceptions=False, client=("10.1.2.3", 4000))
    assert remote.get("/api/v1/tables").status_code == 401


def test_cors_is_configurable(lake: Path) -> None:
    app = create_app(lake, ServeSettings(cors_origins=["https://dash.example"]), env_keys=ENV_KEYS)
    client = TestClient(app, raise_server_exceptions=False)
    response = client.options(
        "/api/v1/tables",
        headers={
            "Origin": "https://dash.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert response.headers["access-control-allow-origin"] == "https://dash.example"
    other = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    plain = TestClient(create_app(lake, ServeSettings(), env_keys=ENV_KEYS))
    assert (
        "access-control-allow-origin"
        not in plain.get("/api/v1/health", headers={"Origin": "https://dash.example"}).headers
    )


def test_metrics_count_requests_and_report_freshness(lake: Path) -> None:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    client = TestClient(app, raise_server_exceptions=False, headers=auth(READER))
    for _ in range(3):
        client.get("/api/v1/tables/refined/sales_by_day/rows", params={"limit": 1})
    client.get("/api/v1/tables/refined/nope")
    text = client.get("/metrics").text
    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    route = "/api/v1/tables/{zone}/{name}/rows"
    key = (
        "batchlake_http_requests_total",
        (("method", "GET"), ("route", route), ("status", "200")),
    )
    assert samples[key] == 3
    missing = (
        "batchlake_http_requests_total",
        (("method", "GET"), ("route", "/api/v1/tables/{zone}/{name}"), ("status", "404")),
    )
    assert samples[missing] == 1
    assert (
        samples[("batchlake_http_request_seconds_count", (("method", "GET"), ("route", route)))]
        == 3
    )
    age = samples[
        ("batchlake_table_age_seconds", (("table", "refined.sales_by_day"), ("zone", "refined")))
    ]
    assert 0 <= age < 3600
    rows = samples[
        ("batchlake_table_rows", (("table", "refined.sales_by_day"), ("zone", "refined")))
    ]
    assert rows == iceberg_arrow(lake, "refined.sales_by_day").num_rows
    # The run history's metrics (the scheduler's collector) are served here too.
    refreshed = samples[
        ("batchlake_table_last_refresh_timestamp_seconds", (("table", "refined.sales_by_day"),))
    ]
    assert 0 <= time.time() - refreshed < 3600


def test_unexpected_errors_answer_500_without_a_traceback(lake: Path) -> None:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)

    def broken() -> list[Any]:
        raise RuntimeError("disk on fire at /secret/path")

    app.state.ctx.listing.entries = broken
    client = TestClient(app, raise_server_exceptions=False, headers=auth(READER))
    response = client.get("/api/v1/tables")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal error; the server log has the details",
        "status": 500,
    }
    assert "secret" not in response.text


def test_arrow_types_survive_json(client: TestClient) -> None:
    body = client.get("/api/v1/tables/trusted/invoices/rows", params={"limit": 1}).json()
    types = {c["name"]: c["type"] for c in body["columns"]}
    row = dict(zip(types, body["rows"][0], strict=True))
    assert types["total"].startswith("decimal") and isinstance(row["total"], str)
    assert types["invoice_date"].startswith("timestamp") and "T" in row["invoice_date"]


def test_dashboard_sign_in_cookie_reads_but_never_starts_runs(lake: Path) -> None:
    app = create_app(lake, ServeSettings(), env_keys=ENV_KEYS)
    browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    for path in ("/", "/tables/refined/sales_by_day", "/sql", "/runs", "/charts"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    bad = browser.post("/login", data={"key": "nope", "next": "/"})
    assert bad.status_code == 401 and "not valid" in bad.text
    for target, expected in (
        ("/runs", "/runs"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
    ):
        signed = browser.post("/login", data={"key": OPERATOR, "next": target})
        assert signed.status_code == 303 and signed.headers["location"] == expected
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    for path in (
        "/",
        "/tables/refined/sales_by_day",
        "/sql",
        "/runs",
        "/charts",
        "/tables/raw/chinook.invoice",
    ):
        assert browser.get(path).status_code == 200, path
    assert browser.get("/api/v1/tables").status_code == 200  # the cookie reads the API too
    # Even an operator's key in the cookie cannot start a run: that needs a Bearer header.
    assert browser.post("/api/v1/runs", json={}).status_code == 401
    assert browser.get("/logout").status_code == 303
    browser.cookies.clear()
    assert browser.get("/api/v1/tables").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 7, "offset": 3},
        {"limit": 50, "offset": 600},
        {"year__gte": "2023", "weekday__in": "Saturday,Sunday", "limit": 10000},
        {"order_by": "-total_amount,sale_date", "columns": "sale_date,total_amount", "limit": 9},
        {"total_amount__lt": "5", "order_by": "sale_date", "offset": 4, "limit": 20},
        {"weekday__contains": "day", "columns": "weekday", "limit": 1, "offset": 10000},
    ],
)
def test_tables_too_large_for_memory_are_scanned_with_the_same_answers(
    lake: Path, params: dict[str, Any]
) -> None:
    """cache_mb = 0: every table is 'too large', so pages come from a pushed-down scan."""
    small = TestClient(create_app(lake, ServeSettings(), env_keys=ENV_KEYS), headers=auth(READER))
    large = TestClient(
        create_app(lake, ServeSettings(cache_mb=0), env_keys=ENV_KEYS), headers=auth(READER)
    )
    url = "/api/v1/tables/refined/sales_by_day/rows"
    expected, got = small.get(url, params=params).json(), large.get(url, params=params).json()
    assert got["total"] == expected["total"] and got["columns"] == expected["columns"]
    if "order_by" in params:
        assert got["rows"] == expected["rows"]
    else:  # without an order, the same rows in the file's order
        assert len(got["rows"]) == len(expected["rows"])
    whole = large.get(url, params={"limit": 10000}).json()
    assert canon(api_rows(whole)) == canon(iceberg_arrow(lake, "refined.sales_by_day").to_pylist())
    refused = large.get(url, params={"nope": "1"})
    assert refused.status_code == 400 and "unknown column 'nope'" in refused.json()["error"]


def test_dashboard_preview_of_a_table_too_large_for_memory(lake: Path) -> None:
    app = create_app(lake, ServeSettings(cache_mb=0), env_keys=ENV_KEYS)
    client = TestClient(app, headers=auth(READER))
    total = iceberg_arrow(lake, "refined.sales_by_day").num_rows
    last = -(-total // 50)
    page = client.get("/tables/refined/sales_by_day", params={"page": 999}).text
    assert f"page {last} of {last}" in page
    preview = page.split('id="preview"', 1)[1].split("</table>", 1)[0]
    assert preview.count("<tr>") - 1 == total - 50 * (last - 1)  # minus the header row
