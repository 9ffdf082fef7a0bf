"""Shared pieces of the deployment-recipe tests (tests/unit/test_deploy_*.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
PROJECT = DEPLOY / "project"
K8S_VERSION = "1.33"


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in _yaml().safe_load_all(path.read_text()) if doc]


def compose_file() -> dict[str, Any]:
    return _yaml().safe_load((DEPLOY / "compose.yaml").read_text())


def serve_paths() -> set[str]:
    from batchlake.serve.app import API
    from batchlake.serve.routers import health

    return {API + route.path for route in health.router.routes}


def _yaml() -> Any:
    import yaml

    return yaml
