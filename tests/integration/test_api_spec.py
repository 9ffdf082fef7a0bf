"""`batchlake api-spec`: the OpenAPI document and the Postman collection list every endpoint.

The endpoints are found apart from the OpenAPI document: by walking the app's routes
(whichever way the installed FastAPI keeps included routers). Then every request of the
collection is sent, as Postman would send it, to the app over a real lake: with the
reader key in the collection's `apiKey` variable each one reaches its route, and without
it the routes that need a key answer 401.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from batchlake.config import ServeSettings
from batchlake.lake import Lake
from batchlake.run.runner import Runner
from batchlake.serve import create_app
from tests.support.cli import batchlake
from tests.support.opsproject import make_project
from tests.support.serve_support import ENV_KEYS, READER

pytestmark = [pytest.mark.integration]

POSTMAN_V21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(tmp_path_factory.mktemp("api_spec") / "shop")
    result = Runner(Lake.open(root)).run()
    assert result.ok
    return root


@pytest.fixture(scope="module")
def exported(project: Path) -> dict[str, Any]:
    files = {}
    for fmt in ("openapi", "postman"):
        out = project / f"api.{fmt}.json"
        done = batchlake("api-spec", "--format", fmt, "-o", str(out), "--project", str(project))
        assert str(out) in done.stderr
        files[fmt] = json.loads(out.read_text())
    return files


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str, bool, Any]]:
    """(method, path, in the schema, endpoint) of every route, included routers walked."""
    from fastapi.routing import APIRoute

    for route in routes:
        if isinstance(route, APIRoute):
            for method in route.methods:
                yield method, prefix + route.path, route.include_in_schema, route.endpoint
        elif hasattr(route, "original_router"):  # FastAPI ≥ 0.120 keeps routers included
            context = route.include_context
            inner = prefix + context.prefix
            for method, path, shown, endpoint in _routes(route.original_router.routes, inner):
                yield method, path, shown and context.include_in_schema, endpoint


def _requests(collection: dict[str, Any]) -> list[dict[str, Any]]:
    return [item["request"] for folder in collection["item"] for item in folder["item"]]


def _path(request: dict[str, Any]) -> str:
    """The request's path template, Postman's `:name` written back as `{name}`."""
    return "/" + "/".join(re.sub(r"^:(\w+)$", r"{\1}", s) for s in request["url"]["path"])


def test_collection_and_openapi_list_every_endpoint(
    project: Path, exported: dict[str, Any]
) -> None:
    from batchlake.serve.routers import dashboard

    app = create_app(project, ServeSettings(), env_keys=ENV_KEYS)
    found = list(_routes(app.routes))
    api = {(m, p) for m, p, shown, _ in found if shown}
    hidden = {endpoint for _, _, shown, endpoint in found if not shown}
    assert len(api) >= 10  # health, ready, tables (3), query, runs (3), metrics
    # What is left out is the dashboard's HTML pages, nothing else.
    pages = {route.endpoint for route in dashboard.router.routes}
    assert hidden and hidden <= pages

    collection = {(r["method"], _path(r)) for r in _requests(exported["postman"])}
    assert collection == api
    openapi = {
        (method.upper(), path)
        for path, operations in exported["openapi"]["paths"].items()
        for method in operations
    }
    assert openapi == api


def test_collection_is_postman_v21_with_the_key_as_a_variable(exported: dict[str, Any]) -> None:
    collection = exported["postman"]
    assert collection["info"]["schema"] == POSTMAN_V21
    assert collection["info"]["name"] == "batchlake · shop"
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables == {"baseUrl": "http://127.0.0.1:8080", "apiKey": ""}
    assert collection["auth"] == {
        "type": "bearer",
        "bearer": [{"key": "token", "value": "{{apiKey}}", "type": "string"}],
    }
    for request in _requests(collection):
        url = request["url"]
        assert url["host"] == ["{{baseUrl}}"]
        assert url["raw"] == "{{baseUrl}}/" + "/".join(url["path"])
        names = [s[1:] for s in url["path"] if s.startswith(":")]
        assert [v["key"] for v in url.get("variable", [])] == names
        open_route = _path(request) in ("/api/v1/health", "/api/v1/ready")
        assert (request.get("auth") == {"type": "noauth"}) is open_route, _path(request)


def _send(
    client: TestClient, request: dict[str, Any], values: dict[str, str], key: str
) -> tuple[int, str]:
    """Send one collection request as Postman does: variables and auth resolved."""
    path = "/".join(values[s[1:]] if s.startswith(":") else s for s in request["url"]["path"])
    headers = {h["key"]: h["value"] for h in request["header"]}
    auth = request.get("auth", {"type": "bearer"})
    if auth["type"] == "bearer" and key:
        headers["Authorization"] = f"Bearer {key}"
    params = {q["key"]: q["value"] for q in request["url"].get("query", []) if not q["disabled"]}
    body = request.get("body", {}).get("raw")
    answer = client.request(
        request["method"], "/" + path, headers=headers, params=params, content=body
    )
    return answer.status_code, answer.text[:300]


def test_every_collection_request_reaches_its_route(
    project: Path, exported: dict[str, Any]
) -> None:
    run_id = Lake.open(project).metadata.runs(1)[0]["run_id"]
    values = {"zone": "trusted", "name": "customers", "run_id": run_id}
    for request in _requests(exported["postman"]):  # the lake's own table, filled in
        filled = {v["key"]: v["value"] for v in request["url"].get("variable", [])}
        assert filled in ({}, {"run_id": ""}, {"zone": "refined", "name": "revenue"})
        if "body" in request and "sql" in request["body"]["raw"]:
            assert "refined.revenue" in request["body"]["raw"]
    app = create_app(project, ServeSettings(), env_keys=ENV_KEYS)
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000)) as client:
        for request in _requests(exported["postman"]):
            route = f"{request['method']} {_path(request)}"
            status, text = _send(client, request, values, READER)
            if route == "POST /api/v1/runs":
                assert status == 403, (route, text)  # reached: a reader may not start runs
            else:
                assert status < 400, (route, status, text)
            if request.get("auth") != {"type": "noauth"}:
                status, text = _send(client, request, values, "")
                assert status == 401, (route, status, text)
