"""The limits of POST /api/v1/query against a real demo lake and real query workers:
memory and time budgets that hold, an API that keeps answering meanwhile, a sandbox with
no readable directory, fast 4xx answers with one log line, and the OpenAPI document."""

from __future__ import annotations

import base64
import json
import logging
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from batchlake.config import ServeSettings
from batchlake.errors import QueryError
from batchlake.serve import create_app
from batchlake.serve.query_pool import QueryRunner
from tests.support.serve_support import (
    ENV_KEYS,
    READER,
    auth,
    build_lake,
    live_server,
)

LOCAL = ("127.0.0.1", 50000)
# Not interruptible by DuckDB, ~10 s of one allocation under a 1GB budget: only a kill stops it.
UNINTERRUPTIBLE = "SELECT length(repeat('x', 900000000)) AS n"


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("serve_limits"), invoices=300)


@pytest.fixture
def apps(lake: Path) -> Iterator[Any]:
    """A factory of apps over the lake; their query workers stop after the test."""
    made: list[FastAPI] = []

    def make(**settings: Any) -> FastAPI:
        app = create_app(lake, ServeSettings(**settings), env_keys=ENV_KEYS)
        made.append(app)
        return app

    yield make
    for app in made:
        app.state.ctx.queries.close()


def client_of(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, headers=auth(READER), client=LOCAL)


def ask(client: TestClient | httpx.Client, sql: str) -> httpx.Response:
    return client.post("/api/v1/query", json={"sql": sql})


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


# -- memory and time -----------------------------------------------------------------------


def test_runaway_allocations_stop_at_the_memory_budget_at_once(apps: Any) -> None:
    app = apps(memory_limit="1GB", query_timeout_seconds=10)
    client = client_of(app)
    assert ask(client, "SELECT 1").status_code == 200  # the worker is up
    server_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    for sql in (
        "SELECT length(repeat('x', 2000000000))",
        "SELECT len(list_resize([1], 1000000000))",
    ):
        began = time.perf_counter()
        response = ask(client, sql)
        assert time.perf_counter() - began < 3, sql
        assert response.status_code == 413, response.text
        body = response.json()
        assert body["limit"] == "memory" and "[serve] memory_limit" in body["error"]
        assert "1GB" in body["error"]
    for worker in app.state.ctx.queries.stats():
        # the worker never got near the 2 GB either query asked for
        assert peak_rss(worker["pid"]) < worker["rss"] + 1.5 * 10**9
    server_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert server_after - server_before < 300 * 2**20
    assert ask(client, "SELECT count(*) FROM refined.sales_by_day").status_code == 200


def test_a_runaway_query_is_stopped_at_the_time_limit_while_the_api_answers(
    apps: Any,
) -> None:
    app = apps(query_timeout_seconds=2)
    outcome: dict[str, Any] = {}
    with live_server(app) as url, httpx.Client(base_url=url, headers=auth(READER)) as http:
        assert ask(http, "SELECT 1").status_code == 200

        def runaway() -> None:
            began = time.perf_counter()
            outcome["response"] = ask(http, UNINTERRUPTIBLE)
            outcome["seconds"] = time.perf_counter() - began

        thread = threading.Thread(target=runaway)
        thread.start()
        time.sleep(0.3)
        slowest = 0.0
        while thread.is_alive():
            for path in ("/api/v1/health", "/api/v1/tables"):
                began = time.perf_counter()
                assert http.get(path).status_code == 200
                slowest = max(slowest, time.perf_counter() - began)
            time.sleep(0.1)
        thread.join()
        assert slowest < 1.0  # typically a few ms
        response = outcome["response"]
        assert response.status_code == 408, response.text
        assert response.json()["limit"] == "time"
        assert "longer than 2 s ([serve] query_timeout_seconds)" in response.json()["error"]
        assert outcome["seconds"] < 2 + 1.5
        # The stopped worker was replaced: queries go on.
        assert ask(http, "SELECT count(*) FROM trusted.invoices").status_code == 200


def test_an_interruptible_query_stops_at_the_time_limit_and_its_worker_stays(
    apps: Any,
) -> None:
    app = apps(query_timeout_seconds=0.5)
    client = client_of(app)
    assert ask(client, "SELECT 1").status_code == 200
    pids = {w["pid"] for w in app.state.ctx.queries.stats()}
    response = ask(
        client,
        # 43 billion rows, each compared: minutes of work, stopped at 0.5 s
        "SELECT count(*) FROM trusted.tracks a, trusted.tracks b, trusted.tracks c "
        "WHERE a.milliseconds + b.milliseconds > c.milliseconds",
    )
    assert response.status_code == 408 and response.json()["limit"] == "time"
    assert {w["pid"] for w in app.state.ctx.queries.stats()} == pids


def test_parsing_runs_in_a_worker_under_the_time_limit(apps: Any) -> None:
    """Just under the size limit, a statement that takes sqlglot ~1 s to parse: parsed in
    a worker, against the time limit, while the server answers other requests."""
    app = apps(query_timeout_seconds=0.3)
    heavy = "SELECT " + "+".join(["1"] * 30_000)
    assert len(heavy) < 64 * 1024
    outcome: dict[str, Any] = {}
    with live_server(app) as url, httpx.Client(base_url=url, headers=auth(READER)) as http:
        assert ask(http, "SELECT 1").status_code == 200
        thread = threading.Thread(target=lambda: outcome.update(r=ask(http, heavy)))
        thread.start()
        slowest = 0.0
        while thread.is_alive():
            began = time.perf_counter()
            assert http.get("/api/v1/health").status_code == 200
            slowest = max(slowest, time.perf_counter() - began)
            time.sleep(0.02)
        thread.join()
    assert slowest < 0.5
    response = outcome["r"]
    assert response.status_code == 408, response.text
    assert response.json()["error"].startswith("checking the query took longer than 0.3 s")


def test_busy_workers_answer_429_with_retry_after(apps: Any) -> None:
    app = apps(query_timeout_seconds=3)
    ctx = app.state.ctx
    ctx.queries.close()
    ctx.queries = QueryRunner(ctx.cache, ctx.settings, workers=1)
    with live_server(app) as url, httpx.Client(base_url=url, headers=auth(READER)) as http:
        assert ask(http, "SELECT 1").status_code == 200
        thread = threading.Thread(target=ask, args=(http, UNINTERRUPTIBLE))
        thread.start()
        time.sleep(0.3)
        began = time.perf_counter()
        response = ask(http, "SELECT 1")
        waited = time.perf_counter() - began
        thread.join()
    assert response.status_code == 429, response.text
    assert response.json()["limit"] == "workers" and response.headers["retry-after"] == "2"
    assert 1.4 < waited < 2.5  # half the time limit


# -- the sandbox ---------------------------------------------------------------------------


def test_the_sandbox_has_no_readable_directory(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second gate, without the allow-list: nothing on disk is readable, not even the
    temp directory DuckDB used to keep in allowed_directories (`.tmp` in the cwd)."""
    from batchlake.lake import Lake
    from batchlake.serve.reader import TableCache

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "leak.csv").write_text("secret\nCANARY-CWD\n")
    runner = QueryRunner(TableCache(Lake.open(lake), 1 << 28), ServeSettings())
    try:
        settings = runner.execute(
            set(),
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('allowed_directories', "
            "'allowed_paths', 'temp_directory', 'enable_external_access', 'lock_configuration')",
            10,
        )
        found = dict(zip(*(c.to_pylist() for c in settings.batches[0].columns), strict=True))
        assert found == {
            "allowed_directories": "[]",
            "allowed_paths": "[]",
            "temp_directory": "",
            "enable_external_access": "false",
            "lock_configuration": "true",
        }
        folder = runner._folder
        assert folder is not None and tmp_path not in folder.parents
        assert (folder.stat().st_mode & 0o777) == 0o700
        (folder / "leak.csv").write_text("secret\nCANARY-WORKER\n")
        for sql in (
            "SELECT * FROM read_csv('.tmp/leak.csv')",
            "SELECT * FROM '.tmp/leak.csv'",
            'SELECT * FROM ".tmp/leak.csv"',
            f"SELECT * FROM read_csv('{tmp_path}/.tmp/leak.csv')",
            "SELECT * FROM read_csv('leak.csv')",  # the worker's own directory
            f"SELECT * FROM read_text('{folder}/leak.csv')",
            f"SELECT * FROM read_parquet('{lake}/lake/warehouse/**/*.parquet')",
        ):
            with pytest.raises(QueryError, match="disabled"):
                runner.execute(set(), sql, 5)
        # System views reachable by a bare name read nothing, whatever the guard thinks.
        for view in ("duckdb_tables", "duckdb_databases", "pg_settings", "sqlite_master"):
            assert runner.execute(set(), f"SELECT * FROM {view}", 5).rows == 0, view
        tables = frozenset({"refined.sales_by_day"})
        ok = runner.execute(tables, "SELECT count(*) FROM refined.sales_by_day", 5)
        assert ok.batches[0].column(0)[0].as_py() > 0
    finally:
        runner.close()
    assert not folder.exists()


def test_no_duckdb_files_are_left_behind_after_shutdown(
    lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(lake, ServeSettings(memory_limit="64MB"), env_keys=ENV_KEYS)
    with TestClient(app, headers=auth(READER), client=LOCAL) as client:  # lifespan on
        assert ask(client, "SELECT 1").status_code == 200
        pids = [w["pid"] for w in app.state.ctx.queries.stats()]
        # Past 64MB: this sort once spilled into `.tmp` under the working directory.
        response = ask(
            client,
            "SELECT a.playlist_id, b.track_id FROM trusted.playlist_tracks a, "
            "trusted.playlist_tracks b ORDER BY random()",
        )
        assert response.status_code == 413 and response.json()["limit"] == "memory"
        queries = app.state.ctx.queries
        folder = queries._folder
        pids += [w["pid"] for w in queries.stats()]  # the worker that hit the cap was replaced
        assert folder is not None and pids
    assert list(tmp_path.iterdir()) == []
    assert not folder.exists()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# -- 4xx, fast, one log line ---------------------------------------------------------------


def _without_version(cursor: str) -> str:
    """A cursor the server returned, for the same query, with its `v` field taken out."""
    state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    del state["v"]
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


MALFORMED = [
    ("nested", {"json": {"sql": "SELECT " + "(" * 200 + "1" + ")" * 200}}, 400),
    ("surrogate", {"content": b'{"sql": "SELECT \'\\ud800\'"}'}, 400),
    ("nul", {"json": {"sql": "SELECT 1\x00; SELECT * FROM duckdb_settings()"}}, 400),
    ("1 MB", {"json": {"sql": "SELECT 1 -- " + "x" * 1_000_000}}, 413),
    ("cursor without v", {"cursor": "from a real page"}, 400),
]


@pytest.mark.parametrize(
    ("case", "request_args", "status"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
def test_malformed_input_is_a_fast_4xx_with_one_log_line(
    apps: Any,
    caplog: pytest.LogCaptureFixture,
    case: str,
    request_args: dict[str, Any],
    status: int,
) -> None:
    client = client_of(apps())
    assert ask(client, "SELECT 1").status_code == 200  # the worker is up
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    began = time.perf_counter()
    if "cursor" in request_args:
        url = "/api/v1/tables/refined/sales_by_day/rows"
        cursor = _without_version(client.get(url, params={"limit": 5}).json()["next_cursor"])
        caplog.clear()
        response = client.get(url, params={"limit": 5, "cursor": cursor})
    else:
        headers = {"content-type": "application/json"}
        response = client.post("/api/v1/query", headers=headers, **request_args)
    assert time.perf_counter() - began < 2
    assert response.status_code == status, response.text
    assert response.json()["status"] == status and response.json()["error"]
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert len(records) <= 2, [r.getMessage()[:200] for r in records]
    assert all(r.exc_info is None for r in records)
    assert sum(len(r.getMessage().splitlines()) for r in records) <= 2


# -- runs, OpenAPI --------------------------------------------------------------------------


def test_a_run_id_prefix_is_not_a_like_pattern(apps: Any) -> None:
    client = client_of(apps())
    runs = client.get("/api/v1/runs").json()
    assert runs, "the demo lake records its runs"
    for pattern in ("_", "%25", "%25%25", "_%25", "\\"):
        response = client.get(f"/api/v1/runs/{pattern}")
        assert response.status_code == 404, (pattern, response.text)
    prefix = client.get(f"/api/v1/runs/{runs[0]['run_id'][:10]}")
    assert prefix.status_code == 200 and prefix.json()["run_id"] == runs[0]["run_id"]


def test_openapi_declares_the_errors_the_api_gives(apps: Any) -> None:
    app = apps(query_timeout_seconds=0.5)
    reader = client_of(app)
    anonymous = TestClient(app, raise_server_exceptions=False, client=("10.0.0.1", 4000))
    doc = reader.get("/api/v1/openapi.json").json()

    def declared(method: str, path: str) -> set[str]:
        return set(doc["paths"][path][method]["responses"])

    slow = (
        "SELECT count(*) FROM trusted.tracks a, trusted.tracks b, trusted.tracks c "
        "WHERE a.milliseconds + b.milliseconds > c.milliseconds"
    )
    seen = [
        ("get", "/api/v1/tables", anonymous.get("/api/v1/tables")),
        ("get", "/api/v1/tables/{zone}/{name}", reader.get("/api/v1/tables/refined/nope")),
        ("get", "/api/v1/tables/{zone}/{name}", anonymous.get("/api/v1/tables/refined/x")),
        (
            "get",
            "/api/v1/tables/{zone}/{name}/rows",
            reader.get("/api/v1/tables/refined/nope/rows"),
        ),
        (
            "get",
            "/api/v1/tables/{zone}/{name}/rows",
            reader.get("/api/v1/tables/refined/sales_by_day/rows", params={"cursor": "x"}),
        ),
        ("post", "/api/v1/query", ask(reader, "DROP TABLE trusted.invoices")),
        ("post", "/api/v1/query", ask(anonymous, "SELECT 1")),
        ("post", "/api/v1/query", reader.post("/api/v1/query", json={"nosql": 1})),
        ("post", "/api/v1/query", ask(reader, "SELECT 1 -- " + "x" * 70_000)),
        ("post", "/api/v1/query", ask(reader, slow)),
        ("get", "/api/v1/runs", anonymous.get("/api/v1/runs")),
        ("get", "/api/v1/runs/{run_id}", reader.get("/api/v1/runs/no-such-run")),
        ("post", "/api/v1/runs", reader.post("/api/v1/runs", json={})),
        ("post", "/api/v1/runs", anonymous.post("/api/v1/runs", json={})),
        ("get", "/metrics", anonymous.get("/metrics")),
    ]
    statuses = set()
    for method, path, response in seen:
        assert response.status_code >= 400, (path, response.text)
        assert str(response.status_code) in declared(method, path), (method, path, response)
        statuses.add(response.status_code)
    assert {400, 401, 403, 404, 408, 413, 422} <= statuses
    assert {"400", "401", "408", "413", "422", "429"} <= declared("post", "/api/v1/query")
    body = doc["paths"]["/api/v1/query"]["post"]["responses"]["413"]["content"]
    assert body["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
