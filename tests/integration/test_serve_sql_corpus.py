"""The hostile and valid SQL corpus (tests/unit/sql_corpus.py) through the real app, its
query workers and DuckDB: every hostile statement answers a 4xx with no data and leaks
nothing planted for it to find; every valid statement answers rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from batchlake.config import ServeSettings
from batchlake.serve import create_app
from tests.support.serve_support import ENV_KEYS, READER, auth, build_lake
from tests.unit.sql_corpus import VALID, hostile

JSON = {"content-type": "application/json"}
CANARIES = ("CANARY-FILE-7f3a", "CANARY-ENV-91c2", "CANARY-WORKER-5b0e")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, list[str]]]:
    """The app, run from a directory holding a planted `.tmp/leak.csv`, with a planted
    environment variable and a planted file in the workers' own directory; and the
    strings none of its answers may hold."""
    lake = build_lake(tmp_path_factory.mktemp("serve_corpus"), invoices=300)
    cwd = tmp_path_factory.mktemp("serve_corpus_cwd")
    (cwd / ".tmp").mkdir()
    (cwd / ".tmp" / "leak.csv").write_text(f"secret\n{CANARIES[0]}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        patch.setenv("BATCHLAKE_CORPUS_CANARY", CANARIES[1])
        # Small limits, so that resource abuse is stopped quickly.
        settings = ServeSettings(query_timeout_seconds=2, memory_limit="256MB")
        app = create_app(lake, settings, env_keys=ENV_KEYS)
        client = TestClient(app, raise_server_exceptions=False, headers=auth(READER))
        assert client.post("/api/v1/query", json={"sql": "SELECT 1"}).status_code == 200
        folder = app.state.ctx.queries._folder
        (folder / "leak.csv").write_text(f"secret\n{CANARIES[2]}\n")
        secrets = [*CANARIES, str(folder), str(lake), str(cwd)]
        yield client, secrets
        app.state.ctx.queries.close()


@pytest.mark.parametrize(("kind", "sql"), hostile(), ids=lambda v: repr(v)[:50])
def test_hostile_sql_is_a_4xx_that_leaks_nothing(
    served: tuple[TestClient, list[str]], kind: str, sql: str
) -> None:
    client, secrets = served
    # JSON with \u escapes: lone surrogates travel as JSON allows, not as UTF-8 bytes.
    body = json.dumps({"sql": sql}).encode()
    response = client.post("/api/v1/query", content=body, headers=JSON)
    assert 400 <= response.status_code < 500, (kind, sql[:200], response.text[:300])
    body = response.json()
    assert set(body) <= {"error", "status", "limit"} and body["status"] == response.status_code
    assert body["error"] and "rows" not in body
    for secret in secrets:
        if secret not in sql:
            assert secret not in response.text, (kind, sql[:200], secret)
    if kind == "resource_abuse":
        assert response.status_code in (400, 408, 413)


@pytest.mark.parametrize("sql", VALID, ids=lambda v: v[:50])
def test_valid_sql_answers_rows(served: tuple[TestClient, list[str]], sql: str) -> None:
    client, _ = served
    response = client.post("/api/v1/query", json={"sql": sql})
    assert response.status_code == 200, (sql, response.text[:300])
    body = response.json()
    assert body["columns"] and body["row_count"] >= 1 and len(body["rows"]) == body["row_count"]


def test_the_server_is_still_whole_after_the_corpus(served: tuple[TestClient, list[str]]) -> None:
    client, _ = served
    assert client.get("/api/v1/health").json() == {"status": "ok"}
    body = client.post("/api/v1/query", json={"sql": "SELECT count(*) FROM trusted.genres"})
    assert body.status_code == 200 and body.json()["rows"] == [[25]]
    assert not (Path.cwd() / "leak.csv").exists()
