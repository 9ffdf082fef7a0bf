"""Property-based fuzzing of every API operation from the OpenAPI schema (schemathesis
strategies driven by hypothesis): whatever the input, no 5xx, and errors are JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from batchlake.config import ServeSettings
from batchlake.serve import create_app
from tests.support.serve_support import ENV_KEYS, READER, auth, build_lake


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    lake: Path = build_lake(tmp_path_factory.mktemp("serve_fuzz"), invoices=300)
    return create_app(lake, ServeSettings(query_timeout_seconds=2), env_keys=ENV_KEYS)


def operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_fuzzed(app: FastAPI) -> None:
    found = {(op.method.upper(), op.path) for op in operations(app)}
    assert {
        ("GET", "/api/v1/tables"),
        ("GET", "/api/v1/tables/{zone}/{name}"),
        ("GET", "/api/v1/tables/{zone}/{name}/rows"),
        ("POST", "/api/v1/query"),
        ("GET", "/api/v1/runs"),
        ("GET", "/api/v1/runs/{run_id}"),
        ("POST", "/api/v1/runs"),
        ("GET", "/metrics"),
    } <= found


def test_no_server_errors(app: FastAPI) -> None:
    checked: list[str] = []
    for operation in operations(app):
        # A reader key: POST /runs is fuzzed too and must answer 403, never start a run.
        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(headers=auth(READER))
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.query,
                case.body,
                response.text[:300],
            )
            if response.status_code >= 400:
                body = response.json()
                assert body["status"] == response.status_code and body["error"]

        fuzz()
        checked.append(f"{operation.method} {operation.path}")
    assert len(checked) >= 8
